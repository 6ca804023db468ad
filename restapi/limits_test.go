package restapi_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/restapi"
)

// refusedSamples is a command line for each refused row of the command
// policy: a refused subcommand for the rows that keep some.
func refusedSamples(t *testing.T) [][]string {
	var out [][]string
	for _, r := range devapi.CommandPolicy {
		if r.Allowed {
			continue
		}
		args := []string{r.Command, "x"}
		switch r.Command {
		case "CLIENT":
			args = []string{"CLIENT", "KILL", "ID", "1"}
		case "ACL":
			args = []string{"ACL", "SETUSER", "default", "nopass"}
		}
		if devapi.CommandRefused(args) == "" {
			t.Fatalf("%v: the policy allows it", args)
		}
		out = append(out, args)
	}
	return out
}

func jsonArgs(args []string) string {
	b, _ := json.Marshal(args)
	return string(b)
}

func errorJSON(msg string) string {
	b, _ := json.Marshal(map[string]string{"error": msg})
	return string(b)
}

// TestCommandPolicyOverREST: every refused row of the command policy answers
// its NOPERM over REST, alone (400), in a pipeline (its item) and in a
// transaction (400, and nothing of it runs), with a full and a read-only
// token. What the REST API refuses on its own keeps its own text.
func TestCommandPolicyOverREST(t *testing.T) {
	k := newKit(t, restapi.Config{})
	db := k.addDB("policy")
	for _, args := range refusedSamples(t) {
		want := devapi.CommandRefused(args)
		for _, tok := range []string{db.token, db.readOnlyToken} {
			k.expect(k.post("/", tok, jsonArgs(args)), 400, errorJSON(want))
			path := "/" + strings.Join(args, "/")
			k.expect(k.call("GET", path, tok, nil), 400, errorJSON(want))
			k.expect(k.post("/pipeline", tok, `[["PING"],`+jsonArgs(args)+`]`), 200, `[{"result":"PONG"},`+errorJSON(want)+`]`)
			k.expect(k.post("/multi-exec", tok, `[["GET","tx"],`+jsonArgs(args)+`,["SET","tx","ran"]]`), 400, errorJSON(want))
		}
		if db.redis.Exists("tx") {
			t.Fatalf("a transaction with %v ran", args)
		}
	}
	// Allowed by the policy, refused by REST: they act on the pooled connection.
	for _, args := range [][]string{{"CLIENT", "SETNAME", "x"}, {"CLIENT", "REPLY", "OFF"}, {"SELECT", "1"}, {"HELLO", "3"}} {
		k.expect(k.post("/", db.token, jsonArgs(args)), 400, errorJSON("ERR "+args[0]+" is not allowed in REST API"))
	}
	k.expect(k.post("/", db.token, `["BLPOP","l","1"]`), 400, errorJSON("ERR blocking commands are not supported in REST API"))
}

// TestCommandCap: a pipeline or transaction over MaxCommands is answered
// 400 and none of its commands runs; at the cap it runs.
func TestCommandCap(t *testing.T) {
	k := newKit(t, restapi.Config{Limits: restapi.Limits{MaxCommands: 10}})
	db := k.addDB("cap")
	cmds := func(n int) string {
		s := make([]string, n)
		for i := range s {
			s[i] = fmt.Sprintf(`["SET","k%d","v"]`, i)
		}
		return "[" + strings.Join(s, ",") + "]"
	}
	const over = `{"error":"ERR too many commands: at most 10 in one request, this one has more"}`
	for _, path := range []string{"/pipeline", "/multi-exec"} {
		k.expect(k.post(path, db.token, cmds(11)), 400, over)
		if keys := db.redis.Keys(); len(keys) != 0 {
			t.Fatalf("%s over the cap ran: %v", path, keys)
		}
	}
	for _, path := range []string{"/pipeline", "/multi-exec"} {
		if a := k.post(path, db.token, cmds(10)); a.status != 200 || strings.Count(a.body, `"OK"`) != 10 {
			t.Errorf("%s at the cap: %d %.200s", path, a.status, a.body)
		}
	}
	if n := len(db.redis.Keys()); n != 10 {
		t.Errorf("%d keys after the pipelines at the cap, want 10", n)
	}
}

