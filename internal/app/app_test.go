package app_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/embeddedplane"
	"github.com/devapi-dev/devapi/internal/app"
	"github.com/devapi-dev/devapi/internal/redistest"
	"github.com/devapi-dev/devapi/internal/tlsca"
	"github.com/devapi-dev/devapi/server"
	"github.com/devapi-dev/devapi/sqlitestore"
	"github.com/devapi-dev/devapi/upstashproxy"
)

const (
	email  = "app@example.com"
	apiKey = "app-api-key-0123456789abcdef0123456789"
)

// setup makes the test's account.
var setup = app.Accounts("test", map[string]string{email: apiKey})

// ports is a Server config on ports of the test's own.
func ports(t *testing.T) server.Config {
	lo, hi := redistest.Ports(t, 50)
	return server.Config{Ports: server.PortRange{Min: lo, Max: hi}}
}

// TestOpenBindsBeforeWriting: a listener that cannot bind fails Open
// before the store is opened (nothing is written), with an error that says
// which listener and why.
func TestOpenBindsBeforeWriting(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = taken.Close() }()
	for _, c := range []struct {
		name, listener string
		cfg            app.Config
	}{
		{"api", "api", app.Config{APIAddr: taken.Addr().String()}},
		{"rest", "rest", app.Config{RESTAddr: taken.Addr().String()}},
		{"proxy", "proxy", app.Config{ProxyAddr: taken.Addr().String(), Proxy: func(*tlsca.CA, net.Listener, http.Handler, http.Handler) (*upstashproxy.Proxy, error) {
			return nil, errors.New("must not be reached")
		}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			opened := false
			c.cfg.Dir = dir
			c.cfg.OpenStore = func(context.Context) (devapi.Store, func(), error) {
				opened = true
				return nil, nil, errors.New("must not be reached")
			}
			_, err := app.Open(t.Context(), c.cfg)
			var le *app.ListenError
			if !errors.As(err, &le) || le.Listener != c.listener || !errors.Is(err, syscall.EADDRINUSE) {
				t.Fatalf("Open with the %s address in use: %v, want a ListenError for %s, EADDRINUSE", c.name, err, c.listener)
			}
			if opened {
				t.Errorf("Open opened the store before every listener was bound")
			}
		})
	}
}

// TestFailedPlaneWritesNothing: a plane that cannot open fails Open before
// the CA file is written and Setup runs, and the store is closed and
// released again.
func TestFailedPlaneWritesNothing(t *testing.T) {
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	var setupRan, released bool
	_, err := app.Open(t.Context(), app.Config{
		Dir:    dir,
		CAFile: caFile,
		OpenStore: func(ctx context.Context) (devapi.Store, func(), error) {
			s, err := sqlitestore.Open(ctx, filepath.Join(dir, "devapi.db"))
			return s, func() { released = true }, err
		},
		Setup: func(context.Context, devapi.Store) error { setupRan = true; return nil },
		Plane: app.PlaneConfig{Open: func(context.Context, app.PlaneEnv) (devapi.Plane, error) {
			return nil, errors.New("no plane today")
		}},
	})
	if err == nil || !strings.Contains(err.Error(), "no plane today") {
		t.Fatalf("Open with a failing plane: %v", err)
	}
	if _, err := os.Stat(caFile); !os.IsNotExist(err) {
		t.Errorf("a failed plane left %s (%v)", caFile, err)
	}
	if setupRan {
		t.Error("Setup ran although the plane failed")
	}
	if !released {
		t.Error("the store was not released after a failed Open")
	}
}

