package bot_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/bot"
	"github.com/opsbot-dev/opsbot/commands"
	"github.com/opsbot-dev/opsbot/sandbox/fakeslack"
	"github.com/opsbot-dev/opsbot/store"
)

// On shutdown (a rollout, a node drain), work that was acked is finished, and what it said
// reaches Slack before the process exits.
func TestShutdownFinishesHandlersAndFlushesTheOutbox(t *testing.T) {
	t.Parallel()
	finish := make(chan store.Store) // the handler finishes its work in the store it is given
	finishedWith := make(chan error, 1)
	var want []shown
	for i := range 4 { // more than Slack's burst: the flush has to pace them
		want = append(want, shown{Text: fmt.Sprintf("step %d", i+1)})
	}
	w := start(t, setup{work: func(ctx context.Context, _ commands.Inbound) error {
		st := <-finish
		finishedWith <- ctx.Err()
		for _, s := range want {
			if _, err := st.Enqueue(ctx, post(s.Text, fakeslack.Deploys, s.Text)); err != nil {
				return err
			}
		}
		return nil
	}})
	_, err := slashCommand(t.Context(), w, nothing)
	require.NoError(t, err)
	w.handler.next(t)

	w.cancel()
	finish <- w.store
	require.NoError(t, w.stop(t))

	require.NoError(t, <-finishedWith, "the handler's work was cancelled with Run's context")
	require.Equal(t, want, shownBy(w, fakeslack.Deploys))
	pending, _, err := w.store.OutboxStats(t.Context())
	require.NoError(t, err)
	require.Zero(t, pending)
}

// A handler stuck on something that never answers does not hold up shutdown past its grace,
// and neither does a message that cannot be sent yet; the handler is told to stop, and Run
// returns only once it has.
func TestShutdownIsBoundedByItsGrace(t *testing.T) {
	t.Parallel()
	stuck := make(chan struct{})
	w := start(t, setup{
		options: func(o *bot.Options) { o.ShutdownGrace = 200 * time.Millisecond },
		work: func(ctx context.Context, _ commands.Inbound) error {
			defer close(stuck)
			<-ctx.Done()
			return ctx.Err()
		},
	})
	w.enqueue(t, store.OutboxMessage{
		Key: "tomorrow", Op: store.OpPost, Channel: fakeslack.Deploys, Text: "soak ends", NextAt: time.Now().Add(time.Hour),
	})
	_, err := slashCommand(t.Context(), w, nothing)
	require.NoError(t, err)
	w.handler.next(t)

	require.NoError(t, w.stop(t))
	select {
	case <-stuck:
	default:
		t.Fatal("Run returned while a handler was still running")
	}
	m, err := w.store.GetOutbox(t.Context(), "tomorrow")
	require.NoError(t, err)
	require.Equal(t, store.OutboxPending, m.State, "kept for the next start")
}

// A backlog that Slack's rate limits pace out over minutes (here 1,000 ephemerals: Slack
// takes a burst of 100, then 100 a minute) does not hold up shutdown past its grace either:
// what is left is kept for the next start.
func TestShutdownIsBoundedByItsGraceWithAPacedBacklog(t *testing.T) {
	t.Parallel()
	w := start(t, setup{options: func(o *bot.Options) { o.ShutdownGrace = 300 * time.Millisecond }})
	for i := range 1000 {
		w.enqueue(t, ephemeral(fmt.Sprintf("reply %d", i), fakeslack.Deploys, fakeslack.Alice, "status"))
	}
	require.Eventually(t, func() bool { return len(shownBy(w, fakeslack.Deploys)) >= 100 }, waitLimit, 10*time.Millisecond,
		"the burst goes out; the rest waits for Slack's limit")

	stopping := time.Now()
	require.NoError(t, w.stop(t))
	took := time.Since(stopping)

	require.Less(t, took, 5*time.Second, "Run returns soon after its grace, not once the backlog is paced out")
	pending, _, err := w.store.OutboxStats(t.Context())
	require.NoError(t, err)
	require.Positive(t, pending, "what could not be sent is kept")
}
