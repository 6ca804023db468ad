package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/cputime"
	"github.com/devapi-dev/devapi/storetest"
)

// holdWriter takes the writer connection in a transaction of its own, the
// way code outside the committer may (s.writer.BeginTx), so that writes
// queue up behind it. The returned release commits that transaction.
func holdWriter(tb testing.TB, s *Store) (release func()) {
	tb.Helper()
	tx, err := s.writer.BeginTx(tb.Context(), nil)
	if err != nil {
		tb.Fatalf("BeginTx: %v", err)
	}
	if _, err := tx.ExecContext(tb.Context(), `INSERT OR IGNORE INTO accounts (email, created_at) VALUES ('direct@example.com', 0)`); err != nil {
		tb.Fatalf("direct insert: %v", err)
	}
	return func() {
		tb.Helper()
		if err := tx.Commit(); err != nil {
			tb.Fatalf("direct commit: %v", err)
		}
	}
}

// waitQueued waits until n writes wait in the queue. While holdWriter holds
// the connection, the committer has taken one write and waits in BeginTx, so
// n writes queued means n+1 submitted.
func waitQueued(tb testing.TB, s *Store, n int) {
	tb.Helper()
	for len(s.committer.ops) < n {
		if err := tb.Context().Err(); err != nil {
			tb.Fatalf("waiting for %d queued writes: %v", n, err)
		}
		runtime.Gosched()
	}
}

// TestGroupCommitBatches proves that concurrent writes share commits: 32
// writers that arrive while the connection is busy are committed together.
func TestGroupCommitBatches(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "devapi.db"))
	mustCreateAccount(t, s, "owner@example.com")
	if err := s.CreateDatabase(t.Context(), storetest.NewDatabase("db-1", "owner@example.com", t0)); err != nil {
		t.Fatal(err)
	}
	commits0, writes0 := s.committer.commits.Load(), s.committer.writes.Load()

	const writers = 32
	release := holdWriter(t, s)
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			p := fmt.Sprint(i)
			_, errs[i] = s.SetCredentials(t.Context(), "owner@example.com", "db-1", devapi.Credentials{Password: p, RestToken: p, ReadOnlyRestToken: p})
		})
	}
	waitQueued(t, s, writers-1)
	release()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
	}
	commits, writes := s.committer.commits.Load()-commits0, s.committer.writes.Load()-writes0
	t.Logf("%d writes in %d commits", writes, commits)
	if writes != writers {
		t.Errorf("committed writes = %d, want %d", writes, writers)
	}
	if commits >= writes {
		t.Errorf("%d commits for %d concurrent writes: no batching", commits, writes)
	}
	d, err := s.Database(t.Context(), "owner@example.com", "db-1")
	if err != nil {
		t.Fatal(err)
	}
	if want := storetest.NewDatabase("db-1", "owner@example.com", t0).Generation + writers; d.Generation != want {
		t.Errorf("generation = %d, want %d", d.Generation, want)
	}
}

