package redisserverplane_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/embeddedplane"
	"github.com/devapi-dev/devapi/internal/redistest"
	"github.com/devapi-dev/devapi/planetest"
	"github.com/devapi-dev/devapi/redisserverplane"
)

// needRedisServer skips without redis-server, except in CI.
func needRedisServer(t *testing.T) {
	t.Helper()
	redistest.Binary(t)
}

func open(t *testing.T, dir string, cfg devapi.PlaneConfig) *redisserverplane.Plane {
	t.Helper()
	p, err := redisserverplane.Open(t.Context(), redisserverplane.Config{Dir: dir, PlaneConfig: cfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func TestConformance(t *testing.T) {
	needRedisServer(t)
	planetest.Run(t, planetest.Options{
		Persistent: true,
		Open: func(t *testing.T, dir string, cfg devapi.PlaneConfig) devapi.Plane {
			return open(t, dir, cfg)
		},
	})
}

func pidOf(t *testing.T, dir, id string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, id, "redis.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(rest, "Z")
}

func TestPasswordNeverOnCommandLine(t *testing.T) {
	needRedisServer(t)
	dir := t.TempDir()
	p := open(t, dir, devapi.PlaneConfig{})
	const pw = "0123456789abcdef0123456789abcdef"
	if err := p.Serve(t.Context(), devapi.PlaneDatabase{ID: "db", Port: planetest.FreePort(t), Password: pw, Generation: 1}); err != nil {
		t.Fatal(err)
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pidOf(t, dir, "db")))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(cmdline, []byte(pw)) {
		t.Errorf("cmdline %q", cmdline)
	}
	for _, name := range []string{"redis.conf", "admin.secret"} {
		info, err := os.Stat(filepath.Join(dir, "db", name))
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v (%v), want 0600", name, info.Mode().Perm(), err)
		}
	}
	if info, err := os.Stat(filepath.Join(dir, "db")); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("database folder mode %v (%v), want 0700", info.Mode().Perm(), err)
	}
}

