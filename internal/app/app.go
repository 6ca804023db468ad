package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/embeddedplane"
	"github.com/devapi-dev/devapi/internal/tlsca"
	"github.com/devapi-dev/devapi/poolplane"
	"github.com/devapi-dev/devapi/redisserverplane"
	"github.com/devapi-dev/devapi/restapi"
	"github.com/devapi-dev/devapi/server"
	"github.com/devapi-dev/devapi/sqlitestore"
	"github.com/devapi-dev/devapi/upstashproxy"
)

// PlaneHost is where the databases' Redis servers listen: loopback. The
// endpoint clients dial is Config.AdvertisedHost.
const PlaneHost = "127.0.0.1"

// Kinds of data plane, the values of PlaneConfig.Kind.
const (
	Embedded    = "embedded"     // in-process Redis, data in memory
	RedisServer = "redis-server" // one redis-server process per database
	Pool        = "pool"         // a server of a pool of running Redis servers per database
)

// Config says what to assemble. The zero value of every field is its
// documented default; the zero Config is a devapi on loopback with free
// ports, the embedded plane and a SQLite store in Dir.
type Config struct {
	// APIAddr is where the management API listens (and /healthz, and the
	// Mounts). Default: 127.0.0.1:0, a free port.
	APIAddr string
	// RESTAddr is where the REST data API listens. Default: 127.0.0.1:0.
	RESTAddr string
	// ProxyAddr is where the HTTPS proxy listens, built by Proxy. Default
	// (empty): no proxy.
	ProxyAddr string
	// TLS serves the management and REST APIs over HTTPS. Default: plain
	// HTTP.
	TLS *tls.Config

	// Dir is the folder of the default store (devapi.db) and of the
	// redis-server plane's files (Dir/redis). Required unless OpenStore is
	// set and the plane keeps no files.
	Dir string
	// OpenStore opens the store, once every listener is bound. Close closes
	// the store, then calls release if it is not nil. Default: the SQLite
	// file devapi.db in Dir.
	OpenStore func(ctx context.Context) (store devapi.Store, release func(), err error)
	// CAFile is where the CA's certificate is written (PEM, mode 0644,
	// through a rename) once the plane is ready. Default: not written.
	CAFile string
	// Setup runs once the plane is ready and CAFile written, before the
	// server reconciles: it makes the accounts clients use. Default: none.
	Setup func(ctx context.Context, store devapi.Store) error

	// Plane says which data plane serves the databases.
	Plane PlaneConfig
	// AdvertisedHost is the host name put into each database's endpoint
	// and its certificate (besides 127.0.0.1, localhost and ::1).
	// Default: 127.0.0.1.
	AdvertisedHost string
	// Server configures the management API. Open sets its Store, Plane and
	// AdvertisedHost, and its Logger when nil.
	Server server.Config
	// ConfigureServer, when set, adjusts the management API's configuration
	// once Open has filled it in, just before the server is made: tests
	// wrap the store or the plane the server sees there. Default: none.
	ConfigureServer func(*server.Config)
	// REST configures the REST data API. Open sets its Store, PlaneHost,
	// EndpointHosts and RootCAs, its Logger when nil, and its Monitor when
	// nil and the plane is a devapi.Monitorer.
	REST restapi.Config
	// Proxy builds the proxy that serves on ProxyAddr, answering for hosts
	// with api (the management API) and rest. Required with ProxyAddr.
	Proxy func(ca *tlsca.CA, ln net.Listener, api, rest http.Handler) (*upstashproxy.Proxy, error)
	// Mounts are more handlers on the management API's listener, such as
	// a console at "/". The API (/v2) and /healthz always go to the API.
	// Default: none; every path is the API's, which answers JSON 404.
	Mounts []Mount

	// ReconcileEvery is how often Start's repair loop checks every
	// database against the store. Default (0): only once, in Open.
	ReconcileEvery time.Duration
	// ManualJobs leaves the stats sampler and the daily backups to the
	// caller, for tests that drive them by hand. Default false: Start runs
	// both.
	ManualJobs bool
	// Logger receives the API's, the plane's and the servers' lines.
	// Default: discard.
	Logger *slog.Logger
}

