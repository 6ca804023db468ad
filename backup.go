package devapi

import (
	"context"
	"time"
)

// Backup is a stored copy of a database's keys.
type Backup struct {
	ID         string
	DatabaseID string
	Name       string
	Daily      bool // taken by the daily schedule, not by a request
	CreatedAt  time.Time
	Size       int64  // bytes of Data
	Data       []byte // the plane's Snapshot, encoded by the server; empty in lists
}

// BackupStore keeps backups. Deleting a database deletes its backups.
type BackupStore interface {
	// CreateBackup stores a backup. ENOTFOUND if the database does not exist;
	// ECONFLICT if the id exists.
	CreateBackup(ctx context.Context, b *Backup) error
	// Backups lists a database's backups, oldest first, without their Data.
	Backups(ctx context.Context, databaseID string) ([]*Backup, error)
	// Backup returns one backup with its Data. ENOTFOUND if none.
	Backup(ctx context.Context, databaseID, id string) (*Backup, error)
	// DeleteBackup removes one backup. ENOTFOUND if none.
	DeleteBackup(ctx context.Context, databaseID, id string) error
}
