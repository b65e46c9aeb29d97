package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// migrationFiles holds the schema changes, numbered from 1: NNNN_name.sql applies to both
// databases, NNNN_name.sqlite.sql and NNNN_name.postgres.sql to one each, where the DDL must
// differ. A released migration is never edited; a change is a new number.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string // the file name, for the log and schema_migrations
	sql     string
}

// migrations returns d's migrations in order, checking that they are numbered 1, 2, 3, ...
func (d dialect) migrations() ([]migration, error) {
	files, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var all []migration
	for _, file := range files {
		name := path.Base(file)
		if only := path.Ext(strings.TrimSuffix(name, ".sql")); only != "" && only != "."+d.name {
			continue // another database's variant
		}
		number, _, _ := strings.Cut(name, "_")
		version, err := strconv.Atoi(number)
		if err != nil {
			return nil, fmt.Errorf("migration %s: the name must start with its number: %w", name, err)
		}
		text, err := migrationFiles.ReadFile(file)
		if err != nil {
			return nil, err
		}
		all = append(all, migration{version: version, name: name, sql: string(text)})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].version < all[j].version })
	for i, m := range all {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: expected number %d for %s", m.name, i+1, d.name)
		}
	}
	return all, nil
}

// Migrate brings the schema up to date, applying each missing migration in its own
// transaction. Replicas starting together do not race: they wait for each other's lock
// (pg_advisory_lock on PostgreSQL, the BEGIN IMMEDIATE write lock on SQLite). Open calls it;
// running it again is harmless.
func (s *SQL) Migrate(ctx context.Context) error {
	if err := s.migrate(ctx); err != nil {
		return s.failed("migrating the schema", err)
	}
	return nil
}

func (s *SQL) migrate(ctx context.Context) (err error) {
	migrations, err := s.dialect.migrations()
	if err != nil {
		return err
	}
	conn, err := s.writer.Conn(ctx)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, conn.Close()) }()
	unlock, err := s.dialect.lockMigrations(ctx, conn)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, unlock()) }()

	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at BIGINT  NOT NULL
	)`); err != nil {
		return err
	}
	for _, m := range migrations {
		if err := s.apply(ctx, conn, m); err != nil {
			return fmt.Errorf("applying %s: %w", m.name, err)
		}
	}
	return nil
}

// apply runs m unless the schema already has it.
func (s *SQL) apply(ctx context.Context, conn *sql.Conn, m migration) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return err
	}
	if current >= m.version {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
		m.version, m.name, unixNano(s.now())); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.log.Info().Int("version", m.version).Str("migration", m.name).Msg("applied schema migration")
	return nil
}

// SchemaVersion returns the number of the last migration applied to the database and the
// number of the last one this binary knows.
func (s *SQL) SchemaVersion(ctx context.Context) (current, latest int, err error) {
	migrations, err := s.dialect.migrations()
	if err != nil {
		return 0, 0, err
	}
	if err := s.reader.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return 0, 0, s.failed("reading the schema version", err)
	}
	return current, len(migrations), nil
}
