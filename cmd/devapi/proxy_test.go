package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// proxyClient returns a client that uses the proxy serve recorded in data
// and trusts data/ca.pem (and extra), as a tool set up by devapi env does.
func proxyClient(t *testing.T, data string, extra ...*x509.Certificate) *http.Client {
	t.Helper()
	rec, err := readServeRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	proxyURL, err := url.Parse(rec.Proxy)
	if err != nil || rec.Proxy == "" {
		t.Fatalf("serve recorded no proxy: %+v %v", rec, err)
	}
	pem, err := os.ReadFile(filepath.Join(data, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	for _, c := range extra {
		roots.AddCert(c)
	}
	tr := &http.Transport{Proxy: http.ProxyURL(proxyURL), TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

func proxyGet(t *testing.T, c *http.Client, u string, auth func(*http.Request)) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != nil {
		auth(req)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Proto, b
}

// TestServeProxy: devapi serve --proxy-addr answers
// https://api.upstash.com/v2/... with its API over h2, logs those requests
// with via=proxy, serves a database's REST API at https://ADVERTISED-HOST,
// tunnels a loopback host unchanged, and records its addresses in
// serve.json (0600), which it removes when it stops.
func TestServeProxy(t *testing.T) {
	data := t.TempDir()
	p := serveArgs(t, []string{"--data", data, "--plane", "embedded", "--ports", "29000-29999",
		"--proxy-addr", "127.0.0.1:0", "--advertised-host", "db.devapi.test"})
	info, err := os.Stat(filepath.Join(data, serveRecordFile))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v %v", serveRecordFile, info, err)
	}
	target := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "another host")
	}))
	t.Cleanup(target.Close)
	c := proxyClient(t, data, target.Certificate())
	basic := func(r *http.Request) { r.SetBasicAuth(e2eEmail, e2eKey) }

	d := p.database("POST", "/redis/database", `{"database_name":"viaproxy","primary_region":"us-east-1","tls":false}`)
	status, proto, body := proxyGet(t, c, "https://api.upstash.com/v2/redis/databases", basic)
	if status != http.StatusOK || proto != "HTTP/2.0" || !strings.Contains(string(body), d.ID) {
		t.Fatalf("through the proxy: %d %s %s", status, proto, body)
	}
	waitLog(t, p, func(line string) bool {
		return strings.Contains(line, `msg=request`) && strings.Contains(line, "path=/v2/redis/databases") && strings.Contains(line, "via=proxy")
	})

	status, _, body = proxyGet(t, c, "https://db.devapi.test/ping", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+d.RestToken) })
	if status != http.StatusOK || !strings.Contains(string(body), "PONG") {
		t.Fatalf("REST API through the proxy: %d %s", status, body)
	}

	status, _, body = proxyGet(t, c, target.URL, nil)
	if status != http.StatusOK || string(body) != "another host" {
		t.Fatalf("tunnel: %d %s", status, body)
	}

	p.stop()
	if _, err := os.Stat(filepath.Join(data, serveRecordFile)); !os.IsNotExist(err) {
		t.Fatalf("%s left behind: %v", serveRecordFile, err)
	}
}

// TestServeProxyInterceptOnly: with --proxy-intercept-only a loopback host
// is refused with 403 while api.upstash.com is answered.
func TestServeProxyInterceptOnly(t *testing.T) {
	data := t.TempDir()
	serveArgs(t, []string{"--data", data, "--plane", "embedded", "--ports", "29000-29999"},
		envProxyAddr+"=127.0.0.1:0")
	rec, err := readServeRecord(data)
	if err != nil || rec.Proxy == "" {
		t.Fatalf("$%s gave no proxy: %+v %v", envProxyAddr, rec, err)
	}
	// The environment variable alone tunnels; the flag refuses.
	data2 := t.TempDir()
	serveArgs(t, []string{"--data", data2, "--plane", "embedded", "--ports", "29000-29999",
		"--proxy-addr", "127.0.0.1:0", "--proxy-intercept-only"})
	rec2, err := readServeRecord(data2)
	if err != nil {
		t.Fatal(err)
	}
	target := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(target.Close)
	for _, tc := range []struct {
		proxy string
		want  int
	}{{rec.Proxy, http.StatusOK}, {rec2.Proxy, http.StatusForbidden}} {
		conn, err := net.DialTimeout("tcp", strings.TrimPrefix(tc.proxy, "http://"), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		host := strings.TrimPrefix(target.URL, "http://")
		_, _ = fmt.Fprintf(conn, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", host, host)
		resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: http.MethodConnect})
		_ = conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != tc.want {
			t.Fatalf("CONNECT %s through %s: %d, want %d", host, tc.proxy, resp.StatusCode, tc.want)
		}
	}
	c := proxyClient(t, data2)
	status, _, body := proxyGet(t, c, "https://api.upstash.com/v2/teams", func(r *http.Request) { r.SetBasicAuth(e2eEmail, e2eKey) })
	if status != http.StatusOK {
		t.Fatalf("intercept-only still answers the API: %d %s", status, body)
	}
	var teams []json.RawMessage
	if err := json.Unmarshal(body, &teams); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
}

// waitLog waits until a line of p's log satisfies ok.
func waitLog(t *testing.T, p *proc, ok func(string) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for line := range strings.SplitSeq(p.log.String(), "\n") {
			if ok(line) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no such log line in 10 s:\n%s", p.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOpenProxy: serve warns when its proxy tunnels for clients beyond
// loopback.
func TestOpenProxy(t *testing.T) {
	for _, tc := range []struct {
		ip            string
		interceptOnly bool
		open          bool
	}{
		{"127.0.0.1", false, false},
		{"::1", false, false},
		{"0.0.0.0", false, true},
		{"::", false, true},
		{"192.168.1.5", false, true},
		{"0.0.0.0", true, false},
	} {
		if got := openProxy(&net.TCPAddr{IP: net.ParseIP(tc.ip), Port: 8079}, tc.interceptOnly); got != tc.open {
			t.Errorf("openProxy(%s, intercept-only %t) = %t", tc.ip, tc.interceptOnly, got)
		}
	}
}

// TestServeRecordDialable: serve.json names addresses clients can dial.
func TestServeRecordDialable(t *testing.T) {
	dir := t.TempDir()
	in := serveRecord{API: "http://0.0.0.0:8080", REST: "https://[::]:8081", Proxy: "http://127.0.0.1:8079", PID: os.Getpid()}
	if err := writeServeRecord(dir, in); err != nil {
		t.Fatal(err)
	}
	got, err := readServeRecord(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := serveRecord{API: "http://127.0.0.1:8080", REST: "https://[::1]:8081", Proxy: "http://127.0.0.1:8079", PID: os.Getpid()}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}
