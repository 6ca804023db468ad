package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/devapi-dev/devapi/internal/schema"
)

// ErrSchemaTooNew is returned by Open when the database was migrated by a
// newer devapi than this one (schema.ErrTooNew).
var ErrSchemaTooNew = schema.ErrTooNew

// migrate brings db up to the last of ms. Each pending migration runs in its
// own BEGIN IMMEDIATE transaction together with the row that records it, so a
// failing migration leaves no trace and two processes opening the same file
// at once apply each migration exactly once. A database already at a version
// newer than the last of ms is refused with ErrSchemaTooNew.
func migrate(ctx context.Context, db *sql.DB, ms []schema.Migration) error {
	latest := 0
	if len(ms) > 0 {
		latest = ms[len(ms)-1].Version
	}
	if _, err := db.ExecContext(ctx, schema.CreateTable); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	current, err := schemaVersion(ctx, db)
	if err != nil {
		return err
	}
	if err := schema.CheckVersion(current, latest); err != nil {
		return err
	}
	for _, m := range ms[current:] {
		if err := applyMigration(ctx, db, m, latest); err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
	}
	return nil
}

func applyMigration(ctx context.Context, db *sql.DB, m schema.Migration, latest int) error {
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
	if err := schema.CheckVersion(current, latest); err != nil {
		return err
	}
	if current >= m.Version {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
		m.Version, time.Now().UnixMicro()); err != nil {
		return err
	}
	return tx.Commit()
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