// TestBodyLimit: a body over MaxBodyBytes is 413, whether its
// Content-Length says so (answered before the body is read) or it comes
// without one (cut off at the limit); a body of exactly the limit runs.
func TestBodyLimit(t *testing.T) {
	k := newKit(t, restapi.Config{})
	db := k.addDB("body")
	const tooLarge = `{"error":"ERR max request size exceeded. Limit: 10485760 bytes"}`
	body := func(size int) string {
		prefix := `["SET","k","`
		return prefix + strings.Repeat("x", size-len(prefix)-2) + `"]`
	}
	k.expect(k.post("/", db.token, body(restapi.MaxBodyBytes+1)), 413, tooLarge)
	// A Content-Length over the limit is answered before any of the body comes.
	h := k.hold(db.token, restapi.MaxBodyBytes+1, true)
	select {
	case a := <-h.done:
		k.expect(a, 413, tooLarge)
	case <-time.After(10 * time.Second):
		t.Fatal("a Content-Length over the limit waited for its body")
	}
	chunked := struct{ io.Reader }{strings.NewReader(body(restapi.MaxBodyBytes + 1))} // no Len: sent chunked
	k.expect(k.call("POST", "/", db.token, chunked), 413, tooLarge)
	k.expect(k.call("POST", "/set/k", db.token, struct{ io.Reader }{strings.NewReader(strings.Repeat("x", restapi.MaxBodyBytes+1))}), 413, tooLarge)
	if db.redis.Exists("k") {
		t.Fatal("a body over the limit ran")
	}
	k.expect(k.post("/", db.token, body(restapi.MaxBodyBytes)), 200, `{"result":"OK"}`)
	k.expect(k.call("POST", "/", db.token, struct{ io.Reader }{strings.NewReader(body(restapi.MaxBodyBytes))}), 200, `{"result":"OK"}`)
}

// TestRequestsInFlightPerDatabase: past MaxDatabaseRequests at once, a
// database's requests are answered 429 with Retry-After at once, other
// databases are served, and the slots come back with the answers.
func TestRequestsInFlightPerDatabase(t *testing.T) {
	k := newKit(t, restapi.Config{Limits: restapi.Limits{MaxDatabaseRequests: 2}})
	a, b := k.addDB("a"), k.addDB("b")
	h1, h2 := k.hold(a.token, 100, true), k.hold(a.token, 100, true)
	k.waitInFlight(a.id, restapi.Load{Bytes: -1, Requests: -1}, restapi.Load{Bytes: 200, Requests: 2})
	busy := k.post("/", a.token, `["PING"]`)
	k.expect(busy, 429, `{"error":"ERR too many requests in flight: this database serves at most 2 at once, retry later"}`)
	if busy.header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After %q, want 1", busy.header.Get("Retry-After"))
	}
	k.expect(k.post("/", b.token, `["PING"]`), 200, `{"result":"PONG"}`)
	k.expect(h1.release(t), 200, `{"result":"OK"}`)
	k.expect(k.post("/", a.token, `["PING"]`), 200, `{"result":"PONG"}`)
	k.expect(h2.release(t), 200, `{"result":"OK"}`)
	k.waitInFlight(a.id, restapi.Load{}, restapi.Load{})
}

