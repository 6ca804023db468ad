package embeddedplane_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/embeddedplane"
	"github.com/devapi-dev/devapi/internal/redistest"
	"github.com/devapi-dev/devapi/planetest"
	"github.com/devapi-dev/devapi/redisserverplane"
)

// scriptWait bounds every wait of the script tests; nothing takes near it
// unless a guard is missing.
const scriptWait = 20 * time.Second

// scriptDB serves one embedded database "db" with cfg and returns the
// plane and a client factory.
func scriptDB(tb testing.TB, cfg devapi.PlaneConfig) (*embeddedplane.Plane, devapi.PlaneDatabase, func() *redis.Client) {
	tb.Helper()
	p := embeddedplane.New(cfg)
	tb.Cleanup(func() { _ = p.Close() })
	d := devapi.PlaneDatabase{ID: "db", Port: planetest.FreePort(tb), Password: "pw", Generation: 1}
	if err := p.Serve(tb.Context(), d); err != nil {
		tb.Fatal(err)
	}
	return p, d, func() *redis.Client { return scriptClient(tb, d.Port) }
}

// scriptClient is a go-redis client of one connection that never retries
// and waits long enough for any script.
func scriptClient(tb testing.TB, port int) *redis.Client {
	tb.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:        fmt.Sprintf("127.0.0.1:%d", port),
		Password:    "pw",
		PoolSize:    1,
		MaxRetries:  -1,
		ReadTimeout: scriptWait,
	})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// realRedis serves a database on a real redis-server (the redis-server
