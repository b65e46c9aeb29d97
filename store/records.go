package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// This file holds the append-only records: the audit log, run events and the keys of the
// envelopes already delivered.

// insertDelivery records a delivery's key unless it is recorded already.
const insertDelivery = `INSERT INTO deliveries (key, at) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING`

// FirstDelivery records key and reports whether it was new.
func (s *SQL) FirstDelivery(ctx context.Context, key string, at time.Time) (bool, error) {
	first, err := recordDelivery(ctx, s.writer, key, at)
	if err != nil {
		return false, s.failed(fmt.Sprintf("recording delivery %q", key), err)
	}
	return first, nil
}

// recordDelivery records key with q and reports whether it was new.
func recordDelivery(ctx context.Context, q querier, key string, at time.Time) (bool, error) {
	recorded, err := q.ExecContext(ctx, insertDelivery, key, unixNano(at))
	if err != nil {
		return false, err
	}
	n, err := recorded.RowsAffected()
	return n == 1, err
}

// errSeen aborts FinishDelivery's transaction when the delivery's key is recorded already.
var errSeen = errors.New("delivery recorded already")

// FinishDelivery writes a delivery's key (if given), audit entry and reply in one transaction:
// one commit, and so one fsync, for the whole answer to a command.
func (s *SQL) FinishDelivery(ctx context.Context, d DeliveryRecord) (bool, error) {
	if d.Reply != nil {
		if err := checkSendable(*d.Reply); err != nil {
			return false, err
		}
	}
	if d.At.IsZero() {
		d.At = s.now()
	}
	if d.Audit.At.IsZero() {
		d.Audit.At = d.At
	}
	err := s.inTx(ctx, func(tx stmtTx) error {
		if d.Key != "" {
			first, err := recordDelivery(ctx, tx, d.Key, d.At)
			if err != nil {
				return err
			}
			if !first {
				return errSeen
			}
		}
		e := d.Audit
		if _, err := tx.ExecContext(ctx, insertAudit,
			unixNano(e.At), e.Actor, e.Action, e.RunID, e.Outcome, e.Detail); err != nil {
			return err
		}
		if d.Reply != nil {
			if _, err := s.enqueue(ctx, tx, *d.Reply); err != nil {
				return err
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, errSeen):
		return false, nil
	case err != nil:
		return false, s.failed(fmt.Sprintf("recording the outcome of %q", d.Audit.Action), err)
	}
	return true, nil
}

const auditColumns = `id, at, actor, action, run_id, outcome, detail`

// insertAudit appends an audit entry.
const insertAudit = `INSERT INTO audit (at, actor, action, run_id, outcome, detail) VALUES ($1, $2, $3, $4, $5, $6)`

func scanAudit(row scanner) (AuditEntry, error) {
	var (
		e  AuditEntry
		at int64
	)
	if err := row.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.RunID, &e.Outcome, &e.Detail); err != nil {
		return AuditEntry{}, err
	}
	e.At = fromUnixNano(at)
	return e, nil
}

// AppendAudit adds an entry to the audit log; a zero At means now.
func (s *SQL) AppendAudit(ctx context.Context, e AuditEntry) (AuditEntry, error) {
	if e.At.IsZero() {
		e.At = s.now()
	}
	stored, err := scanAudit(s.writer.QueryRowContext(ctx, insertAudit+` RETURNING `+auditColumns,
		unixNano(e.At), e.Actor, e.Action, e.RunID, e.Outcome, e.Detail))
	if err != nil {
		return AuditEntry{}, s.failed("appending to the audit log", err)
	}
	return stored, nil
}

// ListAudit returns the entries q selects, newest first.
func (s *SQL) ListAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, error) {
	var f filter
	if q.Actor != "" {
		f.where("actor = " + f.arg(q.Actor))
	}
	if q.RunID != 0 {
		f.where("run_id = " + f.arg(q.RunID))
	}
	if !q.Since.IsZero() {
		f.where("at >= " + f.arg(unixNano(q.Since)))
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	entries, err := queryAll(ctx, s.reader, scanAudit,
		`SELECT `+auditColumns+` FROM audit`+f.clause()+` ORDER BY id DESC LIMIT `+f.arg(limit), f.args...)
	if err != nil {
		return nil, s.failed("listing the audit log", err)
	}
	return entries, nil
}

const runEventColumns = `id, run_id, at, kind, actor, text, key, data`

func scanRunEvent(row scanner) (RunEvent, error) {
	var (
		e    RunEvent
		at   int64
		key  sql.NullString
		data []byte
	)
	if err := row.Scan(&e.ID, &e.RunID, &at, &e.Kind, &e.Actor, &e.Text, &key, &data); err != nil {
		return RunEvent{}, err
	}
	e.At = fromUnixNano(at)
	e.Key = key.String
	e.Data = data
	return e, nil
}

// AppendRunEvent adds an event to a run once per Key; a zero At means now.
func (s *SQL) AppendRunEvent(ctx context.Context, e RunEvent) (RunEvent, bool, error) {
	if e.At.IsZero() {
		e.At = s.now()
	}
	stored, err := scanRunEvent(s.writer.QueryRowContext(ctx, `INSERT INTO run_events (run_id, at, kind, actor, text, key, data)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (run_id, key) DO NOTHING
		RETURNING `+runEventColumns,
		e.RunID, unixNano(e.At), e.Kind, e.Actor, e.Text, nullString(e.Key), jsonValue(e.Data)))
	if err == nil {
		return stored, true, nil
	}
	if errors.Is(err, sql.ErrNoRows) { // the key is recorded already
		stored, err = scanRunEvent(s.reader.QueryRowContext(ctx, `SELECT `+runEventColumns+` FROM run_events
			WHERE run_id = $1 AND key = $2`, e.RunID, e.Key))
		if err == nil {
			return stored, false, nil
		}
	}
	return RunEvent{}, false, s.failed(fmt.Sprintf("appending an event to run %d", e.RunID), err)
}

// ListRunEvents returns a run's events in order.
func (s *SQL) ListRunEvents(ctx context.Context, runID int64) ([]RunEvent, error) {
	events, err := queryAll(ctx, s.reader, scanRunEvent, `SELECT `+runEventColumns+` FROM run_events
		WHERE run_id = $1 ORDER BY at, id`, runID)
	if err != nil {
		return nil, s.failed(fmt.Sprintf("listing the events of run %d", runID), err)
	}
	return events, nil
}
