package store

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// dialect holds the few things SQLite and PostgreSQL do differently. Queries are shared:
// both accept $n placeholders, ON CONFLICT upserts and RETURNING; the schema migrations
// differ where the DDL must (see migrations/).
type dialect struct {
	name string
	// skipLocked ends the subquery that picks runs or messages to claim. PostgreSQL locks the
	// picked rows and skips those another replica is claiming right now; SQLite needs
	// nothing, its single writer connection already serializes claims.
	skipLocked string
	// lockMigrations keeps other processes from migrating until unlock is called.
	lockMigrations func(ctx context.Context, conn *sql.Conn) (unlock func() error, err error)
	// unavailable reports whether a driver error means that the database cannot be reached
	// or refuses writes (read-only, full), as opposed to a fault in the request.
	unavailable func(err error) bool
}

var sqliteDialect = dialect{
	name:       "sqlite",
	skipLocked: "",
	// Each migration runs in a BEGIN IMMEDIATE transaction (the writer's _txlock) that
	// re-reads the schema version first, so SQLite's write lock is the migration lock.
	lockMigrations: func(context.Context, *sql.Conn) (func() error, error) {
		return func() error { return nil }, nil
	},
	unavailable: func(err error) bool {
		var e *sqlite.Error
		if !errors.As(err, &e) {
			return false
		}
		switch e.Code() & 0xff { // the primary result code; extended codes add detail above it
		case sqlite3.SQLITE_BUSY, // another process kept the database locked past busy_timeout
			sqlite3.SQLITE_CANTOPEN,
			sqlite3.SQLITE_FULL,
			sqlite3.SQLITE_IOERR,
			sqlite3.SQLITE_PERM,
			sqlite3.SQLITE_READONLY:
			return true
		}
		return false
	},
}

// migrationLockKey is the pg_advisory_lock key for migrations: "opsbot" in ASCII.
const migrationLockKey int64 = 0x6f7073626f74

var postgresDialect = dialect{
	name:       "postgres",
	skipLocked: " FOR UPDATE SKIP LOCKED",
	lockMigrations: func(ctx context.Context, conn *sql.Conn) (func() error, error) {
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrationLockKey); err != nil {
			return nil, err
		}
		return func() error {
			// Not ctx: the lock must be released even when the migration was cancelled.
			_, err := conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, migrationLockKey)
			return err
		}, nil
	},
	unavailable: func(err error) bool {
		var connectErr *pgconn.ConnectError
		if errors.As(err, &connectErr) {
			return true
		}
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			// SQLSTATE: a two-character class, then the condition.
			code := pgErr.Code
			return strings.HasPrefix(code, "08") || // connection exception
				strings.HasPrefix(code, "53") || // insufficient resources: disk full, out of memory, too many connections
				strings.HasPrefix(code, "58") || // system error: I/O error
				strings.HasPrefix(code, "57P") || // shutting down, starting up
				code == "25006" // read_only_sql_transaction: connected to a standby
		}
		var netErr net.Error // the connection broke mid-query
		return errors.As(err, &netErr)
	},
}
