package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/rs/zerolog"
	"modernc.org/sqlite" // also registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/opsbot-dev/opsbot/clock"
)

// Driver names the database behind a Store.
type Driver string

// The supported databases.
const (
	SQLite   Driver = "sqlite"   // one file, one replica; the default
	Postgres Driver = "postgres" // for several replicas
)

// DefaultSQLitePath is where the SQLite database lives when Config.DSN is empty.
const DefaultSQLitePath = "./opsbot.db"

const (
	// sqliteBusyTimeout is how long a write waits for another process (a second Store on the
	// same file, the sqlite3 shell) to finish its transaction before failing with SQLITE_BUSY.
	sqliteBusyTimeout = 5 * time.Second
	// sqliteReaders bounds the read pool; reads are short, so a few connections are enough
	// and keep the number of open file descriptors small.
	sqliteReaders = 4
	// postgresConns bounds each replica's pool so that several replicas stay well below
	// PostgreSQL's default max_connections of 100.
	postgresConns = 10
)

// Config says which database to open and what the store needs from its surroundings.
type Config struct {
	Driver Driver // SQLite when empty
	// DSN is, for SQLite, a file path or a "file:" URI (DefaultSQLitePath when empty); for
	// PostgreSQL, a URL or key=value connection string.
	DSN    string
	Clock  clock.Clock    // the store's "now" (CreatedAt, lock Since, ...); clock.Real when nil
	Logger zerolog.Logger // applied migrations are logged here; the zero Logger logs nothing
}

// SQL is the Store over database/sql, for SQLite and PostgreSQL.
type SQL struct {
	// writer takes every write. For SQLite it is a single connection, so writers queue in
	// database/sql instead of failing with SQLITE_BUSY. (A pool of _txlock=immediate
	// connections does not fail either, but leaves the queueing to SQLite's sleep-and-retry
	// busy handler: under 32 concurrent writers its slowest transaction took 150-340 ms
	// against 13-40 ms here, for the same throughput.) For PostgreSQL it is the pool.
	writer *stmtDB
	// reader serves reads. For SQLite it is a pool of query_only connections, which WAL lets
	// read while the writer writes; for PostgreSQL it is the same pool as writer.
	reader  *stmtDB
	dialect dialect
	clock   clock.Clock
	log     zerolog.Logger
}

var _ Store = (*SQL)(nil)

// Open connects to the database, brings its schema up to date (see Migrate) and returns the
// store. Errors from an unreachable, read-only or full database wrap ErrUnavailable.
func Open(ctx context.Context, cfg Config) (*SQL, error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	s := &SQL{clock: cfg.Clock, log: cfg.Logger}
	var err error
	switch cfg.Driver {
	case SQLite, "":
		err = s.openSQLite(cfg.DSN)
	case Postgres:
		err = s.openPostgres(cfg.DSN)
	default:
		return nil, fmt.Errorf("opening store: unknown driver %q (want %q or %q)", cfg.Driver, SQLite, Postgres)
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s store: %w", s.dialect.name, err)
	}
	if err := s.firstPing(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("opening %s store: %w", s.dialect.name, err), s.Close())
	}
	if err := s.Migrate(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("opening %s store: %w", s.dialect.name, err), s.Close())
	}
	return s, nil
}

