// Package store keeps everything about opsbot that must survive a crash: runs and their steps,
// environment locks, the Slack outbox, the audit log, run events (thread details and incident
// timelines) and the envelope de-duplication keys.
//
// One interface, two implementations over database/sql: SQLite (modernc.org/sqlite, the default
// for one replica) and PostgreSQL (pgx, for several replicas). Every query is written once; the
// few places where the dialects differ are isolated in the dialect type. Both implementations
// pass the same conformance suite in store/storetest.
//
// Concurrency model: a run is changed only through UpdateRun, which re-reads the row, applies the
// caller's mutation and writes it back only if nobody changed it in between (optimistic
// concurrency on Run.Version). Work on runs and outbox messages is claimed with leases, so that
// when a replica dies another one picks its work up after the lease expires.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Errors returned by Store methods. Callers test them with errors.Is.
var (
	// ErrNotFound: no row matches.
	ErrNotFound = errors.New("not found")
	// ErrDuplicateKey: a run with the same Key already exists (CreateRun).
	ErrDuplicateKey = errors.New("duplicate key")
	// ErrLeaseLost: the caller no longer holds the lease it names (another replica took the
	// work over after the lease expired). The caller must stop working on it.
	ErrLeaseLost = errors.New("lease lost")
	// ErrUnavailable: the database cannot be reached or refuses writes (read-only file, disk
	// full, connection refused). Wrapped around the driver's error.
	ErrUnavailable = errors.New("store unavailable")
)

// LockHeldError is returned by CreateRun when the lock it asked for is held by another run.
type LockHeldError struct {
	Lock Lock
}

func (e *LockHeldError) Error() string {
	return fmt.Sprintf("lock %q is held by run %d (%s) since %s",
		e.Lock.Name, e.Lock.RunID, e.Lock.HeldBy, e.Lock.Since.UTC().Format(time.RFC3339))
}

// RunKind names the domain a run belongs to; the runner dispatches on it.
type RunKind string

// The run kinds opsbot knows.
const (
	KindRelease  RunKind = "release"
	KindDeploy   RunKind = "deploy"
	KindRollback RunKind = "rollback"
	KindIncident RunKind = "incident"
)

// RunState is the state of a whole run.
type RunState string

// Run states. Active states are RunRunning and RunWaiting; the others are final.
const (
	RunRunning   RunState = "running"   // the runner has work to do now
	RunWaiting   RunState = "waiting"   // waiting on a person, a timer or an outside system
	RunSucceeded RunState = "succeeded" // final
	RunFailed    RunState = "failed"    // final
	RunCancelled RunState = "cancelled" // final
)

// Final reports whether no more work will happen on a run in this state.
func (s RunState) Final() bool {
	return s == RunSucceeded || s == RunFailed || s == RunCancelled
}

// Active reports whether the runner still has work on a run in this state. It is not the
// same as !Final(), which is also true of a misspelt state.
func (s RunState) Active() bool {
	return s == RunRunning || s == RunWaiting
}

// StepState is the state of one step of a run.
type StepState string

// Step states, matching the symbols on the status card.
const (
	StepPending StepState = "pending" // not started
	StepRunning StepState = "running" // started; its side effect may or may not have happened
	StepWaiting StepState = "waiting" // waiting on a person, a timer or an outside system
	StepPassed  StepState = "passed"
	StepFailed  StepState = "failed"
	StepSkipped StepState = "skipped"
)

// Final reports whether a step in this state is done.
func (s StepState) Final() bool {
	return s == StepPassed || s == StepFailed || s == StepSkipped
}

// WaitKind says what a waiting step waits on, so that a card can tell a person's turn from the
// clock's.
type WaitKind string

// What a waiting step waits on.
const (
	WaitPerson  WaitKind = "person"  // a click or a command
	WaitTime    WaitKind = "time"    // a timer (a soak gate, a reminder)
	WaitSystem  WaitKind = "system"  // an outside system making progress (CI, a workflow run)
	WaitBlocked WaitKind = "blocked" // a condition that failed and needs fixing; re-checked
	WaitRetry   WaitKind = "retry"   // a transient error; tried again
)

