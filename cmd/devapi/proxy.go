package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/devapi-dev/devapi/internal/tlsca"
	"github.com/devapi-dev/devapi/upstashproxy"
)

// envProxyAddr holds --proxy-addr when the flag is not given.
const envProxyAddr = "DEVAPI_PROXY_ADDR"

// upstashAPIHost is the host Upstash's own tools hard-code.
const upstashAPIHost = "api.upstash.com"

// proxyRoute says which names the proxy answers itself: api.upstash.com
// with the Developer API, and the databases' advertised host with the REST
// API when it is a name (an IP address or localhost is never sent to a
// proxy: clients reach those directly).
func proxyRoute(advertisedHost string, api, rest http.Handler) func(string) http.Handler {
	adv := strings.TrimSuffix(strings.ToLower(advertisedHost), ".")
	endpoints := adv != "" && adv != "localhost" && adv != upstashAPIHost && net.ParseIP(adv) == nil
	return func(host string) http.Handler {
		switch {
		case host == upstashAPIHost:
			return api
		case endpoints && host == adv:
			return rest
		}
		return nil
	}
}

// newProxy builds serve's proxy, to serve on ln. A proxy that tunnels
// and listens beyond loopback is an open proxy for whoever reaches it, into
// this machine's network too: serve warns about it.
func newProxy(o serveOptions, ca *tlsca.CA, ln net.Listener, api, rest http.Handler, logger *slog.Logger) (*upstashproxy.Proxy, error) {
	p, err := upstashproxy.New(upstashproxy.Config{
		Route:         proxyRoute(o.advertisedHost, api, rest),
		CA:            ca,
		InterceptOnly: o.proxyInterceptOnly,
		Logger:        logger,
	})
	if err != nil {
		return nil, err
	}
	if openProxy(ln.Addr(), o.proxyInterceptOnly) {
		logger.Warn("the proxy listens beyond loopback and tunnels any host for whoever reaches it; pass --proxy-intercept-only unless that is meant", "proxy", ln.Addr().String())
	}
	return p, nil
}

// dialable turns a URL whose host is an unspecified address into one of
// loopback.
func dialable(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	ip := net.ParseIP(u.Hostname())
	switch {
	case ip == nil || !ip.IsUnspecified():
		return rawURL
	case ip.To4() != nil:
		u.Host = net.JoinHostPort("127.0.0.1", u.Port())
	default:
		u.Host = net.JoinHostPort("::1", u.Port())
	}
	return u.String()
}

// openProxy reports whether a proxy listening on addr tunnels for clients
// beyond this machine.
func openProxy(addr net.Addr, interceptOnly bool) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && !tcp.IP.IsLoopback() && !interceptOnly
}

// serveRecordFile is the file in the data folder where a running serve
// records its addresses, for devapi env. Removed when serve stops.
const serveRecordFile = "serve.json"

// serveRecord is the content of serveRecordFile.
type serveRecord struct {
	// API is the Developer API's root, without /v2.
	API string `json:"api"`
	// REST is the REST data API's root.
	REST string `json:"rest"`
	// Proxy is the proxy's URL, empty when serve runs without one.
	Proxy string `json:"proxy,omitempty"`
	// PID is serve's process id: a record whose process is gone was left
	// by a serve that did not stop cleanly.
	PID int `json:"pid"`
}

// writeServeRecord writes r to the data folder, mode 0600. Addresses that
// listen on every interface (0.0.0.0, ::) are recorded as loopback, which
// clients dial, and which they never send to a proxy.
func writeServeRecord(dir string, r serveRecord) error {
	r.API, r.REST, r.Proxy = dialable(r.API), dialable(r.REST), dialable(r.Proxy)
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, serveRecordFile), append(b, '\n'), 0o600)
}

// readServeRecord reads what writeServeRecord wrote; os.ErrNotExist when
// no serve runs on dir.
func readServeRecord(dir string) (serveRecord, error) {
	var r serveRecord
	b, err := os.ReadFile(filepath.Join(dir, serveRecordFile))
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("read %s: %w", filepath.Join(dir, serveRecordFile), err)
	}
	if r.PID > 0 && !processRuns(r.PID) {
		return r, fmt.Errorf("%w: %s was left by a devapi serve (pid %d) that no longer runs", os.ErrNotExist, filepath.Join(dir, serveRecordFile), r.PID)
	}
	if r.API == "" {
		return r, errors.New(filepath.Join(dir, serveRecordFile) + " names no API address")
	}
	return r, nil
}

// processRuns reports whether a process with this id exists.
func processRuns(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
