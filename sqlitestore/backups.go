package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/schema"
)

// CreateBackup implements devapi.BackupStore.
func (s *Store) CreateBackup(ctx context.Context, b *devapi.Backup) error {
	data := base64.StdEncoding.EncodeToString(b.Data)
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO backups (id, database_id, name, daily, created_at, size, data) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			b.ID, b.DatabaseID, b.Name, schema.Bool(b.Daily), schema.Micros(b.CreatedAt), b.Size, data)
		switch {
		case isUniqueViolation(err):
			return devapi.Errorf(devapi.ECONFLICT, "backup %s already exists", b.ID)
		case isForeignKeyViolation(err):
			return devapi.Errorf(devapi.ENOTFOUND, "database %s not found", b.DatabaseID)
		case err != nil:
			return fmt.Errorf("sqlitestore: create backup: %w", err)
		}
		return nil
	})
}

// Backups implements devapi.BackupStore.
func (s *Store) Backups(ctx context.Context, databaseID string) ([]*devapi.Backup, error) {
	rows, err := s.reader.QueryContext(ctx,
		`SELECT id, database_id, name, daily, created_at, size FROM backups WHERE database_id = ? ORDER BY created_at, id`, databaseID)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list backups: %w", err)
	}
	defer rows.Close()
	var out []*devapi.Backup
	for rows.Next() {
		var b devapi.Backup
		var daily, created int64
		if err := rows.Scan(&b.ID, &b.DatabaseID, &b.Name, &daily, &created, &b.Size); err != nil {
			return nil, fmt.Errorf("sqlitestore: list backups: %w", err)
		}
		b.Daily, b.CreatedAt = daily != 0, schema.FromMicros(created)
		out = append(out, &b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: list backups: %w", err)
	}
	return out, nil
}

// Backup implements devapi.BackupStore.
func (s *Store) Backup(ctx context.Context, databaseID, id string) (*devapi.Backup, error) {
	var b devapi.Backup
	var daily, created int64
	var data string
	err := s.reader.QueryRowContext(ctx,
		`SELECT id, database_id, name, daily, created_at, size, data FROM backups WHERE database_id = ? AND id = ?`, databaseID, id).
		Scan(&b.ID, &b.DatabaseID, &b.Name, &daily, &created, &b.Size, &data)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, devapi.Errorf(devapi.ENOTFOUND, "backup %s not found", id)
	case err != nil:
		return nil, fmt.Errorf("sqlitestore: get backup: %w", err)
	}
	b.Daily, b.CreatedAt = daily != 0, schema.FromMicros(created)
	if b.Data, err = base64.StdEncoding.DecodeString(data); err != nil {
		return nil, fmt.Errorf("sqlitestore: get backup %s: %w", id, err)
	}
	return &b, nil
}

// DeleteBackup implements devapi.BackupStore.
func (s *Store) DeleteBackup(ctx context.Context, databaseID, id string) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		n, err := execCount(ctx, tx, `DELETE FROM backups WHERE database_id = ? AND id = ?`, databaseID, id)
		if err != nil {
			return fmt.Errorf("sqlitestore: delete backup: %w", err)
		}
		if n == 0 {
			return devapi.Errorf(devapi.ENOTFOUND, "backup %s not found", id)
		}
		return nil
	})
}
