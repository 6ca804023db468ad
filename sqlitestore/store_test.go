package sqlitestore

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/schema"
	"github.com/devapi-dev/devapi/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) devapi.Store {
		s, err := Open(t.Context(), filepath.Join(t.TempDir(), "devapi.db"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}

// openStore opens the store at path and closes it when the test ends.
func openStore(tb testing.TB, path string) *Store {
	tb.Helper()
	s, err := Open(tb.Context(), path)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

var t0 = time.Date(2025, time.March, 14, 15, 9, 26, 0, time.UTC)

func mustCreateAccount(tb testing.TB, s devapi.Store, email string) {
	tb.Helper()
	if err := s.CreateAccount(tb.Context(), &devapi.Account{Email: email, CreatedAt: t0}); err != nil {
		tb.Fatalf("CreateAccount(%s): %v", email, err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "devapi.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	mustCreateAccount(t, s, "a@example.com")
	key := &devapi.APIKey{ID: "k1", Email: "a@example.com", Name: "ci", Hash: devapi.HashAPIKey("secret"), CreatedAt: t0}
	if err := s.AddAPIKey(t.Context(), key); err != nil {
		t.Fatalf("AddAPIKey: %v", err)
	}
	d := storetest.NewDatabase("db-1", "a@example.com", t0)
	if err := s.CreateDatabase(t.Context(), d); err != nil {
		t.Fatalf("CreateDatabase: %v", err)
	}
	want, err := s.SetCredentials(t.Context(), "a@example.com", "db-1", devapi.Credentials{Password: "p", RestToken: "r", ReadOnlyRestToken: "ro"})
	if err != nil {
		t.Fatalf("SetCredentials: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = openStore(t, path)
	got, err := s.Database(t.Context(), "a@example.com", "db-1")
	if err != nil {
		t.Fatalf("Database after reopen: %v", err)
	}
	storetest.EqualDatabase(t, got, want)
	if _, err := s.Authenticate(t.Context(), "a@example.com", key.Hash); err != nil {
		t.Errorf("Authenticate after reopen: %v", err)
	}
}

// TestKilledProcessKeepsAcknowledgedWrites runs a child process that writes,
// reports success and kills itself without closing the store, as a crash
// would. Every write it acknowledged must be there afterwards.
func TestKilledProcessKeepsAcknowledgedWrites(t *testing.T) {
	if path := os.Getenv("SQLITESTORE_KILL_CHILD"); path != "" {
		s, err := Open(t.Context(), path)
		if err != nil {
			fmt.Println("open:", err)
			os.Exit(1)
		}
		// Concurrent writers, so that acknowledged writes share group commits.
		var wg sync.WaitGroup
		var mu sync.Mutex
		for w := range 4 {
			wg.Go(func() {
				for i := range 5 {
					if err := s.CreateAccount(t.Context(), &devapi.Account{Email: fmt.Sprintf("user%d-%d@example.com", w, i), CreatedAt: t0}); err != nil {
						fmt.Println("create:", err)
						os.Exit(1)
					}
					mu.Lock()
					fmt.Printf("acked %d\n", i)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		killSelf()
	}

	path := filepath.Join(t.TempDir(), "devapi.db")
	out := runKilledChild(t, "TestKilledProcessKeepsAcknowledgedWrites", "SQLITESTORE_KILL_CHILD", path)
	t.Logf("child killed after %d acknowledged writes", bytes.Count(out, []byte("acked ")))
	if _, err := os.Stat(path + "-wal"); err != nil {
		t.Logf("no WAL left behind (%v); the test still checks the data", err)
	}
	s := openStore(t, path)
	accounts, err := s.Accounts(t.Context())
	if err != nil {
		t.Fatalf("Accounts: %v", err)
	}
	if len(accounts) != 20 {
		t.Fatalf("after kill: %d accounts, want the 20 acknowledged; child output:\n%s", len(accounts), out)
	}
}

// killSelf ends a crash test's child process as a crash would: SIGKILL,
// no store closed, nothing flushed.
func killSelf() {
	p, _ := os.FindProcess(os.Getpid())
	_ = p.Kill()
	time.Sleep(time.Minute) // until the signal lands
	os.Exit(3)
}

// runKilledChild runs test in a child process with env set to path, which
// must end killed (killSelf), and returns what the child printed.
func runKilledChild(t *testing.T, test, env, path string) []byte {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^"+test+"$")
	cmd.Env = append(os.Environ(), env+"="+path)
	out, err := cmd.Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Success() {
		t.Fatalf("child did not die: err=%v, output:\n%s", err, out)
	}
	return out
}

func TestFileMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("file modes are not Unix permissions on Windows")
	}
	t.Run("New", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "devapi.db")
		s := openStore(t, path)
		mustCreateAccount(t, s, "a@example.com")
		// The WAL and shared-memory files hold data too: SQLite gives them
		// the main file's mode.
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != 0o600 {
				t.Errorf("%s: mode %v, want 0600", filepath.Base(p), got)
			}
		}
	})
	t.Run("ExistingKeepsMode", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "devapi.db")
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, 0o640); err != nil {
			t.Fatal(err)
		}
		s := openStore(t, path)
		mustCreateAccount(t, s, "a@example.com")
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o640 {
			t.Errorf("mode %v, want the existing 0640", got)
		}
	})
}

// TestPathNeedsEscaping opens a file whose name holds characters that mean
// something in a URI. The store must use exactly that file.
func TestPathNeedsEscaping(t *testing.T) {
	dir := t.TempDir()
	name := "dev api?x=1#frag%41.db"
	path := filepath.Join(dir, name)
	s := openStore(t, path)
	mustCreateAccount(t, s, "a@example.com")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if n := e.Name(); n != name && n != name+"-wal" && n != name+"-shm" {
			t.Errorf("stray file %q in the directory", n)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path)
	if got, err := s.Accounts(t.Context()); err != nil || len(got) != 1 {
		t.Errorf("after reopen: %d accounts, err %v; want 1", len(got), err)
	}
}

func TestSettings(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "devapi.db"))
	for _, tt := range []struct {
		db     *sql.DB
		pragma string
		want   string
	}{
		{s.writer, "journal_mode", "wal"},
		{s.writer, "synchronous", "2"},
		{s.writer, "foreign_keys", "1"},
		{s.writer, "busy_timeout", "5000"},
		{s.writer, "query_only", "0"},
		{s.reader, "journal_mode", "wal"},
		{s.reader, "busy_timeout", "5000"},
		{s.reader, "query_only", "1"},
	} {
		var got string
		if err := tt.db.QueryRowContext(t.Context(), "PRAGMA "+tt.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", tt.pragma, err)
		}
		if got != tt.want {
			name := "writer"
			if tt.db == s.reader {
				name = "reader"
			}
			t.Errorf("%s: PRAGMA %s = %s, want %s", name, tt.pragma, got, tt.want)
		}
	}
	if _, err := s.reader.ExecContext(t.Context(), `INSERT INTO accounts (email, created_at) VALUES ('x', 0)`); err == nil {
		t.Error("a write through the reader pool succeeded, want it refused")
	}
}

func TestMigrationsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "devapi.db")
	ms, err := schema.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	before := appliedMigrations(t, s.reader)
	if len(before) != len(ms) {
		t.Fatalf("%d migrations recorded, want %d", len(before), len(ms))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, path)
	if after := appliedMigrations(t, s.reader); !slices.Equal(after, before) {
		t.Errorf("reopen changed schema_migrations: %v, was %v", after, before)
	}
}

// appliedMigrations returns schema_migrations as "version@applied_at" rows.
func appliedMigrations(tb testing.TB, db *sql.DB) []string {
	tb.Helper()
	rows, err := db.QueryContext(tb.Context(), `SELECT version, applied_at FROM schema_migrations ORDER BY version`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v, at int64
		if err := rows.Scan(&v, &at); err != nil {
			tb.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%d@%d", v, at))
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

func TestSchemaTooNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "devapi.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	ms, err := schema.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.writer.ExecContext(t.Context(),
		`INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`, len(ms)+1); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(t.Context(), path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a database from a newer devapi succeeded, want ErrSchemaTooNew")
	}
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("Open: %v, want an error wrapping ErrSchemaTooNew", err)
	}
	t.Logf("Open: %v", err)
}

// rawDB opens path with the writer's settings but runs no migrations.
func rawDB(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("sqlite", dsn(path, writerParams))
	if err != nil {
		tb.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	tb.Cleanup(func() { db.Close() })
	return db
}

func TestMigrationIsOneTransaction(t *testing.T) {
	db := rawDB(t, filepath.Join(t.TempDir(), "m.db"))
	files := fstest.MapFS{
		"migrations/0001_a.sql": {Data: []byte("CREATE TABLE a (x INTEGER);\nINSERT INTO a VALUES (1);")},
		"migrations/0002_b.sql": {Data: []byte("CREATE TABLE b (x INTEGER);\nINSERT INTO no_such_table VALUES (1);")},
	}
	ms, err := schema.Load(files)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(t.Context(), db, ms); err == nil {
		t.Fatal("migrate with a failing 0002 succeeded")
	}
	if v, err := schemaVersion(t.Context(), db); err != nil || v != 1 {
		t.Fatalf("schema version %d (err %v), want 1", v, err)
	}
	var n int
	if err := db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM sqlite_master WHERE name = 'b'").Scan(&n); err != nil || n != 0 {
		t.Errorf("table b of the failed migration exists (count %d, err %v), want it rolled back", n, err)
	}

	// Fixed, only 0002 runs: 0001's insert is not repeated.
	files["migrations/0002_b.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE b (x INTEGER);")}
	files["migrations/0003_c.sql"] = &fstest.MapFile{Data: []byte("INSERT INTO b VALUES (3);")}
	if ms, err = schema.Load(files); err != nil {
		t.Fatal(err)
	}
	if err := migrate(t.Context(), db, ms); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if err := migrate(t.Context(), db, ms); err != nil {
		t.Fatalf("migrate again: %v", err)
	}
	var a, b int
	if err := db.QueryRowContext(t.Context(), "SELECT (SELECT COUNT(*) FROM a), (SELECT COUNT(*) FROM b)").Scan(&a, &b); err != nil {
		t.Fatal(err)
	}
	if a != 1 || b != 1 {
		t.Errorf("rows in a, b = %d, %d, want 1, 1: a migration ran twice", a, b)
	}
	if v, err := schemaVersion(t.Context(), db); err != nil || v != 3 {
		t.Errorf("schema version %d (err %v), want 3", v, err)
	}
}

