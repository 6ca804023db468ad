package server

import (
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/go-chi/chi/v5"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/genserver"
	"github.com/devapi-dev/devapi/internal/placement"
)

// apiBase is where the API's paths start, as on https://api.upstash.com/v2.
const apiBase = "/v2"

// Config configures a Server. The zero value of every field but Store means
// the documented default.
type Config struct {
	// Store keeps accounts and databases. Required.
	Store devapi.Store
	// Plane serves every database as a real Redis. Required.
	Plane devapi.Plane
	// Ports is the range database ports come from. Keep it below 32768:
	// Linux hands out 32768-60999 to outgoing connections, so a port from
	// there may be taken when devapi restarts. Default: 16380-17379.
	Ports PortRange
	// Logger receives one line per request. Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default: time.Now.
	Now func() time.Time
	// AdvertisedHost is the host name put into a database's endpoint, the
	// one clients should dial. Default: 127.0.0.1.
	AdvertisedHost string
	// MaxBodyBytes caps request bodies; larger ones get 413. Default: 1 MiB.
	MaxBodyBytes int64
	// StatsInterval is how often RunStats samples every database's
	// counters. Default: one minute.
	StatsInterval time.Duration
	// PlaneTimeout bounds every call into the plane (serve, password change,
	// remove, status): a wedged or busy Redis answers an error after it
	// instead of holding a request, the stats sampler or a shutdown.
	// Default: 10 seconds.
	PlaneTimeout time.Duration
	// Crash, when set, is called at the named steps of a change (see
	// crashPoints) so tests can kill the process there. Nil in normal runs.
	Crash func(point string)

	// MaxDatabasesPerAccount caps the databases one account (a team
	// account too) may own: a create or a move-to-team past it answers 400
	// and changes nothing. Default: 100. Negative: no cap.
	MaxDatabasesPerAccount int
	// MaxTeamsPerAccount caps the teams one account may own (create and
	// not delete): past it create-team answers 400. Default: 5. Negative:
	// no cap.
	MaxTeamsPerAccount int
	// MaxBackupsPerDatabase caps the backups one database may have: past
	// it create-backup answers 400, and a daily backup replaces the
	// database's oldest daily backup. Default: 50. Negative: no cap.
	MaxBackupsPerDatabase int
	// MaxBackupBytes caps the size of a backup (of its keys, before
	// compression) below the plan's disk limit (DiskThreshold), which caps
	// it too: a bigger database answers create-backup with 400, "database is
	// larger than the backup limit (N MB)", and its daily backup is skipped
	// with one warning a day. Default (0): the plan's limit alone.
	MaxBackupBytes int64
	// AuthFailures throttles failed authentication, per client address
	// and per email: once a bucket is empty every request from that
	// address or for that email answers 429 with Retry-After, whatever
	// its key, until the bucket refills. Default: 10 per second, burst 20.
	AuthFailures RateLimit
	// AccountRequests limits the requests of each authenticated account;
	// past it they answer 429 with Retry-After. Default: 1000 per second,
	// burst 2000.
	AccountRequests RateLimit
}

// PortRange is an inclusive range of TCP ports.
type PortRange struct{ Min, Max int }

// Steps of reset-password at which Config.Crash is called, in order.
const (
	CrashResetBeforeStore  = "reset-before-store"  // nothing changed yet
	CrashResetAfterStore   = "reset-after-store"   // stored, not yet on the plane
	CrashResetAfterPlane   = "reset-after-plane"   // stored and on the plane
	CrashResetBeforeAnswer = "reset-before-answer" // the answer is built, not sent
)

// Server implements the Upstash Developer API.
type Server struct {
	store     devapi.Store
	plane     devapi.Plane
	ports     PortRange
	crash     func(string)
	portAlloc *placement.Ports // the ports of new databases, on a plane that is no Placer

	orphanMu       sync.Mutex
	orphans        map[string]bool // held by the plane, not stored, at the last round that confirms them
	keptOrphans    map[string]bool // orphans kept because the store holds no database, warned about
	health         healthBook      // databases the plane does not serve as stored
	diskFull       atomic.Bool     // a change failed for a full disk, and none succeeded since
	logger         *slog.Logger
	now            func() time.Time
	advertisedHost string
	maxBody        int64
	validator      *validator
	statsInterval  time.Duration
	stats          *statsBook
	planeTimeout   time.Duration
	planeDeadlines planeDeadlines // of the plane calls (planeContext)
	resetPorts     portCache      // ports of databases, for reset-password's tokens (redis.go)

	quota          quota        // reservations of creates under way, per capped key
	maxDatabases   int          // per account; -1: no cap
	maxTeams       int          // owned per account; -1: no cap
	maxBackups     int          // per database; -1: no cap
	maxBackup      int64        // bytes of one backup, below the plan's; 0: the plan's
	skips          dailySkips   // daily backups skipped today, for being over the limit
	authLimiter    *authLimiter // nil: off
	accountLimiter *buckets     // nil: off
}

