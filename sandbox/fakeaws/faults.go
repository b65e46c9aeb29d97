package fakeaws

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/opsbot-dev/opsbot/clock"
)

// The console's fault switches for post-deployment verification. fakeaws acts on the first five;
// sandbox/fakemonitoring, sharing the same Faults, acts on health (the app's health URL and the
// Pingdom check), latency (New Relic) and the Sentry spike.
const (
	FaultHealthUnhealthy = "health unhealthy" // two load-balancer targets fail their health checks
	FaultLogsErrors      = "logs errors"      // ERROR lines appear in the application's log group
	FaultAlarmFiring     = "alarm firing"     // the analytics-5xx alarm goes to ALARM
	FaultLatencyHigh     = "latency high"     // response times are four times the baseline
	FaultCacheCold       = "cache cold"       // the cache hit rate falls to 40 %
	FaultSentrySpike     = "sentry spike"     // five times as many Sentry errors
)

var faultNames = []string{
	FaultHealthUnhealthy, FaultLogsErrors, FaultAlarmFiring, FaultLatencyHigh, FaultCacheCold, FaultSentrySpike,
}

// ErrUnknownFault is returned by Set for a name that is not one of the Fault constants.
var ErrUnknownFault = errors.New("unknown fault")

// Faults is the timeline of injected faults, on the sandbox clock. A fault takes effect from the
// moment it is set until Clear, and the fakes keep that history: data generated for a time
// before the fault stays at its baseline, so comparing a window after a deploy with the window
// before it shows the change, and the same question asked twice gets the same answer.
//
// One Faults is shared by fakeaws and fakemonitoring so that a single console command reaches
// every fake. It is safe for concurrent use.
type Faults struct {
	clock clock.Clock

	mu    sync.Mutex
	spans map[string][]span // per fault, oldest first; only the last may still be open
}

// span is when a fault was active: from its start up to, not including, its end. A zero end
// means it is still active.
type span struct{ start, end time.Time }

// NewFaults returns a timeline with no faults, reading the time from c.
func NewFaults(c clock.Clock) *Faults {
	return &Faults{clock: c, spans: map[string][]span{}}
}

// Set turns the named fault on from now. Setting an active fault changes nothing.
func (f *Faults) Set(name string) error {
	if !slices.Contains(faultNames, name) {
		return fmt.Errorf("%w %q (known: %q)", ErrUnknownFault, name, faultNames)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	spans := f.spans[name]
	if len(spans) > 0 && spans[len(spans)-1].end.IsZero() {
		return nil
	}
	f.spans[name] = append(spans, span{start: f.clock.Now()})
	return nil
}

// Clear turns every active fault off from now.
func (f *Faults) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.clock.Now()
	for _, spans := range f.spans {
		if last := &spans[len(spans)-1]; last.end.IsZero() {
			last.end = now
		}
	}
}

// ActiveAt reports whether the named fault was active at t.
func (f *Faults) ActiveAt(name string, t time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.spans[name] {
		if !t.Before(s.start) && (s.end.IsZero() || t.Before(s.end)) {
			return true
		}
	}
	return false
}

// Active reports whether the named fault is active now.
func (f *Faults) Active(name string) bool {
	return f.ActiveAt(name, f.clock.Now())
}
