//go:build !nosandbox

package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/clock"
	"github.com/opsbot-dev/opsbot/config"
	"github.com/opsbot-dev/opsbot/sandbox"
	"github.com/opsbot-dev/opsbot/sandbox/apispec"
	"github.com/opsbot-dev/opsbot/sandbox/fakegithub"
	"github.com/opsbot-dev/opsbot/sandbox/fakeslack"
	"github.com/opsbot-dev/opsbot/store"
)

// testBot is the sandbox and opsbot's real serve path in this process, as the console runs
// them, with what the reliability tests vary: the sandbox's GitHub, the configuration, where
// the bot logs, and the bot's life — it can be stopped and started again on the same store.
type testBot struct {
	t      *testing.T
	sb     *sandbox.Sandbox
	clk    *clock.Offset
	cfg    *config.Config
	opts   testBotOptions
	dbPath string
	log    zerolog.Logger
	app    *app
	stop   func() error // stops the bot (not the sandbox)
	// web is the Slack Web API as the bot sees it, for what a test does in its name.
	web     *slack.Client
	presses atomic.Int64
}

type testBotOptions struct {
	github fakegithub.Options
	// config edits the sandbox's opsbot.yaml (e.g. with editConfig).
	config func(yaml string, sb *sandbox.Sandbox) string
	// quiet prints only the bot's errors, not its warnings. The bot logs from debug up all the
	// same: every line is searched for secrets.
	quiet bool
	// vendorTimeout bounds each vendor call (serveOptions.VendorTimeout).
	vendorTimeout time.Duration
	// patience is how long run waits for a run to get somewhere (default waitFor).
	patience time.Duration
}

func startTestBot(t *testing.T, o testBotOptions) *testBot {
	t.Helper()
	clk := clock.NewOffset()
	shown := zerolog.WarnLevel
	if o.quiet {
		shown = zerolog.ErrorLevel
	}
	specs, _ := apispec.Find(os.Getenv("OPSBOT_SPECS_DIR"))
	sb, err := sandbox.Start(sandbox.Options{
		Clock: clk, SpecsDir: specs, Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(shown), GitHub: o.github,
	})
	require.NoError(t, err)
	t.Cleanup(func() { sb.Close() })
	guard := newSecretGuard(t, sb, shown)
	b := &testBot{
		t: t, sb: sb, clk: clk, log: zerolog.New(guard).Level(zerolog.DebugLevel), opts: o,
		dbPath: filepath.Join(t.TempDir(), "opsbot.db"),
		web:    slack.New(fakeslack.BotToken, slack.OptionAPIURL(sb.Slack.APIURL())),
	}
	yaml := sb.Config(b.dbPath)
	if o.config != nil {
		yaml = o.config(yaml, sb)
	}
	b.cfg, err = config.Parse("test opsbot.yaml", []byte(yaml), nil)
	require.NoError(t, err)
	b.start()
	t.Cleanup(func() {
		if b.stop != nil {
			require.NoError(t, b.stop())
		}
	})
	return b
}

// start serves until stop, and returns once the bot is connected to the sandbox Slack.
func (b *testBot) start() {
	b.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan *app, 1)
	served := make(chan error, 1)
	go func() {
		served <- serve(ctx, b.cfg, serveOptions{
			Log: b.log, Clock: b.clk, VendorTimeout: b.opts.vendorTimeout, Started: func(a *app) { started <- a },
		})
	}()
	select {
	case b.app = <-started:
	case err := <-served:
		cancel()
		b.t.Fatalf("the bot did not start: %v", err)
	}
	b.stop = func() error {
		cancel()
		b.stop = nil
		return <-served
	}
	require.NoError(b.t, waitConnected(ctx, b.app, served))
}

// slash runs a slash command and requires it to be acknowledged in time.
func (b *testBot) slash(user, channel, command, text string) fakeslack.Delivery {
	b.t.Helper()
	d, err := b.sb.Slack.SlashCommand(context.Background(), user, channel, command, text)
	require.NoError(b.t, err)
	require.True(b.t, d.Acked, "%s %s was not acknowledged", command, text)
	return d
}

// click presses the newest button labelled label that user sees in channel, answering its
// confirmation dialog, if any, with confirm.
func (b *testBot) click(user, channel, label, confirm string) {
	b.t.Helper()
	d, err := b.sb.Slack.Click(context.Background(), user, channel, label)
	require.NoError(b.t, err)
	if d.AwaitingConfirm {
		d, err = b.sb.Slack.Click(context.Background(), user, channel, confirm)
		require.NoError(b.t, err)
	}
	require.True(b.t, d.Acked, "the click on %q was not acknowledged", label)
}

