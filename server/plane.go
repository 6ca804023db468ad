package server

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/placement"
)

// planeSpec is what the plane needs to serve d.
func planeSpec(d *devapi.Database) devapi.PlaneDatabase {
	limits, _ := devapi.PlanLimits(d.Plan)
	return devapi.PlaneDatabase{ID: d.ID, Port: d.Port, TLS: d.TLS, Password: d.Password, Generation: d.Generation,
		MaxMemory: limits.MemoryThreshold, Eviction: d.Eviction, MaxClients: int(limits.MaxClients), AllowedIPs: d.AllowedIPs}
}

// planeContext bounds one call into the plane by Config.PlaneTimeout (and
// at most a 64th of it more, see planeDeadlines). It keeps ctx's values but
// not its cancellation: a change the store committed is finished on the
// plane even if the caller goes away. The CancelFunc releases nothing (the
// deadline's timer is shared); callers call it all the same, as for any
// context.
func (s *Server) planeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return &planeCtx{Context: context.WithoutCancel(ctx), deadline: s.planeDeadlines.next(time.Now(), s.planeTimeout)}, noCancel
}

func noCancel() {}

// planeDeadlines hands out the deadlines of plane calls. A
// context.WithTimeout per call cost a timer and three allocations on every
// request; here the calls that start within the same 64th of the timeout
// share one deadline and its one timer, so each gets between the timeout
// and a 64th more. The zero value is ready.
type planeDeadlines struct {
	cur atomic.Pointer[planeDeadline]
	mu  sync.Mutex // held to make a new one
}

// planeDeadline is a deadline shared by plane calls: done is closed at at.
type planeDeadline struct {
	at   time.Time
	done chan struct{}
}

