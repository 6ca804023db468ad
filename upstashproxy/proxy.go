package upstashproxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/devapi-dev/devapi/internal/tlsca"
)

// Config configures a Proxy. Route and CA are required; the zero value of
// every other field means the default its comment gives.
type Config struct {
	// Route returns the handler that answers for host, a lower-case name
	// from "CONNECT host:443" without a trailing dot, or nil when the proxy
	// does not answer for host itself.
	Route func(host string) http.Handler
	// CA issues the certificate presented for each host Route answers.
	CA *tlsca.CA
	// InterceptOnly refuses CONNECT to every other host with 403, instead
	// of tunnelling it. Default false: tunnel.
	InterceptOnly bool
	// Logger receives the proxy's own lines: tunnels, refusals, failed
	// handshakes. Default: discard.
	Logger *slog.Logger
	// MaxConns is the most connections held at once past CONNECT,
	// tunnelled and answered together; a CONNECT past it gets 503.
	// Default 256.
	MaxConns int
	// DialTimeout bounds dialling a tunnel's target. Default 10 s.
	DialTimeout time.Duration
	// HandshakeTimeout bounds the TLS handshake of a connection the proxy
	// answers. Default 10 s.
	HandshakeTimeout time.Duration
	// TunnelIdle closes a tunnel through which no byte went either way
	// for this long. Default 5 min.
	TunnelIdle time.Duration
	// TunnelMax closes a tunnel this long after it opened. Default 1 h.
	TunnelMax time.Duration
	// MaxHeaderBytes bounds the header of a CONNECT request and of every
	// request on a connection the proxy answers. Default 64 KiB.
	MaxHeaderBytes int
	// Now is the clock certificates are issued by. Default time.Now.
	Now func() time.Time
}

// Proxy is an HTTP proxy that answers CONNECT for the hosts its Route
// names and tunnels (or refuses) the rest. It is an http.Handler; Serve
// runs it with bounded timeouts.
type Proxy struct {
	cfg  Config
	log  *slog.Logger
	slot chan struct{} // one token per connection held past CONNECT

	certMu sync.Mutex
	certs  map[string]certEntry

	mu      sync.Mutex
	closing bool
	conns   map[io.Closer]struct{} // tunnels' client connections
	servers map[*http.Server]struct{}
	outer   *http.Server
	wg      sync.WaitGroup // every connection held past CONNECT
}

type certEntry struct {
	cfg    *tls.Config
	issued time.Time
}

// maxCerts bounds the certificate cache; Route bounds the names, this
// bounds a Route that answers for many.
const maxCerts = 1024

// certRenew is how old a cached certificate (valid a year) may get.
const certRenew = 30 * 24 * time.Hour

// New returns a Proxy for cfg.
func New(cfg Config) (*Proxy, error) {
	if cfg.Route == nil || cfg.CA == nil {
		return nil, errors.New("upstashproxy: Route and CA are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 256
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 10 * time.Second
	}
	if cfg.TunnelIdle <= 0 {
		cfg.TunnelIdle = 5 * time.Minute
	}
	if cfg.TunnelMax <= 0 {
		cfg.TunnelMax = time.Hour
	}
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = 64 << 10
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Proxy{
		cfg:     cfg,
		log:     cfg.Logger,
		slot:    make(chan struct{}, cfg.MaxConns),
		certs:   map[string]certEntry{},
		conns:   map[io.Closer]struct{}{},
		servers: map[*http.Server]struct{}{},
	}, nil
}

// Serve accepts proxy clients on ln until Shutdown. It returns
// http.ErrServerClosed after Shutdown.
func (p *Proxy) Serve(ln net.Listener) error {
	srv := &http.Server{
		Handler:           p,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Second, // cleared on CONNECT
		WriteTimeout:      10 * time.Second, // cleared on CONNECT
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    p.cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
	}
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		return http.ErrServerClosed
	}
	p.outer = srv
	p.mu.Unlock()
	return srv.Serve(ln)
}

// Shutdown stops accepting, lets requests on the connections the proxy
// answers finish until ctx ends, closes every tunnel, and waits for every
// connection to be done.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	p.closing = true
	outer := p.outer
	servers := make([]*http.Server, 0, len(p.servers))
	for s := range p.servers {
		servers = append(servers, s)
	}
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	var errs []error
	if outer != nil {
		errs = append(errs, outer.Shutdown(ctx))
	}
	for _, s := range servers {
		if err := s.Shutdown(ctx); err != nil {
			_ = s.Close()
		}
	}
	p.wg.Wait()
	return errors.Join(errs...)
}

