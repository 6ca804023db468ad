package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"io"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/schema"
)

// CreateBackup implements devapi.BackupStore. The backup's row goes in
// first, incomplete; each chunk of content then goes in with a write of its
// own (through the group committer, so other writes are not held up for the
// whole backup), and the row is marked complete last. Incomplete rows a
// crash left behind for the database are removed first.
func (s *Store) CreateBackup(ctx context.Context, b *devapi.Backup, write func(io.Writer) error) error {
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM backups WHERE database_id = ? AND complete = 0 AND created_at < ?`,
			b.DatabaseID, schema.Micros(b.CreatedAt.Add(-schema.StaleBackupAge))); err != nil {
			return fmt.Errorf("sqlitestore: remove stale backups: %w", err)
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO backups (id, database_id, name, daily, created_at, size, data, complete) VALUES (?, ?, ?, ?, ?, 0, '', 0)`,
			b.ID, b.DatabaseID, b.Name, schema.Bool(b.Daily), schema.Micros(b.CreatedAt))
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
	if err != nil {
		return err
	}
	if err := s.fillBackup(ctx, b, write); err != nil {
		// Nothing of it stays: the row goes, and its chunks with it.
		derr := s.write(context.WithoutCancel(ctx), func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `DELETE FROM backups WHERE id = ?`, b.ID)
			return err
		})
		if derr != nil {
			return fmt.Errorf("%w (and removing the incomplete backup: %v)", err, derr)
		}
		return err
	}
	return nil
}

// fillBackup stores the content of the incomplete backup b and marks it
// complete.
func (s *Store) fillBackup(ctx context.Context, b *devapi.Backup, write func(io.Writer) error) error {
	w := schema.NewChunkWriter(func(seq int64, data []byte) error {
		return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO backup_chunks (backup_id, seq, data) VALUES (?, ?, CAST(? AS TEXT))`, b.ID, seq, data)
			if isForeignKeyViolation(err) {
				return devapi.Errorf(devapi.ENOTFOUND, "database %s not found", b.DatabaseID)
			}
			return err
		})
	})
	if err := write(w); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("sqlitestore: store backup: %w", err)
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		n, err := execCount(ctx, tx, `UPDATE backups SET complete = 1, size = ? WHERE id = ? AND complete = 0`, w.Size(), b.ID)
		switch {
		case err != nil:
			return fmt.Errorf("sqlitestore: complete backup: %w", err)
		case n == 0: // removed with its database meanwhile
			return devapi.Errorf(devapi.ENOTFOUND, "database %s not found", b.DatabaseID)
		}
		b.Size = w.Size()
		return nil
	})
}

// Backups implements devapi.BackupStore.
func (s *Store) Backups(ctx context.Context, databaseID string) ([]*devapi.Backup, error) {
	rows, err := s.reader.QueryContext(ctx,
		`SELECT id, database_id, name, daily, created_at, size FROM backups WHERE database_id = ? AND complete = 1 ORDER BY created_at, id`, databaseID)
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

// ReadBackup implements devapi.BackupStore with one query, whose rows SQLite
// reads from one snapshot of the database: a backup deleted meanwhile is
// still read whole.
func (s *Store) ReadBackup(ctx context.Context, databaseID, id string, read func(io.Reader) error) error {
	rows, err := s.reader.QueryContext(ctx,
		`SELECT c.data FROM backup_chunks c JOIN backups b ON b.id = c.backup_id
		 WHERE b.database_id = ? AND b.id = ? AND b.complete = 1 ORDER BY c.seq`, databaseID, id)
	if err != nil {
		return fmt.Errorf("sqlitestore: read backup: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return fmt.Errorf("sqlitestore: read backup: %w", err)
		}
		return devapi.Errorf(devapi.ENOTFOUND, "backup %s not found", id)
	}
	first := true
	var data sql.RawBytes
	return read(schema.NewChunkReader(func() ([]byte, bool, error) {
		if !first && !rows.Next() {
			if err := rows.Err(); err != nil {
				return nil, false, fmt.Errorf("sqlitestore: read backup: %w", err)
			}
			return nil, false, nil
		}
		first = false
		if err := rows.Scan(&data); err != nil {
			return nil, false, fmt.Errorf("sqlitestore: read backup: %w", err)
		}
		return data, true, nil
	}))
}

// DeleteBackup implements devapi.BackupStore.
func (s *Store) DeleteBackup(ctx context.Context, databaseID, id string) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		n, err := execCount(ctx, tx, `DELETE FROM backups WHERE database_id = ? AND id = ? AND complete = 1`, databaseID, id)
		if err != nil {
			return fmt.Errorf("sqlitestore: delete backup: %w", err)
		}
		if n == 0 {
			return devapi.Errorf(devapi.ENOTFOUND, "backup %s not found", id)
		}
		return nil
	})
}
