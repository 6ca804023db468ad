package embeddedplane_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/planetest"
	"github.com/devapi-dev/devapi/redisserverplane"
)

// RedisJSON's answers as Redis 8 ships it (redis_json/src/commands.rs),
// RESP2 shapes; redis-server 7.0 has no JSON module, so these run on the
// embedded plane only.
var jsonCases = []cmdCase{
	{name: "set get with $ and legacy paths", steps: []step{
		{`JSON.SET doc $ {"a":2,"b":3,"nested":{"a":4,"b":null}}`, "OK"},
		{`JSON.GET doc`, `{"a":2,"b":3,"nested":{"a":4,"b":null}}`},
		{`JSON.GET doc $..a`, `[2,4]`},
		{`JSON.GET doc $..b`, `[3,null]`},
		{`JSON.GET doc .nested.a`, `4`},
		{`JSON.GET doc nested`, `{"a":4,"b":null}`},
		{`JSON.GET doc $.nope`, `[]`},
		{`JSON.GET doc .nope`, `ERR: ERR Path does not exist`},
		{`JSON.GET doc $.a $.nested.a`, `{"$.a":[2],"$.nested.a":[4]}`},
		{`JSON.GET doc .a .b`, `{".a":2,".b":3}`},
		{`JSON.GET nokey $`, `nil`},
		{`JSON.GET doc INDENT _ NEWLINE | SPACE + $.nested`, `[|_{|__"a":+4,|__"b":+null|_}|]`},
	}},
	{name: "member names redisjson takes beyond rfc 9535 shorthand", steps: []step{
		{`JSON.SET k $ {"a-b":{"1st":2},"x:y":3,"n":{"a-b":4}}`, "OK"},
		{`JSON.GET k .a-b.1st`, "2"},
		{`JSON.GET k a-b`, `{"1st":2}`},
		{`JSON.GET k $..a-b`, `[{"1st":2},4]`},
		{`JSON.GET k $.x:y`, "[3]"},
		{`JSON.GET k $['a-b']['1st']`, "[2]"},
		{`JSON.SET k $.n.c-d 5`, "OK"},
		{`JSON.GET k $.n`, `[{"a-b":4,"c-d":5}]`},
	}},
	{name: "filters", steps: []step{
		{`JSON.SET k $ [{"a":1,"t":"x"},{"a":2,"t":"yy"},{"a":3,"t":"zzz"}]`, "OK"},
		{`JSON.GET k $[?@.a>1].a`, "[2,3]"},
		{`JSON.GET k $[?@.a==1&&@.t=='x'].a`, "[1]"},
		{`JSON.GET k $[?length(@.t)>2].a`, "[3]"},
		{`JSON.SET k $[?@.a<3].a 0`, "OK"},
		{`JSON.GET k $[*].a`, "[0,0,3]"},
		{`JSON.GET k $[?@.t=~"y"]`, "ERR: Error occurred at position 7, invalid comparison operator at position 7"},
	}},
	{name: "set keeps key order, nx xx, root only", steps: []step{
		{`JSON.SET k $ {"z":1,"a":{"y":2,"b":3}}`, "OK"},
		{`JSON.SET k $.m [1,2.5,"x",true,null]`, "OK"},
		{`JSON.GET k`, `{"z":1,"a":{"y":2,"b":3},"m":[1,2.5,"x",true,null]}`},
		{`JSON.SET k $.z 10 NX`, "nil"},
		{`JSON.SET k $.q 10 XX`, "nil"},
		{`JSON.SET k $.z 10 XX`, "OK"},
		{`JSON.SET k $.a.* 0`, "OK"},
		{`JSON.GET k $.a`, `[{"y":0,"b":0}]`},
		{`JSON.SET new $.a 1`, "ERR: ERR new objects must be created at the root"},
		{`JSON.SET k $.x.y 1`, "nil"},
		{`JSON.SET k $ 1 NX`, "nil"},
		{`JSON.SET k $ 1 YY`, "ERR: ERR syntax error"},
		{`JSON.SET k $ {bad`, "ERR: key must be a string at line 1 column 2"},
		{`JSON.SET k $ [1,]`, "ERR: expected value at line 1 column 4"},
		{`JSON.SET k $ [1;2]`, "ERR: expected `,` or `]` at line 1 column 3"},
		{`JSON.SET k $ "abc`, "ERR: EOF while parsing a string at line 1 column 4"},
		{`JSON.SET k $ tru`, "ERR: EOF while parsing a value at line 1 column 3"},
		{`JSON.SET k $ 01`, "ERR: invalid number at line 1 column 2"},
		{`JSON.SET k $ 1 2`, "ERR: ERR syntax error"},
		{`JSON.SET k $[ 1`, "ERR: Error occurred at position 3, unexpected eof at position 3"},
		{`JSON.SET k $`, "ERR: ERR wrong number of arguments for 'json.set' command"},
		{`JSON.SET f $ 1.0`, "OK"},
		{`JSON.GET f`, `1.0`},
		{`JSON.SET f $ 1e20`, "OK"},
		{`JSON.GET f`, `1e20`},
		{`JSON.SET f $ "a\"\u00e9\n"`, "OK"},
		{`JSON.GET f`, `"a\"é\n"`},
	}},
	{name: "type and wrongtype", steps: []step{
		{`JSON.SET k $ {"a":1,"b":1.5,"c":"s","d":[],"e":{},"f":null,"g":true}`, "OK"},
		{`TYPE k`, "ReJSON-RL"},
		{`JSON.TYPE k`, "object"},
		{`JSON.TYPE k $.*`, "[integer number string array object null boolean]"},
		{`JSON.TYPE k .b`, "number"},
		{`JSON.TYPE k .nope`, "nil"},
		{`JSON.TYPE nokey`, "nil"},
		{`GET k`, "ERR: WRONGTYPE Operation against a key holding the wrong kind of value"},
		{`STRLEN k`, "ERR: WRONGTYPE Operation against a key holding the wrong kind of value"},
		{`APPEND k x`, "ERR: WRONGTYPE Operation against a key holding the wrong kind of value"},
		{`SET s v`, "OK"},
		{`JSON.GET s`, "ERR: WRONGTYPE Operation against a key holding the wrong kind of value"},
		{`JSON.SET s $ 1`, "ERR: WRONGTYPE Operation against a key holding the wrong kind of value"},
		{`RPUSH l a b`, "2"},
		{`JSON.GET l`, "ERR: WRONGTYPE Operation against a key holding the wrong kind of value"},
		{`TYPE l`, "list"},
		{`TYPE s`, "string"},
		{`TYPE nokey`, "none"},
	}},
	{name: "generic key commands on a json key", steps: []step{
		{`JSON.SET k $ {"a":[1,2]}`, "OK"},
		{`EXPIRE k 100`, "1"},
		{`JSON.SET k $.a[0] 5`, "OK"},
		{`TTL k`, "100"},
		{`EXISTS k`, "1"},
		{`RENAME k r`, "OK"},
		{`JSON.GET r $.a`, "[[5,2]]"},
		{`KEYS *`, "[r]"},
		{`COPY r c`, "1"},
		{`TYPE c`, "ReJSON-RL"},
		{`SCAN 0 TYPE ReJSON-RL`, "[0 [c r]]"},
		{`SCAN 0 MATCH r`, "[0 [r]]"},
		{`PERSIST r`, "1"},
		{`TTL r`, "-1"},
		{`MOVE c 1`, "1"},
		{`SELECT 1`, "OK"},
		{`JSON.GET c $.a`, "[[5,2]]"},
		{`FLUSHDB`, "OK"},
		{`EXISTS c`, "0"},
		{`SELECT 0`, "OK"},
		{`DEL r`, "1"},
		{`EXISTS r`, "0"},
	}},
	{name: "del forget clear", steps: []step{
		{`JSON.SET k $ {"a":1,"nested":{"a":2,"b":3},"arr":[1,2,3]}`, "OK"},
		{`JSON.DEL k $..a`, "2"},
		{`JSON.GET k`, `{"arr":[1,2,3],"nested":{"b":3}}`}, // RedisJSON's objects move their last key into a deleted one's place
		{`JSON.FORGET k $.arr[1]`, "1"},
		{`JSON.GET k $.arr`, `[[1,3]]`},
		{`JSON.DEL k .nope`, "0"},
		{`JSON.CLEAR k $.*`, "2"},
		{`JSON.GET k`, `{"arr":[],"nested":{}}`},
		{`JSON.DEL k $.nested`, "1"},
		{`JSON.DEL k $.arr`, "1"},
		{`EXISTS k`, "0"},
		{`JSON.SET k $ [1]`, "OK"},
		{`JSON.DEL k`, "1"},
		{`EXISTS k`, "0"},
		{`JSON.DEL nokey`, "0"},
		{`JSON.CLEAR nokey`, "ERR: ERR could not perform this operation on a key that doesn't exist"},
	}},
	{name: "numbers", steps: []step{
		{`JSON.SET k $ {"a":1,"b":{"a":2.5},"c":"x"}`, "OK"},
		{`JSON.NUMINCRBY k $..a 2`, "[3,4.5]"},
		{`JSON.NUMINCRBY k $.c 2`, "[null]"},
		{`JSON.NUMMULTBY k $.a 2`, "[6]"},
		{`JSON.NUMMULTBY k .a 1.5`, "9.0"},
		{`JSON.NUMINCRBY k .c 1`, "ERR: ERR Path does not exist or does not contains a number"},
		{`JSON.NUMINCRBY k $.a x`, "ERR: expected value at line 1 column 1"},
		{`JSON.NUMINCRBY k $.a "x"`, "ERR: bad input number"},
		{`JSON.SET k $.i 9223372036854775807`, "OK"},
		{`JSON.NUMINCRBY k $.i 1`, "ERR: ERR numeric overflow"},
		{`JSON.NUMINCRBY nokey $ 1`, "ERR: ERR could not perform this operation on a key that doesn't exist"},
	}},
	{name: "strings and toggle", steps: []step{
		{`JSON.SET k $ {"s":"ab","t":true,"n":{"s":"x"}}`, "OK"},
		{`JSON.STRAPPEND k $..s "cd"`, "[4 3]"},
		{`JSON.STRLEN k $..s`, "[4 3]"},
		{`JSON.STRLEN k .s`, "4"},
		{`JSON.STRAPPEND k .s "!"`, "5"},
		{`JSON.STRAPPEND k $.s 1`, "ERR: WRONGTYPE wrong type of path value - expected string"},
		{`JSON.STRLEN k .t`, "ERR: WRONGTYPE wrong type of path value - expected string"},
		{`JSON.TOGGLE k $.t`, "[0]"},
		{`JSON.TOGGLE k .t`, "true"},
		{`JSON.TOGGLE k $.s`, "[<nil>]"},
		{`JSON.TOGGLE k .s`, "ERR: ERR Path does not exist or not a bool"},
	}},
	{name: "arrays", steps: []step{
		{`JSON.SET k $ {"a":[1,2,3],"b":{"a":["x"]},"c":1}`, "OK"},
		{`JSON.ARRAPPEND k $..a 4 5`, "[5 3]"},
		{`JSON.ARRAPPEND k .c 1`, "ERR: ERR Path does not exist or not an array"},
		{`JSON.ARRAPPEND k $.c 1`, "[<nil>]"},
		{`JSON.ARRLEN k $..a`, "[5 3]"},
		{`JSON.ARRLEN k .a`, "5"},
		{`JSON.ARRINDEX k $.a 3`, "[2]"},
		{`JSON.ARRINDEX k $.a 9`, "[-1]"},
		{`JSON.ARRINDEX k $.a 3 3`, "[-1]"},
		{`JSON.ARRINDEX k .a 3.0`, "-1"}, // RedisJSON: an integer is not a float
		{`JSON.ARRINDEX k $.c 1`, "[<nil>]"},
		{`JSON.ARRINSERT k $.a 1 "i"`, "[6]"},
		{`JSON.ARRINSERT k $.a -1 "j"`, "[7]"},
		{`JSON.GET k $.a`, `[[1,"i",2,3,4,"j",5]]`},
		{`JSON.ARRINSERT k $.a 99 0`, "ERR: ERR index out of bounds"},
		{`JSON.ARRPOP k $.a`, `[5]`},
		{`JSON.ARRPOP k $.a 1`, `["i"]`},
		{`JSON.ARRPOP k .b.a 0`, `"x"`},
		{`JSON.ARRPOP k $.b.a`, `[5]`},
		{`JSON.ARRPOP k $.b.a`, `[4]`},
		{`JSON.ARRPOP k $.b.a`, `[<nil>]`},
		{`JSON.ARRTRIM k $.a 1 2`, "[2]"},
		{`JSON.GET k $.a`, `[[2,3]]`},
		{`JSON.ARRTRIM k .a 5 9`, "0"},
		{`JSON.ARRPOP nokey`, "ERR: ERR could not perform this operation on a key that doesn't exist"},
	}},
	{name: "objects, merge, resp", steps: []step{
		{`JSON.SET k $ {"a":{"x":1,"y":2},"b":3}`, "OK"},
		{`JSON.OBJKEYS k $..*`, "[[x y] <nil> <nil> <nil>]"},
		{`JSON.OBJKEYS k .a`, "[x y]"},
		{`JSON.OBJLEN k $.a`, "[2]"},
		{`JSON.OBJLEN k .`, "2"},
		{`JSON.OBJLEN k .b`, "ERR: WRONGTYPE wrong type of path value - expected object"},
		{`JSON.MERGE k $ {"a":{"x":null,"z":5},"c":[1]}`, "OK"},
		{`JSON.GET k`, `{"a":{"y":2,"z":5},"b":3,"c":[1]}`},
		{`JSON.MERGE k $.a.w 7`, "OK"},
		{`JSON.MERGE k $.b null`, "OK"},
		{`JSON.GET k`, `{"a":{"y":2,"z":5,"w":7},"c":[1]}`},
		{`JSON.MERGE new $.a 1`, "ERR: ERR new objects must be created at the root"},
		{`JSON.RESP k $.a`, "[[{ y 2 z 5 w 7]]"},
		{`JSON.RESP k .c`, "[[ 1]"},
	}},
	{name: "mget mset", steps: []step{
		{`JSON.MSET a $ {"v":1} b $ {"v":2}`, "OK"},
		{`JSON.MGET a b nokey $.v`, "[[1] [2] <nil>]"},
		{`JSON.MGET a b .v`, "[1 2]"},
		{`JSON.MSET a $.v 3 c $.v 1`, "ERR: ERR new objects must be created at the root"},
		{`JSON.GET a`, `{"v":1}`},
		{`JSON.MSET a $.v 3 b`, "ERR: ERR wrong number of arguments for 'json.mset' command"},
	}},
}

