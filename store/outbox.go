package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"
)

// outboxColumns ends with the thread parent's TS, looked up rather than stored, so that it is
// current whenever a message is read.
const outboxColumns = `id, key, op, upsert, channel, user_id, response_url, thread_of, text, blocks, state, ts,
	attempts, next_at, last_error, created_at, sent_at, revision, lease_owner, lease_until,
	COALESCE((SELECT parent.ts FROM outbox AS parent WHERE parent.key = outbox.thread_of), '')`

func scanOutbox(row scanner) (OutboxMessage, error) {
	var (
		m                  OutboxMessage
		blocks             []byte
		nextAt, createdAt  int64
		sentAt, leaseUntil sql.NullInt64
	)
	if err := row.Scan(&m.ID, &m.Key, &m.Op, &m.Upsert, &m.Channel, &m.User, &m.ResponseURL, &m.ThreadOf, &m.Text, &blocks,
		&m.State, &m.TS, &m.Attempts, &nextAt, &m.LastError, &createdAt, &sentAt, &m.Revision,
		&m.LeaseOwner, &leaseUntil, &m.ThreadTS); err != nil {
		return OutboxMessage{}, err
	}
	m.Blocks = blocks
	m.NextAt = fromUnixNano(nextAt)
	m.CreatedAt = fromUnixNano(createdAt)
	m.SentAt = fromNullUnixNano(sentAt)
	m.LeaseUntil = fromNullUnixNano(leaseUntil)
	return m, nil
}

// Enqueue adds a message, or replaces an upsert's content when it changed.
func (s *SQL) Enqueue(ctx context.Context, m OutboxMessage) (OutboxMessage, error) {
	if err := checkSendable(m); err != nil {
		return OutboxMessage{}, err
	}
	var stored OutboxMessage
	err := s.inTx(ctx, func(tx stmtTx) error {
		var err error
		stored, err = s.enqueue(ctx, tx, m)
		return err
	})
	if err != nil {
		return OutboxMessage{}, s.failed(fmt.Sprintf("enqueuing %q", m.Key), err)
	}
	return stored, nil
}

// EnqueueAll is Enqueue for several messages, in one transaction: a note to a hundred
// stakeholder channels is one commit (and one fsync), not a hundred.
func (s *SQL) EnqueueAll(ctx context.Context, msgs ...OutboxMessage) error {
	if len(msgs) == 0 {
		return nil
	}
	for _, m := range msgs {
		if err := checkSendable(m); err != nil {
			return err
		}
	}
	err := s.inTx(ctx, func(tx stmtTx) error {
		for _, m := range msgs {
			if _, err := s.enqueue(ctx, tx, m); err != nil {
				return fmt.Errorf("enqueuing %q: %w", m.Key, err)
			}
		}
		return nil
	})
	if err != nil {
		return s.failed(fmt.Sprintf("enqueuing %d outbox messages", len(msgs)), err)
	}
	return nil
}

// checkSendable refuses a message the outbox worker could never send.
func checkSendable(m OutboxMessage) error {
	switch {
	case m.Key == "" || m.Channel == "":
		return fmt.Errorf("enqueuing %q: need a key and a channel", m.Key)
	case m.Op != OpPost && m.Op != OpEphemeral:
		return fmt.Errorf("enqueuing %q: unknown operation %q", m.Key, m.Op)
	case m.Op == OpEphemeral && m.User == "":
		return fmt.Errorf("enqueuing %q: an ephemeral message needs a user", m.Key)
	case m.Op == OpPost && (m.User != "" || m.ResponseURL != ""):
		// A post is seen by the whole channel; its lane (ClaimOutbox) is the channel's posts.
		return fmt.Errorf("enqueuing %q: only an ephemeral message is for one user", m.Key)
	}
	return nil
}

