package redisserverplane

import (
	"context"
	"fmt"
	"iter"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/respsnapshot"
)

// running returns the instance of a database that runs, with its lock held.
func (p *Plane) running(id string) (*instance, error) {
	in, err := p.lock(id, false)
	if err != nil {
		return nil, err
	}
	if !in.running {
		in.mu.Unlock()
		return nil, devapi.Errorf(devapi.ENOTFOUND, "database %s is not served", id)
	}
	return in, nil
}

// admin returns the admin client of a running database. The instance's
// lock is held only to read it, not while keys stream to or from the
// caller, so a backup being stored does not hold up a password change or a
// status; a database stopped or restarted meanwhile fails the stream with
// the closed client's error.
func (p *Plane) admin(id string) (*redis.Client, error) {
	in, err := p.running(id)
	if err != nil {
		return nil, err
	}
	defer in.mu.Unlock()
	return in.admin, nil
}

// Snapshot implements devapi.Plane with respsnapshot.Take as devapi-admin:
// typed reads, not DUMP, whose format only Redis reads. EINVALID for a key
// of another type (a module's, a vector set).
func (p *Plane) Snapshot(ctx context.Context, id string, emit func(devapi.SnapshotKey) error) error {
	admin, err := p.admin(id)
	if err != nil {
		return err
	}
	if err := respsnapshot.Take(ctx, admin, emit); err != nil {
		return fmt.Errorf("redisserverplane: snapshot of %s: %w", id, err)
	}
	return nil
}

// Restore implements devapi.Plane with respsnapshot.Restore as devapi-admin:
// FLUSHALL, then typed writes and PEXPIRE, pipelined. A write Redis refuses
// (OOM at the memory cap) stops it half done.
func (p *Plane) Restore(ctx context.Context, id string, keys iter.Seq2[devapi.SnapshotKey, error]) error {
	admin, err := p.admin(id)
	if err != nil {
		return err
	}
	if err := respsnapshot.Restore(ctx, admin, keys); err != nil {
		return fmt.Errorf("redisserverplane: restore %s: %w", id, err)
	}
	return nil
}
