// Package runner executes durable runs. It claims due runs from the store with a lease, walks
// each run's steps in order, records every step's outcome before the next one starts, and puts
// the run to sleep when a step waits on a person, a timer or an outside system.
//
// A step must be idempotent: it may be interrupted at any point (a crash, a lost lease) and is
// then run again from the start, so it first looks for its own effect and only then acts. The
// runner guarantees the rest: a passed step is never run again, a waiting step is only run
// again when it is due or something wakes its run, and exactly one replica works on a run at a
// time (the lease).
package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/opsbot-dev/opsbot/clock"
	"github.com/opsbot-dev/opsbot/store"
)

// Step is one named step of a workflow. Its name matches the store.Step it drives.
type Step struct {
	Name string
	Run  func(ctx context.Context, x *Exec) Result
}

// Workflow is a kind of run (deploy, incident, …): its steps, and what to do when the run changes.
type Workflow interface {
	// Steps lists the steps of run in order.
	Steps(run store.Run) []Step
	// Changed is called after every recorded change that a person could see (a step's state or
	// detail, the run's state): the workflow re-renders the run's card.
	Changed(ctx context.Context, run store.Run) error
}

// Options configure a Runner.
type Options struct {
	Store     store.Store
	Workflows map[store.RunKind]Workflow
	Clock     clock.Clock
	Log       zerolog.Logger
	// Replica names this process in leases; it must differ between replicas.
	Replica string
	// Lease is how long a claimed run is ours without renewal (default 30s). It is renewed
	// every third of it while a step runs.
	Lease time.Duration
	// Poll is how often the store is asked for due runs when nothing nudged the runner
	// (default 1s: a run woken on another replica starts here within a second).
	Poll time.Duration
	// Parallel bounds the runs advanced at once (default 16).
	Parallel int
	// StepHook, if set, is called at two points of every step: PhaseBefore once the step is
	// recorded as started, just before it runs; PhaseAfter once it returned, before its outcome
	// is recorded. At the run's end it is called with step EndOfRun: PhaseBefore once the end
	// is recorded, before it is told (Workflow.Changed); PhaseAfter once told, before that is
	// recorded. Fault-injection builds crash the process there (cmd/opsbot, build tag chaos).
	StepHook func(run store.Run, step string, phase StepPhase)
}

// EndOfRun is the step name a StepHook sees at the end of a run.
const EndOfRun = "end"

// StepPhase is where in a step a StepHook is called.
type StepPhase string

// The points a StepHook sees.
const (
	PhaseBefore StepPhase = "before"
	PhaseAfter  StepPhase = "after"
)

// Runner advances runs. Create it with New and start it with Run.
type Runner struct {
	opts   Options
	log    zerolog.Logger
	wake   chan struct{}
	active atomic.Int64

	inHandMu sync.Mutex
	inHand   map[int64]bool // runs being advanced here
}

// New returns a Runner.
func New(opts Options) (*Runner, error) {
	if opts.Store == nil {
		return nil, errors.New("runner: a store is required")
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Lease <= 0 {
		opts.Lease = 30 * time.Second
	}
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 16
	}
	if opts.Replica == "" {
		opts.Replica = "opsbot"
	}
	return &Runner{
		opts: opts,
		log:  opts.Log.With().Str("component", "runner").Logger(),
		wake: make(chan struct{}, 1),

		inHand: map[int64]bool{},
	}, nil
}

// Nudge makes the runner look for due runs now (after a click made a run due).
func (r *Runner) Nudge() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Idle reports whether no run is being advanced and none is due within the horizon: with a
// horizon of a minute, a run that polls CI every 30 s is busy, one that waits a day for its
// soak time is idle.
func (r *Runner) Idle(ctx context.Context, horizon time.Duration) bool {
	// The store is read before the counter: a run claimed in between looks not due (leased)
	// but is already counted, while the other order could miss it altogether.
	next, err := r.opts.Store.NextWake(ctx)
	if err != nil || r.active.Load() > 0 {
		return false
	}
	return next == nil || next.After(r.opts.Clock.Now().Add(horizon))
}

// advancer is implemented by clocks that can jump (the sandbox's Offset clock): the runner
// re-checks due runs when they do instead of waiting for its next poll.
type advancer interface {
	Advanced() <-chan struct{}
}

