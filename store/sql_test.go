package store_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/clock"
	"github.com/opsbot-dev/opsbot/store"
	"github.com/opsbot-dev/opsbot/store/storetest"
)

func TestSQLite(t *testing.T) {
	t.Parallel()
	storetest.Run(t, newSQLiteDatabase)
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	postgresDSN(t)
	storetest.Run(t, newPostgresDatabase)
}

// newSQLiteDatabase gives each test its own database file.
func newSQLiteDatabase(t *testing.T) storetest.OpenFunc {
	path := filepath.Join(t.TempDir(), "opsbot.db")
	return func(clk clock.Clock) store.Store {
		return openStore(t, store.Config{Driver: store.SQLite, DSN: path, Clock: clk})
	}
}

// newPostgresDatabase gives each test its own schema.
func newPostgresDatabase(t *testing.T) storetest.OpenFunc {
	dsn := newPostgresSchema(t)
	return func(clk clock.Clock) store.Store {
		return openStore(t, store.Config{Driver: store.Postgres, DSN: dsn, Clock: clk})
	}
}

func openStore(t testing.TB, cfg store.Config) *store.SQL {
	t.Helper()
	s, err := store.Open(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// postgresDSN returns the test server's URL, or skips the test when there is none.
func postgresDSN(t testing.TB) string {
	dsn := os.Getenv("OPSBOT_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("OPSBOT_TEST_POSTGRES_DSN is not set; set it to a PostgreSQL URL to run these tests, " +
			"e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	}
	return dsn
}

// newPostgresSchema creates an empty schema that is dropped when the test ends, and returns
// a DSN whose search_path points at it.
func newPostgresSchema(t testing.TB) string {
	dsn := postgresDSN(t)
	admin, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	schema := "opsbot_test_" + strings.ToLower(rand.Text())
	_, err = admin.ExecContext(t.Context(), `CREATE SCHEMA `+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := admin.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
		require.NoError(t, err)
		require.NoError(t, admin.Close())
	})
	u, err := url.Parse(dsn)
	require.NoError(t, err, "OPSBOT_TEST_POSTGRES_DSN must be a URL")
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func TestMigrations(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		config func(t *testing.T) store.Config
	}{
		{"SQLite", func(t *testing.T) store.Config {
			return store.Config{Driver: store.SQLite, DSN: filepath.Join(t.TempDir(), "opsbot.db")}
		}},
		{"Postgres", func(t *testing.T) store.Config {
			return store.Config{Driver: store.Postgres, DSN: newPostgresSchema(t)}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := tc.config(t)
			const replicas = 4
			opened := make([]*store.SQL, replicas)
			errs := make([]error, replicas)
			start := make(chan struct{})
			done := make(chan int)
			for i := range replicas {
				go func() {
					<-start
					opened[i], errs[i] = store.Open(t.Context(), cfg)
					done <- i
				}()
			}
			close(start) // replicas starting together on an empty database
			for range replicas {
				i := <-done
				require.NoError(t, errs[i], "replica %d", i)
				t.Cleanup(func() { require.NoError(t, opened[i].Close()) })
			}

			current, latest, err := opened[0].SchemaVersion(t.Context())
			require.NoError(t, err)
			require.Positive(t, latest)
			require.Equal(t, latest, current)
			require.NoError(t, opened[1].Migrate(t.Context()), "migrating an up-to-date schema is harmless")
			current, _, err = opened[1].SchemaVersion(t.Context())
			require.NoError(t, err)
			require.Equal(t, latest, current)
		})
	}
}

func TestSQLiteUnavailable(t *testing.T) {
	t.Parallel()

	t.Run("MissingDirectory", func(t *testing.T) {
		t.Parallel()
		_, err := store.Open(t.Context(), store.Config{DSN: filepath.Join(t.TempDir(), "missing", "opsbot.db")})
		require.ErrorIs(t, err, store.ErrUnavailable)
	})

	// Each write is refused on a read-only file, and the database is as it was before.
	t.Run("ReadOnlyFile", func(t *testing.T) {
		t.Parallel()
		path, before := seedSQLite(t)
		// mode=ro is what SQLite falls back to when it cannot open the file for writing; a
		// chmod would not do here, since tests may run as root.
		readOnly := openStore(t, store.Config{DSN: "file:" + path + "?mode=ro"})
		ctx := t.Context()
		for _, tc := range []struct {
			name  string
			write func() error
		}{
			{"CreateRun", func() error {
				r := before
				r.Key, r.LockName = "deploy:other", "env:staging"
				_, err := readOnly.CreateRun(ctx, r)
				return err
			}},
			{"UpdateRun", func() error {
				_, err := readOnly.UpdateRun(ctx, before.ID, func(r *store.Run) error {
					r.State = store.RunSucceeded
					return nil
				})
				return err
			}},
			{"ClaimRuns", func() error {
				_, err := readOnly.ClaimRuns(ctx, "replica-a", time.Now(), time.Minute, 10)
				return err
			}},
			{"Enqueue", func() error {
				_, err := readOnly.Enqueue(ctx, store.OutboxMessage{Key: "m", Op: store.OpPost, Channel: "C1"})
				return err
			}},
			{"FirstDelivery", func() error {
				_, err := readOnly.FirstDelivery(ctx, "envelope:1", time.Now())
				return err
			}},
			{"AppendAudit", func() error {
				_, err := readOnly.AppendAudit(ctx, store.AuditEntry{Actor: "U_ALICE", Action: "/deploy status"})
				return err
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				require.ErrorIs(t, tc.write(), store.ErrUnavailable)
			})
		}
		requireUnchanged(t, path, before)
	})

	// A write that needs more room than the disk has fails as a whole.
	t.Run("FullDisk", func(t *testing.T) {
		t.Parallel()
		path, before := seedSQLite(t)
		pages := sqlitePageCount(t, path)
		full, err := store.Open(t.Context(), store.Config{DSN: fmt.Sprintf("file:%s?_pragma=max_page_count(%d)", path, pages)})
		require.NoError(t, err)
		big := json.RawMessage(fmt.Sprintf(`{"log":%q}`, strings.Repeat("x", 64<<10)))

		_, err = full.UpdateRun(t.Context(), before.ID, func(r *store.Run) error {
			r.State, r.Data = store.RunSucceeded, big // would also release the lock
			return nil
		})
		require.ErrorIs(t, err, store.ErrUnavailable)
		r := before
		r.Key, r.LockName, r.Data = "deploy:other", "env:staging", big
		_, err = full.CreateRun(t.Context(), r)
		require.ErrorIs(t, err, store.ErrUnavailable)
		require.NoError(t, full.Close())

		requireUnchanged(t, path, before)
	})
}

// seedSQLite creates a database holding one active run with a lock, and closes it.
func seedSQLite(t *testing.T) (path string, r store.Run) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "opsbot.db")
	s, err := store.Open(t.Context(), store.Config{DSN: path})
	require.NoError(t, err)
	r, err = s.CreateRun(t.Context(), store.Run{Kind: store.KindDeploy, Key: "deploy:v1.0.0", State: store.RunRunning,
		RequestedBy: "U_ALICE", Channel: "C_DEPLOYS", Title: "Deploy v1.0.0", LockName: "env:production"})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	return path, r
}

