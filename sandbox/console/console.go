// Package console is a terminal client of the sandbox Slack workspace: it reads a script (or a
// person typing) and acts as the workspace's users — slash commands, button clicks, modal
// submissions — and prints what the workspace shows, one line per message. The bot on the
// other side runs its real Socket Mode path and cannot tell the console from Slack.
//
// The protocol is fixed (scripts and docs depend on it):
//
//	/deploy v1.0.0        a slash command, typed by the current user in the current channel
//	:as NAME              act as another sandbox user (alice, bob, carol, dave)
//	:in #CHANNEL          switch channel (default #deploys)
//	:click LABEL          press the newest visible button with that text (case-insensitive)
//	:submit f=v …         submit the open modal ("quotes" for values with spaces)
//	:wait [DURATION]      block until the bot is idle or DURATION (default 30s) passes
//	:advance DURATION     move the sandbox's and the bot's clock forward
//	:fault TARGET KIND    inject a fault (:fault help lists them)
//	:quit                 stop (also at the end of input, after an implicit :wait)
//
// Output: "[#channel] opsbot: text"; thread replies indented with "  ↳ "; buttons as [Label];
// "(only you)" before ephemeral messages; "{modal: Title}" and its fields; "(updated)" before
// a message shown again after an edit. Every script line is echoed after "> ".
package console

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/opsbot-dev/opsbot/clock"
	"github.com/opsbot-dev/opsbot/sandbox"
	"github.com/opsbot-dev/opsbot/sandbox/fakeslack"
)

// Options configure a console session.
type Options struct {
	In      io.Reader
	Out     io.Writer
	Sandbox *sandbox.Sandbox
	// Clock is the clock shared by the sandbox and the bot; :advance moves it.
	Clock *clock.Offset
	// Idle reports whether the bot has nothing to do until a person acts or a timer fires.
	Idle func(ctx context.Context) bool
}

// Session is one console run.
type Session struct {
	opts    Options
	names   names
	user    string // the user acting now
	channel string // the channel commands are typed in

	mu         sync.Mutex
	out        *bufio.Writer
	lastOutput time.Time
}

var users = map[string]string{
	"alice": fakeslack.Alice, "bob": fakeslack.Bob, "carol": fakeslack.Carol, "dave": fakeslack.Dave,
}

