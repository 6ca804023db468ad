package pgstore

import (
	"bytes"
	"encoding/base64"
	"io"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/devapi-dev/devapi/internal/schema"
	"github.com/devapi-dev/devapi/pgstore/pgtest"
)

// TestMigrationKeepsOldBackups: a backup stored whole in backups.data,
// before schema 0007, reads back the same after the migration.
func TestMigrationKeepsOldBackups(t *testing.T) {
	u := pgtest.NewDatabase(t)
	ms, err := schema.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	const before = 6 // the last version that stored backups whole
	if ms[before].Name != "0007_backup_chunks.sql" {
		t.Fatalf("migration %d is %s; update the test", before+1, ms[before].Name)
	}
	pool, err := pgxpool.New(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(t.Context(), pool, ms[:before]); err != nil {
		pool.Close()
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
		{`INSERT INTO backups (id, database_id, name, daily, created_at, size, data) VALUES ('b-1', 'db-1', 'old', 1, $1, $2, $3)`,
			[]any{schema.Micros(t0), len(old), base64.StdEncoding.EncodeToString(old)}},
	} {
		if _, err := pool.Exec(t.Context(), q.sql, q.args...); err != nil {
			pool.Close()
			t.Fatal(err)
		}
	}
	pool.Close()

	s := openURL(t, u)
	defer s.Close()
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
}
