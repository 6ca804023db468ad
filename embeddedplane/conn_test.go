package embeddedplane

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2/server"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/tlsca"
	"github.com/devapi-dev/devapi/planetest"
)

// testTimeout bounds every wait of these tests; nothing takes near it
// unless a guard is missing.
const testTimeout = 10 * time.Second

// newTestPlane returns a plane with a TLS certificate from a new CA, closed
// when the test ends.
func newTestPlane(tb testing.TB) (*Plane, *tlsca.CA) {
	tb.Helper()
	ca, _, err := tlsca.New(time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	cfg, err := ca.ServerConfig([]string{"127.0.0.1"}, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	p := New(devapi.PlaneConfig{TLS: cfg})
	tb.Cleanup(func() { _ = p.Close() })
	return p, ca
}

// serve serves a database "db" with password "pw" on a free port; change
// edits its spec first.
func serve(tb testing.TB, p *Plane, change func(*devapi.PlaneDatabase)) devapi.PlaneDatabase {
	tb.Helper()
	spec := devapi.PlaneDatabase{ID: "db", Port: planetest.FreePort(tb), Password: "pw", Generation: 1}
	if change != nil {
		change(&spec)
	}
	if err := p.Serve(tb.Context(), spec); err != nil {
		tb.Fatal(err)
	}
	return spec
}

// client is a raw RESP connection.
type client struct {
	tb testing.TB
	c  net.Conn
	r  *bufio.Reader
}

// dial connects to port without authenticating; with ca, over TLS.
func dial(tb testing.TB, port int, ca *tlsca.CA) *client {
	tb.Helper()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	var c net.Conn
	var err error
	if ca != nil {
		c, err = tls.DialWithDialer(&net.Dialer{Timeout: testTimeout}, "tcp", addr, &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	} else {
		c, err = net.DialTimeout("tcp", addr, testTimeout)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return &client{tb: tb, c: c, r: bufio.NewReader(c)}
}

// login is dial, then AUTH pw.
func login(tb testing.TB, port int, ca *tlsca.CA) *client {
	tb.Helper()
	c := dial(tb, port, ca)
	if got := c.do("AUTH", "pw"); got != "+OK" {
		tb.Fatalf("AUTH pw = %q", got)
	}
	return c
}

// send writes one command.
func (c *client) send(args ...string) {
	c.tb.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	c.write(b.String())
}

// write sends raw bytes.
func (c *client) write(s string) {
	c.tb.Helper()
	_ = c.c.SetWriteDeadline(time.Now().Add(testTimeout))
	if _, err := io.WriteString(c.c, s); err != nil {
		c.tb.Fatalf("write: %v", err)
	}
}

// do sends a command and reads its reply.
func (c *client) do(args ...string) string {
	c.tb.Helper()
	c.send(args...)
	return c.read()
}

// read reads one reply: simple strings, errors and numbers as their line
// ("+OK", "-ERR ...", ":1"), bulk strings as "$" and their content,
// aggregates as their type and length followed by their elements.
func (c *client) read() string {
	c.tb.Helper()
	s, err := c.next()
	if err != nil {
		c.tb.Fatalf("read: %v", err)
	}
	return s
}

func (c *client) next() (string, error) {
	_ = c.c.SetReadDeadline(time.Now().Add(testTimeout))
	line, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", errors.New("empty line")
	}
	n, _ := strconv.Atoi(line[1:])
	switch line[0] {
	case '$':
		if n < 0 {
			return "$nil", nil
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(c.r, b); err != nil {
			return "", err
		}
		return "$" + string(b[:n]), nil
	case '*', '~', '>', '%':
		if line[0] == '%' {
			n *= 2
		}
		parts := []string{line}
		for range max(n, 0) {
			s, err := c.next()
			if err != nil {
				return "", err
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, " "), nil
	}
	return line, nil
}

// closed waits for the server to close the connection, reading and
// dropping what comes before; it fails the test if that takes testTimeout.
func (c *client) closed() {
	c.tb.Helper()
	_ = c.c.SetReadDeadline(time.Now().Add(testTimeout))
	_, err := io.Copy(io.Discard, c.r)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.tb.Fatalf("the connection is still open after %v", testTimeout)
	}
}

func TestNothingAnsweredBeforeAuth(t *testing.T) {
	p, _ := newTestPlane(t)
	d := serve(t, p, nil)
	c := dial(t, d.Port, nil)
	// The answers redis-server 7.0.15 gives with requirepass set.
	const helloNoAuth = "-" + msgHelloNoAuth
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"HELLO"}, helloNoAuth},
		{[]string{"HELLO", "3"}, helloNoAuth},
		{[]string{"HELLO", "3", "SETNAME", "x"}, helloNoAuth},
		{[]string{"HELLO", "3", "AUTH", "default", "wrong"}, "-WRONGPASS invalid username-password pair or user is disabled."},
		{[]string{"HELLO", "3", "AUTH", "default"}, "-ERR Syntax error in HELLO option 'AUTH'"},
		{[]string{"HELLO", "4"}, "-NOPROTO unsupported protocol version"},
		{[]string{"HELLO", "x"}, "-ERR Protocol version is not an integer or out of range"},
		{[]string{"CLIENT", "SETNAME", "x"}, "-NOAUTH Authentication required."},
		{[]string{"COMMAND"}, "-NOAUTH Authentication required."},
		{[]string{"COMMAND", "COUNT"}, "-NOAUTH Authentication required."},
		{[]string{"GET", "k"}, "-NOAUTH Authentication required."},
		{[]string{"PING"}, "-NOAUTH Authentication required."},
		{[]string{"MULTI"}, "-NOAUTH Authentication required."},
		{[]string{"EVAL", "return 1", "0"}, "-NOAUTH Authentication required."},
		{[]string{"CONFIG", "GET", "*"}, "-NOAUTH Authentication required."},
		{[]string{tagCommand, "1"}, "-NOAUTH Authentication required."},
		{[]string{"AUTH"}, "-ERR wrong number of arguments for 'auth' command"},
		{[]string{"AUTH", "wrong"}, "-WRONGPASS invalid username-password pair or user is disabled."},
		{[]string{"AUTH", "nobody", "pw"}, "-WRONGPASS invalid username-password pair or user is disabled."},
		{[]string{"AUTH", "a", "b", "c"}, "-ERR syntax error"},
		{[]string{"AUTH", "pw"}, "+OK"},
		{[]string{"SET", "k", "v"}, "+OK"},
		// A failed AUTH leaves the connection authenticated.
		{[]string{"AUTH", "wrong"}, "-WRONGPASS invalid username-password pair or user is disabled."},
		{[]string{"GET", "k"}, "$v"},
		{[]string{"QUIT"}, "+OK"},
	} {
		if got := c.do(tc.args...); got != tc.want {
			t.Errorf("%q = %q, want %q", tc.args, got, tc.want)
		}
	}
	c.closed()

	// HELLO with AUTH authenticates; QUIT needs no AUTH.
	c = dial(t, d.Port, nil)
	if got := c.do("HELLO", "3", "AUTH", "default", "pw", "SETNAME", "me"); !strings.HasPrefix(got, "%7 $server") {
		t.Errorf("HELLO 3 AUTH default pw = %q, want the server's map", got)
	}
	if got := c.do("GET", "k"); got != "$v" {
		t.Errorf("GET after HELLO AUTH = %q", got)
	}
	c = dial(t, d.Port, nil)
	if got := c.do("QUIT"); got != "+OK" {
		t.Errorf("QUIT before AUTH = %q", got)
	}
	c.closed()
}

func TestPasswordChangeKeepsConnections(t *testing.T) {
	p, _ := newTestPlane(t)
	d := serve(t, p, nil)
	held := login(t, d.Port, nil)
	if err := p.SetPassword(t.Context(), "db", "new", 2); err != nil {
		t.Fatal(err)
	}
	if got := held.do("PING"); got != "+PONG" {
		t.Errorf("PING on a connection authenticated before the change = %q", got)
	}
	c := dial(t, d.Port, nil)
	if got := c.do("AUTH", "pw"); !strings.HasPrefix(got, "-WRONGPASS") {
		t.Errorf("AUTH with the old password = %q", got)
	}
	if got := c.do("AUTH", "default", "new"); got != "+OK" {
		t.Errorf("AUTH with the new password = %q", got)
	}
}

func TestEmptyPasswordLetsNobodyIn(t *testing.T) {
	p, _ := newTestPlane(t)
	d := serve(t, p, func(d *devapi.PlaneDatabase) { d.Password = "" })
	c := dial(t, d.Port, nil)
	for _, args := range [][]string{{"AUTH", ""}, {"AUTH", "default", ""}, {"HELLO", "3", "AUTH", "default", ""}} {
		if got := c.do(args...); !strings.HasPrefix(got, "-WRONGPASS") {
			t.Errorf("%q = %q, want WRONGPASS", args, got)
		}
	}
	if got := c.do("GET", "k"); got != "-"+msgNoAuth {
		t.Errorf("GET = %q, want NOAUTH", got)
	}
}

// refusedSamples are refused subcommands for the rows of devapi.CommandPolicy
// that keep some.
var refusedSamples = map[string]string{"CLIENT": "KILL", "ACL": "LIST"}

func TestCommandPolicyOverTCP(t *testing.T) {
	p, _ := newTestPlane(t)
	d := serve(t, p, nil)
	c := login(t, d.Port, nil)
	if got := c.do("SET", "k", "v"); got != "+OK" {
		t.Fatalf("SET = %q", got)
	}
	for _, r := range devapi.CommandPolicy {
		args := []string{r.Command}
		if r.Subcommands != nil {
			sub, ok := refusedSamples[r.Command]
			if !ok {
				t.Fatalf("no refused subcommand of %s to try: add one to refusedSamples", r.Command)
			}
			args = append(args, sub)
		}
		args = append(args, "a", "b")
		got := c.do(args...)
		if r.Allowed {
			if strings.HasPrefix(got, "-NOPERM") {
				t.Errorf("%q = %q; the command is allowed", args, got)
			}
			continue
		}
		if want := "-" + devapi.CommandRefused(args); got != want {
			t.Errorf("%q = %q, want %q", args, got, want)
		}
	}
	if got := c.do("KEYS", "*"); got != "*1 $k" {
		t.Errorf("KEYS * = %q, want the one key", got)
	}
	for _, sub := range devapi.CommandPolicy[slicesIndex("CLIENT")].Subcommands {
		if got := c.do("CLIENT", sub); strings.HasPrefix(got, "-NOPERM") {
			t.Errorf("CLIENT %s = %q; the subcommand is allowed", sub, got)
		}
	}
}

// openConns returns the number of connections database "db" holds.
func openConns(tb testing.TB, p *Plane) int {
	tb.Helper()
	d, err := p.get("db")
	if err != nil {
		tb.Fatal(err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.front.open()
}

// slicesIndex returns the index of cmd in devapi.CommandPolicy.
func slicesIndex(cmd string) int {
	for i, r := range devapi.CommandPolicy {
		if r.Command == cmd {
			return i
		}
	}
	panic("no row " + cmd)
}

func TestRefusedInsideMultiAbortsExec(t *testing.T) {
	p, _ := newTestPlane(t)
	d := serve(t, p, nil)
	c := login(t, d.Port, nil)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"MULTI"}, "+OK"},
		{[]string{"SET", "k", "v"}, "+QUEUED"},
		{[]string{"CONFIG", "GET", "maxmemory"}, "-" + devapi.CommandRefused([]string{"CONFIG", "GET", "maxmemory"})},
		{[]string{"EXEC"}, "-EXECABORT Transaction discarded because of previous errors."},
		{[]string{"GET", "k"}, "$nil"},
		// The transaction is over: the next one runs.
		{[]string{"MULTI"}, "+OK"},
		{[]string{"SET", "k", "v"}, "+QUEUED"},
		{[]string{"EXEC"}, "*1 +OK"},
		{[]string{"MULTI"}, "+OK"},
		{[]string{"AUTH", "pw"}, "-" + msgAuthInMulti},
		{[]string{"EXEC"}, "-EXECABORT Transaction discarded because of previous errors."},
	} {
		if got := c.do(tc.args...); got != tc.want {
			t.Errorf("%q = %q, want %q", tc.args, got, tc.want)
		}
	}
}