// TestBytesInFlight: bodies (by Content-Length, or the body limit while
// unknown) and answers count against the bytes in flight of their database
// and overall; what does not fit is answered 429 at once, and the room
// comes back with the answers.
func TestBytesInFlight(t *testing.T) {
	const kb = 1 << 10
	k := newKit(t, restapi.Config{Limits: restapi.Limits{
		MaxBodyBytes: 400 * kb, MaxResponseBytes: 600 * kb, MaxDatabaseInFlightBytes: 1000 * kb, MaxInFlightBytes: 1500 * kb,
	}})
	a, b, c := k.addDB("a"), k.addDB("b"), k.addDB("c")
	const noRoom = "ERR too many requests in flight: no room for a body of %d bytes now (at most 1024000 bytes for this database, 1536000 overall), retry later"

	// One database: 2 x 400 KB held, 300 KB more does not fit in its 1000 KB.
	h1, h2 := k.hold(a.token, 400*kb, true), k.hold(a.token, 400*kb, true)
	k.waitInFlight(a.id, restapi.Load{Bytes: 800 * kb, Requests: 2}, restapi.Load{Bytes: 800 * kb, Requests: 2})
	busy := k.post("/", a.token, `["SET","k","`+strings.Repeat("x", 300*kb-14)+`"]`)
	k.expect(busy, 429, errorJSON(fmt.Sprintf(noRoom, 300*kb)))
	if busy.header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After %q, want 1", busy.header.Get("Retry-After"))
	}
	// An answer counts too: a 300 KB value does not fit beside the held bodies.
	b.redis.Set("big", strings.Repeat("v", 300*kb))
	a.redis.Set("big", strings.Repeat("v", 300*kb))
	k.expect(k.post("/", a.token, `["GET","big"]`), 429, `{"error":"ERR too many requests in flight: no room for this answer now, retry later"}`)
	// Overall: 800 KB held on a; b's 400 KB body fits its own room, and the
	// 1500 KB overall; a chunked body counts as the 400 KB limit until read.
	h3 := k.hold(b.token, 300*kb, false)
	k.waitInFlight(b.id, restapi.Load{Bytes: 1200 * kb, Requests: 3}, restapi.Load{Bytes: 400 * kb, Requests: 1})
	k.expect(k.post("/", c.token, `["SET","k","`+strings.Repeat("x", 350*kb-14)+`"]`), 429, errorJSON(fmt.Sprintf(noRoom, 350*kb)))
	if got := k.post("/", c.token, `["GET","k"]`); got.status != 200 {
		t.Errorf("a small request beside the held ones: %d %s", got.status, got.body)
	}

	for _, h := range []*held{h1, h2, h3} {
		k.expect(h.release(t), 200, `{"result":"OK"}`)
	}
	k.waitInFlight(a.id, restapi.Load{}, restapi.Load{})
	if got := k.post("/", b.token, `["GET","big"]`); got.status != 200 || len(got.body) < 300*kb {
		t.Errorf("GET big after the release: %d %.100s", got.status, got.body)
	}
	k.expect(k.post("/", c.token, `["SET","k","`+strings.Repeat("x", 350*kb-14)+`"]`), 200, `{"result":"OK"}`)
}