// TestGroupCommitMixedBatch runs writes that succeed and writes that fail in
// one transaction: each gets its own outcome, and only the successes stay.
func TestGroupCommitMixedBatch(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "devapi.db"))
	ctx := t.Context()
	mustCreateAccount(t, s, "owner@example.com")
	mustCreateAccount(t, s, "taken@example.com")
	db := storetest.NewDatabase("db-1", "owner@example.com", t0)
	if err := s.CreateDatabase(ctx, db); err != nil {
		t.Fatal(err)
	}
	errChange := errors.New("change refused")

	writes := []struct {
		name string
		do   func() error
		want func(error) bool // nil: want success
	}{
		{"set credentials", func() error {
			_, err := s.SetCredentials(ctx, "owner@example.com", "db-1", devapi.Credentials{Password: "new", RestToken: "rt", ReadOnlyRestToken: "ro"})
			return err
		}, nil},
		{"set credentials of a missing database", func() error {
			_, err := s.SetCredentials(ctx, "owner@example.com", "nope", devapi.Credentials{Password: "x"})
			return err
		}, code(devapi.ENOTFOUND)},
		{"create an account", func() error {
			return s.CreateAccount(ctx, &devapi.Account{Email: "new@example.com", CreatedAt: t0})
		}, nil},
		{"create an account that exists", func() error {
			return s.CreateAccount(ctx, &devapi.Account{Email: "taken@example.com", CreatedAt: t0})
		}, code(devapi.ECONFLICT)},
		{"update refused by its change func", func() error {
			_, err := s.UpdateDatabase(ctx, "owner@example.com", "db-1", func(d *devapi.Database) error {
				d.Name = "refused"
				return errChange
			})
			return err
		}, func(err error) bool { return errors.Is(err, errChange) }},
		{"rename", func() error {
			_, err := s.UpdateDatabase(ctx, "owner@example.com", "db-1", func(d *devapi.Database) error {
				d.Name = "renamed"
				return nil
			})
			return err
		}, nil},
		{"move to an unknown account", func() error {
			_, err := s.UpdateDatabase(ctx, "owner@example.com", "db-1", func(d *devapi.Database) error {
				d.Owner = "ghost@example.com"
				return nil
			})
			return err
		}, code(devapi.ENOTFOUND)},
		{"key for an unknown account", func() error {
			return s.AddAPIKey(ctx, &devapi.APIKey{ID: "k", Email: "ghost@example.com", Hash: "h", CreatedAt: t0})
		}, code(devapi.ENOTFOUND)},
		{"half a write, then an error", func() error {
			return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, `INSERT INTO accounts (email, created_at) VALUES ('half@example.com', 0)`); err != nil {
					return err
				}
				return errChange
			})
		}, func(err error) bool { return errors.Is(err, errChange) }},
		{"a team", func() error {
			return s.CreateTeam(ctx, &devapi.Team{ID: "team-1", Name: "t", CreatedAt: t0}, "owner@example.com")
		}, nil},
		{"a team whose id is taken", func() error {
			return s.CreateTeam(ctx, &devapi.Team{ID: "taken@example.com", Name: "t", CreatedAt: t0}, "owner@example.com")
		}, code(devapi.ECONFLICT)},
	}

	commits0 := s.committer.commits.Load()
	release := holdWriter(t, s)
	errs := make([]error, len(writes))
	var wg sync.WaitGroup
	for i, w := range writes {
		wg.Go(func() { errs[i] = w.do() })
	}
	waitQueued(t, s, len(writes)-1)
	release()
	wg.Wait()

	for i, w := range writes {
		switch err := errs[i]; {
		case w.want == nil && err != nil:
			t.Errorf("%s: %v, want success", w.name, err)
		case w.want != nil && (err == nil || !w.want(err)):
			t.Errorf("%s: got error %v, want another", w.name, err)
		}
	}
	if got := s.committer.commits.Load() - commits0; got != 1 {
		t.Errorf("%d commits, want the %d writes in one", got, len(writes))
	}

	d, err := s.Database(ctx, "owner@example.com", "db-1")
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "renamed" || d.Password != "new" || d.Generation != db.Generation+1 {
		t.Errorf("db-1: name %q, password %q, generation %d; want renamed, new, %d", d.Name, d.Password, d.Generation, db.Generation+1)
	}
	accounts, err := s.Accounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var emails []string
	for _, a := range accounts {
		emails = append(emails, a.Email)
	}
	want := []string{"direct@example.com", "new@example.com", "owner@example.com", "taken@example.com", "team-1"}
	slices.Sort(emails)
	if !slices.Equal(emails, want) {
		t.Errorf("accounts = %v, want %v", emails, want)
	}
}

// TestGroupCommitCancelledWhileQueued: a caller that gives up while its
// write waits gets its context's error, the write never happens, and the
// writes queued with it are unaffected.
func TestGroupCommitCancelledWhileQueued(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "devapi.db"))
	release := holdWriter(t, s)

	ctxA, cancelA := context.WithCancel(t.Context())
	errA, errB := make(chan error, 1), make(chan error, 1)
	go func() { errA <- s.CreateAccount(ctxA, &devapi.Account{Email: "a@example.com", CreatedAt: t0}) }()
	go func() { errB <- s.CreateAccount(t.Context(), &devapi.Account{Email: "b@example.com", CreatedAt: t0}) }()
	waitQueued(t, s, 1) // one taken by the committer, one in the queue: both submitted
	cancelA()
	if err := <-errA; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled write: %v, want context.Canceled", err)
	}
	release()
	if err := <-errB; err != nil {
		t.Errorf("write queued with the cancelled one: %v", err)
	}
	accounts, err := s.Accounts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range accounts {
		if a.Email == "a@example.com" {
			t.Errorf("the cancelled write was applied")
		}
	}
	if len(accounts) != 2 {
		t.Errorf("%d accounts, want direct@ and b@", len(accounts))
	}
}

