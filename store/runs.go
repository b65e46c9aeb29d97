package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// activeStates selects active runs. It is written out, not bound, because the partial index
// runs_due is declared with exactly this predicate and SQLite uses it only on a literal match.
const activeStates = `state IN ('running', 'waiting')`

const runColumns = `id, kind, key, env, state, requested_by, channel, title, data, steps, wake_at,
	lock_name, version, created_at, updated_at, finished_at, lease_owner, lease_until`

func scanRun(row scanner) (Run, error) {
	var (
		r                              Run
		key                            sql.NullString
		data, steps                    []byte
		wakeAt, finishedAt, leaseUntil sql.NullInt64
		createdAt, updatedAt           int64
	)
	if err := row.Scan(&r.ID, &r.Kind, &key, &r.Env, &r.State, &r.RequestedBy, &r.Channel, &r.Title,
		&data, &steps, &wakeAt, &r.LockName, &r.Version, &createdAt, &updatedAt, &finishedAt,
		&r.LeaseOwner, &leaseUntil); err != nil {
		return Run{}, err
	}
	if steps != nil {
		if err := json.Unmarshal(steps, &r.Steps); err != nil {
			return Run{}, fmt.Errorf("decoding the steps of run %d: %w", r.ID, err)
		}
	}
	r.Key = key.String
	r.Data = data
	r.WakeAt = fromNullUnixNano(wakeAt)
	r.CreatedAt = fromUnixNano(createdAt)
	r.UpdatedAt = fromUnixNano(updatedAt)
	r.FinishedAt = fromNullUnixNano(finishedAt)
	r.LeaseUntil = fromNullUnixNano(leaseUntil)
	return r, nil
}

// stepsValue stores a run's steps as a JSON array, or NULL when it has none.
func stepsValue(steps []Step) (any, error) {
	if len(steps) == 0 {
		return nil, nil
	}
	doc, err := json.Marshal(steps)
	if err != nil {
		return nil, fmt.Errorf("encoding steps: %w", err)
	}
	return string(doc), nil
}

// CreateRun inserts a run and takes its lock, both or neither.
func (s *SQL) CreateRun(ctx context.Context, r Run) (Run, error) {
	if r.Kind == "" || !r.State.Active() {
		return Run{}, fmt.Errorf("creating run: need a kind and an active state, got kind %q, state %q", r.Kind, r.State)
	}
	steps, err := stepsValue(r.Steps)
	if err != nil {
		return Run{}, fmt.Errorf("creating run: %w", err)
	}
	now := unixNano(s.now())
	var created Run
	err = s.inTx(ctx, func(tx stmtTx) error {
		var err error
		created, err = scanRun(tx.QueryRowContext(ctx, `INSERT INTO runs (kind, key, env, state, requested_by,
			channel, title, data, steps, wake_at, lock_name, version, created_at, updated_at, lease_owner)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12, $12, '')
			ON CONFLICT (key) DO NOTHING
			RETURNING `+runColumns,
			r.Kind, nullString(r.Key), r.Env, r.State, r.RequestedBy, r.Channel, r.Title, jsonValue(r.Data),
			steps, nullUnixNano(r.WakeAt), r.LockName, now))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("run key %q: %w", r.Key, ErrDuplicateKey)
		}
		if err != nil || r.LockName == "" {
			return err
		}
		return takeLock(ctx, tx, r.LockName, created.ID, now)
	})
	if err != nil {
		return Run{}, s.failed("creating run", err)
	}
	return created, nil
}

// takeLock gives the lock name to runID, or returns a *LockHeldError naming its holder.
func takeLock(ctx context.Context, tx stmtTx, name string, runID, now int64) error {
	for {
		taken, err := tx.ExecContext(ctx, `INSERT INTO locks (name, run_id, since) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO NOTHING`, name, runID, now)
		if err != nil {
			return err
		}
		if n, err := taken.RowsAffected(); err != nil || n == 1 {
			return err
		}
		holder, err := getLock(ctx, tx, name)
		if errors.Is(err, ErrNotFound) {
			continue // released between the two statements (PostgreSQL): try again
		}
		if err != nil {
			return err
		}
		return &LockHeldError{Lock: holder}
	}
}

// GetRun returns a run by ID.
func (s *SQL) GetRun(ctx context.Context, id int64) (Run, error) {
	return s.getRun(ctx, fmt.Sprintf("getting run %d", id), "id", id)
}