var _ genserver.StrictServerInterface = (*Server)(nil)

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Plane == nil {
		return nil, fmt.Errorf("server: Config.Store and Config.Plane are required")
	}
	if cfg.Ports == (PortRange{}) {
		cfg.Ports = PortRange{Min: 16380, Max: 17379}
	}
	if cfg.Ports.Min < 1 || cfg.Ports.Max > 65535 || cfg.Ports.Min > cfg.Ports.Max {
		return nil, fmt.Errorf("server: invalid port range %d-%d", cfg.Ports.Min, cfg.Ports.Max)
	}
	doc, err := Spec()
	if err != nil {
		return nil, err
	}
	s := &Server{
		store:          cfg.Store,
		plane:          cfg.Plane,
		ports:          cfg.Ports,
		crash:          cfg.Crash,
		logger:         cfg.Logger,
		now:            cfg.Now,
		advertisedHost: cfg.AdvertisedHost,
		maxBody:        cfg.MaxBodyBytes,
		validator:      newValidator(doc),
		statsInterval:  cfg.StatsInterval,
		planeTimeout:   cfg.PlaneTimeout,
		maxBackup:      cfg.MaxBackupBytes,
		stats:          &statsBook{samples: map[string]*series{}},
	}
	s.maxDatabases = quotaLimit(cfg.MaxDatabasesPerAccount, defaultMaxDatabases)
	s.maxTeams = quotaLimit(cfg.MaxTeamsPerAccount, defaultMaxTeams)
	s.maxBackups = quotaLimit(cfg.MaxBackupsPerDatabase, defaultMaxBackups)
	if l, ok := cfg.AuthFailures.resolve(defaultAuthFailures); ok {
		s.authLimiter = &authLimiter{byAddr: newBuckets(l), byEmail: newBuckets(l)}
	}
	if l, ok := cfg.AccountRequests.resolve(defaultAccountRequests); ok {
		s.accountLimiter = newBuckets(l)
	}
	if s.planeTimeout <= 0 {
		s.planeTimeout = 10 * time.Second
	}
	if s.statsInterval <= 0 {
		s.statsInterval = time.Minute
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.portAlloc = placement.NewPorts(s.ports.Min, s.ports.Max, s.storedPorts, s.now)
	if s.advertisedHost == "" {
		s.advertisedHost = "127.0.0.1"
	}
	if s.maxBody <= 0 {
		s.maxBody = 1 << 20
	}
	if s.crash == nil {
		s.crash = func(string) {}
	}
	return s, nil
}

// Spec returns openapi.yaml as embedded in gen, loaded and validated. It is
// parsed once per process and shared: callers must not change it.
func Spec() (*openapi3.T, error) { return loadSpec() }

var loadSpec = sync.OnceValues(func() (*openapi3.T, error) {
	doc, err := genserver.GetSpec()
	if err != nil {
		return nil, fmt.Errorf("server: load embedded spec: %w", err)
	}
	if err := doc.Validate(openapi3.NewLoader().Context); err != nil {
		return nil, fmt.Errorf("server: embedded spec is invalid: %w", err)
	}
	return doc, nil
})

// Handler returns the HTTP handler: the API under /v2, GET /healthz, and
// JSON answers for unknown paths (404) and methods (405).
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(s.logRequests)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, messageBody(fmt.Sprintf("no such path: %s", r.URL.Path)))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, messageBody(fmt.Sprintf("method %s is not allowed on %s", r.Method, r.URL.Path)))
	})
	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	strict := genserver.NewStrictHandlerWithOptions(s, nil, genserver.StrictHTTPServerOptions{
		RequestErrorHandlerFunc: func(w http.ResponseWriter, r *http.Request, err error) {
			s.writeError(w, r, devapi.Errorf(devapi.EINVALID, "request body is not valid JSON"))
		},
		ResponseErrorHandlerFunc: s.writeError,
	})
	genserver.HandlerWithOptions(strict, genserver.ChiServerOptions{
		BaseURL: apiBase,
		// The middlewares wrap each operation's route once, here: given to
		// the generated wrapper (ChiServerOptions.Middlewares) they would be
		// chained anew on every request.
		BaseRouter: r.With(s.throttleAuth, s.authenticate, s.limitAccount, s.longOperations, s.validate),
		ErrorHandlerFunc: func(w http.ResponseWriter, r *http.Request, err error) {
			s.writeError(w, r, devapi.Errorf(devapi.EINVALID, "%s", err.Error()))
		},
	})
	return r
}
