package runner_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/clock"
	"github.com/opsbot-dev/opsbot/runner"
	"github.com/opsbot-dev/opsbot/store"
)

// fakeWorkflow has three steps: "prepare" passes, "soak" waits 24 h on the clock, "approve"
// waits for a person (approved is set by the test, as a click would). It counts how often each
// step ran and records every change the runner announces.
type fakeWorkflow struct {
	approved atomic.Bool
	// clickDuringApprove makes a person approve while the approve step is being evaluated:
	// the step has already read "not approved" and returns WaitForPerson.
	clickDuringApprove func()
	failSoak           atomic.Int32 // the first n soak runs report a transient error
	runs               sync.Map     // step name → *atomic.Int32
	changes            atomic.Int32
	// ends counts how often the workflow was told of a final run; tellEnd, if set (before the
	// runner starts), is called then and its error is Changed's.
	ends    atomic.Int32
	tellEnd func(ctx context.Context) error
}

func (w *fakeWorkflow) count(name string) int {
	v, _ := w.runs.LoadOrStore(name, new(atomic.Int32))
	return int(v.(*atomic.Int32).Load())
}

func (w *fakeWorkflow) ran(name string) {
	v, _ := w.runs.LoadOrStore(name, new(atomic.Int32))
	v.(*atomic.Int32).Add(1)
}

func (w *fakeWorkflow) Steps(store.Run) []runner.Step {
	return []runner.Step{
		{Name: "prepare", Run: func(ctx context.Context, x *runner.Exec) runner.Result {
			w.ran("prepare")
			return runner.Passed("prepared")
		}},
		{Name: "soak", Run: func(ctx context.Context, x *runner.Exec) runner.Result {
			w.ran("soak")
			if w.failSoak.Load() > 0 {
				w.failSoak.Add(-1)
				return runner.Retry(errors.New("github answered 502"), time.Minute)
			}
			due := x.Run().CreatedAt.Add(24 * time.Hour)
			if x.Now().Before(due) {
				return runner.WaitUntil(due, "soaking")
			}
			return runner.Passed("soaked")
		}},
		{Name: "approve", Run: func(ctx context.Context, x *runner.Exec) runner.Result {
			w.ran("approve")
			if !w.approved.Load() {
				if click := w.clickDuringApprove; click != nil {
					w.clickDuringApprove = nil
					click()
				}
				return runner.WaitForPerson("waiting for approval")
			}
			return runner.Passed("approved")
		}},
	}
}

func (w *fakeWorkflow) Changed(ctx context.Context, run store.Run) error {
	w.changes.Add(1)
	if run.State.Final() {
		w.ends.Add(1)
		if w.tellEnd != nil {
			return w.tellEnd(ctx)
		}
	}
	return nil
}

type bundle struct {
	st    store.Store
	clock *clock.Offset
	wf    *fakeWorkflow
	hook  func(store.Run, string, runner.StepPhase) // the runners' StepHook
	r     *runner.Runner
	stop  func()
}

func setup(t *testing.T) *bundle {
	t.Helper()
	b := newBundle(t)
	b.start(t)
	return b
}

// newBundle opens the store; start runs the runner.
func newBundle(t *testing.T) *bundle {
	t.Helper()
	clk := clock.NewOffset()
	st, err := store.Open(context.Background(), store.Config{
		Driver: store.SQLite, DSN: filepath.Join(t.TempDir(), "opsbot.db"), Clock: clk, Logger: zerolog.Nop(),
	})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return &bundle{st: st, clock: clk, wf: &fakeWorkflow{}}
}

