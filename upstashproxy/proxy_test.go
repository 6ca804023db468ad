package upstashproxy_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devapi-dev/devapi/internal/tlsca"
	"github.com/devapi-dev/devapi/upstashproxy"
)

const upstashHost = "api.upstash.com"

// apiHandler stands in for devapi's API: it answers with what it saw.
func apiHandler(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, via := upstashproxy.FromProxy(r.Context())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"handler": name, "path": r.URL.Path, "proto": r.Proto, "host": host, "via_proxy": via,
		})
	})
}

type answer struct {
	Handler  string `json:"handler"`
	Path     string `json:"path"`
	Proto    string `json:"proto"`
	Host     string `json:"host"`
	ViaProxy bool   `json:"via_proxy"`
}

type kit struct {
	ca    *tlsca.CA
	proxy *upstashproxy.Proxy
	url   *url.URL
	addr  string
}

// startProxy runs a proxy on loopback that answers for api.upstash.com
// and db.example.test, with cfg's other fields.
func startProxy(tb testing.TB, cfg upstashproxy.Config) *kit {
	tb.Helper()
	ca, _, err := tlsca.New(time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	cfg.CA = ca
	cfg.Route = func(host string) http.Handler {
		switch host {
		case upstashHost:
			return apiHandler("api")
		case "db.example.test":
			return apiHandler("rest")
		}
		return nil
	}
	p, err := upstashproxy.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Serve(ln) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Shutdown(ctx); err != nil {
			tb.Errorf("shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			tb.Errorf("serve: %v", err)
		}
	})
	return &kit{ca: ca, proxy: p, url: &url.URL{Scheme: "http", Host: ln.Addr().String()}, addr: ln.Addr().String()}
}

// client returns an HTTP client that uses the proxy and trusts roots.
func (k *kit) client(tb testing.TB, roots *x509.CertPool, h2 bool) *http.Client {
	tb.Helper()
	tr := &http.Transport{
		Proxy:             http.ProxyURL(k.url),
		TLSClientConfig:   &tls.Config{RootCAs: roots},
		ForceAttemptHTTP2: h2,
	}
	if !h2 {
		tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
	}
	tb.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

func get(tb testing.TB, c *http.Client, u string) (*http.Response, []byte) {
	tb.Helper()
	req, err := http.NewRequestWithContext(tb.Context(), http.MethodGet, u, nil)
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		tb.Fatalf("GET %s: %v", u, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp, body
}

// TestInterceptUpstash: a client that only knows https://api.upstash.com
// and the proxy reaches the handler, over HTTP/1.1 and h2, with a
// certificate from devapi's CA; a database endpoint name reaches its own
// handler.
func TestInterceptUpstash(t *testing.T) {
	k := startProxy(t, upstashproxy.Config{})
	for _, tc := range []struct {
		name, url, handler, proto string
		h2                        bool
	}{
		{"http1", "https://api.upstash.com/v2/redis/databases", "api", "HTTP/1.1", false},
		{"h2", "https://api.upstash.com/v2/redis/databases", "api", "HTTP/2.0", true},
		{"endpoint", "https://db.example.test/get/k", "rest", "HTTP/2.0", true},
		{"upper-case name", "https://API.Upstash.com/v2/teams", "api", "HTTP/1.1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, k.client(t, k.ca.Pool(), tc.h2), tc.url)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			var a answer
			if err := json.Unmarshal(body, &a); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			u, _ := url.Parse(tc.url)
			want := answer{Handler: tc.handler, Path: u.Path, Proto: tc.proto, Host: strings.ToLower(u.Hostname()), ViaProxy: true}
			if a != want {
				t.Fatalf("answer %+v, want %+v", a, want)
			}
			if resp.Proto != tc.proto {
				t.Fatalf("client saw %s, want %s", resp.Proto, tc.proto)
			}
		})
	}
}

// TestInterceptNeedsTrust: a client that does not trust devapi's CA
// refuses the certificate the proxy presents, so nothing is answered in
// its name by accident.
func TestInterceptNeedsTrust(t *testing.T) {
	k := startProxy(t, upstashproxy.Config{})
	c := k.client(t, x509.NewCertPool(), false)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://api.upstash.com/v2/teams", nil)
	resp, err := c.Do(req)
	if err == nil {
		_ = resp.Body.Close()
		t.Fatal("a client that does not trust devapi's CA got an answer")
	}
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("error %v, want an unknown authority", err)
	}
}

