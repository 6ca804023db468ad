package pgstore

import (
	"context"
	"sync"
	"testing"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/pgstore/pgtest"
	"github.com/devapi-dev/devapi/storetest"
)

func openWithDatabases(t *testing.T, ids ...string) *Store {
	t.Helper()
	s := openURL(t, pgtest.NewDatabase(t))
	t.Cleanup(func() { _ = s.Close() })
	if err := s.CreateAccount(t.Context(), &devapi.Account{Email: "owner@example.com", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if err := s.CreateDatabase(t.Context(), storetest.NewDatabase(id, "owner@example.com", t0)); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// TestSetCredentialsBatches: concurrent resets share batches, and each gets
// the row it wrote.
func TestSetCredentialsBatches(t *testing.T) {
	s := openWithDatabases(t, "db-1", "db-2")
	const calls = 64
	var wg sync.WaitGroup
	got := make([]*devapi.Database, calls)
	errs := make([]error, calls)
	for i := range calls {
		wg.Go(func() {
			id := []string{"db-1", "db-2"}[i%2]
			got[i], errs[i] = s.SetCredentials(t.Context(), "owner@example.com", id, devapi.Credentials{Password: "p" + string(rune('A'+i))})
		})
	}
	wg.Wait()
	gens := map[string]map[int64]bool{"db-1": {}, "db-2": {}}
	for i := range calls {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if want := "p" + string(rune('A'+i)); got[i].Password != want {
			t.Errorf("call %d got the row of another reset: password %q, want %q", i, got[i].Password, want)
		}
		if gens[got[i].ID][got[i].Generation] {
			t.Errorf("two resets of %s answered generation %d", got[i].ID, got[i].Generation)
		}
		gens[got[i].ID][got[i].Generation] = true
	}
	batches, resets := s.creds.batches.Load(), s.creds.resets.Load()
	t.Logf("%d resets in %d batches", resets, batches)
	if resets != calls || batches >= calls {
		t.Errorf("%d resets in %d batches, want %d in fewer batches", resets, batches, calls)
	}
}

// TestSetCredentialsBatchFailsWhole: a batch one of whose statements fails
// (here, a password PostgreSQL cannot store) stores none of its resets and
// answers every one of them the error.
func TestSetCredentialsBatchFailsWhole(t *testing.T) {
	s := openWithDatabases(t, "db-1", "db-2")
	before, err := s.Database(t.Context(), "owner@example.com", "db-1")
	if err != nil {
		t.Fatal(err)
	}
	ops := []*credOp{
		{owner: "owner@example.com", id: "db-1", c: devapi.Credentials{Password: "good"}, done: make(chan struct{})},
		{owner: "owner@example.com", id: "db-2", c: devapi.Credentials{Password: "bad\x00"}, done: make(chan struct{})},
	}
	if err := s.sendCredentials(t.Context(), ops); err == nil {
		t.Fatal("a batch with a failing statement succeeded")
	}
	after, err := s.Database(t.Context(), "owner@example.com", "db-1")
	if err != nil {
		t.Fatal(err)
	}
	if after.Password != before.Password || after.Generation != before.Generation {
		t.Errorf("the good reset of a failed batch was stored: password %q generation %d", after.Password, after.Generation)
	}
}

// TestSetCredentialsCanceledWhileQueued: a reset whose context ends while
// it waits for a turn is never sent.
func TestSetCredentialsCanceledWhileQueued(t *testing.T) {
	s := openWithDatabases(t, "db-1")
	for range maxInFlight { // every turn taken
		s.creds.turns <- struct{}{}
	}
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := s.SetCredentials(ctx, "owner@example.com", "db-1", devapi.Credentials{Password: "never"})
		errc <- err
	}()
	deadlineWait(t, func() bool { s.creds.mu.Lock(); defer s.creds.mu.Unlock(); return len(s.creds.pending) == 1 })
	cancel()
	if err := <-errc; err != context.Canceled {
		t.Fatalf("SetCredentials = %v, want context.Canceled", err)
	}
	for range maxInFlight {
		<-s.creds.turns
	}
	d, err := s.Database(t.Context(), "owner@example.com", "db-1")
	if err != nil {
		t.Fatal(err)
	}
	if d.Password == "never" || len(s.creds.pending) != 0 {
		t.Errorf("a canceled reset was stored or left queued")
	}
}