// plane) and returns a client of it; it skips when redis-server is not
// installed, and fails instead under CI=true.
func realRedis(t *testing.T) *redis.Client {
	t.Helper()
	redistest.Binary(t)
	p, err := redisserverplane.Open(t.Context(), redisserverplane.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	d := devapi.PlaneDatabase{ID: "real", Port: planetest.FreePort(t), Password: "pw", Generation: 1}
	if err := p.Serve(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	return scriptClient(t, d.Port)
}

// eval runs src and returns its answer as text: the value, or "ERR: " and
// the error.
func eval(tb testing.TB, c *redis.Client, src string, keys []string, args ...any) string {
	tb.Helper()
	v, err := c.Eval(tb.Context(), src, keys, args...).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		var re redis.Error
		if !errors.As(err, &re) {
			tb.Fatalf("EVAL %q: %v", src, err)
		}
		return "ERR: " + err.Error()
	}
	return fmt.Sprint(v)
}

// globalsProbe is the script the brief names: every global's name, sorted.
const globalsProbe = "local t={} for k,v in pairs(_G) do t[#t+1]=k end table.sort(t) return t"

// libraryProbe lists the keys of one library table.
func libraryProbe(lib string) string {
	return "local t={} for k,v in pairs(" + lib + ") do t[#t+1]=k end table.sort(t) return t"
}

// removedFunctions are what gopher-lua (and miniredis) offer and Redis does
// not: every one must be a nonexistent global.
var removedFunctions = []string{
	"loadfile", "dofile", "require", "module", "package", "setfenv", "getfenv", "print",
	"os", "io", "debug", "newproxy", "channel", "_printregs", "_GOPHER_LUA_VERSION", "jit", "ffi",
}

func TestScriptGlobalsAsRedisServer(t *testing.T) {
	_, _, connect := scriptDB(t, devapi.PlaneConfig{})
	c := connect()
	embedded := map[string]string{"_G": eval(t, c, globalsProbe, nil)}
	for _, lib := range []string{"string", "table", "math", "coroutine", "bit", "cjson", "cmsgpack", "struct", "redis"} {
		embedded[lib] = eval(t, c, libraryProbe(lib), nil)
	}
	want := "[ARGV KEYS _G _VERSION __redis__err__handler assert bit cjson cmsgpack collectgarbage coroutine error gcinfo getmetatable ipairs load loadstring math next pairs pcall rawequal rawget rawset redis select setmetatable string struct table tonumber tostring type unpack xpcall]"
	if embedded["_G"] != want {
		t.Errorf("globals on the embedded plane:\n%s\nredis-server 7.0.15:\n%s", embedded["_G"], want)
	}
	for _, name := range removedFunctions {
		got := eval(t, c, "return "+name, nil)
		if !strings.Contains(got, "Script attempted to access nonexistent global variable '"+name+"'") {
			t.Errorf("%s on the embedded plane: %s", name, got)
		}
	}

	real := realRedis(t)
	for name, got := range embedded {
		probe := globalsProbe
		if name != "_G" {
			probe = libraryProbe(name)
		}
		if w := eval(t, real, probe, nil); got != w {
			t.Errorf("%s on the embedded plane:\n%s\non redis-server:\n%s", name, got, w)
		}
	}
	for _, name := range removedFunctions {
		got, w := eval(t, c, "return "+name, nil), eval(t, real, "return "+name, nil)
		if got != w {
			t.Errorf("%s: embedded %q, redis-server %q", name, got, w)
		}
	}
}

// TestScriptSandbox tries the ways out of the sandbox that gopher-lua and
// miniredis left open: each must fail.
func TestScriptSandbox(t *testing.T) {
	_, _, connect := scriptDB(t, devapi.PlaneConfig{})
	c := connect()
	for _, tc := range []struct{ src, want string }{
		{"return loadfile('/etc/passwd')", "nonexistent global variable 'loadfile'"},
		{"return dofile('/etc/passwd')", "nonexistent global variable 'dofile'"},
		{"return require('os')", "nonexistent global variable 'require'"},
		{"print('forged log line')", "nonexistent global variable 'print'"},
		{"return os.getenv('HOME')", "nonexistent global variable 'os'"},
		{"return io.open('/etc/passwd'):read('*a')", "nonexistent global variable 'io'"},
		{"return debug.getinfo(1)", "nonexistent global variable 'debug'"},
		{"return package.loaded.os", "nonexistent global variable 'package'"},
		{"setfenv(1, {})", "nonexistent global variable 'setfenv'"},
		{"return getfenv(1)", "nonexistent global variable 'getfenv'"},
		// load and loadstring compile with the script's globals.
		{"return loadstring('return loadfile')()", "nonexistent global variable 'loadfile'"},
		{"return load(function() return nil end) and loadstring('return os')()", "nonexistent global variable 'os'"},
		{"return rawget(_G, 'loadfile') == nil and rawget(_G, 'print') == nil and 'gone'", "gone"},
		{"return string.dump(function() end)", "unable to dump given function"},
		// The globals and libraries are read-only, as in Redis 7.
		{"x = 1", "Attempt to modify a readonly table"},
		{"rawset(_G, 'loadfile', 1)", "Attempt to modify a readonly table"},
		{"setmetatable(_G, nil) return 1", "Attempt to modify a readonly table"},
		{"rawset(string, 'x', 1)", "Attempt to modify a readonly table"},
		{"return getmetatable(_G)", "<nil>"},
		// collectgarbage does not make the process collect.
		{"return collectgarbage('collect')", "0"},
	} {
		if got := eval(t, c, tc.src, nil); !strings.Contains(got, tc.want) {
			t.Errorf("%s: %s, want %q in it", tc.src, got, tc.want)
		}
	}
	// Nothing a script changes outlives it.
	if got := eval(t, c, "string.upper = nil return 1", nil); got != "1" {
		t.Fatalf("string.upper = nil: %s", got)
	}
	if got := eval(t, c, "return string.upper('a')", nil); got != "A" {
		t.Errorf("string.upper in the next script: %s", got)
	}
}

// TestScriptsMatchRedisServer runs the same scripts on both planes and
// compares the answers, errors included. Not here, because they differ:
// gopher-lua's texts for calling or indexing nil, # and unary minus of a
// non-number name no variable ("attempt to call a non-function object"),
// and its argument checks say "got nil" for a missing argument.
func TestScriptsMatchRedisServer(t *testing.T) {
	_, _, connect := scriptDB(t, devapi.PlaneConfig{})
	c := connect()
	real := realRedis(t)
	for _, src := range []string{
		"return x",
		"x = 1",
		"error('boom')",
		"error({err='MY custom'})",
		"return nil + 1",
		"return 1 < nil",
		"return {} .. 'x'",
		"return nil .. 'x'",
		"return math.floor('x')",
		"local t = {} t[nil] = 1",
		"return {} < {}",
		"return 'a' < 1",
		"return undefinedfn()",
		"local ok, e = pcall(redis.call, 'nosuch') return e",
		"local ok, e = pcall(function() redis.call('lpush', 'zz', 'a') return redis.call('get', 'zz') end) return e.err",
		"return redis.call('nosuch')",
		"return redis.call('get')",
		"return redis.call('multi')",
		"return redis.pcall('multi')",
		"return redis.call('blpop', 'l', 0)",
		"return redis.call('xread', 'block', 0, 'streams', 's', '$')",
		"return redis.call()",
		"return redis.call({})",
		"return redis.call('set', 'k', 'v')",
		"return redis.call('get', 'k')",
		"redis.call('lpush', 'l', 'a') return redis.call('get', 'l')",
		"return redis.pcall('get', 'l')",
		"return redis.call('get', 'missing')",
		"return {1, 2, 3.7, 'a', nil, 5}",
		"return {ok='fine'}",
		"return {err='bad thing'}",
		"return redis.status_reply('hi')",
		"return redis.error_reply('bad')",
		"return redis.error_reply('MY bad')",
		"return true",
		"return false",
		"return 3.99",
		"return -3.99",
		"return {redis.call('incr', 'n'), redis.call('incrbyfloat', 'f', 1.5), redis.call('exists', 'nope')}",
		"return select('#', ...)",
		"return _VERSION",
		"return type(cjson.null)",
		"return redis.sha1hex('')",
		"return {redis.REPL_ALL, redis.REPL_AOF, redis.REPL_NONE, redis.REPL_REPLICA, redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}",
		"return {bit.tobit(2^32+5), bit.tobit(2.5), bit.tobit(3.5), bit.tobit(-2.5), bit.tobit(1e20), bit.tohex(255, -4), bit.tohex(255, 2), bit.tohex(-1), bit.bswap(0x12345678), bit.rol(1, 33), bit.ror(1, 1), bit.arshift(-256, 4), bit.rshift(-256, 4), bit.lshift(1, 31), bit.bnot(0), bit.band(0xff, 0x0f, 0x3), bit.bor(1, 2, 4), bit.bxor(7, 2)}",
		"return cjson.encode({1, 2, {a=1}})",
		"return cjson.encode({})",
		"return cjson.encode({'a/b', 1.5, 1e20, 'x\\1y', true, false})",
		"return cjson.encode({[1]=1, [3]=3})",
		"return {pcall(cjson.encode, {[1]=1, [30]=3})}",
		"return {pcall(cjson.encode, function() end)}",
		"local t = {} t[1] = t return {pcall(cjson.encode, t)}",
		"return cjson.decode('[1,2,null]')[3] == cjson.null",
		"return cjson.decode('{\"a\":[1,\"x\",{\"b\":true}]}').a[3].b",
		"return cmsgpack.pack({1, 2, 3}, 'abc', -1, 300, -300, 70000, 1.5, 2^40, {a=1}, true, false)",
		"return {cmsgpack.unpack(cmsgpack.pack({1, 2, {3, 'x'}}, 'abc', -300, 2^40))}",
		"return {cmsgpack.unpack_one(cmsgpack.pack(1, 2), 0)}",
		"return struct.pack('>I2<i4bBhHc3s', 258, -2, -1, 255, -3, 65535, 'abc', 'zz')",
		"return {struct.unpack('>I2<i4bBhHc3s', struct.pack('>I2<i4bBhHc3s', 258, -2, -1, 255, -3, 65535, 'abc', 'zz'))}",
		"return {struct.size('>I2i4bBhHc3'), struct.size('!4bi')}",
		"return string.format('%5.2f|%d|%s|%q|%x|%5s|%-5s|%c|%g|%g|%e|%o|%X|%i|%%', 3.14159, 42, 'hi', 'a\"b\\n', 255, 'ab', 'ab', 65, 123456789, 0.1, 12345.678, 8, 255, 7)",
		"return string.format('%100d', 1)",
		"return string.format('%d', -3.7)",
		"return {string.format('%s|%s', 1e15, 0.1), tostring(2^53), tostring(1/0), 1e15 .. ''}",
		"return {string.gsub('hello world', 'o', '0')}",
		"return {string.gsub('hello world', '(o)', '[%1]', 1)}",
		"return {string.gsub('abc', '%w', '%0%0')}",
		"return {string.gsub('hello', '', '-')}",
		"return {string.gsub('abc', '.', {a=1, b=true})}",
		"return {string.gsub('abc', '.', function(c) return c:upper() end)}",
		"return {string.find('hello', 'l+')}",
		"return {string.find('hello', 'l', 1, true)}",
		"return {string.find('a.b', '.', 1, true)}",
		"return {string.find('hello', '(h)(e)')}",
		"return {string.find('hello', '()ll()')}",
		"return {string.match('key:123', '(%a+):(%d+)')}",
		"return {string.match('  trim  ', '^%s*(.-)%s*$')}",
		"return {string.match('THE (quick) fox', '%((%a+)%)')}",
		"return {string.match('f(a(b)c)d', '%b()')}",
		"return {string.match('THE quick', '%f[%a]%a+', 4)}",
		"local t = {} for k, v in string.gmatch('a=1, b=2', '(%w+)=(%w+)') do t[#t+1] = k .. v end return t",
		"local t = {} for w in string.gmatch('one two three', '%a+') do t[#t+1] = w end return t",
		"return {pcall(string.find, 'a', '[a')}",
		"return {string.rep('ab', 3), string.rep('x', 0), string.rep('x', -1)}",
		"return {string.byte('ABC', 1, -1)}",
		"return string.char(72, 105)",
		"return table.concat({1, 2, 'x'}, ', ')",
		"return table.concat({1, 2, 3}, '-', 2, 3)",
		"return {pcall(table.concat, {1, {}, 3})}",
		"return {unpack({1, 2, 3})}",
		"return {pcall(unpack, {}, 1, 1e8)}",
		"local n = 0 table.foreach({a=1, b=2}, function(k, v) n = n + v end) return n",
		"return {pcall(table.setn, {}, 1)}",
		"return {tostring(nil), tostring(true), tonumber('0x10'), tonumber('z', 36), math.floor(-3.5), math.max(1, 5, 3), math.fmod(7, 3)}",
		"local co = coroutine.create(function(a) local b = coroutine.yield(a + 1) return b * 2 end) local _, x = coroutine.resume(co, 1) local _, y = coroutine.resume(co, 10) return {x, y, coroutine.status(co)}",
		"return loadstring('return 1 + 1')()",
		"return {pcall(error)}",
		"return {pcall(error, {err='x'})}",
		"local ok, e = pcall(redis.call, 'nosuch') return type(e)",
		"return redis.setresp(2)",
		"return redis.set_repl(redis.REPL_ALL)",
		"return redis.replicate_commands()",
		"return redis.call('select', 2)",
		"return redis.call('ping')",
		"return redis.call('echo', 'hi')",
		"return redis.call('hset', 'h', 'a', 1, 'b', 2)",
		"return redis.call('hgetall', 'h')",
		"return redis.call('zadd', 'z', 1, 'a', 2, 'b')",
		"return redis.call('zrange', 'z', 0, -1, 'withscores')",
		"return redis.call('type', 'z')",
		"return redis.call('rpush', 'rl', 1, 2, 3)",
		"return redis.call('lrange', 'rl', 0, -1)",
		"return redis.call('bzmpop', 0, 1, 'z', 'min')",
		"return redis.call('set', 'num', 2^53)",
		"return redis.call('get', 'num')",
		"return redis.call('set', 'num', 0.1)",
		"return redis.call('get', 'num')",
		"return redis.call('set', 'num', 1e15)",
		"return redis.call('get', 'num')",
	} {
		got, want := eval(t, c, src, []string{"k"}, "a1"), eval(t, real, src, []string{"k"}, "a1")
		if got != want {
			t.Errorf("%s\nembedded:     %q\nredis-server: %q", src, got, want)
		}
	}
}

func TestScriptTimeLimit(t *testing.T) {
	p, _, connect := scriptDB(t, devapi.PlaneConfig{ScriptTimeLimit: 200 * time.Millisecond})
	c := connect()
	for _, src := range []string{
		"while true do end",
		// pcall cannot catch the deadline for good.
		"while true do pcall(function() while true do end end) end",
		"local co = coroutine.wrap(function() while true do end end) co()",
		// Lua's pattern matching, which runs in Go, looks at the deadline.
		"return string.find(string.rep('a', 5000), '.-.-.-.-.-.-b')",
		"local s = string.rep('a', 20000) for i = 1, 1e9 do s:gsub('a', 'b') end",
		"table.sort({3, 2, 1, 5, 4}, function(a, b) while true do end end)",
	} {
		if got := eval(t, c, src, nil); !strings.Contains(got, "ERR Script killed by time limit") {
			t.Errorf("%s: %s", src, got)
		}
		// The database serves again at once.
		if got := eval(t, c, "return redis.call('ping')", nil); got != "PONG" {
			t.Fatalf("after %s: %s", src, got)
		}
	}
	st, err := p.Status(t.Context(), "db")
	if err != nil || st.State != devapi.PlaneRunning {
		t.Fatalf("Status: %+v, %v", st, err)
	}
}

// running starts src on its own client and returns a channel that gets the
// answer; it waits until the script holds the gate (another client's
// command answers BUSY).
func running(t *testing.T, connect func() *redis.Client, src string) <-chan string {
	t.Helper()
	a := connect()
	done := make(chan string, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		v, err := a.Eval(context.Background(), src, nil).Result()
		if err != nil {
			done <- "ERR: " + err.Error()
			return
		}
		done <- fmt.Sprint(v)
	})
	t.Cleanup(wg.Wait)
	b := connect()
	deadline := time.Now().Add(scriptWait)
	for {
		err := b.Ping(t.Context()).Err()
		if err != nil && strings.HasPrefix(err.Error(), "BUSY ") {
			return done
		}
		if time.Now().After(deadline) {
			t.Fatalf("no BUSY while %q runs: last answer %v", src, err)
		}
		select {
		case v := <-done:
			t.Fatalf("%q ended before it was seen running: %s", src, v)
		default:
		}
	}
}

