package keycache

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/devapi-dev/devapi"
)

// TestReaderStartsAfterCall checks the promise of Reader: a
// call is answered by a read that started after it, never by one already
// under way, and concurrent calls share reads.
func TestReaderStartsAfterCall(t *testing.T) {
	var version atomic.Int64 // what the store holds; moved by "revocations"
	var reads atomic.Int64
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	r := &Reader{Read: func(ctx context.Context) (string, error) {
		reads.Add(1)
		v := version.Load()
		select {
		case started <- struct{}{}:
		default:
		}
		<-release // hold the read until the test lets it go
		return string(rune('a' + v)), nil
	}}

	// A first call starts a read, which reads version 0 and is held.
	first := make(chan string, 1)
	go func() { v, _ := r.Current(t.Context()); first <- v }()
	<-started
	// A revocation commits while that read is under way; calls made after
	// it must not take the read that started before.
	version.Store(1)
	const later = 8
	var wg sync.WaitGroup
	got := make([]string, later)
	for i := range later {
		wg.Go(func() { got[i], _ = r.Current(t.Context()) })
	}
	// Let the later calls queue behind the held read, then let reads go.
	deadlineWait(t, func() bool { r.mu.Lock(); defer r.mu.Unlock(); return r.next != nil })
	close(release)
	if v := <-first; v != "a" {
		t.Errorf("first call = %q, want %q", v, "a")
	}
	wg.Wait()
	for i, v := range got {
		if v != "b" {
			t.Errorf("later call %d = %q, want %q: it took a read that started before it", i, v, "b")
		}
	}
	if n := reads.Load(); n >= 1+later {
		t.Errorf("%d reads for 1+%d calls, want them shared", n, later)
	}
}

// deadlineWait polls cond until it holds, failing the test after a minute.
func deadlineWait(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within a minute")
		}
		runtime.Gosched()
	}
}

// TestCache: an entry is served only under the version it was read with,
// and only for its email.
func TestCache(t *testing.T) {
	var c Cache
	a := devapi.Account{Email: "a@example.com"}
	if _, ok := c.Get("1", "a@example.com", "h"); ok {
		t.Fatal("an empty cache answered")
	}
	c.Put("1", "h", a)
	if got, ok := c.Get("1", "a@example.com", "h"); !ok || got != a {
		t.Fatalf("Get after Put = %v, %v", got, ok)
	}
	if _, ok := c.Get("1", "b@example.com", "h"); ok {
		t.Error("a cached key answered for another email")
	}
	c.Put("0", "old", a) // read under an older version: not kept
	if _, ok := c.Get("1", "a@example.com", "old"); ok {
		t.Error("an entry read under another version was kept")
	}
	if _, ok := c.Get("2", "a@example.com", "h"); ok {
		t.Error("an entry survived a new version")
	}
	if _, ok := c.Get("2", "a@example.com", "h"); ok || c.Len() != 0 {
		t.Error("the cache kept entries of an older version")
	}
}