// Run claims and advances due runs until ctx is cancelled, then waits for the runs in hand to
// reach a point where they can be left (their leases are released).
func (r *Runner) Run(ctx context.Context) error {
	poll := time.NewTicker(r.opts.Poll)
	defer poll.Stop()
	slots := make(chan struct{}, r.opts.Parallel)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		free := cap(slots) - len(slots)
		if free > 0 {
			// Counted as active while claiming, so that Idle never sees a run that is
			// leased but not yet being advanced.
			r.active.Add(1)
			runs, err := r.opts.Store.ClaimRuns(ctx, r.opts.Replica, r.opts.Clock.Now(), r.opts.Lease, free)
			if err != nil && ctx.Err() == nil {
				r.log.Error().Err(err).Msg("claiming due runs failed")
			}
			// A run already being advanced here is left to that: its lease only looked
			// expired because the clock jumped (the sandbox's :advance) before its renewal.
			runs = slices.DeleteFunc(runs, func(run store.Run) bool { return !r.take(run.ID) })
			r.active.Add(int64(len(runs)) - 1)
			for _, run := range runs {
				slots <- struct{}{}
				wg.Go(func() {
					defer func() { <-slots; r.active.Add(-1); r.Nudge() }()
					r.advance(ctx, run)
				})
			}
		}
		var advanced <-chan struct{}
		if a, ok := r.opts.Clock.(advancer); ok {
			advanced = a.Advanced()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.wake:
		case <-poll.C:
		case <-advanced:
		}
	}
}

// take marks a run as being advanced by this runner; false if it already is.
func (r *Runner) take(runID int64) bool {
	r.inHandMu.Lock()
	defer r.inHandMu.Unlock()
	if r.inHand[runID] {
		return false
	}
	r.inHand[runID] = true
	return true
}

// letGo ends this runner's work on a run: it is no longer in hand, then its lease is given
// up — in that order, so that a claim in between cannot be skipped as in hand and then sit
// on a lease nobody works under.
func (r *Runner) letGo(runID int64, log zerolog.Logger) {
	r.inHandMu.Lock()
	delete(r.inHand, runID)
	r.inHandMu.Unlock()
	r.release(runID, log)
}

// advance works on a claimed run until it waits, ends, or the lease is lost.
func (r *Runner) advance(ctx context.Context, run store.Run) {
	log := r.log.With().Int64("run", run.ID).Str("kind", string(run.Kind)).Logger()
	wf, ok := r.opts.Workflows[run.Kind]
	if !ok {
		log.Error().Msg("no workflow for this kind of run; leaving it")
		r.letGo(run.ID, log)
		return
	}

	// The step context ends when the lease is lost, so a replica that was too slow stops
	// before another one that took the run over gets far.
	stepCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	runID := run.ID
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		r.renewLease(stepCtx, cancel, runID, log)
	}()
	defer func() {
		cancel()
		<-renewed
		r.letGo(runID, log)
	}()

	steps := wf.Steps(run)
	for stepCtx.Err() == nil {
		if run.State.Final() {
			r.tellEnd(stepCtx, wf, run, log)
			return
		}
		idx := nextStep(run, steps)
		if idx < 0 {
			var err error
			run, err = r.finish(stepCtx, run, store.RunSucceeded)
			if err != nil {
				log.Error().Err(err).Msg("recording the end of the run failed")
				return
			}
			continue // told at the top
		}
		step := steps[idx]
		s := run.StepByName(step.Name)
		if s == nil {
			log.Error().Str("step", step.Name).Msg("the run has no record of this step; leaving it")
			return
		}
		if s.State == store.StepPending {
			next, err := r.opts.Store.UpdateRun(stepCtx, run.ID, func(cur *store.Run) error {
				cs := cur.StepByName(step.Name)
				if cs.State != store.StepPending {
					return nil
				}
				now := r.opts.Clock.Now()
				cs.State, cs.StartedAt, cs.Detail = store.StepRunning, &now, ""
				cur.State = store.RunRunning
				return nil
			})
			if err != nil {
				log.Error().Err(err).Str("step", step.Name).Msg("recording the start of a step failed")
				return
			}
			run = next
			r.changed(stepCtx, wf, run, log)
		}

		r.hook(run, step.Name, PhaseBefore)
		res, seen := r.runStep(stepCtx, step, run, log)
		r.hook(seen, step.Name, PhaseAfter)
		if stepCtx.Err() != nil {
			return // lease lost or shutting down: the step's outcome is not ours to record
		}
		next, visible, err := r.record(stepCtx, seen, step.Name, res)
		if err != nil {
			log.Error().Err(err).Str("step", step.Name).Msg("recording a step's outcome failed; it will run again")
			return
		}
		run = next
		if run.State.Final() {
			continue // told at the top
		}
		if visible {
			r.changed(stepCtx, wf, run, log)
		}
		if res.state == store.StepWaiting {
			return
		}
	}
}

