package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestServeMaxBackupSize: the real binary with --max-backup-size 1 MiB
// keeps a backup of a small database and refuses one of a 2 MB database
// with 400 and the limit in its text; a negative size is a usage error.
func TestServeMaxBackupSize(t *testing.T) {
	r := serveRefused(t, nil, "--max-backup-size", "-1")
	if r.code != exitUsage || !strings.Contains(r.stderr, "--max-backup-size") {
		t.Errorf("serve --max-backup-size -1: exit %d, stderr %q; want exit 2 naming the flag", r.code, r.stderr)
	}

	p := serveArgs(t, []string{"--data", t.TempDir(), "--ports", "29000-29999", "--max-backup-size", "1048576"})
	u := newCLIUser(t, p)
	var db cliDatabase
	u.okJSON(&db, "redis", "create", "--name", "big", "--region", "us-east-1", "--tls=false")
	u.okOK("redis", "backup", "create", "--db-id", db.ID, "--name", "small")
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", db.Port), Username: "default", Password: *db.Password, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	for i := range 2 {
		if err := c.Set(t.Context(), fmt.Sprint("k", i), strings.Repeat("v", 1<<20), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	r = u.run("redis", "backup", "create", "--db-id", db.ID, "--name", "big")
	if r.code == 0 || !strings.Contains(r.stderr, "database is larger than the backup limit (1 MB)") {
		t.Errorf("backup of a 2 MB database: exit %d, stderr %q; want the backup limit", r.code, r.stderr)
	}
}
