package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/devapi-dev/devapi"
)

// Setting returns the value stored under name. ENOTFOUND if none is.
func (s *Store) Setting(ctx context.Context, name string) ([]byte, error) {
	var v string
	err := s.pool.QueryRow(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&v)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, devapi.Errorf(devapi.ENOTFOUND, "setting %s not found", name)
	case err != nil:
		return nil, fmt.Errorf("pgstore: get setting: %w", err)
	}
	return []byte(v), nil
}

// InitSetting stores value under name unless a value is there already, and
// returns the value stored in the end. The insert and the read back run in
// one transaction, so concurrent callers agree.
func (s *Store) InitSetting(ctx context.Context, name string, value []byte) (_ []byte, err error) {
	defer noSpace(&err)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("pgstore: init setting: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, string(value)); err != nil {
		return nil, fmt.Errorf("pgstore: init setting: %w", err)
	}
	var v string
	if err := tx.QueryRow(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&v); err != nil {
		return nil, fmt.Errorf("pgstore: init setting: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("pgstore: init setting: %w", err)
	}
	return []byte(v), nil
}
