package sqlitestore

import (
	"cmp"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrSchemaTooNew is returned by Open when the database was migrated by a
// newer devapi than this one: its schema has versions this binary does not
// know, so it refuses to touch it.
var ErrSchemaTooNew = errors.New("database schema is newer than this binary")

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one file of migrations/: NNNN_description.sql, applied once,
// in version order, inside its own transaction.
type migration struct {
	version int
	name    string // file name, for error messages
	sql     string
}

// createMigrationsTable records which migrations ran. It lives outside the
// numbered files because the runner needs it before it can read any version.
const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    applied_at BIGINT NOT NULL
)`

// loadMigrations reads migrations/*.sql from fsys, sorted by version. The
// versions must run 1, 2, 3, ... without gaps or duplicates, so that a
// recorded version says exactly which files have been applied.
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

// migrate brings db up to the last of ms. Each pending migration runs in its
// own BEGIN IMMEDIATE transaction together with the row that records it, so a
// failing migration leaves no trace and two processes opening the same file
// at once apply each migration exactly once. A database already at a version
// newer than the last of ms is refused with ErrSchemaTooNew.
func migrate(ctx context.Context, db *sql.DB, ms []migration) error {
	latest := 0
	if len(ms) > 0 {
		latest = ms[len(ms)-1].version
	}
	if _, err := db.ExecContext(ctx, createMigrationsTable); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	current, err := schemaVersion(ctx, db)
	if err != nil {
		return err
	}
	if err := checkVersion(current, latest); err != nil {
		return err
	}
	for _, m := range ms[current:] {
		if err := applyMigration(ctx, db, m, latest); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return nil
}

func applyMigration(ctx context.Context, db *sql.DB, m migration, latest int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // a no-op after Commit

	// Read the version again under the write lock: another process may have
	// migrated between our first look and this transaction.
	current, err := schemaVersion(ctx, tx)
	if err != nil {
		return err
	}
	if err := checkVersion(current, latest); err != nil {
		return err
	}
	if current >= m.version {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
		m.version, time.Now().UnixMicro()); err != nil {
		return err
	}
	return tx.Commit()
}

func checkVersion(current, latest int) error {
	if current > latest {
		return fmt.Errorf("%w: the database is at schema version %d, this devapi knows versions up to %d; use a newer devapi",
			ErrSchemaTooNew, current, latest)
	}
	return nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func schemaVersion(ctx context.Context, q querier) (int, error) {
	var v int
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}
