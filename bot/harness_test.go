package bot_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/slack-go/slack"
	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/bot"
	"github.com/opsbot-dev/opsbot/clock"
	"github.com/opsbot-dev/opsbot/commands"
	"github.com/opsbot-dev/opsbot/integrations/slackapi"
	"github.com/opsbot-dev/opsbot/sandbox/fakeslack"
	"github.com/opsbot-dev/opsbot/store"
)

// waitLimit bounds every wait in these tests; nothing should take nearly this long.
const waitLimit = 15 * time.Second

// setup describes the world a test's bot runs in. The zero value is Slack's own behaviour, a
// bot with default options and a handler that acks with no reply and does nothing.
type setup struct {
	limits fakeslack.RateLimits
	clock  clock.Clock
	// immediate decides each ack; nil acks with no payload, work to follow.
	immediate func(commands.Inbound) commands.Ack
	// work is the handler's work after the ack; nil does nothing.
	work      func(ctx context.Context, in commands.Inbound) error
	options   func(*bot.Options)
	wrapStore func(store.Store) store.Store
}

// world is a sandbox Slack workspace, a SQLite store and a bot between them.
type world struct {
	slack   *fakeslack.Server
	api     *slack.Client // the bot's own Web API client, for the test to act as the bot too
	store   *store.SQL
	bot     *bot.Bot
	handler *recordingHandler
	http    http.Handler // /healthz, /readyz, /metrics
	gate    *connectGate

	cancel  context.CancelFunc
	stopped chan error // Run's result
}

// newWorld builds the world; the bot is not running until run.
func newWorld(t *testing.T, s setup) *world {
	t.Helper()
	ctx := t.Context()
	if s.clock == nil {
		s.clock = clock.Real{}
	}
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)

	// Every test may reconnect, and Slack allows one apps.connections.open a minute.
	limits := s.limits
	limits.PerMinute = map[string]int{"apps.connections.open": 1000}
	for method, n := range s.limits.PerMinute {
		limits.PerMinute[method] = n
	}
	srv, err := fakeslack.New(fakeslack.Options{RateLimits: limits})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Close()) })

	st, err := store.Open(ctx, store.Config{
		Driver: store.SQLite, DSN: filepath.Join(t.TempDir(), "opsbot.db"), Clock: s.clock, Logger: log,
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })

	gate := &connectGate{next: http.DefaultTransport.(*http.Transport).Clone()}
	api := slack.New(fakeslack.BotToken, slack.OptionAppLevelToken(fakeslack.AppToken),
		slack.OptionAPIURL(srv.APIURL()), slack.OptionHTTPClient(&http.Client{Transport: gate}))

	handler := &recordingHandler{immediate: s.immediate, work: s.work, started: make(chan commands.Inbound, 1000)}
	var botStore store.Store = st
	if s.wrapStore != nil {
		botStore = s.wrapStore(st)
	}
	reg := prometheus.NewRegistry()
	opts := bot.Options{
		Slack: api, Store: botStore, Handler: handler, Clock: s.clock, Log: log,
		Metrics: bot.NewMetrics(reg, st),
		// Retries and lease expiries are found by polling; keep the tests quick.
		Outbox: bot.OutboxOptions{Poll: 50 * time.Millisecond, Responder: slackapi.NewResponder(&http.Client{})},
	}
	if s.options != nil {
		s.options(&opts)
	}
	b, err := bot.New(opts)
	require.NoError(t, err)
	w := &world{slack: srv, api: api, store: st, bot: b, handler: handler, http: b.HTTPHandler(reg), gate: gate}
	t.Cleanup(func() {
		if w.stopped != nil {
			require.NoError(t, w.stop(t))
		}
	})
	return w
}

// start builds the world and runs the bot until it is connected.
func start(t *testing.T, s setup) *world {
	t.Helper()
	w := newWorld(t, s)
	w.run(t)
	return w
}

