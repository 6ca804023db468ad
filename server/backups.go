package server

import (
	"bytes"
	"context"
	"encoding/gob"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/gen"
)

const backupNotFound = "backup not found"

// takeBackup snapshots d on the plane and stores the snapshot, gob-encoded:
// unlike JSON, gob keeps binary values and infinite scores intact.
func (s *Server) takeBackup(ctx context.Context, d *devapi.Database, name string, daily bool) (*devapi.Backup, error) {
	snap, err := s.plane.Snapshot(ctx, d.ID)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	err = gob.NewEncoder(&buf).Encode(snap)
	data := buf.Bytes()
	if err != nil {
		return nil, fmt.Errorf("server: encode snapshot of %s: %w", d.ID, err)
	}
	b := &devapi.Backup{ID: uuid.NewString(), DatabaseID: d.ID, Name: name, Daily: daily, CreatedAt: s.now().UTC(), Size: int64(len(data)), Data: data}
	if err := s.store.CreateBackup(ctx, b); err != nil {
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
func (s *Server) ListBackup(ctx context.Context, req gen.ListBackupRequestObject) (gen.ListBackupResponseObject, error) {
	owner := accountFrom(ctx).Email
	var backups []*devapi.Backup
	_, err := s.store.Database(ctx, owner, req.Id)
	if err == nil {
		backups, err = s.store.Backups(ctx, req.Id)
	}
	switch status, body, err := outcome(err); status {
	case http.StatusOK:
		out := make(gen.ListBackup200JSONResponse, 0, len(backups))
		for _, b := range backups {
			out = append(out, toBackup(b, owner))
		}
		return out, nil
	case http.StatusBadRequest:
		return gen.ListBackup400JSONResponse{BadRequestJSONResponse: gen.BadRequestJSONResponse(body)}, nil
	case http.StatusNotFound:
		return gen.ListBackup404JSONResponse{NotFoundJSONResponse: gen.NotFoundJSONResponse(body)}, nil
	default:
		return nil, err
	}
}

// CreateBackup handles POST /v2/redis/create-backup/{id}: every key, with
// its type and TTL, is copied before the answer.
func (s *Server) CreateBackup(ctx context.Context, req gen.CreateBackupRequestObject) (gen.CreateBackupResponseObject, error) {
	d, err := s.store.Database(ctx, accountFrom(ctx).Email, req.Id)
	if err == nil {
		var release func()
		if release, err = s.reserveBackup(ctx, d.ID, uuid.NewString()); err == nil {
			defer release()
			_, err = s.takeBackup(ctx, d, req.Body.Name, false)
		}
	}
	return okOutcome[gen.CreateBackupResponseObject]{
		ok: func() gen.CreateBackupResponseObject { return gen.CreateBackup200JSONResponse(gen.OKOK) },
		badRequest: func(b gen.BadRequestJSONResponse) gen.CreateBackupResponseObject {
			return gen.CreateBackup400JSONResponse{BadRequestJSONResponse: b}
		},
		notFound: func(b gen.NotFoundJSONResponse) gen.CreateBackupResponseObject {
			return gen.CreateBackup404JSONResponse{NotFoundJSONResponse: b}
		},
	}.answer(err)
}

// DeleteBackup handles DELETE /v2/redis/delete-backup/{id}/{backup_id}.
func (s *Server) DeleteBackup(ctx context.Context, req gen.DeleteBackupRequestObject) (gen.DeleteBackupResponseObject, error) {
	msg := "database not found"
	_, err := s.store.Database(ctx, accountFrom(ctx).Email, req.Id)
	if err == nil {
		msg = backupNotFound
		err = s.store.DeleteBackup(ctx, req.Id, req.BackupId)
	}
	return okOutcome[gen.DeleteBackupResponseObject]{
		notFound404: msg,
		ok:          func() gen.DeleteBackupResponseObject { return gen.DeleteBackup200JSONResponse(gen.OKOK) },
		badRequest: func(b gen.BadRequestJSONResponse) gen.DeleteBackupResponseObject {
			return gen.DeleteBackup400JSONResponse{BadRequestJSONResponse: b}
		},
		notFound: func(b gen.NotFoundJSONResponse) gen.DeleteBackupResponseObject {
			return gen.DeleteBackup404JSONResponse{NotFoundJSONResponse: b}
		},
	}.answer(err)
}

// RestoreBackup handles POST /v2/redis/restore-backup/{id}: the database's
// keys are replaced by the backup's.
func (s *Server) RestoreBackup(ctx context.Context, req gen.RestoreBackupRequestObject) (gen.RestoreBackupResponseObject, error) {
	msg := "database not found"
	err := func() error {
		if _, err := s.store.Database(ctx, accountFrom(ctx).Email, req.Id); err != nil {
			return err
		}
		msg = backupNotFound
		b, err := s.store.Backup(ctx, req.Id, req.Body.BackupId)
		if err != nil {
			return err
		}
		var snap devapi.Snapshot
		if err := gob.NewDecoder(bytes.NewReader(b.Data)).Decode(&snap); err != nil {
			return fmt.Errorf("server: decode backup %s: %w", b.ID, err)
		}
		msg = "database not found"
		return s.plane.Restore(context.WithoutCancel(ctx), req.Id, snap)
	}()
	return okOutcome[gen.RestoreBackupResponseObject]{
		notFound404: msg,
		ok:          func() gen.RestoreBackupResponseObject { return gen.RestoreBackup200JSONResponse(gen.OKOK) },
		badRequest: func(b gen.BadRequestJSONResponse) gen.RestoreBackupResponseObject {
			return gen.RestoreBackup400JSONResponse{BadRequestJSONResponse: b}
		},
		notFound: func(b gen.NotFoundJSONResponse) gen.RestoreBackupResponseObject {
			return gen.RestoreBackup404JSONResponse{NotFoundJSONResponse: b}
		},
	}.answer(err)
}

func dailyBackup(d *devapi.Database) *bool { return &d.DailyBackup }

// EnableDailyBackup handles PATCH /v2/redis/enable-dailybackup/{id}.
func (s *Server) EnableDailyBackup(ctx context.Context, req gen.EnableDailyBackupRequestObject) (gen.EnableDailyBackupResponseObject, error) {
	_, err := s.store.UpdateDatabase(ctx, accountFrom(ctx).Email, req.Id, toggle("daily backup", dailyBackup, true))
	return okOutcome[gen.EnableDailyBackupResponseObject]{
		ok: func() gen.EnableDailyBackupResponseObject { return gen.EnableDailyBackup200JSONResponse(gen.OKOK) },
		badRequest: func(b gen.BadRequestJSONResponse) gen.EnableDailyBackupResponseObject {
			return gen.EnableDailyBackup400JSONResponse{BadRequestJSONResponse: b}
		},
		notFound: func(b gen.NotFoundJSONResponse) gen.EnableDailyBackupResponseObject {
			return gen.EnableDailyBackup404JSONResponse{NotFoundJSONResponse: b}
		},
	}.answer(err)
}

// DisableDailyBackup handles PATCH /v2/redis/disable-dailybackup/{id}.
func (s *Server) DisableDailyBackup(ctx context.Context, req gen.DisableDailyBackupRequestObject) (gen.DisableDailyBackupResponseObject, error) {
	_, err := s.store.UpdateDatabase(ctx, accountFrom(ctx).Email, req.Id, toggle("daily backup", dailyBackup, false))
	return okOutcome[gen.DisableDailyBackupResponseObject]{
		ok: func() gen.DisableDailyBackupResponseObject { return gen.DisableDailyBackup200JSONResponse(gen.OKOK) },
		badRequest: func(b gen.BadRequestJSONResponse) gen.DisableDailyBackupResponseObject {
			return gen.DisableDailyBackup400JSONResponse{BadRequestJSONResponse: b}
		},
		notFound: func(b gen.NotFoundJSONResponse) gen.DisableDailyBackupResponseObject {
			return gen.DisableDailyBackup404JSONResponse{NotFoundJSONResponse: b}
		},
	}.answer(err)
}

// TakeDailyBackups backs up every database with daily backups on whose
// newest daily backup is a day old or more.
func (s *Server) TakeDailyBackups(ctx context.Context) error {
	dbs, err := s.store.AllDatabases(ctx)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	for _, d := range dbs {
		if !d.DailyBackup {
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
		if _, err := s.takeBackup(ctx, d, "daily-"+now.Format("2006-01-02"), true); err != nil {
			s.logger.WarnContext(ctx, "daily backup failed", slog.String("database_id", d.ID), slog.Any("err", err))
			continue
		}
		s.dropReplaced(ctx, d, replace)
	}
	return nil
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
