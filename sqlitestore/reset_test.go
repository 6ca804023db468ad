package sqlitestore

import (
	"database/sql/driver"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/storetest"
)

// TestResetStatementFinalizedWithConnection: when database/sql replaces the
// writer's connection, the reset's statement prepared on the old one is
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
