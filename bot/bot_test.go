package bot_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/bot"
	"github.com/opsbot-dev/opsbot/commands"
	"github.com/opsbot-dev/opsbot/sandbox/fakeslack"
	"github.com/opsbot-dev/opsbot/store"
)

// Slack shows "operation_timeout" when an ack takes over 3 s, however slow the work behind it.
// With one worker stuck in a handler, two more deliveries of the same kind are still acked in
// time, and none is re-delivered.
func TestEveryDeliveryIsAckedBeforeItsWorkIsDone(t *testing.T) {
	t.Parallel()
	for _, tc := range interactions {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			release := make(chan struct{})
			w := start(t, setup{
				options: func(o *bot.Options) { o.Workers = 1 },
				work: func(ctx context.Context, _ commands.Inbound) error {
					waitUntil(ctx, release) // far longer than Slack waits for an ack, unless released
					return nil
				},
			})
			defer close(release)

			for range 3 {
				d, err := tc.act(t.Context(), w, nothing)
				require.NoError(t, err)
				require.True(t, d.Acked, "Slack got no ack")
				require.Zero(t, d.Retries, "Slack re-delivered the envelope")
			}
			tc.want(t, w.handler.next(t)) // the first is being handled, the others are queued

			st := w.slack.Stats()
			require.Zero(t, st.LateAcks, "late acks: %v", st.AckErrors)
			require.Zero(t, st.Retries)
			require.Zero(t, st.Expired)
		})
	}
}

// A slash command's immediate reply (usage, "starting…") is the ack's payload, which Slack shows
// the person as an ephemeral; work follows unless the ack said everything.
func TestImmediateReplyIsTheCommandsEphemeral(t *testing.T) {
	t.Parallel()
	reply := func(text string) map[string]any {
		return map[string]any{"response_type": "ephemeral", "text": text}
	}
	tests := []struct {
		name     string
		ack      commands.Ack
		wantText string // "" for no reply
		wantWork bool
	}{
		{"usage, nothing to do", commands.Ack{Payload: reply("Usage: /deploy <version>"), Done: true}, "Usage: /deploy <version>", false},
		{"starting, work follows", commands.Ack{Payload: reply("Deploying v1.0.0…")}, "Deploying v1.0.0…", true},
		{"no reply, work follows", commands.Ack{}, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const barrier = "barrier"
			w := start(t, setup{
				// One worker takes deliveries in order: once the barrier is handled, the command
				// before it was handled too, or never will be.
				options: func(o *bot.Options) { o.Workers = 1 },
				immediate: func(in commands.Inbound) commands.Ack {
					if in.(commands.Invocation).Text == barrier {
						return commands.Ack{}
					}
					return tc.ack
				},
			})

			d, err := slashCommand(t.Context(), w, nothing)
			require.NoError(t, err)
			require.True(t, d.Acked)

			var shown []fakeslack.Message
			for _, m := range w.slack.Messages(fakeslack.Deploys) {
				shown = append(shown, fakeslack.Message{User: m.User, For: m.For, Text: m.Text})
			}
			if tc.wantText == "" {
				require.Empty(t, shown)
			} else {
				require.Equal(t, []fakeslack.Message{{User: fakeslack.BotUserID, For: fakeslack.Alice, Text: tc.wantText}}, shown)
			}

			_, err = w.slack.SlashCommand(t.Context(), fakeslack.Alice, fakeslack.Deploys, "/deploy", barrier)
			require.NoError(t, err)
			var handled []string
			for {
				in := w.handler.next(t).(commands.Invocation)
				if in.Text == barrier {
					break
				}
				handled = append(handled, in.Text)
			}
			if tc.wantWork {
				require.Equal(t, []string{"v1.0.0"}, handled)
			} else {
				require.Empty(t, handled)
			}
		})
	}
}

