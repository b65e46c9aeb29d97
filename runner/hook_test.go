package runner_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/runner"
	"github.com/opsbot-dev/opsbot/store"
)

// hookLog records, for every call of the bundle's step hook, "STEP PHASE: " followed by what
// describe says of the run as stored at that moment.
type hookLog struct {
	mu   sync.Mutex
	seen []string
}

func (h *hookLog) install(b *bundle, describe func(stored store.Run, step string) string) {
	b.hook = func(run store.Run, step string, phase runner.StepPhase) {
		// The runner's goroutine: a failure to read shows up in seen, not through t.
		said := "unreadable"
		if stored, err := b.st.GetRun(context.Background(), run.ID); err == nil {
			said = describe(stored, step)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		h.seen = append(h.seen, fmt.Sprintf("%s %s: %s", step, phase, said))
	}
}

func (h *hookLog) lines() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.seen)
}

// TestStepHookSeesEachStepStartedAndItsOutcomeNotYetRecorded pins down the two crash points the
// chaos build uses: "before" comes once the store says the step is running, "after" comes while
// the store still says so — its outcome is not recorded yet.
func TestStepHookSeesEachStepStartedAndItsOutcomeNotYetRecorded(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	var hooks hookLog
	hooks.install(b, func(stored store.Run, step string) string {
		return "stored " + string(stored.StepByName(step).State)
	})
	b.start(t)
	run := b.create(t)

	run = b.settle(t, run.ID)
	require.Equal(t, store.StepWaiting, run.StepByName("soak").State)
	require.Equal(t, []string{
		"prepare before: stored running",
		"prepare after: stored running",
		"soak before: stored running",
		"soak after: stored running",
	}, hooks.lines())
}

// The end of a run is a crash point too: "before" comes once the store holds the run's end
// with a wake-up (it is still to be told), "after" once it was told and before that is
// recorded.
func TestStepHookSeesTheEndRecordedBeforeItIsTold(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	var hooks hookLog
	hooks.install(b, func(stored store.Run, step string) string {
		if step != runner.EndOfRun {
			return "a step"
		}
		return fmt.Sprintf("stored %s, to be told %t", stored.State, stored.WakeAt != nil)
	})
	b.start(t)
	run := b.toTheEnd(t)

	run = b.settle(t, run.ID)
	require.Equal(t, store.RunSucceeded, run.State)
	require.Nil(t, run.WakeAt, "told")
	lines := hooks.lines()
	require.Equal(t, []string{
		"end before: stored succeeded, to be told true",
		"end after: stored succeeded, to be told true",
	}, lines[len(lines)-2:])
}
