package restapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi"
)

// MaxBodyBytes is Upstash's request size limit, 10 MB.
const MaxBodyBytes = 10 << 20

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
	// Logger receives one line per request. Default: discard.
	Logger *slog.Logger
	// IdleTimeout closes the connection pool of a database that no request
	// used for this long (one that was deleted, say); the next request opens
	// a new one. Default: 5 minutes.
	IdleTimeout time.Duration
	// Now tells the time. Default: time.Now.
	Now func() time.Time
}

// Server serves the REST data API.
type Server struct {
	cfg    Config
	logger *slog.Logger

	mu      sync.Mutex
	clients map[string]*dbClient // by database id
	swept   time.Time            // when idle pools were last looked for
}

// dbClient is a connection pool to one database, for one password.
type dbClient struct {
	password string
	host     string
	port     int
	tls      bool
	client   *redis.Client
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
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Server{cfg: cfg, logger: logger, clients: map[string]*dbClient{}}, nil
}

// Close closes every connection to the plane.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, c := range s.clients {
		_ = c.client.Close()
		delete(s.clients, id)
	}
	return nil
}

// OpenPools reports how many databases have a connection pool open.
func (s *Server) OpenPools() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients)
}

// client returns the pool for d's current password, replacing a pool made
// for an older one, and closes the pools of other databases idle for
// IdleTimeout.
func (s *Server) client(d *devapi.Database) *redis.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	if now.Sub(s.swept) >= s.cfg.IdleTimeout/2 {
		s.swept = now
		for id, c := range s.clients {
			if id != d.ID && now.Sub(c.used) >= s.cfg.IdleTimeout {
				_ = c.client.Close()
				delete(s.clients, id)
			}
		}
	}
	c, ok := s.clients[d.ID]
	host := s.cfg.PlaneHost
	if s.cfg.EndpointHosts {
		host = d.Endpoint
	}
	if ok && c.password == d.Password && c.host == host && c.port == d.Port && c.tls == d.TLS {
		c.used = now
		return c.client
	}
	if ok {
		_ = c.client.Close()
	}
	opt := &redis.Options{
		Addr:       net.JoinHostPort(host, strconv.Itoa(d.Port)),
		Username:   "default",
		Password:   d.Password,
		Protocol:   2, // RESP2 shapes only: doubles stay strings
		MaxRetries: -1,
		PoolSize:   16,
	}
	if d.TLS {
		opt.TLSConfig = &tls.Config{RootCAs: s.cfg.RootCAs, ServerName: host, MinVersion: tls.VersionTLS12}
	}
	c = &dbClient{password: d.Password, host: host, port: d.Port, tls: d.TLS, client: redis.NewClient(opt), used: now}
	s.clients[d.ID] = c
	return c.client
}

// Handler returns the REST API's handler.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

type errorBody struct {
	Error string `json:"error"`
}

type resultBody struct {
	Result any `json:"result"`
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	w.Header().Set("upstash-sync-token", syncToken())
	status := s.serve(w, r)
	s.logger.LogAttrs(r.Context(), slog.LevelInfo, "rest request",
		slog.String("method", r.Method), slog.String("command", commandName(r.URL.Path)),
		slog.Int("status", status), slog.Duration("duration", time.Since(start)))
}

// commandName is what the log shows of a path: its first segment only, so
// keys and values never reach the log.
func commandName(path string) string {
	name, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if name == "" {
		return "/"
	}
	return strings.ToLower(name)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) int {
	if r.Method != http.MethodGet && r.Method != http.MethodPost && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, POST")
		return writeJSON(w, http.StatusMethodNotAllowed, errorBody{"ERR method not allowed"})
	}
	d, readOnly, err := s.authenticate(r)
	if err != nil {
		if devapi.ErrorCode(err) == devapi.EUNAUTHORIZED {
			return writeJSON(w, http.StatusUnauthorized, errorBody{"WRONGPASS invalid or missing auth token"})
		}
		s.logger.ErrorContext(r.Context(), "token lookup failed", slog.Any("err", err))
		return writeJSON(w, http.StatusInternalServerError, errorBody{"ERR internal error"})
	}
	if r.ContentLength > MaxBodyBytes {
		return writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{tooLarge})
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{tooLarge})
		}
		return writeJSON(w, http.StatusBadRequest, errorBody{"ERR cannot read request body"})
	}
	enc := strings.EqualFold(r.Header.Get("Upstash-Encoding"), "base64")
	rc := s.client(d)
	ctx := r.Context()

	switch path := strings.TrimSuffix(r.URL.Path, "/"); path {
	case "/pipeline", "/multi-exec":
		if r.Method != http.MethodPost {
			return writeJSON(w, http.StatusMethodNotAllowed, errorBody{"ERR " + path + " takes POST"})
		}
		cmds, err := parseCommands(body)
		if err != nil {
			return writeJSON(w, http.StatusBadRequest, errorBody{err.Error()})
		}
		if path == "/pipeline" {
			return writeJSON(w, http.StatusOK, s.pipeline(ctx, rc, cmds, readOnly, enc))
		}
		items, err := s.transaction(ctx, rc, cmds, readOnly, enc)
		if err != nil {
			return writeJSON(w, http.StatusBadRequest, errorBody{err.Error()})
		}
		return writeJSON(w, http.StatusOK, items)
	default:
		var args []string
		if path == "" {
			if args, err = parseCommand(body); err != nil {
				return writeJSON(w, http.StatusBadRequest, errorBody{err.Error()})
			}
		} else if args, err = pathCommand(r, body); err != nil {
			return writeJSON(w, http.StatusBadRequest, errorBody{err.Error()})
		}
		item := s.run(ctx, rc, args, readOnly, enc)
		if item.err != "" {
			return writeJSON(w, http.StatusBadRequest, errorBody{item.err})
		}
		return writeJSON(w, http.StatusOK, resultBody{item.result})
	}
}

