package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/embeddedplane"
	"github.com/devapi-dev/devapi/sqlitestore"
)

// TestBucketsStayBounded: a flood of distinct keys keeps at most max
// buckets, while a key deep in debt outlives the flood: the buckets
// dropped first are the ones closest to full.
func TestBucketsStayBounded(t *testing.T) {
	b := newBuckets(RateLimit{PerSecond: 10, Burst: 20})
	b.max = 1000
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for range 100 {
		b.spend("guesser", now)
	}
	for i := range 100_000 {
		b.spend(fmt.Sprint("flood-", i), now)
		if n := b.len(); n > b.max {
			t.Fatalf("%d buckets after %d keys, want at most %d", n, i+1, b.max)
		}
	}
	if b.wait("guesser", now) == 0 {
		t.Fatal("the flood of new keys reset a bucket in debt")
	}
	// Once the flood's buckets filled up again, the next time room is
	// needed they all go: the guesser and the new keys stay.
	later := now.Add(3 * time.Second)
	for i := range 200 {
		b.spend(fmt.Sprint("later-", i), later)
	}
	if n := b.len(); n > 201 {
		t.Errorf("%d buckets once the flood's filled up, want at most 201 (guesser and 200 new)", n)
	}
	if b.wait("guesser", later) == 0 {
		t.Fatal("the guesser's bucket in debt was dropped")
	}
}

// TestAuthBucketsStayBoundedOverHTTP: failed logins from 3,000 addresses,
// each for its own email, keep at most max buckets per limiter.
func TestAuthBucketsStayBoundedOverHTTP(t *testing.T) {
	store, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "devapi.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	plane := embeddedplane.New(devapi.PlaneConfig{})
	t.Cleanup(func() { _ = plane.Close() })
	s, err := New(Config{Store: store, Plane: plane})
	if err != nil {
		t.Fatal(err)
	}
	s.authLimiter.byAddr.max, s.authLimiter.byEmail.max = 500, 500
	h := s.Handler()
	for i := range 3000 {
		req := httptest.NewRequest("GET", "/v2/redis/databases", nil)
		req.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:4000", i>>16&255, i>>8&255, i&255)
		req.SetBasicAuth(fmt.Sprintf("user%d@example.com", i), "wrong-key")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("login %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	if a, e := s.authLimiter.byAddr.len(), s.authLimiter.byEmail.len(); a > 500 || e > 500 {
		t.Errorf("%d address and %d email buckets, want at most 500 each", a, e)
	}
}

// TestClientAddr: IPv4 and IPv4-mapped addresses are their own keys; IPv6
// addresses share their /64.
func TestClientAddr(t *testing.T) {
	for _, tc := range []struct{ remote, want string }{
		{"192.0.2.7:1234", "192.0.2.7"},
		{"[::ffff:192.0.2.7]:1234", "192.0.2.7"},
		{"[2001:db8:1:2:3:4:5:6]:1234", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:1", "2001:db8:1:2::/64"},
		{"[fe80::1%eth0]:1", "fe80::/64"},
		{"not an address", "not an address"},
	} {
		r := &http.Request{RemoteAddr: tc.remote}
		if got := clientAddr(r); got != tc.want {
			t.Errorf("clientAddr(%q) = %q, want %q", tc.remote, got, tc.want)
		}
	}
}

// TestBucketsWaitWithoutLockWhileEmpty: while no key spent a token, wait
// answers without taking the limiter's lock (every request's path while
// nobody failed to log in); once one did, wait finds its bucket in debt,
// and another key's still full; makeRoom keeps the count right.
func TestBucketsWaitWithoutLockWhileEmpty(t *testing.T) {
	b := newBuckets(RateLimit{PerSecond: 10, Burst: 20})
	b.max = 8
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	b.mu.Lock()
	done := make(chan time.Duration, 1)
	go func() { done <- b.wait("anyone", now) }()
	select {
	case d := <-done:
		if d != 0 {
			t.Errorf("wait with no bucket = %v, want 0", d)
		}
	case <-time.After(time.Minute): // a deadlock, not a slow machine
		t.Fatal("wait took the lock while no key has a bucket")
	}
	b.mu.Unlock()
	for range 21 {
		b.spend("guesser", now)
	}
	if b.wait("guesser", now) == 0 {
		t.Fatal("wait missed a bucket in debt")
	}
	if d := b.wait("anyone", now); d != 0 {
		t.Errorf("wait for a key without a bucket = %v, want 0", d)
	}
	for i := range 20 { // past max: makeRoom drops the full ones
		b.spend(fmt.Sprint("flood-", i), now.Add(time.Duration(i)*time.Second))
	}
	if n := b.len(); b.kept.Load() != int64(n) || n == 0 {
		t.Fatalf("after makeRoom: kept %d, %d buckets", b.kept.Load(), n)
	}
}

// TestThrottleAuthAllocatesNothing: for a request that fails no login,
// while no address or email spent a token, throttleAuth takes the
// credentials authenticate parsed (requestInfo.basicAuth), looks at no
// bucket and works out no client address: no allocation. A failed login
// still costs a token of the address and of the email.
func TestThrottleAuthAllocatesNothing(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	l := RateLimit{PerSecond: 10, Burst: 20}
	s := &Server{now: func() time.Time { return now }, authLimiter: &authLimiter{byAddr: newBuckets(l), byEmail: newBuckets(l)}}
	status := http.StatusOK
	h := s.throttleAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) }))
	st := &requestState{}
	st.ctx = requestContext{Context: t.Context(), ri: &st.ri}
	r := httptest.NewRequest(http.MethodPost, resetPasswordPath+"db-1", nil).WithContext(&st.ctx)
	r.RemoteAddr = "192.0.2.7:40000"
	r.SetBasicAuth("dev@example.com", "key")
	st.ri.basicAuth(r) // as the request's first reader
	w := discardWriter{http.Header{}}
	if n := testing.AllocsPerRun(100, func() {
		st.rec = statusRecorder{ResponseWriter: w}
		h.ServeHTTP(&st.rec, r)
	}); n != 0 {
		t.Errorf("throttleAuth allocates %v times, want 0", n)
	}
	status = http.StatusUnauthorized
	h.ServeHTTP(&statusRecorder{ResponseWriter: httptest.NewRecorder()}, r)
	if s.authLimiter.byAddr.wait("192.0.2.7", now) != 0 || s.authLimiter.byAddr.len() != 1 || s.authLimiter.byEmail.len() != 1 {
		t.Fatalf("a failed login kept %d address and %d email buckets, want 1 each", s.authLimiter.byAddr.len(), s.authLimiter.byEmail.len())
	}
}