// TestResponseLimit: an answer over MaxResponseBytes is an error answer, not
// the data, for one command, a pipeline (saying how far it ran) and a
// transaction; the connection it was read on is not reused half read.
func TestResponseLimit(t *testing.T) {
	k := newKit(t, restapi.Config{Limits: restapi.Limits{MaxResponseBytes: 4096}})
	db := k.addDB("big")
	for i := range 10_000 {
		db.redis.RPush("list", fmt.Sprintf("element-%d", i))
	}
	for i := range 1000 {
		db.redis.Set(fmt.Sprintf("key-%d", i), "v")
	}
	db.redis.Set("string", strings.Repeat("s", 100_000))
	db.redis.Set("small", "v")
	const over = "ERR response too large: the answer passed the limit of 4096 bytes"
	for _, cmd := range []string{`["LRANGE","list",0,-1]`, `["KEYS","*"]`, `["GET","string"]`, `["LRANGE","list",0,400]`} {
		k.expect(k.post("/", db.token, cmd), 400, errorJSON(over))
		k.expect(k.post("/", db.token, `["GET","small"]`), 200, `{"result":"v"}`)
	}
	k.expect(k.post("/", db.token, `["LRANGE","list",0,2]`), 200, `{"result":["element-0","element-1","element-2"]}`)
	k.expect(k.post("/pipeline", db.token, `[["SET","a","1"],["LRANGE","list",0,-1],["SET","b","1"]]`), 400,
		errorJSON(over+" (at command 2 of 3); the first 3 commands were sent to the database, the rest were not"))
	k.expect(k.post("/multi-exec", db.token, `[["SET","c","1"],["LRANGE","list",0,-1]]`), 400,
		errorJSON(over+"; the transaction ran"))
	k.expect(k.post("/", db.token, `["MGET","a","b","c","small"]`), 200, `{"result":["1","1","1","v"]}`)
	// Simple strings count too; and an answer that passes the limit on
	// refusals leaves the PING after them unread: its connection is not
	// reused.
	k.expect(k.post("/pipeline", db.token, "["+strings.TrimSuffix(strings.Repeat(`["PING"],`, 1000), ",")+"]"), 400,
		errorJSON(over+" (at command 228 of 1000); the first 1000 commands were sent to the database, the rest were not"))
	refusals := strings.Repeat(`["CONFIG","GET","x"],`, 100)
	k.expect(k.post("/pipeline", db.token, `[["GET","small"],`+refusals+`["PING"]]`), 400,
		errorJSON(over+" (at command 53 of 102); the first 102 commands were sent to the database, the rest were not"))
	k.expect(k.post("/", db.token, `["GET","small"]`), 200, `{"result":"v"}`)
	// Base64 makes answers larger; the limit is on what is sent.
	k.expect(k.post("/", db.token, `["GET","string"]`, "Upstash-Encoding", "base64"), 400, errorJSON(over))
}

