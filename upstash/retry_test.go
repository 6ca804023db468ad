package upstash_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/devapi-dev/devapi/upstash"
)

// flaky is an API that answers failures first, then success. It counts
// the requests it gets.
type flaky struct {
	failures   int32  // how many requests fail before the first success
	status     int    // the failures' status
	retryAfter string // the failures' Retry-After header
	body       string // the success's JSON body
	requests   atomic.Int32
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := f.requests.Add(1)
	w.Header().Set("Content-Type", "application/json")
	if n <= f.failures {
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		w.WriteHeader(f.status)
		_, _ = w.Write([]byte(`"try again later"`))
		return
	}
	_, _ = w.Write([]byte(f.body))
}

func newFlaky(t *testing.T, f *flaky, opts ...upstash.Option) *upstash.Client {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := upstash.New("a@example.com", "key", append([]upstash.Option{upstash.WithBaseURL(srv.URL)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const databaseJSON = `{"database_id":"db1","database_name":"x","region":"global","port":6379,"creation_time":1,"state":"active","endpoint":"h","tls":true,"password":"p","rest_token":"r","read_only_rest_token":"ro"}`

func TestRetryGet(t *testing.T) {
	t.Parallel()
	f := &flaky{failures: 2, status: http.StatusServiceUnavailable, retryAfter: "0", body: "[" + databaseJSON + "]"}
	c := newFlaky(t, f)
	list, err := c.ListDatabases(t.Context())
	if err != nil || len(list) != 1 || list[0].ID != "db1" {
		t.Fatalf("ListDatabases = %+v, %v; want success after retries", list, err)
	}
	if n := f.requests.Load(); n != 3 {
		t.Errorf("%d requests, want 3 (two 503, then 200)", n)
	}
}

func TestNoRetryResetPassword(t *testing.T) {
	t.Parallel()
	f := &flaky{failures: 2, status: http.StatusServiceUnavailable, retryAfter: "0", body: databaseJSON}
	c := newFlaky(t, f)
	_, err := c.ResetPassword(t.Context(), "db1")
	if !errors.Is(err, upstash.ErrServer) {
		t.Fatalf("ResetPassword = %v, want the 503 as ErrServer", err)
	}
	if n := f.requests.Load(); n != 1 {
		t.Errorf("%d requests, want 1: ResetPassword is never retried", n)
	}
}

func TestNoRetryOtherWrites(t *testing.T) {
	t.Parallel()
	f := &flaky{failures: 100, status: http.StatusServiceUnavailable, retryAfter: "0"}
	c := newFlaky(t, f)
	ctx := t.Context()
	calls := []func() error{
		func() error {
			_, err := c.CreateDatabase(ctx, upstash.CreateDatabaseRequest{Name: "x", PrimaryRegion: "us-east-1"})
			return err
		},
		func() error { return c.DeleteDatabase(ctx, "db1") },
		func() error { return c.UpdateBudget(ctx, "db1", 1) },                    // PATCH
		func() error { return c.RemoveTeamMember(ctx, "team", "a@example.com") }, // DELETE with a body
	}
	for i, call := range calls {
		before := f.requests.Load()
		if err := call(); !errors.Is(err, upstash.ErrServer) {
			t.Errorf("call %d: %v, want ErrServer", i, err)
		}
		if n := f.requests.Load() - before; n != 1 {
			t.Errorf("call %d: %d requests, want 1", i, n)
		}
	}
}

func TestRetryGivesUp(t *testing.T) {
	t.Parallel()
	f := &flaky{failures: 100, status: http.StatusTooManyRequests, retryAfter: "0"}
	c := newFlaky(t, f, upstash.WithRetries(2))
	_, err := c.ListTeams(t.Context())
	var apiErr *upstash.APIError
	if !errors.Is(err, upstash.ErrRateLimited) || !errors.As(err, &apiErr) || apiErr.Message != "try again later" {
		t.Fatalf("ListTeams = %v, want the last 429", err)
	}
	if n := f.requests.Load(); n != 3 {
		t.Errorf("%d requests, want 3 (the first and 2 retries)", n)
	}
}

func TestRetryOff(t *testing.T) {
	t.Parallel()
	f := &flaky{failures: 1, status: http.StatusBadGateway, retryAfter: "0", body: "[]"}
	c := newFlaky(t, f, upstash.WithRetries(0))
	if _, err := c.ListTeams(t.Context()); !errors.Is(err, upstash.ErrServer) {
		t.Fatalf("ListTeams = %v, want the 502", err)
	}
	if n := f.requests.Load(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestNoRetryOnOtherStatuses(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusInternalServerError, http.StatusNotFound, http.StatusBadRequest} {
		f := &flaky{failures: 1, status: status, retryAfter: "0", body: "[]"}
		c := newFlaky(t, f)
		if _, err := c.ListTeams(t.Context()); err == nil {
			t.Errorf("status %d: no error", status)
		}
		if n := f.requests.Load(); n != 1 {
			t.Errorf("status %d: %d requests, want 1", status, n)
		}
	}
}

// A Retry-After longer than the context has left is not waited for: the
// answer comes back as it is.
func TestRetryAfterPastDeadline(t *testing.T) {
	t.Parallel()
	f := &flaky{failures: 100, status: http.StatusServiceUnavailable, retryAfter: "20"}
	c := newFlaky(t, f)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := c.ListDatabases(ctx)
	if !errors.Is(err, upstash.ErrServer) {
		t.Fatalf("ListDatabases = %v, want the 503", err)
	}
	if n := f.requests.Load(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// Cancelling the context stops the wait between retries.
func TestRetryStopsWithContext(t *testing.T) {
	t.Parallel()
	answered := make(chan struct{})
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "20")
		w.WriteHeader(http.StatusServiceUnavailable)
		if requests.Add(1) == 1 {
			close(answered)
		}
	}))
	t.Cleanup(srv.Close)
	c, err := upstash.New("a@example.com", "key", upstash.WithBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() {
		_, err := c.ListDatabases(ctx)
		done <- err
	}()
	<-answered
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("ListDatabases = %v, want context.Canceled", err)
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// Network errors on reads are retried, with backoff.
func TestRetryNetworkError(t *testing.T) {
	t.Parallel()
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == 1 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = conn.Close() // the connection drops without an answer
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`[]`))
	}))
	t.Cleanup(srv.Close)
	c, err := upstash.New("a@example.com", "key", upstash.WithBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListTeams(t.Context()); err != nil {
		t.Fatalf("ListTeams = %v, want success after a retry", err)
	}
	if n := requests.Load(); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

func TestErrorMessages(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status      int
		contentType string
		body        string
		message     string
		is          error
	}{
		{404, "application/json", `"database not found"`, "database not found", upstash.ErrNotFound},
		{401, "application/json", `{"error":"Unauthorized"}`, "Unauthorized", upstash.ErrUnauthorized},
		{403, "application/json", `{"error":"Forbidden"}`, "Forbidden", upstash.ErrUnauthorized},
		{400, "application/json", `"eviction already disabled"`, "eviction already disabled", upstash.ErrAlreadyDisabled},
		{500, "text/html", "<html>\n<h1>oops</h1>\n</html>", "<html> <h1>oops</h1> </html>", upstash.ErrServer},
		{502, "text/plain", "", "bad gateway", upstash.ErrServer},
		{500, "text/plain", strings.Repeat("x", 500), strings.Repeat("x", 200) + "...", upstash.ErrServer},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", tc.contentType)
			w.WriteHeader(tc.status)
			_, _ = w.Write([]byte(tc.body))
		}))
		c, err := upstash.New("a@example.com", "key", upstash.WithBaseURL(srv.URL), upstash.WithRetries(0))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.EnableTLS(t.Context(), "db1")
		srv.Close()
		var apiErr *upstash.APIError
		if !errors.As(err, &apiErr) {
			t.Errorf("%d %s: %v is not an *APIError", tc.status, tc.body, err)
			continue
		}
		if apiErr.StatusCode != tc.status || apiErr.Message != tc.message || string(apiErr.Body) != tc.body {
			t.Errorf("%d %q: got %#v, message %q", tc.status, tc.body, apiErr, apiErr.Message)
		}
		if !errors.Is(err, tc.is) {
			t.Errorf("%d %q: errors.Is(%v, %v) = false", tc.status, tc.body, err, tc.is)
		}
		if msg := err.Error(); msg != strings.ToLower(msg[:1])+msg[1:] {
			t.Errorf("error %q starts with a capital", msg)
		}
	}
}