// ServeHTTP answers one proxy request.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		w.Header().Set("Allow", http.MethodConnect)
		writeError(w, http.StatusMethodNotAllowed, "devapi's proxy takes CONNECT only (use it as HTTPS_PROXY): plain-HTTP requests through it are refused")
		return
	}
	name, port, err := net.SplitHostPort(r.Host)
	if err != nil || name == "" || port == "" {
		writeError(w, http.StatusBadRequest, "CONNECT needs host:port")
		return
	}
	host := strings.TrimSuffix(strings.ToLower(name), ".")
	var handler http.Handler
	if port == "443" {
		handler = p.cfg.Route(host)
	}
	if handler == nil && p.cfg.InterceptOnly {
		p.log.Info("proxy refused a tunnel", "target", r.Host, "reason", "intercept only")
		writeError(w, http.StatusForbidden, "devapi's proxy runs with --proxy-intercept-only: it answers for the Upstash API only and tunnels no other host")
		return
	}
	select {
	case p.slot <- struct{}{}:
	default:
		writeError(w, http.StatusServiceUnavailable, "devapi's proxy holds as many connections as it may; try again later")
		return
	}
	defer func() { <-p.slot }()
	if !p.enter() {
		writeError(w, http.StatusServiceUnavailable, "devapi's proxy is shutting down")
		return
	}
	defer p.wg.Done()

	var target net.Conn
	if handler == nil {
		d := net.Dialer{Timeout: p.cfg.DialTimeout}
		target, err = d.DialContext(r.Context(), "tcp", r.Host)
		if err != nil {
			p.log.Info("proxy could not reach a tunnel's target", "target", r.Host, "err", err)
			writeError(w, http.StatusBadGateway, "devapi's proxy could not reach "+r.Host)
			return
		}
		defer func() { _ = target.Close() }()
	}
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "devapi's proxy cannot take over this connection")
		return
	}
	client := &bufConn{Conn: conn, r: rw.Reader}
	defer func() { _ = client.Close() }()
	_ = conn.SetDeadline(time.Time{})
	_ = conn.SetWriteDeadline(time.Now().Add(p.cfg.HandshakeTimeout))
	if _, err := io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	_ = conn.SetWriteDeadline(time.Time{})
	if handler != nil {
		p.answer(client, host, handler)
		return
	}
	if !p.track(client) {
		return
	}
	defer p.untrack(client)
	start := time.Now()
	up, down := p.tunnel(client, target)
	p.log.Info("proxy tunnel", "target", r.Host, "sent", up, "received", down, "duration", time.Since(start))
}

// enter counts a connection in p.wg unless the proxy is shutting down.
func (p *Proxy) enter() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		return false
	}
	p.wg.Add(1)
	return true
}

func (p *Proxy) track(c io.Closer) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c io.Closer) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// answer terminates TLS on conn with a certificate for host and serves
// handler on it, HTTP/1.1 or h2 as the client chose, until the client
// leaves or the proxy shuts down.
func (p *Proxy) answer(conn net.Conn, host string, handler http.Handler) {
	cfg, err := p.certFor(host)
	if err != nil {
		p.log.Error("proxy could not issue a certificate", "host", host, "err", err)
		return
	}
	tc := tls.Server(conn, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.HandshakeTimeout)
	err = tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		p.log.Info("proxy TLS handshake failed; does the client trust devapi's CA (SSL_CERT_FILE, NODE_EXTRA_CA_CERTS)?", "host", host, "err", err)
		return
	}
	ln := newOneConnListener(tc)
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    p.cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
		ConnContext: func(ctx context.Context, _ net.Conn) context.Context {
			return context.WithValue(ctx, ctxKey{}, host)
		},
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateClosed || s == http.StateHijacked {
				_ = ln.Close()
			}
		},
	}
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		return
	}
	p.servers[srv] = struct{}{}
	p.mu.Unlock()
	// Serve returns once the one connection is closed: ln's second Accept
	// waits for that.
	_ = srv.Serve(ln)
	p.mu.Lock()
	delete(p.servers, srv)
	p.mu.Unlock()
}

