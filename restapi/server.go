package restapi

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/devapi-dev/devapi"
)

// Config configures a Server. Zero values mean the documented defaults.
type Config struct {
	// Store finds the database a token belongs to. Required.
	Store devapi.Store
	// PlaneHost is where the plane's Redis servers listen. Default 127.0.0.1.
	PlaneHost string
	// EndpointHosts dials each database at its Endpoint instead of
	// PlaneHost: for planes whose Redis servers run on other hosts (a pool).
	// Default false.
	EndpointHosts bool
	// RootCAs verifies TLS databases' certificates (devapi's CA). Required
	// for TLS databases.
	RootCAs *x509.CertPool
	// Logger receives one line per request, never one per command: at
	// error level, with the count of commands that failed, when the
	// database could not be reached. Default: discard.
	Logger *slog.Logger
	// IdleTimeout closes the connection pool of a database that no request
	// used for this long (one that was deleted, say); the next request opens
	// a new one. Default: 5 minutes.
	IdleTimeout time.Duration
	// PlaneTimeout is how long a database may take to accept a connection,
	// to take a batch of commands, and to answer each command. Default 10 s,
	// above the default script time limit (5 s), so that a slow script's own
	// error comes back rather than a timeout.
	PlaneTimeout time.Duration
	// Limits bound what requests may cost. Zero fields mean DefaultLimits.
	Limits Limits
	// Now tells the time. Default: time.Now.
	Now func() time.Time
	// Monitor serves /monitor: the plane, when it is a devapi.Monitorer.
	// Default nil: /monitor is answered 400, not supported.
	Monitor devapi.Monitorer
	// StreamKeepAlive is how often an event stream with nothing to send
	// sends a ": keep-alive" comment line, and checks that its token still
	// works. Default 15 s.
	StreamKeepAlive time.Duration
	// StreamWriteTimeout drops an event stream whose client does not take
	// a write in that time. Default 30 s.
	StreamWriteTimeout time.Duration
}

// Server serves the REST data API.
type Server struct {
	cfg    Config
	logger *slog.Logger
	admit  *admission
	// streams are the open event streams (sse.go).
	streams streamSet

	mu    sync.Mutex
	pools map[string]*dbPool // by database id
	swept time.Time          // when idle pools were last looked for
}

// dbPool is the connection pool to one database, for one password.
type dbPool struct {
	password string
	host     string
	port     int
	tls      bool
	pool     *planePool
	used     time.Time // last handed to a request
}

// New returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("restapi: Config.Store is required")
	}
	if cfg.PlaneHost == "" {
		cfg.PlaneHost = "127.0.0.1"
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 5 * time.Minute
	}
	if cfg.PlaneTimeout <= 0 {
		cfg.PlaneTimeout = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.StreamKeepAlive <= 0 {
		cfg.StreamKeepAlive = defaultStreamKeepAlive
	}
	if cfg.StreamWriteTimeout <= 0 {
		cfg.StreamWriteTimeout = defaultStreamWriteTimeout
	}
	limits, err := cfg.Limits.withDefaults()
	if err != nil {
		return nil, err
	}
	cfg.Limits = limits
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, logger: logger, admit: newAdmission(limits), pools: map[string]*dbPool{}}, nil
}

// Close ends every event stream (EndStreams) and closes every connection
// to the plane.
func (s *Server) Close() error {
	s.EndStreams()
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, p := range s.pools {
		p.pool.close()
		delete(s.pools, id)
	}
	return nil
}

// OpenPools reports how many databases have a connection pool open.
func (s *Server) OpenPools() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pools)
}

// InFlight reports what requests hold now, overall and for database id.
func (s *Server) InFlight(id string) (total, database Load) {
	return s.admit.load(id)
}

