package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/gen"
	"github.com/devapi-dev/devapi/internal/genserver"
)

const backupNotFound = "backup not found"

// backupTimeout bounds taking or restoring one backup, plane and store
// together: far above what a database within the plans' limits takes (a
// 250 MB one: seconds), so that only a wedged plane or store reaches it.
const backupTimeout = 10 * time.Minute

// backupLimit is the most bytes a backup of d may hold, before compression:
// its plan's disk limit (DiskThreshold), or Config.MaxBackupBytes when
// that is less.
func (s *Server) backupLimit(d *devapi.Database) int64 {
	limit := s.maxBackup
	if l, ok := devapi.PlanLimits(d.Plan); ok && l.DiskThreshold > 0 && (limit <= 0 || l.DiskThreshold < limit) {
		limit = l.DiskThreshold
	}
	if limit <= 0 {
		limit = math.MaxInt64
	}
	return limit
}

// takeBackup streams a snapshot of d from the plane into the store, key by
// key (see backupcodec.go): devapi holds a key and a chunk at a time, not
// the database. A database larger than backupLimit fails with a
// *tooLargeError (EINVALID) as soon as the limit is passed, and nothing of
// the backup is kept.
func (s *Server) takeBackup(ctx context.Context, d *devapi.Database, name string, daily bool) (*devapi.Backup, error) {
	ctx, cancel := context.WithTimeout(ctx, backupTimeout)
	defer cancel()
	limit := s.backupLimit(d)
	b := &devapi.Backup{ID: uuid.NewString(), DatabaseID: d.ID, Name: name, Daily: daily, CreatedAt: s.now().UTC()}
	err := s.store.CreateBackup(ctx, b, func(w io.Writer) error {
		return writeBackup(w, limit, func(emit func(devapi.SnapshotKey) error) error {
			return s.plane.Snapshot(ctx, d.ID, emit)
		})
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

func toBackup(b *devapi.Backup, owner string) gen.Backup {
	daily := fmt.Sprint(b.Daily)
	return gen.Backup{
		BackupId: b.ID, DatabaseId: b.DatabaseID, CustomerId: &owner, Name: b.Name,
		CreationTime: b.CreatedAt.Unix(), State: "completed", BackupSize: &b.Size,
		DailyBackup: &daily, HourlyBackup: ptr("false"),
	}
}

// ListBackup handles GET /v2/redis/list-backup/{id}.
func (s *Server) ListBackup(ctx context.Context, req genserver.ListBackupRequestObject) (genserver.ListBackupResponseObject, error) {
	owner := accountFrom(ctx).Email
	var backups []*devapi.Backup
	_, err := s.store.Database(ctx, owner, req.Id)
	if err == nil {
		backups, err = s.store.Backups(ctx, req.Id)
	}
	switch status, body, err := outcome(err); status {
	case http.StatusOK:
		out := make(genserver.ListBackup200JSONResponse, 0, len(backups))
		for _, b := range backups {
			out = append(out, toBackup(b, owner))
		}
		return out, nil
	case http.StatusBadRequest:
		return genserver.ListBackup400JSONResponse{BadRequestJSONResponse: genserver.BadRequestJSONResponse(body)}, nil
	case http.StatusNotFound:
		return genserver.ListBackup404JSONResponse{NotFoundJSONResponse: genserver.NotFoundJSONResponse(body)}, nil
	default:
		return nil, err
	}
}

// CreateBackup handles POST /v2/redis/create-backup/{id}: every key, with
// its type and TTL, is copied before the answer.
func (s *Server) CreateBackup(ctx context.Context, req genserver.CreateBackupRequestObject) (genserver.CreateBackupResponseObject, error) {
	d, err := s.store.Database(ctx, accountFrom(ctx).Email, req.Id)
	if err == nil {
		var release func()
		if release, err = s.reserveBackup(ctx, d.ID, uuid.NewString()); err == nil {
			defer release()
			_, err = s.takeBackup(ctx, d, req.Body.Name, false)
		}
	}
	switch status, body, err := outcome(err); status {
	case http.StatusOK:
		return genserver.CreateBackup200JSONResponse(gen.OKOK), nil
	case http.StatusBadRequest:
		return genserver.CreateBackup400JSONResponse{BadRequestJSONResponse: genserver.BadRequestJSONResponse(body)}, nil
	case http.StatusNotFound:
		return genserver.CreateBackup404JSONResponse{NotFoundJSONResponse: genserver.NotFoundJSONResponse(body)}, nil
	default:
		return nil, err
	}
}

// DeleteBackup handles DELETE /v2/redis/delete-backup/{id}/{backup_id}.
func (s *Server) DeleteBackup(ctx context.Context, req genserver.DeleteBackupRequestObject) (genserver.DeleteBackupResponseObject, error) {
	msg := "database not found"
	_, err := s.store.Database(ctx, accountFrom(ctx).Email, req.Id)
	if err == nil {
		msg = backupNotFound
		err = s.store.DeleteBackup(ctx, req.Id, req.BackupId)
	}
	switch status, body, err := outcomeOf(err, msg); status {
	case http.StatusOK:
		return genserver.DeleteBackup200JSONResponse(gen.OKOK), nil
	case http.StatusBadRequest:
		return genserver.DeleteBackup400JSONResponse{BadRequestJSONResponse: genserver.BadRequestJSONResponse(body)}, nil
	case http.StatusNotFound:
		return genserver.DeleteBackup404JSONResponse{NotFoundJSONResponse: genserver.NotFoundJSONResponse(body)}, nil
	default:
		return nil, err
	}
}

// RestoreBackup handles POST /v2/redis/restore-backup/{id}: the database's
// keys are replaced by the backup's, streamed from the store to the plane.
// The backup is read twice: first to check that it is whole (checkBackup:
// gzip's checksum, no key decoded), so that a damaged backup leaves the
// database untouched; then to restore it, key by key, which a client going
// away does not stop half done.
func (s *Server) RestoreBackup(ctx context.Context, req genserver.RestoreBackupRequestObject) (genserver.RestoreBackupResponseObject, error) {
	msg := "database not found"
	err := func() error {
		if _, err := s.store.Database(ctx, accountFrom(ctx).Email, req.Id); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), backupTimeout)
		defer cancel()
		msg = backupNotFound
		if err := s.store.ReadBackup(ctx, req.Id, req.Body.BackupId, checkBackup); err != nil {
			return err
		}
		return s.store.ReadBackup(ctx, req.Id, req.Body.BackupId, func(r io.Reader) error {
			msg = "database not found"
			return s.plane.Restore(ctx, req.Id, backupKeys(r))
		})
	}()
	switch status, body, err := outcomeOf(err, msg); status {
	case http.StatusOK:
		return genserver.RestoreBackup200JSONResponse(gen.OKOK), nil
	case http.StatusBadRequest:
		return genserver.RestoreBackup400JSONResponse{BadRequestJSONResponse: genserver.BadRequestJSONResponse(body)}, nil
	case http.StatusNotFound:
		return genserver.RestoreBackup404JSONResponse{NotFoundJSONResponse: genserver.NotFoundJSONResponse(body)}, nil
	default:
		return nil, err
	}
}

func dailyBackup(d *devapi.Database) *bool { return &d.DailyBackup }

// EnableDailyBackup handles PATCH /v2/redis/enable-dailybackup/{id}.
func (s *Server) EnableDailyBackup(ctx context.Context, req genserver.EnableDailyBackupRequestObject) (genserver.EnableDailyBackupResponseObject, error) {
	_, err := s.store.UpdateDatabase(ctx, accountFrom(ctx).Email, req.Id, toggle("daily backup", dailyBackup, true))
	switch status, body, err := outcome(err); status {
	case http.StatusOK:
		return genserver.EnableDailyBackup200JSONResponse(gen.OKOK), nil
	case http.StatusBadRequest:
		return genserver.EnableDailyBackup400JSONResponse{BadRequestJSONResponse: genserver.BadRequestJSONResponse(body)}, nil
	case http.StatusNotFound:
		return genserver.EnableDailyBackup404JSONResponse{NotFoundJSONResponse: genserver.NotFoundJSONResponse(body)}, nil
	default:
		return nil, err
	}
}

// DisableDailyBackup handles PATCH /v2/redis/disable-dailybackup/{id}.
func (s *Server) DisableDailyBackup(ctx context.Context, req genserver.DisableDailyBackupRequestObject) (genserver.DisableDailyBackupResponseObject, error) {
	_, err := s.store.UpdateDatabase(ctx, accountFrom(ctx).Email, req.Id, toggle("daily backup", dailyBackup, false))
	switch status, body, err := outcome(err); status {
	case http.StatusOK:
		return genserver.DisableDailyBackup200JSONResponse(gen.OKOK), nil
	case http.StatusBadRequest:
		return genserver.DisableDailyBackup400JSONResponse{BadRequestJSONResponse: genserver.BadRequestJSONResponse(body)}, nil
	case http.StatusNotFound:
		return genserver.DisableDailyBackup404JSONResponse{NotFoundJSONResponse: genserver.NotFoundJSONResponse(body)}, nil
	default:
		return nil, err
	}
}

// TakeDailyBackups backs up every database with daily backups on whose
// newest daily backup is a day old or more. A database larger than its
// backup limit is skipped with one warning, and not read again that day
// (UTC).
func (s *Server) TakeDailyBackups(ctx context.Context) error {
	dbs, err := s.store.AllDatabases(ctx)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	day := now.Format("2006-01-02")
	for _, d := range dbs {
		if !d.DailyBackup || s.skips.skipped(d.ID, day) {
			continue
		}
		backups, err := s.store.Backups(ctx, d.ID)
		if err != nil {
			return err
		}
		due := true
		for _, b := range backups {
			if b.Daily && now.Sub(b.CreatedAt) < 24*time.Hour {
				due = false
			}
		}
		if !due {
			continue
		}
		replace, ok := s.dailyToReplace(ctx, d, backups)
		if !ok {
			continue
		}
		_, err = s.takeBackup(ctx, d, "daily-"+day, true)
		var tooLarge *tooLargeError
		switch {
		case errors.As(err, &tooLarge):
			s.skips.skip(d.ID, day)
			s.logger.WarnContext(ctx, "daily backup skipped: the database is larger than the backup limit",
				slog.String("database_id", d.ID), slog.String("limit", sizeText(tooLarge.limit)))
			continue
		case err != nil:
			s.logger.WarnContext(ctx, "daily backup failed", slog.String("database_id", d.ID), slog.Any("err", err))
			continue
		}
		s.dropReplaced(ctx, d, replace)
	}
	return nil
}

// dailySkips remembers the databases whose daily backup was skipped today
// for being over the backup limit, so that the hourly run neither reads
// them again nor warns again until the next day. The zero value is ready.
type dailySkips struct {
	mu  sync.Mutex
	day map[string]string // database id -> the day ("2006-01-02") it was skipped
}

// skipped reports whether id was skipped on day.
func (k *dailySkips) skipped(id, day string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.day[id] == day
}

// skip records that id was skipped on day, and forgets earlier days.
func (k *dailySkips) skip(id, day string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for other, d := range k.day {
		if d != day {
			delete(k.day, other)
		}
	}
	if k.day == nil {
		k.day = map[string]string{}
	}
	k.day[id] = day
}

// RunDailyBackups calls TakeDailyBackups every hour until ctx ends.
func (s *Server) RunDailyBackups(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if err := s.TakeDailyBackups(ctx); err != nil && ctx.Err() == nil {
			s.logger.WarnContext(ctx, "daily backups failed", slog.Any("err", err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
