package poolplane

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/respsnapshot"
)

// Config configures a Plane.
type Config struct {
	// Servers are the pool, in the order Place hands them out. Required: at
	// least one, no two with the same Key.
	Servers []ServerSpec
	// Store keeps the assignments and orders password changes across
	// replicas. Required. The Plane does not close it.
	Store devapi.PoolStore
	// RootCAs verify the certificates of rediss:// servers, for the host
	// name of their URL. Default: the system's roots.
	RootCAs *x509.CertPool
	// Logger receives what Open finds wrong with a server. Default: none.
	Logger *slog.Logger
}

// Timeouts of the admin connections. A password change holds the store's
// lock of the database while it talks to the server (with sqlitestore, the
// write lock of the whole file), so a server that does not answer must
// fail it soon: one retry, short timeouts.
const (
	dialTimeout = 3 * time.Second
	ioTimeout   = 10 * time.Second
	maxRetries  = 1
	// openTimeout bounds the check of each server at Open.
	openTimeout = 5 * time.Second
)

// errClosed is what every call on a closed Plane returns.
var errClosed = errors.New("poolplane: the plane is closed")

var validID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,63}$`)

// Plane serves databases on a pool of running Redis servers. It is safe for
// concurrent use, and alongside Planes of other replicas on the same store
// and servers.
type Plane struct {
	store   devapi.PoolStore
	logger  *slog.Logger
	keys    []string           // Key of every server, in Config order
	servers map[string]*server // by Key
	mu      sync.RWMutex       // guards closed
	closed  bool
}

// server is one server of the pool and devapi's admin client of it.
type server struct {
	spec  ServerSpec
	admin *redis.Client
	// beforeCheck, set by tests only, runs in wipe between its commands
	// and its check.
	beforeCheck func(context.Context)
}

var (
	_ devapi.Plane  = (*Plane)(nil)
	_ devapi.Placer = (*Plane)(nil)
)

// Open returns a Plane on cfg's servers. It asks each server, as its admin
// user, for PING; a server that does not answer, or refuses the admin user,
// is logged as a warning and does not fail Open, since the others can serve
// meanwhile. It also warns of databases the store assigns a server that
// cfg no longer lists.
func Open(ctx context.Context, cfg Config) (*Plane, error) {
	if len(cfg.Servers) == 0 {
		return nil, errors.New("poolplane: Config.Servers is empty; list the pool's Redis servers")
	}
	if cfg.Store == nil {
		return nil, errors.New("poolplane: Config.Store is required")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	p := &Plane{store: cfg.Store, logger: logger, servers: make(map[string]*server, len(cfg.Servers))}
	for _, spec := range cfg.Servers {
		if spec.Username == "default" || spec.Username == "" || spec.Password == "" || spec.Host == "" || spec.Port < 1 || spec.Port > 65535 {
			_ = p.closeClients()
			return nil, fmt.Errorf("poolplane: server %s: want host, port 1-65535, an admin user other than \"default\" and its password", spec)
		}
		key := spec.Key()
		if _, dup := p.servers[key]; dup {
			_ = p.closeClients()
			return nil, fmt.Errorf("poolplane: server %s is listed twice", key)
		}
		p.keys = append(p.keys, key)
		p.servers[key] = &server{spec: spec, admin: redis.NewClient(adminOptions(spec, cfg.RootCAs))}
	}
	errs := make([]error, len(p.keys))
	var wg sync.WaitGroup
	for i, key := range p.keys {
		srv := p.servers[key]
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, openTimeout)
			defer cancel()
			_, err := srv.rules(pctx) // reads the version
			switch {
			case errors.Is(err, errTooOld):
				errs[i] = err
			case err != nil:
				logger.WarnContext(ctx, "pool server does not answer devapi's admin user; databases on it are down until it does",
					slog.String("server", srv.spec.String()), slog.Any("err", err))
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		_ = p.closeClients()
		return nil, fmt.Errorf("poolplane: %w", err)
	}
	as, err := cfg.Store.PoolAssignments(ctx)
	if err != nil {
		_ = p.closeClients()
		return nil, fmt.Errorf("poolplane: %w", err)
	}
	for id, a := range as {
		if p.servers[a.Server] == nil {
			logger.WarnContext(ctx, "database holds a pool server that is no longer in the list; it cannot be served",
				slog.String("database_id", id), slog.String("server", a.Server))
		}
	}
	return p, nil
}

// adminOptions connect to spec as its admin user.
func adminOptions(spec ServerSpec, roots *x509.CertPool) *redis.Options {
	opt := &redis.Options{
		Addr:     spec.Key(),
		Username: spec.Username,
		Password: spec.Password,
		PoolSize: adminConns,
		// Held open for good: see adminConns.
		ConnMaxIdleTime: -1,
		MaxRetries:      maxRetries,
		DialTimeout:     dialTimeout,
		ReadTimeout:     ioTimeout,
		WriteTimeout:    ioTimeout,
	}
	if spec.TLS {
		opt.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots, ServerName: spec.Host}
	}
	return opt
}

// open fails once the plane is closed. Calls hold the read lock while they
// use admin clients, so Close waits for them.
func (p *Plane) open() (func(), error) {
	p.mu.RLock()
	if p.closed {
		p.mu.RUnlock()
		return nil, errClosed
	}
	return p.mu.RUnlock, nil
}

// assigned returns the server id holds. ENOTFOUND if it holds none.
func (p *Plane) assigned(ctx context.Context, id string) (*server, devapi.PoolAssignment, error) {
	if !validID.MatchString(id) {
		return nil, devapi.PoolAssignment{}, devapi.Errorf(devapi.EINVALID, "invalid database id %q", id)
	}
	as, err := p.store.PoolAssignments(ctx)
	if err != nil {
		return nil, devapi.PoolAssignment{}, fmt.Errorf("poolplane: %w", err)
	}
	a, ok := as[id]
	if !ok {
		return nil, a, devapi.Errorf(devapi.ENOTFOUND, "database %s holds no server of the Redis pool", id)
	}
	srv := p.servers[a.Server]
	if srv == nil {
		return nil, a, fmt.Errorf("poolplane: database %s holds pool server %s, which is not in the configured server list", id, a.Server)
	}
	return srv, a, nil
}

// checkPassword accepts any non-empty password up to 1024 bytes, as
// redisserverplane does; ACL SETUSER takes it as one argument.
func checkPassword(pw string) error {
	if pw == "" || len(pw) > 1024 {
		return devapi.Errorf(devapi.EINVALID, "password must be 1 to 1024 bytes")
	}
	return nil
}

// Place implements devapi.Placer: the first server of the list that no
// database holds and speaks TLS as tls asks, else the first free one of the
// other kind, or the one id holds already. ECONFLICT when every server is
// taken.
func (p *Plane) Place(ctx context.Context, id string, tls bool) (devapi.Placement, error) {
	done, err := p.open()
	if err != nil {
		return devapi.Placement{}, err
	}
	defer done()
	if !validID.MatchString(id) {
		return devapi.Placement{}, devapi.Errorf(devapi.EINVALID, "invalid database id %q", id)
	}
	// The servers of the kind asked for first, each kind in list order.
	keys := make([]string, 0, len(p.keys))
	for _, want := range []bool{tls, !tls} {
		for _, k := range p.keys {
			if p.servers[k].spec.TLS == want {
				keys = append(keys, k)
			}
		}
	}
	key, err := p.store.AssignPoolServer(ctx, id, keys)
	switch {
	case devapi.ErrorCode(err) == devapi.ECONFLICT:
		return devapi.Placement{}, devapi.Errorf(devapi.ECONFLICT,
			"the Redis pool is full: all %d servers hold a database; add servers to the pool or delete a database", len(p.keys))
	case err != nil:
		return devapi.Placement{}, fmt.Errorf("poolplane: place %s: %w", id, err)
	}
	srv := p.servers[key]
	if srv == nil {
		return devapi.Placement{}, fmt.Errorf("poolplane: database %s holds pool server %s, which is not in the configured server list", id, key)
	}
	// A safety net: Remove wiped the server before it freed it, but an
	// operator may have used it since. Only for a place no Serve has used
	// yet (the generation -1 of a new assignment): placing again a
	// database that holds data must not delete it.
	if _, err := p.store.ApplyPoolGeneration(ctx, id, -1, srv.wipe); err != nil {
		if rerr := p.store.ReleasePoolServer(context.WithoutCancel(ctx), id); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return devapi.Placement{}, fmt.Errorf("poolplane: place %s: %w", id, err)
	}
	return devapi.Placement{Host: srv.spec.Host, Port: srv.spec.Port, TLS: srv.spec.TLS}, nil
}

// Serve implements devapi.Plane for a database Place placed: it applies
// d's password unless the store records a newer generation (the same one
// applies again, repairing a server that restarted without it),
// and d's memory cap and eviction. ENOTFOUND if d holds no server; EINVALID
// if d's port or TLS are not its server's, which a pool cannot change.
func (p *Plane) Serve(ctx context.Context, d devapi.PlaneDatabase) error {
	if err := checkPassword(d.Password); err != nil {
		return err
	}
	done, err := p.open()
	if err != nil {
		return err
	}
	defer done()
	srv, _, err := p.assigned(ctx, d.ID)
	if err != nil {
		return err
	}
	if d.TLS != srv.spec.TLS {
		if srv.spec.TLS {
			return devapi.Errorf(devapi.EINVALID, "database %s is on pool server %s, which speaks TLS only; it cannot be served without TLS", d.ID, srv.spec.Key())
		}
		return devapi.Errorf(devapi.EINVALID, "database %s is on pool server %s, which speaks plain TCP only; it cannot be served with TLS", d.ID, srv.spec.Key())
	}
	if d.Port != srv.spec.Port {
		return devapi.Errorf(devapi.EINVALID, "database %s is on pool server %s; it cannot be served on port %d", d.ID, srv.spec.Key(), d.Port)
	}
	if _, err := p.store.ApplyPoolGeneration(ctx, d.ID, d.Generation, func(ctx context.Context) error {
		return srv.setPassword(ctx, d.Password)
	}); err != nil {
		return fmt.Errorf("poolplane: serve %s: %w", d.ID, err)
	}
	if err := srv.admin.ConfigSet(ctx, "maxmemory", strconv.FormatInt(d.MaxMemory, 10)).Err(); err != nil {
		return fmt.Errorf("poolplane: serve %s: set maxmemory on %s: %w", d.ID, srv.spec.Key(), err)
	}
	if err := srv.admin.ConfigSet(ctx, "maxmemory-policy", policy(d.Eviction)).Err(); err != nil {
		return fmt.Errorf("poolplane: serve %s: set maxmemory-policy on %s: %w", d.ID, srv.spec.Key(), err)
	}
	if err := srv.setMaxClients(ctx, d.MaxClients, p.logger); err != nil {
		return fmt.Errorf("poolplane: serve %s: %w", d.ID, err)
	}
	return nil
}

// policy is the maxmemory-policy for a database's eviction setting.
func policy(eviction bool) string {
	if eviction {
		return "allkeys-lru"
	}
	return "noeviction"
}

// setPassword makes `default` accept password, and only it, for new
// connections, with the command rules of the server's version.
func (srv *server) setPassword(ctx context.Context, password string) error {
	rules, err := srv.rules(ctx)
	if err != nil {
		return err
	}
	args := append([]any{"ACL", "SETUSER", "default", "reset", "on", ">" + password, "~*", "&*"}, rules...)
	if err := srv.do(ctx, args...); err != nil {
		return fmt.Errorf("set the password on %s: %w", srv.spec.Key(), err)
	}
	return srv.saveACL(ctx)
}

// saveACL writes the users to the server's ACL file, if it has one, so a
// restarted server keeps them.
func (srv *server) saveACL(ctx context.Context) error {
	conf, err := srv.admin.ConfigGet(ctx, "aclfile").Result()
	if err != nil {
		return fmt.Errorf("read the aclfile setting of %s: %w", srv.spec.Key(), err)
	}
	if conf["aclfile"] == "" {
		return nil
	}
	if err := srv.admin.Do(ctx, "ACL", "SAVE").Err(); err != nil {
		return fmt.Errorf("ACL SAVE on %s: %w", srv.spec.Key(), err)
	}
	return nil
}

// SetPassword implements devapi.Plane through PoolStore.ApplyPoolGeneration,
// so that, from any replica, an older generation never replaces a newer.
// ENOTFOUND if id holds no server.
func (p *Plane) SetPassword(ctx context.Context, id, password string, generation int64) error {
	if err := checkPassword(password); err != nil {
		return err
	}
	done, err := p.open()
	if err != nil {
		return err
	}
	defer done()
	srv, _, err := p.assigned(ctx, id)
	if err != nil {
		return err
	}
	_, err = p.store.ApplyPoolGeneration(ctx, id, generation, func(ctx context.Context) error {
		return srv.setPassword(ctx, password)
	})
	if err != nil && devapi.ErrorCode(err) != devapi.ENOTFOUND {
		return fmt.Errorf("poolplane: set password of %s: %w", id, err)
	}
	return err
}

// Remove implements devapi.Plane: under the store's lock of id, and with
// the largest generation so no password change follows it, it wipes the
// server (see wipe: `default` off, its clients disconnected, keys,
// functions, scripts, logs and statistics gone, and checked); then it
// frees the server. If the server cannot be reached, or keeps anything of
// the database, id keeps it, and the error says so: a server is never
// handed on with data or a password.
func (p *Plane) Remove(ctx context.Context, id string) error {
	done, err := p.open()
	if err != nil {
		return err
	}
	defer done()
	srv, _, err := p.assigned(ctx, id)
	if devapi.ErrorCode(err) == devapi.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = p.store.ApplyPoolGeneration(ctx, id, math.MaxInt64, func(ctx context.Context) error {
		return srv.wipe(ctx)
	})
	switch {
	case devapi.ErrorCode(err) == devapi.ENOTFOUND:
		return nil // removed meanwhile
	case err != nil:
		return fmt.Errorf("poolplane: remove %s: %w", id, err)
	}
	// Not applied means an earlier Remove wiped it and failed to free it.
	if err := p.store.ReleasePoolServer(ctx, id); err != nil {
		return fmt.Errorf("poolplane: remove %s: %w", id, err)
	}
	return nil
}

// Status implements devapi.Plane from INFO and CLIENT LIST. A server that
// does not answer is reported stopped. ENOTFOUND if id holds no server.
func (p *Plane) Status(ctx context.Context, id string) (devapi.PlaneStatus, error) {
	done, err := p.open()
	if err != nil {
		return devapi.PlaneStatus{}, err
	}
	defer done()
	srv, a, err := p.assigned(ctx, id)
	if err != nil {
		return devapi.PlaneStatus{}, err
	}
	st := devapi.PlaneStatus{State: devapi.PlaneRunning, Generation: a.Generation, Addr: srv.spec.Key()}
	if err := srv.admin.Ping(ctx).Err(); err != nil {
		if ctx.Err() != nil {
			return devapi.PlaneStatus{}, ctx.Err()
		}
		st.State = devapi.PlaneStopped
		return st, nil
	}
	info, err := srv.admin.Info(ctx, "stats", "keyspace").Result()
	if err != nil {
		return devapi.PlaneStatus{}, fmt.Errorf("poolplane: status of %s: %w", id, err)
	}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		name, value, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(value, 10, 64)
		switch {
		case name == "total_connections_received":
			st.TotalConnections = n
		case name == "total_commands_processed":
			st.Commands = n
		case strings.HasPrefix(name, "db"): // db0:keys=3,expires=0,avg_ttl=0
			keys, _, _ := strings.Cut(strings.TrimPrefix(value, "keys="), ",")
			k, _ := strconv.ParseInt(keys, 10, 64)
			st.Keys += k
		}
	}
	// The database's connections are those of `default`; the admin
	// connections of every replica are not counted.
	clients, err := srv.admin.ClientList(ctx).Result()
	if err != nil {
		return devapi.PlaneStatus{}, fmt.Errorf("poolplane: status of %s: %w", id, err)
	}
	for line := range strings.Lines(clients) {
		if slices.Contains(strings.Fields(line), "user=default") {
			st.Connections++
		}
	}
	return st, nil
}

// Databases implements devapi.Plane: every database that holds a server of
// the pool, placed or served, sorted.
func (p *Plane) Databases(ctx context.Context) ([]string, error) {
	done, err := p.open()
	if err != nil {
		return nil, err
	}
	defer done()
	as, err := p.store.PoolAssignments(ctx)
	if err != nil {
		return nil, fmt.Errorf("poolplane: %w", err)
	}
	ids := make([]string, 0, len(as))
	for id := range as {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}

// Snapshot implements devapi.Plane with respsnapshot.Take as the admin
// user. ENOTFOUND if id holds no server.
func (p *Plane) Snapshot(ctx context.Context, id string, emit func(devapi.SnapshotKey) error) error {
	done, err := p.open()
	if err != nil {
		return err
	}
	defer done()
	srv, _, err := p.assigned(ctx, id)
	if err != nil {
		return err
	}
	if err := respsnapshot.Take(ctx, srv.admin, emit); err != nil {
		return fmt.Errorf("poolplane: snapshot of %s: %w", id, err)
	}
	return nil
}

// Restore implements devapi.Plane with respsnapshot.Restore as the admin
// user. ENOTFOUND if id holds no server.
func (p *Plane) Restore(ctx context.Context, id string, keys iter.Seq2[devapi.SnapshotKey, error]) error {
	done, err := p.open()
	if err != nil {
		return err
	}
	defer done()
	srv, _, err := p.assigned(ctx, id)
	if err != nil {
		return err
	}
	if err := respsnapshot.Restore(ctx, srv.admin, keys); err != nil {
		return fmt.Errorf("poolplane: restore %s: %w", id, err)
	}
	return nil
}

// Close closes the admin connections, once the calls under way return. The
// servers, their keys and passwords, and the store stay as they are. Every
// later call on the plane fails.
func (p *Plane) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	return p.closeClients()
}

// closeClients closes every admin client.
func (p *Plane) closeClients() error {
	var errs []error
	for _, srv := range p.servers {
		errs = append(errs, srv.admin.Close())
	}
	return errors.Join(errs...)
}