func TestScriptBusyAndKill(t *testing.T) {
	p, _, connect := scriptDB(t, devapi.PlaneConfig{ScriptTimeLimit: time.Minute})
	c := connect()
	done := running(t, connect, "redis.call('set', 'x', 1) while true do end")

	// What devapi does to the database meanwhile answers, bounded by a
	// deadline, never by the script.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := p.Status(ctx, "db"); err != nil {
		t.Errorf("Status while a script runs: %v", err)
	}
	if err := p.SetPassword(ctx, "db", "pw", 2); err != nil {
		t.Errorf("SetPassword while a script runs: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("Status and SetPassword waited for the script")
	}
	// Other SCRIPT subcommands answer BUSY too; SCRIPT KILL stops it.
	if err := c.ScriptExists(t.Context(), "abc").Err(); err == nil || !strings.HasPrefix(err.Error(), "BUSY ") {
		t.Errorf("SCRIPT EXISTS while a script runs: %v", err)
	}
	if err := c.ScriptKill(t.Context()).Err(); err != nil {
		t.Fatalf("SCRIPT KILL: %v", err)
	}
	select {
	case got := <-done:
		if !strings.HasPrefix(got, "ERR: ERR Script killed by user with SCRIPT KILL...") {
			t.Errorf("the killed script answered %s", got)
		}
	case <-time.After(scriptWait):
		t.Fatal("SCRIPT KILL did not stop the script")
	}
	if got := eval(t, c, "return redis.call('get', 'x')", nil); got != "1" {
		t.Errorf("after SCRIPT KILL: %s", got)
	}
	if err := c.ScriptKill(t.Context()).Err(); err == nil || err.Error() != "NOTBUSY No scripts in execution right now." {
		t.Errorf("SCRIPT KILL with nothing running: %v", err)
	}

	// Remove of a database whose script runs returns, and stops it.
	done = running(t, connect, "while true do end")
	ctx, cancel = context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := p.Remove(ctx, "db"); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatal("Remove waited for the script")
	}
	select {
	case got := <-done:
		if !strings.HasPrefix(got, "ERR: ") {
			t.Errorf("the script of a removed database answered %s", got)
		}
	case <-time.After(scriptWait):
		t.Fatal("Remove did not stop the script")
	}
}

