package pgstore

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/schema"
	"github.com/devapi-dev/devapi/pgstore/pgtest"
	"github.com/devapi-dev/devapi/storetest"
)

var t0 = time.Date(2025, time.March, 14, 15, 9, 26, 0, time.UTC)

func openURL(t testing.TB, u string) *Store {
	t.Helper()
	s, err := Open(t.Context(), u)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestStore(t *testing.T) {
	pgtest.AdminURL(t)
	storetest.Run(t, func(t *testing.T) devapi.Store {
		return openURL(t, pgtest.NewDatabase(t))
	})
}

func appliedMigrations(t *testing.T, s *Store) []int {
	t.Helper()
	rows, err := s.pool.Query(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

func TestReopenKeepsData(t *testing.T) {
	u := pgtest.NewDatabase(t)
	s := openURL(t, u)
	if err := s.CreateAccount(t.Context(), &devapi.Account{Email: "a@example.com", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	d := storetest.NewDatabase("db-1", "a@example.com", t0)
	if err := s.CreateDatabase(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openURL(t, u)
	defer s.Close()
	got, err := s.Database(t.Context(), "a@example.com", "db-1")
	if err != nil {
		t.Fatalf("Database after reopening: %v", err)
	}
	storetest.EqualDatabase(t, got, d)
	ms, err := schema.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if got := appliedMigrations(t, s); len(got) != len(ms) {
		t.Errorf("schema_migrations after reopening = %v, want one row per migration (%d)", got, len(ms))
	}
}

func TestConcurrentOpen(t *testing.T) {
	u := pgtest.NewDatabase(t)
	const n = 4
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = Open(t.Context(), u) })
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
	want := make([]int, len(ms))
	for i := range want {
		want[i] = i + 1
	}
	if got := appliedMigrations(t, stores[0]); !slices.Equal(got, want) {
		t.Errorf("schema_migrations after concurrent opens = %v, want %v", got, want)
	}

	if err := stores[0].CreateAccount(t.Context(), &devapi.Account{Email: "owner@example.com", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	d := storetest.NewDatabase("db-1", "owner@example.com", t0)
	if err := stores[0].CreateDatabase(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	const rounds = 10
	var mu sync.Mutex
	var failures []error
	for si, s := range stores {
		wg.Go(func() {
			for r := range rounds {
				email := fmt.Sprintf("s%d-r%d@example.com", si, r)
				err := s.CreateAccount(t.Context(), &devapi.Account{Email: email, CreatedAt: t0})
				if err == nil {
					_, err = s.SetCredentials(t.Context(), "owner@example.com", "db-1",
						devapi.Credentials{Password: email, RestToken: email, ReadOnlyRestToken: email})
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
	wg.Wait()
	for _, err := range failures {
		t.Error(err)
	}
	got, err := stores[n-1].Database(t.Context(), "owner@example.com", "db-1")
	if err != nil {
		t.Fatal(err)
	}
	if want := d.Generation + n*rounds; got.Generation != want {
		t.Errorf("generation %d, want %d", got.Generation, want)
	}
}

func TestCreateDatabaseUnknownOwner(t *testing.T) {
	s := openURL(t, pgtest.NewDatabase(t))
	defer s.Close()
	err := s.CreateDatabase(t.Context(), storetest.NewDatabase("db-1", "nobody@example.com", t0))
	if got := devapi.ErrorCode(err); got != devapi.ENOTFOUND {
		t.Errorf("CreateDatabase for a missing account: %v (code %q), want %q", err, got, devapi.ENOTFOUND)
	}
}

func TestPoolStore(t *testing.T) {
	pgtest.AdminURL(t)
	storetest.RunPool(t, func(t *testing.T, n int) []devapi.PoolStore {
		u := pgtest.NewDatabase(t)
		handles := make([]devapi.PoolStore, n)
		for i := range handles {
			s := openURL(t, u) // each with its own connections, as two replicas
			t.Cleanup(func() { _ = s.Close() })
			handles[i] = s
		}
		return handles
	})
}

// TestSynchronousCommit: devapi's sessions flush every commit even on a
// database whose default says not to.
func TestSynchronousCommit(t *testing.T) {
	u := pgtest.NewDatabase(t)
	s := openURL(t, u)
	name := s.pool.Config().ConnConfig.Database
	if _, err := s.pool.Exec(t.Context(), "ALTER DATABASE "+name+" SET synchronous_commit = off"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openURL(t, u)
	defer s.Close()
	var got string
	if err := s.pool.QueryRow(t.Context(), "SHOW synchronous_commit").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != "on" {
		t.Errorf("synchronous_commit = %q in devapi's session on a database set to off, want on", got)
	}
}
