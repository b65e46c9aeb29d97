package runner

import (
	"time"

	"github.com/opsbot-dev/opsbot/store"
)

// Result is what a step reports after one go. Build it with the functions below; the runner
// records it in the store before it does anything else.
type Result struct {
	state  store.StepState
	wait   store.WaitKind
	detail string
	// wakeAt is when the runner looks at the step again (waiting results); nil waits for an
	// event such as a click.
	wakeAt *time.Time
	// retryAfter marks a transient failure: the step stays where it is and is tried again.
	retryAfter time.Duration
	err        error
}

// Passed: the step's condition holds or its effect is in place.
func Passed(detail string) Result { return Result{state: store.StepPassed, detail: detail} }

// Skipped: the step does not apply; reason says why, on the card.
func Skipped(reason string) Result { return Result{state: store.StepSkipped, detail: reason} }

// Failed: the step cannot succeed; the run fails with detail as the reason.
func Failed(detail string) Result { return Result{state: store.StepFailed, detail: detail} }

// WaitForPerson: nothing happens until someone acts (a click wakes the run).
func WaitForPerson(detail string) Result {
	return Result{state: store.StepWaiting, wait: store.WaitPerson, detail: detail}
}

// WaitUntil: the step is due again at t (a soak gate, a reminder). The timer lives in the
// store, not in a sleeping goroutine, so it survives restarts and fires once across replicas.
func WaitUntil(t time.Time, detail string) Result {
	return Result{state: store.StepWaiting, wait: store.WaitTime, detail: detail, wakeAt: &t}
}

// Poll: waiting on an outside system (CI, a workflow run); look again after d.
func Poll(now time.Time, d time.Duration, detail string) Result {
	t := now.Add(d)
	return Result{state: store.StepWaiting, wait: store.WaitSystem, detail: detail, wakeAt: &t}
}

// Blocked: the step's condition failed (CI red, changes requested) and needs a fix; it is
// re-checked at recheck, and passes then if the fix is in. The run is not failed by it.
func Blocked(recheck time.Time, detail string) Result {
	return Result{state: store.StepWaiting, wait: store.WaitBlocked, detail: detail, wakeAt: &recheck}
}

// Rewound: the step found that earlier steps must run again (the release head moved under
// the gates that passed for it) and has set them back to pending with Exec.Update. The step
// goes back to pending too, and the run continues at once from the first pending step.
func Rewound(detail string) Result { return Result{state: store.StepPending, detail: detail} }

// Retry: a transient error (a 5xx, a 429, a timeout). The step is tried again after d; the
// card says what it is waiting for, and the step is never marked passed on an error.
func Retry(err error, d time.Duration) Result {
	return Result{state: store.StepWaiting, wait: store.WaitRetry, detail: "retrying after an error: " + err.Error(), retryAfter: d, err: err}
}

// RecheckAt returns the result with a time at which the step is looked at again even if
// nothing wakes it: a step waiting on a person that must also notice a change elsewhere (the
// release head moving under an approval request).
func (r Result) RecheckAt(t time.Time) Result {
	r.wakeAt = &t
	return r
}

// State is the step state the result records.
func (r Result) State() store.StepState { return r.state }

// Wait is what a waiting result waits on.
func (r Result) Wait() store.WaitKind { return r.wait }

// Detail is what the card shows next to the step.
func (r Result) Detail() string { return r.detail }

// WakeAt is when a waiting step is looked at again (nil: on an event).
func (r Result) WakeAt() *time.Time { return r.wakeAt }

// Err is the transient error behind a Retry, if any.
func (r Result) Err() error { return r.err }