// TestNestedReply: a script's reply nested deeper than the reader follows is
// an error answer, not a stack overflow.
func TestNestedReply(t *testing.T) {
	k := newKit(t, restapi.Config{})
	db := k.addDB("nested")
	const script = `local t = {} for i = 1, tonumber(ARGV[1]) do t = {t} end return t`
	k.expect(k.post("/", db.token, `["EVAL",`+jsonString(script)+`,"0","2"]`), 200, `{"result":[[[]]]}`)
	k.expect(k.post("/", db.token, `["EVAL",`+jsonString(script)+`,"0","600"]`), 400,
		errorJSON("ERR response too large: a reply nested deeper than 512 levels"))
	k.expect(k.post("/", db.token, `["PING"]`), 200, `{"result":"PONG"}`)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestPlaneFailureMidPipeline: when the database's connection fails in the
// middle of a pipeline, the answer is still a JSON array of one item per
// command, the rest are answered unreachable without being sent, and the
// log has one line for the request: at error level, with the count.
func TestPlaneFailureMidPipeline(t *testing.T) {
	k := newKit(t, restapi.Config{})
	// The proxy passes AUTH's +OK and 1,500 +PONG, then cuts the connection.
	const passed = 1500
	db := k.addDB("cut", func(port int) int { return startCutProxy(t, port, len("+OK\r\n")+passed*len("+PONG\r\n")).port })
	const n = 5000
	body := "[" + strings.TrimSuffix(strings.Repeat(`["PING"],`, n), ",") + "]"
	a := k.post("/pipeline", db.token, body)
	if a.status != 200 {
		t.Fatalf("pipeline: %d %.200s", a.status, a.body)
	}
	var items []struct {
		Result string `json:"result"`
		Error  string `json:"error"`
	}
	if err := json.Unmarshal([]byte(a.body), &items); err != nil {
		t.Fatalf("the answer is not a JSON array: %v", err)
	}
	if len(items) != n {
		t.Fatalf("%d items for %d commands", len(items), n)
	}
	pong, failed := 0, 0
	for i, it := range items {
		switch {
		case it.Result == "PONG" && failed == 0:
			pong++
		case it.Error == "ERR database is unreachable":
			failed++
		default:
			t.Fatalf("item %d: %+v after %d PONG and %d failed", i, it, pong, failed)
		}
	}
	if pong != passed || failed != n-passed {
		t.Errorf("%d PONG, %d failed; want %d and %d", pong, failed, passed, n-passed)
	}
	lines := strings.Split(strings.TrimSpace(k.waitLogLines(1)), "\n")
	if len(lines) != 1 {
		t.Fatalf("%d log lines for one request, want 1:\n%s", len(lines), k.logs.String())
	}
	if !strings.Contains(lines[0], "level=ERROR") || !strings.Contains(lines[0], fmt.Sprintf("failed=%d", n-passed)) ||
		!strings.Contains(lines[0], "commands=5000") {
		t.Errorf("log line: %s", lines[0])
	}
	if strings.Contains(k.logs.String(), db.password) {
		t.Error("the password reached the log")
	}
	// A single command on the cut connection: one line too.
	before := strings.Count(k.logs.String(), "\n")
	if got := k.post("/", db.token, `["LRANGE","nothing",0,-1]`); got.status != 200 {
		t.Errorf("a command on a fresh connection: %d %s", got.status, got.body)
	}
	if after := strings.Count(k.waitLogLines(before+1), "\n"); after != before+1 {
		t.Errorf("%d log lines for one command", after-before)
	}
}

// TestBase64AndShapes: reply shapes over the RESP reader: nested arrays,
// nulls, integers, errors inside a transaction's answer, and base64 of every
// string but OK, status replies included.
func TestBase64AndShapes(t *testing.T) {
	k := newKit(t, restapi.Config{})
	db := k.addDB("shapes")
	db.redis.Set("bin", "\x00\xff<&>\u2028é")
	k.expect(k.post("/", db.token, `["GET","bin"]`), 200, `{"result":"\u0000\ufffd\u003c\u0026\u003e\u2028é"}`)
	k.expect(k.post("/", db.token, `["GET","bin"]`, "Upstash-Encoding", "base64"), 200, `{"result":"AP88Jj7igKjDqQ=="}`)
	k.expect(k.post("/", db.token, `["PING"]`, "Upstash-Encoding", "base64"), 200, `{"result":"UE9ORw=="}`)
	k.expect(k.post("/", db.token, `["SET","ok","OK"]`, "Upstash-Encoding", "base64"), 200, `{"result":"OK"}`)
	k.expect(k.post("/", db.token, `["GET","ok"]`, "Upstash-Encoding", "base64"), 200, `{"result":"OK"}`)
	k.expect(k.post("/", db.token, `["EVAL","return {1,'a',{2,false}}","0"]`), 200, `{"result":[1,"a",[2,null]]}`)
	k.expect(k.post("/", db.token, `["INCRBY","n",-7]`), 200, `{"result":-7}`)
	k.expect(k.post("/multi-exec", db.token, `[["SET","s","x"],["INCR","s"],["GET","s"]]`, "Upstash-Encoding", "base64"), 200,
		`[{"result":"OK"},{"error":"ERR value is not an integer or out of range"},{"result":"eA=="}]`)
	if a := k.post("/", db.token, `["NOSUCH"]`); a.status != 400 || !strings.HasPrefix(a.body, `{"error":"ERR unknown command`) {
		t.Errorf("unknown command: %d %s", a.status, a.body)
	}
	k.expect(k.post("/", db.token, `["SET","n",1.5e3,true,null]`), 400, `{"error":"ERR syntax error"}`)
	k.expect(k.post("/", db.token, `["SET","k",{"a":1}]`), 400, `{"error":"ERR failed to parse command: argument 3 of command 1 is not a string, a number or a boolean"}`)
	k.expect(k.post("/pipeline", db.token, `[["SET","k","v"]] x`), 400, `{"error":"ERR failed to parse commands: the body must be a JSON array of command arrays"}`)
	k.expect(k.post("/pipeline", db.token, `[]`), 400, `{"error":"ERR failed to parse commands: the body must be a JSON array of command arrays"}`)
	k.expect(k.post("/pipeline", db.token, `[[]]`), 400, `{"error":"ERR failed to parse command: the body must be a JSON array like [\"SET\",\"key\",\"value\"]"}`)
	if a := k.post("/pipeline", db.token, `[["SET","k","v"]`); a.status != http.StatusBadRequest {
		t.Errorf("truncated pipeline: %d %s", a.status, a.body)
	}
}

// TestClosedIdleConnection: a pooled connection that the database closed
// while it was idle (a restart, a timeout) is not handed to the next
// request.
func TestClosedIdleConnection(t *testing.T) {
	k := newKit(t, restapi.Config{})
	// The proxy closes every connection after AUTH's and SET's +OK.
	var proxy *cutProxy
	db := k.addDB("closed", func(port int) int { proxy = startCutProxy(t, port, 2*len("+OK\r\n")); return proxy.port })
	k.expect(k.post("/", db.token, `["SET","k","v"]`), 200, `{"result":"OK"}`)
	deadline := time.Now().Add(10 * time.Second)
	for proxy.cuts.Load() < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the proxy did not close the connection")
		}
		time.Sleep(time.Millisecond)
	}
	k.expect(k.post("/", db.token, `["SET","k","w"]`), 200, `{"result":"OK"}`)
	if v, _ := db.redis.Get("k"); v != "w" {
		t.Errorf("k = %q after the second SET", v)
	}
}