func TestCreateDatabaseUnknownOwner(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "devapi.db"))
	err := s.CreateDatabase(t.Context(), storetest.NewDatabase("db-1", "nobody@example.com", t0))
	if got := devapi.ErrorCode(err); got != devapi.ENOTFOUND {
		t.Errorf("CreateDatabase for a missing account: %v (code %q), want %q", err, got, devapi.ENOTFOUND)
	}
}

func TestDeleteAccountCascadesKeys(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "devapi.db"))
	mustCreateAccount(t, s, "a@example.com")
	if err := s.AddAPIKey(t.Context(), &devapi.APIKey{ID: "k", Email: "a@example.com", Hash: "h", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.writer.ExecContext(t.Context(), `DELETE FROM accounts WHERE email = 'a@example.com'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(t.Context(), "a@example.com", "h"); devapi.ErrorCode(err) != devapi.EUNAUTHORIZED {
		t.Errorf("Authenticate after the account is gone: %v, want %s", err, devapi.EUNAUTHORIZED)
	}
}

// TestTimePrecision: the store keeps microseconds, across the whole range of
// time.Time a caller is likely to pass, the zero time included.
func TestTimePrecision(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "devapi.db"))
	for i, tm := range []time.Time{
		time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC),
		time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.FixedZone("X", 3600)),
		time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC),
		time.Date(3000, 1, 1, 0, 0, 0, 1000, time.UTC),
		{},
	} {
		email := fmt.Sprintf("u%d@example.com", i)
		if err := s.CreateAccount(t.Context(), &devapi.Account{Email: email, CreatedAt: tm}); err != nil {
			t.Fatal(err)
		}
		d := storetest.NewDatabase(fmt.Sprintf("db-%d", i), email, tm)
		if err := s.CreateDatabase(t.Context(), d); err != nil {
			t.Fatal(err)
		}
		got, err := s.Database(t.Context(), email, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := tm.Truncate(time.Microsecond)
		if !got.CreatedAt.Equal(want) || got.CreatedAt.Location() != time.UTC {
			t.Errorf("CreatedAt %v came back as %v, want %v in UTC", tm, got.CreatedAt, want)
		}
	}
}

// TestTwoHandles is the server and a devapi accounts command on one file: two
// Stores, each with its own writer, writing at the same time. busy_timeout and
// BEGIN IMMEDIATE must turn every collision into a wait, never into "database
// is locked", and no change may be lost.
func TestTwoHandles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "devapi.db")

	// Both open a brand-new file at once: both migrate, neither fails.
	stores := make([]*Store, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = Open(t.Context(), path) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	ms, err := schema.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if got := appliedMigrations(t, stores[0].reader); len(got) != len(ms) {
		t.Errorf("schema_migrations after concurrent opens = %v, want one row per migration (%d)", got, len(ms))
	}

	mustCreateAccount(t, stores[0], "owner@example.com")
	d := storetest.NewDatabase("db-1", "owner@example.com", t0)
	if err := stores[0].CreateDatabase(t.Context(), d); err != nil {
		t.Fatal(err)
	}

	const workers, rounds = 4, 25
	var mu sync.Mutex
	var failures []error
	for si, s := range stores {
		for w := range workers {
			wg.Go(func() {
				for r := range rounds {
					email := fmt.Sprintf("s%d-w%d-r%d@example.com", si, w, r)
					err := s.CreateAccount(t.Context(), &devapi.Account{Email: email, CreatedAt: t0})
					if err == nil {
						err = s.AddAPIKey(t.Context(), &devapi.APIKey{ID: email, Email: email, Name: "k", Hash: email, CreatedAt: t0})
					}
					if err == nil {
						_, err = s.SetCredentials(t.Context(), "owner@example.com", "db-1",
							devapi.Credentials{Password: email, RestToken: email, ReadOnlyRestToken: email})
					}
					if err == nil {
						_, err = s.Authenticate(t.Context(), email, email)
					}
					if err != nil {
						mu.Lock()
						failures = append(failures, fmt.Errorf("%s: %w", email, err))
						mu.Unlock()
						return
					}
				}
			})
		}
	}
	wg.Wait()
	for _, err := range failures {
		t.Error(err)
	}
	const total = 2 * workers * rounds
	for i, s := range stores {
		got, err := s.Database(t.Context(), "owner@example.com", "db-1")
		if err != nil {
			t.Fatal(err)
		}
		if got.Generation != d.Generation+total {
			t.Errorf("store %d: generation %d, want %d", i, got.Generation, d.Generation+total)
		}
		accounts, err := s.Accounts(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(accounts) != total+1 {
			t.Errorf("store %d: %d accounts, want %d", i, len(accounts), total+1)
		}
	}
}

func BenchmarkAuthenticate(b *testing.B) {
	s := openStore(b, filepath.Join(b.TempDir(), "devapi.db"))
	for i := range 1000 {
		email := fmt.Sprintf("u%d@example.com", i)
		mustCreateAccount(b, s, email)
		if err := s.AddAPIKey(b.Context(), &devapi.APIKey{ID: email, Email: email, Hash: devapi.HashAPIKey(email), CreatedAt: t0}); err != nil {
			b.Fatal(err)
		}
	}
	hash := devapi.HashAPIKey("u500@example.com")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Authenticate(b.Context(), "u500@example.com", hash); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func TestPoolStore(t *testing.T) {
	storetest.RunPool(t, func(t *testing.T, n int) []devapi.PoolStore {
		path := filepath.Join(t.TempDir(), "devapi.db")
		handles := make([]devapi.PoolStore, n)
		for i := range handles {
			handles[i] = openStore(t, path) // each with its own writer, as two processes
		}
		return handles
	})
}

func TestSharedStore(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T, n int) []devapi.Store {
		path := filepath.Join(t.TempDir(), "devapi.db")
		handles := make([]devapi.Store, n)
		for i := range handles {
			handles[i] = openStore(t, path) // each with its own connections and cache, as two processes
		}
		return handles
	})
}

// TestAuthenticateCaches checks that Authenticate answers a known key from
// its cache, which a commit that revokes no key (a reset) leaves in force.
func TestAuthenticateCaches(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "devapi.db"))
	ctx := t.Context()
	if err := s.CreateAccount(ctx, &devapi.Account{Email: "a@example.com", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	k := &devapi.APIKey{ID: "k1", Email: "a@example.com", Name: "k1", Hash: devapi.HashAPIKey("secret"), CreatedAt: t0}
	other := &devapi.APIKey{ID: "k2", Email: "a@example.com", Name: "k2", Hash: devapi.HashAPIKey("other"), CreatedAt: t0}
	for _, key := range []*devapi.APIKey{k, other} {
		if err := s.AddAPIKey(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Authenticate(ctx, "a@example.com", k.Hash); err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if s.keys.cache.Len() != 1 {
		t.Fatalf("cache holds %d keys after one Authenticate, want 1", s.keys.cache.Len())
	}
	// Commits that revoke nothing (a reset) leave the cache in force.
	if err := s.CreateDatabase(ctx, storetest.NewDatabase("db-1", "a@example.com", t0)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetCredentials(ctx, "a@example.com", "db-1", devapi.Credentials{Password: "p"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "a@example.com", k.Hash); err != nil {
		t.Fatalf("Authenticate after a reset: %v", err)
	}
	if s.keys.cache.Len() != 1 {
		t.Fatalf("cache holds %d keys after a reset, want 1", s.keys.cache.Len())
	}
	if err := s.DeleteAPIKey(ctx, "a@example.com", other.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "a@example.com", k.Hash); err != nil {
		t.Fatalf("Authenticate after another key's delete: %v", err)
	}
	if _, err := s.Authenticate(ctx, "a@example.com", other.Hash); devapi.ErrorCode(err) != devapi.EUNAUTHORIZED {
		t.Fatalf("Authenticate with the deleted key = %v, want EUNAUTHORIZED", err)
	}
}