// run starts the bot and waits until it is connected to Slack.
func (w *world) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel, w.stopped = cancel, make(chan error, 1)
	go func() { w.stopped <- w.bot.Run(ctx) }()
	require.Eventually(t, w.bot.Connected, waitLimit, 10*time.Millisecond, "the bot never connected")
}

// stop cancels Run's context and returns what Run returned. A Run that does not return in time
// fails the test: shutdown must not hang.
func (w *world) stop(t *testing.T) error {
	t.Helper()
	w.cancel()
	select {
	case err := <-w.stopped:
		w.stopped = nil
		return err
	case <-time.After(waitLimit):
		t.Fatal("Run did not return after its context was cancelled")
		return nil
	}
}

// enqueue puts messages into the outbox, in order, and tells the bot.
func (w *world) enqueue(t *testing.T, msgs ...store.OutboxMessage) {
	t.Helper()
	for _, m := range msgs {
		_, err := w.store.Enqueue(t.Context(), m)
		require.NoError(t, err, "enqueuing %s", m.Key)
	}
	w.bot.NudgeOutbox()
}

// awaitSettled waits until Slack took or refused for good each of the messages with keys.
func (w *world) awaitSettled(t *testing.T, keys ...string) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, key := range keys {
			m, err := w.store.GetOutbox(t.Context(), key)
			if err != nil || m.State == store.OutboxPending {
				return false
			}
		}
		return true
	}, waitLimit, 10*time.Millisecond, "outbox messages %v were never sent", keys)
}

// botMessages returns what the bot shows in channel, oldest first.
func (w *world) botMessages(channel string) []fakeslack.Message {
	var out []fakeslack.Message
	for _, m := range w.slack.Messages(channel) {
		if m.User == fakeslack.BotUserID {
			out = append(out, m)
		}
	}
	return out
}

// get serves one request from the bot's HTTP handler.
func (w *world) get(path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	w.http.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec
}

// metrics scrapes /metrics into series → value, the series written as Prometheus prints it,
// e.g. `opsbot_acks_total{result="ok",type="slash_commands"}`.
func (w *world) metrics(t require.TestingT) map[string]float64 {
	rec := w.get("/metrics")
	require.Equal(t, http.StatusOK, rec.Code)
	series := map[string]float64{}
	lines := bufio.NewScanner(rec.Body)
	for lines.Scan() {
		line := lines.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, _ := strings.Cut(line, " ")
		v, err := strconv.ParseFloat(value, 64)
		require.NoError(t, err, "reading %q", line)
		series[name] = v
	}
	return series
}

// recordingHandler is the application behind the bot in these tests: it records every delivery
// it is asked to handle and does what the test says.
type recordingHandler struct {
	// immediate decides the ack; nil acks with no payload, work to follow.
	immediate func(commands.Inbound) commands.Ack
	// work is the handler's work after the ack; nil does nothing.
	work func(ctx context.Context, in commands.Inbound) error

	started chan commands.Inbound // every Handle call, as it starts
	mu      sync.Mutex
	calls   map[string]int // delivery key → Handle calls
}

func (h *recordingHandler) Immediate(in commands.Inbound) commands.Ack {
	if h.immediate == nil {
		return commands.Ack{}
	}
	return h.immediate(in)
}

func (h *recordingHandler) Handle(ctx context.Context, in commands.Inbound) error {
	h.mu.Lock()
	if h.calls == nil {
		h.calls = map[string]int{}
	}
	h.calls[in.DeliveryKey()]++
	h.mu.Unlock()
	h.started <- in
	if h.work == nil {
		return nil
	}
	return h.work(ctx, in)
}

// handled returns how often each delivery was handled.
func (h *recordingHandler) handled() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]int{}
	for k, n := range h.calls {
		out[k] = n
	}
	return out
}

// next returns the next delivery the handler started on.
func (h *recordingHandler) next(t *testing.T) commands.Inbound {
	t.Helper()
	select {
	case in := <-h.started:
		return in
	case <-time.After(waitLimit):
		t.Fatal("the handler was never called")
		return nil
	}
}