// start runs a fresh Runner (as a restarted process would) until the test ends or stop.
func (b *bundle) start(t *testing.T) {
	t.Helper()
	r, err := runner.New(runner.Options{
		Store: b.st, Clock: b.clock, Log: zerolog.Nop(), Replica: "test",
		Workflows: map[store.RunKind]runner.Workflow{store.KindDeploy: b.wf},
		Poll:      20 * time.Millisecond, Lease: 3 * time.Second, StepHook: b.hook,
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = r.Run(ctx)
	}()
	b.r = r
	b.stop = func() { cancel(); <-done }
	t.Cleanup(b.stop)
}

func (b *bundle) create(t *testing.T) store.Run {
	t.Helper()
	now := b.clock.Now()
	run, err := b.st.CreateRun(context.Background(), store.Run{
		Kind: store.KindDeploy, Env: "production", State: store.RunRunning, RequestedBy: "U0ALICE",
		WakeAt: &now, LockName: "env:production",
		Steps: []store.Step{{Name: "prepare", State: store.StepPending}, {Name: "soak", State: store.StepPending}, {Name: "approve", State: store.StepPending}},
	})
	require.NoError(t, err)
	b.r.Nudge()
	return run
}

// settle waits until the runner is idle and returns the run as stored.
func (b *bundle) settle(t *testing.T, id int64) store.Run {
	t.Helper()
	require.Eventually(t, func() bool { return b.r.Idle(context.Background(), 0) }, 5*time.Second, 10*time.Millisecond)
	run, err := b.st.GetRun(context.Background(), id)
	require.NoError(t, err)
	return run
}

func stepStates(run store.Run) map[string]store.StepState {
	m := map[string]store.StepState{}
	for _, s := range run.Steps {
		m[s.Name] = s.State
	}
	return m
}

func TestRunWaitsOnTimerThenPersonThenSucceeds(t *testing.T) {
	t.Parallel()
	b := setup(t)
	run := b.create(t)

	run = b.settle(t, run.ID)
	require.Equal(t, store.RunWaiting, run.State)
	require.Equal(t, map[string]store.StepState{"prepare": store.StepPassed, "soak": store.StepWaiting, "approve": store.StepPending}, stepStates(run))
	require.Equal(t, "soaking", run.StepByName("soak").Detail)
	require.NotNil(t, run.WakeAt, "a soak gate is a timer in the store")
	require.WithinDuration(t, run.CreatedAt.Add(24*time.Hour), *run.WakeAt, time.Second)

	b.clock.Advance(25 * time.Hour)
	run = b.settle(t, run.ID)
	require.Equal(t, store.StepPassed, run.StepByName("soak").State)
	require.Equal(t, store.StepWaiting, run.StepByName("approve").State)
	require.Nil(t, run.WakeAt, "waiting on a person needs no timer")

	b.wf.approved.Store(true)
	_, err := b.st.UpdateRun(context.Background(), run.ID, func(r *store.Run) error {
		now := b.clock.Now()
		r.WakeAt = &now
		return nil
	})
	require.NoError(t, err)
	b.r.Nudge()

	run = b.settle(t, run.ID)
	require.Equal(t, store.RunSucceeded, run.State)
	require.NotNil(t, run.FinishedAt)
	_, err = b.st.GetLock(context.Background(), "env:production")
	require.ErrorIs(t, err, store.ErrNotFound, "the lock goes with the run's end")
	require.Equal(t, 1, b.wf.count("prepare"), "a passed step is never run again")
	require.Positive(t, int(b.wf.changes.Load()))
}

func TestRestartResumesWithoutRerunningPassedSteps(t *testing.T) {
	t.Parallel()
	b := setup(t)
	run := b.create(t)
	b.settle(t, run.ID)

	b.stop() // the process dies with the run soaking
	b.clock.Advance(25 * time.Hour)
	b.start(t)
	b.r.Nudge()

	run = b.settle(t, run.ID)
	require.Equal(t, store.StepPassed, run.StepByName("soak").State)
	require.Equal(t, store.StepWaiting, run.StepByName("approve").State)
	require.Equal(t, 1, b.wf.count("prepare"))
}

func TestTransientErrorRetriesLaterAndNeverPasses(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.wf.failSoak.Store(1)
	run := b.create(t)

	run = b.settle(t, run.ID)
	soak := run.StepByName("soak")
	require.Equal(t, store.StepWaiting, soak.State, "an error is never a pass")
	require.Contains(t, soak.Detail, "retrying after an error: github answered 502")
	require.Equal(t, 1, soak.Attempts)
	require.WithinDuration(t, b.clock.Now().Add(time.Minute), *run.WakeAt, 2*time.Second)

	b.clock.Advance(2 * time.Minute)
	run = b.settle(t, run.ID)
	require.Equal(t, "soaking", run.StepByName("soak").Detail)
}

func TestCancelledRunIsLeftAlone(t *testing.T) {
	t.Parallel()
	b := setup(t)
	run := b.create(t)
	b.settle(t, run.ID)

	_, err := b.st.UpdateRun(context.Background(), run.ID, func(r *store.Run) error {
		r.State = store.RunCancelled
		return nil
	})
	require.NoError(t, err)
	b.clock.Advance(25 * time.Hour)
	b.r.Nudge()

	run = b.settle(t, run.ID)
	require.Equal(t, store.RunCancelled, run.State)
	require.Equal(t, store.StepWaiting, run.StepByName("soak").State)
	require.Equal(t, 1, b.wf.count("soak"), "no step runs after a cancel")
}

func TestAClickDuringAStepIsNotLost(t *testing.T) {
	t.Parallel()
	b := setup(t)
	run := b.create(t)
	b.settle(t, run.ID) // soaking: nothing runs until the clock moves
	b.wf.clickDuringApprove = func() {
		b.wf.approved.Store(true)
		_, err := b.st.UpdateRun(context.Background(), run.ID, func(r *store.Run) error {
			now := b.clock.Now()
			r.WakeAt = &now
			return nil
		})
		require.NoError(t, err)
	}
	b.clock.Advance(25 * time.Hour)

	run = b.settle(t, run.ID)
	require.Equal(t, store.RunSucceeded, run.State, "the approval that raced the step wakes the run again")
	require.Equal(t, 2, b.wf.count("approve"))
}

// toTheEnd starts a run that passes every step (approved, and the clock past its soak).
func (b *bundle) toTheEnd(t *testing.T) store.Run {
	t.Helper()
	b.wf.approved.Store(true)
	run := b.create(t)
	b.clock.Advance(25 * time.Hour)
	b.r.Nudge()
	return run
}

func TestTheEndIsToldAgainAfterACrashBeforeItWas(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	telling := make(chan struct{})
	var once sync.Once
	b.wf.tellEnd = func(ctx context.Context) error {
		once.Do(func() { close(telling) })
		<-ctx.Done() // the process dies while the card is being updated
		return ctx.Err()
	}
	b.start(t)
	run := b.toTheEnd(t)
	<-telling
	b.stop()

	run, err := b.st.GetRun(context.Background(), run.ID)
	require.NoError(t, err)
	require.Equal(t, store.RunSucceeded, run.State, "the end is recorded before it is told")
	require.NotNil(t, run.WakeAt, "… with a wake-up, because it was not told")
	require.Equal(t, 1, int(b.wf.ends.Load()))

	b.wf.tellEnd = nil
	b.start(t) // a new process
	b.r.Nudge()
	run = b.settle(t, run.ID)
	require.Equal(t, 2, int(b.wf.ends.Load()), "the new process tells the end")
	require.Nil(t, run.WakeAt, "once told, the run is left alone")
	require.Equal(t, 1, b.wf.count("approve"), "no step runs again")
}

func TestAFailureToTellTheEndIsTriedAgainLater(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	var failures atomic.Int32
	failures.Store(1)
	b.wf.tellEnd = func(context.Context) error {
		if failures.Add(-1) >= 0 {
			return errors.New("queueing the card: store unavailable")
		}
		return nil
	}
	b.start(t)
	run := b.toTheEnd(t)

	require.Eventually(t, func() bool { return b.wf.ends.Load() == 1 }, 5*time.Second, time.Millisecond)
	run = b.settle(t, run.ID)
	require.Equal(t, store.RunSucceeded, run.State)
	require.NotNil(t, run.WakeAt)
	require.WithinDuration(t, b.clock.Now().Add(30*time.Second), *run.WakeAt, 2*time.Second, "tried again in 30 s")

	b.clock.Advance(time.Minute)
	b.r.Nudge()
	run = b.settle(t, run.ID)
	require.Equal(t, 2, int(b.wf.ends.Load()))
	require.Nil(t, run.WakeAt)
}

// A clock that jumps (the sandbox's :advance) past a run's lease while a step runs makes the
// lease look expired before it is renewed: the runner must not start the run a second time
// beside itself.
func TestAClockJumpDoesNotAdvanceARunTwice(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	b.wf.clickDuringApprove = func() {
		b.clock.Advance(time.Hour)
		b.r.Nudge()
		time.Sleep(200 * time.Millisecond) // the runner claims whatever looks due meanwhile
	}
	b.start(t)
	run := b.create(t)
	b.clock.Advance(25 * time.Hour)
	b.r.Nudge()

	run = b.settle(t, run.ID)
	require.Equal(t, store.StepWaiting, run.StepByName("approve").State)
	require.Equal(t, 1, b.wf.count("approve"), "the approve step ran once")
}
