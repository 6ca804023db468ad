package poolplane_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/redistest"
	"github.com/devapi-dev/devapi/planetest"
	"github.com/devapi-dev/devapi/poolplane"
)

// What a holder of a database's password tries against devapi, the host
// and the next database on the same pool server (issue 11), and must not
// get.

// onePool runs one pool server and a Plane on it.
func onePool(t *testing.T) (*poolplane.Plane, *testServer) {
	t.Helper()
	needRedisServer(t)
	srv := runServer(t, nil, false)
	return openPlane(t, []poolplane.ServerSpec{srv.spec}, nil, openStore(t, filepath.Join(t.TempDir(), "devapi.db"))), srv
}

// admin is a client of srv as its admin user, closed when the test ends.
func admin(t *testing.T, srv *testServer) *redis.Client {
	t.Helper()
	c := adminClient(srv.spec)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestCommandPolicy runs every row of devapi.CommandPolicy as the database's
// user.
func TestCommandPolicy(t *testing.T) {
	p, srv := onePool(t)
	servePlaced(t, p, "db", "pw")
	planetest.CheckCommandPolicy(t, clientOf(t, srv.spec, nil, "pw"))
}

// TestACLFileKeepsThePolicy: the ACL file ACL SAVE writes is one the
// server starts on again, with the policy.
func TestACLFileKeepsThePolicy(t *testing.T) {
	needRedisServer(t)
	srv := runServer(t, nil, true)
	p := openPlane(t, []poolplane.ServerSpec{srv.spec}, nil, openStore(t, filepath.Join(t.TempDir(), "devapi.db")))
	servePlaced(t, p, "db", "pw")
	srv.restart(t)
	planetest.CheckCommandPolicy(t, clientOf(t, srv.spec, nil, "pw"))
}

// TestResetAppliesThePolicy: a password change sets the whole default
// user, so a server whose user has other rules gets the policy back.
func TestResetAppliesThePolicy(t *testing.T) {
	p, srv := onePool(t)
	servePlaced(t, p, "db", "pw")
	if err := admin(t, srv).Do(t.Context(), "ACL", "SETUSER", "default", "+@all").Err(); err != nil {
		t.Fatal(err)
	}
	if err := p.SetPassword(t.Context(), "db", "pw2", 2); err != nil {
		t.Fatal(err)
	}
	planetest.CheckCommandPolicy(t, clientOf(t, srv.spec, nil, "pw2"))
}

// TestClientPauseCannotStallAReset: CLIENT PAUSE 30000 ALL is refused, so
// devapi's own ACL SETUSER of the next reset is not held for 30 s.
func TestClientPauseCannotStallAReset(t *testing.T) {
	p, srv := onePool(t)
	ctx := t.Context()
	servePlaced(t, p, "db", "pw")
	if err := clientOf(t, srv.spec, nil, "pw").Do(ctx, "CLIENT", "PAUSE", "30000", "ALL").Err(); !planetest.IsNoPerm(err) {
		t.Errorf("CLIENT PAUSE 30000 ALL: %v, want NOPERM", err)
	}
	// The admin client reads for 10 s at most: a paused server fails this.
	if err := p.SetPassword(ctx, "db", "pw2", 2); err != nil {
		t.Fatalf("reset after CLIENT PAUSE: %v", err)
	}
	if err := clientOf(t, srv.spec, nil, "pw2").Ping(ctx).Err(); err != nil {
		t.Errorf("new password: %v", err)
	}
	if err := clientOf(t, srv.spec, nil, "pw").Ping(ctx).Err(); !redis.IsAuthError(err) {
		t.Errorf("the old password after the reset: %v, want an auth error", err)
	}
}

// TestOtherClientsOutOfReach: the database's user cannot list devapi's
// connections (and their last commands) nor kill them, whatever id it
// guesses.
func TestOtherClientsOutOfReach(t *testing.T) {
	p, srv := onePool(t)
	ctx := t.Context()
	servePlaced(t, p, "db", "pw")
	c := clientOf(t, srv.spec, nil, "pw")
	for _, args := range [][]any{{"CLIENT", "LIST"}, {"CLIENT", "LIST", "TYPE", "normal"}, {"CLIENT", "KILL", "USER", adminUser},
		{"CLIENT", "KILL", "LADDR", srv.spec.Key()}, {"CLIENT", "KILL", "SKIPME", "yes"}} {
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
	p, srv := onePool(t)
	ctx := t.Context()
	servePlaced(t, p, "db", "pw")
	other := runServer(t, nil, false) // made passwordless below
	if err := admin(t, other).Do(ctx, "ACL", "SETUSER", "default", "on", "nopass", "~*", "&*", "+@all").Err(); err != nil {
		t.Fatal(err)
	}
	bare := redis.NewClient(&redis.Options{Addr: other.spec.Key(), MaxRetries: -1})
	t.Cleanup(func() { _ = bare.Close() })
	c := clientOf(t, srv.spec, nil, "pw")
	if err := c.Set(ctx, "job", "payload", 0).Err(); err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(other.spec.Port)
	for _, args := range [][]any{
		{"MIGRATE", "127.0.0.1", port, "job", "0", "5000"},
		{"MIGRATE", "127.0.0.1", port, "", "0", "5000", "COPY", "REPLACE", "KEYS", "job"},
	} {
		if err := c.Do(ctx, args...).Err(); !planetest.IsNoPerm(err) {
			t.Errorf("%v: %v, want NOPERM", args, err)
		}
	}
	if n, err := bare.DBSize(ctx).Result(); err != nil || n != 0 {
		t.Errorf("the other server holds %d keys (%v), want none", n, err)
	}
}

// TestMaxClients: a database with MaxClients 3 refuses the 4th connection
// as redis-server does, and devapi still reaches the server; a Serve with
// a higher limit raises it at once.
func TestMaxClients(t *testing.T) {
	p, srv := onePool(t)
	ctx := t.Context()
	pl, err := p.Place(ctx, "db", false)
	if err != nil {
		t.Fatal(err)
	}
	d := devapi.PlaneDatabase{ID: "db", Port: pl.Port, Password: "pw", Generation: 1, MaxClients: 3}
	if err := p.Serve(ctx, d); err != nil {
		t.Fatal(err)
	}
	for i := range 3 { // held open until the test ends
		if _, reply := dialAuth(t, srv.spec.Key(), "pw"); reply != "+OK" {
			t.Fatalf("connection %d: %q", i+1, reply)
		}
	}
	if _, reply := dialAuth(t, srv.spec.Key(), "pw"); reply != "-ERR max number of clients reached" {
		t.Errorf("4th connection: %q, want -ERR max number of clients reached", reply)
	}
	// devapi's admin connections are not among the three.
	if err := p.SetPassword(ctx, "db", "pw2", 2); err != nil {
		t.Fatalf("reset while the database holds all its connections: %v", err)
	}
	if st, err := p.Status(ctx, "db"); err != nil || st.Connections != 3 {
		t.Errorf("status while the database holds all its connections: %+v, %v", st, err)
	}
	d.MaxClients, d.Password, d.Generation = 5, "pw2", 2
	if err := p.Serve(ctx, d); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, reply := dialAuth(t, srv.spec.Key(), "pw2"); reply != "+OK" {
			t.Errorf("connection %d of 5: %q", i+4, reply)
		}
	}
	if _, reply := dialAuth(t, srv.spec.Key(), "pw2"); reply != "-ERR max number of clients reached" {
		t.Errorf("6th connection of 5: %q", reply)
	}
}

// TestHandOverIsClean: a database leaves keys in two logical databases, a
// function library, a cached script, slowlog and latency entries, commands
// in INFO's statistics, a subscriber and a named connection; it is removed
// and another is placed on the same server, which finds none of it.
func TestHandOverIsClean(t *testing.T) {
	p, srv := onePool(t)
	ctx := t.Context()
	adm := admin(t, srv)
	// What makes the slowlog and the latency monitor record: devapi does
	// not set these, an operator might.
	for _, kv := range [][2]string{{"slowlog-log-slower-than", "0"}, {"latency-monitor-threshold", "1"}} {
		if err := adm.ConfigSet(ctx, kv[0], kv[1]).Err(); err != nil {
			t.Fatal(err)
		}
	}
	servePlaced(t, p, "a", "pw-a")

	// Tenant A.
	const secret = "value-of-a-7f3e"
	for _, db := range []int{0, 5} {
		c := clientOfDB(t, srv.spec, "pw-a", db, "")
		if err := c.Set(ctx, fmt.Sprint("key-of-a-", db), secret, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	named := clientOfDB(t, srv.spec, "pw-a", 0, "conn-of-a")
	lib := "#!lua name=liba\nredis.register_function('fn_of_a', function() return '" + secret + "' end)"
	if err := named.FunctionLoad(ctx, lib).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := named.FCall(ctx, "fn_of_a", nil).Text(); err != nil || v != secret {
		t.Fatalf("FCALL fn_of_a: %q, %v", v, err)
	}
	sha, err := named.ScriptLoad(ctx, "return '"+secret+"'").Result()
	if err != nil {
		t.Fatal(err)
	}
	// A script slow enough for the latency monitor (1 ms), and slower
	// than any command of devapi's or b's after it.
	if err := named.Eval(ctx, "local i = 0 while i < 10000000 do i = i + 1 end return i", nil).Err(); err != nil {
		t.Fatal(err)
	}
	slowestOfA := slowestLatency(t, adm)
	if slowestOfA == 0 {
		t.Fatal("the latency monitor recorded nothing of a: the test needs it")
	}
	if n, err := adm.Do(ctx, "SLOWLOG", "LEN").Int(); err != nil || n == 0 {
		t.Fatalf("SLOWLOG LEN %d, %v: the test needs A's commands in it", n, err)
	}
	sub := subscribe(t, srv.spec.Key(), "pw-a", "channel-of-a")
	// A refused command, which the ACL log records with the client's name.
	if err := named.Do(ctx, "CONFIG", "GET", "*").Err(); !planetest.IsNoPerm(err) {
		t.Fatalf("CONFIG GET: %v, want NOPERM", err)
	}

	if err := p.Remove(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	d := servePlaced(t, p, "b", "pw-b")
	if d.Port != srv.spec.Port {
		t.Fatalf("b on port %d, want a's server %d", d.Port, srv.spec.Port)
	}

	// Tenant B, first what the server tells any client, before b's own
	// commands add to it.
	b := clientOfDB(t, srv.spec, "pw-b", 0, "")
	stats, err := b.Info(ctx, "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"cmdstat_function|load", "cmdstat_fcall", "cmdstat_script|load", "cmdstat_subscribe", "cmdstat_eval"} {
		if strings.Contains(stats, cmd+":") {
			t.Errorf("INFO commandstats of b shows a's %s", cmd)
		}
	}
	for _, db := range []int{0, 5} {
		if n, err := clientOfDB(t, srv.spec, "pw-b", db, "").DBSize(ctx).Result(); err != nil || n != 0 {
			t.Errorf("db %d of b holds %d keys (%v), want none", db, n, err)
		}
	}
	if libs, err := b.FunctionList(ctx, redis.FunctionListQuery{WithCode: true}).Result(); err != nil || len(libs) != 0 {
		t.Errorf("FUNCTION LIST WITHCODE of b: %v, %v; want none", libs, err)
	}
	if err := b.FCall(ctx, "fn_of_a", nil).Err(); err == nil || !strings.Contains(err.Error(), "Function not found") {
		t.Errorf("FCALL of a's function from b: %v, want Function not found", err)
	}
	if err := b.EvalSha(ctx, sha, nil).Err(); err == nil || !strings.HasPrefix(err.Error(), "NOSCRIPT") {
		t.Errorf("EVALSHA of a's script from b: %v, want NOSCRIPT", err)
	}
	// What only the server's admin reads.
	slow, err := adm.SlowLogGet(ctx, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range slow {
		if slices.ContainsFunc(e.Args, func(a string) bool { return strings.Contains(a, secret) }) || e.ClientName == "conn-of-a" {
			t.Errorf("slowlog entry of a: %+v", e)
		}
	}
	if ms := slowestLatency(t, adm); ms >= slowestOfA {
		t.Errorf("the latency monitor still shows a's script (%d ms)", ms)
	}
	if log, err := adm.Do(ctx, "ACL", "LOG").Slice(); err != nil || strings.Contains(fmt.Sprint(log), "conn-of-a") {
		t.Errorf("ACL LOG: %v, %v; want nothing of a", log, err)
	}
	clients, err := adm.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(clients, "conn-of-a") || strings.Contains(clients, "sub=1") {
		t.Errorf("a's connections are still there:\n%s", clients)
	}
	// A's subscriber was disconnected: its connection reads the end.
	_ = sub.SetReadDeadline(time.Now().Add(10 * time.Second))
	if rest, err := io.ReadAll(sub); err != nil || len(rest) != 0 {
		t.Errorf("a's subscriber read %q, %v; want its connection closed", rest, err)
	}
}

// TestPlaceWipesAFreeServer: a server handed out for the first time is
// wiped first, in case someone used it since; placing again a database
// that holds data does not touch it.
func TestPlaceWipesAFreeServer(t *testing.T) {
	p, srv := onePool(t)
	ctx := t.Context()
	left := redis.NewClient(&redis.Options{Addr: srv.spec.Key(), Username: srv.spec.Username, Password: srv.spec.Password, DB: 2})
	t.Cleanup(func() { _ = left.Close() })
	if err := left.Set(ctx, "left-behind", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := left.FunctionLoad(ctx, "#!lua name=leftlib\nredis.register_function('left', function() return 1 end)").Err(); err != nil {
		t.Fatal(err)
	}
	servePlaced(t, p, "db", "pw")
	c := clientOfDB(t, srv.spec, "pw", 2, "")
	if n, err := c.DBSize(ctx).Result(); err != nil || n != 0 {
		t.Errorf("db 2 of a new database holds %d keys (%v), want none", n, err)
	}
	if libs, err := c.FunctionList(ctx, redis.FunctionListQuery{}).Result(); err != nil || len(libs) != 0 {
		t.Errorf("FUNCTION LIST of a new database: %v, %v; want none", libs, err)
	}
	if err := c.Set(ctx, "mine", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Place(ctx, "db", false); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Exists(ctx, "mine").Result(); err != nil || n != 1 {
		t.Errorf("a key after placing its database again: %d, %v; want it kept", n, err)
	}
}

// TestWipeCheckFindsResidue: the check after a wipe names what is left,
// and passes once Remove has wiped.
func TestWipeCheckFindsResidue(t *testing.T) {
	p, srv := onePool(t)
	ctx := t.Context()
	if err := admin(t, srv).ConfigSet(ctx, "slowlog-log-slower-than", "0").Err(); err != nil {
		t.Fatal(err)
	}
	servePlaced(t, p, "db", "pw")
	c := clientOfDB(t, srv.spec, "pw", 3, "named")
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.FunctionLoad(ctx, "#!lua name=lib\nredis.register_function('f', function() return 1 end)").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.ScriptLoad(ctx, "return 1").Err(); err != nil {
		t.Fatal(err)
	}
	_ = subscribe(t, srv.spec.Key(), "pw", "ch")
	err := p.CheckWiped(ctx, srv.spec.Key(), math.MaxInt64)
	for _, want := range []string{"keys in db3", "1 cached scripts", "1 function libraries", "slowlog entries", "of default"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("check of a used server: %v, want it to name %q", err, want)
		}
	}
	if strings.Count(fmt.Sprint(err), "of default") < 2 {
		t.Errorf("check of a used server: %v, want the named client and the subscriber", err)
	}
	if err := p.Remove(ctx, "db"); err != nil {
		t.Fatal(err)
	}
	if err := p.CheckWiped(ctx, srv.spec.Key(), -1); err != nil {
		t.Errorf("check after Remove: %v", err)
	}
}

// TestRemoveKeepsAServerItCannotEmpty: a key that appears while Remove
// wipes the server (another admin's write) fails the Remove, and the
// database keeps the server, until a Remove leaves it empty.
func TestRemoveKeepsAServerItCannotEmpty(t *testing.T) {
	p, srv := onePool(t)
	ctx := t.Context()
	servePlaced(t, p, "db", "pw")
	adm := admin(t, srv)
	p.BeforeWipeCheck(srv.spec.Key(), func(ctx context.Context) {
		if err := adm.Set(ctx, "written-meanwhile", "x", 0).Err(); err != nil {
			t.Error(err)
		}
	})
	if err := p.Remove(ctx, "db"); err == nil || !strings.Contains(err.Error(), "keys in db0") {
		t.Errorf("Remove while a key is written: %v, want it to fail naming the keys", err)
	}
	if ids, err := p.Databases(ctx); err != nil || !slices.Equal(ids, []string{"db"}) {
		t.Errorf("databases after a failed Remove: %v, %v; want db to keep its server", ids, err)
	}
	p.BeforeWipeCheck(srv.spec.Key(), nil)
	if err := p.Remove(ctx, "db"); err != nil {
		t.Fatal(err)
	}
	if ids, err := p.Databases(ctx); err != nil || len(ids) != 0 {
		t.Errorf("databases after Remove: %v, %v; want none", ids, err)
	}
}

// TestOpenRefusesOldRedis: the policy needs Redis 7's ACL; a pool server
// that says it is older fails Open, named.
func TestOpenRefusesOldRedis(t *testing.T) {
	addr := fakeRedis6(t)
	host, port, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(port)
	spec := poolplane.ServerSpec{Host: host, Port: n, Username: adminUser, Password: "pw"}
	p, err := poolplane.Open(t.Context(), poolplane.Config{Servers: []poolplane.ServerSpec{spec},
		Store: openStore(t, filepath.Join(t.TempDir(), "devapi.db"))})
	if err == nil {
		_ = p.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "Redis 6.2") || !strings.Contains(err.Error(), "7.0 or newer") || !strings.Contains(err.Error(), addr) {
		t.Errorf("Open on Redis 6.2: %v, want an error naming the server, its version and 7.0", err)
	}
}

// slowestLatency is the highest max latency, in ms, of the events of
// LATENCY LATEST; 0 for none.
func slowestLatency(t *testing.T, adm *redis.Client) int64 {
	t.Helper()
	latest, err := adm.Do(t.Context(), "LATENCY", "LATEST").Slice()
	if err != nil {
		t.Fatal(err)
	}
	var slowest int64
	for _, e := range latest {
		fields, ok := e.([]any)
		if !ok || len(fields) < 4 {
			t.Fatalf("LATENCY LATEST entry %v", e)
		}
		if ms, ok := fields[3].(int64); ok {
			slowest = max(slowest, ms)
		}
	}
	return slowest
}

// clientOfDB connects to spec's logical database db as `default` with
// password, with a client name if name is not empty, on one connection.
func clientOfDB(t *testing.T, spec poolplane.ServerSpec, password string, db int, name string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: spec.Key(), Password: password, DB: db, ClientName: name, PoolSize: 1, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Ping(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	return c
}

// subscribe opens a connection to addr that authenticates with password and
// subscribes to channel; it returns it once subscribed, closed when the
// test ends.
func subscribe(t *testing.T, addr, password, channel string) net.Conn {
	t.Helper()
	conn, reply := dialAuth(t, addr, password)
	if reply != "+OK" {
		t.Fatalf("AUTH: %q", reply)
	}
	fmt.Fprintf(conn, "*2\r\n$9\r\nSUBSCRIBE\r\n$%d\r\n%s\r\n", len(channel), channel)
	r := bufio.NewReader(conn)
	for range 6 { // *3, $9, subscribe, $N, channel, :1
		if _, err := r.ReadString('\n'); err != nil {
			t.Fatalf("SUBSCRIBE: %v", err)
		}
	}
	_ = conn.SetDeadline(time.Time{})
	return conn
}

// dialAuth opens a connection to addr and sends AUTH password; it returns
// the connection, closed when the test ends, and the first line the server
// answers. It reads no further, so the connection's buffer stays empty.
func dialAuth(t *testing.T, addr, password string) (net.Conn, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(conn, "*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n", len(password), password); err != nil {
		return conn, err.Error()
	}
	line, err := readLine(conn)
	if err != nil {
		return conn, err.Error()
	}
	return conn, line
}

// readLine reads one line from conn byte by byte, without buffering past
// it.
func readLine(conn net.Conn) (string, error) {
	var b []byte
	one := make([]byte, 1)
	for len(b) < 4096 {
		if _, err := conn.Read(one); err != nil {
			return string(b), err
		}
		if one[0] == '\n' {
			return strings.TrimSuffix(string(b), "\r"), nil
		}
		b = append(b, one[0])
	}
	return string(b), fmt.Errorf("line longer than 4096 bytes")
}

// fakeRedis6 listens on 127.0.0.1 and answers the commands go-redis and
// Open send as a Redis 6.2 would, for the test of a server too old: no
// redis-server 6 is at hand. It stops when the test ends.
func fakeRedis6(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	const info = "# Server\r\nredis_version:6.2.14\r\nredis_mode:standalone\r\n"
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
			wg.Go(func() {
				r := bufio.NewReader(conn)
				for {
					args, err := readCommand(r)
					if err != nil {
						return
					}
					var reply string
					switch strings.ToUpper(args[0]) {
					case "AUTH", "CLIENT", "SELECT":
						reply = "+OK\r\n"
					case "PING":
						reply = "+PONG\r\n"
					case "INFO":
						reply = fmt.Sprintf("$%d\r\n%s\r\n", len(info), info)
					default:
						reply = "-ERR unknown command '" + args[0] + "'\r\n"
					}
					if _, err := io.WriteString(conn, reply); err != nil {
						return
					}
				}
			})
		}
	})
	return ln.Addr().String()
}

// readCommand reads one command, a RESP array of bulk strings.
func readCommand(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "*")))
	if err != nil || n < 1 || n > 64 {
		return nil, fmt.Errorf("not a command: %q", line)
	}
	args := make([]string, n)
	for i := range args {
		head, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		size, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(head, "$")))
		if err != nil || size < 0 || size > 1<<16 {
			return nil, fmt.Errorf("not a bulk string: %q", head)
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		args[i] = string(buf[:size])
	}
	return args, nil
}