// firstPing connects for the first time. Processes that open one new SQLite file together race
// to switch it to WAL, and the losers get SQLITE_BUSY at once: busy_timeout does not cover a
// journal-mode change. So a busy first ping is tried again for a few seconds.
func (s *SQL) firstPing(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		err := s.Ping(ctx)
		var e *sqlite.Error
		if err == nil || attempt == 50 || !errors.As(err, &e) || e.Code()&0xff != sqlite3.SQLITE_BUSY {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *SQL) openSQLite(dsn string) error {
	s.dialect = sqliteDialect
	if dsn == "" {
		dsn = DefaultSQLitePath
	}
	if !strings.HasPrefix(dsn, "file:") {
		// In a SQLite URI only these three characters of a path need escaping.
		dsn = "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(dsn)
	}
	separator := "?"
	if strings.Contains(dsn, "?") {
		separator = "&"
	}
	busyTimeout := fmt.Sprintf("_pragma=busy_timeout(%d)", sqliteBusyTimeout.Milliseconds())
	// _txlock=immediate takes the write lock at BEGIN: a transaction that read first and
	// upgraded later could fail with SQLITE_BUSY_SNAPSHOT when another process wrote meanwhile.
	writer, err := sql.Open("sqlite", dsn+separator+busyTimeout+
		"&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return err
	}
	writer.SetMaxOpenConns(1)
	reader, err := sql.Open("sqlite", dsn+separator+busyTimeout+"&_pragma=query_only(1)")
	if err != nil {
		return errors.Join(err, writer.Close())
	}
	reader.SetMaxOpenConns(sqliteReaders)
	s.writer, s.reader = newStmtDB(writer, true), newStmtDB(reader, true)
	return nil
}

func (s *SQL) openPostgres(dsn string) error {
	s.dialect = postgresDialect
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	db.SetMaxOpenConns(postgresConns)
	cached := newStmtDB(db, false)
	s.writer, s.reader = cached, cached
	return nil
}

// Ping reports whether the database answers.
func (s *SQL) Ping(ctx context.Context) error {
	if err := s.writer.PingContext(ctx); err != nil {
		return s.failed("pinging the database", err)
	}
	return nil
}

// Close releases the database.
func (s *SQL) Close() error {
	if s.reader == s.writer {
		return s.writer.Close()
	}
	return errors.Join(s.reader.Close(), s.writer.Close())
}

// failed wraps err with what the store was doing, marking it ErrUnavailable when the driver
// says the database is unreachable, read-only or full.
func (s *SQL) failed(doing string, err error) error {
	if s.dialect.unavailable(err) {
		return fmt.Errorf("%s: %w: %w", doing, ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// inTx runs fn in a write transaction, committing if fn returns nil. fn's error is returned
// as is, so that callers can return their own sentinel errors from inside it.
func (s *SQL) inTx(ctx context.Context, fn func(tx stmtTx) error) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	var missed []string
	defer func() {
		// Prepared now that the connection is free, for the next transaction to reuse.
		for _, query := range missed {
			_, _ = s.writer.stmt(ctx, query)
		}
	}()
	if err := fn(stmtTx{Tx: tx, db: s.writer, missed: &missed}); err != nil {
		_ = tx.Rollback() // fn's error is the one worth reporting
		return err
	}
	return tx.Commit()
}

// now is the store's clock, in UTC and without a monotonic reading, so that a time the store
// returns compares equal to the same time read back from the database.
func (s *SQL) now() time.Time {
	return s.clock.Now().UTC().Round(0)
}

// querier is what the store's handle (stmtDB) and its transactions (stmtTx) have in common.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface {
	Scan(dest ...any) error
}

// queryAll runs a query and scans every row with scan.
func queryAll[T any](ctx context.Context, q querier, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var all []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		all = append(all, v)
	}
	return all, rows.Err()
}

// Times are stored as Unix nanoseconds in both databases: integers compare, order and index
// the same way everywhere, and a time reads back exactly as it was written.

func unixNano(t time.Time) int64 { return t.UnixNano() }

func nullUnixNano(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}
}

func fromUnixNano(n int64) time.Time { return time.Unix(0, n).UTC() }

func fromNullUnixNano(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromUnixNano(n.Int64)
	return &t
}

// jsonValue stores a JSON document as text, or NULL when there is none.
func jsonValue(doc []byte) any {
	if len(doc) == 0 {
		return nil
	}
	return string(doc)
}

// nullString stores an optional unique key: NULL never collides in a unique index.
func nullString(s string) sql.NullString {
	return sql.NullString{String: s, Valid: s != ""}
}

// filter builds a WHERE clause with numbered placeholders.
type filter struct {
	conds []string
	args  []any
}

// arg adds an argument and returns its placeholder.
func (f *filter) arg(v any) string {
	f.args = append(f.args, v)
	return fmt.Sprintf("$%d", len(f.args))
}

func (f *filter) where(cond string) { f.conds = append(f.conds, cond) }

func (f *filter) clause() string {
	if len(f.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(f.conds, " AND ")
}

// inList adds one argument per value and returns "col IN (...)".
func inList[T any](f *filter, column string, values []T) string {
	placeholders := make([]string, len(values))
	for i, v := range values {
		placeholders[i] = f.arg(v)
	}
	return column + " IN (" + strings.Join(placeholders, ", ") + ")"
}
