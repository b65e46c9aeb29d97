package runner_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/runner"
	"github.com/opsbot-dev/opsbot/store"
)

// TestStepHookSeesEachStepStartedAndItsOutcomeNotYetRecorded pins down the two crash points the
// chaos build uses: "before" comes once the store says the step is running, "after" comes while
// the store still says so — its outcome is not recorded yet.
func TestStepHookSeesEachStepStartedAndItsOutcomeNotYetRecorded(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	var (
		mu   sync.Mutex
		seen []string
	)
	b.hook = func(run store.Run, step string, phase runner.StepPhase) {
		// The runner's goroutine: a failure to read shows up in seen, not through t.
		state := "unreadable"
		if stored, err := b.st.GetRun(context.Background(), run.ID); err == nil {
			state = string(stored.StepByName(step).State)
		}
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, fmt.Sprintf("%s %s %s: stored %s", run.Kind, step, phase, state))
	}
	b.start(t)
	run := b.create(t)

	run = b.settle(t, run.ID)
	require.Equal(t, store.StepWaiting, run.StepByName("soak").State)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{
		"deploy prepare before: stored running",
		"deploy prepare after: stored running",
		"deploy soak before: stored running",
		"deploy soak after: stored running",
	}, seen)
}

// The end of a run is a crash point too: "before" comes once the store holds the run's end
// with a wake-up (it is still to be told), "after" once it was told and before that is
// recorded.
func TestStepHookSeesTheEndRecordedBeforeItIsTold(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	var (
		mu   sync.Mutex
		seen []string
	)
	b.hook = func(run store.Run, step string, phase runner.StepPhase) {
		if step != runner.EndOfRun {
			return
		}
		told := "unreadable"
		if stored, err := b.st.GetRun(context.Background(), run.ID); err == nil {
			told = fmt.Sprintf("stored %s, to be told %t", stored.State, stored.WakeAt != nil)
		}
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, fmt.Sprintf("%s %s: %s", step, phase, told))
	}
	b.start(t)
	run := b.toTheEnd(t)

	run = b.settle(t, run.ID)
	require.Equal(t, store.RunSucceeded, run.State)
	require.Nil(t, run.WakeAt, "told")
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{
		"end before: stored succeeded, to be told true",
		"end after: stored succeeded, to be told true",
	}, seen)
}
