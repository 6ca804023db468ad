package redisserverplane_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/planetest"
	"github.com/devapi-dev/devapi/redisserverplane"
)

// TestChildEnvironment: a redis-server gets a PATH and nothing of devapi's
// environment, where its API key and store URL live. redis-server writes
// its process title over its environment, so /proc/PID/environ cannot
// tell: a wrapper records the environment it is started with, then execs
// the real binary.
func TestChildEnvironment(t *testing.T) {
	needRedisServer(t)
	t.Setenv("UPSTASH_API_KEY", "env-secret-0123456789")
	t.Setenv("DEVAPI_STORE", "postgres://devapi:store-secret@db/devapi")
	real, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	envFile := filepath.Join(bin, "env")
	wrapper := fmt.Sprintf("#!/bin/sh\nenv > '%s'\nexec '%s' \"$@\"\n", envFile, real)
	if err := os.WriteFile(filepath.Join(bin, "redis-server"), []byte(wrapper), 0o700); err != nil {
		t.Fatal(err)
	}
	p, err := redisserverplane.Open(t.Context(), redisserverplane.Config{Dir: t.TempDir(), Binary: filepath.Join(bin, "redis-server")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	if err := p.Serve(t.Context(), devapi.PlaneDatabase{ID: "db", Port: planetest.FreePort(t), Password: "pw", Generation: 1}); err != nil {
		t.Fatal(err)
	}
	env, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range strings.Split(strings.TrimSpace(string(env)), "\n") {
		// sh adds PWD, SHLVL and _ itself.
		name, _, _ := strings.Cut(v, "=")
		if name != "PATH" && name != "PWD" && name != "SHLVL" && name != "_" {
			t.Errorf("redis-server's environment holds %s", name)
		}
	}
}

// TestRetireMovesFolder: Retire stops the process, frees the port and
// moves the folder, append-only file and all, to OrphansDir.
func TestRetireMovesFolder(t *testing.T) {
	needRedisServer(t)
	data := t.TempDir()
	dir := filepath.Join(data, "redis")
	p := open(t, dir, devapi.PlaneConfig{})
	ctx := t.Context()
	d := devapi.PlaneDatabase{ID: "db", Port: planetest.FreePort(t), Password: "pw", Generation: 1}
	if err := p.Serve(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := connect(t, d, "pw").Set(ctx, "k", "kept-in-the-aof", 0).Err(); err != nil {
		t.Fatal(err)
	}
	pid := pidOf(t, dir, "db")
	where, err := p.Retire(ctx, "db")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(where) != filepath.Join(data, "orphans") || !strings.HasPrefix(filepath.Base(where), "db-") {
		t.Errorf("retired to %s, want %s/db-<time>", where, filepath.Join(data, "orphans"))
	}
	if _, err := time.Parse(redisserverplane.OrphanTimeFormat, strings.TrimPrefix(filepath.Base(where), "db-")); err != nil {
		t.Errorf("the folder's name does not end in a time: %v", err)
	}
	if alive(pid) {
		t.Errorf("redis-server %d runs after Retire", pid)
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", d.Port))
	if err != nil {
		t.Errorf("port still taken after Retire: %v", err)
	} else {
		_ = ln.Close()
	}
	if _, err := os.Stat(filepath.Join(dir, "db")); !os.IsNotExist(err) {
		t.Errorf("the database's folder is still there: %v", err)
	}
	if ids, err := p.Databases(ctx); err != nil || len(ids) != 0 {
		t.Errorf("plane still holds %v (%v)", ids, err)
	}
	if _, err := p.Status(ctx, "db"); devapi.ErrorCode(err) != devapi.ENOTFOUND {
		t.Errorf("status after Retire: %v, want ENOTFOUND", err)
	}
	if !holds(t, filepath.Join(where, "appendonlydir"), "kept-in-the-aof") {
		t.Errorf("the retired folder's AOF lacks the key's value")
	}
	if where, err := p.Retire(ctx, "db"); where != "" || err != nil {
		t.Errorf("Retire of a database the plane does not hold: %q, %v", where, err)
	}
}

// holds reports whether a file under dir contains s.
func holds(t *testing.T, dir, s string) bool {
	t.Helper()
	found := false
	err := filepath.WalkDir(dir, func(path string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		found = found || bytes.Contains(b, []byte(s))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// TestFailedRestartsRetry: a process that cannot start again (its AOF
// manifest is broken) is retried with back-off, each failure logged, and
// Status says restarting; once it can start, it does, with its keys.
func TestFailedRestartsRetry(t *testing.T) {
	needRedisServer(t)
	dir := t.TempDir()
	var log syncBuffer
	p := open(t, dir, devapi.PlaneConfig{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	ctx := t.Context()
	d := devapi.PlaneDatabase{ID: "db", Port: planetest.FreePort(t), Password: "pw", Generation: 1}
	if err := p.Serve(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := connect(t, d, "pw").Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	manifests, err := filepath.Glob(filepath.Join(dir, "db", "appendonlydir", "*.manifest"))
	if err != nil || len(manifests) != 1 {
		t.Fatalf("manifest: %v %v", manifests, err)
	}
	good, err := os.ReadFile(manifests[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(manifests[0], []byte("not a manifest\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pidOf(t, dir, "db"), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	const failure = `level=WARN msg="cannot restart the redis-server of a database; trying again" database_id=db`
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(log.String(), failure) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no two failed restarts logged in 30s:\n%s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st, err := p.Status(ctx, "db"); err != nil || st.State != devapi.PlaneRestarting {
		t.Errorf("status while restarts fail: %+v, %v; want restarting", st, err)
	}
	if err := os.WriteFile(manifests[0], good, 0o600); err != nil {
		t.Fatal(err)
	}
	c := connect(t, d, "pw")
	deadline = time.Now().Add(30 * time.Second)
	for c.Ping(ctx).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("not restarted 30s after the manifest was repaired:\n%s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if v, err := c.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Errorf("key after the restarts: %q, %v", v, err)
	}
}