func (r *Runner) hook(run store.Run, step string, phase StepPhase) {
	if r.opts.StepHook != nil {
		r.opts.StepHook(run, step, phase)
	}
}

// nextStep is the index of the first step that is not done, or -1.
func nextStep(run store.Run, steps []Step) int {
	for i, st := range steps {
		s := run.StepByName(st.Name)
		if s == nil || !s.State.Final() {
			return i
		}
	}
	return -1
}

// runStep runs a step and returns its result with the run as the step last saw it (its own
// updates included), so that record can tell changes made from outside during the step.
func (r *Runner) runStep(ctx context.Context, step Step, run store.Run, log zerolog.Logger) (res Result, seen store.Run) {
	x := &Exec{store: r.opts.Store, clock: r.opts.Clock, run: run, step: step.Name}
	defer func() {
		if p := recover(); p != nil {
			log.Error().Str("step", step.Name).Interface("panic", p).Bytes("stack", debug.Stack()).Msg("step panicked")
			res, seen = Retry(fmt.Errorf("internal error in step %s", step.Name), time.Minute), x.run
		}
	}()
	res = step.Run(ctx, x)
	return res, x.run
}

// record stores a step's result and the run state it implies. seen is the run as the step
// last saw it; a change made meanwhile from outside (a click that ticked an item or approved,
// and asked to be looked at now) keeps its earlier wake-up, so the step runs again with it
// instead of sleeping on a result that did not know of it. visible reports whether the card
// would change.
func (r *Runner) record(ctx context.Context, seen store.Run, name string, res Result) (store.Run, bool, error) {
	visible := false
	next, err := r.opts.Store.UpdateRun(ctx, seen.ID, func(cur *store.Run) error {
		woken := cur.Version != seen.Version && cur.WakeAt != nil
		if cur.State.Final() {
			return nil // cancelled while the step ran
		}
		s := cur.StepByName(name)
		if s == nil {
			return fmt.Errorf("run %d has no step %q", cur.ID, name)
		}
		now := r.opts.Clock.Now()
		visible = s.State != res.state || s.Detail != res.detail || s.Wait != res.wait
		s.State, s.Detail, s.Wait = res.state, res.detail, res.wait
		switch res.state {
		case store.StepPending:
			s.StartedAt, s.FinishedAt, s.Wait = nil, nil, ""
			cur.State, cur.WakeAt = store.RunRunning, &now
			visible = true
		case store.StepPassed, store.StepSkipped:
			s.FinishedAt = &now
			cur.State, cur.WakeAt = store.RunRunning, &now
		case store.StepFailed:
			s.FinishedAt = &now
			cur.State, cur.WakeAt, cur.FinishedAt = store.RunFailed, &now, &now // to be told
			visible = true
		case store.StepWaiting:
			cur.State = store.RunWaiting
			wake := res.wakeAt
			if res.retryAfter > 0 {
				s.Attempts++
				at := now.Add(res.retryAfter)
				wake = &at
			}
			if woken && (wake == nil || cur.WakeAt.Before(*wake)) {
				wake = cur.WakeAt
			}
			cur.WakeAt = wake
		}
		return nil
	})
	return next, visible, err
}

func (r *Runner) finish(ctx context.Context, run store.Run, state store.RunState) (store.Run, error) {
	return r.opts.Store.UpdateRun(ctx, run.ID, func(cur *store.Run) error {
		if cur.State.Final() {
			return nil
		}
		now := r.opts.Clock.Now()
		cur.State, cur.WakeAt, cur.FinishedAt = state, &now, &now // to be told
		return nil
	})
}