// TestGroupCommitPanic: a change func that panics panics in its caller, as
// it would without the committer, and the store goes on working.
func TestGroupCommitPanic(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "devapi.db"))
	mustCreateAccount(t, s, "owner@example.com")
	if err := s.CreateDatabase(t.Context(), storetest.NewDatabase("db-1", "owner@example.com", t0)); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Errorf("recovered %v, want the change func's panic", p)
			}
		}()
		_, _ = s.UpdateDatabase(t.Context(), "owner@example.com", "db-1", func(d *devapi.Database) error {
			d.Name = "half"
			panic("boom")
		})
	}()
	d, err := s.UpdateDatabase(t.Context(), "owner@example.com", "db-1", func(d *devapi.Database) error { return nil })
	if err != nil {
		t.Fatalf("update after a panic: %v", err)
	}
	if d.Name == "half" {
		t.Errorf("the panicking change was applied")
	}
}

// TestWriteAfterClose: Close commits what is queued; later writes fail.
func TestWriteAfterClose(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "devapi.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAccount(t.Context(), &devapi.Account{Email: "late@example.com"}); !errors.Is(err, errClosed) {
		t.Errorf("write after Close: %v, want errClosed", err)
	}
}

func code(c string) func(error) bool {
	return func(err error) bool { return devapi.ErrorCode(err) == c }
}

// BenchmarkSetCredentialsParallel measures SetCredentials from many
// goroutines at once, where group commit shares one fsync among them.
func BenchmarkSetCredentialsParallel(b *testing.B) {
	benchmarkResetsAt(b, "")
}

// BenchmarkSetCredentialsAsKeyParallel is BenchmarkSetCredentialsParallel
// through SetCredentialsAsKey, as reset-password calls it: the key's
// existence is part of each UPDATE.
func BenchmarkSetCredentialsAsKeyParallel(b *testing.B) {
	benchmarkResetsAt(b, devapi.HashAPIKey("bench-key"))
}

// benchmarkResetsAt runs benchmarkResets from 8 and from 16 goroutines
// that write back to back, and from 16 that spend time outside the store
// between their resets, with and without the gathering wait.
//
// devapi-load's 16 connections put about half their requests in the store
// at once (the rest are in HTTP, authentication and the data plane): 8
// goroutines back to back are that many in the store, 16 every connection
// in it. The goroutines that spend 500 µs outside (asleep, so it costs no
// CPU) are the server's regime: the writers of one batch come back while
// the next runs, and the gathering wait (gather) is what makes them join
// it. Those that spend 0-1ms outside (uniformly, 500 µs on average) come
// back spread out, as the server's do (devapi-load's batches hold ~11
// resets where these hold ~16).
func benchmarkResetsAt(b *testing.B, keyHash string) {
	for _, bc := range []struct {
		goroutines int
		outside    time.Duration
		spread     bool // outside is the mean of a uniform 0-2*outside
		gather     bool
	}{
		{8, 0, false, true},
		{16, 0, false, true},
		{16, 500 * time.Microsecond, false, true},
		{16, 500 * time.Microsecond, false, false},
		{16, 500 * time.Microsecond, true, true},
	} {
		name := fmt.Sprint("goroutines=", bc.goroutines)
		switch {
		case bc.spread:
			name += fmt.Sprint("/outside=0-", 2*bc.outside, "/gather=", bc.gather)
		case bc.outside > 0:
			name += fmt.Sprint("/outside=", bc.outside, "/gather=", bc.gather)
		}
		b.Run(name, func(b *testing.B) {
			benchmarkResets(b, keyHash, bc.goroutines, bc.outside, bc.spread, bc.gather)
		})
	}
}

