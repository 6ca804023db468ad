package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/devapi-dev/devapi/internal/redistest"
)

// needRedisServer skips a test of the redis-server plane where it is not
// installed, and fails it under CI=true.
func needRedisServer(t *testing.T) {
	t.Helper()
	redistest.Binary(t)
}

// redisPid is the pid of the redis-server of database id under data.
func redisPid(t *testing.T, data, id string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(data, "redis", id, "redis.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// TestKilledRedisServerComesBack: kill -9 of a database's redis-server,
// and within 5 s PING with the stored password answers PONG, the keys are
// there, and devapi logged the restart at WARN with the database id.
func TestKilledRedisServerComesBack(t *testing.T) {
	needRedisServer(t)
	data := t.TempDir()
	p := serve(t, data, "redis-server")
	db := p.database("POST", "/redis/database", `{"database_name":"phoenix","primary_region":"us-east-1","tls":false}`)
	c := redisClient(t, db, db.Password)
	if err := c.Set(t.Context(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	pid := redisPid(t, data, db.ID)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	for c.Ping(t.Context()).Err() != nil {
		if time.Since(killed) > 5*time.Second {
			t.Fatalf("no PONG with the stored password 5s after kill -9\n%s", p.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if v, err := c.Get(t.Context(), "k").Result(); err != nil || v != "v" {
		t.Errorf("key after kill -9: %q, %v", v, err)
	}
	if got := redisPid(t, data, db.ID); got == pid {
		t.Errorf("the same pid %d after kill -9", pid)
	}
	// The log line comes through devapi's standard error, a little later.
	want := `level=WARN msg="restarted the redis-server of a database" database_id=` + db.ID
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(p.log.String(), want); {
		if time.Now().After(deadline) {
			t.Fatalf("the restart is not logged at WARN with the database id:\n%s", p.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestEmptiedStoreDeletesNothing: an emptied devapi.db with the
// redis-server plane holding databases: serve deletes nothing, it moves
// their folders to <data>/orphans, which devapi orphans lists and purges.
func TestEmptiedStoreDeletesNothing(t *testing.T) {
	needRedisServer(t)
	data := t.TempDir()
	p := serve(t, data, "redis-server")
	db := p.database("POST", "/redis/database", `{"database_name":"precious","primary_region":"us-east-1","tls":false}`)
	if err := redisClient(t, db, db.Password).Set(t.Context(), "k", "precious-value", 0).Err(); err != nil {
		t.Fatal(err)
	}
	p.stop()
	for _, name := range []string{"devapi.db", "devapi.db-wal", "devapi.db-shm"} {
		if err := os.Truncate(filepath.Join(data, name), 0); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}

	p = serve(t, data, "redis-server")
	want := `level=WARN msg="moved a database the store does not have to the orphans folder (devapi orphans lists and purges them)" database_id=` + db.ID
	if !strings.Contains(p.log.String(), want) {
		t.Errorf("the move is not logged at WARN:\n%s", p.log)
	}
	u := &cliUser{t: t}
	list := u.ok("orphans", "list", "--data", data)
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "NAME") || !strings.Contains(lines[1], db.ID) || !strings.Contains(lines[1], "KiB") {
		t.Fatalf("orphans list:\n%s", list)
	}
	name := strings.Fields(lines[1])[0]
	moved := filepath.Join(data, "orphans", name)
	aof, err := filepath.Glob(filepath.Join(moved, "appendonlydir", "*.incr.aof"))
	if err != nil || len(aof) != 1 {
		t.Fatalf("the orphan's AOF: %v %v", aof, err)
	}
	if b, err := os.ReadFile(aof[0]); err != nil || !strings.Contains(string(b), "precious-value") {
		t.Errorf("the orphan's AOF lacks the key: %v", err)
	}

	if r := u.run("orphans", "purge", "--data", data); r.code != exitUsage {
		t.Errorf("purge without names or --all: exit %d, want %d\n%s", r.code, exitUsage, r.stderr)
	}
	if r := u.run("orphans", "purge", "--data", data, "no-such-orphan"); r.code != 1 || !strings.Contains(r.stderr, "no orphan") {
		t.Errorf("purge of an unknown name: exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(moved); err != nil {
		t.Fatalf("a refused purge removed the orphan: %v", err)
	}
	if out := u.ok("orphans", "purge", "--data", data, name); !strings.Contains(out, "purged "+name) {
		t.Errorf("purge said %q", out)
	}
	if _, err := os.Stat(moved); !os.IsNotExist(err) {
		t.Errorf("the orphan after purge: %v", err)
	}
	if list := u.ok("orphans", "list", "--data", data); strings.Count(list, "\n") != 1 {
		t.Errorf("orphans list after purge:\n%s", list)
	}
}

// TestSecondServeOnOneSQLiteStore: a serve whose --store is the SQLite file
// of a running one fails at start, saying so, whatever its --data.
func TestSecondServeOnOneSQLiteStore(t *testing.T) {
	data := t.TempDir()
	p := serve(t, data, "embedded")
	store := filepath.Join(data, "devapi.db")
	for _, url := range []string{store, "sqlite:" + store} {
		// A serve that starts is killed after 20 s: the test fails then.
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		second := exec.CommandContext(ctx, binary, "serve", "--addr", freeAddr(t), "--rest-addr", freeAddr(t), "--data", t.TempDir(), "--store", url)
		second.Env = append(os.Environ(), "UPSTASH_EMAIL="+e2eEmail, "UPSTASH_API_KEY="+e2eKey)
		out, err := second.CombinedOutput()
		timedOut := ctx.Err() != nil
		cancel()
		if err == nil || timedOut || !strings.Contains(string(out), "is in use by another devapi serve") || !strings.Contains(string(out), store) {
			t.Errorf("a second serve on --store %s: %v (timed out: %v)\n%s\nwant a failure at start naming the store", url, err, timedOut, out)
		}
	}
	p.stop()
	if p.cmd.ProcessState.ExitCode() != 0 {
		t.Errorf("the first serve after the refused ones: exit %d\n%s", p.cmd.ProcessState.ExitCode(), p.log)
	}
}

// TestDataFolderModes: a data folder others may read is made 0700; one
// others may write to is refused, since the files devapi trusts in it
// (ca.pem, credentials) may have been replaced.
func TestDataFolderModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mode    os.FileMode
		refused bool
	}{{0o755, false}, {0o750, false}, {0o777, true}, {0o770, true}, {0o702, true}} {
		if err := os.Chmod(dir, tc.mode); err != nil {
			t.Fatal(err)
		}
		err := makeDataDir(dir)
		info, serr := os.Stat(dir)
		if serr != nil {
			t.Fatal(serr)
		}
		switch {
		case tc.refused && (err == nil || !strings.Contains(err.Error(), "writable by other users") || !strings.Contains(err.Error(), "chmod 700")):
			t.Errorf("mode %04o: %v; want a refusal saying why and how to fix it", tc.mode, err)
		case tc.refused && info.Mode().Perm() != tc.mode:
			t.Errorf("mode %04o: changed to %04o by a refusal", tc.mode, info.Mode().Perm())
		case !tc.refused && (err != nil || info.Mode().Perm() != 0o700):
			t.Errorf("mode %04o: %v, now %04o; want 0700", tc.mode, err, info.Mode().Perm())
		}
	}
	// And serve says it too, before it writes anything there.
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	r := (&cliUser{t: t}).run("serve", "--addr", freeAddr(t), "--rest-addr", freeAddr(t), "--data", dir)
	if r.code == 0 || !strings.Contains(r.stderr, "writable by other users") {
		t.Errorf("serve on a 0777 data folder: exit %d, stderr %q", r.code, r.stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("serve wrote %d files into the refused folder", len(entries))
	}
}

// TestDataFolderFileModes: every file devapi writes in its data folder has
// the mode the README states: ca.pem 0644 (a public certificate that
// clients, maybe as other users or in containers, must read), every other
// file 0600 and every folder 0700, the redis-server plane's included.
func TestDataFolderFileModes(t *testing.T) {
	plane := "embedded"
	if _, err := exec.LookPath("redis-server"); err == nil {
		plane = "redis-server"
	}
	data := filepath.Join(t.TempDir(), "data")
	p := serve(t, data, plane)
	db := p.database("POST", "/redis/database", `{"database_name":"modes","primary_region":"us-east-1","tls":true}`)
	p.database("POST", "/redis/reset-password/"+db.ID, "")
	files := 0
	err := filepath.WalkDir(data, func(path string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(data, path)
		want := os.FileMode(0o600)
		switch {
		case e.IsDir():
			want = 0o700
		case rel == "ca.pem":
			want = 0o644
		case info.Mode()&os.ModeSocket != 0:
			return nil
		}
		files++
		if info.Mode().Perm() != want {
			t.Errorf("%s: mode %04o, want %04o", rel, info.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 5 {
		t.Errorf("only %d files and folders under the data folder", files)
	}
}