// tooLarge is Upstash's answer to a body over the limit.
var tooLarge = fmt.Sprintf("ERR max request size exceeded. Limit: %d bytes", MaxBodyBytes)

// authenticate finds the database of the request's token.
func (s *Server) authenticate(r *http.Request) (*devapi.Database, bool, error) {
	token := r.URL.Query().Get("_token")
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, t, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return nil, false, devapi.Errorf(devapi.EUNAUTHORIZED, "invalid or missing auth token")
		}
		token = strings.TrimSpace(t)
	}
	return s.cfg.Store.DatabaseByRestToken(r.Context(), token)
}

// item is one command's outcome: a result or an error text.
type item struct {
	result any
	err    string
}

func (it item) MarshalJSON() ([]byte, error) {
	if it.err != "" {
		return json.Marshal(errorBody{it.err})
	}
	return json.Marshal(resultBody{it.result})
}

// check refuses what the token or the REST API may not run. It returns ""
// when args may run.
func check(args []string, readOnlyToken bool) string {
	if len(args) == 0 {
		return "ERR empty command"
	}
	name := strings.ToUpper(args[0])
	if msg, ok := refused[name]; ok {
		return msg
	}
	if isBlockingXRead(name, args) {
		return refused["BLPOP"]
	}
	if readOnlyToken && !readOnly[name] {
		return fmt.Sprintf("NOPERM this user has no permissions to run the '%s' command", strings.ToLower(args[0]))
	}
	return ""
}

// run executes one command.
func (s *Server) run(ctx context.Context, rc *redis.Client, args []string, readOnlyToken, enc bool) item {
	if msg := check(args, readOnlyToken); msg != "" {
		return item{err: msg}
	}
	res, err := rc.Do(ctx, toAny(args)...).Result()
	return s.outcome(ctx, res, err, enc)
}

// outcome turns a go-redis result into an item.
func (s *Server) outcome(ctx context.Context, res any, err error, enc bool) item {
	switch {
	case errors.Is(err, redis.Nil):
		return item{result: nil}
	case err != nil:
		var rerr redis.Error
		if errors.As(err, &rerr) {
			return item{err: rerr.Error()}
		}
		s.logger.ErrorContext(ctx, "data plane unreachable", slog.Any("err", err))
		return item{err: "ERR database is unreachable"}
	}
	return item{result: shape(res, enc)}
}

// pipeline runs cmds in order, not atomically.
func (s *Server) pipeline(ctx context.Context, rc *redis.Client, cmds [][]string, readOnlyToken, enc bool) []item {
	items := make([]item, len(cmds))
	pipe := rc.Pipeline()
	sent := make([]*redis.Cmd, len(cmds))
	for i, args := range cmds {
		if msg := check(args, readOnlyToken); msg != "" {
			items[i] = item{err: msg}
			continue
		}
		sent[i] = pipe.Do(ctx, toAny(args)...)
	}
	_, _ = pipe.Exec(ctx) // errors are per command
	for i, c := range sent {
		if c != nil {
			items[i] = s.outcome(ctx, c.Val(), c.Err(), enc)
		}
	}
	return items
}

