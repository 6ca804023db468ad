package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/devapi-dev/devapi/internal/schema"
)

// ErrSchemaTooNew is returned by Open when the database was migrated by a
// newer devapi than this one (schema.ErrTooNew).
var ErrSchemaTooNew = schema.ErrTooNew

// migrationLock is the pg_advisory_xact_lock key that serialises migrations
// of one database across processes.
const migrationLock int64 = 0x64657661706930 // "devapi0"

// migrate applies the migrations the database lacks, each in a transaction
// of its own holding the advisory lock, so concurrent Opens apply each one
// once.
func migrate(ctx context.Context, pool *pgxpool.Pool, ms []schema.Migration) error {
	latest := 0
	if len(ms) > 0 {
		latest = ms[len(ms)-1].Version
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
func step(ctx context.Context, pool *pgxpool.Pool, ms []schema.Migration, latest int) (int, error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx) // a no-op after Commit

	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
		return 0, fmt.Errorf("lock: %w", err)
	}
	if _, err := tx.Exec(ctx, schema.CreateTable); err != nil {
		return 0, fmt.Errorf("create schema_migrations: %w", err)
	}
	var current int
	if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if err := schema.CheckVersion(current, latest); err != nil {
		return 0, err
	}
	if current == latest {
		return current, tx.Commit(ctx)
	}
	m := ms[current]
	// The simple protocol runs a file of several statements in one go.
	if _, err := tx.Exec(ctx, m.SQL, pgx.QueryExecModeSimpleProtocol); err != nil {
		return 0, fmt.Errorf("migration %s: %w", m.Name, err)
	}
	if _, err := tx.Exec(ctx,
		`INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`,
		m.Version, time.Now().UnixMicro()); err != nil {
		return 0, fmt.Errorf("migration %s: %w", m.Name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("migration %s: %w", m.Name, err)
	}
	return m.Version, nil
}
