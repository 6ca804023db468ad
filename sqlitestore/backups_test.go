package sqlitestore

import (
	"bytes"
	"encoding/base64"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/schema"
	"github.com/devapi-dev/devapi/storetest"
)

// TestMigrationKeepsOldBackups: a backup stored whole in backups.data,
// before schema 0007, reads back the same after the migration.
func TestMigrationKeepsOldBackups(t *testing.T) {
	path := filepath.Join(t.TempDir(), "devapi.db")
	ms, err := schema.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	const before = 6 // the last version that stored backups whole
	if ms[before].Name != "0007_backup_chunks.sql" {
		t.Fatalf("migration %d is %s; update the test", before+1, ms[before].Name)
	}
	db := rawDB(t, path)
	if err := migrate(t.Context(), db, ms[:before]); err != nil {
		t.Fatal(err)
	}
	old := bytes.Repeat([]byte("an old gob-encoded snapshot \x00\xff"), 1000)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO accounts (email, created_at) VALUES ('a@example.com', 0)`, nil},
		{`INSERT INTO databases (id, owner, name, platform, primary_region, read_regions, plan, budget, tls, eviction, auto_upgrade, prod_pack, state, endpoint, port, created_at, password, rest_token, read_only_rest_token, generation)
		  VALUES ('db-1', 'a@example.com', 'n', 'aws', 'us-east-1', '[]', 'payg', 20, 0, 0, 0, 0, 'active', 'localhost', 1, 0, 'p', 'r', 'ro', 0)`, nil},
		{`INSERT INTO backups (id, database_id, name, daily, created_at, size, data) VALUES ('b-1', 'db-1', 'old', 1, ?, ?, ?)`,
			[]any{schema.Micros(t0), len(old), base64.StdEncoding.EncodeToString(old)}},
	} {
		if _, err := db.ExecContext(t.Context(), q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := openStore(t, path)
	list, err := s.Backups(t.Context(), "db-1")
	if err != nil || len(list) != 1 || list[0].ID != "b-1" || list[0].Size != int64(len(old)) || !list[0].Daily {
		t.Fatalf("Backups after the migration: %+v, %v", list, err)
	}
	var got []byte
	err = s.ReadBackup(t.Context(), "db-1", "b-1", func(r io.Reader) error {
		got, err = io.ReadAll(r)
		return err
	})
	if err != nil || !bytes.Equal(got, old) {
		t.Errorf("ReadBackup after the migration: %d bytes, %v; want the %d stored before", len(got), err, len(old))
	}
	var data string
	if err := s.reader.QueryRowContext(t.Context(), `SELECT data FROM backups WHERE id = 'b-1'`).Scan(&data); err != nil || data != "" {
		t.Errorf("backups.data after the migration: %d bytes, %v; want it emptied", len(data), err)
	}
}

// TestStaleIncompleteBackupsGo: an incomplete backup a crash left behind
// is removed by the next backup of its database a day later, not sooner.
func TestStaleIncompleteBackupsGo(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "devapi.db"))
	ctx := t.Context()
	mustCreateAccount(t, s, "a@example.com")
	if err := s.CreateDatabase(ctx, storetest.NewDatabase("db-1", "a@example.com", t0)); err != nil {
		t.Fatal(err)
	}
	// What a devapi killed while it wrote a backup leaves.
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO backups (id, database_id, name, daily, created_at, size, data, complete) VALUES ('crashed', 'db-1', 'c', 0, ?, 0, '', 0)`, []any{schema.Micros(t0)}},
		{`INSERT INTO backup_chunks (backup_id, seq, data) VALUES ('crashed', 0, 'AAAA')`, nil},
	} {
		if _, err := s.writer.ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	crashed := func() (backups, chunks int) {
		t.Helper()
		if err := s.reader.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM backups WHERE id = 'crashed'), (SELECT COUNT(*) FROM backup_chunks WHERE backup_id = 'crashed')`).Scan(&backups, &chunks); err != nil {
			t.Fatal(err)
		}
		return backups, chunks
	}
	write := func(w io.Writer) error { _, err := w.Write([]byte("x")); return err }
	if err := s.CreateBackup(ctx, &devapi.Backup{ID: "soon", DatabaseID: "db-1", CreatedAt: t0.Add(23 * time.Hour)}, write); err != nil {
		t.Fatal(err)
	}
	if b, c := crashed(); b != 1 || c != 1 {
		t.Errorf("after a backup 23 hours on, the incomplete one has %d rows and %d chunks, want it kept", b, c)
	}
	if err := s.CreateBackup(ctx, &devapi.Backup{ID: "later", DatabaseID: "db-1", CreatedAt: t0.Add(25 * time.Hour)}, write); err != nil {
		t.Fatal(err)
	}
	if b, c := crashed(); b != 0 || c != 0 {
		t.Errorf("after a backup 25 hours on, the incomplete one has %d rows and %d chunks, want it gone", b, c)
	}
	list, err := s.Backups(ctx, "db-1")
	if err != nil || len(list) != 2 || list[0].ID != "soon" || list[1].ID != "later" {
		t.Errorf("backups listed: %+v, %v; want soon, later", list, err)
	}
}
