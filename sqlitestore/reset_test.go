package sqlitestore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
	wantStored(t, s, d, fmt.Sprintf("SetCredentials(%s): the store holds", p))
	return d
}

// wantStored fails t unless the store holds want as owner@example.com's
// db-1; what says what is compared.
func wantStored(t *testing.T, s *Store, want *devapi.Database, what string) {
	t.Helper()
	stored, err := s.Database(t.Context(), "owner@example.com", "db-1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(stored, want) {
		t.Errorf("%s\n%+v\nwant\n%+v", what, stored, want)
	}
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

// TestKeptRowsVouchForOwnerAndKey: a reset of a kept row runs the UPDATE by
// rowid alone (setCredentialsByRowid) when no key is asked for or a reset proved
// the key for the owner; a key not proven for the owner (never seen, or
// proven for another account) runs the full UPDATE, which proves it; a
// reset of a kept row as another owner runs no statement and changes
// nothing.
func TestKeptRowsVouchForOwnerAndKey(t *testing.T) {
	s, _ := keptRowsStore(t)
	ctx := t.Context()
	mustCreateAccount(t, s, "other@example.com")
	if err := s.CreateDatabase(ctx, storetest.NewDatabase("db-2", "other@example.com", t0)); err != nil {
		t.Fatal(err)
	}
	owners, others := devapi.HashAPIKey("owner's key"), devapi.HashAPIKey("other's key")
	for _, k := range []*devapi.APIKey{
		{ID: "owners", Email: "owner@example.com", Name: "k", Hash: owners, CreatedAt: t0},
		{ID: "others", Email: "other@example.com", Name: "k", Hash: others, CreatedAt: t0},
	} {
		if err := s.AddAPIKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	// The keys' writes dropped the rows: keep them again, and prove the
	// other's key for the other.
	want := resetAndCheck(t, s, "kept")
	if _, err := s.SetCredentialsAsKey(ctx, "other@example.com", others, "db-2", devapi.Credentials{Password: "o"}); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		name, owner, keyHash string
		ok                   bool
		ran                  string // the statement the reset ran: "full", "by rowid" or ""
	}{
		{"no key", "owner@example.com", "", true, "by rowid"},
		{"another owner", "other@example.com", "", false, ""},
		{"another owner's key", "owner@example.com", others, false, "full"},
		{"the owner's key, unproven", "owner@example.com", owners, true, "full"},
		{"the owner's key, proven", "owner@example.com", owners, true, "by rowid"},
		{"no key again", "owner@example.com", "", true, "by rowid"},
	} {
		t.Run(step.name, func(t *testing.T) {
			var d *devapi.Database
			ran := ranStatement(t, s, func() {
				var err error
				c := devapi.Credentials{Password: step.name}
				if step.keyHash == "" {
					d, err = s.SetCredentials(ctx, step.owner, "db-1", c)
				} else {
					d, err = s.SetCredentialsAsKey(ctx, step.owner, step.keyHash, "db-1", c)
				}
				switch {
				case step.ok && err != nil:
					t.Fatal(err)
				case !step.ok && devapi.ErrorCode(err) != devapi.ENOTFOUND:
					t.Fatalf("got %v, want ENOTFOUND", err)
				}
			})
			if ran != step.ran {
				t.Errorf("the reset ran the statement %q, want %q", ran, step.ran)
			}
			if step.ok {
				want.Password, want.RestToken, want.ReadOnlyRestToken = step.name, "", ""
				want.Generation++
				if !reflect.DeepEqual(d, want) {
					t.Errorf("answered\n%+v\nwant\n%+v", d, want)
				}
			}
			wantStored(t, s, want, "stored")
		})
	}
}

// TestProvenKeysGoWithTheRows: a proven key removed on the writer's own
// connection outside the committer (no write of the committer to drop the
// rows, only the data version) proves nothing any more, even for a row kept
// again since.
func TestProvenKeysGoWithTheRows(t *testing.T) {
	s, _ := keptRowsStore(t)
	ctx := t.Context()
	key := devapi.HashAPIKey("owner's key")
	if err := s.AddAPIKey(ctx, &devapi.APIKey{ID: "k", Email: "owner@example.com", Name: "k", Hash: key, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"proving", "proven"} {
		if _, err := s.SetCredentialsAsKey(ctx, "owner@example.com", key, "db-1", devapi.Credentials{Password: p}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.writer.ExecContext(ctx, `DELETE FROM api_keys WHERE id = 'k'`); err != nil {
		t.Fatal(err)
	}
	want := resetAndCheck(t, s, "kept again") // without a key
	_, err := s.SetCredentialsAsKey(ctx, "owner@example.com", key, "db-1", devapi.Credentials{Password: "removed"})
	if devapi.ErrorCode(err) != devapi.ENOTFOUND {
		t.Fatalf("a reset with a removed key: %v, want ENOTFOUND", err)
	}
	wantStored(t, s, want, "after a reset with a removed key, stored")
}

// TestKeptRowsFollowRowids: databases whose rowids change (here swapped, as
// a VACUUM or a DELETE and INSERT may renumber them), on the writer's
// connection outside the committer or in a write of the committer, are
// reset by id still: a reset by the rowid kept from before would change the
// other database.
func TestKeptRowsFollowRowids(t *testing.T) {
	for _, tc := range []struct {
		name string
		exec func(t *testing.T, s *Store, query string)
	}{
		{"outside the committer", func(t *testing.T, s *Store, query string) {
			if _, err := s.writer.ExecContext(t.Context(), query); err != nil {
				t.Fatal(err)
			}
		}},
		{"in the committer", func(t *testing.T, s *Store, query string) {
			if err := s.write(t.Context(), func(ctx context.Context, tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, query)
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := keptRowsStore(t)
			if err := s.CreateDatabase(t.Context(), storetest.NewDatabase("db-2", "owner@example.com", t0)); err != nil {
				t.Fatal(err)
			}
			if _, err := s.SetCredentials(t.Context(), "owner@example.com", "db-2", devapi.Credentials{Password: "kept"}); err != nil {
				t.Fatal(err)
			}
			resetAndCheck(t, s, "kept")
			rowid := func(id string) (r int64) {
				t.Helper()
				if err := s.writer.QueryRowContext(t.Context(), `SELECT rowid FROM databases WHERE id = ?`, id).Scan(&r); err != nil {
					t.Fatal(err)
				}
				return r
			}
			r1, r2 := rowid("db-1"), rowid("db-2")
			tc.exec(t, s, `UPDATE databases SET rowid = -1 WHERE id = 'db-1'`)
			tc.exec(t, s, fmt.Sprintf(`UPDATE databases SET rowid = %d WHERE id = 'db-2'`, r1))
			tc.exec(t, s, fmt.Sprintf(`UPDATE databases SET rowid = %d WHERE id = 'db-1'`, r2))
			if rowid("db-1") != r2 || rowid("db-2") != r1 {
				t.Fatal("the rowids were not swapped")
			}
			resetAndCheck(t, s, "after the swap")
			other, err := s.Database(t.Context(), "owner@example.com", "db-2")
			if err != nil {
				t.Fatal(err)
			}
			if other.Password != "kept" {
				t.Errorf("a reset of db-1 after the rowids were swapped set db-2's password to %q", other.Password)
			}
		})
	}
}

// ranStatement calls reset and reports which of the writer connection's
// UPDATEs of a kept row it ran: "full" (setCredentialsUpdate), "by rowid"
// (setCredentialsByRowid) or "" for neither. It finalizes both before reset,
// and sees which one reset prepared again.
func ranStatement(t *testing.T, s *Store, reset func()) string {
	t.Helper()
	withWriter := func(f func(*writerConn)) {
		t.Helper()
		conn, err := s.writer.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if err := conn.Raw(func(dc any) error { f(dc.(*writerConn)); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	withWriter(func(wc *writerConn) {
		for _, st := range []*driver.Stmt{&wc.update, &wc.byRowid} {
			if *st != nil {
				if err := (*st).Close(); err != nil {
					t.Fatal(err)
				}
				*st = nil
			}
		}
	})
	reset()
	var ran []string
	withWriter(func(wc *writerConn) {
		if wc.update != nil {
			ran = append(ran, "full")
		}
		if wc.byRowid != nil {
			ran = append(ran, "by rowid")
		}
	})
	return strings.Join(ran, " and ")
}

// TestKeptRowsDroppedWithAFailedCommit: a batch whose commit fails leaves
// nothing of its resets in the kept rows: the next reset answers the
// generation after the stored one, not after the lost one.
func TestKeptRowsDroppedWithAFailedCommit(t *testing.T) {
	s, _ := keptRowsStore(t)
	errDisk := errors.New("disk on fire")
	restore := failCommits(s, errDisk)
	if _, err := s.SetCredentials(t.Context(), "owner@example.com", "db-1", devapi.Credentials{Password: "lost"}); !errors.Is(err, errDisk) {
		t.Fatalf("reset in a failing commit: %v, want the commit's error", err)
	}
	restore() // while the committer is idle
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
		r.put(id, &devapi.Database{ID: id}, int64(i))
		if len(r.m) > r.max {
			t.Fatalf("%d rows kept, bound %d", len(r.m), r.max)
		}
		if r.m[id].d == nil {
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
	for round := range 5 {
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

// queueResets resets db-0 .. db-(n-1) of s, one goroutine each, with
// password p-<i>, behind holdWriter so that they run as one batch of
// resets. It returns their answers and errors once all are answered.
func queueResets(t *testing.T, s *Store, n int, password func(i int) string) ([]*devapi.Database, []error) {
	t.Helper()
	release := holdWriter(t, s)
	ds, errs := make([]*devapi.Database, n), make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ds[i], errs[i] = s.SetCredentials(t.Context(), "owner@example.com", fmt.Sprint("db-", i), devapi.Credentials{Password: password(i)})
		})
	}
	waitQueued(t, s, n-1)
	release()
	wg.Wait()
	return ds, errs
}

// resetBatchStore opens a store with databases db-0 .. db-(n-1), whose
// rows the writer's connection keeps after one reset each.
func resetBatchStore(t *testing.T, n int) *Store {
	t.Helper()
	s := openStore(t, filepath.Join(t.TempDir(), "devapi.db"))
	mustCreateAccount(t, s, "owner@example.com")
	for i := range n {
		id := fmt.Sprint("db-", i)
		if err := s.CreateDatabase(t.Context(), storetest.NewDatabase(id, "owner@example.com", t0)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetCredentials(t.Context(), "owner@example.com", id, devapi.Credentials{Password: "first"}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// checkStored checks that every database db-0 .. db-(n-1) holds password
// and generation.
func checkStored(t *testing.T, s *Store, n int, password string, generation int64) {
	t.Helper()
	for i := range n {
		d, err := s.Database(t.Context(), "owner@example.com", fmt.Sprint("db-", i))
		if err != nil {
			t.Fatal(err)
		}
		if d.Password != password || d.Generation != generation {
			t.Errorf("%s holds password %q, generation %d; want %q, %d", d.ID, d.Password, d.Generation, password, generation)
		}
	}
}

// TestResetBatchFailedCommit: when the commit of a batch of resets (run on
// the writer's connection, resetBatch) fails, every reset of the batch
// fails with it, none is stored, and the kept rows forget them: the next
// resets answer the generation after the stored one.
func TestResetBatchFailedCommit(t *testing.T) {
	const n = 4
	s := resetBatchStore(t, n)
	errDisk := errors.New("disk on fire")
	restore := failCommits(s, errDisk)
	var resetCommits atomic.Int32
	failing := s.committer.commitResets
	s.committer.commitResets = func(wc *writerConn) error {
		resetCommits.Add(1)
		return failing(wc)
	}
	_, errs := queueResets(t, s, n, func(int) string { return "lost" })
	restore() // while the committer is idle
	if resetCommits.Load() == 0 {
		t.Fatal("the resets did not run as a batch of resets")
	}
	for i, err := range errs {
		if !errors.Is(err, errDisk) {
			t.Errorf("reset of db-%d: %v, want the commit's error", i, err)
		}
	}
	checkStored(t, s, n, "first", 8)
	ds, errs := queueResets(t, s, n, func(int) string { return "second" })
	for i := range n {
		if errs[i] != nil || ds[i].Generation != 9 {
			t.Errorf("reset of db-%d after the failed commit: %+v, %v; want generation 9", i, ds[i], errs[i])
		}
	}
	checkStored(t, s, n, "second", 9)
}

// TestResetBatchStatementFailure: a reset whose UPDATE fails with an error
// of SQLite (here SQLITE_FULL: the database may not grow) gives up its
// whole batch of resets, as the transaction may be gone: every reset of the
// batch fails and none is stored; once there is room, resets work again.
func TestResetBatchStatementFailure(t *testing.T) {
	const n = 4
	s := resetBatchStore(t, n)
	ctx := t.Context()
	var pages int64
	if err := s.writer.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	// The writer has one connection, which keeps the setting.
	if _, err := s.writer.ExecContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", pages)); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 16<<10) // longer than a page: the file must grow
	_, errs := queueResets(t, s, n, func(i int) string {
		if i == n-1 {
			return big
		}
		return "lost"
	})
	for i, err := range errs {
		if err == nil {
			t.Errorf("reset of db-%d in a batch given up: no error", i)
		}
	}
	if devapi.ErrorCode(errs[n-1]) != devapi.ENOSPACE {
		t.Errorf("the reset that needed room: %v, want ENOSPACE", errs[n-1])
	}
	checkStored(t, s, n, "first", 8)
	if _, err := s.writer.ExecContext(ctx, "PRAGMA max_page_count = 1073741823"); err != nil {
		t.Fatal(err)
	}
	ds, errs := queueResets(t, s, n, func(int) string { return "second" })
	for i := range n {
		if errs[i] != nil || ds[i].Generation != 9 {
			t.Errorf("reset of db-%d once there is room: %+v, %v; want generation 9", i, ds[i], errs[i])
		}
	}
	checkStored(t, s, n, "second", 9)
}

// TestResetBatchGivesUpAConnectionThatCannotBegin: a writer's connection on
// which a batch of resets cannot begin its transaction (here: one is open
// already, left by a rollback that failed) is given up, and the next batch
// runs on a new one instead of failing the same way for ever.
func TestResetBatchGivesUpAConnectionThatCannotBegin(t *testing.T) {
	s, _ := keptRowsStore(t)
	ctx := t.Context()
	conn, err := s.writer.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Raw(func(dc any) error {
		_, err := dc.(driver.ExecerContext).ExecContext(ctx, "BEGIN", nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := conn.Close(); err != nil { // back to the pool, in its transaction
		t.Fatal(err)
	}
	if _, err := s.SetCredentials(ctx, "owner@example.com", "db-1", devapi.Credentials{Password: "lost"}); err == nil {
		t.Fatal("a reset on a connection inside a transaction: no error")
	}
	resetAndCheck(t, s, "second")
}

// TestResetBatchLeavesOtherWritesForTheNext: a batch of resets stops taking
// writes from the queue at the first write that is not a reset, which the
// next batch starts with; the writes behind it stay queued.
func TestResetBatchLeavesOtherWritesForTheNext(t *testing.T) {
	c := &committer{ops: make(chan *writeOp, 4)}
	reset := func() *writeOp { return newWriteOp(t.Context(), nil, true) }
	other := newWriteOp(t.Context(), func(context.Context, *sql.Tx) error { return nil }, false)
	c.ops <- reset()
	c.ops <- other
	c.ops <- reset()
	batch := []*writeOp{reset()}
	c.drain(&batch, true)
	if len(batch) != 2 || c.held != other || len(c.ops) != 1 {
		t.Fatalf("after drain: %d writes in the batch, held %p (want %p), %d queued; want 2, the other write, 1", len(batch), c.held, other, len(c.ops))
	}
	c.drain(&batch, true)
	if len(batch) != 2 || len(c.ops) != 1 {
		t.Errorf("a drain while a write is held took more writes: %d in the batch, %d queued", len(batch), len(c.ops))
	}
}

// TestResetBatchesWithOtherWrites: resets and updates of the same databases
// from many goroutines at once, so that batches of resets meet the other
// writes at every point: each database's answers have distinct generations,
// and ordered by generation, budgets (moved by the updates) that never go
// back; the last reset answers what the store holds.
func TestResetBatchesWithOtherWrites(t *testing.T) {
	const dbs, writers, rounds = 4, 12, 25
	s := resetBatchStore(t, dbs)
	ctx := t.Context()
	var mu sync.Mutex
	answers := make(map[string]map[int64]int64) // id -> generation -> budget
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			id := fmt.Sprint("db-", w%dbs)
			for r := range rounds {
				if w%4 == 0 && r%3 == 0 {
					if _, err := s.UpdateDatabase(ctx, "owner@example.com", id, func(d *devapi.Database) error {
						d.Budget++
						return nil
					}); err != nil {
						t.Error(err)
						return
					}
					continue
				}
				d, err := s.SetCredentials(ctx, "owner@example.com", id, devapi.Credentials{Password: fmt.Sprint("p-", w, "-", r)})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if answers[id] == nil {
					answers[id] = make(map[int64]int64)
				}
				if _, dup := answers[id][d.Generation]; dup {
					t.Errorf("%s: generation %d answered twice", id, d.Generation)
				}
				answers[id][d.Generation] = d.Budget
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for id, byGeneration := range answers {
		generations := slices.Sorted(maps.Keys(byGeneration))
		for i := 1; i < len(generations); i++ {
			if a, b := byGeneration[generations[i-1]], byGeneration[generations[i]]; b < a {
				t.Errorf("%s: generation %d answered budget %d, generation %d budget %d: an update was lost from the kept row", id, generations[i-1], a, generations[i], b)
			}
		}
	}
	resetAndCheck(t, s, "last")
}