// TestLoopingScriptCannotStopResetOrRemove: a script that loops holds the
// server past busy-reply-threshold (5 s), when it answers BUSY; devapi then
// kills the script, and the password change, or the Remove, goes through.
func TestLoopingScriptCannotStopResetOrRemove(t *testing.T) {
	p, srv := onePool(t)
	ctx := t.Context()
	servePlaced(t, p, "db", "pw")
	loop := startLoop(t, srv.spec.Key(), "pw")
	if err := p.SetPassword(ctx, "db", "pw2", 2); err != nil {
		t.Fatalf("reset during a looping script: %v", err)
	}
	if reply := <-loop; !strings.Contains(reply, "killed") {
		t.Errorf("the looping script answered %q, want it killed", reply)
	}
	startLoop(t, srv.spec.Key(), "pw2")
	if err := p.Remove(ctx, "db"); err != nil {
		t.Fatalf("remove during a looping script: %v", err)
	}
}

// startLoop runs a script that loops for ever on a connection of its own
// and returns once the server answers BUSY to another one. The channel
// gets the script's first answer line, or the read error, once it ends.
func startLoop(t *testing.T, addr, password string) <-chan string {
	t.Helper()
	conn, reply := dialAuth(t, addr, password)
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
	probe, _ := dialAuth(t, addr, password) // sent before the script runs or answered BUSY
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

// TestMaxClientsBeyondOpenFileLimit: a server whose open-file limit cannot
// hold the database's client limit gets as many clients as it can, with a
// warning, instead of failing Serve.
func TestMaxClientsBeyondOpenFileLimit(t *testing.T) {
	needRedisServer(t)
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		redistest.SkipOrFail(t, "prlimit (util-linux) is not installed")
	}
	srv := runServer(t, nil, false)
	var log bytes.Buffer // written by the calls below only, in this goroutine
	p, err := poolplane.Open(t.Context(), poolplane.Config{Servers: []poolplane.ServerSpec{srv.spec},
		Store: openStore(t, filepath.Join(t.TempDir(), "devapi.db")), Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	ctx := t.Context()
	pl, err := p.Place(ctx, "db", false)
	if err != nil {
		t.Fatal(err)
	}
	d := devapi.PlaneDatabase{ID: "db", Port: pl.Port, Password: "pw", Generation: 1, MaxClients: 3}
	if err := p.Serve(ctx, d); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(prlimit, "--pid", strconv.Itoa(srv.Pid()), "--nofile=64:64").CombinedOutput(); err != nil {
		t.Fatalf("prlimit: %v: %s", err, out)
	}
	d.MaxClients = 1000
	if err := p.Serve(ctx, d); err != nil {
		t.Fatalf("Serve past the open-file limit: %v", err)
	}
	if !strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), "lowered") {
		t.Errorf("log %q, want a warning that the limit was lowered", log.String())
	}
	for i := range 4 { // more than the 3 of before: the limit was raised as far as it goes
		if _, reply := dialAuth(t, srv.spec.Key(), "pw"); reply != "+OK" {
			t.Errorf("connection %d: %q", i+1, reply)
		}
	}
}