func TestScriptInsideMultiAbortsExec(t *testing.T) {
	p, _ := newTestPlane(t)
	d := serve(t, p, nil)
	c := login(t, d.Port, nil)
	for _, script := range [][]string{
		{"EVAL", "return redis.call('SET', 'k', 'v')", "0"},
		{"FCALL", "f", "0"},
		{"SCRIPT", "FLUSH"},
	} {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"MULTI"}, "+OK"},
			{[]string{"INCR", "n"}, "+QUEUED"},
			{script, "-" + msgScriptInMulti},
			{[]string{"EXEC"}, "-EXECABORT Transaction discarded because of previous errors."},
			{[]string{"GET", "n"}, "$nil"},
			{[]string{"GET", "k"}, "$nil"},
		} {
			if got := c.do(tc.args...); got != tc.want {
				t.Errorf("%q = %q, want %q", tc.args, got, tc.want)
			}
		}
	}
	// DISCARD ends the transaction too.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"MULTI"}, "+OK"},
		{[]string{"DISCARD"}, "+OK"},
		{[]string{"EVAL", "return 1", "0"}, ""}, // whatever the sandbox answers, not the MULTI error
	} {
		if got := c.do(tc.args...); got == "-"+msgScriptInMulti || (tc.want != "" && got != tc.want) {
			t.Errorf("%q = %q, want %q", tc.args, got, tc.want)
		}
	}
}

