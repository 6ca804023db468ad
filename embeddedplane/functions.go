package embeddedplane

// Redis functions on the embedded plane: FUNCTION LOAD [REPLACE], LIST
// [LIBRARYNAME pattern] [WITHCODE], DELETE, FLUSH, STATS, KILL, and FCALL,
// FCALL_RO, with Redis 7's arguments, answers and errors (functions.c,
// function_lua.c). They run in the same sandbox as EVAL (lua.go), under
// the same time and memory limits, the same gate (BUSY) and the same
// command policy.
//
// A library is compiled once, at FUNCTION LOAD, which also runs its code
// once to collect what it registers (redis.register_function), under
// Redis's load limit of 500 ms (FUNCTION LOAD timeout). Since every script
// run gets a fresh Lua state here (script.go), FCALL runs the library's
// code again in the new state (it can only register functions and define
// locals: redis.call is not there at load time, as in Redis) and then the
// function, with KEYS and ARGV as its two arguments.
//
// Libraries belong to the database, as on Redis: FLUSHALL keeps them,
// FUNCTION FLUSH drops them, and they outlive a move of the database to
// another port. They are not part of a backup (Snapshot carries keys;
// on Redis functions live in the RDB file): a restored database has the
// libraries it had, not the backup's (README, embedded-plane gaps).
// FUNCTION DUMP and RESTORE (Redis's binary payload) are not served.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2/server"
	lua "github.com/yuin/gopher-lua"
)

const (
	// functionLoadLimit is Redis's LOAD_TIMEOUT_MS.
	functionLoadLimit = 500 * time.Millisecond
	// maxLibraryBytes bounds the code of all libraries of a database.
	maxLibraryBytes = 64 << 20
	// functionChunkName is the chunk name of a library, as Redis's
	// "@user_function".
	functionChunkName = "user_function"
)

// scriptFlags are Redis's script flags, in its order (scripts_flags_def).
var scriptFlags = []string{"no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys"}

// functionLibs are the function libraries of one database.
type functionLibs struct {
	mu      sync.Mutex
	libs    map[string]*functionLib
	funcs   map[string]*luaFunction // every library's, by name
	bytes   int
	running *runningFunction // the FCALL running now, for FUNCTION STATS
}

type functionLib struct {
	name  string
	code  string // as loaded, with its #! line
	proto *lua.FunctionProto
	funcs map[string]*luaFunction
}

type luaFunction struct {
	name  string
	lib   *functionLib
	desc  *string // nil: none given
	flags map[string]bool
}

type runningFunction struct {
	name    string
	command []string
	started time.Time
}

func newFunctionLibs() *functionLibs {
	return &functionLibs{libs: map[string]*functionLib{}, funcs: map[string]*luaFunction{}}
}

