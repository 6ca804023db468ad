package pgstore

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/pgstore/pgtest"
	"github.com/devapi-dev/devapi/storetest"
)

func openWithDatabases(t testing.TB, ids ...string) *Store {
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
	batches, resets := s.GroupCommitStats()
	t.Logf("%d resets in %d batches", resets, batches)
	if resets != calls || batches >= calls {
		t.Errorf("%d resets in %d batches, want %d in fewer batches", resets, batches, calls)
	}
}

// TestSetCredentialsBatchFailsWhole: a batch one of whose statements fails
// (a password PostgreSQL cannot store) stores none of its resets: whether
// the failing reset shares the one statement with the good ones, or is the
// second reset of a database and so in a later statement, the good resets
// (of db-1 in both cases) are not stored either.
func TestSetCredentialsBatchFailsWhole(t *testing.T) {
	for _, c := range []struct {
		name string
		ops  func() []*credOp
	}{
		{"one statement", func() []*credOp {
			return []*credOp{newOp("owner@example.com", "", "db-1", "good"), newOp("owner@example.com", "", "db-2", "bad\x00")}
		}},
		{"across statements", func() []*credOp {
			return []*credOp{
				newOp("owner@example.com", "", "db-1", "good"),
				newOp("owner@example.com", "", "db-2", "good"),
				newOp("owner@example.com", "", "db-1", "bad\x00"),
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := openWithDatabases(t, "db-1", "db-2")
			before, err := s.Database(t.Context(), "owner@example.com", "db-1")
			if err != nil {
				t.Fatal(err)
			}
			if err := s.sendCredentials(t.Context(), c.ops()); err == nil {
				t.Fatal("a batch with a failing statement succeeded")
			}
			after, err := s.Database(t.Context(), "owner@example.com", "db-1")
			if err != nil {
				t.Fatal(err)
			}
			if after.Password != before.Password || after.Generation != before.Generation {
				t.Errorf("a good reset of a failed batch was stored: password %q generation %d", after.Password, after.Generation)
			}
		})
	}
}

// TestSetCredentialsCanceledWhileQueued: a reset whose context ends while
// it waits for a turn is never sent.
func TestSetCredentialsCanceledWhileQueued(t *testing.T) {
	s := openWithDatabases(t, "db-1")
	s.creds.mu.Lock()
	s.creds.inFlight = maxInFlight // every turn taken
	s.creds.mu.Unlock()
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
	s.creds.mu.Lock()
	s.creds.inFlight = 0
	s.creds.mu.Unlock()
	d, err := s.Database(t.Context(), "owner@example.com", "db-1")
	if err != nil {
		t.Fatal(err)
	}
	if d.Password == "never" || len(s.creds.pending) != 0 {
		t.Errorf("a canceled reset was stored or left queued")
	}
}

// newOp returns a reset of id by owner on behalf of keyHash (empty for
// none), to the password password.
func newOp(owner, keyHash, id, password string) *credOp {
	return &credOp{owner: owner, keyHash: keyHash, id: id, done: make(chan struct{}),
		c: devapi.Credentials{Password: password, RestToken: "rest-" + password, ReadOnlyRestToken: "ro-" + password}}
}

// TestSetCredentialsDuplicatesInOneBatch: resets of one database in one
// batch all apply, in arrival order, each moving the generation and
// answering the row it wrote; the last one is what is stored.
func TestSetCredentialsDuplicatesInOneBatch(t *testing.T) {
	s := openWithDatabases(t, "db-1", "db-2", "db-3")
	before, err := s.Database(t.Context(), "owner@example.com", "db-1")
	if err != nil {
		t.Fatal(err)
	}
	g := before.Generation
	// Arrival order; db-1 three times, db-2 twice, db-3 once.
	ops := []*credOp{
		newOp("owner@example.com", "", "db-1", "a"),
		newOp("owner@example.com", "", "db-2", "b"),
		newOp("owner@example.com", "", "db-1", "c"),
		newOp("owner@example.com", "", "db-3", "d"),
		newOp("owner@example.com", "", "db-2", "e"),
		newOp("owner@example.com", "", "db-1", "f"),
	}
	want := []struct {
		password   string
		generation int64
	}{{"a", g + 1}, {"b", g + 1}, {"c", g + 2}, {"d", g + 1}, {"e", g + 2}, {"f", g + 3}}
	arrived := slices.Clone(ops)
	if err := s.sendCredentials(t.Context(), ops); err != nil {
		t.Fatal(err)
	}
	for i, op := range arrived {
		if op.err != nil {
			t.Fatalf("reset %d: %v", i, op.err)
		}
		if op.d.Password != want[i].password || op.d.RestToken != "rest-"+want[i].password ||
			op.d.ReadOnlyRestToken != "ro-"+want[i].password || op.d.Generation != want[i].generation {
			t.Errorf("reset %d of %s answered password %q generation %d, want %q %d",
				i, op.id, op.d.Password, op.d.Generation, want[i].password, want[i].generation)
		}
	}
	for id, w := range map[string]struct {
		password   string
		generation int64
	}{"db-1": {"f", g + 3}, "db-2": {"e", g + 2}, "db-3": {"d", g + 1}} {
		d, err := s.Database(t.Context(), "owner@example.com", id)
		if err != nil {
			t.Fatal(err)
		}
		if d.Password != w.password || d.Generation != w.generation {
			t.Errorf("%s stored password %q generation %d, want %q %d", id, d.Password, d.Generation, w.password, w.generation)
		}
	}
}

// TestSetCredentialsBatchMixed: one batch mixes resets that find their
// database, resets of a missing database, of another account's database,
// and on behalf of a removed key; each answers its own outcome, and only
// the found ones change anything.
func TestSetCredentialsBatchMixed(t *testing.T) {
	const owner, other = "owner@example.com", "other@example.com"
	s := openWithDatabases(t, "db-1", "db-2", "db-3", "db-4")
	ctx := t.Context()
	if err := s.CreateAccount(ctx, &devapi.Account{Email: other, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateDatabase(ctx, storetest.NewDatabase("db-other", other, t0)); err != nil {
		t.Fatal(err)
	}
	for _, k := range []*devapi.APIKey{
		{ID: "k-live", Email: owner, Name: "live", Hash: "hash-live", CreatedAt: t0},
		{ID: "k-gone", Email: owner, Name: "gone", Hash: "hash-gone", CreatedAt: t0},
		{ID: "k-other", Email: other, Name: "other", Hash: "hash-other", CreatedAt: t0},
	} {
		if err := s.AddAPIKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteAPIKey(ctx, owner, "k-gone"); err != nil {
		t.Fatal(err)
	}
	before := map[string]*devapi.Database{}
	for _, id := range []string{"db-1", "db-2", "db-3", "db-4"} {
		d, err := s.Database(ctx, owner, id)
		if err != nil {
			t.Fatal(err)
		}
		before[id] = d
	}
	cases := []struct {
		op    *credOp
		found bool
	}{
		{newOp(owner, "hash-live", "db-1", "live"), true},
		{newOp(owner, "", "db-2", "no-key"), true},
		{newOp(owner, "hash-gone", "db-3", "revoked"), false},
		{newOp(owner, "hash-live", "db-missing", "missing"), false},
		{newOp(owner, "hash-live", "db-other", "not-mine"), false},
		{newOp(owner, "", "db-other", "not-mine-without-key"), false},
		{newOp(owner, "hash-other", "db-4", "key-of-another-account"), false},
		{newOp(owner, "hash-gone", "db-1", "revoked-again"), false}, // a second statement
		{newOp(owner, "hash-live", "db-2", "second"), true},
	}
	ops := make([]*credOp, len(cases))
	for i, c := range cases {
		ops[i] = c.op
	}
	if err := s.sendCredentials(ctx, ops); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		op := c.op
		switch {
		case c.found && op.err != nil:
			t.Errorf("reset %s to %q: %v", op.id, op.c.Password, op.err)
		case c.found && op.d.Password != op.c.Password:
			t.Errorf("reset %s to %q answered password %q", op.id, op.c.Password, op.d.Password)
		case !c.found && devapi.ErrorCode(op.err) != devapi.ENOTFOUND:
			t.Errorf("reset %s to %q: %v, %v; want ENOTFOUND", op.id, op.c.Password, op.d, op.err)
		}
	}
	want := map[string]struct {
		password   string
		generation int64
	}{
		"db-1": {"live", before["db-1"].Generation + 1},
		"db-2": {"second", before["db-2"].Generation + 2},
		"db-3": {before["db-3"].Password, before["db-3"].Generation},
		"db-4": {before["db-4"].Password, before["db-4"].Generation},
	}
	for id, w := range want {
		d, err := s.Database(ctx, owner, id)
		if err != nil {
			t.Fatal(err)
		}
		if d.Password != w.password || d.Generation != w.generation {
			t.Errorf("%s stored password %q generation %d, want %q %d", id, d.Password, d.Generation, w.password, w.generation)
		}
	}
	d, err := s.Database(ctx, other, "db-other")
	if err != nil {
		t.Fatal(err)
	}
	if d.Generation != storetest.NewDatabase("db-other", other, t0).Generation {
		t.Errorf("another account's database was reset")
	}
}

// TestSetCredentialsReplicasDoNotDeadlock: two replicas run the batch
// statement on overlapping databases, listed in every order, at the same
// time; every statement succeeds (a deadlock would fail one with 40P01),
// whatever the order of its arrays and the join PostgreSQL chose, and every
// reset moved the generation.
func TestSetCredentialsReplicasDoNotDeadlock(t *testing.T) {
	ids := []string{"db-a", "db-b", "db-c", "db-d", "db-e", "db-f"}
	a := openWithDatabases(t, ids...)
	b := openURL(t, a.pool.Config().ConnString())
	t.Cleanup(func() { _ = b.Close() })
	const statements = 150
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	var resets [6]atomic.Int64
	for w, s := range []*Store{a, b, a, b} {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for range statements {
				perm := r.Perm(len(ids))[:2+r.IntN(len(ids)-1)]
				round := make([]string, len(perm))
				for i, p := range perm {
					round[i] = ids[p]
				}
				owners := slices.Repeat([]string{"owner@example.com"}, len(round))
				none := make([]string, len(round)) // no key; empty credentials
				rows, err := s.pool.Query(t.Context(), setCredentialsQuery, round, owners, none, none, none, none)
				if err == nil {
					for rows.Next() {
					}
					rows.Close()
					err = rows.Err()
				}
				if err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
				for _, p := range perm {
					resets[p].Add(1)
				}
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	for i, id := range ids {
		d, err := a.Database(t.Context(), "owner@example.com", id)
		if err != nil {
			t.Fatal(err)
		}
		if want := storetest.NewDatabase(id, "owner@example.com", t0).Generation + resets[i].Load(); d.Generation != want {
			t.Errorf("%s at generation %d, want %d", id, d.Generation, want)
		}
	}
}

// TestResetWritesNoIndexedColumn: no index of databases covers a column a
// reset writes, so that PostgreSQL updates the row in place (a HOT update:
// no index entry per reset, no dead index entries to vacuum). The REST
// token indexes that 0003 made are gone (0009); a new index on these
// columns fails here.
func TestResetWritesNoIndexedColumn(t *testing.T) {
	s := openWithDatabases(t)
	rows, err := s.pool.Query(t.Context(), `SELECT i.indexrelid::regclass::text, a.attname
		FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
		WHERE i.indrelid = 'databases'::regclass`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	indexed := 0
	for rows.Next() {
		var index, column string
		if err := rows.Scan(&index, &column); err != nil {
			t.Fatal(err)
		}
		indexed++
		switch column {
		case "password", "rest_token", "read_only_rest_token", "generation":
			t.Errorf("index %s covers %s, which every reset writes", index, column)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if indexed == 0 {
		t.Fatal("found no index of databases at all: the query looks at the wrong table")
	}
}
