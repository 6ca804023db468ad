package pgstore

import (
	"context"
	"fmt"
	"io"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/schema"
)

// CreateBackup implements devapi.BackupStore. The backup's row goes in
// first, incomplete; each chunk of content then goes in with a statement of
// its own, and the row is marked complete last, so no transaction stays open
// while the backup is taken. Incomplete rows a crashed replica left behind
// for the database are removed first.
func (s *Store) CreateBackup(ctx context.Context, b *devapi.Backup, write func(io.Writer) error) (err error) {
	defer noSpace(&err)
	if _, err := s.pool.Exec(ctx, `DELETE FROM backups WHERE database_id = $1 AND complete = 0 AND created_at < $2`,
		b.DatabaseID, schema.Micros(b.CreatedAt.Add(-schema.StaleBackupAge))); err != nil {
		return fmt.Errorf("pgstore: remove stale backups: %w", err)
	}
	_, err = s.pool.Exec(ctx,
		`INSERT INTO backups (id, database_id, name, daily, created_at, size, data, complete) VALUES ($1, $2, $3, $4, $5, 0, '', 0)`,
		b.ID, b.DatabaseID, b.Name, schema.Bool(b.Daily), schema.Micros(b.CreatedAt))
	switch {
	case isUniqueViolation(err):
		return devapi.Errorf(devapi.ECONFLICT, "backup %s already exists", b.ID)
	case isForeignKeyViolation(err):
		return devapi.Errorf(devapi.ENOTFOUND, "database %s not found", b.DatabaseID)
	case err != nil:
		return fmt.Errorf("pgstore: create backup: %w", err)
	}
	if err := s.fillBackup(ctx, b, write); err != nil {
		// Nothing of it stays: the row goes, and its chunks with it.
		if _, derr := s.pool.Exec(context.WithoutCancel(ctx), `DELETE FROM backups WHERE id = $1`, b.ID); derr != nil {
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
		_, err := s.pool.Exec(ctx, `INSERT INTO backup_chunks (backup_id, seq, data) VALUES ($1, $2, $3)`, b.ID, seq, data)
		if isForeignKeyViolation(err) {
			return devapi.Errorf(devapi.ENOTFOUND, "database %s not found", b.DatabaseID)
		}
		return err
	})
	if err := write(w); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("pgstore: store backup: %w", err)
	}
	res, err := s.pool.Exec(ctx, `UPDATE backups SET complete = 1, size = $1 WHERE id = $2 AND complete = 0`, w.Size(), b.ID)
	switch {
	case err != nil:
		return fmt.Errorf("pgstore: complete backup: %w", err)
	case res.RowsAffected() == 0: // removed with its database meanwhile
		return devapi.Errorf(devapi.ENOTFOUND, "database %s not found", b.DatabaseID)
	}
	b.Size = w.Size()
	return nil
}

// Backups implements devapi.BackupStore.
func (s *Store) Backups(ctx context.Context, databaseID string) ([]*devapi.Backup, error) {
	rows, err := s.pool.Query(ctx,
		`SELECT id, database_id, name, daily, created_at, size FROM backups WHERE database_id = $1 AND complete = 1 ORDER BY created_at, id COLLATE "C"`, databaseID)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list backups: %w", err)
	}
	defer rows.Close()
	var out []*devapi.Backup
	for rows.Next() {
		var b devapi.Backup
		var daily, created int64
		if err := rows.Scan(&b.ID, &b.DatabaseID, &b.Name, &daily, &created, &b.Size); err != nil {
			return nil, fmt.Errorf("pgstore: list backups: %w", err)
		}
		b.Daily, b.CreatedAt = daily != 0, schema.FromMicros(created)
		out = append(out, &b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: list backups: %w", err)
	}
	return out, nil
}

// ReadBackup implements devapi.BackupStore with one query: PostgreSQL reads
// its rows from one snapshot, so a backup deleted meanwhile is still read
// whole.
func (s *Store) ReadBackup(ctx context.Context, databaseID, id string, read func(io.Reader) error) error {
	rows, err := s.pool.Query(ctx,
		`SELECT c.data FROM backup_chunks c JOIN backups b ON b.id = c.backup_id
		 WHERE b.database_id = $1 AND b.id = $2 AND b.complete = 1 ORDER BY c.seq`, databaseID, id)
	if err != nil {
		return fmt.Errorf("pgstore: read backup: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return fmt.Errorf("pgstore: read backup: %w", err)
		}
		return devapi.Errorf(devapi.ENOTFOUND, "backup %s not found", id)
	}
	first := true
	return read(schema.NewChunkReader(func() ([]byte, bool, error) {
		if !first && !rows.Next() {
			if err := rows.Err(); err != nil {
				return nil, false, fmt.Errorf("pgstore: read backup: %w", err)
			}
			return nil, false, nil
		}
		first = false
		// The raw text of the row, valid until the next row: no copy.
		return rows.RawValues()[0], true, nil
	}))
}

// DeleteBackup implements devapi.BackupStore.
func (s *Store) DeleteBackup(ctx context.Context, databaseID, id string) (err error) {
	defer noSpace(&err)
	res, err := s.pool.Exec(ctx, `DELETE FROM backups WHERE database_id = $1 AND id = $2 AND complete = 1`, databaseID, id)
	if err != nil {
		return fmt.Errorf("pgstore: delete backup: %w", err)
	}
	if n := res.RowsAffected(); n == 0 {
		return devapi.Errorf(devapi.ENOTFOUND, "backup %s not found", id)
	}
	return nil
}