// functionCommand serves FUNCTION, FCALL and FCALL_RO for an authenticated
// client outside MULTI.
func (s *scripts) functionCommand(c *server.Peer, cmd string, args []string) {
	if cmd == "FCALL" || cmd == "FCALL_RO" {
		s.fcall(c, cmd, args)
		return
	}
	if len(args) == 0 {
		c.WriteError(wrongArgs("function"))
		return
	}
	sub, given := strings.ToUpper(args[0]), args[0]
	args = args[1:]
	arity := map[string]func(int) bool{
		"LOAD":   func(n int) bool { return n >= 1 },
		"LIST":   func(int) bool { return true },
		"DELETE": func(n int) bool { return n == 1 },
		"FLUSH":  func(n int) bool { return n <= 1 },
		"STATS":  func(n int) bool { return n == 0 },
		"KILL":   func(n int) bool { return n == 0 },
		"DUMP":   func(n int) bool { return n == 0 },
		"RESTORE": func(n int) bool {
			return n >= 1
		},
	}
	ok, known := arity[sub]
	if !known {
		c.WriteError(fmt.Sprintf("ERR unknown subcommand '%s'. Try FUNCTION HELP.", given))
		return
	}
	if !ok(len(args)) {
		c.WriteError(wrongArgs("function|" + strings.ToLower(sub)))
		return
	}
	switch sub {
	case "KILL":
		s.kill(c)
		return
	case "STATS":
		s.functionStats(c)
		return
	case "DUMP", "RESTORE":
		c.WriteError("ERR FUNCTION " + sub + " is not supported on the embedded plane")
		return
	}
	leave, busy := s.enter(c)
	defer leave()
	if busy {
		c.WriteError(busyError)
		return
	}
	libs := s.cfg.functions
	switch sub {
	case "LOAD":
		replace := false
		for _, a := range args[:len(args)-1] {
			if !strings.EqualFold(a, "REPLACE") {
				c.WriteError("ERR Unknown option given: " + a)
				return
			}
			replace = true
		}
		name, msg := s.loadLibrary(args[len(args)-1], replace)
		if msg != "" {
			c.WriteError(msg)
			return
		}
		c.WriteBulk(name)
	case "LIST":
		libs.list(c, args)
	case "DELETE":
		libs.mu.Lock()
		lib, ok := libs.libs[args[0]]
		if ok {
			libs.unlink(lib)
		}
		libs.mu.Unlock()
		if !ok {
			c.WriteError("ERR Library not found")
			return
		}
		c.WriteOK()
	case "FLUSH":
		if len(args) == 1 && !strings.EqualFold(args[0], "SYNC") && !strings.EqualFold(args[0], "ASYNC") {
			c.WriteError("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
			return
		}
		libs.mu.Lock()
		libs.libs, libs.funcs, libs.bytes = map[string]*functionLib{}, map[string]*luaFunction{}, 0
		libs.mu.Unlock()
		c.WriteOK()
	}
}

// unlink removes lib and its functions; l.mu is held.
func (l *functionLibs) unlink(lib *functionLib) {
	delete(l.libs, lib.name)
	for name := range lib.funcs {
		delete(l.funcs, name)
	}
	l.bytes -= len(lib.code)
}

// link adds lib and its functions; l.mu is held.
func (l *functionLibs) link(lib *functionLib) {
	l.libs[lib.name] = lib
	for name, f := range lib.funcs {
		l.funcs[name] = f
	}
	l.bytes += len(lib.code)
}

// validName reports whether a library or function name is Redis's
// [a-zA-Z0-9_]+.
func validName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

const msgBadName = "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"

// libraryMeta reads a library's "#!lua name=<name>" line
// (functionExtractLibMetaData).
func libraryMeta(code string) (engine, name, body, msg string) {
	if !strings.HasPrefix(code, "#!") {
		return "", "", "", "ERR Missing library metadata"
	}
	line, _, ok := strings.Cut(code, "\n")
	if !ok {
		return "", "", "", "ERR Invalid library metadata"
	}
	parts := strings.Fields(line)
	if len(parts) == 0 {
		return "", "", "", "ERR Invalid library metadata"
	}
	engine = parts[0][2:]
	named := false
	for _, p := range parts[1:] {
		if len(p) >= 5 && strings.EqualFold(p[:5], "name=") {
			if named {
				return "", "", "", "ERR Invalid metadata value, name argument was given multiple times"
			}
			name, named = p[5:], true
			continue
		}
		return "", "", "", "ERR Invalid metadata value given: " + p
	}
	if !named {
		return "", "", "", "ERR Library name was not given"
	}
	// The body keeps the #! line's place (an empty line), so that error
	// lines count as in the library.
	return engine, name, code[len(line):], ""
}

// loadLibrary compiles code, runs it once to collect its functions and
// keeps it; msg is the error answer.
func (s *scripts) loadLibrary(code string, replace bool) (string, string) {
	engine, name, body, msg := libraryMeta(code)
	if msg != "" {
		return "", msg
	}
	if !validName(name) {
		return "", msgBadName
	}
	if !strings.EqualFold(engine, "lua") {
		return "", fmt.Sprintf("ERR Engine '%s' not found", engine)
	}
	libs := s.cfg.functions
	libs.mu.Lock()
	old := libs.libs[name]
	bytes := libs.bytes
	libs.mu.Unlock()
	if old != nil && !replace {
		return "", fmt.Sprintf("ERR Library '%s' already exists", name)
	}
	if old != nil {
		bytes -= len(old.code)
	}
	if bytes+len(code) > maxLibraryBytes {
		return "", fmt.Sprintf("ERR function libraries are larger than the embedded plane keeps (%s)", bytesText(maxLibraryBytes))
	}
	proto, err := compileScript(body, scriptChunkName)
	if err != nil {
		return "", "ERR Error compiling function: " + functionText(err.Error())
	}
	lib := &functionLib{name: name, code: code, proto: proto}
	ctx, stop := context.WithCancelCause(context.Background())
	defer stop(nil)
	ctx, cancel := context.WithTimeoutCause(ctx, functionLoadLimit, errLoadTimeout)
	defer cancel()
	np := server.NewPeer(bufio.NewWriter(io.Discard))
	env, funcs, msg := s.runLibrary(ctx, stop, nil, np, lib, true, nil)
	if env != nil {
		env.close()
	}
	if msg != "" {
		return "", msg
	}
	if len(funcs) == 0 {
		return "", "ERR No functions registered"
	}
	lib.funcs = map[string]*luaFunction{}
	for _, f := range funcs {
		f.lib = lib
		lib.funcs[f.name] = f
	}
	libs.mu.Lock()
	defer libs.mu.Unlock()
	if cur := libs.libs[name]; cur != old || (cur != nil && !replace) {
		return "", fmt.Sprintf("ERR Library '%s' already exists", name)
	}
	for fname := range lib.funcs {
		if f, ok := libs.funcs[fname]; ok && f.lib != old {
			return "", fmt.Sprintf("ERR Function %s already exists", fname)
		}
	}
	if old != nil {
		libs.unlink(old)
	}
	libs.link(lib)
	return name, ""
}

// errLoadTimeout stops a library's code that runs past functionLoadLimit.
var errLoadTimeout = errors.New("FUNCTION LOAD timeout")

// functionText shows Lua's positions in a library as Redis does.
func functionText(s string) string {
	return strings.ReplaceAll(s, scriptChunkName+":", functionChunkName+":")
}

// runLibrary runs a library's code in a fresh sandbox whose redis table is
// Redis's load-time one (register_function, log, the version), then puts
// the run-time redis table in its place; onRegister, if not nil, sees each
// function registered with its callback. It returns the sandbox (to run a
// function in; the caller closes it), what the code registered, and the
// error answer of a failed load. At FUNCTION LOAD (load) the errors are
// "Error registering functions: ..."; at FCALL the library has loaded once
// already, so a failure is the time or memory limit. heap is the run's
// memory budget; nil (at FUNCTION LOAD, outside the gate) gets one of its
// own, watched while the library's code runs.
func (s *scripts) runLibrary(ctx context.Context, stop context.CancelCauseFunc, heap *heapBudget, c *server.Peer, lib *functionLib, load bool, onRegister func(*luaFunction, *lua.LFunction)) (*scriptEnv, []*luaFunction, string) {
	if heap == nil {
		heap = newHeapBudget(s.cfg.memoryLimit, stop)
		defer s.watching(heap)()
	}
	env := newScriptEnv(s, c, lib.name, false, heap)
	L := env.L
	g := L.G.Global
	runtime := g.RawGetString("redis")
	var funcs []*luaFunction
	loading := true
	loadAPI := L.NewTable()
	for _, k := range []string{"log", "LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING", "REDIS_VERSION", "REDIS_VERSION_NUM"} {
		loadAPI.RawSetString(k, runtime.(*lua.LTable).RawGetString(k))
	}
	loadAPI.RawSetString("register_function", L.NewFunction(func(L *lua.LState) int {
		if !loading {
			raiseTable(L, "ERR redis.register_function can only be called on FUNCTION LOAD command")
		}
		f, cb, msg := registerArgs(L)
		if msg == "" && !validName(f.name) {
			msg = msgBadName
		}
		if msg == "" && slices.ContainsFunc(funcs, func(o *luaFunction) bool { return o.name == f.name }) {
			msg = "ERR Function already exists in the library"
		}
		if msg != "" {
			raiseTable(L, msg)
		}
		funcs = append(funcs, f)
		if onRegister != nil {
			onRegister(f, cb)
		}
		return 0
	}))
	// Redis's load-time table answers a missing name as _G does.
	loadMeta := L.NewTable()
	loadMeta.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		raise(L, msgNoGlobal, lua.LVAsString(L.Get(2)))
		return 0
	}))
	loadAPI.Metatable = loadMeta
	g.RawSetString("redis", loadAPI)
	env.protect()
	env.readonly[loadAPI] = true
	L.SetContext(ctx)
	L.Push(L.NewFunctionFromProto(lib.proto))
	err := L.PCall(0, 0, nil)
	loading = false
	g.RawSetString("redis", runtime)
	if cause := context.Cause(ctx); cause != nil {
		switch {
		case errors.Is(cause, errLoadTimeout):
			return env, nil, "ERR Error registering functions: ERR FUNCTION LOAD timeout"
		case load:
			return env, nil, "ERR Error registering functions: " + s.stopped(cause)
		default:
			return env, nil, s.stopped(cause)
		}
	}
	if err != nil {
		msg := "ERR unknown error"
		var ae *lua.ApiError
		if errors.As(err, &ae) {
			switch o := ae.Object.(type) {
			case *lua.LTable:
				if e, ok := o.RawGetString("err").(lua.LString); ok {
					msg = string(e)
				}
			default:
				msg = "ERR " + translateError(lua.LVAsString(o))
			}
		}
		return env, nil, "ERR Error registering functions: " + functionText(msg)
	}
	return env, funcs, ""
}

