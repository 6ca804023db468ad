package redisserverplane_test

import (
	"bufio"
	"fmt"
	"io"
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
	"github.com/devapi-dev/devapi/internal/redistest"
	"github.com/devapi-dev/devapi/planetest"
	"github.com/devapi-dev/devapi/redisserverplane"
)

// What a holder of a database's password tries against devapi and the
// host through that database's redis-server (issue 11), and must not get.

// serveOne serves a database "db" on a new plane with password "pw".
func serveOne(t *testing.T, d devapi.PlaneDatabase) (*redisserverplane.Plane, string, devapi.PlaneDatabase) {
	t.Helper()
	needRedisServer(t)
	dir := t.TempDir()
	p := open(t, dir, devapi.PlaneConfig{})
	d.ID, d.Port, d.Password, d.Generation = "db", planetest.FreePort(t), "pw", 1
	if err := p.Serve(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	return p, dir, d
}

// TestCommandPolicy runs every row of devapi.CommandPolicy as the database's
// user.
func TestCommandPolicy(t *testing.T) {
	_, _, d := serveOne(t, devapi.PlaneDatabase{})
	planetest.CheckCommandPolicy(t, connect(t, d, "pw"))
}

// TestClientPauseCannotStallAReset: CLIENT PAUSE 30000 ALL is refused, so
// devapi's own ACL SETUSER of the next reset is not held for 30 s.
func TestClientPauseCannotStallAReset(t *testing.T) {
	p, _, d := serveOne(t, devapi.PlaneDatabase{})
	ctx := t.Context()
	c := connect(t, d, "pw")
	if err := c.Do(ctx, "CLIENT", "PAUSE", "30000", "ALL").Err(); !planetest.IsNoPerm(err) {
		t.Errorf("CLIENT PAUSE 30000 ALL: %v, want NOPERM", err)
	}
	// The admin client reads for 5 s at most: a paused server fails this.
	if err := p.SetPassword(ctx, "db", "pw2", 2); err != nil {
		t.Fatalf("reset after CLIENT PAUSE: %v", err)
	}
	if err := connect(t, d, "pw2").Ping(ctx).Err(); err != nil {
		t.Errorf("new password: %v", err)
	}
	if err := connect(t, d, "pw").Ping(ctx).Err(); err == nil {
		t.Errorf("the old password still works after the reset")
	}
}

// TestResetAppliesThePolicy: a password change sets the whole default
// user, so a process whose user has other rules (one an older devapi
// started) gets the policy with its new password.
func TestResetAppliesThePolicy(t *testing.T) {
	p, dir, d := serveOne(t, devapi.PlaneDatabase{})
	ctx := t.Context()
	secret, err := os.ReadFile(filepath.Join(dir, "db", "admin.secret"))
	if err != nil {
		t.Fatal(err)
	}
	admin := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", d.Port), Username: "devapi-admin", Password: string(secret)})
	t.Cleanup(func() { _ = admin.Close() })
	if err := admin.Do(ctx, "ACL", "SETUSER", "default", "+@all").Err(); err != nil {
		t.Fatal(err)
	}
	if err := p.SetPassword(ctx, "db", "pw2", 2); err != nil {
		t.Fatal(err)
	}
	planetest.CheckCommandPolicy(t, connect(t, d, "pw2"))
}

// TestOtherClientsOutOfReach: the database's user cannot list devapi's
// connection (and its last command) nor kill it, whatever id it guesses.
func TestOtherClientsOutOfReach(t *testing.T) {
	p, _, d := serveOne(t, devapi.PlaneDatabase{})
	ctx := t.Context()
	c := connect(t, d, "pw")
	for _, args := range [][]any{{"CLIENT", "LIST"}, {"CLIENT", "LIST", "TYPE", "normal"}, {"CLIENT", "KILL", "USER", "devapi-admin"},
		{"CLIENT", "KILL", "LADDR", fmt.Sprintf("127.0.0.1:%d", d.Port)}, {"CLIENT", "KILL", "SKIPME", "yes"}} {
		if err := c.Do(ctx, args...).Err(); !planetest.IsNoPerm(err) {
			t.Errorf("%v: %v, want NOPERM", args, err)
		}
	}
	for id := range 20 {
		if err := c.Do(ctx, "CLIENT", "KILL", "ID", strconv.Itoa(id+1)).Err(); !planetest.IsNoPerm(err) {
			t.Errorf("CLIENT KILL ID %d: %v, want NOPERM", id+1, err)
		}
	}
	if st, err := p.Status(ctx, "db"); err != nil || st.State != devapi.PlaneRunning {
		t.Errorf("status after the kills: %+v, %v", st, err)
	}
	if err := p.SetPassword(ctx, "db", "pw2", 2); err != nil {
		t.Errorf("reset after the kills: %v", err)
	}
}

// TestMigrateRefused: MIGRATE would copy keys into any Redis the host
// reaches, such as an unrelated passwordless one.
func TestMigrateRefused(t *testing.T) {
	_, _, d := serveOne(t, devapi.PlaneDatabase{})
	ctx := t.Context()
	other, port := startBareServer(t)
	c := connect(t, d, "pw")
	if err := c.Set(ctx, "job", "payload", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]any{
		{"MIGRATE", "127.0.0.1", port, "job", "0", "5000"},
		{"MIGRATE", "127.0.0.1", port, "", "0", "5000", "COPY", "REPLACE", "KEYS", "job"},
	} {
		if err := c.Do(ctx, args...).Err(); !planetest.IsNoPerm(err) {
			t.Errorf("%v: %v, want NOPERM", args, err)
		}
	}
	if n, err := other.DBSize(ctx).Result(); err != nil || n != 0 {
		t.Errorf("the other server holds %d keys (%v), want none", n, err)
	}
	if v, err := c.Get(ctx, "job").Result(); err != nil || v != "payload" {
		t.Errorf("the key after MIGRATE: %q, %v", v, err)
	}
}

// TestMaxClients: a database with MaxClients 3 refuses the 4th connection
// as redis-server does, and devapi still reaches it; a Serve with a higher
// limit raises it at once.
func TestMaxClients(t *testing.T) {
	p, _, d := serveOne(t, devapi.PlaneDatabase{MaxClients: 3})
	ctx := t.Context()
	var held []net.Conn
	for i := range 3 {
		conn, reply := dialAuth(t, d.Port, "pw")
		if reply != "+OK" {
			t.Fatalf("connection %d: %q", i+1, reply)
		}
		held = append(held, conn)
	}
	if _, reply := dialAuth(t, d.Port, "pw"); reply != "-ERR max number of clients reached" {
		t.Errorf("4th connection: %q, want -ERR max number of clients reached", reply)
	}
	// devapi's admin connection is not one of the three.
	if err := p.SetPassword(ctx, "db", "pw2", 2); err != nil {
		t.Fatalf("reset while the database holds all its connections: %v", err)
	}
	_ = held[0].Close()
	waitAccepted(t, d.Port, "pw2")

	d.MaxClients, d.Password, d.Generation = 5, "pw2", 2
	if err := p.Serve(ctx, d); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, reply := dialAuth(t, d.Port, "pw2"); reply != "+OK" {
			t.Errorf("connection %d of 5: %q", i+4, reply)
		}
	}
	if _, reply := dialAuth(t, d.Port, "pw2"); reply != "-ERR max number of clients reached" {
		t.Errorf("6th connection of 5: %q", reply)
	}
}