func TestBlockingCommandsAreServed(t *testing.T) {
	p, _ := newTestPlane(t)
	d := serve(t, p, nil)
	waiter, pusher := login(t, d.Port, nil), login(t, d.Port, nil)
	waiter.send("BLPOP", "list", "0")
	// The pusher can only push once the waiter's BLPOP holds nothing back.
	if got := pusher.do("RPUSH", "list", "x"); got != ":1" && got != ":0" {
		t.Fatalf("RPUSH = %q", got)
	}
	if got := waiter.read(); got != "*2 $list $x" {
		t.Errorf("BLPOP = %q", got)
	}
	sub, pub := login(t, d.Port, nil), login(t, d.Port, nil)
	if got := sub.do("SUBSCRIBE", "ch"); got != "*3 $subscribe $ch :1" {
		t.Fatalf("SUBSCRIBE = %q", got)
	}
	if got := pub.do("PUBLISH", "ch", "hi"); got != ":1" {
		t.Errorf("PUBLISH = %q", got)
	}
	if got := sub.read(); got != "*3 $message $ch $hi" {
		t.Errorf("message = %q", got)
	}
}

func TestBlocks(t *testing.T) {
	for _, tc := range []struct {
		line string
		want bool
	}{
		{"BLPOP l 0", true},
		{"SUBSCRIBE ch", true},
		{"XREAD COUNT 1 BLOCK 0 STREAMS s $", true},
		{"XREAD STREAMS BLOCK 0", false},
		{"XREADGROUP GROUP BLOCK c STREAMS s >", false},
		{"XREADGROUP GROUP g c COUNT 1 BLOCK 10 STREAMS s >", true},
		{"GET BLOCK", false},
	} {
		f := strings.Fields(tc.line)
		if got := blocks(f[0], f[1:]); got != tc.want {
			t.Errorf("blocks(%q) = %v", tc.line, got)
		}
	}
}

