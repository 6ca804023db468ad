package devapi

import (
	"context"
	"io"
	"time"
)

// Backup is a stored copy of a database's keys.
type Backup struct {
	ID         string
	DatabaseID string
	Name       string
	Daily      bool // taken by the daily schedule, not by a request
	CreatedAt  time.Time
	Size       int64 // bytes of its content, as stored
}

// BackupStore keeps backups. A backup's content is bytes the server encodes
// (the store does not read them), written and read as a stream: a store
// keeps it in chunks, as it is written, never whole in memory, and lists a
// backup only once its content is complete. Deleting a database deletes its
// backups.
type BackupStore interface {
	// CreateBackup stores b, with the content write writes, as write writes
	// it, and sets b.Size to its bytes. The backup is listed once write has
	// returned nil and the content is stored; when write fails, the store
	// fails or ctx ends, nothing of it is kept and the error is returned
	// (write's as is). ENOTFOUND if the database does not exist or is
	// deleted meanwhile; ECONFLICT if the id exists.
	CreateBackup(ctx context.Context, b *Backup, write func(w io.Writer) error) error
	// Backups lists a database's backups, oldest first.
	Backups(ctx context.Context, databaseID string) ([]*Backup, error)
	// ReadBackup calls read with the content of one backup, fetched in
	// chunks as read reads it, and returns read's error as is. The content
	// read is the backup's whole, even if it is deleted meanwhile.
	// ENOTFOUND, without calling read, if there is no such backup.
	ReadBackup(ctx context.Context, databaseID, id string, read func(r io.Reader) error) error
	// DeleteBackup removes one backup. ENOTFOUND if none.
	DeleteBackup(ctx context.Context, databaseID, id string) error
}
