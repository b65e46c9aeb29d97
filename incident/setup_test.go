package incident_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/chat"
	"github.com/opsbot-dev/opsbot/clock"
	"github.com/opsbot-dev/opsbot/config"
	"github.com/opsbot-dev/opsbot/incident"
	"github.com/opsbot-dev/opsbot/integrations/pagerduty"
	"github.com/opsbot-dev/opsbot/integrations/slackapi"
	"github.com/opsbot-dev/opsbot/integrations/statuspage"
	"github.com/opsbot-dev/opsbot/runner"
	"github.com/opsbot-dev/opsbot/sandbox/apispec"
	"github.com/opsbot-dev/opsbot/sandbox/fakepagerduty"
	"github.com/opsbot-dev/opsbot/sandbox/fakeslack"
	"github.com/opsbot-dev/opsbot/sandbox/fakestatuspage"
	"github.com/opsbot-dev/opsbot/store"
)

// The people in these tests, as the sandbox workspace names them.
const (
	alice = fakeslack.Alice // deployer
	bob   = fakeslack.Bob   // no incident role
	carol = fakeslack.Carol // incident commander, on call in PagerDuty
	dave  = fakeslack.Dave  // no role at all
)

// testConfig is opsbot.yaml with the incident section pointed at the sandbox account and page;
// the severities keep their defaults unless a test adds its own.
const testConfig = `
slack:
  deploys_channel: C0DEPLOYS
  incidents_channel: C0INCIDENTS
  stakeholders_channel: C0STAKE
roles:
  deployer: {users: [U0ALICE]}
github:
  repository: acme/analytics
incidents:
  pagerduty:
    service_id: PSANDBOX
    escalation_policy_id: PSANDEP
    from: opsbot@example.com
    routing_key: R0SANDBOXANALYTICSEVENTS00000000
    services: {analytics: PSANDEP}
  statuspage:
    page_id: sandboxpage
    components: [apicomponent]
`

// fakeRoles maps users to the roles they hold.
type fakeRoles map[string][]config.Role

func (r fakeRoles) Has(_ context.Context, user string, role config.Role) (bool, error) {
	return slices.Contains(r[user], role), nil
}

func (fakeRoles) Holders(role config.Role) string { return "@" + string(role) }

var roles = fakeRoles{
	alice: {config.RoleDeployer},
	carol: {config.RoleIncidentCommander, config.RoleOnCall},
}

// actor is a person acting in a channel.
func actor(user, channel string) chat.Actor {
	return chat.Actor{UserID: user, ChannelID: channel}
}

// testBundle is the world around the incident service — sandbox Slack, PagerDuty and
// Statuspage, a SQLite store and a clock tests advance — and the process that serves it, which
// a test can kill and start again.
type testBundle struct {
	ctx   context.Context
	clock *clock.Offset
	slack *fakeslack.Server
	pd    *fakepagerduty.Server
	sp    *fakestatuspage.Server
	store *store.SQL
	cfg   *config.Config
	log   zerolog.Logger
	// api posts the outbox's messages, as the bot's outbox worker would.
	api *slack.Client

	*process
}

// process is one life of the bot: its clients, the service and the runner.
type process struct {
	slack  *slackapi.Client
	pd     *pagerduty.Client
	sp     *statuspage.Client
	svc    *incident.Service
	runner *runner.Runner
	// kill ends the process as a crash would: nothing the step in hand does afterwards is
	// recorded. dead is closed once the runner stopped.
	kill context.CancelFunc
	dead chan struct{}
}

// processHooks change a process; the zero value is a plain one.
type processHooks struct {
	// wrap replaces the clients the service uses, e.g. to kill the process after an effect.
	wrap func(o *incident.Options, p *process)
	// drill says the PagerDuty and Statuspage in use are real ones, which drills must not use.
	realVendors bool
}

// setup starts the world with config (testConfig when empty) and a process serving it.
func setup(t testing.TB, yaml string) *testBundle {
	t.Helper()
	b := newWorld(t, yaml)
	b.start(t, processHooks{})
	return b
}

func newWorld(t testing.TB, yaml string) *testBundle {
	t.Helper()
	if yaml == "" {
		yaml = testConfig
	}
	b := &testBundle{
		ctx: context.Background(), clock: clock.NewOffset(),
		log: worldLog(t),
	}
	specs, err := apispec.Find(os.Getenv("OPSBOT_SPECS_DIR"))
	if err != nil {
		t.Logf("requests are not checked against the vendors' API descriptions: %v", err)
		specs = ""
	}
	// Slack's rate limits are the outbox worker's to respect (package bot); flush sends at once.
	unlimited := fakeslack.DefaultRateLimits()
	for method := range unlimited.PerMinute {
		unlimited.PerMinute[method] = 0
	}
	unlimited.PostMessageInterval, unlimited.PostMessageBurst = time.Millisecond, 1000
	b.slack, err = fakeslack.New(fakeslack.Options{Clock: b.clock, AckDeadline: 50 * time.Millisecond, RateLimits: unlimited})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.slack.Close()) })
	b.pd, err = fakepagerduty.New(fakepagerduty.Options{Clock: b.clock, SpecsDir: specs})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.pd.Close()) })
	b.sp, err = fakestatuspage.New(fakestatuspage.Options{Clock: b.clock, SpecsDir: specs})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.sp.Close()) })

	b.store, err = store.Open(b.ctx, store.Config{
		Driver: store.SQLite, DSN: filepath.Join(t.TempDir(), "opsbot.db"), Clock: b.clock, Logger: zerolog.Nop(),
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.store.Close()) })

	b.cfg, err = config.Parse("opsbot.yaml", []byte(yaml), func(string) string { return "" })
	require.NoError(t, err)
	b.api = slack.New(fakeslack.BotToken, slack.OptionAPIURL(b.slack.APIURL()))
	return b
}