// pool returns the pool for d's current password, replacing a pool made
// for an older one, and closes the pools of other databases idle for
// IdleTimeout.
func (s *Server) pool(d *devapi.Database) *planePool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	if now.Sub(s.swept) >= s.cfg.IdleTimeout/2 {
		s.swept = now
		for id, p := range s.pools {
			if id != d.ID && now.Sub(p.used) >= s.cfg.IdleTimeout {
				p.pool.close()
				delete(s.pools, id)
			}
		}
	}
	p, ok := s.pools[d.ID]
	host := s.cfg.PlaneHost
	if s.cfg.EndpointHosts {
		host = d.Endpoint
	}
	if ok && p.password == d.Password && p.host == host && p.port == d.Port && p.tls == d.TLS {
		p.used = now
		return p.pool
	}
	if ok {
		p.pool.close()
	}
	var tlsConfig *tls.Config
	if d.TLS {
		tlsConfig = &tls.Config{RootCAs: s.cfg.RootCAs, ServerName: host, MinVersion: tls.VersionTLS12}
	}
	p = &dbPool{password: d.Password, host: host, port: d.Port, tls: d.TLS, used: now,
		pool: newPlanePool(net.JoinHostPort(host, strconv.Itoa(d.Port)), tlsConfig, d.Password, s.cfg.PlaneTimeout)}
	s.pools[d.ID] = p
	return p.pool
}

// Handler returns the REST API's handler.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

type errorBody struct {
	Error string `json:"error"`
}

// outcome is what the log line of a request says.
type outcome struct {
	status   int
	commands int
	failed   int   // commands the database did not answer
	err      error // why it failed: for the log, never for the client
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	w.Header().Set("upstash-sync-token", syncToken())
	out := s.serve(w, r)
	level := slog.LevelInfo
	attrs := []slog.Attr{slog.String("method", r.Method), slog.String("command", commandName(r.URL.Path)),
		slog.Int("status", out.status), slog.Duration("duration", time.Since(start))}
	if out.commands > 1 {
		attrs = append(attrs, slog.Int("commands", out.commands))
	}
	switch {
	case out.err != nil && r.Context().Err() != nil:
		// The client went away: the request's own doing, not the plane's.
		attrs = append(attrs, slog.Bool("canceled", true))
	case out.err != nil:
		level = slog.LevelError
		attrs = append(attrs, slog.String("err", out.err.Error()))
		if out.failed > 0 {
			attrs = append(attrs, slog.Int("failed", out.failed))
		}
	}
	s.logger.LogAttrs(r.Context(), level, "rest request", attrs...)
}

// commandName is what the log shows of a path: its first segment only, so
// keys and values never reach the log, and only when it is a known command
// (knownCommands) or endpoint (pipeline, multi-exec); anything else, which
// may be a token or a value sent in the wrong place, is "?".
func commandName(path string) string {
	name, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	name = strings.ToLower(name)
	switch {
	case name == "":
		return "/"
	case name == "pipeline", name == "multi-exec", knownCommands[name]:
		return name
	}
	return "?"
}