func TestClientLimit(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprint("TLS=", secure), func(t *testing.T) {
			p, ca := newTestPlane(t)
			d := serve(t, p, func(d *devapi.PlaneDatabase) { d.MaxClients, d.TLS = 5, secure })
			if !secure {
				ca = nil
			}
			var held []*client
			for range 5 {
				held = append(held, login(t, d.Port, ca))
			}
			over := dial(t, d.Port, ca)
			if got := over.read(); got != "-"+msgMaxClients {
				t.Errorf("the 6th connection read %q, want %q", got, "-"+msgMaxClients)
			}
			over.closed()
			st, err := p.Status(t.Context(), "db")
			if err != nil || st.Connections != 5 {
				t.Errorf("status %+v, %v; want 5 connections", st, err)
			}
			// Closing one frees a place, once miniredis is done with it.
			if got := held[0].do("QUIT"); got != "+OK" {
				t.Fatalf("QUIT = %q", got)
			}
			held[0].closed()
			deadline := time.Now().Add(testTimeout)
			for openConns(t, p) > 4 {
				if time.Now().After(deadline) {
					t.Fatal("the closed connection still holds its place")
				}
				time.Sleep(10 * time.Millisecond)
			}
			c := login(t, d.Port, ca)
			if got := c.do("PING"); got != "+PONG" {
				t.Errorf("PING on the freed place = %q", got)
			}
			// A plan change applies to new connections.
			d.MaxClients = 6
			if err := p.Serve(t.Context(), d); err != nil {
				t.Fatal(err)
			}
			login(t, d.Port, ca)
		})
	}
}

