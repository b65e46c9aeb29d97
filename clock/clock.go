// Package clock gives every time-dependent part of opsbot an injectable notion of "now".
//
// Soak gates, reminders, leases and rate limits all read the time through a Clock so that
// tests and the sandbox console (`:advance 25h`) can move time without sleeping.
package clock

import (
	"sync"
	"time"
)

// Clock reports the current time.
type Clock interface {
	Now() time.Time
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// Offset is the wall clock shifted by an adjustable offset. The sandbox and the bot share one
// Offset in `opsbot console`, so advancing it moves both: a 24 h soak gate can be passed in a
// second while rate limits and timeouts still run on real time.
type Offset struct {
	mu       sync.Mutex
	offset   time.Duration
	advanced chan struct{}
}

// NewOffset returns an Offset clock that starts at the wall clock.
func NewOffset() *Offset {
	return &Offset{advanced: make(chan struct{})}
}

// Now returns the wall clock plus the accumulated offset.
func (o *Offset) Now() time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	return time.Now().Add(o.offset)
}

// Advance moves the clock forward by d and wakes everyone waiting on Advanced.
func (o *Offset) Advance(d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.offset += d
	close(o.advanced)
	o.advanced = make(chan struct{})
}

// Advanced returns a channel that is closed the next time the clock is advanced, so that
// timer loops can re-check what became due instead of waiting for their next poll.
func (o *Offset) Advanced() <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.advanced
}