// serve answers one request. In order: the token (401), the client address
// against the database's IP allowlist (403), the body's declared
// size (413), the database's request slots and the bytes in flight (429, at
// once), the body, read and parsed to the end before anything runs (400,
// 413), then the commands, whose answer is built under its size limit and
// sent whole.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) outcome {
	if r.Method != http.MethodGet && r.Method != http.MethodPost && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, POST")
		return outcome{status: writeError(w, http.StatusMethodNotAllowed, "ERR method not allowed")}
	}
	d, readOnlyToken, err := s.authenticate(r)
	if err != nil {
		if devapi.ErrorCode(err) == devapi.EUNAUTHORIZED {
			return outcome{status: writeError(w, http.StatusUnauthorized, "WRONGPASS invalid or missing auth token")}
		}
		return outcome{status: writeError(w, http.StatusInternalServerError, "ERR internal error"), err: fmt.Errorf("token lookup: %w", err)}
	}
	if !devapi.AllowedFrom(d.AllowedIPs, r.RemoteAddr) {
		return outcome{status: writeError(w, http.StatusForbidden, "ERR client address is not in the database's IP allowlist")}
	}
	if kind := streamKind(r); kind != "" {
		return s.stream(w, r, d, readOnlyToken, kind)
	}
	resp2, err := responseFormat(r)
	if err != nil {
		return outcome{status: writeError(w, http.StatusBadRequest, err.Error())}
	}
	lim := s.cfg.Limits
	if r.ContentLength > lim.MaxBodyBytes {
		return outcome{status: writeError(w, http.StatusRequestEntityTooLarge, tooLarge(lim.MaxBodyBytes).msg)}
	}
	t := s.admit.enter(d.ID)
	if t == nil {
		return outcome{status: writeBusy(w, fmt.Sprintf("ERR too many requests in flight: this database serves at most %d at once, retry later", lim.MaxDatabaseRequests))}
	}
	defer t.done()
	declared := r.ContentLength
	if declared < 0 {
		declared = lim.MaxBodyBytes
	}
	if !t.reserve(declared) {
		return outcome{status: writeBusy(w, fmt.Sprintf("ERR too many requests in flight: no room for a body of %d bytes now (at most %d bytes for this database, %d overall), retry later",
			declared, lim.MaxDatabaseInFlightBytes, lim.MaxInFlightBytes))}
	}

	path := strings.TrimSuffix(r.URL.Path, "/")
	body := &countingReader{r: http.MaxBytesReader(w, r.Body, lim.MaxBodyBytes)}
	cmds := &commands{}
	switch path {
	case "/pipeline", "/multi-exec":
		if r.Method != http.MethodPost {
			return outcome{status: writeError(w, http.StatusMethodNotAllowed, "ERR "+path+" takes POST")}
		}
		err = parseCommands(body, lim.MaxBodyBytes, lim.MaxCommands, cmds)
	case "":
		err = parseCommand(body, lim.MaxBodyBytes, cmds)
	default:
		var b []byte
		if b, err = io.ReadAll(body); err != nil {
			err = bodyError(err, lim.MaxBodyBytes, errCannotRead)
		} else {
			err = pathCommand(r, b, cmds)
		}
	}
	if err != nil {
		var re *requestError
		if !errors.As(err, &re) {
			re = errCannotRead
		}
		return outcome{status: writeError(w, re.status, re.msg)}
	}
	if r.ContentLength < 0 {
		// Hold what the body was, not what it might have been.
		t.release(declared - body.n)
	}

	x := &exchange{
		ctx:           r.Context(),
		pool:          s.pool(d),
		cmds:          cmds,
		readOnlyToken: readOnlyToken,
		limit:         lim.MaxResponseBytes,
		e:             &encoder{out: &answer{t: t, limit: lim.MaxResponseBytes}, b64: strings.EqualFold(r.Header.Get("Upstash-Encoding"), "base64")},
	}
	defer x.release()
	resp2 = resp2 && path != "/multi-exec" // which answers JSON only
	var f *failure
	switch {
	case path == "/pipeline" && resp2:
		f = x.pipelineRESP2()
	case path == "/pipeline":
		f = x.pipeline()
	case path == "/multi-exec":
		f = x.transaction()
	case resp2:
		f = x.singleRESP2()
	default:
		f = x.single()
	}
	x.release() // before the answer goes to a client that may read it slowly
	out := outcome{commands: cmds.len(), failed: x.failed, err: x.err}
	if f != nil {
		if f.status == http.StatusTooManyRequests {
			out.status = writeBusy(w, f.msg)
		} else {
			out.status = writeError(w, f.status, f.msg)
		}
		return out
	}
	a := x.e.out
	if resp2 {
		w.Header().Set("Content-Type", "application/octet-stream")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	w.Header().Set("Content-Length", strconv.FormatInt(a.size, 10))
	w.WriteHeader(http.StatusOK)
	_ = a.writeTo(w)
	out.status = http.StatusOK
	return out
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// authenticate finds the database of the request's token.
func (s *Server) authenticate(r *http.Request) (*devapi.Database, bool, error) {
	return s.cfg.Store.DatabaseByRestToken(r.Context(), requestToken(r))
}

// requestToken is the request's token: the Authorization header's bearer
// token, else the _token query parameter. An Authorization header of
// another scheme is no token ("").
func requestToken(r *http.Request) string {
	token := r.URL.Query().Get("_token")
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, t, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return ""
		}
		token = strings.TrimSpace(t)
	}
	return token
}

// writeError answers {"error":msg}.
func writeError(w http.ResponseWriter, status int, msg string) int {
	b, err := json.Marshal(errorBody{msg})
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"ERR internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return status
}

// writeBusy answers 429 {"error":msg}, to be retried in a second.
func writeBusy(w http.ResponseWriter, msg string) int {
	w.Header().Set("Retry-After", "1")
	return writeError(w, http.StatusTooManyRequests, msg)
}

// syncToken is a fresh upstash-sync-token value.
func syncToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