// Slack re-delivers an envelope whose ack it missed. The bot hands the copy to the application
// under the same delivery key, so that it can recognise it (commands.Service does, against the
// store), and counts the copy as a duplicate, not as a failure.
func TestRedeliveredEnvelopeReachesTheHandlerUnderTheSameKey(t *testing.T) {
	t.Parallel()
	for _, tc := range interactions {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var seen sync.Map // delivery key → handled once already
			w := start(t, setup{work: func(_ context.Context, in commands.Inbound) error {
				if _, again := seen.LoadOrStore(in.DeliveryKey(), true); again {
					return commands.ErrDuplicate
				}
				return nil
			}})
			_, err := tc.act(t.Context(), w, func() { w.slack.DuplicateNext(1) })
			require.NoError(t, err)
			in := w.handler.next(t)
			tc.want(t, in)

			require.EventuallyWithT(t, func(c *assert.CollectT) {
				m := w.metrics(c)
				assert.Equal(c, 1.0, m[`opsbot_deliveries_handled_total{result="ok"}`])
				assert.Equal(c, 1.0, m["opsbot_duplicate_deliveries_total"])
				assert.Zero(c, m[`opsbot_deliveries_handled_total{result="error"}`])
			}, waitLimit, 10*time.Millisecond)
			require.Equal(t, map[string]int{in.DeliveryKey(): 2}, w.handler.handled())
			st := w.slack.Stats()
			require.Equal(t, 1, st.Duplicates, "the sandbox sent no duplicate")
			require.Zero(t, st.UnknownAcks, "ack errors: %v", st.AckErrors)
		})
	}
}

// When Slack asks for a reconnect or the network drops the socket, the bot is not ready until it
// has a new connection, and then it serves commands again.
func TestReconnectsAndKeepsServing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault func(*fakeslack.Server)
	}{
		{"Slack asks for a refresh", func(s *fakeslack.Server) { s.Disconnect(fakeslack.DisconnectRefreshRequested) }},
		{"Slack warns of a restart", func(s *fakeslack.Server) { s.Disconnect(fakeslack.DisconnectWarning) }},
		{"the network drops the socket", (*fakeslack.Server).DropSockets},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := start(t, setup{})
			_, err := slashCommand(t.Context(), w, nothing)
			require.NoError(t, err)
			w.handler.next(t)

			w.gate.hold()
			tc.fault(w.slack)
			require.Eventually(t, func() bool { return !w.bot.Connected() }, waitLimit, time.Millisecond,
				"the bot still says it is connected while it has no connection")
			require.Equal(t, http.StatusServiceUnavailable, w.get("/readyz").Code)

			w.gate.release()
			require.Eventually(t, w.bot.Connected, waitLimit, 10*time.Millisecond, "the bot never reconnected")
			d, err := slashCommand(t.Context(), w, nothing)
			require.NoError(t, err)
			require.True(t, d.Acked)
			w.handler.next(t)
			require.Len(t, w.handler.handled(), 2)
		})
	}
}

// Operators read health from /healthz and /readyz and the bot's work from /metrics.
func TestHealthAndMetrics(t *testing.T) {
	t.Parallel()
	// A message due tomorrow stays in the outbox; shutdown need not wait for it.
	w := newWorld(t, setup{options: func(o *bot.Options) { o.ShutdownGrace = 100 * time.Millisecond }})
	require.Equal(t, http.StatusOK, w.get("/healthz").Code)
	require.Equal(t, http.StatusServiceUnavailable, w.get("/readyz").Code, "ready before connecting to Slack")

	w.run(t)
	require.Equal(t, http.StatusOK, w.get("/readyz").Code)
	require.Equal(t, http.StatusOK, w.get("/healthz").Code)

	_, err := w.store.CreateRun(t.Context(), store.Run{Kind: store.KindDeploy, State: store.RunRunning, Title: "Deploy v1.0.0"})
	require.NoError(t, err)
	w.enqueue(t, store.OutboxMessage{
		Key: "later", Op: store.OpPost, Channel: fakeslack.Deploys, Text: "tomorrow", NextAt: time.Now().Add(time.Hour),
	})
	_, err = slashCommand(t.Context(), w, nothing)
	require.NoError(t, err)

	m := w.metrics(t)
	require.Equal(t, 1.0, m[`opsbot_acks_total{result="ok",type="slash_commands"}`])
	require.Equal(t, 1.0, m[`opsbot_ack_latency_seconds_count{type="slash_commands"}`])
	require.Contains(t, m, `opsbot_ack_latency_seconds_bucket{type="slash_commands",le="3"}`)
	require.Equal(t, 1.0, m["opsbot_outbox_depth"])
	require.Equal(t, 1.0, m[`opsbot_runs{state="running"}`])
	require.Equal(t, 0.0, m[`opsbot_runs{state="succeeded"}`])
	require.Contains(t, m, `opsbot_runs{state="succeeded"}`)
	require.Equal(t, 1.0, m["opsbot_socket_connected"])
}