// benchmarkResets resets 16 databases from the given number of goroutines,
// with SetCredentialsAsKey and the hash of an API key of the owner unless
// keyHash is empty, and credentials shaped as reset-password makes them
// (devapi.NewPassword, devapi.NewRestTokens). Each goroutine sleeps for
// outside after each of its resets (with spread, a uniform 0-2*outside);
// without gather, batches do not wait to gather writers. It reports the process's CPU per reset (cpu-µs/op) and
// the mean number of resets per commit (writes/commit).
func benchmarkResets(b *testing.B, keyHash string, goroutines int, outside time.Duration, spread, gather bool) {
	s := openStore(b, filepath.Join(b.TempDir(), "devapi.db"))
	if !gather {
		s.committer.gatherWait = 0 // before any write: the committer is idle
	}
	mustCreateAccount(b, s, "owner@example.com")
	if keyHash != "" {
		if err := s.AddAPIKey(b.Context(), &devapi.APIKey{ID: "bench", Email: "owner@example.com", Name: "bench", Hash: keyHash, CreatedAt: t0}); err != nil {
			b.Fatal(err)
		}
	}
	const dbs, credsEach = 16, 16
	for i := range dbs {
		if err := s.CreateDatabase(b.Context(), storetest.NewDatabase(fmt.Sprintf("db-%d", i), "owner@example.com", t0)); err != nil {
			b.Fatal(err)
		}
	}
	reset := func(id string, c devapi.Credentials) error {
		var err error
		if keyHash == "" {
			_, err = s.SetCredentials(b.Context(), "owner@example.com", id, c)
		} else {
			_, err = s.SetCredentialsAsKey(b.Context(), "owner@example.com", keyHash, id, c)
		}
		return err
	}
	// Each goroutine resets one database with credentials made before the
	// clock starts: making them is the server's work, not the store's.
	ids := make([]string, goroutines)
	creds := make([][]devapi.Credentials, goroutines)
	for g := range goroutines {
		ids[g] = fmt.Sprintf("db-%d", g%dbs)
		for range credsEach {
			c := devapi.Credentials{Password: devapi.NewPassword()}
			c.RestToken, c.ReadOnlyRestToken = devapi.NewRestTokens(ids[g], 6379, c.Password)
			creds[g] = append(creds[g], c)
		}
	}
	commits0, writes0 := s.committer.commits.Load(), s.committer.writes.Load()
	b.ReportAllocs()
	b.ResetTimer()
	var next atomic.Int64 // resets handed out
	var wg sync.WaitGroup
	cpu0, cpuOK := cputime.Process()
	for g := range goroutines {
		wg.Go(func() {
			for i := 0; next.Add(1) <= int64(b.N); i++ {
				if err := reset(ids[g], creds[g][i%credsEach]); err != nil {
					b.Error(err)
					return
				}
				switch {
				case spread:
					time.Sleep(rand.N(2 * outside))
				case outside > 0:
					time.Sleep(outside)
				}
			}
		})
	}
	wg.Wait()
	if cpu1, ok := cputime.Process(); cpuOK && ok && b.N > 0 {
		b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
	}
	if c := s.committer.commits.Load() - commits0; c > 0 {
		b.ReportMetric(float64(s.committer.writes.Load()-writes0)/float64(c), "writes/commit")
	}
}

// failCommits makes every commit of s fail with err, on both of the
// committer's paths: the transaction is rolled back and err returned. Call
// it, and restore, while the committer is idle.
func failCommits(s *Store, err error) (restore func()) {
	c := s.committer
	commit, commitResets := c.commit, c.commitResets
	c.commit = func(tx *sql.Tx) error {
		_ = tx.Rollback()
		return err
	}
	c.commitResets = func(wc *writerConn) error {
		wc.rollbackBatch()
		return err
	}
	return func() { c.commit, c.commitResets = commit, commitResets }
}