// connectGate is the bot's HTTP transport. While held, apps.connections.open waits, so that a
// test can look at the bot between losing its connection and getting a new one.
type connectGate struct {
	next http.RoundTripper
	mu   sync.Mutex
	held chan struct{} // nil when open
}

func (g *connectGate) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.held = make(chan struct{})
}

func (g *connectGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	close(g.held)
	g.held = nil
}

func (g *connectGate) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/apps.connections.open") {
		g.mu.Lock()
		held := g.held
		g.mu.Unlock()
		if held != nil {
			select {
			case <-held:
			case <-r.Context().Done():
				return nil, fmt.Errorf("waiting at the connect gate: %w", r.Context().Err())
			}
		}
	}
	return g.next.RoundTrip(r)
}

// Acting as the workspace's people. Each sets the scene, calls beforeDelivery (a test arms a
// fault there) and returns what Slack made of the delivery.

// slashCommand runs /deploy as Alice in #deploys.
func slashCommand(ctx context.Context, w *world, beforeDelivery func()) (fakeslack.Delivery, error) {
	beforeDelivery()
	return w.slack.SlashCommand(ctx, fakeslack.Alice, fakeslack.Deploys, "/deploy", "v1.0.0")
}

// click posts a message with an Approve button as the bot and has Alice press it.
func click(ctx context.Context, w *world, beforeDelivery func()) (fakeslack.Delivery, error) {
	button := slack.NewButtonBlockElement("deploy.approve", "v1.0.0",
		slack.NewTextBlockObject(slack.PlainTextType, "Approve", false, false))
	if _, _, err := w.api.PostMessageContext(ctx, fakeslack.Deploys, slack.MsgOptionText("Approve v1.0.0?", false),
		slack.MsgOptionBlocks(slack.NewActionBlock("approval", button))); err != nil {
		return fakeslack.Delivery{}, err
	}
	beforeDelivery()
	return w.slack.Click(ctx, fakeslack.Alice, fakeslack.Deploys, "Approve")
}

// react has Alice add :eyes: to a message of hers, which the bot hears as reaction_added.
func react(ctx context.Context, w *world, beforeDelivery func()) (fakeslack.Delivery, error) {
	// Posting sends the bot a message event too, which it acks and leaves alone.
	ts, _, err := w.slack.PostAsUser(ctx, fakeslack.Alice, fakeslack.Deploys, "shipping soon", "")
	if err != nil {
		return fakeslack.Delivery{}, err
	}
	beforeDelivery()
	return w.slack.React(ctx, fakeslack.Alice, fakeslack.Deploys, ts, "eyes")
}

func nothing() {}

// interactions are the three kinds of delivery, each with the application type it must reach
// the handler as.
var interactions = []struct {
	name string
	act  func(ctx context.Context, w *world, beforeDelivery func()) (fakeslack.Delivery, error)
	want func(t *testing.T, in commands.Inbound)
}{
	{"slash command", slashCommand, func(t *testing.T, in commands.Inbound) {
		cmd, ok := in.(commands.Invocation)
		require.True(t, ok, "got %T", in)
		require.Equal(t, "/deploy", cmd.Command)
		require.Equal(t, "v1.0.0", cmd.Text)
		require.Equal(t, fakeslack.Alice, cmd.UserID)
	}},
	{"button click", click, func(t *testing.T, in commands.Inbound) {
		c, ok := in.(commands.Click)
		require.True(t, ok, "got %T", in)
		require.Equal(t, "deploy.approve", c.ActionID)
		require.Equal(t, "v1.0.0", c.Value)
		require.Equal(t, fakeslack.Deploys, c.ChannelID)
	}},
	{"reaction event", react, func(t *testing.T, in commands.Inbound) {
		ev, ok := in.(commands.Event)
		require.True(t, ok, "got %T", in)
		require.Equal(t, "reaction_added", ev.Type)
		require.Equal(t, "eyes", ev.Reaction)
		require.Equal(t, fakeslack.Alice, ev.UserID)
	}},
}