// press sends a click on a button with actionID and value, as Slack sends it for a button the
// bot showed user: the button is shown to user alone, in #deploys, in the bot's name, and
// pressed. Nothing about it is checked by the bot but its action ID and value — which is why a
// forged value must be caught by what the bot re-reads.
func (b *testBot) press(user, actionID, value string) {
	b.t.Helper()
	label := fmt.Sprintf("Press %d", b.presses.Add(1))
	button := slack.NewButtonBlockElement(actionID, value, slack.NewTextBlockObject(slack.PlainTextType, label, false, false))
	_, err := b.web.PostEphemeral(fakeslack.Deploys, user, slack.MsgOptionText(label, false),
		slack.MsgOptionBlocks(slack.NewActionBlock("", button)))
	require.NoError(b.t, err)
	d, err := b.sb.Slack.Click(context.Background(), user, fakeslack.Deploys, label)
	require.NoError(b.t, err)
	require.True(b.t, d.Acked, "the click on %s %q was not acknowledged", actionID, value)
}

// audited waits until user's audit log has n entries and returns the newest.
func (b *testBot) audited(user string, n int) store.AuditEntry {
	b.t.Helper()
	var entries []store.AuditEntry
	require.Eventually(b.t, func() bool {
		var err error
		entries, err = b.app.Store.ListAudit(context.Background(), store.AuditQuery{Actor: user})
		return err == nil && len(entries) >= n
	}, waitFor, tick, "%s's audit log never reached %d entries", user, n)
	require.Len(b.t, entries, n, "one audit entry per command or click")
	newest := entries[0]
	for _, e := range entries {
		if e.ID > newest.ID {
			newest = e
		}
	}
	return newest
}

// shown waits until user is shown text (an ephemeral) in channel.
func (b *testBot) shown(user, channel, text string) {
	b.t.Helper()
	require.Eventually(b.t, func() bool { return slices.Contains(shownTo(b.sb, channel, user), text) },
		waitFor, tick, "%s is never shown %q in %s; shown: %q", user, text, channel, shownTo(b.sb, channel, user))
}

// How long the tests wait for the bot to get somewhere, and how often they look.
const (
	waitFor = 30 * time.Second
	tick    = 10 * time.Millisecond
)

// current is the newest run of kind titled title, if there is one.
func (b *testBot) current(kind store.RunKind, title string) (store.Run, bool) {
	runs, err := b.app.Store.ListRuns(context.Background(), store.RunQuery{Kinds: []store.RunKind{kind}})
	if err != nil {
		return store.Run{}, false
	}
	for _, r := range runs {
		if r.Title == title {
			return r, true
		}
	}
	return store.Run{}, false
}

// run waits for the newest run of kind titled title to satisfy cond, and returns it.
func (b *testBot) run(kind store.RunKind, title string, cond func(store.Run) bool) store.Run {
	b.t.Helper()
	var found store.Run
	if !assert.Eventually(b.t, func() bool {
		r, ok := b.current(kind, title)
		if ok {
			found = r
		}
		return ok && cond(r)
	}, cmp.Or(b.opts.patience, waitFor), tick) {
		b.t.Fatalf("%s never got there; last seen: %s", title, describeRun(found))
	}
	return found
}

// tickChecklist ticks a deploy's checklist as Bob until its step is done.
func (b *testBot) tickChecklist(title string) {
	b.t.Helper()
	var r store.Run
	var clicked error
	done := func() bool {
		r, _ = b.current(store.KindDeploy, title)
		if stepIs("checklist", store.StepWaiting)(r) {
			_, clicked = b.sb.Slack.Click(context.Background(), fakeslack.Bob, fakeslack.Deploys, "Mark done")
		}
		return stepIs("checklist", store.StepPassed, store.StepSkipped)(r)
	}
	for deadline := time.Now().Add(waitFor); !done(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.t.Fatalf("%s: the checklist is never done (last click: %v); last seen: %s", title, clicked, describeRun(r))
		}
	}
}

// stepIs is a run condition: step is in one of states.
func stepIs(step string, states ...store.StepState) func(store.Run) bool {
	return func(r store.Run) bool {
		s := r.StepByName(step)
		return s != nil && slices.Contains(states, s.State)
	}
}

func describeRun(r store.Run) string {
	var b strings.Builder
	fmt.Fprintf(&b, "run %d %q %s:", r.ID, r.Title, r.State)
	for _, s := range r.Steps {
		fmt.Fprintf(&b, " %s=%s(%.100s)", s.Name, s.State, s.Detail)
	}
	return b.String()
}

// buttonValue is the value of the first button with actionID in a message's blocks.
func buttonValue(t *testing.T, m fakeslack.Message, actionID string) string {
	t.Helper()
	var blocks slack.Blocks
	require.NoError(t, blocks.UnmarshalJSON(m.Blocks))
	for _, block := range blocks.BlockSet {
		if actions, ok := block.(*slack.ActionBlock); ok {
			for _, e := range actions.Elements.ElementSet {
				if button, ok := e.(*slack.ButtonBlockElement); ok && button.ActionID == actionID {
					return button.Value
				}
			}
		}
	}
	t.Fatalf("no %s button in %q", actionID, m.Text)
	return ""
}

// invite adds users to a channel the bot is in.
func (b *testBot) invite(channel string, users ...string) {
	b.t.Helper()
	_, err := b.web.InviteUsersToConversation(channel, users...)
	var slackErr slack.SlackErrorResponse
	if errors.As(err, &slackErr) && slackErr.Err == "already_in_channel" {
		return
	}
	require.NoError(b.t, err)
}
