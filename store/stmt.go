package store

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// stmtDB is a database handle that prepares each distinct query once and reuses it. SQLite
// otherwise parses every statement on every call: under a flood of commands that parsing was
// the largest share of opsbot's CPU after the acks (BENCHMARKS.md). database/sql prepares a
// statement lazily on each connection that runs it and keeps it there.
type stmtDB struct {
	*sql.DB
	// detach runs statements without their caller's cancellation (see statementContext).
	detach bool
	mu     sync.Mutex
	stmts  map[string]*sql.Stmt
}

func newStmtDB(db *sql.DB, detach bool) *stmtDB {
	return &stmtDB{DB: db, detach: detach, stmts: map[string]*sql.Stmt{}}
}

// statementContext is the context a statement runs with: ctx, or for SQLite (detach) ctx
// without its cancellation, once ctx is known not to have ended. For a context that can end,
// modernc's driver starts a goroutine per statement to interrupt it, and database/sql one per
// result set to close it: thousands a second under `opsbot bench ack`, each scheduled twice,
// to guard statements that run in-process for a millisecond. PostgreSQL keeps ctx: a network
// can hang.
func (d *stmtDB) statementContext(ctx context.Context) (context.Context, error) {
	if !d.detach {
		return ctx, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return context.WithoutCancel(ctx), nil
}

// stmt returns query's prepared statement, preparing it if needed. The lock is not held while
// preparing: that waits for a free connection, and a transaction holding one must still be
// able to look statements up (cached) meanwhile.
func (d *stmtDB) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := d.cached(query); ok {
		return st, nil
	}
	st, err := d.DB.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stmts == nil {
		_ = st.Close()
		return nil, sql.ErrConnDone // the store was closed meanwhile
	}
	if first, ok := d.stmts[query]; ok {
		_ = st.Close() // another goroutine prepared it meanwhile
		return first, nil
	}
	d.stmts[query] = st
	return st, nil
}

func (d *stmtDB) cached(query string) (*sql.Stmt, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st, ok := d.stmts[query]
	return st, ok
}

// ExecContext runs query with its prepared statement.
func (d *stmtDB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx, err := d.statementContext(ctx)
	if err != nil {
		return nil, err
	}
	st, err := d.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// QueryContext runs query with its prepared statement.
func (d *stmtDB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx, err := d.statementContext(ctx)
	if err != nil {
		return nil, err
	}
	st, err := d.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// QueryRowContext runs query with its prepared statement. A statement that cannot be prepared,
// or whose caller has gone, runs unprepared, so that its error reaches the caller through the
// row, as usual.
func (d *stmtDB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	sctx, err := d.statementContext(ctx)
	if err != nil {
		return d.DB.QueryRowContext(ctx, query, args...)
	}
	st, err := d.stmt(sctx, query)
	if err != nil {
		return d.DB.QueryRowContext(sctx, query, args...)
	}
	return st.QueryRowContext(sctx, args...)
}

// Close closes the statements, then the database.
func (d *stmtDB) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []error
	for _, st := range d.stmts {
		errs = append(errs, st.Close())
	}
	d.stmts = nil
	return errors.Join(append(errs, d.DB.Close())...)
}

// claimLimit ends the subquery of a claim. Its bound, $4, is the room the claimer has left, so it
// changes from one claim to the next. SQLite plans a bare "LIMIT $4" with the value bound at the
// time and so prepares the whole statement again whenever a different one is bound: under
// `opsbot bench ack` that was 13 % of opsbot's CPU (BENCHMARKS.md). With the cast, the limit is
// an expression read as the statement runs, and the prepared plan is kept.
const claimLimit = "LIMIT CAST($4 AS INTEGER)"

// stmtTx is a transaction that runs the handle's prepared statements. A query not prepared yet
// runs as it is — preparing it now would wait for the connection this transaction holds (the
// SQLite writer has one) — and is prepared once the transaction has ended.
type stmtTx struct {
	*sql.Tx
	db     *stmtDB
	missed *[]string
}

// ExecContext runs query in the transaction, prepared if it has been before.
func (t stmtTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx, err := t.db.statementContext(ctx)
	if err != nil {
		return nil, err
	}
	if st, ok := t.prepared(query); ok {
		return t.Tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return t.Tx.ExecContext(ctx, query, args...)
}

// QueryContext runs query in the transaction, prepared if it has been before.
func (t stmtTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx, err := t.db.statementContext(ctx)
	if err != nil {
		return nil, err
	}
	if st, ok := t.prepared(query); ok {
		return t.Tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return t.Tx.QueryContext(ctx, query, args...)
}

// QueryRowContext runs query in the transaction, prepared if it has been before.
func (t stmtTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	sctx, err := t.db.statementContext(ctx)
	if err != nil {
		return t.Tx.QueryRowContext(ctx, query, args...) // the row carries ctx's error
	}
	if st, ok := t.prepared(query); ok {
		return t.Tx.StmtContext(sctx, st).QueryRowContext(sctx, args...)
	}
	return t.Tx.QueryRowContext(sctx, query, args...)
}

func (t stmtTx) prepared(query string) (*sql.Stmt, bool) {
	st, ok := t.db.cached(query)
	if !ok {
		*t.missed = append(*t.missed, query)
	}
	return st, ok
}