// transaction runs cmds in MULTI/EXEC on one connection of its own. A
// command refused before the transaction, or one Redis refuses to queue,
// fails the transaction as a whole and nothing runs: the queue is checked
// before EXEC and discarded on any error (miniredis would otherwise run the
// rest, where Redis answers EXECABORT).
func (s *Server) transaction(ctx context.Context, rc *redis.Client, cmds [][]string, readOnlyToken, enc bool) ([]item, error) {
	for _, args := range cmds {
		if msg := check(args, readOnlyToken); msg != "" {
			return nil, errors.New(msg)
		}
	}
	conn := rc.Conn()
	defer func() { _ = conn.Close() }()
	queue := conn.Pipeline()
	multi := queue.Do(ctx, "MULTI")
	queued := make([]*redis.Cmd, len(cmds))
	for i, args := range cmds {
		queued[i] = queue.Do(ctx, toAny(args)...)
	}
	_, _ = queue.Exec(ctx)
	if err := multi.Err(); err != nil {
		return nil, s.commandError(ctx, err)
	}
	for _, c := range queued {
		if err := c.Err(); err != nil {
			_ = conn.Do(ctx, "DISCARD").Err()
			return nil, fmt.Errorf("EXECABORT Transaction discarded because of previous errors: %w", s.commandError(ctx, err))
		}
	}
	res, err := conn.Do(ctx, "EXEC").Slice()
	if err != nil {
		return nil, s.commandError(ctx, err)
	}
	items := make([]item, len(res))
	for i, r := range res {
		if rerr, ok := r.(redis.Error); ok {
			items[i] = item{err: rerr.Error()}
			continue
		}
		items[i] = item{result: shape(r, enc)}
	}
	return items, nil
}

// commandError is the client-facing form of a command's error.
func (s *Server) commandError(ctx context.Context, err error) error {
	if it := s.outcome(ctx, nil, err, false); it.err != "" {
		return errors.New(it.err)
	}
	return err
}

// shape keeps a RESP2 result JSON-friendly, base64-encoding strings when
// asked (all but the OK status).
func shape(v any, enc bool) any {
	switch v := v.(type) {
	case string:
		if enc && v != "OK" {
			return base64.StdEncoding.EncodeToString([]byte(v))
		}
		return v
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = shape(e, enc)
		}
		return out
	case redis.Error:
		return v.Error()
	default:
		return v // int64, nil
	}
}

// parseCommand reads a JSON array command: strings, numbers and booleans.
func parseCommand(body []byte) ([]string, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || len(raw) == 0 {
		return nil, errors.New("ERR failed to parse command: the body must be a JSON array like [\"SET\",\"key\",\"value\"]")
	}
	args := make([]string, len(raw))
	for i, r := range raw {
		a, err := argument(r)
		if err != nil {
			return nil, err
		}
		args[i] = a
	}
	return args, nil
}

// parseCommands reads a JSON array of commands.
func parseCommands(body []byte) ([][]string, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || len(raw) == 0 {
		return nil, errors.New("ERR failed to parse commands: the body must be a JSON array of command arrays")
	}
	cmds := make([][]string, len(raw))
	for i, r := range raw {
		args, err := parseCommand(r)
		if err != nil {
			return nil, err
		}
		cmds[i] = args
	}
	return cmds, nil
}

func argument(r json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(r, &s); err == nil {
		return s, nil
	}
	var n json.Number
	dec := json.NewDecoder(bytes.NewReader(r))
	dec.UseNumber()
	if err := dec.Decode(&n); err == nil {
		return n.String(), nil
	}
	var b bool
	if err := json.Unmarshal(r, &b); err == nil {
		return strconv.FormatBool(b), nil
	}
	return "", fmt.Errorf("ERR failed to parse command: argument %s is not a string or a number", r)
}

// pathCommand reads a path-style command: /set/k/v?EX=100 with an optional
// POST body as the last argument.
func pathCommand(r *http.Request, body []byte) ([]string, error) {
	var args []string
	for _, seg := range strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/") {
		a, err := url.PathUnescape(seg)
		if err != nil {
			return nil, fmt.Errorf("ERR failed to parse path segment %q", seg)
		}
		args = append(args, a)
	}
	if len(body) > 0 {
		args = append(args, string(body))
	}
	for _, kv := range strings.Split(r.URL.RawQuery, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		k, err1 := url.QueryUnescape(k)
		v, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return nil, errors.New("ERR failed to parse query parameters")
		}
		if k == "_token" {
			continue
		}
		args = append(args, k)
		if v != "" {
			args = append(args, v)
		}
	}
	return args, nil
}

func toAny(args []string) []any {
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = a
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"ERR internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return status
}

// syncToken is a fresh upstash-sync-token value.
func syncToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