// next returns a deadline between now+timeout and a 64th of timeout later.
func (p *planeDeadlines) next(now time.Time, timeout time.Duration) *planeDeadline {
	want := now.Add(timeout)
	fits := func(d *planeDeadline) bool {
		return d != nil && !d.at.Before(want) && d.at.Sub(want) <= timeout/64
	}
	if d := p.cur.Load(); fits(d) {
		return d
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if d := p.cur.Load(); fits(d) {
		return d
	}
	d := &planeDeadline{at: want.Add(timeout / 64), done: make(chan struct{})}
	time.AfterFunc(d.at.Sub(now), func() { close(d.done) })
	p.cur.Store(d)
	return d
}

// planeCtx is a context whose deadline is a shared planeDeadline, with the
// values of Context (a context.WithoutCancel, which hides its parent's
// cancellation from context.Cause too).
type planeCtx struct {
	context.Context
	deadline *planeDeadline
}

func (c *planeCtx) Deadline() (time.Time, bool) { return c.deadline.at, true }

func (c *planeCtx) Done() <-chan struct{} { return c.deadline.done }

func (c *planeCtx) Err() error {
	select {
	case <-c.deadline.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// Reconcile makes the plane match the store, as start-up must after a crash:
// it serves every stored database with its stored password (the password of
// the reset that committed last), and deals with what the plane holds for
// databases the store does not have (see dropOrphans: nothing is deleted on
// the word of a store that holds no database). A database that cannot be
// served is logged at WARN, shows the state "unavailable", and is left to
// RunReconcile, so one taken port does not keep the others down; so is an
// orphan that cannot be removed (a pool server that does not answer). On a
// Placer, shared by replicas, what the store does not have is removed only
// when the previous Reconcile found it too (see confirmedOrphans).
func (s *Server) Reconcile(ctx context.Context) error {
	return s.reconcile(ctx, false)
}

// reconcile is Reconcile at start, and RunReconcile's round when
// periodic: then each stored database is checked (repair) rather than
// served again, every orphan must be found twice, and the summary is
// logged at DEBUG (failures are logged once per episode).
func (s *Server) reconcile(ctx context.Context, periodic bool) error {
	dbs, err := s.store.AllDatabases(ctx)
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	stored := make(map[string]bool, len(dbs))
	var failed int
	for _, d := range dbs {
		stored[d.ID] = true
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if periodic {
			if s.repair(ctx, d) != nil {
				failed++
			}
			continue
		}
		// No plane timeout at start: adopting a redis-server that
		// reads a large append-only file takes minutes.
		if err := s.plane.Serve(ctx, planeSpec(d)); err != nil {
			failed++
			s.planeDown(ctx, d.ID, stateUnavailable, err)
			continue
		}
		s.planeUp(ctx, d.ID)
	}
	s.health.forget(stored)
	held, err := s.plane.Databases(ctx)
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	failed += s.dropOrphans(ctx, s.confirmedOrphans(held, stored, periodic), len(dbs))
	level := slog.LevelInfo
	switch {
	case periodic:
		level = slog.LevelDebug
	case failed > 0:
		level = slog.LevelWarn
	}
	s.logger.Log(ctx, level, "reconciled data plane", slog.Int("databases", len(dbs)), slog.Int("failed", failed))
	return nil
}

// dropOrphans deals with orphans, databases the plane holds and the store
// does not have, and returns how many it failed to. A Retirer moves their
// data aside (devapi orphans lists and purges it). Another plane removes
// them, but only while the store holds some database (stored): a store that
// is new or was emptied says nothing about what should be deleted, so then
// they are kept, with one warning per orphan.
func (s *Server) dropOrphans(ctx context.Context, orphans []string, stored int) (failed int) {
	retirer, retires := s.plane.(devapi.Retirer)
	if !retires && stored == 0 {
		s.orphanMu.Lock()
		var fresh []string
		for _, id := range orphans {
			if !s.keptOrphans[id] {
				fresh = append(fresh, id)
			}
			if s.keptOrphans == nil {
				s.keptOrphans = map[string]bool{}
			}
			s.keptOrphans[id] = true
		}
		s.orphanMu.Unlock()
		for _, id := range fresh {
			s.logger.WarnContext(ctx, "the store holds no database but the data plane holds this one: kept, since a new or emptied store is no reason to delete",
				slog.String("database_id", id))
		}
		return 0
	}
	for _, id := range orphans {
		if retires {
			where, err := retirer.Retire(ctx, id)
			if err != nil {
				failed++
				s.logger.ErrorContext(ctx, "cannot move aside a database the store does not have", slog.String("database_id", id), slog.Any("err", err))
				continue
			}
			if where != "" {
				s.logger.WarnContext(ctx, "moved a database the store does not have to the orphans folder (devapi orphans lists and purges them)",
					slog.String("database_id", id), slog.String("path", where))
			}
			continue
		}
		if err := s.plane.Remove(ctx, id); err != nil {
			failed++
			s.logger.ErrorContext(ctx, "cannot remove a database the store does not have", slog.String("database_id", id), slog.Any("err", err))
			continue
		}
		s.logger.WarnContext(ctx, "removed a database the store does not have", slog.String("database_id", id))
	}
	return failed
}

// confirmedOrphans returns the ids of held that the store does not have and
// that may be dropped now. On a Placer, shared by replicas, another
// replica's create places a database before it stores it, and on any plane a create of this process
// may be stored after the round read the store and served before it read
// the plane: such a database looks like an orphan for a moment. So on a
// Placer, and in periodic rounds, only ids found orphaned by this process's
// previous round too are returned; a create is long done by then. At start
// on another plane nothing is under way.
func (s *Server) confirmedOrphans(held []string, stored map[string]bool, periodic bool) []string {
	var orphans []string
	for _, id := range held {
		if !stored[id] {
			orphans = append(orphans, id)
		}
	}
	if !s.sharedPlane() && !periodic {
		return orphans
	}
	s.orphanMu.Lock()
	defer s.orphanMu.Unlock()
	seen := s.orphans
	s.orphans = make(map[string]bool, len(orphans))
	var confirmed []string
	for _, id := range orphans {
		// Confirmed ones stay marked too: one whose Remove fails is
		// confirmed again next time.
		s.orphans[id] = true
		if seen[id] {
			confirmed = append(confirmed, id)
		}
	}
	return confirmed
}

// RunReconcile repairs the plane every interval until ctx ends: every
// stored database whose plane state or password generation differs from
// the store is served again (on a Placer every one is, see repair), so a
// reset the plane could not apply, a database whose port was taken at
// start, and what a replica that died in the middle of a change left
// behind on a shared plane are repaired without a restart; orphans found
// twice are dropped (dropOrphans). A database's failures are logged once
// per episode, and its state shows them meanwhile.
func (s *Server) RunReconcile(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Repair(ctx); err != nil && ctx.Err() == nil {
				s.logger.ErrorContext(ctx, "periodic reconcile failed", slog.Any("err", err))
			}
		}
	}
}

// Repair runs one round of RunReconcile. It fails only when the store or
// the plane cannot list databases; a database it cannot repair is logged
// (once per episode) and left to the next round.
func (s *Server) Repair(ctx context.Context) error {
	return s.reconcile(ctx, true)
}

// createOnPlane stores d on a free port of the range and serves it. Ports
// that another process holds are skipped. The port is reserved in memory
// (reservePort), so a create reads neither every database nor every port,
// and creates run their commits side by side. A port another process takes
// between the probe and the Serve costs a retry on another port.
func (s *Server) createOnPlane(ctx context.Context, d *devapi.Database) error {
	if placer, ok := s.placer(); ok {
		return s.createPlaced(ctx, placer, d)
	}
	const attempts = 3
	for attempt := 1; ; attempt++ {
		port, err := s.reservePort(ctx)
		if err != nil {
			return err
		}
		d.Port = port
		d.RestToken, d.ReadOnlyRestToken = devapi.NewRestTokens(d.ID, port, d.Password)
		if err := s.store.CreateDatabase(ctx, d); err != nil {
			s.releasePort(port, false)
			return err
		}
		pctx, cancel := s.planeContext(ctx)
		err = s.plane.Serve(pctx, planeSpec(d))
		cancel()
		if err == nil {
			s.storedPort(port)
			return nil
		}
		// Not served: take it back out of the store so nothing half-made stays.
		if derr := s.store.DeleteDatabase(context.WithoutCancel(ctx), d.Owner, d.ID); derr != nil {
			s.logger.ErrorContext(ctx, "cannot undo a failed create", slog.String("database_id", d.ID), slog.Any("err", derr))
			s.storedPort(port) // still stored: its port stays taken
			return err
		}
		taken := !placement.Bindable(port)
		s.releasePort(port, taken)
		if !taken || attempt == attempts {
			return err
		}
		s.logger.WarnContext(ctx, "port taken by another process meanwhile; trying another", slog.Int("port", port), slog.Any("err", err))
	}
}

// createPlaced stores d where placer puts it and serves it there. The place
// is reserved before the database is stored, and freed again if the database
// cannot be stored or served.
func (s *Server) createPlaced(ctx context.Context, placer devapi.Placer, d *devapi.Database) error {
	p, err := placer.Place(ctx, d.ID, d.TLS)
	if err != nil {
		return err
	}
	undo := func() {
		if err := placer.Remove(context.WithoutCancel(ctx), d.ID); err != nil {
			s.logger.ErrorContext(ctx, "cannot free the place of a failed create", slog.String("database_id", d.ID), slog.Any("err", err))
		}
	}
	d.Endpoint, d.Port, d.TLS = p.Host, p.Port, p.TLS
	d.RestToken, d.ReadOnlyRestToken = devapi.NewRestTokens(d.ID, d.Port, d.Password)
	if err := s.store.CreateDatabase(ctx, d); err != nil {
		undo()
		return err
	}
	pctx, cancel := s.planeContext(ctx)
	defer cancel()
	if err := s.plane.Serve(pctx, planeSpec(d)); err != nil {
		if derr := s.store.DeleteDatabase(context.WithoutCancel(ctx), d.Owner, d.ID); derr != nil {
			s.logger.ErrorContext(ctx, "cannot undo a failed create", slog.String("database_id", d.ID), slog.Any("err", derr))
		}
		undo()
		return err
	}
	return nil
}

// A devapi.Placer plane means three things to the server, each asked by a
// name of its own so that a reader sees which one a check is about (and so
// that, should a plane ever mean one without the others, one function
// changes).

// placer answers the plane as a devapi.Placer when it decides itself where
// each database lives (a pool of running servers), instead of a port of
// devapi's range.
func (s *Server) placer() (devapi.Placer, bool) {
	p, ok := s.plane.(devapi.Placer)
	return p, ok
}

// sharedPlane reports whether other devapi replicas serve from the same
// plane and store: another process may be creating a database right now
// (an id the plane holds but the store has not yet is no orphan), and a
// password the store records applied may not be on the plane (only
// applying again tells).
func (s *Server) sharedPlane() bool {
	_, ok := s.placer()
	return ok
}

// fixedTLS reports whether a database's TLS is fixed by where it was
// placed, so that a change of TLS is refused.
func (s *Server) fixedTLS() bool {
	_, ok := s.placer()
	return ok
}