// TestAnswerFailureDropsConnection: a pipeline whose answer passes the limit
// stops with replies still to come on its connection; that connection is
// closed, not handed to the next request, which would read those replies as
// its own.
func TestAnswerFailureDropsConnection(t *testing.T) {
	k := newKit(t, restapi.Config{Limits: restapi.Limits{MaxResponseBytes: 4096}, PlaneTimeout: time.Second})
	// The proxy passes AUTH's +OK and GET's answer, and holds back the rest
	// (the PING's +PONG) until the test ends.
	stall := make(chan struct{})
	db := k.addDB("drop", func(port int) int {
		p := startCutProxy(t, port, len("+OK\r\n")+len("$1\r\nv\r\n"), stall)
		t.Cleanup(func() { close(stall) })
		return p.port
	})
	db.redis.Set("small", "v")
	refusals := strings.Repeat(`["CONFIG","GET","x"],`, 100)
	k.expect(k.post("/pipeline", db.token, `[["GET","small"],`+refusals+`["PING"]]`), 400,
		errorJSON("ERR response too large: the answer passed the limit of 4096 bytes (at command 53 of 102); the first 102 commands were sent to the database, the rest were not"))
	k.expect(k.post("/", db.token, `["GET","small"]`), 200, `{"result":"v"}`)
}

// TestChunkedBodyHoldsItsSize: a body sent without Content-Length holds the
// body limit in flight while it is read, and its own size after.
func TestChunkedBodyHoldsItsSize(t *testing.T) {
	const kb = 1 << 10
	k := newKit(t, restapi.Config{})
	// The proxy passes AUTH's +OK and holds back SET's until told.
	stall := make(chan struct{})
	release := sync.OnceFunc(func() { close(stall) })
	db := k.addDB("chunked", func(port int) int {
		p := startCutProxy(t, port, len("+OK\r\n"), stall)
		t.Cleanup(release)
		return p.port
	})
	h := k.hold(db.token, 300*kb, false)
	k.waitInFlight(db.id, restapi.Load{Bytes: -1, Requests: -1}, restapi.Load{Bytes: restapi.MaxBodyBytes, Requests: 1})
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		_, _ = io.WriteString(h.w, h.rest)
		_ = h.w.Close()
	}()
	k.waitInFlight(db.id, restapi.Load{Bytes: -1, Requests: -1}, restapi.Load{Bytes: 300 * kb, Requests: 1})
	release()
	k.expect(<-h.done, 200, `{"result":"OK"}`)
}