// GetRunByKey returns a run by its natural key.
func (s *SQL) GetRunByKey(ctx context.Context, key string) (Run, error) {
	return s.getRun(ctx, fmt.Sprintf("getting run %q", key), "key", key)
}

// getRun returns the run whose unique column has value.
func (s *SQL) getRun(ctx context.Context, doing, column string, value any) (Run, error) {
	r, err := scanRun(s.reader.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE `+column+` = $1`, value))
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return Run{}, s.failed(doing, err)
	}
	return r, nil
}

// errVersionConflict: the run changed between UpdateRun's read and its write.
var errVersionConflict = errors.New("version conflict")

// UpdateRun applies mutate with optimistic concurrency, retrying on a fresh copy when another
// writer got in between.
func (s *SQL) UpdateRun(ctx context.Context, id int64, mutate func(*Run) error) (Run, error) {
	for {
		current, err := s.GetRun(ctx, id)
		if err != nil {
			return Run{}, err
		}
		next := current // Steps and Data are freshly decoded, so mutate cannot touch a shared copy
		if err := mutate(&next); err != nil {
			return Run{}, err
		}
		if current.State.Final() && !next.State.Final() {
			return Run{}, fmt.Errorf("updating run %d: it is %s and cannot become %s again", id, current.State, next.State)
		}
		if !next.State.Active() && !next.State.Final() {
			return Run{}, fmt.Errorf("updating run %d: unknown state %q", id, next.State)
		}
		updated, err := s.writeRun(ctx, current, next)
		if errors.Is(err, errVersionConflict) {
			continue
		}
		if err != nil {
			return Run{}, s.failed(fmt.Sprintf("updating run %d", id), err)
		}
		return updated, nil
	}
}

// writeRun stores next if the run is still at current's version, and releases the run's
// lock in the same transaction when next is final.
func (s *SQL) writeRun(ctx context.Context, current, next Run) (Run, error) {
	steps, err := stepsValue(next.Steps)
	if err != nil {
		return Run{}, err
	}
	now := s.now()
	finishedAt := current.FinishedAt
	if next.State.Final() && finishedAt == nil {
		finishedAt = &now
	}
	var updated Run
	err = s.inTx(ctx, func(tx stmtTx) error {
		var err error
		updated, err = scanRun(tx.QueryRowContext(ctx, `UPDATE runs SET env = $3, state = $4, requested_by = $5,
			channel = $6, title = $7, data = $8, steps = $9, wake_at = $10, version = version + 1,
			updated_at = $11, finished_at = $12
			WHERE id = $1 AND version = $2
			RETURNING `+runColumns,
			current.ID, current.Version, next.Env, next.State, next.RequestedBy, next.Channel, next.Title,
			jsonValue(next.Data), steps, nullUnixNano(next.WakeAt), unixNano(now), nullUnixNano(finishedAt)))
		if errors.Is(err, sql.ErrNoRows) {
			return errVersionConflict
		}
		if err != nil || !next.State.Final() {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM locks WHERE run_id = $1`, current.ID)
		return err
	})
	return updated, err
}