// Step is one named step of a run. Steps are stored with their run and change with it.
type Step struct {
	Name       string          `json:"name"`
	State      StepState       `json:"state"`
	Wait       WaitKind        `json:"wait,omitempty"`   // for StepWaiting: on what
	Detail     string          `json:"detail,omitempty"` // what the card shows next to the step
	Data       json.RawMessage `json:"data,omitempty"`   // owned by the domain package
	Attempts   int             `json:"attempts,omitempty"`
	StartedAt  *time.Time      `json:"started_at,omitempty"`
	FinishedAt *time.Time      `json:"finished_at,omitempty"`
}

// Run is a durable unit of work: a release, a deploy, a rollback or an incident.
type Run struct {
	ID          int64
	Kind        RunKind
	Key         string // unique natural key, e.g. "release:acme/analytics:v1.0.0"; empty for none
	Env         string // environment for deploys and rollbacks; empty otherwise
	State       RunState
	RequestedBy string // Slack user ID of the person who started it
	Channel     string // Slack channel the run reports in
	Title       string // one line, e.g. "Deploy v1.0.0 → production"
	Data        json.RawMessage
	Steps       []Step
	// WakeAt is when the runner looks at the run again; nil: only on an event. A final run
	// keeps one until the runner has told of its end (its card, what follows it), so that a
	// crash in between is caught up after a restart.
	WakeAt     *time.Time
	LockName   string // the lock CreateRun takes for this run, if any; held while the run is active
	Version    int64  // incremented by every write; UpdateRun compares it
	CreatedAt  time.Time
	UpdatedAt  time.Time
	FinishedAt *time.Time
	LeaseOwner string
	LeaseUntil *time.Time
}

// StepByName returns a pointer to the named step, or nil. The pointer is into r.Steps, so
// changing the step changes the run (and any copy of it sharing that slice).
func (r Run) StepByName(name string) *Step {
	for i := range r.Steps {
		if r.Steps[i].Name == name {
			return &r.Steps[i]
		}
	}
	return nil
}

// RunQuery selects runs for ListRuns. Zero fields do not filter.
type RunQuery struct {
	Kinds    []RunKind
	Env      string
	States   []RunState
	Active   bool      // only runs in an active state (running, waiting)
	Since    time.Time // created at or after
	BeforeID int64     // for paging: only runs with a smaller ID
	Limit    int       // default 50, newest first
}

// Lock is an exclusive hold on a named resource (e.g. "env:production") by a run.
type Lock struct {
	Name   string
	RunID  int64
	HeldBy string // Slack user ID of the run's requester
	Since  time.Time
}

// AuditEntry records one command or click and what came of it. The audit log is append-only.
type AuditEntry struct {
	ID      int64
	At      time.Time
	Actor   string // Slack user ID
	Action  string // e.g. "/deploy v1.0.0", "click deploy.approve"
	RunID   int64  // 0 when not about a run
	Outcome string // "ok", "refused", "usage", "error"
	Detail  string // the reason for a refusal, the error, ...
}

// DeliveryRecord is what handling one delivery leaves in the store (FinishDelivery).
type DeliveryRecord struct {
	// Key is the delivery's de-duplication key, to be recorded with the rest; empty when the
	// handler took it with FirstDelivery before acting (a request that changes something).
	Key   string
	At    time.Time // when it was handled; zero means now
	Audit AuditEntry
	Reply *OutboxMessage // the answer for the person; nil for none
}

// AuditQuery selects audit entries, newest first.
type AuditQuery struct {
	Actor string
	RunID int64
	Since time.Time
	Limit int // default 100
}

// RunEvent is something that happened in a run: a detail for its thread, an incident timeline
// entry. Events are append-only and ordered by At, then ID.
type RunEvent struct {
	ID    int64
	RunID int64
	At    time.Time // when it happened (for a pinned message: the message's original time)
	Kind  string    // e.g. "update", "role", "page", "pin", "statuspage", "step"
	Actor string    // Slack user ID, or "" for the bot
	Text  string
	Key   string // optional idempotency key, unique per run (a pin is recorded once)
	Data  json.RawMessage
}

// OutboxOp is what the outbox worker does with a message.
type OutboxOp string