// enqueue is Enqueue inside the transaction tx.
func (s *SQL) enqueue(ctx context.Context, tx stmtTx, m OutboxMessage) (OutboxMessage, error) {
	now := s.now()
	if m.NextAt.IsZero() {
		m.NextAt = now
	}
	if m.ThreadOf != "" {
		// A reply to a message that does not exist would wait for its TS forever and hold up
		// every later message to its channel.
		var exists bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM outbox WHERE key = $1)`,
			m.ThreadOf).Scan(&exists); err != nil {
			return OutboxMessage{}, err
		}
		if !exists {
			return OutboxMessage{}, fmt.Errorf("thread parent %q: %w", m.ThreadOf, ErrNotFound)
		}
	}
	stored, err := scanOutbox(tx.QueryRowContext(ctx, `INSERT INTO outbox (key, op, upsert, channel, user_id,
		thread_of, text, blocks, state, ts, attempts, next_at, last_error, created_at, revision, lease_owner, response_url)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', '', 0, $9, '', $10, 1, '', $11)
		ON CONFLICT (key) DO UPDATE SET text = excluded.text, blocks = excluded.blocks,
			revision = outbox.revision + 1, state = 'pending', attempts = 0, last_error = ''
		WHERE excluded.upsert AND (outbox.text <> excluded.text OR outbox.blocks IS DISTINCT FROM excluded.blocks)
		RETURNING `+outboxColumns,
		m.Key, m.Op, m.Upsert, m.Channel, m.User, m.ThreadOf, m.Text, jsonValue(m.Blocks),
		unixNano(m.NextAt), unixNano(now), m.ResponseURL))
	if errors.Is(err, sql.ErrNoRows) { // the key exists and stays as it is
		return getOutbox(ctx, tx, m.Key)
	}
	return stored, err
}

// GetOutbox returns a message by key.
func (s *SQL) GetOutbox(ctx context.Context, key string) (OutboxMessage, error) {
	m, err := getOutbox(ctx, s.reader, key)
	if err != nil {
		return OutboxMessage{}, s.failed(fmt.Sprintf("getting outbox message %q", key), err)
	}
	return m, nil
}

func getOutbox(ctx context.Context, q querier, key string) (OutboxMessage, error) {
	m, err := scanOutbox(q.QueryRowContext(ctx, `SELECT `+outboxColumns+` FROM outbox WHERE key = $1`, key))
	if errors.Is(err, sql.ErrNoRows) {
		return OutboxMessage{}, ErrNotFound
	}
	return m, err
}

// ClaimOutbox leases the messages that may be sent now, lowest ID first: due, not leased by
// anyone else, with a posted thread parent, and first in their lane unless already posted. A
// post's lane is its channel's posts (a post names no user); an ephemeral's is the replies to
// the same person in the same channel, so that a backlog of replies paced by Slack holds up
// no card or update.
func (s *SQL) ClaimOutbox(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]OutboxMessage, error) {
	// ORDER BY +m.id, not m.id: SQLite would walk the whole table in ID order, every message
	// ever sent included (31 ms a claim at 100,000 of them, BenchmarkClaimOutbox), rather than
	// read the pending ones' index.
	claimed, err := queryAll(ctx, s.writer, scanOutbox, `UPDATE outbox
		SET lease_owner = $1, lease_until = $2, attempts = attempts + 1
		WHERE id IN (
			SELECT id FROM outbox AS m
			WHERE m.state = 'pending' AND m.next_at <= $3 AND (m.lease_until IS NULL OR m.lease_until <= $3)
				AND (m.thread_of = '' OR EXISTS (
					SELECT 1 FROM outbox AS parent WHERE parent.key = m.thread_of AND parent.ts <> ''))
				AND (m.ts <> '' OR NOT EXISTS (
					SELECT 1 FROM outbox AS earlier
					WHERE earlier.channel = m.channel AND earlier.op = m.op AND earlier.user_id = m.user_id
						AND earlier.state = 'pending' AND earlier.ts = '' AND earlier.id < m.id))
			ORDER BY +m.id
			`+claimLimit+s.dialect.skipLocked+`
		)
		RETURNING `+outboxColumns,
		owner, unixNano(now.Add(lease)), unixNano(now), limit)
	if err != nil {
		return nil, s.failed("claiming outbox messages", err)
	}
	slices.SortFunc(claimed, func(a, b OutboxMessage) int { return cmp.Compare(a.ID, b.ID) })
	return claimed, nil
}

// completeOutbox marks a message sent, unless a newer revision arrived while it was sent.
const completeOutbox = `UPDATE outbox
	SET state = CASE WHEN revision = $3 THEN 'sent' ELSE 'pending' END,
		ts = $4, sent_at = $5, last_error = '', lease_owner = '', lease_until = NULL
	WHERE id = $1 AND lease_owner = $2`

// CompleteOutbox records sends, several in one transaction: a commit (and its fsync) per
// message was most of what a reply cost once replies went out as fast as they were asked for.
func (s *SQL) CompleteOutbox(ctx context.Context, owner string, at time.Time, sent ...OutboxReceipt) error {
	var lost []int64
	complete := func(ctx context.Context, q querier, m OutboxReceipt) error {
		res, err := q.ExecContext(ctx, completeOutbox, m.ID, owner, m.Revision, m.TS, unixNano(at))
		if err == nil {
			err = leaseHeld(res)
		}
		if errors.Is(err, ErrLeaseLost) {
			lost = append(lost, m.ID)
			return nil
		}
		return err
	}
	var err error
	switch len(sent) {
	case 0:
		return nil
	case 1: // one statement, without BEGIN and COMMIT around it
		err = complete(ctx, s.writer, sent[0])
	default:
		err = s.inTx(ctx, func(tx stmtTx) error {
			for _, m := range sent {
				if err := complete(ctx, tx, m); err != nil {
					return err
				}
			}
			return nil
		})
	}
	switch {
	case err != nil:
		return s.failed(fmt.Sprintf("completing %d outbox messages", len(sent)), err)
	case len(lost) > 0:
		return fmt.Errorf("completing outbox messages %v: %w", lost, ErrLeaseLost)
	}
	return nil
}

// RetryOutbox puts a claimed message back until next.
func (s *SQL) RetryOutbox(ctx context.Context, id int64, owner string, next time.Time, lastErr string) error {
	retried, err := s.writer.ExecContext(ctx, `UPDATE outbox
		SET next_at = $3, last_error = $4, lease_owner = '', lease_until = NULL
		WHERE id = $1 AND lease_owner = $2`, id, owner, unixNano(next), lastErr)
	if err == nil {
		err = leaseHeld(retried)
	}
	if err != nil {
		return s.failed(fmt.Sprintf("retrying outbox message %d", id), err)
	}
	return nil
}

// KillOutbox marks a claimed message dead, and its pending replies if it was never posted.
func (s *SQL) KillOutbox(ctx context.Context, id int64, owner string, lastErr string) error {
	err := s.inTx(ctx, func(tx stmtTx) error {
		var key, ts string
		err := tx.QueryRowContext(ctx, `UPDATE outbox
			SET state = 'dead', last_error = $3, lease_owner = '', lease_until = NULL
			WHERE id = $1 AND lease_owner = $2
			RETURNING key, ts`, id, owner, lastErr).Scan(&key, &ts)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrLeaseLost
		}
		if err != nil || ts != "" {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE outbox SET state = 'dead', last_error = $2
			WHERE thread_of = $1 AND state = 'pending'`, key, fmt.Sprintf("thread parent %q is dead: %s", key, lastErr))
		return err
	})
	if err != nil {
		return s.failed(fmt.Sprintf("killing outbox message %d", id), err)
	}
	return nil
}

// OutboxStats counts pending messages and finds the earliest NextAt among them.
func (s *SQL) OutboxStats(ctx context.Context) (pending int, nextDue *time.Time, err error) {
	var next sql.NullInt64
	if err := s.reader.QueryRowContext(ctx, `SELECT COUNT(*), MIN(next_at) FROM outbox WHERE state = 'pending'`).
		Scan(&pending, &next); err != nil {
		return 0, nil, s.failed("reading outbox stats", err)
	}
	return pending, fromNullUnixNano(next), nil
}