// TestGroupCommitFailedCommit: when the commit fails, every write of the
// batch that had succeeded gets the error and none of them is kept; a
// write that failed on its own keeps its own error.
func TestGroupCommitFailedCommit(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "devapi.db"))
	ctx := t.Context()
	errDisk := errors.New("disk on fire")
	restore := failCommits(s, errDisk)

	release := holdWriter(t, s)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	wg.Go(func() { errs[0] = s.CreateAccount(ctx, &devapi.Account{Email: "a@example.com", CreatedAt: t0}) })
	wg.Go(func() { errs[1] = s.CreateAccount(ctx, &devapi.Account{Email: "b@example.com", CreatedAt: t0}) })
	wg.Go(func() { errs[2] = s.DeleteAPIKey(ctx, "nobody@example.com", "k") })
	waitQueued(t, s, 2)
	release()
	wg.Wait()
	for i, err := range errs[:2] {
		if !errors.Is(err, errDisk) {
			t.Errorf("write %d: %v, want the commit's error", i, err)
		}
	}
	if devapi.ErrorCode(errs[2]) != devapi.ENOTFOUND {
		t.Errorf("failing write: %v, want its own ENOTFOUND", errs[2])
	}

	restore() // while the committer is idle
	accounts, err := s.Accounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range accounts {
		if a.Email != "direct@example.com" {
			t.Errorf("account %s kept after its commit failed", a.Email)
		}
	}
	if err := s.CreateAccount(ctx, &devapi.Account{Email: "c@example.com", CreatedAt: t0}); err != nil {
		t.Errorf("write after a failed commit: %v", err)
	}
}

// TestGroupCommitOneStatementFailure: a one-statement write (no savepoint)
// that fails with an error of SQLite, not a domain error, gives up its whole
// batch, as the transaction may be gone: the write that ran before it in the
// batch fails too and is not stored; the next batch works.
func TestGroupCommitOneStatementFailure(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "devapi.db"))
	ctx := t.Context()
	started, proceed := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	var errFirst, errOne error
	wg.Go(func() {
		errFirst = s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO accounts (email, created_at) VALUES ('batched@example.com', 0)`); err != nil {
				return err
			}
			close(started)
			<-proceed // the committer holds this batch open meanwhile
			return nil
		})
	})
	<-started
	wg.Go(func() {
		errOne = s.writeOne(ctx, func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE no_such_table SET x = 1`)
			return err
		})
	})
	waitQueued(t, s, 1)
	close(proceed)
	wg.Wait()
	if errOne == nil || errFirst == nil {
		t.Fatalf("one-statement write: %v; write before it in the batch: %v; want both to fail", errOne, errFirst)
	}
	accounts, err := s.Accounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range accounts {
		if a.Email == "batched@example.com" {
			t.Error("a write of the given-up batch was stored")
		}
	}
	if err := s.CreateAccount(ctx, &devapi.Account{Email: "next@example.com", CreatedAt: t0}); err != nil {
		t.Errorf("write after the given-up batch: %v", err)
	}
}

// batchOfThree commits three concurrent resets of db-1 in one batch, so
// that the next batch expects three writes (gather).
func batchOfThree(t *testing.T, s *Store) {
	t.Helper()
	commits0 := s.committer.commits.Load()
	release := holdWriter(t, s)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			if _, err := s.SetCredentials(t.Context(), "owner@example.com", "db-1", devapi.Credentials{Password: fmt.Sprint("three-", i)}); err != nil {
				t.Error(err)
			}
		})
	}
	waitQueued(t, s, 2)
	release()
	wg.Wait()
	if got := s.committer.commits.Load() - commits0; got != 1 {
		t.Fatalf("three queued resets in %d commits, want 1", got)
	}
}

// waitGathering waits until the committer has begun a gathering wait since
// it had begun gathers0, for the write whose outcome first will carry.
func waitGathering(t *testing.T, s *Store, gathers0 int64, first <-chan error) {
	t.Helper()
	for s.committer.gathers.Load() == gathers0 {
		select {
		case err := <-first:
			t.Fatalf("the first write was answered (%v) without waiting for others", err)
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		default:
			runtime.Gosched()
		}
	}
}