// TestTunnel: CONNECT to another host is tunnelled unchanged: the client
// completes TLS with the target's own certificate and gets its answer.
// With InterceptOnly it is refused with 403.
func TestTunnel(t *testing.T) {
	target := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "target "+r.URL.Path)
	}))
	t.Cleanup(target.Close)
	roots := x509.NewCertPool()
	roots.AddCert(target.Certificate())

	t.Run("tunnelled", func(t *testing.T) {
		k := startProxy(t, upstashproxy.Config{})
		resp, body := get(t, k.client(t, roots, false), target.URL+"/hello")
		if resp.StatusCode != http.StatusOK || string(body) != "target /hello" {
			t.Fatalf("status %d body %q", resp.StatusCode, body)
		}
	})
	t.Run("intercept only", func(t *testing.T) {
		k := startProxy(t, upstashproxy.Config{InterceptOnly: true})
		resp, body := connect(t, k.addr, strings.TrimPrefix(target.URL, "https://"))
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "intercept-only") {
			t.Fatalf("status %d body %s", resp.StatusCode, body)
		}
		checkJSONError(t, resp, body)
		// The Upstash API is still answered.
		resp, body = get(t, k.client(t, k.ca.Pool(), false), "https://api.upstash.com/v2/teams")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
	})
}

// TestTunnelBytes: what goes through a tunnel comes out unchanged, both
// ways, including bytes sent right behind the CONNECT request.
func TestTunnelBytes(t *testing.T) {
	echo := startEcho(t)
	k := startProxy(t, upstashproxy.Config{})
	conn := dial(t, k.addr)
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	payload := bytes.Repeat([]byte("devapi\x00\xff"), 10000)
	// The first bytes ride in the same write as the CONNECT request.
	if _, err := fmt.Fprintf(conn, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n%s", echo, echo, payload[:100]); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT: %v %v", resp, err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := conn.Write(payload[100:])
		errc <- err
	}()
	got := make([]byte, len(payload))
	if _, err := io.ReadFull(br, got); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatal("the tunnel changed the bytes")
	}
}

// TestPlainHTTPRefused: a plain-HTTP request through the proxy gets a JSON
// 405 saying why.
func TestPlainHTTPRefused(t *testing.T) {
	k := startProxy(t, upstashproxy.Config{})
	for _, u := range []string{"http://api.upstash.com/v2/teams", "http://127.0.0.1:1/"} {
		resp, body := get(t, k.client(t, nil, false), u)
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodConnect {
			t.Fatalf("%s: status %d, Allow %q", u, resp.StatusCode, resp.Header.Get("Allow"))
		}
		checkJSONError(t, resp, body)
	}
}

// TestBounds: the proxy's limits, each with its answer.
func TestBounds(t *testing.T) {
	t.Run("max conns", func(t *testing.T) {
		echo := startEcho(t)
		k := startProxy(t, upstashproxy.Config{MaxConns: 1})
		first := dial(t, k.addr)
		if resp, _ := connectOn(t, first, echo); resp.StatusCode != http.StatusOK {
			t.Fatalf("first CONNECT: %d", resp.StatusCode)
		}
		resp, body := connect(t, k.addr, echo)
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("second CONNECT: %d %s", resp.StatusCode, body)
		}
		checkJSONError(t, resp, body)
		// The slot comes back when the first tunnel ends.
		_ = first.Close()
		waitFor(t, func() bool {
			resp, _ := connect(t, k.addr, echo)
			return resp.StatusCode == http.StatusOK
		})
	})
	t.Run("handshake deadline", func(t *testing.T) {
		k := startProxy(t, upstashproxy.Config{HandshakeTimeout: 100 * time.Millisecond})
		conn := dial(t, k.addr)
		if resp, _ := connectOn(t, conn, upstashHost+":443"); resp.StatusCode != http.StatusOK {
			t.Fatalf("CONNECT: %d", resp.StatusCode)
		}
		// No TLS hello: the proxy hangs up.
		awaitClosed(t, conn)
	})
	t.Run("tunnel idle", func(t *testing.T) {
		echo := startEcho(t)
		k := startProxy(t, upstashproxy.Config{TunnelIdle: 100 * time.Millisecond})
		conn := dial(t, k.addr)
		if resp, _ := connectOn(t, conn, echo); resp.StatusCode != http.StatusOK {
			t.Fatalf("CONNECT: %d", resp.StatusCode)
		}
		awaitClosed(t, conn)
	})
	t.Run("tunnel max", func(t *testing.T) {
		echo := startEcho(t)
		k := startProxy(t, upstashproxy.Config{TunnelMax: 100 * time.Millisecond})
		conn := dial(t, k.addr)
		if resp, _ := connectOn(t, conn, echo); resp.StatusCode != http.StatusOK {
			t.Fatalf("CONNECT: %d", resp.StatusCode)
		}
		awaitClosed(t, conn)
	})
	t.Run("header size", func(t *testing.T) {
		k := startProxy(t, upstashproxy.Config{MaxHeaderBytes: 1024})
		conn := dial(t, k.addr)
		_, _ = fmt.Fprintf(conn, "CONNECT %s:443 HTTP/1.1\r\nHost: %s:443\r\nX-Big: %s\r\n\r\n", upstashHost, upstashHost, strings.Repeat("a", 8192))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("unreachable target", func(t *testing.T) {
		k := startProxy(t, upstashproxy.Config{})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closed := ln.Addr().String()
		_ = ln.Close()
		resp, body := connect(t, k.addr, closed)
		if resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("status %d %s", resp.StatusCode, body)
		}
		checkJSONError(t, resp, body)
	})
}