// Run reads the script until :quit or the end of input.
func Run(ctx context.Context, opts Options) error {
	sb := opts.Sandbox
	s := &Session{
		opts: opts, user: fakeslack.Alice, channel: fakeslack.Deploys,
		out: bufio.NewWriter(opts.Out),
		names: names{
			users: map[string]string{
				fakeslack.Alice: "alice", fakeslack.Bob: "bob", fakeslack.Carol: "carol", fakeslack.Dave: "dave",
				fakeslack.BotUserID: fakeslack.BotName,
			},
			groups: map[string]string{
				fakeslack.Deployers: "deployers", fakeslack.ProductOwners: "product-owners", fakeslack.Oncall: "oncall",
			},
			channels: func(id string) string {
				if c, ok := sb.Slack.Channel(id); ok {
					return c.Name
				}
				return id
			},
		},
	}
	watchCtx, stopWatching := context.WithCancel(ctx)
	defer stopWatching()
	changes := sb.Slack.Subscribe(watchCtx)
	printed := make(chan struct{})
	go func() {
		defer close(printed)
		for c := range changes {
			s.show(c)
		}
	}()
	defer func() {
		stopWatching()
		<-printed
		s.flush()
	}()

	in := bufio.NewScanner(opts.In)
	in.Buffer(make([]byte, 64*1024), 1024*1024)
	for in.Scan() {
		line := strings.TrimSpace(in.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s.printf("> %s\n", line)
		quit, err := s.do(ctx, line)
		if err != nil {
			s.printf("! %v\n", err)
		}
		if quit || ctx.Err() != nil {
			return nil
		}
	}
	if err := in.Err(); err != nil {
		return fmt.Errorf("reading the script: %w", err)
	}
	s.wait(ctx, 30*time.Second, false)
	return nil
}

// do carries out one line; it reports whether the session should end.
func (s *Session) do(ctx context.Context, line string) (bool, error) {
	if strings.HasPrefix(line, "/") {
		command, text, _ := strings.Cut(line, " ")
		// The workspace shows the ack's immediate reply itself, as a change.
		if _, err := s.opts.Sandbox.Slack.SlashCommand(ctx, s.user, s.channel, command, strings.TrimSpace(text)); err != nil {
			return false, err
		}
		s.settle(ctx)
		return false, nil
	}
	verb, rest, _ := strings.Cut(line, " ")
	rest = strings.TrimSpace(rest)
	switch verb {
	case ":as":
		id, ok := users[strings.TrimPrefix(strings.ToLower(rest), "@")]
		if !ok {
			return false, fmt.Errorf("no sandbox user %q (alice, bob, carol, dave)", rest)
		}
		s.user = id
	case ":in":
		c, ok := s.opts.Sandbox.Slack.Channel(strings.TrimPrefix(rest, "#"))
		if !ok {
			return false, fmt.Errorf("no channel %s", rest)
		}
		s.channel = c.ID
	case ":click":
		d, err := s.opts.Sandbox.Slack.Click(ctx, s.user, s.channel, rest)
		if err != nil {
			return false, err
		}
		if d.DispatchFailed {
			return false, fmt.Errorf("the click was not delivered (dispatch_failed)")
		}
		s.settle(ctx)
	case ":submit":
		values, err := splitFields(rest)
		if err != nil {
			return false, err
		}
		d, err := s.opts.Sandbox.Slack.SubmitView(ctx, s.user, values)
		if err != nil {
			return false, err
		}
		if d.DispatchFailed {
			return false, fmt.Errorf("the form was not delivered (dispatch_failed)")
		}
		s.settle(ctx)
	case ":wait":
		d := 30 * time.Second
		if rest != "" {
			var err error
			if d, err = time.ParseDuration(rest); err != nil {
				return false, fmt.Errorf(":wait takes a duration such as 30s or 2m")
			}
		}
		s.wait(ctx, d, true)
	case ":advance":
		d, err := time.ParseDuration(rest)
		if err != nil || d <= 0 {
			return false, fmt.Errorf(":advance takes a positive duration such as 25h or 16m")
		}
		s.opts.Clock.Advance(d)
		s.printf("(clock) %s\n", s.opts.Clock.Now().UTC().Format("Mon Jan 2 15:04 UTC"))
		s.settle(ctx)
	case ":fault":
		if rest == "help" || rest == "" {
			s.printf("faults:\n%s", sandbox.FaultHelp())
			return false, nil
		}
		if err := s.opts.Sandbox.Fault(rest); err != nil {
			return false, err
		}
		s.printf("(fault) %s\n", rest)
	case ":quit":
		s.wait(ctx, 30*time.Second, false)
		return true, nil
	default:
		return false, fmt.Errorf("unknown input %q: type a slash command, or :as :in :click :submit :wait :advance :fault :quit", line)
	}
	return false, nil
}

// settle waits a short while for what an action set off to show, so that a transcript reads
// in order. It does not wait for timers or for people.
func (s *Session) settle(ctx context.Context) { s.wait(ctx, 30*time.Second, false) }

// wait blocks until the bot and the workspace are quiet and the output has caught up, or d
// passes; with report it prints which.
func (s *Session) wait(ctx context.Context, d time.Duration, report bool) {
	deadline := time.Now().Add(d)
	quietSince := time.Time{}
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if s.quiet(ctx) {
			if quietSince.IsZero() {
				quietSince = time.Now()
			}
			// Quiet for a moment and nothing printed meanwhile: the output has caught up.
			if time.Since(quietSince) >= 150*time.Millisecond && time.Since(s.lastPrint()) >= 150*time.Millisecond {
				if report {
					s.printf("idle\n")
				}
				return
			}
		} else {
			quietSince = time.Time{}
		}
		time.Sleep(25 * time.Millisecond)
	}
	if report {
		s.printf("still busy\n")
	}
}

func (s *Session) quiet(ctx context.Context) bool {
	return s.opts.Sandbox.Slack.Outstanding() == 0 && (s.opts.Idle == nil || s.opts.Idle(ctx))
}