// TestServe runs a whole app: the API with a mount beside it, the REST API,
// a database, and a clean Close.
func TestServe(t *testing.T) {
	console := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "console") })
	dir := t.TempDir()
	a, err := app.Open(t.Context(), app.Config{
		Dir: dir, CAFile: filepath.Join(dir, "ca.pem"), Setup: setup, Server: ports(t),
		Mounts: []app.Mount{{Pattern: "/", Handler: console}},
	})
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	defer func() {
		if err := a.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	get := func(path string, auth bool) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, a.APIURL()+path, nil)
		if auth {
			req.SetBasicAuth(email, apiKey)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, c := range []struct {
		path   string
		auth   bool
		status int
		body   string // a part of it
	}{
		{"/", false, 200, "console"},
		{"/anything/else", false, 200, "console"},
		{"/healthz", false, 200, `"ok"`},
		{"/v2/redis/databases", false, 401, `"error"`},
		{"/v2/redis/databases", true, 200, `[]`},
		{"/v2/no-such-path", true, 404, `no such path`},
	} {
		if status, body := get(c.path, c.auth); status != c.status || !strings.Contains(body, c.body) {
			t.Errorf("GET %s: %d %s, want %d with %s", c.path, status, body, c.status, c.body)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "ca.pem")); err != nil {
		t.Errorf("CAFile not written: %v", err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, a.RESTURL()+"/get/k", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("REST API without a token: %d, want 401", resp.StatusCode)
	}
}

// TestMountsCannotTakeTheAPI: a mount on the API's paths is refused.
func TestMountsCannotTakeTheAPI(t *testing.T) {
	h := http.NotFoundHandler()
	for _, pattern := range []string{"/v2/", "/v2", "/healthz", "console"} {
		_, err := app.Open(t.Context(), app.Config{Dir: t.TempDir(), Mounts: []app.Mount{{Pattern: pattern, Handler: h}}})
		if err == nil || !strings.Contains(err.Error(), "cannot mount") {
			t.Errorf("mount at %q: %v, want refused", pattern, err)
		}
	}
}

// TestCloseWaitsForJobs: Close stops the stats sampler and waits until it
// has returned before it closes the plane: the plane sees no call under way
// when it is closed.
func TestCloseWaitsForJobs(t *testing.T) {
	plane := &watchedPlane{entered: make(chan struct{})}
	sc := ports(t)
	sc.StatsInterval = time.Millisecond
	a, err := app.Open(t.Context(), app.Config{
		Dir: t.TempDir(), Setup: setup, Server: sc,
		Plane: app.PlaneConfig{Open: func(_ context.Context, env app.PlaneEnv) (devapi.Plane, error) {
			plane.Plane = embeddedplane.New(env.Config)
			return plane, nil
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, a.APIURL()+"/v2/redis/database",
		strings.NewReader(`{"database_name":"jobs","primary_region":"us-east-1","tls":false}`))
	req.SetBasicAuth(email, apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	plane.block.Store(true)
	select {
	case <-plane.entered: // the sampler is inside Status now, until its ctx ends
	case <-time.After(10 * time.Second):
		t.Fatal("the stats sampler never asked the plane for a database's status")
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	plane.mu.Lock()
	defer plane.mu.Unlock()
	if plane.closedInside {
		t.Error("the plane was closed while the stats sampler was still inside Status")
	}
}

// watchedPlane is a plane whose Status, once block is set, waits for its
// ctx to end; it records a Close that comes while a Status is under way.
type watchedPlane struct {
	devapi.Plane
	block   atomic.Bool
	entered chan struct{}
	once    sync.Once

	mu           sync.Mutex
	inside       int
	closedInside bool
}

func (p *watchedPlane) Status(ctx context.Context, id string) (devapi.PlaneStatus, error) {
	if !p.block.Load() {
		return p.Plane.Status(ctx, id)
	}
	p.mu.Lock()
	p.inside++
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.inside--
		p.mu.Unlock()
	}()
	p.once.Do(func() { close(p.entered) })
	<-ctx.Done()
	return devapi.PlaneStatus{}, ctx.Err()
}

func (p *watchedPlane) Close() error {
	p.mu.Lock()
	if p.inside > 0 {
		p.closedInside = true
	}
	p.mu.Unlock()
	return p.Plane.Close()
}

// TestMountBeforeStart: a handler made from the app's own (as the console
// is) is mounted between Open and Start; after Start a mount is refused.
func TestMountBeforeStart(t *testing.T) {
	a, err := app.Open(t.Context(), app.Config{Dir: t.TempDir(), Server: ports(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = a.Close() }()
	api := a.Server().Handler()
	if err := a.Mount("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// In process, as the console calls the API.
		w.Header().Set("X-Mounted", "yes")
		api.ServeHTTP(w, r.Clone(r.Context()))
	})); err != nil {
		t.Fatal(err)
	}
	a.Start()
	if err := a.Mount("/late", http.NotFoundHandler()); err == nil {
		t.Error("a mount after Start was taken")
	}
	resp, err := http.Get(a.APIURL() + "/some/page")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(b), "no such path: /some/page") || resp.Header.Get("X-Mounted") != "yes" {
		t.Errorf("GET /some/page through the mount: %d %s, want the API's 404", resp.StatusCode, b)
	}
}
