package server

import (
	"context"
	"log/slog"
	"sync"

	"github.com/devapi-dev/devapi"
)

// Defaults of the quotas in Config.
const (
	// Ten times what a developer's projects need, and a tenth of the
	// default port range: one account cannot take every port.
	defaultMaxDatabases = 100
	// A team is an account that owns databases of its own, so one person
	// holds at most (1 + teams) x databases: with 5 teams, 600, still below
	// the 1,000 ports of the default range.
	defaultMaxTeams = 5
	// Fifty copies of a database, each up to its plan's size.
	defaultMaxBackups = 50
)

// quotaLimit returns the cap a Config field asks for: its default when 0,
// none (-1) when negative.
func quotaLimit(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return -1
	}
	return v
}

// quota counts the things a key holds (the databases of an account, the
// teams an account owns, the backups of a database) together with the
// creates of them under way, so that two creates at the last slot do not
// both pass.
//
// The count and the reservation happen under a lock of the key in this
// process, and a reservation lasts until its create is stored or failed: so
// on one devapi (SQLite, which one process holds) a cap is exact, while
// creates of other keys and other creates of the same key below the cap run
// side by side. Replicas on one PostgreSQL store do not see each other's
// creates under way: at the last slot each of them may let one through, so
// a key may end up to (replicas - 1) over its cap, never more.
type quota struct {
	mu   sync.Mutex
	keys map[string]*quotaKey
}

type quotaKey struct {
	mu      sync.Mutex      // held while counting and reserving
	pending map[string]bool // ids of creates under way; guarded by mu
	users   int             // callers holding or waiting for mu, plus reservations; guarded by quota.mu
}

// acquire returns key's entry, locked.
func (q *quota) acquire(key string) *quotaKey {
	q.mu.Lock()
	if q.keys == nil {
		q.keys = map[string]*quotaKey{}
	}
	k := q.keys[key]
	if k == nil {
		k = &quotaKey{pending: map[string]bool{}}
		q.keys[key] = k
	}
	k.users++
	q.mu.Unlock()
	k.mu.Lock()
	return k
}

// done drops one use of key's entry, and the entry with the last.
func (q *quota) done(key string, k *quotaKey) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if k.users--; k.users == 0 {
		delete(q.keys, key)
	}
}

// reserve reserves a slot under key for the create of id, when the ids
// stored under key (stored is called under the key's lock) and the creates
// under way are fewer than limit. It returns the function that frees the
// reservation, to call once the create is stored or failed; or, at the cap,
// full. A negative limit reserves nothing and is never full.
func (q *quota) reserve(key, id string, limit int, stored func() ([]string, error)) (release func(), full bool, err error) {
	if limit < 0 {
		return func() {}, false, nil
	}
	k := q.acquire(key)
	ids, err := stored()
	if err != nil {
		k.mu.Unlock()
		q.done(key, k)
		return nil, false, err
	}
	n := len(ids)
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		seen[id] = true
	}
	for p := range k.pending {
		if !seen[p] {
			n++
		}
	}
	// A create of what is stored already (a move to the team that owns the
	// database) or under way adds nothing.
	if adds := !seen[id] && !k.pending[id]; adds && n >= limit {
		k.mu.Unlock()
		q.done(key, k)
		return nil, true, nil
	}
	k.pending[id] = true
	k.mu.Unlock() // the entry stays, used by the reservation, until release
	var once sync.Once
	return func() {
		once.Do(func() {
			k.mu.Lock()
			delete(k.pending, id)
			k.mu.Unlock()
			q.done(key, k)
		})
	}, false, nil
}

// reserveDatabase reserves a slot for database id among owner's databases:
// a create, or a move to the team account owner. EINVALID at the cap.
func (s *Server) reserveDatabase(ctx context.Context, owner, id string) (func(), error) {
	release, full, err := s.quota.reserve("databases\x00"+owner, id, s.maxDatabases, func() ([]string, error) {
		dbs, err := s.store.Databases(ctx, owner)
		ids := make([]string, len(dbs))
		for i, d := range dbs {
			ids[i] = d.ID
		}
		return ids, err
	})
	if full {
		return nil, devapi.Errorf(devapi.EINVALID, "database limit reached: an account may have at most %d databases", s.maxDatabases)
	}
	return release, err
}

// reserveTeam reserves a slot for team id among the teams email owns.
// EINVALID at the cap.
func (s *Server) reserveTeam(ctx context.Context, email, id string) (func(), error) {
	release, full, err := s.quota.reserve("teams\x00"+email, id, s.maxTeams, func() ([]string, error) {
		teams, err := s.store.Teams(ctx, email)
		var ids []string
		for _, m := range teams {
			if m.Role == devapi.RoleOwner {
				ids = append(ids, m.Team.ID)
			}
		}
		return ids, err
	})
	if full {
		return nil, devapi.Errorf(devapi.EINVALID, "team limit reached: an account may own at most %d teams", s.maxTeams)
	}
	return release, err
}

// reserveBackup reserves a slot for backup id among the backups of
// database dbID. EINVALID at the cap.
func (s *Server) reserveBackup(ctx context.Context, dbID, id string) (func(), error) {
	release, full, err := s.quota.reserve("backups\x00"+dbID, id, s.maxBackups, func() ([]string, error) {
		backups, err := s.store.Backups(ctx, dbID)
		ids := make([]string, len(backups))
		for i, b := range backups {
			ids[i] = b.ID
		}
		return ids, err
	})
	if full {
		return nil, devapi.Errorf(devapi.EINVALID, "backup limit reached: a database may have at most %d backups; delete one first", s.maxBackups)
	}
	return release, err
}

// dailyToReplace returns, when database d's backups fill its cap, the
// oldest daily one, for a new daily backup to replace; ok is false when the
// daily backup is to be skipped: the cap is full of requested backups, which
// only their owner deletes (logged at WARN).
func (s *Server) dailyToReplace(ctx context.Context, d *devapi.Database, backups []*devapi.Backup) (replace *devapi.Backup, ok bool) {
	if s.maxBackups < 0 || len(backups) < s.maxBackups {
		return nil, true
	}
	for _, b := range backups { // oldest first
		if b.Daily {
			return b, true
		}
	}
	s.logger.WarnContext(ctx, "daily backup skipped: the database has as many backups as it may, none of them daily",
		slog.String("database_id", d.ID), slog.Int("max_backups", s.maxBackups))
	return nil, false
}

// dropReplaced deletes the daily backup a new one replaced, if any.
func (s *Server) dropReplaced(ctx context.Context, d *devapi.Database, replaced *devapi.Backup) {
	if replaced == nil {
		return
	}
	if err := s.store.DeleteBackup(ctx, d.ID, replaced.ID); err != nil && devapi.ErrorCode(err) != devapi.ENOTFOUND {
		s.logger.WarnContext(ctx, "cannot delete the daily backup a new one replaced", slog.String("database_id", d.ID),
			slog.String("backup_id", replaced.ID), slog.Any("err", err))
	}
}