// start begins a new life of the bot on the same world, until kill or the end of the test.
func (b *testBundle) start(t testing.TB, hooks processHooks) {
	t.Helper()
	ctx, cancel := context.WithCancel(b.ctx)
	p := &process{dead: make(chan struct{}), kill: cancel}
	httpClient := &http.Client{Timeout: 10 * time.Second}
	p.slack = slackapi.New(slack.New(fakeslack.BotToken, slack.OptionAPIURL(b.slack.APIURL())), b.clock, time.Minute)
	var err error
	p.pd, err = pagerduty.New(pagerduty.Config{APIURL: b.pd.APIURL(), EventsURL: b.pd.EventsURL(),
		Token: fakepagerduty.Token, From: "opsbot@example.com", HTTPClient: httpClient})
	require.NoError(t, err)
	p.sp, err = statuspage.New(statuspage.Config{BaseURL: b.sp.APIURL(), APIKey: fakestatuspage.APIKey,
		PageID: fakestatuspage.PageID, HTTPClient: httpClient})
	require.NoError(t, err)
	opts := incident.Options{
		Store: b.store, Slack: p.slack, PagerDuty: p.pd, Statuspage: p.sp, Roles: roles, Config: b.cfg,
		Clock: b.clock, Log: b.log, Wake: func() { p.runner.Nudge() },
		SandboxPagerDuty: !hooks.realVendors, SandboxStatuspage: !hooks.realVendors,
	}
	if hooks.wrap != nil {
		hooks.wrap(&opts, p)
	}
	p.svc, err = incident.New(opts)
	require.NoError(t, err)
	p.runner, err = runner.New(runner.Options{
		Store: b.store, Workflows: p.svc.Workflows(), Clock: b.clock, Log: b.log, Replica: fmt.Sprintf("test-%p", p), Poll: 100 * time.Millisecond,
	})
	require.NoError(t, err)
	go func() {
		defer close(p.dead)
		_ = p.runner.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-p.dead })
	b.process = p
}

// settleTimeout bounds how long a test waits for the bot to finish what it was asked.
const settleTimeout = 20 * time.Second

