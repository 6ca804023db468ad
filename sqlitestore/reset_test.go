package sqlitestore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/storetest"
)

// TestResetStatementFinalizedWithConnection: when database/sql replaces the
// writer's connection, the reset's statements prepared on the old one are
// finalized with it, so the old connection really closes. Without that,
// SQLite keeps every such connection open (a "zombie"), with its file
// handles: the process's descriptors on the database file would grow by one
// per replaced connection.
func TestResetStatementFinalizedWithConnection(t *testing.T) {
	if _, err := os.ReadDir("/proc/self/fd"); err != nil {
		t.Skipf("no /proc/self/fd to count file descriptors: %v", err)
	}
	path := filepath.Join(t.TempDir(), "devapi.db")
	s := openStore(t, path)
	mustCreateAccount(t, s, "owner@example.com")
	if err := s.CreateDatabase(t.Context(), storetest.NewDatabase("db-1", "owner@example.com", t0)); err != nil {
		t.Fatal(err)
	}
	reset := func() {
		t.Helper()
		if _, err := s.SetCredentials(t.Context(), "owner@example.com", "db-1", devapi.Credentials{Password: "p"}); err != nil {
			t.Fatalf("SetCredentials: %v", err)
		}
	}
	reset()
	before := openFiles(t, path)
	// Every connection is now too old to be used again: each reset runs on
	// a new one, and database/sql closes the one before.
	s.writer.SetConnMaxLifetime(time.Nanosecond)
	const resets = 20
	for range resets {
		reset()
	}
	s.writer.SetConnMaxLifetime(0)
	if after := openFiles(t, path); after > before+2 {
		t.Errorf("descriptors on the database's files: %d before %d resets on new connections, %d after; the replaced connections stayed open", before, resets, after)
	}
}

// openFiles counts the process's descriptors on the database at path and
// its WAL and shared-memory files.
func openFiles(tb testing.TB, path string) int {
	tb.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err == nil && strings.HasPrefix(target, path) {
			n++
		}
	}
	return n
}

// TestDatabaseFromValues: a row whose values are not of the types the
// schema gives its columns is an error, not a database with zero values.
func TestDatabaseFromValues(t *testing.T) {
	row := func() []driver.Value {
		v := make([]driver.Value, databaseColumnCount)
		for i := range v {
			v[i] = "x"
		}
		for _, i := range []int{7, 8, 9, 10, 11, 14, 15, 19, 20} {
			v[i] = int64(1)
		}
		v[5], v[21] = `["us-east-1"]`, "[]"
		return v
	}
	d, err := databaseFromValues(row())
	if err != nil {
		t.Fatalf("a well-typed row: %v", err)
	}
	if d.Port != 1 || !d.TLS || d.ReadRegions[0] != "us-east-1" || d.AllowedIPs == nil || d.CreatedAt.Location() != time.UTC {
		t.Errorf("databaseFromValues = %+v", d)
	}
	for _, tc := range []struct {
		name string
		col  int
		v    driver.Value
	}{
		{"NULL name", 2, nil},
		{"text port", 14, "6379"},
		{"blob password", 16, []byte("p")},
		{"float generation", 19, 1.5},
		{"bad list", 21, "[1]"},
	} {
		v := row()
		v[tc.col] = tc.v
		if d, err := databaseFromValues(v); err == nil {
			t.Errorf("%s: databaseFromValues = %+v, want an error", tc.name, d)
		}
	}
	if _, err := databaseFromValues(row()[:21]); err == nil {
		t.Error("a row of 21 columns: no error")
	}
}

// keptRowsStore opens a store with one database, db-1, whose row the
// writer's connection keeps after one reset.
func keptRowsStore(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "devapi.db")
	s := openStore(t, path)
	mustCreateAccount(t, s, "owner@example.com")
	if err := s.CreateDatabase(t.Context(), storetest.NewDatabase("db-1", "owner@example.com", t0)); err != nil {
		t.Fatal(err)
	}
	resetAndCheck(t, s, "first")
	return s, path
}