// Outbox operations.
const (
	OpPost      OutboxOp = "post"      // chat.postMessage (or chat.update once posted, for upserts)
	OpEphemeral OutboxOp = "ephemeral" // chat.postEphemeral to User
)

// OutboxState is where a message is in its life.
type OutboxState string

// Outbox states.
const (
	OutboxPending OutboxState = "pending" // to be sent (or re-sent, after an upsert changed it)
	OutboxSent    OutboxState = "sent"
	OutboxDead    OutboxState = "dead" // Slack refused it for good (e.g. channel_not_found); kept for inspection
)

// OutboxMessage is a Slack write waiting to be made, identified by an idempotency key.
//
// Enqueue is idempotent by Key: enqueuing a key that exists is a no-op, except for an Upsert
// message with new content (Text or Blocks differ), which replaces the old content, gets the
// next Revision, restarts its Attempts and becomes pending again (the worker then calls
// chat.update on the already-posted message). Status cards are upserts keyed by run.
//
// A message with ThreadOf is a reply in the thread of the message with that key, which must
// have been enqueued before it; it is not claimed until its parent has been posted (has a TS).
// Posts not yet posted to one channel are claimed in order of ID, one at a time, so a channel
// reads in the order things happened; so are the ephemeral replies to one person in a channel,
// apart from the posts. An upsert of an already-posted message is not held up by that order.
// When a parent that was never posted is killed, its pending replies die with it, so that they
// cannot hold up their channel forever.
type OutboxMessage struct {
	ID      int64
	Key     string
	Op      OutboxOp
	Upsert  bool
	Channel string
	User    string // for OpEphemeral
	// ResponseURL, for OpEphemeral, is the response_url of the command or click being answered:
	// while it is fresh the reply is posted there rather than paced through chat.postEphemeral.
	// It lets anyone post to the person, so it is never logged.
	ResponseURL string
	ThreadOf    string // key of the parent message, or ""
	Text        string // fallback text (notifications, screen readers)
	Blocks      json.RawMessage
	State       OutboxState
	TS          string // Slack's ts once posted
	Attempts    int
	NextAt      time.Time // not claimed before this time (rate limits, retries)
	LastError   string
	CreatedAt   time.Time
	SentAt      *time.Time
	// Revision counts upsert changes; CompleteOutbox only marks the message sent if no newer
	// revision arrived while it was being sent.
	Revision   int64
	LeaseOwner string
	LeaseUntil *time.Time
	ThreadTS   string // filled by ClaimOutbox from the parent's TS when ThreadOf is set
}

// OutboxReceipt says that Slack took a claimed message: its ID, the revision sent and Slack's
// ts (empty for an ephemeral reply).
type OutboxReceipt struct {
	ID       int64
	Revision int64
	TS       string
}

