package pgstore

import (
	"runtime"
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