// TestGatherNeverDelaysALoneWriter: writes from one goroutine, one after
// another, never wait for others to join their batch.
func TestGatherNeverDelaysALoneWriter(t *testing.T) {
	s, _ := keptRowsStore(t)
	gathers0 := s.committer.gathers.Load()
	for i := range 20 {
		resetAndCheck(t, s, fmt.Sprint("lone-", i))
		if err := s.CreateAccount(t.Context(), &devapi.Account{Email: fmt.Sprint("lone-", i, "@example.com"), CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.committer.gathers.Load() - gathers0; n != 0 {
		t.Errorf("a lone writer's batches waited %d times for others", n)
	}
}

// TestGatherJoinsWritersOnTheirWay: after a batch of three, a batch that
// starts with one write waits for two more, commits the three at once, and
// stops waiting as soon as it holds them.
func TestGatherJoinsWritersOnTheirWay(t *testing.T) {
	s, _ := keptRowsStore(t)
	batchOfThree(t, s)
	// While the committer is idle: the wait can only end with the third
	// write, well before the writers' deadline.
	s.committer.gatherWait = time.Minute
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	commits0, writes0, gathers0 := s.committer.commits.Load(), s.committer.writes.Load(), s.committer.gathers.Load()
	reset := func(p string) error {
		_, err := s.SetCredentials(ctx, "owner@example.com", "db-1", devapi.Credentials{Password: p})
		return err
	}
	first := make(chan error, 1)
	go func() { first <- reset("first") }()
	waitGathering(t, s, gathers0, first)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			if err := reset(fmt.Sprint("joining-", i)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if c, w := s.committer.commits.Load()-commits0, s.committer.writes.Load()-writes0; c != 1 || w != 3 {
		t.Errorf("%d writes in %d commits, want 3 in 1", w, c)
	}
}

// TestGatherWaitIsBounded: a batch that waits for writers who do not come
// commits once gatherWait has passed, and the batch after it expects no
// more than it held.
func TestGatherWaitIsBounded(t *testing.T) {
	s, _ := keptRowsStore(t)
	batchOfThree(t, s)
	s.committer.gatherWait = time.Millisecond // while the committer is idle
	gathers0 := s.committer.gathers.Load()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for i, wantGathers := range []int64{1, 1} {
		if _, err := s.SetCredentials(ctx, "owner@example.com", "db-1", devapi.Credentials{Password: fmt.Sprint("alone-", i)}); err != nil {
			t.Fatalf("reset %d after a batch of three: %v", i, err)
		}
		if n := s.committer.gathers.Load() - gathers0; n != wantGathers {
			t.Errorf("after reset %d: %d gathering waits, want %d", i, n, wantGathers)
		}
	}
}

// TestGatherWaitsOncePerBatch: a batch whose wait ends with fewer writes
// than expected runs them and commits; it does not wait again.
func TestGatherWaitsOncePerBatch(t *testing.T) {
	s, _ := keptRowsStore(t)
	batchOfThree(t, s)
	// While the committer is idle: long enough for the second write to
	// join, the third never comes.
	s.committer.gatherWait = 500 * time.Millisecond
	commits0, writes0, gathers0 := s.committer.commits.Load(), s.committer.writes.Load(), s.committer.gathers.Load()
	reset := func(p string) error {
		_, err := s.SetCredentials(t.Context(), "owner@example.com", "db-1", devapi.Credentials{Password: p})
		return err
	}
	first := make(chan error, 1)
	go func() { first <- reset("first") }()
	waitGathering(t, s, gathers0, first)
	if err := reset("second"); err != nil {
		t.Fatal(err)
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if c, w, g := s.committer.commits.Load()-commits0, s.committer.writes.Load()-writes0, s.committer.gathers.Load()-gathers0; c != 1 || w != 2 || g != 1 {
		t.Errorf("%d writes in %d commits after %d waits, want 2 in 1 after 1", w, c, g)
	}
}

// TestGatherLeavesOtherWritesForTheNext: a write other than a reset that
// arrives while a batch of resets waits for more ends the wait and runs in
// the next batch, in a transaction of its own.
func TestGatherLeavesOtherWritesForTheNext(t *testing.T) {
	s, _ := keptRowsStore(t)
	batchOfThree(t, s)
	s.committer.gatherWait = time.Minute // while the committer is idle: only a write ends the wait
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	commits0, gathers0 := s.committer.commits.Load(), s.committer.gathers.Load()
	first := make(chan error, 1)
	go func() {
		_, err := s.SetCredentials(ctx, "owner@example.com", "db-1", devapi.Credentials{Password: "first"})
		first <- err
	}()
	waitGathering(t, s, gathers0, first)
	if err := s.CreateAccount(ctx, &devapi.Account{Email: "other@example.com", CreatedAt: t0}); err != nil {
		t.Fatalf("a write that came during a batch of resets: %v", err)
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	accounts, err := s.Accounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(accounts, func(a *devapi.Account) bool { return a.Email == "other@example.com" }) {
		t.Error("the write that came during a batch of resets is not stored")
	}
	if c := s.committer.commits.Load() - commits0; c != 2 {
		t.Errorf("%d commits, want 2: the batch of resets, then the other write", c)
	}
}