// resetAndCheck resets db-1 with password p and checks that the database
// SetCredentials returns is the one stored.
func resetAndCheck(t *testing.T, s *Store, p string) *devapi.Database {
	t.Helper()
	d, err := s.SetCredentials(t.Context(), "owner@example.com", "db-1", devapi.Credentials{Password: p, RestToken: "r-" + p, ReadOnlyRestToken: "ro-" + p})
	if err != nil {
		t.Fatalf("SetCredentials(%s): %v", p, err)
	}
	stored, err := s.Database(t.Context(), "owner@example.com", "db-1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d, stored) {
		t.Errorf("SetCredentials(%s) returned\n%+v\nthe store holds\n%+v", p, d, stored)
	}
	return d
}

// TestKeptRowsSeeOtherConnections: a change committed by another
// connection (another store on the file, as `devapi accounts` or a second
// process would) is in the next reset's answer, generation included.
func TestKeptRowsSeeOtherConnections(t *testing.T) {
	s, path := keptRowsStore(t)
	other := openStore(t, path)
	if _, err := other.UpdateDatabase(t.Context(), "owner@example.com", "db-1", func(d *devapi.Database) error {
		d.Name, d.ReadRegions = "renamed-elsewhere", []string{"us-east1"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if d := resetAndCheck(t, s, "second"); d.Name != "renamed-elsewhere" {
		t.Errorf("after a rename by another connection, the reset answered name %q", d.Name)
	}
	for i := range 3 { // the other moves the generation; so do we
		if _, err := other.SetCredentials(t.Context(), "owner@example.com", "db-1", devapi.Credentials{Password: "o"}); err != nil {
			t.Fatal(err)
		}
		resetAndCheck(t, s, fmt.Sprint("third-", i))
	}
}

// TestKeptRowsSeeTheWritersOtherUses: a change made on the writer's own
// connection outside the committer (as ApplyPoolGeneration does) is in the
// next reset's answer.
func TestKeptRowsSeeTheWritersOtherUses(t *testing.T) {
	s, _ := keptRowsStore(t)
	if _, err := s.writer.ExecContext(t.Context(), `UPDATE databases SET name = 'renamed-directly' WHERE id = 'db-1'`); err != nil {
		t.Fatal(err)
	}
	if d := resetAndCheck(t, s, "second"); d.Name != "renamed-directly" {
		t.Errorf("after a rename on the writer's connection, the reset answered name %q", d.Name)
	}
}

// TestKeptRowsSeeAWriteBeforeInTheBatch: another write of the committer that
// runs before a reset in the same batch (no commit between them to move the
// data version) is in the reset's answer.
func TestKeptRowsSeeAWriteBeforeInTheBatch(t *testing.T) {
	s, _ := keptRowsStore(t)
	ctx := t.Context()
	started, proceed := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	var errRename error
	var d *devapi.Database
	wg.Go(func() {
		errRename = s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE databases SET name = 'renamed-in-batch' WHERE id = 'db-1'`)
			close(started)
			<-proceed // the committer holds this batch open meanwhile
			return err
		})
	})
	<-started
	wg.Go(func() { d = resetAndCheck(t, s, "second") })
	waitQueued(t, s, 1)
	close(proceed)
	wg.Wait()
	if errRename != nil {
		t.Fatal(errRename)
	}
	if d != nil && d.Name != "renamed-in-batch" {
		t.Errorf("after a rename earlier in its batch, the reset answered name %q", d.Name)
	}
}

// TestKeptRowsSeeAWriteAfterInTheBatch: another write of the committer that
// runs after a reset in the same batch is in the next batch's reset.
func TestKeptRowsSeeAWriteAfterInTheBatch(t *testing.T) {
	s, _ := keptRowsStore(t)
	ctx := t.Context()
	started, proceed := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	var errFirst, errReset, errRename error
	wg.Go(func() {
		errFirst = s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
			close(started)
			<-proceed // the committer holds this batch open meanwhile
			return nil
		})
	})
	<-started
	wg.Go(func() {
		_, errReset = s.SetCredentials(ctx, "owner@example.com", "db-1", devapi.Credentials{Password: "second"})
	})
	waitQueued(t, s, 1)
	wg.Go(func() {
		_, errRename = s.UpdateDatabase(ctx, "owner@example.com", "db-1", func(d *devapi.Database) error {
			d.Name = "renamed-after"
			return nil
		})
	})
	waitQueued(t, s, 2)
	close(proceed)
	wg.Wait()
	if errFirst != nil || errReset != nil || errRename != nil {
		t.Fatalf("first write: %v; reset: %v; rename: %v", errFirst, errReset, errRename)
	}
	if d := resetAndCheck(t, s, "third"); d.Name != "renamed-after" {
		t.Errorf("after a rename later in the previous batch, the reset answered name %q", d.Name)
	}
}

// TestKeptRowsDroppedWithAFailedCommit: a batch whose commit fails leaves
// nothing of its resets in the kept rows: the next reset answers the
// generation after the stored one, not after the lost one.
func TestKeptRowsDroppedWithAFailedCommit(t *testing.T) {
	s, _ := keptRowsStore(t)
	errDisk := errors.New("disk on fire")
	s.committer.commit = func(tx *sql.Tx) error {
		_ = tx.Rollback()
		return errDisk
	}
	if _, err := s.SetCredentials(t.Context(), "owner@example.com", "db-1", devapi.Credentials{Password: "lost"}); !errors.Is(err, errDisk) {
		t.Fatalf("reset in a failing commit: %v, want the commit's error", err)
	}
	s.committer.commit = (*sql.Tx).Commit // set while the committer is idle
	resetAndCheck(t, s, "second")
}

// TestKeptRowsDetached: changing a database SetCredentials returned
// changes no later answer.
func TestKeptRowsDetached(t *testing.T) {
	s, _ := keptRowsStore(t)
	d := resetAndCheck(t, s, "second")
	d.Name, d.ReadRegions[0], d.AllowedIPs[0] = "scribbled", "scribbled", "scribbled"
	resetAndCheck(t, s, "third")
}

// TestKeptRowsBounded: the kept rows never grow past their bound.
func TestKeptRowsBounded(t *testing.T) {
	r := rowCache{max: 3}
	for i := range 10 {
		id := fmt.Sprint("db-", i)
		r.put(id, &devapi.Database{ID: id})
		if len(r.m) > r.max {
			t.Fatalf("%d rows kept, bound %d", len(r.m), r.max)
		}
		if r.m[id] == nil {
			t.Fatalf("the row just put is not kept")
		}
	}
}

// TestResetAbandonedInTheQueueIsNotReused: a reset whose caller gave up
// while it waited in the queue stays there until the committer skips it, so
// its writeOp must not be handed to another reset meanwhile (resetOps):
// every later reset gets its own answer.
func TestResetAbandonedInTheQueueIsNotReused(t *testing.T) {
	ctx := t.Context()
	for round := range 5 { // holdWriter works once per store
		s, _ := keptRowsStore(t)
		reset := func(ctx context.Context, p string) (*devapi.Database, error) {
			return s.SetCredentials(ctx, "owner@example.com", "db-1", devapi.Credentials{Password: p})
		}
		release := holdWriter(t, s)
		errBlocker := make(chan error, 1)
		go func() {
			errBlocker <- s.CreateAccount(ctx, &devapi.Account{Email: fmt.Sprint("blocker-", round, "@example.com"), CreatedAt: t0})
		}()
		ctxA, cancelA := context.WithCancel(ctx)
		errA := make(chan error, 1)
		go func() { _, err := reset(ctxA, "abandoned"); errA <- err }()
		waitQueued(t, s, 1) // the blocker taken by the committer, the reset queued
		cancelA()
		if err := <-errA; !errors.Is(err, context.Canceled) {
			t.Fatalf("abandoned reset: %v, want context.Canceled", err)
		}
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Go(func() {
				p := fmt.Sprint("queued-", round, "-", i)
				if d, err := reset(ctx, p); err != nil || d == nil || d.Password != p {
					t.Errorf("reset %s after an abandoned one: %+v, %v", p, d, err)
				}
			})
		}
		waitQueued(t, s, 4)
		release()
		wg.Wait()
		if err := <-errBlocker; err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			p := fmt.Sprint("later-", round, "-", i)
			if d, err := reset(ctx, p); err != nil || d == nil || d.Password != p {
				t.Errorf("reset %s: %+v, %v", p, d, err)
			}
		}
	}
}

// TestKilledProcessKeepsAcknowledgedResets: resets answered from kept rows
// are committed before they are answered. A child process resets databases
// from concurrent writers, reports each answer, and kills itself without
// closing the store; every database must then hold the last credentials
// and generation the child was answered with.
func TestKilledProcessKeepsAcknowledgedResets(t *testing.T) {
	const dbs, writers, resets = 4, 8, 10
	if path := os.Getenv("SQLITESTORE_KILL_RESETS_CHILD"); path != "" {
		s, err := Open(t.Context(), path)
		if err != nil {
			fmt.Println("open:", err)
			os.Exit(1)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		for w := range writers {
			wg.Go(func() {
				id := fmt.Sprint("db-", w%dbs)
				for i := range resets {
					p := fmt.Sprint("p-", w, "-", i)
					d, err := s.SetCredentials(t.Context(), "owner@example.com", id, devapi.Credentials{Password: p})
					if err != nil {
						fmt.Println("reset:", err)
						os.Exit(1)
					}
					mu.Lock()
					fmt.Printf("acked %s %d %s\n", d.ID, d.Generation, d.Password)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		killSelf()
	}

	path := filepath.Join(t.TempDir(), "devapi.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	mustCreateAccount(t, s, "owner@example.com")
	for i := range dbs {
		if err := s.CreateDatabase(t.Context(), storetest.NewDatabase(fmt.Sprint("db-", i), "owner@example.com", t0)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	out := runKilledChild(t, "TestKilledProcessKeepsAcknowledgedResets", "SQLITESTORE_KILL_RESETS_CHILD", path)
	// Answers of one batch are printed in any order: the last answer of a
	// database is the one with its highest generation, and no generation
	// is answered twice.
	last := map[string]*devapi.Database{}
	answered := map[string]bool{}
	for line := range strings.Lines(string(out)) {
		var d devapi.Database
		if n, _ := fmt.Sscanf(line, "acked %s %d %s", &d.ID, &d.Generation, &d.Password); n != 3 {
			continue
		}
		if key := fmt.Sprint(d.ID, " ", d.Generation); answered[key] {
			t.Errorf("%s: generation %d answered twice", d.ID, d.Generation)
		} else {
			answered[key] = true
		}
		if l := last[d.ID]; l == nil || d.Generation > l.Generation {
			last[d.ID] = &d
		}
	}
	if got := len(last); got != dbs {
		t.Fatalf("answers for %d databases, want %d; child output:\n%s", got, dbs, out)
	}
	s = openStore(t, path)
	for id, want := range last {
		d, err := s.Database(t.Context(), "owner@example.com", id)
		if err != nil {
			t.Fatal(err)
		}
		if d.Generation != want.Generation || d.Password != want.Password {
			t.Errorf("%s after kill: generation %d, password %s; last answer: generation %d, password %s", id, d.Generation, d.Password, want.Generation, want.Password)
		}
	}
	if want := int64(7 + writers/dbs*resets); last["db-0"].Generation != want {
		t.Errorf("db-0 answered generation %d last, want %d (7, then one per reset)", last["db-0"].Generation, want)
	}
	if got, want := len(answered), writers*resets; got != want {
		t.Errorf("%d answers, want %d", got, want)
	}
}
