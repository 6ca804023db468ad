package pgstore

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/pgstore/pgtest"
	"github.com/devapi-dev/devapi/storetest"
)

func TestSharedStore(t *testing.T) {
	pgtest.AdminURL(t)
	storetest.RunShared(t, func(t *testing.T, n int) []devapi.Store {
		u := pgtest.NewDatabase(t)
		handles := make([]devapi.Store, n)
		for i := range handles {
			s := openURL(t, u) // each with its own connections and cache, as two replicas
			t.Cleanup(func() { _ = s.Close() })
			handles[i] = s
		}
		return handles
	})
}

// TestVersionReaderStartsAfterCall checks the promise of versionReader: a
// call is answered by a read that started after it, never by one already
// under way, and concurrent calls share reads.
func TestVersionReaderStartsAfterCall(t *testing.T) {
	var version atomic.Int64 // what the store holds; moved by "revocations"
	var reads atomic.Int64
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	r := &versionReader{read: func(ctx context.Context) (string, error) {
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
	go func() { v, _ := r.current(t.Context()); first <- v }()
	<-started
	// A revocation commits while that read is under way; calls made after
	// it must not take the read that started before.
	version.Store(1)
	const later = 8
	var wg sync.WaitGroup
	got := make([]string, later)
	for i := range later {
		wg.Go(func() { got[i], _ = r.current(t.Context()) })
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