// certFor returns a TLS configuration presenting a certificate for host,
// issued once and kept for certRenew.
func (p *Proxy) certFor(host string) (*tls.Config, error) {
	now := p.cfg.Now()
	p.certMu.Lock()
	defer p.certMu.Unlock()
	if e, ok := p.certs[host]; ok && now.Sub(e.issued) < certRenew {
		return e.cfg, nil
	}
	cfg, err := p.cfg.CA.ServerConfig([]string{host}, now)
	if err != nil {
		return nil, err
	}
	cfg.NextProtos = []string{"h2", "http/1.1"}
	if len(p.certs) >= maxCerts {
		clear(p.certs)
	}
	p.certs[host] = certEntry{cfg: cfg, issued: now}
	return cfg, nil
}

// tunnel copies bytes both ways between client and target until both
// directions end, neither moves a byte for TunnelIdle, or TunnelMax has
// passed. It returns the bytes sent each way.
func (p *Proxy) tunnel(client, target net.Conn) (up, down int64) {
	t := &tunnelState{idle: p.cfg.TunnelIdle, end: time.Now().Add(p.cfg.TunnelMax)}
	t.touch()
	var wg sync.WaitGroup
	wg.Go(func() { down = t.pipe(client, target) })
	up = t.pipe(target, client)
	wg.Wait()
	return up, down
}

type tunnelState struct {
	idle time.Duration
	end  time.Time
	mu   sync.Mutex
	last time.Time
}

func (t *tunnelState) touch() {
	t.mu.Lock()
	t.last = time.Now()
	t.mu.Unlock()
}

func (t *tunnelState) quietFor() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return time.Since(t.last)
}

// pipe copies src to dst. When src ends cleanly it half-closes dst so the
// other direction can finish; on any other end it closes both, which ends
// the other direction too.
func (t *tunnelState) pipe(dst, src net.Conn) int64 {
	buf := make([]byte, 32<<10)
	var n int64
	for {
		now := time.Now()
		if !now.Before(t.end) {
			break
		}
		deadline := now.Add(t.idle)
		if deadline.After(t.end) {
			deadline = t.end
		}
		_ = src.SetReadDeadline(deadline)
		k, err := src.Read(buf)
		if k > 0 {
			t.touch()
			_ = dst.SetWriteDeadline(time.Now().Add(t.idle))
			if _, werr := dst.Write(buf[:k]); werr != nil {
				break
			}
			n += int64(k)
		}
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && t.quietFor() < t.idle {
			continue // the other direction is busy
		}
		if errors.Is(err, io.EOF) {
			if cw, ok := dst.(interface{ CloseWrite() error }); ok {
				_ = cw.CloseWrite()
				return n
			}
		}
		break
	}
	_ = dst.Close()
	_ = src.Close()
	return n
}

// bufConn is a hijacked connection that first hands out what the server
// had already read past the CONNECT request (a client may send its TLS
// hello without waiting for the answer).
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// CloseWrite half-closes the connection when it is TCP.
func (c *bufConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Close()
}

// oneConnListener hands out one connection, then waits until it is
// closed, so that http.Server.Serve returns when its one connection ends.
type oneConnListener struct {
	conn   net.Conn
	once   sync.Once
	closer sync.Once
	done   chan struct{}
}

func newOneConnListener(c net.Conn) *oneConnListener {
	return &oneConnListener{conn: c, done: make(chan struct{})}
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	var c net.Conn
	l.once.Do(func() { c = l.conn })
	if c != nil {
		return c, nil
	}
	<-l.done
	return nil, net.ErrClosed
}

func (l *oneConnListener) Close() error {
	l.closer.Do(func() { close(l.done) })
	return nil
}

func (l *oneConnListener) Addr() net.Addr { return l.conn.LocalAddr() }

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// ctxKey marks the context of a request that came through the proxy; its
// value is the host the client asked for.
type ctxKey struct{}

// FromProxy reports whether ctx belongs to a request that came through the
// proxy, and for which host.
func FromProxy(ctx context.Context) (host string, ok bool) {
	host, ok = ctx.Value(ctxKey{}).(string)
	return host, ok
}

// LogHandler wraps h so that every record logged with the context of a
// request that came through the proxy carries via=proxy.
func LogHandler(h slog.Handler) slog.Handler { return viaHandler{h} }

type viaHandler struct{ slog.Handler }

func (v viaHandler) Handle(ctx context.Context, r slog.Record) error {
	if _, ok := FromProxy(ctx); ok {
		r = r.Clone()
		r.AddAttrs(slog.String("via", "proxy"))
	}
	return v.Handler.Handle(ctx, r)
}

func (v viaHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return viaHandler{v.Handler.WithAttrs(attrs)}
}

func (v viaHandler) WithGroup(name string) slog.Handler {
	return viaHandler{v.Handler.WithGroup(name)}
}
