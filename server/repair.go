package server

import (
	"context"
	"log/slog"
	"sync"

	"github.com/devapi-dev/devapi"
)

// States a database's `state` shows besides the stored one ("active"),
// from what the plane reports about it (see healthBook).
const (
	// stateRestarting: its Redis died and the plane is starting it again
	// (devapi.PlaneRestarting).
	stateRestarting = "restarting"
	// stateUnavailable: the plane does not serve it as stored: not at all
	// (its port was taken at start), stopped, not answering, or on a
	// password older than the stored one. The repair loop keeps trying.
	stateUnavailable = "unavailable"
)

// healthBook holds the databases the plane does not serve as stored, with
// the state their answers show, as the repair loop (Reconcile,
// RunReconcile) and reset-password found them last. A database not in it
// shows its stored state. Entering it starts a failure episode, logged at
// WARN once; leaving it ends one, logged at INFO.
type healthBook struct {
	mu   sync.Mutex
	down map[string]string // database id -> stateRestarting or stateUnavailable
}

// state returns the state to show for a database whose stored state is
// stored.
func (h *healthBook) state(id, stored string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if st, ok := h.down[id]; ok {
		return st
	}
	return stored
}

// isDown reports whether the plane was last found not to serve id as
// stored.
func (h *healthBook) isDown(id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.down[id]
	return ok
}

// planeDown records that the plane does not serve database id as stored,
// and why; the first time in an episode it logs a warning.
func (s *Server) planeDown(ctx context.Context, id, state string, why error) {
	s.health.mu.Lock()
	_, already := s.health.down[id]
	if s.health.down == nil {
		s.health.down = map[string]string{}
	}
	s.health.down[id] = state
	s.health.mu.Unlock()
	if already {
		return
	}
	attrs := []any{slog.String("database_id", id), slog.String("state", state)}
	if why != nil {
		attrs = append(attrs, slog.Any("err", why))
	}
	s.logger.WarnContext(ctx, "the data plane does not serve a database as stored; devapi keeps repairing it", attrs...)
}

// planeUp records that the plane serves database id as stored, ending a
// failure episode.
func (s *Server) planeUp(ctx context.Context, id string) {
	s.health.mu.Lock()
	_, was := s.health.down[id]
	delete(s.health.down, id)
	s.health.mu.Unlock()
	if was {
		s.logger.InfoContext(ctx, "the data plane serves the database as stored again", slog.String("database_id", id))
	}
}

// forget drops what the book holds of databases not in stored.
func (h *healthBook) forget(stored map[string]bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id := range h.down {
		if !stored[id] {
			delete(h.down, id)
		}
	}
}

// repair brings the plane in line with stored database d: on a Placer it
// serves d again (a pool server that restarted may have lost the password
// while the store records it applied, so only applying tells); elsewhere
// it asks the plane first and serves d only when the plane does not serve
// it, or serves it on another password generation. A database the plane
// restarts on its own, or that does not answer, is left to the next round.
func (s *Server) repair(ctx context.Context, d *devapi.Database) error {
	pctx, cancel := s.planeContext(ctx)
	defer cancel()
	if !s.sharedPlane() {
		st, err := s.plane.Status(pctx, d.ID)
		switch {
		case err == nil && st.State == devapi.PlaneRunning && st.Generation == d.Generation:
			s.planeUp(ctx, d.ID)
			return nil
		case err == nil && st.State == devapi.PlaneRestarting:
			s.planeDown(ctx, d.ID, stateRestarting, nil)
			return nil
		case err != nil && devapi.ErrorCode(err) != devapi.ENOTFOUND:
			s.planeDown(ctx, d.ID, stateUnavailable, err)
			return err
		}
	}
	if err := s.plane.Serve(pctx, planeSpec(d)); err != nil {
		s.planeDown(ctx, d.ID, stateUnavailable, err)
		return err
	}
	s.planeUp(ctx, d.ID)
	return nil
}