// TestAdoptsProcessOfKilledDevapi: a Plane dropped without Close is a killed
// devapi; a new Plane on the same folder adopts its processes.
func TestAdoptsProcessOfKilledDevapi(t *testing.T) {
	needRedisServer(t)
	dir := t.TempDir()
	first, err := redisserverplane.Open(t.Context(), redisserverplane.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	d := devapi.PlaneDatabase{ID: "db", Port: planetest.FreePort(t), Password: "pw1", Generation: 1}
	if err := first.Serve(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	redisserverplane.Abandon(first)
	pid := pidOf(t, dir, "db")
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", d.Port), Password: "pw1"})
	defer func() { _ = c.Close() }()
	if err := c.Set(t.Context(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}

	second := open(t, dir, devapi.PlaneConfig{}) // first is never closed
	d.Password, d.Generation = "pw2", 2
	if err := second.Serve(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	if got := pidOf(t, dir, "db"); got != pid || !alive(pid) {
		t.Errorf("pid %d after adoption, was %d (alive %v)", got, pid, alive(pid))
	}
	c2 := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", d.Port), Password: "pw2"})
	defer func() { _ = c2.Close() }()
	if v, err := c2.Get(t.Context(), "k").Result(); err != nil || v != "v" {
		t.Errorf("key through the adopted process: %q, %v", v, err)
	}
	if err := second.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if alive(pid) {
		t.Errorf("the adopted process outlived Close")
	}
}

func TestStalePidfileStartsFresh(t *testing.T) {
	needRedisServer(t)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	// Our own pid: alive, but not a redis-server on this folder's conf.
	if err := os.WriteFile(filepath.Join(dir, "db", "redis.pid"), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		t.Fatal(err)
	}
	p := open(t, dir, devapi.PlaneConfig{})
	d := devapi.PlaneDatabase{ID: "db", Port: planetest.FreePort(t), Password: "pw", Generation: 1}
	if err := p.Serve(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	if pid := pidOf(t, dir, "db"); pid == os.Getpid() {
		t.Errorf("the stale pidfile was taken for a running redis-server")
	}
}

func TestMissingBinary(t *testing.T) {
	_, err := redisserverplane.Open(t.Context(), redisserverplane.Config{Dir: t.TempDir(), Binary: "no-such-redis-server"})
	if err == nil || !strings.Contains(err.Error(), "no-such-redis-server") || !strings.Contains(err.Error(), "apt-get install redis-server") {
		t.Errorf("Open with a missing binary: %v", err)
	}
}

func TestCloseStopsProcesses(t *testing.T) {
	needRedisServer(t)
	dir := t.TempDir()
	p, err := redisserverplane.Open(t.Context(), redisserverplane.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Serve(t.Context(), devapi.PlaneDatabase{ID: "db", Port: planetest.FreePort(t), Password: "pw", Generation: 1}); err != nil {
		t.Fatal(err)
	}
	pid := pidOf(t, dir, "db")
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if alive(pid) {
		t.Errorf("redis-server %d still runs after Close", pid)
	}
}

// TestMaxMemoryAndEviction fills a database past its memory cap: with
// eviction, old keys go and writes keep working; without, writes fail.
func TestMaxMemoryAndEviction(t *testing.T) {
	needRedisServer(t)
	p := open(t, t.TempDir(), devapi.PlaneConfig{})
	ctx := t.Context()
	d := devapi.PlaneDatabase{ID: "db", Port: planetest.FreePort(t), Password: "pw", Generation: 1, MaxMemory: 8 << 20, Eviction: true}
	if err := p.Serve(ctx, d); err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", d.Port), Password: "pw"})
	defer func() { _ = c.Close() }()
	value := strings.Repeat("x", 64<<10)
	const writes = 400 // 25 MB into an 8 MB cap
	for i := range writes {
		if err := c.Set(ctx, fmt.Sprint("k", i), value, 0).Err(); err != nil {
			t.Fatalf("write %d with eviction on: %v", i, err)
		}
	}
	if n := c.DBSize(ctx).Val(); n >= writes || n == 0 {
		t.Errorf("%d of %d keys kept under an 8 MB cap with eviction; want some evicted", n, writes)
	}

	d.Eviction = false
	if err := p.Serve(ctx, d); err != nil {
		t.Fatal(err)
	}
	var oom error
	for i := range writes {
		if err := c.Set(ctx, fmt.Sprint("n", i), value, 0).Err(); err != nil {
			oom = err
			break
		}
	}
	if oom == nil || !strings.Contains(oom.Error(), "OOM") {
		t.Errorf("writes past the cap without eviction: %v, want an OOM error", oom)
	}
}

// TestSnapshotAcrossPlanes: a snapshot of the embedded plane restores on
// redis-server, and back.
func TestSnapshotAcrossPlanes(t *testing.T) {
	needRedisServer(t)
	ctx := t.Context()
	server := open(t, t.TempDir(), devapi.PlaneConfig{})
	embedded := embeddedplane.New(devapi.PlaneConfig{})
	t.Cleanup(func() { _ = embedded.Close() })
	for _, p := range []devapi.Plane{server, embedded} {
		if err := p.Serve(ctx, devapi.PlaneDatabase{ID: "db", Port: planetest.FreePort(t), Password: "pw", Generation: 1}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name     string
		from, to devapi.Plane
	}{
		{"EmbeddedToRedisServer", embedded, server},
		{"RedisServerToEmbedded", server, embedded},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := c.from.Restore(ctx, "db", planetest.SampleSnapshot().All()); err != nil {
				t.Fatal(err)
			}
			snap, err := devapi.CollectSnapshot(ctx, c.from, "db")
			if err != nil {
				t.Fatal(err)
			}
			if err := c.to.Restore(ctx, "db", snap.All()); err != nil {
				t.Fatal(err)
			}
			got, err := devapi.CollectSnapshot(ctx, c.to, "db")
			if err != nil {
				t.Fatal(err)
			}
			if diff := planetest.DiffSnapshot(got, planetest.SampleSnapshot()); diff != "" {
				t.Error(diff)
			}
		})
	}
}
