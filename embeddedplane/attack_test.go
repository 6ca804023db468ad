package embeddedplane

// Attacks on the embedded plane's front door by someone who can reach a
// database's port, with or without its password (issue 11, item 8).

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/planetest"
)

// TestAttackBrokenFraming sends what miniredis would choke on: an empty
// array made it panic (the whole process, before AUTH), a bulk length makes
// it allocate that much at once, a line without end grows its buffer
// without bound. Each is answered redis-server's protocol error and the
// connection closed; the database serves on.
func TestAttackBrokenFraming(t *testing.T) {
	p, _ := newTestPlane(t)
	d := serve(t, p, nil)
	for _, tc := range []struct {
		name, send, want string
		authed           bool
	}{
		{"empty array", "*0\r\n", "invalid multibulk length", false},
		{"null array", "*-1\r\n", "invalid multibulk length", false},
		{"empty array after AUTH", "*0\r\n", "invalid multibulk length", true},
		{"100 MB bulk before AUTH", "*1\r\n$100000000\r\n", "unauthenticated bulk length", false},
		{"1 GB bulk before AUTH", "*1\r\n$1000000000\r\n", "invalid bulk length", false},
		{"16 KiB and 1 byte before AUTH", "*1\r\n$16385\r\n", "unauthenticated bulk length", false},
		{"11 arguments before AUTH", "*11\r\n", "unauthenticated multibulk length", false},
		{"600 MB bulk after AUTH", "*2\r\n$3\r\nGET\r\n$600000000\r\n", "invalid bulk length", true},
		{"negative bulk", "*1\r\n$-5\r\n", "invalid bulk length", false},
		{"header without end", "*" + strings.Repeat("1", 100), "too big mbulk count string", false},
		{"bulk header without end", "*1\r\n$" + strings.Repeat("1", 100), "too big bulk count string", false},
		{"not a number", "*x\r\n", "invalid multibulk length", false},
		{"inline command", "PING\r\n", "expected '*', got 'P'", false},
		{"simple string as argument", "*1\r\n+PING\r\n", "expected '$', got '+'", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, d.Port, nil)
			if tc.authed {
				c = login(t, d.Port, nil)
			}
			c.write(tc.send)
			if got, want := c.read(), "-ERR Protocol error: "+tc.want; got != want {
				t.Errorf("read %q, want %q", got, want)
			}
			c.closed()
		})
	}
	// Within the limits, all is well: 16 KiB before AUTH, more after.
	c := dial(t, d.Port, nil)
	if got := c.do("AUTH", strings.Repeat("x", unauthBulk)); !strings.HasPrefix(got, "-WRONGPASS") {
		t.Errorf("AUTH with a 16 KiB password = %q", got)
	}
	c = login(t, d.Port, nil)
	big := strings.Repeat("v", 1<<20)
	if got := c.do("SET", "big", big); got != "+OK" {
		t.Errorf("SET of 1 MiB = %q", got)
	}
	if got := c.do("STRLEN", "big"); got != fmt.Sprint(":", len(big)) {
		t.Errorf("STRLEN = %q", got)
	}
}

// TestAttackBareConnects holds every place of a database with connections
// that never authenticate: they are closed after the time limit, and the
// owner gets in again.
func TestAttackBareConnects(t *testing.T) {
	p, _ := newTestPlane(t)
	p.authTimeout = 300 * time.Millisecond
	d := serve(t, p, func(d *devapi.PlaneDatabase) { d.MaxClients = 20 })
	var bare []*client
	for range 20 {
		bare = append(bare, dial(t, d.Port, nil))
	}
	owner := dial(t, d.Port, nil)
	if got := owner.read(); got != "-"+msgMaxClients {
		t.Fatalf("with every place held, a new connection read %q", got)
	}
	for _, c := range bare {
		c.closed()
	}
	deadline := time.Now().Add(testTimeout)
	for openConns(t, p) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the bare connections still hold their places")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := login(t, d.Port, nil).do("PING"); got != "+PONG" {
		t.Errorf("the owner's PING = %q", got)
	}
}