// show prints a change the current user can see.
func (s *Session) show(c fakeslack.Change) {
	if c.For != "" && c.For != s.user {
		return
	}
	channel := c.ChannelName
	if channel == "" && c.ChannelID != "" {
		channel = s.channelName(c.ChannelID)
	}
	author := s.author(c.User)
	switch c.Kind {
	case fakeslack.MessagePosted:
		s.printMessage("", channel, author, s.names.message(c.Text, c.Blocks), c.ThreadTS != "" && c.ThreadTS != c.TS)
	case fakeslack.MessageUpdated:
		s.printMessage("(updated) ", channel, author, s.names.message(c.Text, c.Blocks), c.ThreadTS != "" && c.ThreadTS != c.TS)
	case fakeslack.EphemeralShown:
		s.printMessage("(only you) ", channel, author, s.names.message(c.Text, c.Blocks), false)
	case fakeslack.ModalOpened, fakeslack.ModalUpdated:
		s.showModal(c)
	case fakeslack.ModalClosed:
		s.printf("{modal closed}\n")
	case fakeslack.ConfirmOpened:
		s.showConfirm(c)
	case fakeslack.ChannelCreated:
		s.printf("[#%s] (channel created)\n", channel)
	case fakeslack.TopicSet:
		s.printf("[#%s] (topic) %s\n", channel, s.names.text(c.Text))
	case fakeslack.MembersInvited:
		who := make([]string, len(c.Members))
		for i, m := range c.Members {
			who[i] = "@" + s.author(m)
		}
		s.printf("[#%s] (invited %s)\n", channel, strings.Join(who, ", "))
	case fakeslack.Pinned:
		s.printf("[#%s] (pinned by @%s) %s\n", channel, author, firstLine(s.names.message(c.Text, c.Blocks)))
	case fakeslack.DispatchFailed, fakeslack.ActionTimedOut:
		s.printMessage("(only you) ", channel, "Slackbot", s.names.text(c.Text), false)
	}
}

func (s *Session) showModal(c fakeslack.Change) {
	var v struct {
		Title  textObject      `json:"title"`
		Submit *textObject     `json:"submit"`
		Blocks json.RawMessage `json:"blocks"`
	}
	if err := json.Unmarshal(c.View, &v); err != nil {
		s.printf("{modal: (unreadable)}\n")
		return
	}
	s.printf("{modal: %s}\n", v.Title.Text)
	for _, line := range s.names.blocks(v.Blocks) {
		s.printf("  %s\n", strings.ReplaceAll(line, "\n", "\n  "))
	}
	for field, msg := range c.Errors {
		s.printf("  ! %s: %s\n", field, msg)
	}
	if v.Submit != nil {
		s.printf("  [%s]\n", v.Submit.Text)
	}
}

func (s *Session) showConfirm(c fakeslack.Change) {
	var cf struct {
		Title   textObject `json:"title"`
		Text    textObject `json:"text"`
		Confirm textObject `json:"confirm"`
		Deny    textObject `json:"deny"`
	}
	if err := json.Unmarshal(c.Confirm, &cf); err != nil {
		return
	}
	s.printf("{confirm: %s} %s [%s] [%s]\n", cf.Title.Text, s.names.text(cf.Text.Text), cf.Confirm.Text, cf.Deny.Text)
}

func (s *Session) printMessage(prefix, channel, author, body string, reply bool) {
	indent := ""
	if reply {
		indent = "  ↳ "
	}
	lines := strings.Split(body, "\n")
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.out, "%s%s[#%s] %s: %s\n", indent, prefix, channel, author, lines[0])
	cont := strings.Repeat(" ", len([]rune(indent))) + "    "
	for _, l := range lines[1:] {
		if strings.TrimSpace(l) == "" {
			continue
		}
		fmt.Fprintf(s.out, "%s%s\n", cont, l)
	}
	s.out.Flush()
	s.lastOutput = time.Now()
}

func (s *Session) printf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.out, format, args...)
	s.out.Flush()
	s.lastOutput = time.Now()
}

func (s *Session) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.out.Flush()
}

func (s *Session) lastPrint() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastOutput
}

func (s *Session) channelName(id string) string { return s.names.channels(id) }

func (s *Session) author(id string) string {
	if name, ok := s.names.users[id]; ok {
		return name
	}
	return id
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// splitFields reads `a=1 b="two words"` into a map.
func splitFields(s string) (map[string]string, error) {
	values := map[string]string{}
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		key, rest, ok := strings.Cut(s, "=")
		if !ok || key == "" || strings.ContainsAny(key, " \t") {
			return nil, fmt.Errorf(":submit takes field=value pairs, e.g. :submit reason=\"not today\"")
		}
		var value string
		if strings.HasPrefix(rest, `"`) {
			end := strings.Index(rest[1:], `"`)
			if end < 0 {
				return nil, fmt.Errorf("unterminated quote in the value of %s", key)
			}
			value, rest = rest[1:end+1], rest[end+2:]
		} else {
			value, rest, _ = strings.Cut(rest, " ")
		}
		values[key] = value
		s = rest
	}
	return values, nil
}
