package upstash

import (
	"context"
	"net/http"

	"github.com/devapi-dev/devapi/gen"
)

// ListBackups lists a database's backups (GET /redis/list-backup/{id}). It
// is retried. ErrNotFound if there is no such database.
func (c *Client) ListBackups(ctx context.Context, id string) ([]Backup, error) {
	list, err := result(ctx, "list backups",
		func(ctx context.Context) (*http.Response, error) { return c.api.ListBackup(ctx, id) },
		gen.ParseListBackupResponse,
		func(r *gen.ListBackupResponse) *[]gen.Backup { return r.JSON200 })
	if err != nil {
		return nil, err
	}
	out := make([]Backup, 0, len(*list))
	for _, g := range *list {
		out = append(out, fromGenBackup(g))
	}
	return out, nil
}

// CreateBackup backs a database up under name
// (POST /redis/create-backup/{id}). ListBackups finds the new backup's id.
func (c *Client) CreateBackup(ctx context.Context, id, name string) error {
	return ok(ctx, "create backup", func(ctx context.Context) (*http.Response, error) {
		return c.api.CreateBackup(ctx, id, gen.CreateBackupJSONRequestBody{Name: name})
	})
}

// DeleteBackup deletes one backup of a database
// (DELETE /redis/delete-backup/{id}/{backup_id}). ErrNotFound if there is no
// such database or backup.
func (c *Client) DeleteBackup(ctx context.Context, id, backupID string) error {
	return ok(ctx, "delete backup", func(ctx context.Context) (*http.Response, error) {
		return c.api.DeleteBackup(ctx, id, backupID)
	})
}

// RestoreBackup replaces a database's keys with those of one of its backups
// (POST /redis/restore-backup/{id}).
func (c *Client) RestoreBackup(ctx context.Context, id, backupID string) error {
	return ok(ctx, "restore backup", func(ctx context.Context) (*http.Response, error) {
		return c.api.RestoreBackup(ctx, id, gen.RestoreBackupJSONRequestBody{BackupId: backupID})
	})
}

// EnableDailyBackup turns a database's daily backup on
// (PATCH /redis/enable-dailybackup/{id}). ErrAlreadyEnabled if it is on.
func (c *Client) EnableDailyBackup(ctx context.Context, id string) error {
	return ok(ctx, "enable daily backup", func(ctx context.Context) (*http.Response, error) {
		return c.api.EnableDailyBackup(ctx, id)
	})
}

// DisableDailyBackup turns a database's daily backup off
// (PATCH /redis/disable-dailybackup/{id}). ErrAlreadyDisabled if it is off.
func (c *Client) DisableDailyBackup(ctx context.Context, id string) error {
	return ok(ctx, "disable daily backup", func(ctx context.Context) (*http.Response, error) {
		return c.api.DisableDailyBackup(ctx, id)
	})
}
