package embeddedplane_test

import (
	"strings"
	"testing"
	"time"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/planetest"
)

const testLibrary = `#!lua name=mylib
redis.register_function('myset', function(keys, args) return redis.call('SET', keys[1], args[1]) end)
redis.register_function{function_name='myget', callback=function(keys, args) return redis.call('GET', keys[1]) end, flags={'no-writes'}, description='reads'}
`

func load(code string, replace bool) string {
	if replace {
		return argv("FUNCTION", "LOAD", "REPLACE", code)
	}
	return argv("FUNCTION", "LOAD", code)
}

// redis-server 7.0 has functions: every case runs on it too.
var functionCases = []cmdCase{
	{name: "load and call", onRedis70: true, steps: []step{
		{load(testLibrary, false), "mylib"},
		{load(testLibrary, false), "ERR: ERR Library 'mylib' already exists"},
		{load(testLibrary, true), "mylib"},
		{"FCALL myset 1 k v", "OK"},
		{"FCALL myget 1 k", "v"},
		{"FCALL_RO myget 1 k", "v"},
		{"fcall_ro myset 1 k v", "ERR: ERR Can not execute a script with write flag using *_ro command."},
		{"FCALL nope 0", "ERR: ERR Function not found"},
		{"FCALL myget x", "ERR: ERR Bad number of keys provided"},
		{"FCALL myget 2 k", "ERR: ERR Number of keys can't be greater than number of args"},
		{"FCALL myget -1", "ERR: ERR Number of keys can't be negative"},
		{"FCALL myget", "ERR: ERR wrong number of arguments for 'fcall' command"},
		{"FUNCTION LIST LIBRARYNAME other", "[]"},
		{"FUNCTION STATS", "map[engines:map[LUA:map[functions_count:2 libraries_count:1]] running_script:<nil>]"},
		{"FLUSHALL", "OK"},
		{"FCALL myget 1 k", "nil"},
		{"FUNCTION DELETE mylib", "OK"},
		{"FUNCTION DELETE mylib", "ERR: ERR Library not found"},
		{"FUNCTION LIST", "[]"},
	}},
	{name: "list with code, flush", onRedis70: true, steps: []step{
		{load("#!lua name=a\nredis.register_function('fa', function() return 1 end)", false), "a"},
		{"FUNCTION LIST WITHCODE", "[map[engine:LUA functions:[map[description:<nil> flags:[] name:fa]] library_code:#!lua name=a\nredis.register_function('fa', function() return 1 end) library_name:a]]"},
		{load("#!lua name=b\nredis.register_function('fa', function() return 2 end)", false), "ERR: ERR Function fa already exists"},
		{load("#!lua name=d\nredis.register_function{function_name='fd', callback=function() return 1 end, flags={'allow-stale', 'no-writes'}, description='one'}", false), "d"},
		{"FUNCTION LIST LIBRARYNAME [d]", "[map[engine:LUA functions:[map[description:one flags:[no-writes allow-stale] name:fd]] library_name:d]]"},
		{"FUNCTION FLUSH ASYNC", "OK"},
		{"FUNCTION FLUSH NOW", "ERR: ERR FUNCTION FLUSH only supports SYNC|ASYNC option"},
		{"FCALL fa 0", "ERR: ERR Function not found"},
		{"FUNCTION LIST WITH", "ERR: ERR Unknown argument WITH"},
		{"FUNCTION LIST LIBRARYNAME", "ERR: ERR library name argument was not given"},
		{"FUNCTION NOPE", "ERR: ERR unknown subcommand 'NOPE'. Try FUNCTION HELP."},
		{"FUNCTION DELETE", "ERR: ERR wrong number of arguments for 'function|delete' command"},
	}},
	{name: "load errors", onRedis70: true, steps: []step{
		{load("return 1", false), "ERR: ERR Missing library metadata"},
		{load("#!lua name=x", false), "ERR: ERR Invalid library metadata"},
		{load("#!lua\nreturn 1", false), "ERR: ERR Library name was not given"},
		{load("#!lua name=x foo=bar\nreturn 1", false), "ERR: ERR Invalid metadata value given: foo=bar"},
		{load("#!lua name=x name=y\nreturn 1", false), "ERR: ERR Invalid metadata value, name argument was given multiple times"},
		{load("#!lua name=x-y\nreturn 1", false), "ERR: ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"},
		{load("#!js name=x\nreturn 1", false), "ERR: ERR Engine 'js' not found"},
		{load("#!lua name=x\nreturn 1", false), "ERR: ERR No functions registered"},
		{argv("FUNCTION", "LOAD", "FORCE", "#!lua name=x\n"), "ERR: ERR Unknown option given: FORCE"},
		{load("#!lua name=x\nredis.register_function('f-g', function() end)", false), "ERR: ERR Error registering functions: ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"},
		{load("#!lua name=x\nredis.register_function('f', function() end)\nredis.register_function('f', function() end)", false), "ERR: ERR Error registering functions: ERR Function already exists in the library"},
		{load("#!lua name=x\nredis.register_function('f')", false), "ERR: ERR Error registering functions: ERR calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments)."},
		{load("#!lua name=x\nredis.register_function('f', 1, 2)", false), "ERR: ERR Error registering functions: ERR wrong number of arguments to redis.register_function"},
		{load("#!lua name=x\nredis.call('PING')", false), "ERR: ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable 'call'"},
		{load("#!lua name=x\nredis.register_function{function_name='f', callback=function() end, flags={'fast'}}", false), "ERR: ERR Error registering functions: ERR unknown flag given"},
		{load("#!lua name=x\nredis.register_function{callback=function() end}", false), "ERR: ERR Error registering functions: ERR redis.register_function must get a function name argument"},
		{load("#!lua name=x\nredis.register_function{function_name='f', color=1}", false), "ERR: ERR Error registering functions: ERR unknown argument given to redis.register_function"},
		{"FUNCTION LIST", "[]"},
	}},
	{name: "no-writes function cannot write", onRedis70: true, steps: []step{
		{load("#!lua name=w\nredis.register_function{function_name='w', callback=function(keys) return redis.call('SET', keys[1], 'x') end, flags={'no-writes'}}", false), "w"},
		{"FCALL w 1 k", "ERR: ERR Write commands are not allowed from read-only scripts. script: w, on @user_function:2."},
		{"EXISTS k", "0"},
	}},
}

