// Package embeddedplane is the default devapi.Plane: every database is an
// in-process Redis (github.com/alicebob/miniredis/v2) listening on its own
// TCP port, with TLS where the database has it.
//
// miniredis is a test double; this package makes it behave like a server:
//   - Its clock only moves on FastForward/SetTime unless ClockTTL is on:
//     every database runs with ClockTTL, so TTLs follow the wall clock and
//     keys expire in real time.
//   - Its listener gives up on the first accept error and lets anyone talk
//     before AUTH, so miniredis runs without one: devapi's front door
//     (conn.go) accepts connections, limits them, authenticates them,
//     applies the command policy and hands them to miniredis.
//
// Data lives in memory only: keys are gone when devapi stops. Passwords are
// not: devapi keeps them in its store and serves them again at start-up.
// What miniredis does not do (eviction, memory accounting, most of INFO,
// DUMP/RESTORE beyond strings) is listed in the README.
package embeddedplane

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/devapi-dev/devapi"
)

// Script limits when PlaneConfig leaves them 0.
const (
	defaultScriptTimeLimit   = 5 * time.Second
	defaultScriptMemoryLimit = 256 << 20
)

// Plane serves databases with miniredis.
type Plane struct {
	cfg devapi.PlaneConfig
	log *slog.Logger
	// authTimeout closes connections that do not authenticate in time
	// (defaultAuthTimeout), writeTimeout those that do not take what is
	// written to them (defaultWriteTimeout); tests shorten them.
	authTimeout  time.Duration
	writeTimeout time.Duration

	mu     sync.Mutex
	dbs    map[string]*database
	closed bool
}

// database is one served database. mu orders password changes and moves of
// its listener.
type database struct {
	mu         sync.Mutex
	spec       devapi.PlaneDatabase
	redis      *miniredis.Miniredis
	front      *front
	generation int64
	// password is what AUTH compares with, read by the front without mu.
	password atomic.Pointer[string]
	// carried counts the connections earlier fronts accepted.
	carried int64
	// functions are its function libraries, kept across fronts.
	functions *functionLibs
}

var _ devapi.Plane = (*Plane)(nil)

// New returns a Plane that serves no database yet.
func New(cfg devapi.PlaneConfig) *Plane {
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Plane{cfg: cfg, log: log, authTimeout: defaultAuthTimeout, writeTimeout: defaultWriteTimeout, dbs: map[string]*database{}}
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
	if ok {
		return p.update(d, spec)
	}
	d, err := p.start(spec)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		d.stop()
		return fmt.Errorf("embeddedplane: closed")
	}
	if _, raced := p.dbs[spec.ID]; raced {
		d.stop()
		return devapi.Errorf(devapi.ECONFLICT, "database %s is being served already", spec.ID)
	}
	p.dbs[spec.ID] = d
	return nil
}

// start runs a new miniredis for spec, on its port, with TLS if asked.
func (p *Plane) start(spec devapi.PlaneDatabase) (*database, error) {
	ln, err := p.listen(spec)
	if err != nil {
		return nil, err
	}
	m := miniredis.NewMiniRedis()
	m.ClockTTL(true)
	// Dial starts miniredis's server without a listener; the front door
	// hands it connections. The pipe itself is not needed.
	pipe, err := m.Dial()
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("embeddedplane: start database %s: %w", spec.ID, err)
	}
	_ = pipe.Close()
	if err := addCommands(m); err != nil {
		m.Close()
		_ = ln.Close()
		return nil, err
	}
	d := &database{spec: spec, redis: m, generation: spec.Generation, functions: newFunctionLibs()}
	d.password.Store(&spec.Password)
	d.front = openFront(m, ln, p.frontConfig(d))
	return d, nil
}

