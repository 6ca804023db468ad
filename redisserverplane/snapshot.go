package redisserverplane

import (
	"context"
	"fmt"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/respsnapshot"
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

// Snapshot implements devapi.Plane with respsnapshot.Take as devapi-admin:
// typed reads, not DUMP, whose format only Redis reads. EINVALID for a key
// of another type (a module's, a vector set).
func (p *Plane) Snapshot(ctx context.Context, id string) (devapi.Snapshot, error) {
	in, err := p.running(id)
	if err != nil {
		return devapi.Snapshot{}, err
	}
	defer in.mu.Unlock()
	s, err := respsnapshot.Take(ctx, in.admin)
	if err != nil {
		return devapi.Snapshot{}, fmt.Errorf("redisserverplane: snapshot of %s: %w", id, err)
	}
	return s, nil
}

// Restore implements devapi.Plane with respsnapshot.Restore as devapi-admin:
// FLUSHALL, then typed writes and PEXPIRE, pipelined. A write Redis refuses
// (OOM at the memory cap) stops it half done.
func (p *Plane) Restore(ctx context.Context, id string, s devapi.Snapshot) error {
	if err := s.Validate(); err != nil {
		return err
	}
	in, err := p.running(id)
	if err != nil {
		return err
	}
	defer in.mu.Unlock()
	if err := respsnapshot.Restore(ctx, in.admin, s); err != nil {
		return fmt.Errorf("redisserverplane: restore %s: %w", id, err)
	}
	return nil
}
