package server_test

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/devapi-dev/devapi/server"
)

// retryAfter returns a 429's Retry-After in seconds, failing t unless the
// answer is a 429 {"error": ...} in JSON with a Retry-After of 1 or more.
func retryAfter(t testing.TB, a reply) time.Duration {
	t.Helper()
	if a.status != http.StatusTooManyRequests {
		t.Fatalf("status %d %s, want 429", a.status, a.body)
	}
	secs, err := strconv.Atoi(a.header.Get("Retry-After"))
	if err != nil || secs < 1 {
		t.Fatalf("429 with Retry-After %q, want whole seconds, at least 1", a.header.Get("Retry-After"))
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json" || a.body[0] != '{' || a.text() == "" {
		t.Fatalf("429 answered %s %s, want {\"error\": ...}", ct, a.body)
	}
	return time.Duration(secs) * time.Second
}

// TestFailedLoginsAreThrottled: 1,200 failed logins within one second of
// the server's clock, from 16 connections at once, get 429 with Retry-After
// once the default budget (burst 20, 10 a second) is spent; the correct key
// gets 429 too meanwhile, from that address and for that email; another
// address with another email is not affected; and after Retry-After the
// correct key works again.
func TestFailedLoginsAreThrottled(t *testing.T) {
	l := newLimitServer(t, nil)
	start := l.clock.Now()
	const attempts, workers = 1200, 16
	var sent atomic.Int64
	var mu sync.Mutex
	counts := map[int]int{}
	var last reply
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			client := loopbackClient("127.0.0.1")
			for {
				n := sent.Add(1)
				if n > attempts {
					return
				}
				// The server's clock goes through one second over the
				// attempts, whatever the test's own speed.
				l.clock.mu.Lock()
				l.clock.now = start.Add(time.Duration(n) * time.Second / attempts)
				l.clock.mu.Unlock()
				a := l.do(t, client, "GET", "/redis/databases", "", limitEmail, "wrong-key-0123456789abcdef0123456789")
				if a.status == http.StatusTooManyRequests {
					retryAfter(t, a)
				}
				mu.Lock()
				counts[a.status]++
				last = a
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	// At most the burst, what a second refills, and the attempts under way
	// when the bucket ran dry get through to a 401.
	if n := counts[http.StatusUnauthorized]; n < 20 || n > 20+10+workers {
		t.Errorf("%d of %d failed logins answered 401, want 20 to %d", n, attempts, 20+10+workers)
	}
	if counts[http.StatusUnauthorized]+counts[http.StatusTooManyRequests] != attempts {
		t.Errorf("answers: %v, want only 401 and 429", counts)
	}
	wait := retryAfter(t, last)

	// Meanwhile the right key is refused too, from that address for any
	// email and for that email from any address: a guesser learns nothing
	// from which guess got through.
	home := loopbackClient("127.0.0.1")
	away := loopbackClient("127.0.0.2")
	retryAfter(t, l.do(t, home, "GET", "/redis/databases", "", limitEmail, limitKey))
	retryAfter(t, l.do(t, home, "GET", "/redis/databases", "", limitOther, limitOKey))
	retryAfter(t, l.do(t, away, "GET", "/redis/databases", "", limitEmail, limitKey))
	if a := l.do(t, away, "GET", "/redis/databases", "", limitOther, limitOKey); a.status != http.StatusOK {
		t.Fatalf("another address with another email: %d %s", a.status, a.body)
	}

	l.clock.Add(wait)
	if a := l.do(t, home, "GET", "/redis/databases", "", limitEmail, limitKey); a.status != http.StatusOK {
		t.Fatalf("the right key after Retry-After: %d %s", a.status, a.body)
	}
}

// TestRequestsWithoutCredentialsCostNothing: requests with no credentials
// guess nothing and cost no store lookup; they are answered 401 however many
// come, and leave the address's budget whole.
func TestRequestsWithoutCredentialsCostNothing(t *testing.T) {
	l := newLimitServer(t, nil)
	for range 100 {
		if a := l.do(t, nil, "GET", "/redis/databases", "", "", ""); a.status != http.StatusUnauthorized {
			t.Fatalf("without credentials: %d %s, want 401", a.status, a.body)
		}
	}
	for range 20 {
		if a := l.do(t, nil, "GET", "/redis/databases", "", limitEmail, "wrong-key"); a.status != http.StatusUnauthorized {
			t.Fatalf("failed login within the burst: %d %s, want 401", a.status, a.body)
		}
	}
	retryAfter(t, l.do(t, nil, "GET", "/redis/databases", "", limitEmail, "wrong-key"))
}

// TestAccountRequestsAreLimited: one account's flood of valid requests is
// answered 429 with Retry-After past its budget; another account is not
// affected; the budget refills with time. A limit can be turned off.
func TestAccountRequestsAreLimited(t *testing.T) {
	l := newLimitServer(t, func(c *server.Config) { c.AccountRequests = server.RateLimit{PerSecond: 2, Burst: 5} })
	for i := range 5 {
		if a := l.do(t, nil, "GET", "/redis/databases", "", limitEmail, limitKey); a.status != http.StatusOK {
			t.Fatalf("request %d within the burst: %d %s", i, a.status, a.body)
		}
	}
	over := l.do(t, nil, "GET", "/redis/databases", "", limitEmail, limitKey)
	if wait := retryAfter(t, over); wait != time.Second {
		t.Errorf("Retry-After %v at 2 a second, want 1s", wait)
	}
	if a := l.do(t, nil, "GET", "/redis/databases", "", limitOther, limitOKey); a.status != http.StatusOK {
		t.Fatalf("another account: %d %s", a.status, a.body)
	}
	l.clock.Add(time.Second)
	for i := range 2 {
		if a := l.do(t, nil, "GET", "/redis/databases", "", limitEmail, limitKey); a.status != http.StatusOK {
			t.Fatalf("request %d a second later: %d %s", i, a.status, a.body)
		}
	}
	retryAfter(t, l.do(t, nil, "GET", "/redis/databases", "", limitEmail, limitKey))

	off := newLimitServer(t, func(c *server.Config) {
		c.AccountRequests = server.RateLimit{PerSecond: -1}
		c.AuthFailures = server.RateLimit{PerSecond: -1}
	})
	for i := range 50 {
		if a := off.do(t, nil, "GET", "/redis/databases", "", limitEmail, "wrong-key"); a.status != http.StatusUnauthorized {
			t.Fatalf("failed login %d with the limit off: %d", i, a.status)
		}
	}
	for i := range 2100 { // past the default burst of 2000
		if a := off.do(t, nil, "GET", "/redis/databases", "", limitEmail, limitKey); a.status != http.StatusOK {
			t.Fatalf("request %d with the limit off: %d", i, a.status)
		}
	}
}

// TestFailedLoginsCountPerEmailWhateverItsCase: failed logins for one
// email spelt in mixed cases, each from its own address, spend that
// email's one budget (throttleAuth lowercases it), and the email in lower
// case is then refused from yet another address.
func TestFailedLoginsCountPerEmailWhateverItsCase(t *testing.T) {
	l := newLimitServer(t, nil)
	spellings := []string{"Quota@Example.com", "QUOTA@EXAMPLE.COM", "quota@example.COM", "qUoTa@eXaMpLe.CoM"}
	for i := range 20 { // the default burst
		client := loopbackClient(fmt.Sprintf("127.0.1.%d", i+1))
		if a := l.do(t, client, "GET", "/redis/databases", "", spellings[i%len(spellings)], "wrong-key"); a.status != http.StatusUnauthorized {
			t.Fatalf("failed login %d within the burst: %d %s, want 401", i, a.status, a.body)
		}
	}
	retryAfter(t, l.do(t, loopbackClient("127.0.2.1"), "GET", "/redis/databases", "", limitEmail, limitKey))
}

// TestFailedResetsAreThrottled: reset-password takes its account from the
// key cache (authenticate's path for a handler that proves the key), yet a
// wrong key is answered 401 with no change made and costs a token, and
// once the burst is spent the right key is refused too.
func TestFailedResetsAreThrottled(t *testing.T) {
	l := newLimitServer(t, nil)
	id := databaseID(t, l.createDatabase(t, limitEmail, limitKey, "reset"))
	path := "/redis/reset-password/" + id
	if a := l.do(t, nil, "POST", path, "", limitEmail, limitKey); a.status != http.StatusOK {
		t.Fatalf("reset with the right key: %d %s", a.status, a.body)
	}
	before, err := l.store.Database(t.Context(), limitEmail, id)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		a := l.do(t, nil, "POST", path, "", limitEmail, "wrong-key-0123456789abcdef0123456789")
		if a.status != http.StatusUnauthorized || a.text() != "Unauthorized" {
			t.Fatalf("reset %d with a wrong key: %d %s, want 401 Unauthorized", i, a.status, a.body)
		}
	}
	after, err := l.store.Database(t.Context(), limitEmail, id)
	if err != nil {
		t.Fatal(err)
	}
	if after.Password != before.Password || after.Generation != before.Generation {
		t.Errorf("wrong keys changed the credentials: generation %d -> %d", before.Generation, after.Generation)
	}
	retryAfter(t, l.do(t, nil, "POST", path, "", limitEmail, limitKey))
}
