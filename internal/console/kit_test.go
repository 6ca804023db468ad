package console_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devapi-dev/devapi/devapitest"
	"github.com/devapi-dev/devapi/internal/console"
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

// stack is a devapi with a console in front of its API and REST handlers.
type stack struct {
	dev     *devapitest.Server
	console *console.Console
	url     string // the console's base URL
	clock   *clock
	log     *syncBuffer
}

// syncBuffer is a log sink safe for the server's goroutines.
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

// newStack starts a devapi (devapitest) and a console over its API and REST
// API, and serves the console on 127.0.0.1. devapitest serves the handlers
// on their own listeners, so the console reaches them through a reverse
// proxy: the same handlers, one hop further.
func newStack(tb testing.TB, edit func(*console.Config)) *stack {
	tb.Helper()
	dev := devapitest.NewServer(tb)
	st := &stack{dev: dev, clock: &clock{now: time.Now()}, log: &syncBuffer{}}
	cfg := console.Config{
		API:     proxyTo(tb, dev.URL),
		REST:    proxyTo(tb, dev.RestURL),
		RESTURL: dev.RestURL,
		CAFile:  dev.CAFile,
		Logger:  slog.New(slog.NewTextHandler(st.log, nil)),
		Now:     st.clock.Now,
	}
	if edit != nil {
		edit(&cfg)
	}
	c, err := console.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	st.console = c
	ts := httptest.NewServer(c.Handler())
	tb.Cleanup(ts.Close)
	st.url = ts.URL
	return st
}

func proxyTo(tb testing.TB, raw string) http.Handler {
	tb.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		tb.Fatal(err)
	}
	return httputil.NewSingleHostReverseProxy(u)
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
