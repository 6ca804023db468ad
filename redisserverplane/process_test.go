package redisserverplane_test

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/tlsca"
	"github.com/devapi-dev/devapi/planetest"
	"github.com/devapi-dev/devapi/redisserverplane"
)

// connect is a client of d's port on 127.0.0.1 as the default user.
func connect(t *testing.T, d devapi.PlaneDatabase, password string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", d.Port), Password: password, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// processesUnder lists the live processes whose working directory is in
// dir: the redis-servers of a plane on dir.
func processesUnder(t *testing.T, dir string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
		if err == nil && strings.HasPrefix(cwd, dir+string(filepath.Separator)) && alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// deadPid is the pid of a process that has exited.
func deadPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func TestPidfileOfDeadProcessStartsFresh(t *testing.T) {
	needRedisServer(t)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	dead := deadPid(t)
	if err := os.WriteFile(filepath.Join(dir, "db", "redis.pid"), []byte(strconv.Itoa(dead)), 0o600); err != nil {
		t.Fatal(err)
	}
	p := open(t, dir, devapi.PlaneConfig{})
	d := devapi.PlaneDatabase{ID: "db", Port: planetest.FreePort(t), Password: "pw", Generation: 1}
	if err := p.Serve(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	if pid := pidOf(t, dir, "db"); pid == dead || !alive(pid) {
		t.Errorf("pid %d after Serve over a pidfile naming the dead %d", pid, dead)
	}
	if err := connect(t, d, "pw").Ping(t.Context()).Err(); err != nil {
		t.Errorf("PING: %v", err)
	}
}

// TestCrashedProcessRestarts: a redis-server killed with SIGKILL is
// started again by the supervisor, on its password and with the
// acknowledged writes (they reach the AOF file before the reply;
// everysec only bounds the fsync), and the restart is logged at WARN with
// the database id.
func TestCrashedProcessRestarts(t *testing.T) {
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
	pid := pidOf(t, dir, "db")
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	c := connect(t, d, "pw")
	deadline := time.Now().Add(5 * time.Second)
	for c.Ping(ctx).Err() != nil {
		if time.Now().After(deadline) {
			st, err := p.Status(ctx, "db")
			t.Fatalf("no PONG with the password 5s after SIGKILL; status %+v, %v\n%s", st, err, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := pidOf(t, dir, "db"); got == pid || !alive(got) {
		t.Errorf("pid %d after the restart, was %d", got, pid)
	}
	if v, err := c.Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Errorf("key after the crash: %q, %v", v, err)
	}
	if st, err := p.Status(ctx, "db"); err != nil || st.State != devapi.PlaneRunning || st.Generation != 1 {
		t.Errorf("status after the restart: %+v, %v", st, err)
	}
	for _, want := range []string{"level=WARN msg=\"the redis-server of a database died; restarting it\" database_id=db", "level=WARN msg=\"restarted the redis-server of a database\" database_id=db"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, log.String())
		}
	}
	if err := p.SetPassword(ctx, "db", "pw2", 2); err != nil {
		t.Fatalf("SetPassword after the restart: %v", err)
	}
	if v, err := connect(t, d, "pw2").Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Errorf("key with the new password: %q, %v", v, err)
	}
}

// TestSetPasswordWhileRestarting: a SetPassword that finds the process
// dead, before the supervisor restarted it, starts it at once on the new
// password, and Status meanwhile says restarting.
func TestSetPasswordWhileRestarting(t *testing.T) {
	needRedisServer(t)
	dir := t.TempDir()
	p := open(t, dir, devapi.PlaneConfig{})
	redisserverplane.Abandon(p) // no supervisor: the process stays dead
	ctx := t.Context()
	d := devapi.PlaneDatabase{ID: "db", Port: planetest.FreePort(t), Password: "pw", Generation: 1}
	if err := p.Serve(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := connect(t, d, "pw").Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	pid := pidOf(t, dir, "db")
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if st, err := p.Status(ctx, "db"); err != nil || st.State != devapi.PlaneRestarting || st.Generation != 1 {
		t.Errorf("status of the killed database: %+v, %v; want restarting, generation 1", st, err)
	}
	if err := p.SetPassword(ctx, "db", "pw2", 2); err != nil {
		t.Fatalf("SetPassword on the killed database: %v", err)
	}
	if v, err := connect(t, d, "pw2").Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Errorf("key with the new password: %q, %v", v, err)
	}
	if st, err := p.Status(ctx, "db"); err != nil || st.State != devapi.PlaneRunning || st.Generation != 2 {
		t.Errorf("status after SetPassword: %+v, %v", st, err)
	}
}

// TestPasswordWithSpacesAndQuotes: redis.conf quotes the password, so one
// that is not hex starts a process too, and survives a restart.
func TestPasswordWithSpacesAndQuotes(t *testing.T) {
	needRedisServer(t)
	dir := t.TempDir()
	const pw = `a "b" 'c' \d e#f >g`
	d := devapi.PlaneDatabase{ID: "db", Port: planetest.FreePort(t), Password: pw, Generation: 1}
	for round := range 2 { // the second start reads the conf the first wrote
		p := open(t, dir, devapi.PlaneConfig{})
		if err := p.Serve(t.Context(), d); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if err := connect(t, d, pw).Ping(t.Context()).Err(); err != nil {
			t.Errorf("round %d: PING with the password: %v", round, err)
		}
		if err := connect(t, d, "a").Ping(t.Context()).Err(); !redis.IsAuthError(err) {
			t.Errorf("round %d: PING with the password's first word: %v, want an auth error", round, err)
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
	}
	conf, err := os.ReadFile(filepath.Join(dir, "db", "redis.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(conf, []byte(pw)) {
		t.Errorf("redis.conf holds the password unquoted")
	}
}

// TestPortChangeRestarts: Serve with another port moves the database.
func TestPortChangeRestarts(t *testing.T) {
	needRedisServer(t)
	p := open(t, t.TempDir(), devapi.PlaneConfig{})
	ctx := t.Context()
	d := devapi.PlaneDatabase{ID: "db", Port: planetest.FreePort(t), Password: "pw", Generation: 1}
	if err := p.Serve(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := connect(t, d, "pw").Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	moved := d
	moved.Port = planetest.FreePort(t)
	if err := p.Serve(ctx, moved); err != nil {
		t.Fatal(err)
	}
	if v, err := connect(t, moved, "pw").Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Errorf("key on the new port: %q, %v", v, err)
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", d.Port))
	if err != nil {
		t.Errorf("the old port is still taken: %v", err)
	} else {
		_ = ln.Close()
	}
	if st, err := p.Status(ctx, "db"); err != nil || st.Addr != fmt.Sprintf("127.0.0.1:%d", moved.Port) {
		t.Errorf("status after the move: %+v, %v", st, err)
	}
}

// TestStartFailureShowsLog: a redis-server that cannot start makes Serve
// fail with the end of its log, which never shows the password.
func TestStartFailureShowsLog(t *testing.T) {
	needRedisServer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	p := open(t, t.TempDir(), devapi.PlaneConfig{})
	const pw = "0123456789abcdef"
	err = p.Serve(t.Context(), devapi.PlaneDatabase{ID: "db", Port: ln.Addr().(*net.TCPAddr).Port, Password: pw, Generation: 1})
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("Serve on a taken port: %v, want the log's bind error", err)
	}
	if err != nil && strings.Contains(err.Error(), pw) {
		t.Errorf("the error shows the password: %v", err)
	}
	if _, err := p.Status(t.Context(), "db"); devapi.ErrorCode(err) != devapi.ENOTFOUND {
		t.Errorf("status of a database that failed to start: %v, want ENOTFOUND", err)
	}
}

// TestRemoveStopsProcessOfKilledDevapi: Remove without Serve, after a
// devapi restart, still stops the process a killed devapi left.
func TestRemoveStopsProcessOfKilledDevapi(t *testing.T) {
	needRedisServer(t)
	dir := t.TempDir()
	first, err := redisserverplane.Open(t.Context(), redisserverplane.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = first.Close() }) // only if the test fails
	d := devapi.PlaneDatabase{ID: "db", Port: planetest.FreePort(t), Password: "pw", Generation: 1}
	if err := first.Serve(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	redisserverplane.Abandon(first)
	pid := pidOf(t, dir, "db")
	second := open(t, dir, devapi.PlaneConfig{})
	if err := second.Remove(t.Context(), "db"); err != nil {
		t.Fatal(err)
	}
	if alive(pid) {
		t.Errorf("redis-server %d still runs after Remove", pid)
	}
	if _, err := os.Stat(filepath.Join(dir, "db")); !os.IsNotExist(err) {
		t.Errorf("folder after Remove: %v", err)
	}
}

// TestConcurrentServeAndRemove: however Serve, Remove and Close interleave,
// no process outlives Close.
func TestConcurrentServeAndRemove(t *testing.T) {
	needRedisServer(t)
	dir := t.TempDir()
	p, err := redisserverplane.Open(t.Context(), redisserverplane.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	port := planetest.FreePort(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			d := devapi.PlaneDatabase{ID: "db", Port: port, Password: "pw", Generation: int64(i)}
			if i%2 == 0 {
				_ = p.Serve(t.Context(), d) // may lose to a Remove
			} else {
				_ = p.Remove(t.Context(), "db")
			}
		})
	}
	wg.Go(func() {
		if err := p.Serve(t.Context(), devapi.PlaneDatabase{ID: "other", Port: planetest.FreePort(t), Password: "pw", Generation: 1}); err != nil {
			t.Errorf("serve other: %v", err)
		}
	})
	wg.Wait()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if pids := processesUnder(t, dir); len(pids) != 0 {
		t.Errorf("processes %v outlived Close", pids)
	}
	if err := p.Serve(t.Context(), devapi.PlaneDatabase{ID: "late", Port: planetest.FreePort(t), Password: "pw", Generation: 1}); err == nil {
		t.Errorf("Serve after Close succeeded")
	}
}

// TestTLSAdoptionTakesNewCertificate: devapi issues a certificate at every
// start; a TLS redis-server left by a killed devapi is adopted and reloads
// the new one, without a restart.
func TestTLSAdoptionTakesNewCertificate(t *testing.T) {
	needRedisServer(t)
	ca, _, err := tlsca.New(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cfg := func() devapi.PlaneConfig {
		c, err := ca.ServerConfig([]string{"127.0.0.1"}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return devapi.PlaneConfig{TLS: c}
	}
	dir := t.TempDir()
	first, err := redisserverplane.Open(t.Context(), redisserverplane.Config{Dir: dir, PlaneConfig: cfg()})
	if err != nil {
		t.Fatal(err)
	}
	d := devapi.PlaneDatabase{ID: "db", Port: planetest.FreePort(t), TLS: true, Password: "pw", Generation: 1}
	if err := first.Serve(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	redisserverplane.Abandon(first)
	pid := pidOf(t, dir, "db")

	newCfg := cfg()
	second := open(t, dir, newCfg) // first is never closed
	if err := second.Serve(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	if got := pidOf(t, dir, "db"); got != pid {
		t.Errorf("pid %d after adoption, was %d", got, pid)
	}
	conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", d.Port), &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	if served := conn.ConnectionState().PeerCertificates[0].Raw; !bytes.Equal(served, newCfg.TLS.Certificates[0].Certificate[0]) {
		t.Errorf("the adopted process serves the old certificate")
	}
}

// syncBuffer collects a plane's log while its goroutines write to it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