// PlaneConfig says which data plane to open and how.
type PlaneConfig struct {
	// Kind is Embedded, RedisServer or Pool. Default: Embedded.
	Kind string
	// Open, when set, opens the plane instead of Kind: for tests that
	// bring a plane of their own or wrap one.
	Open func(ctx context.Context, env PlaneEnv) (devapi.Plane, error)
	// RedisServer is the redis-server binary of the RedisServer kind.
	// Default: redis-server, looked up on PATH.
	RedisServer string
	// Dir is where the RedisServer kind keeps its databases. Default:
	// Config.Dir/redis.
	Dir string
	// OrphansDir is where the RedisServer kind moves the data of databases
	// the store does not hold. Default: none kept.
	OrphansDir string
	// Pool lists the servers of the Pool kind. Required for Pool; the
	// store must be a devapi.PoolStore.
	Pool []poolplane.ServerSpec
	// ScriptTimeLimit and ScriptMemoryLimit bound Lua scripts on the
	// Embedded kind. Defaults: the plane's.
	ScriptTimeLimit   time.Duration
	ScriptMemoryLimit int64
}

// PlaneEnv is what PlaneConfig.Open opens a plane with.
type PlaneEnv struct {
	// Config is the plane's configuration: PlaneHost, the TLS
	// configuration of the CA's server certificate, the limits, the logger.
	Config devapi.PlaneConfig
	// Store is the open store, CA the CA loaded from it.
	Store devapi.Store
	CA    *tlsca.CA
}

// Mount is a handler on the management API's listener.
type Mount struct {
	// Pattern is a path ("/console") or, ending in a slash, a path prefix
	// ("/" is every path the API does not take). The longest match wins.
	Pattern string
	Handler http.Handler
}

// apiPaths always go to the management API, whatever is mounted.
var apiPaths = []string{"/v2", "/v2/", "/healthz"}

// ListenError is Open's error when a listener cannot bind.
type ListenError struct {
	// Listener is which: "api", "rest" or "proxy".
	Listener string
	// Addr is the address it was to bind.
	Addr string
	// Err is why: errors.Is(err, syscall.EADDRINUSE) for a port in use.
	Err error
}

func (e *ListenError) Error() string {
	return fmt.Sprintf("%s listener %s: %v", e.Listener, e.Addr, e.Err)
}

func (e *ListenError) Unwrap() error { return e.Err }

// App is an assembled devapi. Its methods are safe for concurrent use; its
// accessors answer the same values for its whole life.
type App struct {
	cfg    Config
	logger *slog.Logger

	store  devapi.Store
	ca     *tlsca.CA
	plane  devapi.Plane // as the server sees it (ConfigureServer may wrap it)
	opened devapi.Plane // as opened, which the REST API asks what it can do
	srv    *server.Server
	rest   *restapi.Server
	proxy  *upstashproxy.Proxy

	api    http.Handler // the management API's own handler
	mounts []Mount      // beside it; fixed once Start began

	apiLn, restLn, proxyLn net.Listener
	apiServer, restServer  *http.Server
	scheme                 string

	undo []func() error // run in reverse by Close

	mu       sync.Mutex
	started  bool
	stop     context.CancelFunc // ends the background jobs
	wg       sync.WaitGroup     // every goroutine Start started
	failed   chan error         // the first listener that stopped serving
	failOnce sync.Once

	closeOnce sync.Once
	closeErr  error
}