// Store is opsbot's durable state. All methods are safe for concurrent use by several
// goroutines and several replicas (PostgreSQL). Times come back in UTC.
type Store interface {
	// Ping reports whether the database answers (used by /readyz).
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error

	// FirstDelivery records an envelope (or event) key and reports whether this is the first
	// time it was seen. A retried envelope gets false, on whichever replica it lands.
	FirstDelivery(ctx context.Context, key string, at time.Time) (bool, error)
	// FinishDelivery writes what handling a delivery leaves behind — its audit entry, the reply
	// queued for the person and, unless FirstDelivery took it before, its key — in one
	// transaction. If d.Key is recorded already (a retry, or another replica, got there first),
	// it writes nothing and returns false.
	FinishDelivery(ctx context.Context, d DeliveryRecord) (recorded bool, err error)

	// AppendAudit adds an entry to the audit log.
	AppendAudit(ctx context.Context, e AuditEntry) (AuditEntry, error)
	// ListAudit returns audit entries, newest first.
	ListAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, error)

	// CreateRun inserts a run with its steps; the run must start in an active state. If
	// r.LockName is not empty the run takes that lock in the same transaction; if another run
	// holds it, CreateRun returns a *LockHeldError and creates nothing. A run whose Key exists
	// returns ErrDuplicateKey. The store sets ID, Version, CreatedAt and UpdatedAt.
	CreateRun(ctx context.Context, r Run) (Run, error)
	// GetRun returns a run by ID (ErrNotFound).
	GetRun(ctx context.Context, id int64) (Run, error)
	// GetRunByKey returns a run by its natural key (ErrNotFound).
	GetRunByKey(ctx context.Context, key string) (Run, error)
	// UpdateRun re-reads the run, calls mutate on a copy and writes the result if the run did
	// not change in between, retrying mutate on a fresh copy otherwise. An error from mutate
	// aborts the update and is returned as is. When the run reaches a final state its lock is
	// released in the same transaction, so a final run never holds a lock; a final run cannot
	// become active again. mutate may change Env, State, RequestedBy, Channel, Title, Data,
	// Steps and WakeAt; the store keeps ID, Kind, Key, LockName, CreatedAt and the lease fields,
	// and sets Version, UpdatedAt and FinishedAt (when the run first reaches a final state).
	UpdateRun(ctx context.Context, id int64, mutate func(*Run) error) (Run, error)
	// ListRuns returns runs, newest first.
	ListRuns(ctx context.Context, q RunQuery) ([]Run, error)

	// ClaimRuns leases up to limit runs that are due (WakeAt at or before now: active runs, and
	// final ones whose end is still to be told) and not leased by anyone else (no lease, or an
	// expired one), for owner until now+lease.
	ClaimRuns(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]Run, error)
	// RenewLease extends owner's lease on a run; ErrLeaseLost if owner no longer holds it.
	RenewLease(ctx context.Context, runID int64, owner string, until time.Time) error
	// ReleaseLease gives up owner's lease on a run (no error if it was already lost).
	ReleaseLease(ctx context.Context, runID int64, owner string) error
	// NextWake returns the earliest time at which a run becomes claimable (its WakeAt,
	// or the end of another owner's lease if that is later), or nil when none is scheduled.
	NextWake(ctx context.Context) (*time.Time, error)
	// CountRuns counts runs by state (for the runs-by-state metric); every state is present,
	// with 0 when no run is in it.
	CountRuns(ctx context.Context) (map[RunState]int, error)

	// GetLock returns who holds a lock (ErrNotFound when free).
	GetLock(ctx context.Context, name string) (Lock, error)

	// AppendRunEvent adds an event to a run. An event whose Key is already recorded for the
	// run is not added again; the existing one is returned with added=false.
	AppendRunEvent(ctx context.Context, e RunEvent) (ev RunEvent, added bool, err error)
	// ListRunEvents returns a run's events in order.
	ListRunEvents(ctx context.Context, runID int64) ([]RunEvent, error)

	// Enqueue adds a message to the outbox (see OutboxMessage for the key rules) and returns
	// the stored message. A zero NextAt means now; a ThreadOf naming no message is ErrNotFound.
	Enqueue(ctx context.Context, m OutboxMessage) (OutboxMessage, error)
	// EnqueueAll adds several messages as Enqueue does, in one transaction: all or none.
	EnqueueAll(ctx context.Context, msgs ...OutboxMessage) error
	// ClaimOutbox leases up to limit pending messages that are due, for owner.
	ClaimOutbox(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]OutboxMessage, error)
	// CompleteOutbox records that claimed messages were sent, in one transaction: each as its
	// Revision, with Slack's TS. A message stays pending (with its TS) if a newer revision
	// arrived meanwhile. CompleteOutbox, RetryOutbox and KillOutbox return ErrLeaseLost when
	// another owner has claimed a message since; CompleteOutbox still records the others.
	CompleteOutbox(ctx context.Context, owner string, at time.Time, sent ...OutboxReceipt) error
	// RetryOutbox puts a claimed message back, not to be claimed before next.
	RetryOutbox(ctx context.Context, id int64, owner string, next time.Time, lastErr string) error
	// KillOutbox marks a claimed message dead: Slack refused it for good. If it was never
	// posted, its pending replies are marked dead too.
	KillOutbox(ctx context.Context, id int64, owner string, lastErr string) error
	// GetOutbox returns a message by key (ErrNotFound).
	GetOutbox(ctx context.Context, key string) (OutboxMessage, error)
	// OutboxStats counts pending messages and reports when the earliest becomes due.
	OutboxStats(ctx context.Context) (pending int, nextDue *time.Time, err error)
}