// requireUnchanged checks that the database at path still holds only r, with its lock.
func requireUnchanged(t *testing.T, path string, r store.Run) {
	t.Helper()
	s := openStore(t, store.Config{DSN: path})
	runs, err := s.ListRuns(t.Context(), store.RunQuery{})
	require.NoError(t, err)
	require.Equal(t, []store.Run{r}, runs)
	lock, err := s.GetLock(t.Context(), r.LockName)
	require.NoError(t, err)
	require.Equal(t, r.ID, lock.RunID)
	_, err = s.GetLock(t.Context(), "env:staging")
	require.ErrorIs(t, err, store.ErrNotFound)
	pending, _, err := s.OutboxStats(t.Context())
	require.NoError(t, err)
	require.Zero(t, pending)
}

func sqlitePageCount(t *testing.T, path string) int {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	var pages int
	require.NoError(t, db.QueryRowContext(t.Context(), `PRAGMA page_count`).Scan(&pages))
	return pages
}

func TestPostgresUnavailable(t *testing.T) {
	t.Parallel()

	t.Run("NothingListening", func(t *testing.T) {
		t.Parallel()
		_, err := store.Open(t.Context(), store.Config{Driver: store.Postgres,
			DSN: "postgres://opsbot@127.0.0.1:1/opsbot?sslmode=disable&connect_timeout=5"})
		require.ErrorIs(t, err, store.ErrUnavailable)
	})

	t.Run("ReadOnlyServer", func(t *testing.T) {
		t.Parallel()
		dsn := newPostgresSchema(t)
		openStore(t, store.Config{Driver: store.Postgres, DSN: dsn})
		// What a replica sees when it connects to a standby after a failover.
		_, err := store.Open(t.Context(), store.Config{Driver: store.Postgres, DSN: dsn + "&default_transaction_read_only=on"})
		require.ErrorIs(t, err, store.ErrUnavailable)
	})
}