// ListRuns returns the runs q selects, newest first.
func (s *SQL) ListRuns(ctx context.Context, q RunQuery) ([]Run, error) {
	var f filter
	if len(q.Kinds) > 0 {
		f.where(inList(&f, "kind", q.Kinds))
	}
	if q.Env != "" {
		f.where("env = " + f.arg(q.Env))
	}
	if len(q.States) > 0 {
		f.where(inList(&f, "state", q.States))
	}
	if q.Active {
		f.where(activeStates)
	}
	if !q.Since.IsZero() {
		f.where("created_at >= " + f.arg(unixNano(q.Since)))
	}
	if q.BeforeID > 0 {
		f.where("id < " + f.arg(q.BeforeID))
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	runs, err := queryAll(ctx, s.reader, scanRun,
		`SELECT `+runColumns+` FROM runs`+f.clause()+` ORDER BY id DESC LIMIT `+f.arg(limit), f.args...)
	if err != nil {
		return nil, s.failed("listing runs", err)
	}
	return runs, nil
}

// ClaimRuns leases the due runs nobody else holds, earliest wake first.
func (s *SQL) ClaimRuns(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]Run, error) {
	runs, err := queryAll(ctx, s.writer, scanRun, `UPDATE runs SET lease_owner = $1, lease_until = $2
		WHERE id IN (
			SELECT id FROM runs
			WHERE wake_at IS NOT NULL AND wake_at <= $3 AND (lease_until IS NULL OR lease_until <= $3)
			ORDER BY wake_at, id
			`+claimLimit+s.dialect.skipLocked+`
		)
		RETURNING `+runColumns,
		owner, unixNano(now.Add(lease)), unixNano(now), limit)
	if err != nil {
		return nil, s.failed("claiming runs", err)
	}
	slices.SortFunc(runs, func(a, b Run) int {
		if c := a.WakeAt.Compare(*b.WakeAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return runs, nil
}

// RenewLease extends owner's lease on a run.
func (s *SQL) RenewLease(ctx context.Context, runID int64, owner string, until time.Time) error {
	renewed, err := s.writer.ExecContext(ctx, `UPDATE runs SET lease_until = $3 WHERE id = $1 AND lease_owner = $2`,
		runID, owner, unixNano(until))
	if err == nil {
		err = leaseHeld(renewed)
	}
	if err != nil {
		return s.failed(fmt.Sprintf("renewing the lease of %s on run %d", owner, runID), err)
	}
	return nil
}

// leaseHeld turns "no row had the caller's lease" into ErrLeaseLost.
func leaseHeld(res sql.Result) error {
	n, err := res.RowsAffected()
	if err == nil && n == 0 {
		err = ErrLeaseLost
	}
	return err
}

// ReleaseLease gives up owner's lease on a run, if owner still has it.
func (s *SQL) ReleaseLease(ctx context.Context, runID int64, owner string) error {
	if _, err := s.writer.ExecContext(ctx, `UPDATE runs SET lease_owner = '', lease_until = NULL
		WHERE id = $1 AND lease_owner = $2`, runID, owner); err != nil {
		return s.failed(fmt.Sprintf("releasing the lease of %s on run %d", owner, runID), err)
	}
	return nil
}

// NextWake returns when the next run becomes claimable.
func (s *SQL) NextWake(ctx context.Context) (*time.Time, error) {
	var next sql.NullInt64
	if err := s.reader.QueryRowContext(ctx, `SELECT MIN(CASE WHEN lease_until > wake_at THEN lease_until ELSE wake_at END)
		FROM runs WHERE wake_at IS NOT NULL`).Scan(&next); err != nil {
		return nil, s.failed("finding the next wake-up", err)
	}
	return fromNullUnixNano(next), nil
}

// CountRuns counts runs in each state.
func (s *SQL) CountRuns(ctx context.Context) (map[RunState]int, error) {
	type stateCount struct {
		state RunState
		n     int
	}
	counts, err := queryAll(ctx, s.reader, func(row scanner) (c stateCount, err error) {
		return c, row.Scan(&c.state, &c.n)
	}, `SELECT state, COUNT(*) FROM runs GROUP BY state`)
	if err != nil {
		return nil, s.failed("counting runs", err)
	}
	byState := map[RunState]int{RunRunning: 0, RunWaiting: 0, RunSucceeded: 0, RunFailed: 0, RunCancelled: 0}
	for _, c := range counts {
		byState[c.state] = c.n
	}
	return byState, nil
}

const lockColumns = `locks.name, locks.run_id, runs.requested_by, locks.since`

// GetLock returns who holds a lock.
func (s *SQL) GetLock(ctx context.Context, name string) (Lock, error) {
	l, err := getLock(ctx, s.reader, name)
	if err != nil {
		return Lock{}, s.failed(fmt.Sprintf("getting lock %q", name), err)
	}
	return l, nil
}

func getLock(ctx context.Context, q querier, name string) (Lock, error) {
	var (
		l     Lock
		since int64
	)
	err := q.QueryRowContext(ctx, `SELECT `+lockColumns+` FROM locks JOIN runs ON runs.id = locks.run_id
		WHERE locks.name = $1`, name).Scan(&l.Name, &l.RunID, &l.HeldBy, &since)
	if errors.Is(err, sql.ErrNoRows) {
		return Lock{}, ErrNotFound
	}
	if err != nil {
		return Lock{}, err
	}
	l.Since = fromUnixNano(since)
	return l, nil
}
