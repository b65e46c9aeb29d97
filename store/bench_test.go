package store_test

import (
	"database/sql"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/opsbot-dev/opsbot/store"
)

// BenchmarkListRuns measures the queries behind /deploy history, /deploy status and the
// rollback target on a database holding a year of runs (100k, nearly all finished).
func BenchmarkListRuns(b *testing.B) {
	const runs = 100_000
	newest := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	queries := []struct {
		name  string
		query store.RunQuery
	}{
		{"History", store.RunQuery{Kinds: []store.RunKind{store.KindDeploy, store.KindRollback}, Env: "production", Limit: 20}},
		{"HistoryPage", store.RunQuery{Kinds: []store.RunKind{store.KindDeploy, store.KindRollback}, Env: "production",
			BeforeID: runs / 2, Limit: 20}},
		{"HistoryOfANewEnvironment", store.RunQuery{Kinds: []store.RunKind{store.KindDeploy, store.KindRollback}, Env: "qa", Limit: 20}},
		{"Status", store.RunQuery{Active: true}},
		{"LastGoodDeploy", store.RunQuery{Kinds: []store.RunKind{store.KindDeploy}, Env: "production",
			States: []store.RunState{store.RunSucceeded}, Limit: 1}},
		{"IncidentsThisWeek", store.RunQuery{Kinds: []store.RunKind{store.KindIncident}, Since: newest.Add(-7 * 24 * time.Hour)}},
	}
	for _, database := range benchDatabases {
		b.Run(database.name, func(b *testing.B) {
			cfg, dsn := database.open(b)
			s := openStore(b, cfg)
			seedRuns(b, database.driver, dsn, runs, newest)
			for _, q := range queries {
				b.Run(q.name, func(b *testing.B) {
					var took []time.Duration
					for b.Loop() {
						start := time.Now()
						if _, err := s.ListRuns(b.Context(), q.query); err != nil {
							b.Fatal(err)
						}
						took = append(took, time.Since(start))
					}
					reportPercentiles(b, took)
				})
			}
		})
	}
}

// benchDatabases are what the store's benchmarks run on: an empty database of their own on
// each driver, opened as a store (Config) and for seeding rows straight in (database/sql's
// driver name and DSN).
var benchDatabases = []struct {
	name   string
	driver string
	open   func(b *testing.B) (store.Config, string)
}{
	{"SQLite", "sqlite", func(b *testing.B) (store.Config, string) {
		path := filepath.Join(b.TempDir(), "opsbot.db")
		return store.Config{Driver: store.SQLite, DSN: path}, path
	}},
	{"Postgres", "pgx", func(b *testing.B) (store.Config, string) {
		dsn := newPostgresSchema(b)
		return store.Config{Driver: store.Postgres, DSN: dsn}, dsn
	}},
}

// reportPercentiles adds the median and the 99th percentile of the timed calls to the
// benchmark's line: the mean hides the slow tail a person waiting for /deploy history sees.
func reportPercentiles(b *testing.B, took []time.Duration) {
	slices.Sort(took)
	for _, p := range []struct {
		q    float64
		unit string
	}{{0.5, "p50-ms"}, {0.99, "p99-ms"}} {
		rank := int(math.Ceil(p.q*float64(len(took)))) - 1
		b.ReportMetric(float64(took[min(max(rank, 0), len(took)-1)])/float64(time.Millisecond), p.unit)
	}
}

// seedRuns inserts n runs, one every five minutes up to newest, straight into the database:
// through the store it would take minutes.
func seedRuns(b *testing.B, driver, dsn string, n int, newest time.Time) {
	kinds := []store.RunKind{store.KindDeploy, store.KindDeploy, store.KindDeploy, store.KindDeploy,
		store.KindRelease, store.KindRelease, store.KindRollback, store.KindIncident, store.KindIncident, store.KindIncident}
	envs := []string{"production", "staging", "development"}
	steps := `[` + strings.Repeat(`{"name":"step","state":"passed","detail":"done in 3 min"},`, 9) +
		`{"name":"verify","state":"passed"}]`
	seedRows(b, driver, dsn, "runs", `(kind, env, state, requested_by, channel, title, steps,
		lock_name, version, created_at, updated_at, lease_owner)`, n, func(i, p int) (string, []any) {
		kind, env, state := kinds[i%len(kinds)], "", store.RunSucceeded
		if kind == store.KindDeploy || kind == store.KindRollback {
			env = envs[i%len(envs)]
		}
		switch {
		case i >= n-20:
			state = store.RunWaiting
		case i%17 == 0:
			state = store.RunFailed
		}
		at := newest.Add(-time.Duration(n-i) * 5 * time.Minute).UnixNano()
		return fmt.Sprintf("($%d, $%d, $%d, 'U_ALICE', 'C_DEPLOYS', $%d, $%d, '', 1, $%d, $%d, '')",
			p+1, p+2, p+3, p+4, p+5, p+6, p+6), []any{kind, env, state, fmt.Sprint("run ", i), steps, at}
	})
}

// seedRows inserts n rows into table, in batches of multi-row INSERTs in one transaction.
// row gives the i-th row's VALUES tuple, its placeholders numbered from p+1, and their args.
func seedRows(b *testing.B, driver, dsn, table, columns string, n int, row func(i, p int) (string, []any)) {
	b.Helper()
	db, err := sql.Open(driver, dsn)
	require.NoError(b, err)
	defer db.Close()
	tx, err := db.BeginTx(b.Context(), nil)
	require.NoError(b, err)
	defer func() { _ = tx.Rollback() }()
	const batch = 500
	for first := 0; first < n; first += batch {
		var values []string
		var args []any
		for i := first; i < min(first+batch, n); i++ {
			tuple, rowArgs := row(i, len(args))
			values = append(values, tuple)
			args = append(args, rowArgs...)
		}
		_, err := tx.ExecContext(b.Context(), `INSERT INTO `+table+` `+columns+` VALUES `+strings.Join(values, ", "), args...)
		require.NoError(b, err)
	}
	require.NoError(b, tx.Commit())
	if driver == "pgx" {
		// Autovacuum keeps the planner's statistics in a live database; a table loaded a
		// moment ago has none, and PostgreSQL would plan as if every row were alike.
		_, err = db.ExecContext(b.Context(), `ANALYZE `+table)
		require.NoError(b, err)
	}
}
