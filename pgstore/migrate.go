package pgstore

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrSchemaTooNew is returned by Open when the database was migrated by a
// newer devapi than this one.
var ErrSchemaTooNew = errors.New("database schema is newer than this binary")

// migrationFiles are the same files as sqlitestore's (see
// TestMigrationsMatchSQLite).
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLock is the pg_advisory_xact_lock key that serialises migrations
// of one database across processes.
const migrationLock int64 = 0x64657661706930 // "devapi0"

type migration struct {
	version int
	name    string // file name, for error messages
	sql     string
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    applied_at BIGINT NOT NULL
)`

func loadMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	ms := make([]migration, 0, len(names))
	for _, name := range names {
		base := path.Base(name)
		prefix, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(prefix)
		if !ok || err != nil || v <= 0 || len(prefix) != 4 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql with NNNN >= 0001", base)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return cmp.Compare(a.version, b.version) })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: version %d, want %d (versions must be 1, 2, 3, ... without gaps or duplicates)", m.name, m.version, i+1)
		}
	}
	return ms, nil
}

// migrate applies the migrations the database lacks, each in a transaction
// of its own holding the advisory lock, so concurrent Opens apply each one
// once.
func migrate(ctx context.Context, pool *pgxpool.Pool, ms []migration) error {
	latest := 0
	if len(ms) > 0 {
		latest = ms[len(ms)-1].version
	}
	current := -1
	for current < latest {
		v, err := step(ctx, pool, ms, latest)
		if err != nil {
			return err
		}
		current = v
	}
	return nil
}

// step takes the lock, checks the schema version and applies the next
// migration if any; it returns the version the database is at afterwards.
func step(ctx context.Context, pool *pgxpool.Pool, ms []migration, latest int) (int, error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx) // a no-op after Commit

	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
		return 0, fmt.Errorf("lock: %w", err)
	}
	if _, err := tx.Exec(ctx, createMigrationsTable); err != nil {
		return 0, fmt.Errorf("create schema_migrations: %w", err)
	}
	var current int
	if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if current > latest {
		return 0, fmt.Errorf("%w: the database is at schema version %d, this devapi knows versions up to %d; use a newer devapi",
			ErrSchemaTooNew, current, latest)
	}
	if current == latest {
		return current, tx.Commit(ctx)
	}
	m := ms[current]
	// The simple protocol runs a file of several statements in one go.
	if _, err := tx.Exec(ctx, m.sql, pgx.QueryExecModeSimpleProtocol); err != nil {
		return 0, fmt.Errorf("migration %s: %w", m.name, err)
	}
	if _, err := tx.Exec(ctx,
		`INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`,
		m.version, time.Now().UnixMicro()); err != nil {
		return 0, fmt.Errorf("migration %s: %w", m.name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("migration %s: %w", m.name, err)
	}
	return m.version, nil
}