// With Running 1 (how serve runs on SQLite), quick handlers run one at a time.
func TestQuickHandlersRunOneAtATime(t *testing.T) {
	t.Parallel()
	var running concurrency
	w := start(t, setup{
		options: func(o *bot.Options) { o.Running, o.HandOffAfter = 1, time.Minute },
		work: func(context.Context, commands.Inbound) error {
			_, leave := running.enter()
			defer leave()
			time.Sleep(5 * time.Millisecond) // long enough for a second handler to overlap
			return nil
		},
	})
	const deliveries = 12
	sendCommands(t, w, deliveries)
	require.Eventually(t, func() bool { return running.finished() == deliveries }, waitLimit, 5*time.Millisecond)
	assert.Equal(t, 1, running.most(), "handlers running side by side")
}

// A handler that waits longer than HandOffAfter, on GitHub say, lets the next delivery start
// rather than hold up everyone behind it.
func TestAWaitingHandlerLetsTheNextDeliveriesRun(t *testing.T) {
	t.Parallel()
	var running concurrency
	letGo := make(chan struct{})
	w := start(t, setup{
		options: func(o *bot.Options) { o.Running, o.HandOffAfter = 1, 20*time.Millisecond },
		work: func(ctx context.Context, _ commands.Inbound) error {
			n, leave := running.enter()
			defer leave()
			if n == 1 {
				waitUntil(ctx, letGo)
			}
			return nil
		},
	})
	defer close(letGo)
	const deliveries = 12
	sendCommands(t, w, deliveries)
	require.Eventually(t, func() bool { return running.finished() == deliveries-1 }, waitLimit, 5*time.Millisecond,
		"the deliveries behind a waiting handler were not handled")
}

// However many deliveries wait on a vendor, no more than Workers are handled at once: the rest
// wait in the queue.
func TestNoMoreThanWorkersDeliveriesAreHandledAtOnce(t *testing.T) {
	t.Parallel()
	var running concurrency
	letGo := make(chan struct{})
	w := start(t, setup{
		options: func(o *bot.Options) { o.Workers, o.Running, o.HandOffAfter = 3, 1, 10*time.Millisecond },
		work: func(ctx context.Context, _ commands.Inbound) error {
			_, leave := running.enter()
			defer leave()
			waitUntil(ctx, letGo)
			return nil
		},
	})
	const deliveries = 6
	sendCommands(t, w, deliveries)
	require.Eventually(t, func() bool { return running.most() == 3 }, waitLimit, 5*time.Millisecond,
		"waiting handlers did not hand the queue on")
	time.Sleep(100 * time.Millisecond) // ten hand-off periods, in which a fourth must not start
	assert.Equal(t, 3, running.most(), "deliveries handled at once")
	close(letGo)
	require.Eventually(t, func() bool { return running.finished() == deliveries }, waitLimit, 5*time.Millisecond)
}

// sendCommands runs n slash commands and requires Slack to have had each acked.
func sendCommands(t *testing.T, w *world, n int) {
	t.Helper()
	for range n {
		d, err := slashCommand(t.Context(), w, nothing)
		require.NoError(t, err)
		require.True(t, d.Acked, "Slack got no ack")
	}
}

// waitUntil stands for a vendor call that returns when the test lets it, or when the bot gives
// up on its handler.
func waitUntil(ctx context.Context, letGo <-chan struct{}) {
	select {
	case <-letGo:
	case <-ctx.Done():
	}
}

// concurrency counts handlers as they run.
type concurrency struct {
	mu                         sync.Mutex
	entered, left, now, record int // record: the most ever running at once
}

// enter counts a handler in; it returns the handler's place in the order they entered (1 for
// the first) and what counts it out.
func (c *concurrency) enter() (n int, leave func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entered++
	c.now++
	c.record = max(c.record, c.now)
	return c.entered, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.now--
		c.left++
	}
}

func (c *concurrency) finished() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.left
}

func (c *concurrency) most() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.record
}
