package console_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/app"
	"github.com/devapi-dev/devapi/internal/console"
	"github.com/devapi-dev/devapi/internal/portclaim"
	"github.com/devapi-dev/devapi/server"
	"github.com/devapi-dev/devapi/upstash"
)

// clock is a test clock that moves only when told.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// stack is a devapi assembled by internal/app, as devapi serve assembles
// it, with the console mounted at "/" on the API's listener over the app's
// own API and REST handlers.
type stack struct {
	app      *app.App
	console  *console.Console
	url      string // the API's and the console's base URL
	restURL  string
	caFile   string
	caPool   *x509.CertPool
	email    string // the first account
	apiKey   string
	client   *upstash.Client // the API as the first account
	clock    *clock          // the console's
	apiClock *clock          // the management API's, which stamps the stats samples
	log      *syncBuffer     // the API's, the REST API's and the console's log lines
}

// syncBuffer is a log sink safe for the servers' goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lateHandler serves h, set after app.Open (the console needs the app's
// handlers) and before Start (which starts serving).
type lateHandler struct{ h http.Handler }

func (l *lateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) { l.h.ServeHTTP(w, r) }

// newStack starts the stack for tb, with edit applied to the console's
// configuration, and stops it when tb ends. The stats sampler and the daily
// backups run only when a test calls them.
func newStack(tb testing.TB, edit func(*console.Config)) *stack {
	tb.Helper()
	return newStackWith(tb, stackOptions{console: edit})
}

// stackOptions change a stack from newStack's.
type stackOptions struct {
	console func(*console.Config) // edits the console's configuration
	server  func(*server.Config)  // edits the management API's
	plane   app.PlaneConfig       // default: the embedded plane
}

// newStackWith is newStack with opts.
func newStackWith(tb testing.TB, opts stackOptions) *stack {
	tb.Helper()
	ctx := tb.Context()
	dir := tb.TempDir()
	st := &stack{clock: &clock{now: time.Now()}, apiClock: &clock{now: time.Now()}, log: &syncBuffer{}, caFile: filepath.Join(dir, "ca.pem")}
	logger := slog.New(slog.NewTextHandler(st.log, nil))
	lo, hi, release := portclaim.Claim(50)
	tb.Cleanup(func() { _ = release() })
	st.email, st.apiKey = "owner@console.test", devapi.NewAPIKey()
	late := &lateHandler{}
	sc := server.Config{Ports: server.PortRange{Min: lo, Max: hi}, AccountRequests: server.RateLimit{PerSecond: -1},
		Now: st.apiClock.Now}
	if opts.server != nil {
		opts.server(&sc)
	}
	a, err := app.Open(ctx, app.Config{
		Dir:    dir,
		CAFile: st.caFile,
		Setup: func(ctx context.Context, store devapi.Store) error {
			_, err := devapi.EnsureAPIKey(ctx, store, st.email, st.apiKey, "console-test", time.Now().UTC())
			return err
		},
		Server:     sc,
		Plane:      opts.plane,
		Mounts:     []app.Mount{{Pattern: "/", Handler: late}},
		ManualJobs: true,
		Logger:     logger,
	})
	if err != nil {
		tb.Fatalf("open devapi: %v", err)
	}
	tb.Cleanup(func() {
		if err := a.Close(); err != nil {
			tb.Errorf("close devapi: %v", err)
		}
	})
	st.app, st.url, st.restURL, st.caPool = a, a.APIURL(), a.RESTURL(), a.CA().Pool()
	cfg := console.Config{
		API:     a.Server().Handler(),
		REST:    a.REST().Handler(),
		RESTURL: st.restURL,
		CAFile:  st.caFile,
		Logger:  logger,
		Now:     st.clock.Now,
	}
	if opts.console != nil {
		opts.console(&cfg)
	}
	if st.console, err = console.New(cfg); err != nil {
		tb.Fatal(err)
	}
	late.h = st.console.Handler()
	a.Start()
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}}
	tb.Cleanup(hc.CloseIdleConnections)
	if st.client, err = upstash.New(st.email, st.apiKey, upstash.WithBaseURL(st.url), upstash.WithHTTPClient(hc)); err != nil {
		tb.Fatal(err)
	}
	return st
}

// database creates a database of the first account through the API.
func (st *stack) database(tb testing.TB, name string) *upstash.Database {
	tb.Helper()
	db, err := st.client.CreateDatabase(tb.Context(), upstash.CreateDatabaseRequest{Name: name, PrimaryRegion: "us-east-1"})
	if err != nil {
		tb.Fatalf("create database %s: %v", name, err)
	}
	return db
}

// newAccount adds an account and returns its email and API key.
func (st *stack) newAccount(tb testing.TB, email string) string {
	tb.Helper()
	key := devapi.NewAPIKey()
	if _, err := devapi.EnsureAPIKey(tb.Context(), st.app.Store(), email, key, "console-test", time.Now().UTC()); err != nil {
		tb.Fatal(err)
	}
	return key
}

// browser is an HTTP client with a cookie jar, as a browser is to the
// console.
type browser struct {
	tb   testing.TB
	base string
	hc   *http.Client
}

func (st *stack) browser(tb testing.TB) *browser {
	tb.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &browser{tb: tb, base: st.url, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// page is an answer: its status, final URL and body.
type page struct {
	status int
	url    string
	body   string
	header http.Header
}

func (b *browser) do(req *http.Request) page {
	b.tb.Helper()
	resp, err := b.hc.Do(req)
	if err != nil {
		b.tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.tb.Fatal(err)
	}
	return page{status: resp.StatusCode, url: resp.Request.URL.Path, body: string(body), header: resp.Header}
}

func (b *browser) get(path string) page {
	b.tb.Helper()
	req, err := http.NewRequestWithContext(b.tb.Context(), http.MethodGet, b.base+path, nil)
	if err != nil {
		b.tb.Fatal(err)
	}
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) page {
	b.tb.Helper()
	req, err := http.NewRequestWithContext(b.tb.Context(), http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// csrf finds the CSRF token in a page's forms.
func csrf(tb testing.TB, p page) string {
	tb.Helper()
	m := csrfField.FindStringSubmatch(p.body)
	if m == nil {
		tb.Fatalf("no CSRF token in the page at %s (%d)", p.url, p.status)
	}
	return m[1]
}

// signIn signs b in with email and key through the form and returns the
// session's CSRF token.
func (b *browser) signIn(email, key string) string {
	b.tb.Helper()
	form := b.get("/signin")
	p := b.post("/signin", url.Values{"csrf": {csrf(b.tb, form)}, "email": {email}, "api_key": {key}})
	if p.status != http.StatusOK || p.url != "/databases" {
		b.tb.Fatalf("sign-in: %d at %s: %s", p.status, p.url, excerpt(p.body))
	}
	return csrf(b.tb, p)
}

// excerpt is the flash or error message of a page, for failure messages.
func excerpt(body string) string {
	if i := strings.Index(body, `class="flash`); i >= 0 {
		return body[i:min(len(body), i+400)]
	}
	return body[:min(len(body), 400)]
}