// tellEnd shows a final run's end (its card, and whatever the workflow does then) and only
// then drops its wake-up: the end is recorded first, with a wake-up, so that a crash before
// it is told is caught up by whichever runner claims the run next. A failure to tell is
// tried again later.
func (r *Runner) tellEnd(ctx context.Context, wf Workflow, run store.Run, log zerolog.Logger) {
	if run.WakeAt == nil {
		return // told already (or ended outside the runner, which told it)
	}
	r.hook(run, EndOfRun, PhaseBefore)
	err := wf.Changed(ctx, run)
	if err != nil {
		log.Error().Err(err).Msg("telling of the run's end failed; trying again later")
	}
	r.hook(run, EndOfRun, PhaseAfter)
	_, uerr := r.opts.Store.UpdateRun(ctx, run.ID, func(cur *store.Run) error {
		if err != nil {
			later := r.opts.Clock.Now().Add(tellRetry)
			cur.WakeAt = &later
		} else {
			cur.WakeAt = nil
		}
		return nil
	})
	if uerr != nil {
		log.Error().Err(uerr).Msg("recording that the run's end was told failed; it will be told again")
	}
}

// tellRetry is how long after a failure to tell of a run's end the runner tries again.
const tellRetry = 30 * time.Second

func (r *Runner) changed(ctx context.Context, wf Workflow, run store.Run, log zerolog.Logger) {
	if err := wf.Changed(ctx, run); err != nil {
		log.Error().Err(err).Msg("updating the run's card failed; the next change will retry it")
	}
}

func (r *Runner) renewLease(ctx context.Context, lost context.CancelFunc, runID int64, log zerolog.Logger) {
	t := time.NewTicker(r.opts.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			err := r.opts.Store.RenewLease(ctx, runID, r.opts.Replica, r.opts.Clock.Now().Add(r.opts.Lease))
			switch {
			case errors.Is(err, store.ErrLeaseLost):
				log.Warn().Msg("another replica took this run over; stopping work on it")
				lost()
				return
			case err != nil && ctx.Err() == nil:
				log.Warn().Err(err).Msg("renewing the lease failed; will try again")
			}
		}
	}
}

func (r *Runner) release(runID int64, log zerolog.Logger) {
	// The lease is given up even when the run's context is done (shutdown), so another
	// replica need not wait for it to expire.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.opts.Store.ReleaseLease(ctx, runID, r.opts.Replica); err != nil {
		log.Warn().Err(err).Msg("releasing the lease failed; it will expire")
	}
}

// Exec is what a step sees: the run as it was when the step started, and a way to record
// progress inside the step before its side effect (a cursor, an ID that was created).
type Exec struct {
	store store.Store
	clock clock.Clock
	run   store.Run
	step  string
}

// Run is the run as last recorded.
func (x *Exec) Run() store.Run { return x.run }

// Now is the runner's clock.
func (x *Exec) Now() time.Time { return x.clock.Now() }

// StepName is the name of the step being run.
func (x *Exec) StepName() string { return x.step }

// StepData decodes the step's own data into v (left unchanged when there is none).
func (x *Exec) StepData(v any) error {
	s := x.run.StepByName(x.step)
	if s == nil || len(s.Data) == 0 {
		return nil
	}
	return json.Unmarshal(s.Data, v)
}

// SaveStepData records the step's data now, before the step goes on.
func (x *Exec) SaveStepData(ctx context.Context, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding data of step %s: %w", x.step, err)
	}
	return x.Update(ctx, func(run *store.Run) error {
		run.StepByName(x.step).Data = data
		return nil
	})
}

// Update records a change to the run (its data, another step's data) now.
func (x *Exec) Update(ctx context.Context, mutate func(*store.Run) error) error {
	next, err := x.store.UpdateRun(ctx, x.run.ID, mutate)
	if err != nil {
		return fmt.Errorf("recording progress of step %s: %w", x.step, err)
	}
	x.run = next
	return nil
}

// UpdateRecord records a change to the run's typed record (store.DecodeRecord) from inside a
// step, now, before the step goes on.
func UpdateRecord[T any](ctx context.Context, x *Exec, change func(*T)) error {
	return x.Update(ctx, func(r *store.Run) error {
		v, err := store.DecodeRecord[T](*r)
		if err != nil {
			return err
		}
		change(&v)
		return store.EncodeRecord(r, v)
	})
}