// TestJSONCommands runs jsonCases on a RESP2 connection, as RedisJSON's
// own tests and the REST API talk.
func TestJSONCommands(t *testing.T) {
	_, _, connect := scriptDB(t, devapi.PlaneConfig{})
	c := resp2(t, connect)
	for _, tc := range jsonCases {
		t.Run(tc.name, func(t *testing.T) {
			if err := c.FlushAll(t.Context()).Err(); err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.steps {
				if got := answer(t, c, splitCmd(s.cmd)...); got != s.want {
					t.Errorf("%s\n got %s\nwant %s", s.cmd, got, s.want)
				}
			}
		})
	}
}

// resp2 returns a client like connect's that speaks RESP2.
func resp2(tb testing.TB, connect func() *redis.Client) *redis.Client {
	tb.Helper()
	opt := *connect().Options()
	opt.Protocol = 2
	c := redis.NewClient(&opt)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// TestJSONOnRESP3: where RedisJSON answers RESP3 clients otherwise: JSON.TYPE
// wraps its answer in an array, NUMINCRBY and NUMMULTBY answer numbers for
// every path, JSON.RESP's floats are doubles; the rest answers as on RESP2.
func TestJSONOnRESP3(t *testing.T) {
	_, _, connect := scriptDB(t, devapi.PlaneConfig{})
	c := connect() // go-redis speaks RESP3 unless told otherwise
	for _, s := range []step{
		{`JSON.SET k $ {"a":1,"b":{"a":2.5},"c":"x"}`, "OK"},
		{`JSON.TYPE k`, "[object]"},
		{`JSON.TYPE k $..a`, "[[integer number]]"},
		{`JSON.TYPE k .nope`, "[<nil>]"},
		{`JSON.TYPE nokey`, "[<nil>]"},
		{`JSON.NUMINCRBY k $..a 1`, "[2 3.5]"},
		{`JSON.NUMINCRBY k .a 1`, "[3]"},
		{`JSON.NUMMULTBY k $.c 2`, "[<nil>]"},
		{`JSON.RESP k $.b`, "[[{ a 3.5]]"},
		{`JSON.GET k $.a`, "[3]"},
		{`JSON.GET nokey`, "nil"},
		{`JSON.ARRPOP k $.c`, "[<nil>]"},
	} {
		if got := answer(t, c, splitCmd(s.cmd)...); got != s.want {
			t.Errorf("%s\n got %s\nwant %s", s.cmd, got, s.want)
		}
	}
}

// TestJSONInMulti: JSON commands queue inside MULTI and answer in EXEC's
// array, on the state the commands before them left; a wrong number of
// arguments aborts EXEC, as Redis does for a module command with an arity.
func TestJSONInMulti(t *testing.T) {
	_, _, connect := scriptDB(t, devapi.PlaneConfig{})
	c := connect()
	ctx := t.Context()
	cmds, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Do(ctx, "JSON.SET", "k", "$", `{"n":1,"a":[]}`)
		p.Do(ctx, "JSON.NUMINCRBY", "k", "$.n", "2")
		p.Do(ctx, "JSON.ARRAPPEND", "k", "$.a", `"x"`)
		p.Do(ctx, "JSON.GET", "k")
		p.Do(ctx, "TYPE", "k")
		p.Expire(ctx, "k", time.Minute)
		p.Do(ctx, "TTL", "k")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"OK", "[3]", "[1]", `{"n":3,"a":["x"]}`, "ReJSON-RL", "true", "60"} {
		if s := fmt.Sprint(cmds[i]); !strings.HasSuffix(s, ": "+want) {
			t.Errorf("in MULTI, %s: want %s", s, want)
		}
	}
	_, err = c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Do(ctx, "JSON.SET", "k", "$", "1")
		p.Do(ctx, "JSON.SET", "k", "$")
		return nil
	})
	if err == nil || !strings.HasPrefix(err.Error(), "EXECABORT") {
		t.Errorf("MULTI with JSON.SET k $: %v, want EXECABORT", err)
	}
	if got := answer(t, c, "JSON.GET", "k", "$.n"); got != "[3]" {
		t.Errorf("after the aborted MULTI: %s", got)
	}
	// A JSON write touches the key for WATCH, as any write.
	other := connect()
	err = c.Watch(ctx, func(tx *redis.Tx) error {
		if err := other.Do(ctx, "JSON.NUMINCRBY", "k", "$.n", "1").Err(); err != nil {
			return err
		}
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Do(ctx, "JSON.SET", "k", "$.n", "0")
			return nil
		})
		return err
	}, "k")
	if !errors.Is(err, redis.TxFailedErr) {
		t.Errorf("EXEC after another client's JSON write to a watched key: %v, want %v", err, redis.TxFailedErr)
	}
	if got := answer(t, c, "JSON.GET", "k", "$.n"); got != "[4]" {
		t.Errorf("after the failed EXEC: %s", got)
	}
}

