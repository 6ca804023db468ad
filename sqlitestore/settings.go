package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/devapi-dev/devapi"
)

// Setting returns the value stored under name. ENOTFOUND if none is.
func (s *Store) Setting(ctx context.Context, name string) ([]byte, error) {
	var v string
	err := s.reader.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, name).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, devapi.Errorf(devapi.ENOTFOUND, "setting %s not found", name)
	case err != nil:
		return nil, fmt.Errorf("sqlitestore: get setting: %w", err)
	}
	return []byte(v), nil
}

// InitSetting stores value under name unless a value is there already, and
// returns the value stored in the end. The insert and the read back are one
// write, so concurrent callers agree.
func (s *Store) InitSetting(ctx context.Context, name string, value []byte) ([]byte, error) {
	var v string
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, string(value)); err != nil {
			return fmt.Errorf("sqlitestore: init setting: %w", err)
		}
		if err := tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, name).Scan(&v); err != nil {
			return fmt.Errorf("sqlitestore: init setting: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return []byte(v), nil
}