// TestConfFileCarriesThePolicy: the redis.conf the plane writes is one
// redis-server starts on, with the command policy and the client limit:
// a process started from it alone refuses what the policy refuses.
func TestConfFileCarriesThePolicy(t *testing.T) {
	p, dir, d := serveOne(t, devapi.PlaneDatabase{})
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "db", "redis.conf")
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "\nmaxclients 10001\n") {
		t.Errorf("redis.conf without maxclients 10001 (10000 and devapi's connection):\n%s", b)
	}
	cmd := exec.Command("redis-server", conf)
	cmd.Dir = filepath.Dir(conf)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	c := connect(t, d, "pw")
	waitPing(t, c, exited)
	planetest.CheckCommandPolicy(t, c)
}

// TestOpenRefusesOldRedis: the policy needs Redis 7's ACL; an older
// redis-server is named at Open, before any database.
func TestOpenRefusesOldRedis(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "redis-server")
	script := "#!/bin/sh\necho 'Redis server v=6.2.14 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=1'\n"
	if err := os.WriteFile(bin, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := redisserverplane.Open(t.Context(), redisserverplane.Config{Dir: t.TempDir(), Binary: bin})
	if err == nil || !strings.Contains(err.Error(), "Redis 6.2") || !strings.Contains(err.Error(), "7.0 or newer") {
		t.Errorf("Open with Redis 6.2: %v, want an error naming the version and 7.0", err)
	}
}

// dialAuth opens a connection to port and sends AUTH password; it returns
// the connection, closed when the test ends, and the first line the
// server answers.
func dialAuth(t *testing.T, port int, password string) (net.Conn, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(conn, "*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n", len(password), password); err != nil {
		return conn, err.Error()
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return conn, err.Error()
	}
	return conn, strings.TrimRight(line, "\r\n")
}