func TestUnauthenticatedConnectionsAreClosed(t *testing.T) {
	p, ca := newTestPlane(t)
	p.authTimeout = 300 * time.Millisecond
	for _, secure := range []bool{false, true} {
		d := serve(t, p, func(d *devapi.PlaneDatabase) { d.ID, d.TLS = fmt.Sprint("db-", secure), secure })
		dialCA := ca
		if !secure {
			dialCA = nil
		}
		// authed connects first, so its timer would run out first.
		authed := dial(t, d.Port, dialCA)
		bare := dial(t, d.Port, dialCA)
		if got := authed.do("AUTH", "pw"); got != "+OK" {
			t.Fatal(got)
		}
		talker := dial(t, d.Port, dialCA)
		if got := talker.do("PING"); got != "-"+msgNoAuth {
			t.Fatal(got)
		}
		bare.closed()
		talker.closed()
		if got := authed.do("PING"); got != "+PONG" {
			t.Errorf("TLS %v: PING on the authenticated connection after the others were closed = %q", secure, got)
		}
	}
}

func TestRelistenMovesConnections(t *testing.T) {
	p, ca := newTestPlane(t)
	d := serve(t, p, nil)
	c := login(t, d.Port, nil)
	if got := c.do("SET", "k", "v"); got != "+OK" {
		t.Fatal(got)
	}
	blocked := login(t, d.Port, nil)
	blocked.send("BLPOP", "nothing", "0")
	if got := c.do("PING"); got != "+PONG" { // the BLPOP is in: commands run in order
		t.Fatal(got)
	}
	db, err := p.get("db")
	if err != nil {
		t.Fatal(err)
	}
	old := db.front
	moved := d
	moved.Port, moved.TLS, moved.Password, moved.Generation = planetest.FreePort(t), true, "pw2", 2
	if err := p.Serve(t.Context(), moved); err != nil {
		t.Fatal(err)
	}
	// The old connections are closed, and miniredis let go of them all,
	// the blocked one too.
	c.closed()
	blocked.closed()
	if n := old.open(); n != 0 {
		t.Errorf("%d connections of the old listener still held", n)
	}
	// The keys stay; the new listener serves TLS with the new password.
	c = dial(t, moved.Port, ca)
	if got := c.do("AUTH", "pw2"); got != "+OK" {
		t.Fatalf("AUTH on the new listener = %q", got)
	}
	if got := c.do("GET", "k"); got != "$v" {
		t.Errorf("GET k after the move = %q", got)
	}
	st, err := p.Status(t.Context(), "db")
	if err != nil || st.State != devapi.PlaneRunning || st.Addr != fmt.Sprint("127.0.0.1:", moved.Port) || st.TotalConnections != 3 || st.Connections != 1 {
		t.Errorf("status %+v, %v", st, err)
	}
}

// TestPanicInMiniredisIsContained makes miniredis panic inside its lock,
// past argsRefused: the command answers an error, the panic is logged, and
// the database serves on.
func TestPanicInMiniredisIsContained(t *testing.T) {
	var log bytes.Buffer
	p := New(devapi.PlaneConfig{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	t.Cleanup(func() { _ = p.Close() })
	d := serve(t, p, nil)
	db, err := p.get("db")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	np := server.NewPeer(w)
	db.front.internal(np, []string{"HSET", "h", "f", "inf"})
	db.front.internal(np, []string{"HINCRBYFLOAT", "h", "f", "-inf"}) // +inf + -inf panics in withTx
	_ = w.Flush()
	if !strings.HasSuffix(out.String(), "-ERR internal error\r\n") {
		t.Errorf("the panicking command answered %q", out.String())
	}
	if !strings.Contains(log.String(), "level=ERROR") || !strings.Contains(log.String(), "command=HINCRBYFLOAT") {
		t.Errorf("log %q: want the panic at ERROR with its command", log.String())
	}
	if got := login(t, d.Port, nil).do("HGET", "h", "f"); got != "$inf" {
		t.Errorf("HGET after the panic = %q", got)
	}
	if err := p.Remove(t.Context(), "db"); err != nil {
		t.Fatal(err)
	}
}
