// Package storetest is the conformance suite for store.Store: the same tests run against every
// implementation (SQLite and PostgreSQL), so that they behave alike down to the edge cases the
// runner and the outbox worker rely on.
package storetest

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/clock"
	"github.com/opsbot-dev/opsbot/store"
)

// OpenFunc opens a Store on one test's database that reads "now" from clk. Each call opens
// another Store on the same database, as a second replica would; the test closes them.
type OpenFunc func(clk clock.Clock) store.Store

// Run runs the suite. newDatabase creates an empty database for the test t, to be removed when
// t ends, and returns how to open stores on it.
func Run(t *testing.T, newDatabase func(t *testing.T) OpenFunc) {
	suites := []struct {
		name string
		run  func(t *testing.T, newDatabase func(t *testing.T) OpenFunc)
	}{
		{"CreateRun", testCreateRun},
		{"Locks", testLocks},
		{"UpdateRun", testUpdateRun},
		{"ListRuns", testListRuns},
		{"ClaimRuns", testClaimRuns},
		{"NextWakeAndCount", testNextWakeAndCount},
		{"Enqueue", testEnqueue},
		{"ClaimOutbox", testClaimOutbox},
		{"FinishOutbox", testFinishOutbox},
		{"Records", testRecords},
	}
	for _, suite := range suites {
		t.Run(suite.name, func(t *testing.T) {
			t.Parallel()
			suite.run(t, newDatabase)
		})
	}
}

// start is when every test's clock starts; the nanoseconds check that times survive the
// database exactly.
var start = time.Date(2026, 11, 25, 14, 2, 0, 123456789, time.UTC)

// bundle is what one test works with: a store on a fresh database, its clock, and a way to
// open a second store (replica) on the same database.
type bundle struct {
	store store.Store
	clock *manualClock
	open  func() store.Store
}

func setup(t *testing.T, newDatabase func(t *testing.T) OpenFunc) *bundle {
	t.Helper()
	openFunc := newDatabase(t)
	clk := &manualClock{now: start}
	return &bundle{
		store: openFunc(clk),
		clock: clk,
		open:  func() store.Store { return openFunc(clk) },
	}
}

// manualClock stands still until the test advances it.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func ptr[T any](v T) *T { return &v }

// requireJSONEq compares JSON documents by meaning: PostgreSQL's jsonb does not keep spacing.
func requireJSONEq(t *testing.T, want, got any) {
	t.Helper()
	wantJSON, err := json.Marshal(want)
	require.NoError(t, err)
	gotJSON, err := json.Marshal(got)
	require.NoError(t, err)
	require.JSONEq(t, string(wantJSON), string(gotJSON))
}

// parallel runs fn(i) for i in [0, n) on n goroutines and waits for all of them.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { fn(i) })
	}
	wg.Wait()
}