func TestScriptMemoryLimit(t *testing.T) {
	const limit = 64 << 20
	_, _, connect := scriptDB(t, devapi.PlaneConfig{ScriptMemoryLimit: limit, ScriptTimeLimit: time.Minute})
	c := connect()

	// One builtin asked for a huge value fails before allocating it.
	var before, after runtime.MemStats
	for _, src := range []string{
		"return #string.rep('x', 2^30)",
		"return #string.rep('x', 2^40)",
		"local s = string.rep('x', 2^25) return #(s..s..s..s..s..s..s..s..s..s..s..s..s..s..s..s)",
		"local s = string.rep('x', 2^25) local t = {} for i = 1, 100 do t[i] = s end return #table.concat(t)",
		"local s = string.rep('x', 2^25) return #string.format('%s%s%s%s%s%s%s%s', s, s, s, s, s, s, s, s)",
		"local s = string.rep('x', 2^25) return #s:gsub('x', string.rep('y', 2^20))",
		"local s = string.rep('x', 2^25) local t = {} for i = 1, 100 do t[i] = s end return #cjson.encode(t)",
		"local s = string.rep('x', 2^25) return #struct.pack('c0c0c0c0c0c0c0c0', s, s, s, s, s, s, s, s)",
		"local s = string.rep('x', 2^25) return #cmsgpack.pack(s, s, s, s, s, s, s, s)",
	} {
		// A builtin that builds its value bit by bit (gsub) may meet the
		// watchdog before its own check: either way the script is stopped.
		if got := eval(t, c, src, nil); !strings.Contains(got, "over the script memory limit (64 MiB)") && !strings.Contains(got, "ERR Script killed by memory limit") {
			t.Errorf("%s: %s", src, got)
		}
	}
	runtime.ReadMemStats(&before)
	if got := eval(t, c, "return #string.rep('x', 2^30)", nil); !strings.Contains(got, "over the script memory limit") {
		t.Errorf("string.rep 2^30: %s", got)
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 100<<20 {
		t.Errorf("string.rep('x', 2^30) refused after allocating %d MiB", grew>>20)
	}

	// Many values below the limit, held together, stop the script: the
	// watchdog sees the heap grow.
	got := eval(t, c, "local t = {} for i = 1, 2048 do t[i] = string.rep(string.char(i % 256), 1024 * 1024) end return #t", nil)
	if !strings.Contains(got, "ERR Script killed by memory limit") {
		t.Errorf("a table of 1 MiB strings: %s", got)
	}
	if got := eval(t, c, "return redis.call('ping')", nil); got != "PONG" {
		t.Fatalf("after the memory limit: %s", got)
	}
}

func TestScriptRedisCall(t *testing.T) {
	_, _, connect := scriptDB(t, devapi.PlaneConfig{})
	c := connect()
	ctx := t.Context()
	for _, tc := range []struct{ src, want string }{
		{"return redis.call('config', 'get', 'dir')", "NOPERM this user has no permissions to run the 'config"},
		{"return redis.pcall('client', 'kill', 'id', '1')", "NOPERM this user has no permissions to run the 'client|kill' command"},
		{"return redis.call('monitor')", "NOPERM this user has no permissions to run the 'monitor' command"},
		{"return redis.call('client', 'id')", "This Redis command is not allowed from script"},
		{"return redis.call('eval', 'return 1', 0)", "This Redis command is not allowed from script"},
		{"return redis.call('subscribe', 'ch')", "This Redis command is not allowed from script"},
		{"return redis.call('brpoplpush', 'a', 'b', 0)", "This Redis command is not allowed from script"},
		{"return redis.call('wait', 0, 0)", "This Redis command is not allowed from script"},
		{"return redis.call('xreadgroup', 'group', 'g', 'c', 'block', 0, 'streams', 's', '>')", "xreadgroup command is not allowed with BLOCK option from scripts"},
		{"return redis.acl_check_cmd('config', 'get', 'x')", "<nil>"},
		{"return redis.acl_check_cmd('get', 'x')", "1"},
	} {
		if got := eval(t, c, tc.src, nil); !strings.Contains(got, tc.want) {
			t.Errorf("%s: %s, want %q in it", tc.src, got, tc.want)
		}
	}

	// Read-only scripts read and do not write.
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := c.EvalRO(ctx, "return redis.call('get', KEYS[1])", []string{"k"}).Result(); err != nil || v != "v" {
		t.Errorf("EVAL_RO GET: %v %v", v, err)
	}
	for _, src := range []string{"return redis.call('set', 'k', 'w')", "return redis.call('publish', 'c', 'm')", "return redis.pcall('del', 'k')"} {
		err := c.EvalRO(ctx, src, nil).Err()
		if err == nil || !strings.HasPrefix(err.Error(), "ERR Write commands are not allowed from read-only scripts.") {
			t.Errorf("EVAL_RO %s: %v", src, err)
		}
		sha, _ := c.ScriptLoad(ctx, src).Result()
		if err := c.EvalShaRO(ctx, sha, nil).Err(); err == nil || !strings.HasPrefix(err.Error(), "ERR Write commands are not allowed from read-only scripts.") {
			t.Errorf("EVALSHA_RO %s: %v", src, err)
		}
	}
	if v, _ := c.Get(ctx, "k").Result(); v != "v" {
		t.Errorf("k after read-only scripts: %q", v)
	}

	// SELECT in a script changes the script's database, not the client's.
	if got := eval(t, c, "redis.call('select', 3) redis.call('set', 'in3', 'y') return redis.call('get', 'k')", nil); got != "<nil>" {
		t.Errorf("GET k in db 3: %s", got)
	}
	if v, _ := c.Get(ctx, "k").Result(); v != "v" {
		t.Errorf("the client's database changed after a script's SELECT: GET k = %q", v)
	}
	if n, _ := c.Exists(ctx, "in3").Result(); n != 0 {
		t.Errorf("in3 written to the client's database")
	}
}

func TestScriptCache(t *testing.T) {
	_, _, connect := scriptDB(t, devapi.PlaneConfig{})
	c := connect()
	ctx := t.Context()
	sha, err := c.ScriptLoad(ctx, "return ARGV[1] .. KEYS[1]").Result()
	if err != nil || len(sha) != 40 {
		t.Fatalf("SCRIPT LOAD: %q %v", sha, err)
	}
	if v, err := c.EvalSha(ctx, sha, []string{"k"}, "a").Result(); err != nil || v != "ak" {
		t.Errorf("EVALSHA: %v %v", v, err)
	}
	if v, err := c.EvalSha(ctx, strings.ToUpper(sha), []string{"k"}, "a").Result(); err != nil || v != "ak" {
		t.Errorf("EVALSHA in upper case: %v %v", v, err)
	}
	if ok, err := c.ScriptExists(ctx, sha, "0000").Result(); err != nil || !slices.Equal(ok, []bool{true, false}) {
		t.Errorf("SCRIPT EXISTS: %v %v", ok, err)
	}
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.EvalSha(ctx, sha, nil).Err(); err == nil || err.Error() != "NOSCRIPT No matching script. Please use EVAL." {
		t.Errorf("EVALSHA after SCRIPT FLUSH: %v", err)
	}
	if err := c.ScriptLoad(ctx, "return +").Err(); err == nil || !strings.HasPrefix(err.Error(), "ERR Error compiling script") {
		t.Errorf("SCRIPT LOAD of a broken script: %v", err)
	}
	for _, tc := range []struct {
		args []any
		want string
	}{
		{[]any{"eval", "return 1", -1}, "ERR Number of keys can't be negative"},
		{[]any{"eval", "return 1", 3, "a"}, "ERR Number of keys can't be greater than number of args"},
		{[]any{"eval", "return 1", "x"}, "ERR value is not an integer or out of range"},
		{[]any{"eval", "return 1"}, "ERR wrong number of arguments for 'eval' command"},
		{[]any{"script", "flush", "x"}, "ERR SCRIPT FLUSH only support SYNC|ASYNC option"},
		{[]any{"script", "foo"}, "ERR unknown subcommand 'FOO'. Try SCRIPT HELP."},
		{[]any{"function", "foo"}, "ERR unknown subcommand 'foo'. Try FUNCTION HELP."},
		{[]any{"eval", "local s = 'x'" + strings.Repeat(" .. 'x'", 300) + " return s", 0}, "too many syntax levels"},
	} {
		if err := c.Do(ctx, tc.args...).Err(); err == nil || !strings.HasPrefix(err.Error(), tc.want) && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestScriptAtomicity: a script's GET and SET of a key, a thousand times,
// while another client INCRs it: no INCR lands between a GET and its SET.
func TestScriptAtomicity(t *testing.T) {
	_, _, connect := scriptDB(t, devapi.PlaneConfig{})
	c, other := connect(), connect()
	ctx := t.Context()
	const n = 1000
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Go(func() {
		for range 20 {
			err := c.Eval(ctx, "for i = 1, 50 do local v = tonumber(redis.call('get', KEYS[1]) or '0') redis.call('set', KEYS[1], v + 1) end return 1", []string{"x"}).Err()
			if err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Go(func() {
		for range n {
			if err := other.Incr(ctx, "x").Err(); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, "x").Int(); err != nil || v != 2*n {
		t.Errorf("x = %d (%v), want %d: an INCR landed inside a script", v, err, 2*n)
	}
}

// TestScriptLog: redis.log goes to the plane's logger, rate-limited, its
// text an attribute (a newline in it cannot forge a line), never to
// standard output.
func TestScriptLog(t *testing.T) {
	var mu sync.Mutex
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	_, _, connect := scriptDB(t, devapi.PlaneConfig{Logger: logger})
	c := connect()
	if got := eval(t, c, "for i = 1, 100 do redis.log(redis.LOG_WARNING, 'line', i, '\\nlevel=ERROR msg=forged') end return 1", nil); got != "1" {
		t.Fatalf("redis.log: %s", got)
	}
	mu.Lock()
	defer mu.Unlock()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var logged int
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if rec["msg"] == "script log" {
			logged++
			if rec["level"] != "WARN" || !strings.HasPrefix(fmt.Sprint(rec["text"]), "line ") {
				t.Errorf("log line %v", rec)
			}
		}
	}
	if logged == 0 || logged > 10 {
		t.Errorf("%d lines logged from 100 redis.log calls; want 1 to 10", logged)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (w lockedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(b)
}
