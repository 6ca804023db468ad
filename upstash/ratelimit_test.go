package upstash_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/devapi-dev/devapi/internal/app"
	"github.com/devapi-dev/devapi/internal/redistest"
	"github.com/devapi-dev/devapi/server"
	"github.com/devapi-dev/devapi/upstash"
)

// statusLog records the status of every answer a handler gives.
type statusLog struct {
	mu       sync.Mutex
	statuses []int
}

func (l *statusLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		l.mu.Lock()
		l.statuses = append(l.statuses, rec.Code)
		l.mu.Unlock()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

func (l *statusLog) get() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.statuses)
}

// TestRetryHonoursDevapisRetryAfter: against a real devapi that allows an
// account one request a second, a read answered 429 is retried once its
// Retry-After (1 second) has passed, and succeeds. With one retry, a client
// that waited its own backoff instead (125 to 250 ms for a first retry)
// would be answered 429 again. A change answered 429 is not retried.
func TestRetryHonoursDevapisRetryAfter(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	const email, key = "retry@example.com", "retry-key-0123456789abcdef0123456789abcdef"
	lo, hi := redistest.Ports(t, 50)
	a, err := app.Open(ctx, app.Config{
		Dir:        t.TempDir(),
		Setup:      app.Accounts("test", map[string]string{email: key}),
		Server:     server.Config{Ports: server.PortRange{Min: lo, Max: hi}, AccountRequests: server.RateLimit{PerSecond: 1, Burst: 1}},
		ManualJobs: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	// The answers are logged in front of the app's handler.
	log := &statusLog{}
	hs := httptest.NewServer(log.wrap(a.Handler()))
	t.Cleanup(hs.Close)
	c, err := upstash.New(email, key, upstash.WithBaseURL(hs.URL), upstash.WithRetries(1))
	if err != nil {
		t.Fatal(err)
	}

	if _, err := c.ListDatabases(ctx); err != nil { // spends the burst
		t.Fatal(err)
	}
	if _, err := c.ListDatabases(ctx); err != nil {
		t.Fatalf("ListDatabases over the rate: %v, want success after Retry-After", err)
	}
	if got, want := log.get(), []int{200, 429, 200}; !slices.Equal(got, want) {
		t.Fatalf("answers %v, want %v", got, want)
	}

	_, err = c.CreateDatabase(ctx, upstash.CreateDatabaseRequest{Name: "x", PrimaryRegion: "us-east-1"})
	var apiErr *upstash.APIError
	if !errors.Is(err, upstash.ErrRateLimited) || !errors.As(err, &apiErr) || apiErr.Message == "" {
		t.Fatalf("CreateDatabase over the rate: %v, want ErrRateLimited with the server's message", err)
	}
	if got := log.get(); len(got) != 4 {
		t.Errorf("answers %v: the create was retried", got)
	}
}
