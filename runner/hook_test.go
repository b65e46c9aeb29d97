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