// registerArgs reads redis.register_function's arguments: (name, callback)
// or {function_name=, callback=, description=, flags=}.
func registerArgs(L *lua.LState) (*luaFunction, *lua.LFunction, string) {
	f := &luaFunction{flags: map[string]bool{}}
	switch L.GetTop() {
	case 2:
		name, ok := L.Get(1).(lua.LString)
		if !ok {
			return nil, nil, "ERR first argument to redis.register_function must be a string"
		}
		cb, ok := L.Get(2).(*lua.LFunction)
		if !ok {
			return nil, nil, "ERR second argument to redis.register_function must be a function"
		}
		f.name = string(name)
		return f, cb, ""
	case 1:
	default:
		return nil, nil, "ERR wrong number of arguments to redis.register_function"
	}
	t, ok := L.Get(1).(*lua.LTable)
	if !ok {
		return nil, nil, "ERR calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments)."
	}
	var (
		msg string
		cb  *lua.LFunction
	)
	named := false
	t.ForEach(func(k, v lua.LValue) {
		if msg != "" {
			return
		}
		key, ok := k.(lua.LString)
		if !ok {
			msg = "ERR named argument key given to redis.register_function is not a string"
			return
		}
		switch strings.ToLower(string(key)) {
		case "function_name":
			s, ok := v.(lua.LString)
			if !ok {
				msg = "ERR function_name argument given to redis.register_function must be a string"
				return
			}
			f.name, named = string(s), true
		case "description":
			s, ok := v.(lua.LString)
			if !ok {
				msg = "ERR description argument given to redis.register_function must be a string"
				return
			}
			d := string(s)
			f.desc = &d
		case "callback":
			fn, ok := v.(*lua.LFunction)
			if !ok {
				msg = "ERR callback argument given to redis.register_function must be a function"
				return
			}
			cb = fn
		case "flags":
			ft, ok := v.(*lua.LTable)
			if !ok {
				msg = "ERR flags argument to redis.register_function must be a table representing function flags"
				return
			}
			ft.ForEach(func(_, fv lua.LValue) {
				s, ok := fv.(lua.LString)
				if !ok || !slices.Contains(scriptFlags, string(s)) {
					msg = "ERR unknown flag given"
					return
				}
				f.flags[string(s)] = true
			})
		default:
			msg = "ERR unknown argument given to redis.register_function"
		}
	})
	switch {
	case msg != "":
		return nil, nil, msg
	case !named:
		return nil, nil, "ERR redis.register_function must get a function name argument"
	case cb == nil:
		return nil, nil, "ERR redis.register_function must get a callback argument"
	}
	return f, cb, ""
}