// emfileChild, set in the environment, makes TestAttackAcceptErrors the
// server side in a process of its own: see emfileServer.
const emfileChild = "EMBEDDEDPLANE_EMFILE_CHILD"

// emfileRoom is how many descriptors the child keeps free for connections.
const emfileRoom = 10

// TestAttackAcceptErrors runs a database in a child process whose file
// descriptors run out (RLIMIT_NOFILE lowered to what it has open and a few
// more), connects until its accept fails with EMFILE, then lets go: the
// database accepts again. miniredis's own accept loop returned on the first
// error, for good. Each episode of errors is logged once at WARN.
func TestAttackAcceptErrors(t *testing.T) {
	if os.Getenv(emfileChild) != "" {
		emfileServer(t)
		return
	}
	if runtime.GOOS != "linux" {
		t.Skip("counts its descriptors in /proc/self/fd: Linux only")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestAttackAcceptErrors$", "-test.count=1")
	cmd.Env = append(os.Environ(), emfileChild+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logs := make(chan map[string]any, 100)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		defer close(logs)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var rec map[string]any
			if json.Unmarshal(sc.Bytes(), &rec) == nil {
				logs <- rec
			} else {
				t.Logf("child: %s", sc.Text())
			}
		}
	}()
	t.Cleanup(func() {
		_ = stdin.Close() // the child stops when its stdin ends
		if err := cmd.Wait(); err != nil {
			t.Errorf("child: %v", err)
		}
		<-readDone
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	port, perr := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "port ")))
	if err != nil || perr != nil {
		t.Fatalf("child said %q: %v %v", line, err, perr)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()

	// More connections than the child has descriptors: the kernel queues
	// them, the child's accept fails.
	var conns []*client
	for range 2 * emfileRoom {
		c := dial(t, port, nil)
		c.send("AUTH", "pw")
		conns = append(conns, c)
	}
	warn := waitLog(t, logs, "WARN")
	if warn["database"] != "db" || !strings.Contains(fmt.Sprint(warn["error"]), "too many open files") {
		t.Errorf("warning %v: want the database and EMFILE", warn)
	}
	for _, c := range conns {
		_ = c.c.Close()
	}
	// The child accepts again: a new connection is served.
	if got := login(t, port, nil).do("PING"); got != "+PONG" {
		t.Errorf("PING after the descriptors came back = %q", got)
	}
	// One warning per episode of errors, not one per retry: each ends with
	// one "accepting again".
	warnings, recovered := 1, 0
	for recovered < warnings {
		switch rec := waitLog(t, logs, ""); rec["level"] {
		case "WARN":
			warnings++
		case "INFO":
			recovered++
		}
	}
}

// waitLog returns the next log record of level, or of any level for "".
func waitLog(t *testing.T, logs <-chan map[string]any, level string) map[string]any {
	t.Helper()
	timeout := time.After(testTimeout)
	for {
		select {
		case rec, ok := <-logs:
			if !ok {
				t.Fatal("the child ended")
			}
			if level == "" || rec["level"] == level {
				return rec
			}
		case <-timeout:
			t.Fatalf("no %s line from the child in %v", level, testTimeout)
		}
	}
}