// listen opens the listener spec asks for.
func (p *Plane) listen(spec devapi.PlaneDatabase) (net.Listener, error) {
	if spec.TLS && p.cfg.TLS == nil {
		return nil, fmt.Errorf("embeddedplane: database %s wants TLS but the plane has no certificate", spec.ID)
	}
	addr := net.JoinHostPort(p.cfg.Host, strconv.Itoa(spec.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("embeddedplane: serve database %s on %s: %w", spec.ID, addr, err)
	}
	return ln, nil
}

// frontConfig is what d's front needs, from d.spec and the plane's
// configuration. The script memory limit is the plane's, or the database's
// MaxMemory when that is less.
func (p *Plane) frontConfig(d *database) frontConfig {
	timeLimit := p.cfg.ScriptTimeLimit
	if timeLimit <= 0 {
		timeLimit = defaultScriptTimeLimit
	}
	memoryLimit := p.cfg.ScriptMemoryLimit
	if memoryLimit <= 0 {
		memoryLimit = defaultScriptMemoryLimit
	}
	if d.spec.MaxMemory > 0 && d.spec.MaxMemory < memoryLimit {
		memoryLimit = d.spec.MaxMemory
	}
	cfg := frontConfig{
		id:           d.spec.ID,
		maxClients:   d.spec.MaxClients,
		allowedIPs:   d.spec.AllowedIPs,
		authTimeout:  p.authTimeout,
		writeTimeout: p.writeTimeout,
		password:     func() string { return *d.password.Load() },
		logger:       p.log,
		scripts:      scriptConfig{timeLimit: timeLimit, memoryLimit: memoryLimit, logger: p.log, functions: d.functions},
	}
	if d.spec.TLS {
		cfg.tls = p.cfg.TLS
	}
	return cfg
}

// update applies spec to a served database: a changed listener moves it,
// keeping its keys; otherwise its password and client limit change in place.
func (p *Plane) update(d *database, spec devapi.PlaneDatabase) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.spec.Port != spec.Port || d.spec.TLS != spec.TLS || d.front.stopped() {
		if spec.Generation < d.generation {
			spec.Password, spec.Generation = d.spec.Password, d.generation
		}
		return p.relisten(d, spec)
	}
	d.setPassword(spec.Password, spec.Generation, true)
	d.spec.MaxClients, d.spec.AllowedIPs = spec.MaxClients, spec.AllowedIPs
	d.front.setMaxClients(spec.MaxClients)
	d.front.setAllowedIPs(spec.AllowedIPs)
	return nil
}

// relisten moves d to the listener spec asks for; d.mu is held. The new
// port is taken before the old one is let go, so a port that cannot be had
// leaves the database where it was. Connections to the old listener are
// closed (redis-server drops them on a restart too); keys stay.
func (p *Plane) relisten(d *database, spec devapi.PlaneDatabase) error {
	var ln net.Listener
	if d.spec.Port != spec.Port || d.front.stopped() {
		var err error
		if ln, err = p.listen(spec); err != nil {
			return err
		}
	} else if spec.TLS && p.cfg.TLS == nil {
		_, err := p.listen(spec)
		return err
	}
	old := d.front
	old.close()
	if ln == nil {
		var err error
		if ln, err = p.listen(spec); err != nil {
			return err // Status says stopped; the next Serve tries again
		}
	}
	d.spec, d.generation = spec, spec.Generation
	d.password.Store(&spec.Password)
	d.carried += old.accepted.Load()
	d.front = openFront(d.redis, ln, p.frontConfig(d))
	old.drain(d.front.wake)
	return nil
}

// SetPassword implements devapi.Plane. Connections authenticated with the
// previous password stay, as on redis-server.
func (p *Plane) SetPassword(_ context.Context, id, password string, generation int64) error {
	d, err := p.get(id)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.setPassword(password, generation, false)
	return nil
}

// setPassword applies password when generation is newer than the one held
// (or as new, when orEqual); d.mu is held.
func (d *database) setPassword(password string, generation int64, orEqual bool) {
	if generation < d.generation || (generation == d.generation && !orEqual) {
		return
	}
	d.password.Store(&password)
	d.spec.Password, d.generation = password, generation
}

// stop closes d's front, then miniredis; d.mu is held, or d is not shared.
func (d *database) stop() {
	d.front.close() // stops a running script before anything takes miniredis's lock
	d.redis.Close()
}

// Remove implements devapi.Plane.
func (p *Plane) Remove(_ context.Context, id string) error {
	p.mu.Lock()
	d, ok := p.dbs[id]
	delete(p.dbs, id)
	p.mu.Unlock()
	if ok {
		d.mu.Lock()
		d.stop()
		d.mu.Unlock()
	}
	return nil
}

// Status implements devapi.Plane. State is PlaneStopped when moving the
// database to another listener failed; Connections excludes none, since
// devapi holds none open.
func (p *Plane) Status(_ context.Context, id string) (devapi.PlaneStatus, error) {
	d, err := p.get(id)
	if err != nil {
		return devapi.PlaneStatus{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var keys int64
	for i := range logicalDBs {
		keys += int64(len(d.redis.DB(i).Keys()))
	}
	state := devapi.PlaneRunning
	if d.front.stopped() {
		state = devapi.PlaneStopped
	}
	return devapi.PlaneStatus{
		State:            state,
		Generation:       d.generation,
		Addr:             d.front.ln.Addr().String(),
		Keys:             keys,
		Connections:      int64(d.front.open()),
		TotalConnections: d.carried + d.front.accepted.Load(),
		Commands:         int64(d.front.srv.TotalCommands()),
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
		d.mu.Lock()
		d.stop()
		d.mu.Unlock()
		delete(p.dbs, id)
	}
	return nil
}