// fcall serves FCALL and FCALL_RO function numkeys key... arg...
func (s *scripts) fcall(c *server.Peer, cmd string, args []string) {
	if len(args) < 2 {
		c.WriteError(wrongArgs(cmd))
		return
	}
	if subscribed(c) {
		c.WriteError(fmt.Sprintf("ERR Can't execute '%s': only (P)SUBSCRIBE / (P)UNSUBSCRIBE / PING / QUIT are allowed in this context", strings.ToLower(cmd)))
		return
	}
	libs := s.cfg.functions
	libs.mu.Lock()
	f := libs.funcs[args[0]]
	libs.mu.Unlock()
	if f == nil {
		c.WriteError("ERR Function not found")
		return
	}
	n, err := strconv.ParseInt(args[1], 10, 64)
	switch {
	case err != nil:
		c.WriteError("ERR Bad number of keys provided")
		return
	case n > int64(len(args)-2):
		c.WriteError(msgKeysTooMany)
		return
	case n < 0:
		c.WriteError(msgKeysNegative)
		return
	}
	noWrites := f.flags["no-writes"]
	if cmd == "FCALL_RO" && !noWrites {
		c.WriteError("ERR Can not execute a script with write flag using *_ro command.")
		return
	}
	keys, argv := args[2:2+n], args[2+n:]
	s.runGated(c, func(ctx context.Context, stop context.CancelCauseFunc, heap *heapBudget) reply {
		libs.mu.Lock()
		libs.running = &runningFunction{name: f.name, command: append([]string{strings.ToLower(cmd)}, args...), started: time.Now()}
		libs.mu.Unlock()
		defer func() {
			libs.mu.Lock()
			libs.running = nil
			libs.mu.Unlock()
		}()
		return s.executeFunction(ctx, stop, heap, c, f, keys, argv, noWrites)
	})
}