// Open assembles a devapi as cfg says, in this order: it binds every
// listener, opens the store, loads the CA, opens the plane, writes CAFile,
// runs Setup, makes the server and reconciles the plane with the store,
// then makes the REST API and the proxy. Nothing is served until Start. On
// error whatever it opened is closed again.
func Open(ctx context.Context, cfg Config) (_ *App, err error) {
	if cfg.ProxyAddr != "" && cfg.Proxy == nil {
		return nil, errors.New("app: Config.ProxyAddr needs Config.Proxy")
	}
	for _, m := range cfg.Mounts {
		if err := checkMount(m); err != nil {
			return nil, err
		}
	}
	a := &App{cfg: cfg, logger: cfg.Logger, scheme: "http", failed: make(chan error, 1), mounts: slices.Clone(cfg.Mounts)}
	if a.logger == nil {
		// A handler that is disabled, not one that formats for nobody:
		// the request log builds no line for it.
		a.logger = slog.New(slog.DiscardHandler)
	}
	defer func() {
		if err != nil {
			_ = a.Close()
		}
	}()
	if err := a.listen(); err != nil {
		return nil, err
	}
	if err := a.openStore(ctx); err != nil {
		return nil, err
	}
	if err := a.openPlane(ctx); err != nil {
		return nil, err
	}
	if cfg.CAFile != "" {
		if err := writeFileAtomic(cfg.CAFile, a.ca.CertPEM, 0o644); err != nil {
			return nil, fmt.Errorf("write CA certificate: %w", err)
		}
	}
	if cfg.Setup != nil {
		if err := cfg.Setup(ctx, a.store); err != nil {
			return nil, err
		}
	}
	if err := a.openServers(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

// listen binds the API's, the REST API's and the proxy's listeners.
func (a *App) listen() error {
	bind := func(name, addr string) (net.Listener, error) {
		if addr == "" {
			addr = net.JoinHostPort(PlaneHost, "0")
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			// net.OpError repeats "listen tcp" and the address.
			var opErr *net.OpError
			if errors.As(err, &opErr) && opErr.Err != nil {
				err = opErr.Err
			}
			return nil, &ListenError{Listener: name, Addr: addr, Err: err}
		}
		a.undo = append(a.undo, func() error { _ = ln.Close(); return nil })
		return ln, nil
	}
	var err error
	if a.apiLn, err = bind("api", a.cfg.APIAddr); err != nil {
		return err
	}
	if a.restLn, err = bind("rest", a.cfg.RESTAddr); err != nil {
		return err
	}
	if a.cfg.ProxyAddr != "" {
		if a.proxyLn, err = bind("proxy", a.cfg.ProxyAddr); err != nil {
			return err
		}
	}
	return nil
}

// openStore opens the store and loads the CA kept in it.
func (a *App) openStore(ctx context.Context) error {
	var release func()
	if a.cfg.OpenStore != nil {
		store, rel, err := a.cfg.OpenStore(ctx)
		if err != nil {
			if rel != nil {
				rel()
			}
			return err
		}
		a.store, release = store, rel
	} else {
		if a.cfg.Dir == "" {
			return errors.New("app: Config.Dir or Config.OpenStore is required")
		}
		store, err := sqlitestore.Open(ctx, filepath.Join(a.cfg.Dir, "devapi.db"))
		if err != nil {
			return fmt.Errorf("open store: %w", err)
		}
		a.store = store
	}
	a.undo = append(a.undo, func() error {
		err := a.store.Close()
		if release != nil {
			release()
		}
		return err
	})
	ca, err := tlsca.Load(ctx, a.store, time.Now())
	if err != nil {
		return err
	}
	a.ca = ca
	return nil
}

// openPlane issues the databases' server certificate and opens the plane.
func (a *App) openPlane(ctx context.Context) error {
	host := a.cfg.AdvertisedHost
	if host == "" {
		host = PlaneHost
	}
	hosts := []string{host}
	for _, h := range []string{PlaneHost, "localhost", "::1"} {
		if !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	tlsConfig, err := a.ca.ServerConfig(hosts, time.Now())
	if err != nil {
		return err
	}
	pc := a.cfg.Plane
	env := PlaneEnv{
		Config: devapi.PlaneConfig{Host: PlaneHost, TLS: tlsConfig, ScriptTimeLimit: pc.ScriptTimeLimit,
			ScriptMemoryLimit: pc.ScriptMemoryLimit, Logger: a.logger},
		Store: a.store, CA: a.ca,
	}
	var plane devapi.Plane
	switch {
	case pc.Open != nil:
		plane, err = pc.Open(ctx, env)
	case pc.Kind == "" || pc.Kind == Embedded:
		plane = embeddedplane.New(env.Config)
	case pc.Kind == RedisServer:
		dir := pc.Dir
		if dir == "" {
			dir = filepath.Join(a.cfg.Dir, "redis")
		}
		plane, err = redisserverplane.Open(ctx, redisserverplane.Config{Dir: dir, OrphansDir: pc.OrphansDir, Binary: pc.RedisServer, PlaneConfig: env.Config})
	case pc.Kind == Pool:
		plane, err = a.openPool(ctx, pc.Pool)
	default:
		return fmt.Errorf("app: unknown plane %q (embedded, redis-server or pool)", pc.Kind)
	}
	if err != nil {
		return err
	}
	a.plane, a.opened = plane, plane
	a.undo = append(a.undo, plane.Close)
	return nil
}

// openPool opens the Pool kind on servers.
func (a *App) openPool(ctx context.Context, servers []poolplane.ServerSpec) (devapi.Plane, error) {
	ps, ok := a.store.(devapi.PoolStore)
	if !ok {
		return nil, errors.New("the store cannot keep a Redis pool's assignments")
	}
	// rediss:// pool servers may present certificates of devapi's CA
	// (devapi pool cert) or of a public one.
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	roots.AppendCertsFromPEM(a.ca.CertPEM)
	return poolplane.Open(ctx, poolplane.Config{Servers: servers, Store: ps, RootCAs: roots, Logger: a.logger})
}

// openServers makes the management API (reconciled with the store), the
// REST API, their HTTP servers and the proxy.
func (a *App) openServers(ctx context.Context) error {
	errorLog := slog.NewLogLogger(a.logger.Handler(), slog.LevelWarn)
	sc := a.cfg.Server
	sc.Store, sc.Plane, sc.AdvertisedHost = a.store, a.plane, a.cfg.AdvertisedHost
	if sc.Logger == nil {
		sc.Logger = a.logger
	}
	if a.cfg.ConfigureServer != nil {
		a.cfg.ConfigureServer(&sc)
		a.plane = sc.Plane // a.opened is closed by the undo above
	}
	srv, err := server.New(sc)
	if err != nil {
		return err
	}
	if err := srv.Reconcile(ctx); err != nil {
		return err
	}
	a.srv = srv

	// A plane that places databases itself is shared by replicas: the REST
	// API dials its databases at their endpoints.
	_, placed := a.opened.(devapi.Placer)
	rc := a.cfg.REST
	rc.Store, rc.PlaneHost, rc.EndpointHosts, rc.RootCAs = a.store, PlaneHost, placed, a.ca.Pool()
	if rc.Logger == nil {
		rc.Logger = a.logger
	}
	if m, ok := a.opened.(devapi.Monitorer); ok && rc.Monitor == nil {
		rc.Monitor = m // the REST API's /monitor
	}
	rest, err := restapi.New(rc)
	if err != nil {
		return err
	}
	a.rest = rest
	a.undo = append(a.undo, rest.Close)

	api := srv.Handler()
	a.api = api
	a.apiServer = httpServer(http.HandlerFunc(a.serveAPI), 30*time.Second, errorLog)
	// REST bodies may be up to 10 MB each way.
	a.restServer = httpServer(rest.Handler(), 60*time.Second, errorLog)
	// Event streams never go idle: Shutdown would wait its whole timeout
	// for them. They end when shutdown begins (rest.Close waits for them).
	a.restServer.RegisterOnShutdown(rest.EndStreams)
	if a.cfg.TLS != nil {
		a.apiServer.TLSConfig, a.restServer.TLSConfig = a.cfg.TLS, a.cfg.TLS
		a.apiLn = tls.NewListener(a.apiLn, a.cfg.TLS)
		a.restLn = tls.NewListener(a.restLn, a.cfg.TLS)
		a.scheme = "https"
	}
	if a.proxyLn != nil {
		if a.proxy, err = a.cfg.Proxy(a.ca, a.proxyLn, api, a.restServer.Handler); err != nil {
			return err
		}
	}
	return nil
}

// checkMount refuses a mount that is not a path or would take the API's.
func checkMount(m Mount) error {
	if m.Handler == nil || !strings.HasPrefix(m.Pattern, "/") || slices.Contains(apiPaths, m.Pattern) {
		return fmt.Errorf("app: cannot mount %q: a pattern is a path that is not the API's", m.Pattern)
	}
	return nil
}

// Mount adds h at pattern (see Mount) on the management API's listener,
// for handlers made from the app's own, such as a console that calls the
// API in process. It must come before Start.
func (a *App) Mount(pattern string, h http.Handler) error {
	m := Mount{Pattern: pattern, Handler: h}
	if err := checkMount(m); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.started {
		return fmt.Errorf("app: cannot mount %q after Start", pattern)
	}
	a.mounts = append(a.mounts, m)
	return nil
}

// serveAPI routes the paths of the mounts to their handlers, and every
// other path to the API. The mounts do not change once Start began to
// serve.
func (a *App) serveAPI(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if len(a.mounts) == 0 || p == "/v2" || strings.HasPrefix(p, "/v2/") || p == "/healthz" {
		a.api.ServeHTTP(w, r)
		return
	}
	var best *Mount
	for i, m := range a.mounts {
		match := p == m.Pattern || strings.HasSuffix(m.Pattern, "/") && strings.HasPrefix(p, m.Pattern)
		if match && (best == nil || len(m.Pattern) > len(best.Pattern)) {
			best = &a.mounts[i]
		}
	}
	if best == nil {
		a.api.ServeHTTP(w, r)
		return
	}
	best.Handler.ServeHTTP(w, r)
}

// Accounts is a Setup that makes sure each account (email to API key)
// exists and accepts its key, the key named name in its list of keys.
func Accounts(name string, keys map[string]string) func(context.Context, devapi.Store) error {
	return func(ctx context.Context, store devapi.Store) error {
		for email, key := range keys {
			if _, err := devapi.EnsureAPIKey(ctx, store, email, key, name, time.Now().UTC()); err != nil {
				return fmt.Errorf("account %s: %w", email, err)
			}
		}
		return nil
	}
}

// httpServer is an http.Server of h with devapi's bounds: 5 seconds for
// a request's header (at most 64 KiB), bodyTimeout to read its body and to
// write the answer, 2 minutes for an idle connection.
func httpServer(h http.Handler, bodyTimeout time.Duration, errorLog *log.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       bodyTimeout,
		WriteTimeout:      bodyTimeout,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          errorLog,
	}
}

// Start serves the APIs and the proxy on their listeners and starts the
// background jobs: the repair loop (every ReconcileEvery), the stats
// sampler and the daily backups (unless ManualJobs). Close stops them.
// A second call does nothing.
func (a *App) Start() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.started {
		return
	}
	a.started = true
	ctx, stop := context.WithCancel(context.Background())
	a.stop = stop
	serve := func(name string, run func() error) {
		a.wg.Go(func() {
			if err := run(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				a.failOnce.Do(func() { a.failed <- fmt.Errorf("%s: %w", name, err) })
			}
		})
	}
	serve("api", func() error { return a.apiServer.Serve(a.apiLn) })
	serve("rest", func() error { return a.restServer.Serve(a.restLn) })
	if a.proxy != nil {
		serve("proxy", func() error { return a.proxy.Serve(a.proxyLn) })
	}
	if every := a.cfg.ReconcileEvery; every > 0 {
		a.wg.Go(func() { a.srv.RunReconcile(ctx, every) })
	}
	if !a.cfg.ManualJobs {
		a.wg.Go(func() { a.srv.RunStats(ctx) })
		a.wg.Go(func() { a.srv.RunDailyBackups(ctx) })
	}
}

// Failed answers the error of the first listener that stopped serving for
// another reason than Close.
func (a *App) Failed() <-chan error { return a.failed }

// Run starts the app, serves until ctx ends or a listener fails, and
// closes it. It answers the listener's failure, or Close's error.
func (a *App) Run(ctx context.Context) error {
	a.Start()
	var failure error
	select {
	case err := <-a.failed:
		failure = fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
		a.logger.Info("shutting down")
	}
	return errors.Join(failure, a.Close())
}

// shutdownTimeout bounds how long Close waits for requests under way.
const shutdownTimeout = 10 * time.Second

// Close stops serving (letting requests under way finish, for up to 10
// seconds), stops the background jobs, waits for every goroutine Start
// started, then closes the REST API, the plane and the store. It answers
// the first call's outcome to every call.
func (a *App) Close() error {
	a.closeOnce.Do(func() {
		a.mu.Lock()
		a.started = true // a Start after Close does nothing
		stop := a.stop
		a.mu.Unlock()
		var errs []error
		if stop != nil {
			ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			errs = append(errs, a.apiServer.Shutdown(ctx), a.restServer.Shutdown(ctx))
			if a.proxy != nil {
				errs = append(errs, a.proxy.Shutdown(ctx))
			}
			cancel()
			stop()
			a.wg.Wait()
		}
		for i := len(a.undo) - 1; i >= 0; i-- {
			errs = append(errs, a.undo[i]())
		}
		a.closeErr = errors.Join(errs...)
	})
	return a.closeErr
}

// Store is the open store.
func (a *App) Store() devapi.Store { return a.store }

// CA is the CA that signs the databases' certificates and the proxy's.
func (a *App) CA() *tlsca.CA { return a.ca }

// Plane is the data plane, as the server sees it.
func (a *App) Plane() devapi.Plane { return a.plane }

// Server is the management API.
func (a *App) Server() *server.Server { return a.srv }

// REST is the REST data API.
func (a *App) REST() *restapi.Server { return a.rest }

// Handler is the management API's listener's handler: the API and the
// mounts beside it.
func (a *App) Handler() http.Handler { return a.apiServer.Handler }

// APIURL is the root of the management API's listener, such as
// http://127.0.0.1:8080: the API is under APIURL()+"/v2".
func (a *App) APIURL() string { return a.scheme + "://" + a.apiLn.Addr().String() }

// RESTURL is the REST data API's root.
func (a *App) RESTURL() string { return a.scheme + "://" + a.restLn.Addr().String() }

// ProxyURL is the proxy's URL (HTTPS_PROXY), or "" without a proxy.
func (a *App) ProxyURL() string {
	if a.proxyLn == nil {
		return ""
	}
	return "http://" + a.proxyLn.Addr().String()
}

// ProxyAddr is the proxy's listening address, or nil without a proxy.
func (a *App) ProxyAddr() net.Addr {
	if a.proxyLn == nil {
		return nil
	}
	return a.proxyLn.Addr()
}

// writeFileAtomic replaces path with data through a rename, so readers
// never see half a file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}