// emfileServer is the child of TestAttackAcceptErrors: it serves "db" with
// password "pw", leaves itself emfileRoom free descriptors, says its port
// on stdout and serves until stdin ends. It logs JSON to stderr.
func emfileServer(t *testing.T) {
	p := New(devapi.PlaneConfig{Logger: slog.New(slog.NewJSONHandler(os.Stderr, nil))})
	defer func() { _ = p.Close() }()
	spec := devapi.PlaneDatabase{ID: "db", Port: planetest.FreePort(t), Password: "pw", Generation: 1}
	if err := p.Serve(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	lim.Cur = uint64(len(fds) + emfileRoom)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("port %d\n", spec.Port)
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// TestAttackTLSHandshakes opens TCP connections to a TLS database that never
// start their handshake. One of them does not stall the connections behind
// it; past the client limit, more than maxRejecting of them are closed at
// once instead of each holding a descriptor until its handshake times out.
func TestAttackTLSHandshakes(t *testing.T) {
	p, ca := newTestPlane(t)
	d := serve(t, p, func(d *devapi.PlaneDatabase) { d.TLS, d.MaxClients = true, 2 })
	silent := dial(t, d.Port, nil)
	owner := login(t, d.Port, ca)
	if !stillOpen(silent) {
		t.Fatal("the owner was only served once the silent connection's handshake timed out")
	}
	// Both places are taken: the rest are told so after a handshake, which
	// these never start.
	var waiting []*client
	for range maxRejecting {
		waiting = append(waiting, dial(t, d.Port, nil))
	}
	// The next one finds maxRejecting handshakes under way: it is closed
	// at once.
	extra := dial(t, d.Port, nil)
	extra.closed()
	if !stillOpen(waiting[0]) {
		t.Error("the connections over the limit were closed together, not past maxRejecting")
	}
	if got := owner.do("PING"); got != "+PONG" {
		t.Errorf("owner's PING = %q", got)
	}
}

// stillOpen reports whether c is open and silent: a read neither ends nor
// returns data within a short wait.
func stillOpen(c *client) bool {
	_ = c.c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	_, err := c.c.Read(make([]byte, 1))
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}

// TestAttackArgumentsMiniredisDoesNotSurvive sends, with the password, the
// arguments that made miniredis panic (taking the process with it),
// allocate gigabytes, loop for ever holding its lock, or make databases
// without end; over TCP and from a script. Each is answered an error, as
// redis-server answers them where it has one.
func TestAttackArgumentsMiniredisDoesNotSurvive(t *testing.T) {
	p, _ := newTestPlane(t)
	d := serve(t, p, nil)
	c := login(t, d.Port, nil)
	for _, setup := range [][]string{
		{"SET", "n", "inf"}, {"HSET", "h", "f", "inf"}, {"SADD", "s", "a"}, {"ZADD", "z", "1", "a"},
		{"RPUSH", "l", "a"}, {"XADD", "x", "*", "f", "v"},
	} {
		if got := c.do(setup...); strings.HasPrefix(got, "-") {
			t.Fatalf("%q = %q", setup, got)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"INCRBYFLOAT", "n", "-inf"}, "ERR increment would produce NaN or Infinity"},
		{[]string{"HINCRBYFLOAT", "h", "f", "-inf"}, "ERR value is NaN or Infinity"},
		{[]string{"SETBIT", "k", "9223372036854775807", "1"}, "ERR bit offset is not an integer or out of range"},
		{[]string{"SETBIT", "k", "4294967296", "1"}, "ERR bit offset is not an integer or out of range"},
		{[]string{"SETBIT", "k", "-1", "1"}, "ERR bit offset is not an integer or out of range"},
		{[]string{"SETRANGE", "k", "9223372036854775807", "x"}, "ERR string exceeds maximum allowed size (proto-max-bulk-len)"},
		{[]string{"SETRANGE", "k", "4294967296", ""}, "ERR string exceeds maximum allowed size (proto-max-bulk-len)"},
		{[]string{"SETRANGE", "k", "-1", "x"}, "ERR offset is out of range"},
		{[]string{"SSCAN", "s", "-1"}, "ERR invalid cursor"},
		{[]string{"ZSCAN", "z", "-1"}, "ERR invalid cursor"},
		{[]string{"XTRIM", "x", "MAXLEN", "-1"}, "ERR The MAXLEN argument must be >= 0."},
		{[]string{"XTRIM", "x", "MAXLEN", "~", "-1"}, "ERR The MAXLEN argument must be >= 0."},
		{[]string{"LPOS", "l", "a", "COUNT", "9223372036854775807"}, fmt.Sprintf("ERR COUNT can't be more than %d on the embedded plane", maxCount)},
		{[]string{"SRANDMEMBER", "s", "-9223372036854775807"}, fmt.Sprintf("ERR value is out of range, value must between %d and 9223372036854775807 on the embedded plane", -maxCount)},
		{[]string{"ZRANDMEMBER", "z", "-100000000"}, fmt.Sprintf("ERR value is out of range, value must between %d and 9223372036854775807 on the embedded plane", -maxCount)},
		{[]string{"HRANDFIELD", "h", "-100000000"}, fmt.Sprintf("ERR value is out of range, value must between %d and 9223372036854775807 on the embedded plane", -maxCount)},
		{[]string{"SELECT", "16"}, "ERR DB index is out of range"},
		{[]string{"MOVE", "n", "9223372036854775807"}, "ERR DB index is out of range"},
		{[]string{"COPY", "n", "n2", "DB", "-1"}, "ERR DB index is out of range"},
	} {
		if got := c.do(tc.args...); got != "-"+tc.want {
			t.Errorf("%q = %q, want %q", tc.args, got, "-"+tc.want)
		}
		script := append([]string{"EVAL", "return redis.pcall(unpack(ARGV))", "0"}, tc.args...)
		if got := c.do(script...); !strings.Contains(got, tc.want) {
			t.Errorf("from a script, %q = %q, want %q", tc.args, got, tc.want)
		}
	}
	// Within the bounds, the commands run.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"SELECT", "15"}, "+OK"},
		{[]string{"SELECT", "0"}, "+OK"},
		{[]string{"SETBIT", "b", "7", "1"}, ":0"},
		{[]string{"SETRANGE", "k", "2", "x"}, ":3"},
		{[]string{"SRANDMEMBER", "s", "-3"}, "*3 $a $a $a"},
		{[]string{"LPOS", "l", "a", "COUNT", "0"}, "*1 :0"},
		{[]string{"XADD", "x", "*", "MAXLEN", "-1"}, "$"}, // a field named MAXLEN
		{[]string{"INCRBYFLOAT", "f", "1.5"}, "$1.5"},
	} {
		if got := c.do(tc.args...); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%q = %q, want %q", tc.args, got, tc.want)
		}
	}
}