// executeFunction runs one function under runGated and returns its answer.
func (s *scripts) executeFunction(ctx context.Context, stop context.CancelCauseFunc, heap *heapBudget, c *server.Peer, f *luaFunction, keys, argv []string, readOnly bool) reply {
	// The library registers its functions again in this run's state; the
	// callback to call is the one registered under f's name.
	var fn *lua.LFunction
	env, _, msg := s.runLibrary(ctx, stop, heap, c, f.lib, false, func(r *luaFunction, cb *lua.LFunction) {
		if r.name == f.name {
			fn = cb
		}
	})
	if env != nil {
		defer env.close()
	}
	if msg != "" {
		return reply{err: msg}
	}
	if fn == nil {
		return reply{err: "ERR Function not found"}
	}
	env.readOnly = readOnly
	L := env.L
	L.Push(fn)
	L.Push(stringsTable(L, keys))
	L.Push(stringsTable(L, argv))
	err := L.PCall(2, 1, nil)
	if cause := context.Cause(ctx); cause != nil {
		return reply{err: s.stopped(cause) + " script: " + f.name + ", on @" + functionChunkName + "."}
	}
	if err != nil {
		rep := scriptError(err, f.name)
		rep.err = functionText(rep.err)
		return rep
	}
	rep, msg := toReply(L.Get(-1), 0)
	if msg != "" {
		return reply{err: msg}
	}
	return rep
}