// TestJSONScriptCall: a script reaches JSON commands through redis.call;
// a read-only script may read them only.
func TestJSONScriptCall(t *testing.T) {
	_, _, connect := scriptDB(t, devapi.PlaneConfig{})
	c := connect()
	got := eval(t, c, `redis.call('JSON.SET', KEYS[1], '$', '{"a":1}'); return redis.call('JSON.GET', KEYS[1], '$.a')`, []string{"k"})
	if got != "[1]" {
		t.Errorf("script: %s", got)
	}
	// A read-only script reads JSON and may not write it.
	if got := answer(t, c, "EVAL_RO", `return redis.call('JSON.GET', KEYS[1], '$.a')`, "1", "k"); got != "[1]" {
		t.Errorf("EVAL_RO reading JSON: %s", got)
	}
	if got := answer(t, c, "EVAL_RO", `return redis.call('JSON.NUMINCRBY', KEYS[1], '$.a', 1)`, "1", "k"); !strings.Contains(got, "Write commands are not allowed from read-only scripts") {
		t.Errorf("EVAL_RO writing JSON: %s", got)
	}
}

// TestJSONSnapshotRoundTrip: a JSON key survives Snapshot and Restore on
// the embedded plane, with its TTL; a plain one-element list stays a list;
// a restore of a JSON key on redis-server 7.0, which has no RedisJSON,
// fails with its "unknown command" instead of writing something else.
func TestJSONSnapshotRoundTrip(t *testing.T) {
	p, d, connect := scriptDB(t, devapi.PlaneConfig{})
	c := connect()
	ctx := t.Context()
	doc := `{"b":1,"a":[1,2.5,"x\u00e9",{"z":null}]}`
	for _, cmd := range [][]any{
		{"JSON.SET", "doc", "$", doc},
		{"EXPIRE", "doc", "100"},
		{"RPUSH", "list", "one"},
		{"SELECT", "3"},
	} {
		if err := c.Do(ctx, cmd...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	s, err := devapi.CollectSnapshot(ctx, p, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Keys) != 2 {
		t.Fatalf("snapshot: %+v", s.Keys)
	}
	k := s.Keys[0]
	if k.Key != "doc" || k.Type != devapi.TypeJSON || k.JSON != `{"b":1,"a":[1,2.5,"xé",{"z":null}]}` || k.TTLMillis <= 0 || k.TTLMillis > 100_000 {
		t.Errorf("snapshot of the JSON key: %+v", k)
	}
	if l := s.Keys[1]; l.Type != devapi.TypeList || len(l.List) != 1 {
		t.Errorf("snapshot of the list: %+v", l)
	}
	if err := c.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := p.Restore(ctx, d.ID, s.All()); err != nil {
		t.Fatal(err)
	}
	c.Do(ctx, "SELECT", "0")
	for cmd, want := range map[string]string{
		"JSON.GET doc":    `{"b":1,"a":[1,2.5,"xé",{"z":null}]}`,
		"TYPE doc":        "ReJSON-RL",
		"TTL doc":         "100",
		"LRANGE list 0 9": "[one]",
	} {
		if got := answer(t, c, splitCmd(cmd)...); got != want {
			t.Errorf("after restore, %s: %s, want %s", cmd, got, want)
		}
	}
	bad := devapi.Snapshot{Keys: []devapi.SnapshotKey{{Key: "x", Type: devapi.TypeJSON, JSON: "{bad"}}}
	if err := p.Restore(ctx, d.ID, bad.All()); devapi.ErrorCode(err) != devapi.EINVALID {
		t.Errorf("restore of a JSON key that is not JSON: %v", err)
	}
	deep := devapi.Snapshot{Keys: []devapi.SnapshotKey{{Key: "x", Type: devapi.TypeJSON, JSON: strings.Repeat("[", 200) + strings.Repeat("]", 200)}}}
	if err := p.Restore(ctx, d.ID, deep.All()); err == nil || !strings.Contains(err.Error(), "recursion limit exceeded") {
		t.Errorf("restore of a JSON key nested too deep: %v", err)
	}

	t.Run("redis-server without RedisJSON", func(t *testing.T) {
		rp := realPlane(t)
		rd := devapi.PlaneDatabase{ID: "real", Port: planetest.FreePort(t), Password: "pw", Generation: 1}
		if err := rp.Serve(ctx, rd); err != nil {
			t.Fatal(err)
		}
		err := rp.Restore(ctx, rd.ID, s.All())
		if err == nil || !strings.Contains(err.Error(), "unknown command") {
			t.Errorf("restore of a JSON key on redis-server 7.0: %v", err)
		}
	})
}

// realPlane opens a redis-server plane; it skips when redis-server is not
// installed, and fails instead under CI=true.
func realPlane(t *testing.T) devapi.Plane {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not installed, and CI=true requires the redis-server half of the test")
		}
		t.Skip("redis-server not installed: skipping the redis-server half (apt-get install redis-server)")
	}
	p, err := redisserverplane.Open(t.Context(), redisserverplane.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// TestJSONHostileInput: what a client sends cannot make a JSON command
// unbounded. Paths that would visit more nodes than the budget are
// refused before they run (`$..` chains on a deep document, a union that
// names one big subtree many times, a filter that walks the whole document
// for every element), as are paths over 64 KiB or nested deeper than
// RedisJSON's 128, and documents nested deeper than 128 whichever command
// would make them.
func TestJSONHostileInput(t *testing.T) {
	_, _, connect := scriptDB(t, devapi.PlaneConfig{})
	c := connect()
	ctx := t.Context()
	// A chain 120 deep, and an array of 20000 small objects.
	chain := strings.Repeat(`{"a":`, 120) + "1" + strings.Repeat("}", 120)
	var wide strings.Builder
	wide.WriteString("[")
	for i := range 20000 {
		if i > 0 {
			wide.WriteString(",")
		}
		fmt.Fprintf(&wide, `{"x":%d,"y":[1,2,{"x":3}]}`, i)
	}
	wide.WriteString("]")
	for _, cmd := range [][]any{{"JSON.SET", "chain", "$", chain}, {"JSON.SET", "wide", "$", wide.String()}, {"JSON.SET", "wrapped", "$", `{"a":` + wide.String() + "}"}} {
		if err := c.Do(ctx, cmd...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	const tooCostly = "ERR: ERR JSONPath query is too costly on the embedded plane"
	union := "$[" + strings.Repeat("'a',", 3000) + "'a']..*"
	for _, tc := range []struct {
		args []any
		want string
	}{
		{[]any{"JSON.GET", "wide", "$..x"}, ""}, // fine: 60000 nodes
		{[]any{"JSON.GET", "chain", "$" + strings.Repeat("..*", 8)}, tooCostly},
		{[]any{"JSON.DEL", "chain", "$" + strings.Repeat("..*", 8)}, tooCostly},
		{[]any{"JSON.GET", "chain", "$..*..*..*..*..*"}, tooCostly},
		{[]any{"JSON.GET", "wrapped", union}, tooCostly},
		{[]any{"JSON.GET", "wide", "$[?$..x]"}, tooCostly},
		{[]any{"JSON.GET", "wide", "$" + strings.Repeat(".a", 40000)}, "ERR: Error occurred at position 0, JSONPath longer than 65536 bytes on the embedded plane"},
		{[]any{"JSON.GET", "wide", "$" + strings.Repeat("[", 200)}, "ERR: Error occurred at position 0, JSONPath nesting too deep (max depth 128)"},
		{[]any{"JSON.SET", "deep", "$", strings.Repeat("[", 128) + strings.Repeat("]", 128)}, "ERR: recursion limit exceeded at line 1 column 128"},
		{[]any{"JSON.SET", "deep", "$", strings.Repeat("[", 127) + strings.Repeat("]", 127)}, "OK"},
		{[]any{"JSON.ARRAPPEND", "deep", "$" + strings.Repeat("[0]", 126), "[]"}, "ERR: ERR recursion limit exceeded"},
		{[]any{"JSON.ARRINSERT", "deep", "$" + strings.Repeat("[0]", 126), "0", "[]"}, "ERR: ERR recursion limit exceeded"},
		{[]any{"JSON.SET", "deep", "$" + strings.Repeat("[0]", 126), "[[]]"}, "ERR: ERR recursion limit exceeded"},
		{[]any{"JSON.ARRAPPEND", "deep", "$" + strings.Repeat("[0]", 125), "1"}, "[2]"},
	} {
		got := answer(t, c, tc.args...)
		if len(got) > 200 {
			got = got[:200] + "..."
		}
		name := fmt.Sprint(tc.args[:2]...) + " " + fmt.Sprint(tc.args[2])[:min(40, len(fmt.Sprint(tc.args[2])))]
		if tc.want == "" {
			if strings.HasPrefix(got, "ERR") {
				t.Errorf("%s: %s", name, got)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", name, got, tc.want)
		}
	}
	// The documents are as they were.
	if got := answer(t, c, "JSON.GET", "chain", "$"+strings.Repeat(".a", 120)); got != "[1]" {
		t.Errorf("chain after the refusals: %s", got)
	}
}

// TestJSONGrowthIsBoundedBeforeCopying: a command that would copy its
// arguments into more nodes than a document may hold (64 MiB of JSON text)
// is refused before it copies: 1000 arrays times a 600 KB value allocate
// next to nothing, where copying would allocate 600 MB.
func TestJSONGrowthIsBoundedBeforeCopying(t *testing.T) {
	_, _, connect := scriptDB(t, devapi.PlaneConfig{})
	c := connect()
	ctx := t.Context()
	arrays := "[" + strings.TrimSuffix(strings.Repeat("[],", 1000), ",") + "]"
	if err := c.Do(ctx, "JSON.SET", "k", "$", arrays).Err(); err != nil {
		t.Fatal(err)
	}
	value := `"` + strings.Repeat("x", 600_000) + `"`
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for _, cmd := range [][]any{
		{"JSON.ARRAPPEND", "k", "$[*]", value},
		{"JSON.ARRINSERT", "k", "$[*]", "0", value},
		{"JSON.SET", "k", "$[*]", value},
		{"JSON.MERGE", "k", "$[*]", value},
	} {
		if got := answer(t, c, cmd...); got != "ERR: ERR JSON document larger than 64 MiB on the embedded plane" {
			t.Errorf("%s: %.100s", cmd[0], got)
		}
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 100<<20 {
		t.Errorf("the refused commands allocated %d MB", n>>20)
	}
	if got := answer(t, c, "JSON.ARRLEN", "k", "$[0]"); got != "[0]" {
		t.Errorf("the document changed: %s", got)
	}
}

// BenchmarkJSON measures JSON commands over TCP on one connection, for a
// small document and one of about 100 KB (each command parses and rewrites
// the whole document).
func BenchmarkJSON(b *testing.B) {
	_, _, connect := scriptDB(b, devapi.PlaneConfig{})
	c := connect()
	ctx := b.Context()
	var big strings.Builder
	big.WriteString(`{"n":0,"items":[`)
	for i := range 2000 {
		if i > 0 {
			big.WriteString(",")
		}
		fmt.Fprintf(&big, `{"id":%d,"name":"item %d","tags":["a","b"]}`, i, i)
	}
	big.WriteString("]}")
	for _, doc := range []struct{ name, text string }{
		{"small", `{"n":0,"name":"ada","tags":["a","b"],"nested":{"x":1}}`},
		{"100KB", big.String()},
	} {
		if err := c.Do(ctx, "JSON.SET", doc.name, "$", doc.text).Err(); err != nil {
			b.Fatal(err)
		}
		for _, cmd := range [][]any{
			{"JSON.GET", doc.name, "$.n"},
			{"JSON.NUMINCRBY", doc.name, "$.n", "1"},
			{"JSON.SET", doc.name, "$", doc.text},
		} {
			b.Run(doc.name+"/"+cmd[0].(string), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := c.Do(ctx, cmd...).Err(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
	b.Run("small/GET", func(b *testing.B) { // a plain command, for scale
		c.Set(ctx, "s", "v", 0)
		for b.Loop() {
			if err := c.Get(ctx, "s").Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
