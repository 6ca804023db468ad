// Package embeddedplane is the default devapi.Plane: every database is an
// in-process Redis (github.com/alicebob/miniredis/v2) listening on its own
// TCP port, with TLS where the database has it.
//
// miniredis is a test double; this package makes it behave like a server:
//   - Its clock only moves on FastForward/SetTime unless ClockTTL is on:
//     every database runs with ClockTTL, so TTLs follow the wall clock and
//     keys expire in real time.
//   - Its Restart comes back without TLS, so a database is always started
//     with StartAddrTLS (or StartAddr) and never restarted.
//
// Data lives in memory only: keys are gone when devapi stops. Passwords are
// not: devapi keeps them in its store and serves them again at start-up.
// What miniredis does not do (eviction, memory accounting, most of INFO,
// DUMP/RESTORE beyond strings) is listed in the README.
package embeddedplane

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"

	"github.com/alicebob/miniredis/v2"

	"github.com/devapi-dev/devapi"
)

// Plane serves databases with miniredis.
type Plane struct {
	cfg devapi.PlaneConfig

	mu     sync.Mutex
	dbs    map[string]*database
	closed bool
}

// database is one served database. mu orders password changes.
type database struct {
	mu         sync.Mutex
	spec       devapi.PlaneDatabase
	redis      *miniredis.Miniredis
	generation int64
}

var _ devapi.Plane = (*Plane)(nil)

// New returns a Plane that serves no database yet.
func New(cfg devapi.PlaneConfig) *Plane {
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	return &Plane{cfg: cfg, dbs: map[string]*database{}}
}

func (p *Plane) get(id string) (*database, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	d, ok := p.dbs[id]
	if !ok {
		return nil, devapi.Errorf(devapi.ENOTFOUND, "database %s is not served", id)
	}
	return d, nil
}

// Serve implements devapi.Plane.
func (p *Plane) Serve(ctx context.Context, spec devapi.PlaneDatabase) error {
	p.mu.Lock()
	d, ok := p.dbs[spec.ID]
	p.mu.Unlock()
	if ok && (d.spec.Port != spec.Port || d.spec.TLS != spec.TLS) {
		// A changed listener: start a new Redis and move the data over.
		return p.relisten(d, spec)
	}
	if ok {
		return d.setPassword(spec.Password, spec.Generation, true)
	}
	m, err := p.start(spec, nil)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		m.Close()
		return fmt.Errorf("embeddedplane: closed")
	}
	if _, raced := p.dbs[spec.ID]; raced {
		m.Close()
		return devapi.Errorf(devapi.ECONFLICT, "database %s is being served already", spec.ID)
	}
	p.dbs[spec.ID] = &database{spec: spec, redis: m, generation: spec.Generation}
	return nil
}

// start runs a new miniredis for spec, on its port, with TLS if asked.
func (p *Plane) start(spec devapi.PlaneDatabase, m *miniredis.Miniredis) (*miniredis.Miniredis, error) {
	if m == nil {
		m = miniredis.NewMiniRedis()
	}
	m.ClockTTL(true)
	m.RequireUserAuth("default", spec.Password)
	addr := net.JoinHostPort(p.cfg.Host, strconv.Itoa(spec.Port))
	var err error
	if spec.TLS {
		if p.cfg.TLS == nil {
			return nil, fmt.Errorf("embeddedplane: database %s wants TLS but the plane has no certificate", spec.ID)
		}
		err = m.StartAddrTLS(addr, p.cfg.TLS)
	} else {
		err = m.StartAddr(addr)
	}
	if err != nil {
		return nil, fmt.Errorf("embeddedplane: serve database %s on %s: %w", spec.ID, addr, err)
	}
	return m, nil
}

// relisten moves a database to a new port or TLS setting, keeping its keys.
func (p *Plane) relisten(d *database, spec devapi.PlaneDatabase) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.redis.Close()
	if spec.Generation < d.generation {
		spec.Password = d.spec.Password
		spec.Generation = d.generation
	}
	if _, err := p.start(spec, d.redis); err != nil {
		return err
	}
	d.spec, d.generation = spec, spec.Generation
	return nil
}

// SetPassword implements devapi.Plane.
func (p *Plane) SetPassword(_ context.Context, id, password string, generation int64) error {
	d, err := p.get(id)
	if err != nil {
		return err
	}
	return d.setPassword(password, generation, false)
}

// setPassword applies password when generation is newer than the one held
// (or as new, when orEqual).
func (d *database) setPassword(password string, generation int64, orEqual bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if generation < d.generation || (generation == d.generation && !orEqual) {
		return nil
	}
	d.redis.RequireUserAuth("default", password)
	d.spec.Password, d.generation = password, generation
	return nil
}

// Remove implements devapi.Plane.
func (p *Plane) Remove(_ context.Context, id string) error {
	p.mu.Lock()
	d, ok := p.dbs[id]
	delete(p.dbs, id)
	p.mu.Unlock()
	if ok {
		d.mu.Lock()
		d.redis.Close()
		d.mu.Unlock()
	}
	return nil
}

// Status implements devapi.Plane. miniredis counts commands and
// connections; Connections excludes none, since devapi holds none open.
func (p *Plane) Status(_ context.Context, id string) (devapi.PlaneStatus, error) {
	d, err := p.get(id)
	if err != nil {
		return devapi.PlaneStatus{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var keys int64
	for i := range 16 {
		keys += int64(len(d.redis.DB(i).Keys()))
	}
	return devapi.PlaneStatus{
		State:            devapi.PlaneRunning,
		Generation:       d.generation,
		Addr:             d.redis.Addr(),
		Keys:             keys,
		Connections:      int64(d.redis.CurrentConnectionCount()),
		TotalConnections: int64(d.redis.TotalConnectionCount()),
		Commands:         int64(d.redis.CommandCount()),
	}, nil
}

// Databases implements devapi.Plane.
func (p *Plane) Databases(context.Context) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ids := make([]string, 0, len(p.dbs))
	for id := range p.dbs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}

// Close stops every database. Their keys are gone.
func (p *Plane) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for id, d := range p.dbs {
		d.redis.Close()
		delete(p.dbs, id)
	}
	return nil
}