// TestAttackStalledReader asks for a reply of 40 MB and does not read it.
// miniredis writes replies holding the database's lock, so until the write
// times out nobody else is served; then the connection is closed and the
// others are.
func TestAttackStalledReader(t *testing.T) {
	p, _ := newTestPlane(t)
	p.writeTimeout = 300 * time.Millisecond
	d := serve(t, p, nil)
	c := login(t, d.Port, nil)
	push := []string{"RPUSH", "big"}
	for range 2000 {
		push = append(push, strings.Repeat("x", 1000))
	}
	for range 20 {
		if got := c.do(push...); strings.HasPrefix(got, "-") {
			t.Fatal(got)
		}
	}
	staller := login(t, d.Port, nil)
	_ = staller.c.(*net.TCPConn).SetReadBuffer(4096)
	staller.send("LRANGE", "big", "0", "-1")
	// The reply has begun: miniredis holds the lock while it writes the rest.
	_ = staller.c.SetReadDeadline(time.Now().Add(testTimeout))
	if line, err := staller.r.ReadString('\n'); line != "*40000\r\n" {
		t.Fatalf("LRANGE began with %q, %v", line, err)
	}
	if got := c.do("PING"); got != "+PONG" {
		t.Errorf("PING of another client = %q", got)
	}
	// The staller's connection is gone: only c holds a place.
	deadline := time.Now().Add(testTimeout)
	for openConns(t, p) > 1 {
		if time.Now().After(deadline) {
			t.Fatal("the stalled connection still holds its place")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