// list serves FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]; libraries
// and their functions come sorted by name (Redis's come in hash order).
func (l *functionLibs) list(c *server.Peer, args []string) {
	withCode, pattern, filtered := false, "", false
	for i := 0; i < len(args); i++ {
		switch {
		case !withCode && strings.EqualFold(args[i], "WITHCODE"):
			withCode = true
		case !filtered && strings.EqualFold(args[i], "LIBRARYNAME"):
			if i >= len(args)-1 {
				c.WriteError("ERR library name argument was not given")
				return
			}
			i++
			pattern, filtered = args[i], true
		default:
			c.WriteError("ERR Unknown argument " + args[i])
			return
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var libs []*functionLib
	for _, lib := range l.libs {
		if !filtered || globMatch(pattern, lib.name) {
			libs = append(libs, lib)
		}
	}
	slices.SortFunc(libs, func(a, b *functionLib) int { return strings.Compare(a.name, b.name) })
	c.WriteLen(len(libs))
	for _, lib := range libs {
		if withCode {
			c.WriteMapLen(4)
		} else {
			c.WriteMapLen(3)
		}
		c.WriteBulk("library_name")
		c.WriteBulk(lib.name)
		c.WriteBulk("engine")
		c.WriteBulk("LUA")
		c.WriteBulk("functions")
		names := make([]string, 0, len(lib.funcs))
		for name := range lib.funcs {
			names = append(names, name)
		}
		slices.Sort(names)
		c.WriteLen(len(names))
		for _, name := range names {
			f := lib.funcs[name]
			c.WriteMapLen(3)
			c.WriteBulk("name")
			c.WriteBulk(f.name)
			c.WriteBulk("description")
			if f.desc != nil {
				c.WriteBulk(*f.desc)
			} else {
				c.WriteNull()
			}
			c.WriteBulk("flags")
			var flags []string
			for _, fl := range scriptFlags {
				if f.flags[fl] {
					flags = append(flags, fl)
				}
			}
			c.WriteSetLen(len(flags))
			for _, fl := range flags {
				c.WriteInline(fl)
			}
		}
		if withCode {
			c.WriteBulk("library_code")
			c.WriteBulk(lib.code)
		}
	}
}

// functionStats serves FUNCTION STATS; it does not wait for a running
// script, as in Redis.
func (s *scripts) functionStats(c *server.Peer) {
	l := s.cfg.functions
	l.mu.Lock()
	defer l.mu.Unlock()
	c.WriteMapLen(2)
	c.WriteBulk("running_script")
	if r := l.running; r == nil {
		c.WriteNull()
	} else {
		c.WriteMapLen(3)
		c.WriteBulk("name")
		c.WriteBulk(r.name)
		c.WriteBulk("command")
		c.WriteStrings(r.command)
		c.WriteBulk("duration_ms")
		c.WriteInt(int(time.Since(r.started).Milliseconds()))
	}
	c.WriteBulk("engines")
	c.WriteMapLen(1)
	c.WriteBulk("LUA")
	c.WriteMapLen(2)
	c.WriteBulk("libraries_count")
	c.WriteInt(len(l.libs))
	c.WriteBulk("functions_count")
	c.WriteInt(len(l.funcs))
}

// globMatch matches s against a Redis glob pattern (stringmatchlen): *, ?,
// [abc], [^a-z] and \ escapes. It remembers the last * only, so it runs in
// len(pattern)*len(s) steps at most.
func globMatch(pattern, s string) bool {
	p, i := 0, 0
	starP, starI := -1, 0
	for i < len(s) {
		if p < len(pattern) {
			switch pattern[p] {
			case '*':
				starP, starI = p, i
				p++
				continue
			case '?':
				p++
				i++
				continue
			case '[':
				if end, ok := classMatch(pattern, p, s[i]); ok {
					p, i = end, i+1
					continue
				}
			case '\\':
				if p+1 < len(pattern) && pattern[p+1] == s[i] {
					p, i = p+2, i+1
					continue
				}
			default:
				if pattern[p] == s[i] {
					p++
					i++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		starI++
		p, i = starP+1, starI
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// classMatch matches b against the [...] class at pattern[p]; it returns
// the index after the class.
func classMatch(pattern string, p int, b byte) (int, bool) {
	p++
	not := p < len(pattern) && pattern[p] == '^'
	if not {
		p++
	}
	match := false
	for p < len(pattern) && pattern[p] != ']' {
		switch {
		case pattern[p] == '\\' && p+1 < len(pattern):
			p++
			match = match || pattern[p] == b
		case p+2 < len(pattern) && pattern[p+1] == '-' && pattern[p+2] != ']':
			lo, hi := pattern[p], pattern[p+2]
			if lo > hi {
				lo, hi = hi, lo
			}
			match = match || (b >= lo && b <= hi)
			p += 2
		default:
			match = match || pattern[p] == b
		}
		p++
	}
	if p < len(pattern) {
		p++ // the ]
	}
	return p, match != not
}