// TestShutdownEndsTunnels: Shutdown closes open tunnels and returns once
// every connection is done.
func TestShutdownEndsTunnels(t *testing.T) {
	echo := startEcho(t)
	k := startProxy(t, upstashproxy.Config{})
	conn := dial(t, k.addr)
	if resp, _ := connectOn(t, conn, echo); resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT: %d", resp.StatusCode)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := k.proxy.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	awaitClosed(t, conn)
}

// TestLogHandler: records made with a proxied request's context say
// via=proxy; others do not.
func TestLogHandler(t *testing.T) {
	var mu sync.Mutex
	var buf bytes.Buffer
	logger := slog.New(upstashproxy.LogHandler(slog.NewTextHandler(lockedWriter{&mu, &buf}, nil))).With("component", "api")
	ca, _, err := tlsca.New(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	p, err := upstashproxy.New(upstashproxy.Config{CA: ca, Route: func(string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			logger.InfoContext(r.Context(), "request", "path", r.URL.Path)
		})
	}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Serve(ln) }()
	k := &kit{ca: ca, url: &url.URL{Scheme: "http", Host: ln.Addr().String()}}
	get(t, k.client(t, ca.Pool(), false), "https://api.upstash.com/v2/teams")
	logger.InfoContext(t.Context(), "direct")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	<-done
	mu.Lock()
	defer mu.Unlock()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "path=/v2/teams") || !strings.Contains(lines[0], "via=proxy") || strings.Contains(lines[1], "via=") {
		t.Fatalf("log:\n%s", buf.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// startEcho runs a loopback TCP server that writes back what it reads.
func startEcho(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				_, _ = io.Copy(c, c)
				_ = c.Close()
			})
		}
	})
	tb.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

func dial(tb testing.TB, addr string) net.Conn {
	tb.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// connect sends CONNECT target on a new connection and returns the answer.
func connect(tb testing.TB, proxyAddr, target string) (*http.Response, []byte) {
	tb.Helper()
	return connectOn(tb, dial(tb, proxyAddr), target)
}

func connectOn(tb testing.TB, conn net.Conn, target string) (*http.Response, []byte) {
	tb.Helper()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	defer func() { _ = conn.SetDeadline(time.Time{}) }()
	if _, err := fmt.Fprintf(conn, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target); err != nil {
		tb.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: http.MethodConnect})
	if err != nil {
		tb.Fatal(err)
	}
	var body []byte
	if resp.StatusCode != http.StatusOK {
		body, _ = io.ReadAll(resp.Body)
	}
	return resp, body
}

func checkJSONError(tb testing.TB, resp *http.Response, body []byte) {
	tb.Helper()
	var e struct {
		Error string `json:"error"`
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		tb.Fatalf("content type %q", ct)
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
		tb.Fatalf("not a JSON error: %s", body)
	}
}

// awaitClosed waits until the peer closes conn (a read ends in EOF or a
// reset), failing after 10 s.
func awaitClosed(tb testing.TB, conn net.Conn) {
	tb.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		tb.Fatal("the proxy did not close the connection")
	}
}

func waitFor(tb testing.TB, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatal("condition not met in 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