// waitAccepted waits until a new connection to port is accepted, once
// the server has seen a closed one go.
func waitAccepted(t *testing.T, port int, password string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, reply := dialAuth(t, port, password)
		if reply == "+OK" {
			return
		}
		_ = conn.Close()
		if time.Now().After(deadline) {
			t.Fatalf("no connection accepted after one closed: %q", reply)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitPing waits until c answers PING, or fails when exited closes first.
func waitPing(t *testing.T, c *redis.Client, exited <-chan struct{}) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := c.Ping(t.Context()).Err()
		if err == nil {
			return
		}
		select {
		case <-exited:
			t.Fatalf("redis-server exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server does not answer: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startBareServer runs a redis-server without a password on a free port of
// 127.0.0.1 (internal/redistest), as an unrelated service of the host
// might, until the test ends; it returns a client of it and its port.
func startBareServer(t *testing.T) (*redis.Client, string) {
	t.Helper()
	s := redistest.Start(t, redistest.Options{})
	return s.Client(t), strconv.Itoa(s.Port)
}

// TestResetKillsALoopingScript: a script that loops holds the server past
// busy-reply-threshold (5 s), when it answers BUSY; devapi then kills the
// script, and the password change goes through. So does a stop.
func TestResetKillsALoopingScript(t *testing.T) {
	p, dir, d := serveOne(t, devapi.PlaneDatabase{})
	ctx := t.Context()
	loop := startLoop(t, d.Port, "pw")
	if err := p.SetPassword(ctx, "db", "pw2", 2); err != nil {
		t.Fatalf("reset during a looping script: %v", err)
	}
	if reply := <-loop; !strings.Contains(reply, "killed") {
		t.Errorf("the looping script answered %q, want it killed", reply)
	}
	if err := connect(t, d, "pw2").Ping(ctx).Err(); err != nil {
		t.Errorf("new password: %v", err)
	}

	loop = startLoop(t, d.Port, "pw2")
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	<-loop
	log, err := os.ReadFile(filepath.Join(dir, "db", "redis.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "User requested shutdown") {
		t.Errorf("the process was not stopped by SHUTDOWN (which flushes the AOF); its log:\n%s", log)
	}
}

// startLoop runs a script that loops for ever on a connection of its own
// and returns once the server answers BUSY to another one. The channel
// gets the script's first answer line, or the read error, once it ends.
func startLoop(t *testing.T, port int, password string) <-chan string {
	t.Helper()
	conn, reply := dialAuth(t, port, password)
	if reply != "+OK" {
		t.Fatalf("AUTH: %q", reply)
	}
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	const script = "while true do end"
	if _, err := fmt.Fprintf(conn, "*3\r\n$4\r\nEVAL\r\n$%d\r\n%s\r\n$1\r\n0\r\n", len(script), script); err != nil {
		t.Fatal(err)
	}
	done := make(chan string, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		line, err := bufio.NewReader(conn).ReadString('\n')
		if err != nil {
			line = err.Error()
		}
		done <- line
	})
	t.Cleanup(func() { _ = conn.Close(); wg.Wait() })
	probe, _ := dialAuth(t, port, password) // sent before the script runs or answered BUSY
	_ = probe.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(probe)
	for range 1000 {
		if _, err := io.WriteString(probe, "*1\r\n$4\r\nPING\r\n"); err != nil {
			t.Fatal(err)
		}
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("probe: %v", err)
		}
		if strings.HasPrefix(line, "-BUSY") {
			return done
		}
	}
	t.Fatal("the server never answered BUSY")
	return nil
}

// TestMaxClientsBeyondOpenFileLimit: a redis-server whose open-file limit
// cannot hold the database's client limit gets as many clients as it can,
// with a warning, instead of failing Serve (as redis-server does at start).
func TestMaxClientsBeyondOpenFileLimit(t *testing.T) {
	needRedisServer(t)
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		redistest.SkipOrFail(t, "prlimit (util-linux) is not installed")
	}
	var log strings.Builder
	var mu sync.Mutex
	dir := t.TempDir()
	p := open(t, dir, devapi.PlaneConfig{Logger: slog.New(slog.NewTextHandler(lockedWriter{&mu, &log}, nil))})
	ctx := t.Context()
	d := devapi.PlaneDatabase{ID: "db", Port: planetest.FreePort(t), Password: "pw", Generation: 1, MaxClients: 3}
	if err := p.Serve(ctx, d); err != nil {
		t.Fatal(err)
	}
	pid := strconv.Itoa(pidOf(t, dir, "db"))
	if out, err := exec.Command(prlimit, "--pid", pid, "--nofile=64:64").CombinedOutput(); err != nil {
		t.Fatalf("prlimit: %v: %s", err, out)
	}
	d.MaxClients = 1000
	if err := p.Serve(ctx, d); err != nil {
		t.Fatalf("Serve past the open-file limit: %v", err)
	}
	mu.Lock()
	logged := log.String()
	mu.Unlock()
	if !strings.Contains(logged, "level=WARN") || !strings.Contains(logged, "lowered") {
		t.Errorf("log %q, want a warning that the limit was lowered", logged)
	}
	for i := range 4 { // more than the 3 of before: the limit was raised as far as it goes
		if _, reply := dialAuth(t, d.Port, "pw"); reply != "+OK" {
			t.Errorf("connection %d: %q", i+1, reply)
		}
	}
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