func TestFunctions(t *testing.T) {
	runCases(t, functionCases)
}

// TestFunctionLimits: a library that loops or grows at load is stopped at
// Redis's load limit; a function that loops is stopped at the script time
// limit, and the database answers again.
func TestFunctionLimits(t *testing.T) {
	_, _, connect := scriptDB(t, devapi.PlaneConfig{ScriptTimeLimit: 300 * time.Millisecond, ScriptMemoryLimit: 32 << 20})
	c := connect()
	for code, want := range map[string]string{
		"#!lua name=loop\nwhile true do end":                                                   "ERR Error registering functions: ERR FUNCTION LOAD timeout",
		"#!lua name=big\nlocal t = {} for i = 1, 1e6 do t[i] = string.rep('x', 4096) .. i end": "ERR Error registering functions: ERR Script killed by memory limit",
	} {
		got := answer(t, c, "FUNCTION", "LOAD", code)
		if raceDetector && strings.HasPrefix(got, "ERR: ERR Error registering functions: ERR FUNCTION LOAD timeout") {
			continue // slowed down, the growing library meets the load limit first: stopped all the same
		}
		if !strings.HasPrefix(got, "ERR: "+want) {
			t.Errorf("FUNCTION LOAD %q: %s, want %s", code, got, want)
		}
	}
	if got := answer(t, c, "FUNCTION", "LOAD", "#!lua name=spin\nredis.register_function('spin', function() while true do end end)"); got != "spin" {
		t.Fatal(got)
	}
	if got := answer(t, c, "FCALL", "spin", "0"); !strings.HasPrefix(got, "ERR: ERR Script killed by time limit") {
		t.Errorf("FCALL spin: %s", got)
	}
	if got := answer(t, c, "PING"); got != "PONG" {
		t.Errorf("PING after: %s", got)
	}
}

// TestFunctionsOutliveAMove: a database moved to another port keeps its
// function libraries, as it keeps its keys.
func TestFunctionsOutliveAMove(t *testing.T) {
	p, d, connect := scriptDB(t, devapi.PlaneConfig{})
	if got := answer(t, connect(), "FUNCTION", "LOAD", "#!lua name=m\nredis.register_function('one', function() return 1 end)"); got != "m" {
		t.Fatal(got)
	}
	d.Port = planetest.FreePort(t)
	if err := p.Serve(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	if got := answer(t, scriptClient(t, d.Port), "FCALL", "one", "0"); got != "1" {
		t.Errorf("FCALL after the move: %s", got)
	}
}