// settle lets the bot work until it waits on a person or a timer: the outbox is sent to the
// sandbox Slack as the bot's outbox worker would, and when a step waits on an outside system
// or retries after an error, the clock jumps there. Reminders are left to the tests.
func (b *testBundle) settle(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(settleTimeout)
	for time.Now().Before(deadline) {
		if b.flush(t) > 0 || !b.runner.Idle(b.ctx, 0) {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if next := b.nextSystemWake(t); next != nil {
			b.clock.Advance(next.Sub(b.clock.Now()) + time.Millisecond)
			continue
		}
		if b.flush(t) == 0 {
			return
		}
	}
	t.Fatalf("the bot did not settle within %s", settleTimeout)
}

// nextSystemWake is when the first run that polls or retries looks again, if any does.
func (b *testBundle) nextSystemWake(t testing.TB) *time.Time {
	t.Helper()
	runs, err := b.store.ListRuns(b.ctx, store.RunQuery{Active: true})
	require.NoError(t, err)
	var next *time.Time
	for _, run := range runs {
		for _, st := range run.Steps {
			if st.State == store.StepWaiting && (st.Wait == store.WaitSystem || st.Wait == store.WaitRetry) && run.WakeAt != nil {
				if next == nil || run.WakeAt.Before(*next) {
					next = run.WakeAt
				}
			}
		}
	}
	return next
}

// flush sends the due outbox messages to the sandbox Slack and returns how many it sent.
func (b *testBundle) flush(t testing.TB) int {
	t.Helper()
	sent := 0
	for {
		msgs, err := b.store.ClaimOutbox(b.ctx, "test-outbox", b.clock.Now(), time.Minute, 50)
		require.NoError(t, err)
		if len(msgs) == 0 {
			return sent
		}
		for _, m := range msgs {
			opts := []slack.MsgOption{slack.MsgOptionText(m.Text, false)}
			if len(m.Blocks) > 0 {
				var blocks slack.Blocks
				require.NoError(t, json.Unmarshal(m.Blocks, &blocks))
				opts = append(opts, slack.MsgOptionBlocks(blocks.BlockSet...))
			}
			var ts string
			switch {
			case m.TS != "":
				_, ts, _, err = b.api.UpdateMessage(m.Channel, m.TS, opts...)
			case m.ThreadTS != "":
				_, ts, err = b.api.PostMessage(m.Channel, append(opts, slack.MsgOptionTS(m.ThreadTS))...)
			default:
				_, ts, err = b.api.PostMessage(m.Channel, opts...)
			}
			if err != nil {
				t.Logf("Slack refused outbox message %s: %v", m.Key, err)
				require.NoError(t, b.store.KillOutbox(b.ctx, m.ID, "test-outbox", err.Error()))
				continue
			}
			require.NoError(t, b.store.CompleteOutbox(b.ctx, "test-outbox", b.clock.Now(), store.OutboxReceipt{ID: m.ID, Revision: m.Revision, TS: ts}))
			sent++
		}
	}
}

// declare runs /incident declare as carol in #incidents and lets the bot settle.
func (b *testBundle) declare(t testing.TB, decl incident.Declaration) store.Run {
	t.Helper()
	_, err := b.svc.Declare(b.ctx, actor(carol, fakeslack.Incidents), decl)
	require.NoError(t, err)
	b.settle(t)
	return b.latest(t)
}

// latest is the newest incident run.
func (b *testBundle) latest(t testing.TB) store.Run {
	t.Helper()
	runs, err := b.store.ListRuns(b.ctx, store.RunQuery{Kinds: []store.RunKind{store.KindIncident}, Limit: 1})
	require.NoError(t, err)
	require.Len(t, runs, 1)
	return runs[0]
}

// run re-reads a run.
func (b *testBundle) run(t testing.TB, id int64) store.Run {
	t.Helper()
	run, err := b.store.GetRun(b.ctx, id)
	require.NoError(t, err)
	return run
}

// texts is everything shown in a channel, one message a line (text and block texts).
func (b *testBundle) texts(channel string) string {
	var all []string
	for _, m := range b.slack.Messages(channel) {
		all = append(all, fakeslack.Shown(m.Text, m.Blocks))
	}
	return strings.Join(all, "\n")
}

// countMessages counts the messages in a channel that show want.
func (b *testBundle) countMessages(channel, want string) int {
	n := 0
	for _, m := range b.slack.Messages(channel) {
		if strings.Contains(fakeslack.Shown(m.Text, m.Blocks), want) {
			n++
		}
	}
	return n
}

// buttonValue is the value of the newest button actionID in a channel.
func (b *testBundle) buttonValue(t testing.TB, channel, actionID string) string {
	t.Helper()
	msgs := b.slack.Messages(channel)
	for i := len(msgs) - 1; i >= 0; i-- {
		type element struct {
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
		}
		var blocks []struct {
			Elements  []element `json:"elements"`
			Accessory *element  `json:"accessory"`
		}
		if json.Unmarshal(msgs[i].Blocks, &blocks) != nil {
			continue
		}
		for _, block := range blocks {
			if block.Accessory != nil {
				block.Elements = append(block.Elements, *block.Accessory)
			}
			for _, e := range block.Elements {
				if e.ActionID == actionID {
					return e.Value
				}
			}
		}
	}
	t.Fatalf("no %s button in %s:\n%s", actionID, channel, b.texts(channel))
	return ""
}

// channelOf is the incident's channel ID.
func channelOf(t testing.TB, run store.Run) string {
	t.Helper()
	require.NotEmpty(t, run.Channel)
	require.True(t, strings.HasPrefix(run.Channel, "C"), "the run reports in its own channel, not %s", run.Channel)
	return run.Channel
}

// describe shows a run's steps, for failure messages.
func describe(run store.Run) string {
	lines := []string{fmt.Sprintf("%s: %s", run.Title, run.State)}
	for _, s := range run.Steps {
		lines = append(lines, fmt.Sprintf("  %-20s %-8s %-7s %s", s.Name, s.State, s.Wait, s.Detail))
	}
	return strings.Join(lines, "\n")
}

// stepState is the state of a run's step.
func stepState(t testing.TB, run store.Run, name string) store.Step {
	t.Helper()
	st := run.StepByName(name)
	require.NotNil(t, st, "run has no step %s", name)
	return *st
}

// requireRefused asserts that err is a refusal shown to the person, saying want.
func requireRefused(t testing.TB, err error, want string) {
	t.Helper()
	refusal, ok := chat.AsRefusal(err)
	require.True(t, ok, "want a refusal saying %q, got %v", want, err)
	require.Contains(t, refusal.Reason, want)
}

// channelsNamed counts the channels whose name starts with prefix.
func (b *testBundle) channelsNamed(t testing.TB, prefix string) int {
	t.Helper()
	list, _, err := b.api.GetConversations(&slack.GetConversationsParameters{Limit: 1000})
	require.NoError(t, err)
	n := 0
	for _, ch := range list {
		if strings.HasPrefix(ch.Name, prefix) {
			n++
		}
	}
	return n
}

// worldLog is the world's log: the test's, from warnings up. A fuzz target may not write
// through its *testing.F, so a fuzzed world logs nowhere.
func worldLog(t testing.TB) zerolog.Logger {
	if _, fuzzing := t.(*testing.F); fuzzing {
		return zerolog.Nop()
	}
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
}
