package embeddedplane

// The redis library of a script, and the conversions between Redis replies
// and Lua values, as redis-server 7.0 does them. Adapted in part from
// miniredis's lua.go (github.com/alicebob/miniredis/v2, MIT licence,
// Copyright (c) 2014 Harmen).

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/alicebob/miniredis/v2/server"
	lua "github.com/yuin/gopher-lua"

	"github.com/devapi-dev/devapi"
)

// Redis's answers from redis.call, without the " script: ..." suffix.
const (
	msgCallNoArgs    = "ERR Please specify at least one argument for this redis lib call"
	msgCallArgType   = "ERR Lua redis lib command arguments must be strings or integers"
	msgCallUnknown   = "ERR Unknown Redis command called from script"
	msgCallArity     = "ERR Wrong number of args calling Redis command from script"
	msgCallNoScript  = "ERR This Redis command is not allowed from script"
	msgCallReadOnly  = "ERR Write commands are not allowed from read-only scripts."
	msgReplyTooDeep  = "ERR reached lua stack limit"
	msgScriptRuntime = "ERR Error running script: the Lua runtime failed"
)

// redisVersion is what redis.REDIS_VERSION says: the Redis the embedded
// plane's scripting follows.
const (
	redisVersion    = "7.0.15"
	redisVersionNum = 0x07000f
)

// maxReplyDepth bounds the nesting of a script's reply (a table that holds
// itself would never end).
const maxReplyDepth = 1000

// noScript are the commands Redis refuses in scripts (flag noscript, Redis
// 7.0); of a container command (CLIENT, CONFIG, ...) every subcommand but
// HELP.
var noScript = map[string]bool{
	"AUTH": true, "BGREWRITEAOF": true, "BGSAVE": true, "BLMOVE": true, "BLPOP": true, "BRPOP": true,
	"BRPOPLPUSH": true, "BZPOPMAX": true, "BZPOPMIN": true, "DEBUG": true, "DISCARD": true, "EVAL": true,
	"EVAL_RO": true, "EVALSHA": true, "EVALSHA_RO": true, "EXEC": true, "FAILOVER": true, "FCALL": true,
	"FCALL_RO": true, "HELLO": true, "MONITOR": true, "MULTI": true, "PSUBSCRIBE": true, "PSYNC": true,
	"PUNSUBSCRIBE": true, "QUIT": true, "REPLCONF": true, "REPLICAOF": true, "RESET": true, "ROLE": true,
	"SAVE": true, "SHUTDOWN": true, "SLAVEOF": true, "SSUBSCRIBE": true, "SUBSCRIBE": true,
	"SUNSUBSCRIBE": true, "SYNC": true, "UNSUBSCRIBE": true, "UNWATCH": true, "WAIT": true, "WAITAOF": true,
	"WATCH": true,
}

var noScriptContainer = map[string]bool{
	"ACL": true, "CLIENT": true, "CONFIG": true, "FUNCTION": true, "LATENCY": true, "MODULE": true, "SCRIPT": true,
}

// writeCommands are the commands a read-only script (EVAL_RO, EVALSHA_RO)
// may not run: Redis 7.0's write and may-replicate commands, and the write
// commands miniredis knows from later versions.
var writeCommands = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range strings.Fields(`APPEND BITFIELD BITOP BLMOVE BLMPOP BLPOP BRPOP BRPOPLPUSH BZMPOP
		BZPOPMAX BZPOPMIN COPY DECR DECRBY DEL EXPIRE EXPIREAT FLUSHALL FLUSHDB GEOADD GEORADIUS
		GEORADIUSBYMEMBER GEOSEARCHSTORE GETDEL GETEX GETSET HDEL HINCRBY HINCRBYFLOAT HMSET HSET HSETNX
		INCR INCRBY INCRBYFLOAT LINSERT LMOVE LMPOP LPOP LPUSH LPUSHX LREM LSET LTRIM MIGRATE MOVE MSET
		MSETNX PERSIST PEXPIRE PEXPIREAT PFADD PFDEBUG PFMERGE PSETEX RENAME RENAMENX RESTORE
		RESTORE-ASKING RPOP RPOPLPUSH RPUSH RPUSHX SADD SDIFFSTORE SET SETBIT SETEX SETNX SETRANGE
		SINTERSTORE SMOVE SORT SPOP SREM SUNIONSTORE SWAPDB UNLINK XACK XADD XAUTOCLAIM XCLAIM XDEL
		XREADGROUP XSETID XTRIM ZADD ZDIFFSTORE ZINCRBY ZINTERSTORE ZMPOP ZPOPMAX ZPOPMIN ZRANGESTORE
		ZREM ZREMRANGEBYLEX ZREMRANGEBYRANK ZREMRANGEBYSCORE ZUNIONSTORE
		PUBLISH SPUBLISH PFCOUNT XGROUP
		DELEX HEXPIRE HPERSIST HSETEX
		HPEXPIRE HEXPIREAT HPEXPIREAT HGETDEL HGETEX XDELEX XACKDEL
		JSON.SET JSON.MSET JSON.MERGE JSON.DEL JSON.FORGET JSON.CLEAR JSON.TOGGLE JSON.NUMINCRBY
		JSON.NUMMULTBY JSON.STRAPPEND JSON.ARRAPPEND JSON.ARRINSERT JSON.ARRPOP JSON.ARRTRIM`) {
		m[c] = true
	}
	return m
}()

// redisLib is the script's redis table.
func (e *scriptEnv) redisLib() *lua.LTable {
	L := e.L
	t := L.NewTable()
	e.setFuncs(t, map[string]lua.LGFunction{
		"call":               func(L *lua.LState) int { return e.call(L, true) },
		"pcall":              func(L *lua.LState) int { return e.call(L, false) },
		"error_reply":        redisErrorReply,
		"status_reply":       redisStatusReply,
		"sha1hex":            redisSha1hex,
		"log":                e.redisLog,
		"setresp":            redisSetresp,
		"set_repl":           redisSetRepl,
		"replicate_commands": func(L *lua.LState) int { L.Push(lua.LTrue); return 1 },
		"breakpoint":         func(L *lua.LState) int { L.Push(lua.LFalse); return 1 },
		"debug":              func(*lua.LState) int { return 0 },
		"acl_check_cmd":      e.aclCheckCmd,
	})
	for k, v := range map[string]lua.LValue{
		"LOG_DEBUG": lua.LNumber(0), "LOG_VERBOSE": lua.LNumber(1), "LOG_NOTICE": lua.LNumber(2), "LOG_WARNING": lua.LNumber(3),
		"REPL_NONE": lua.LNumber(0), "REPL_AOF": lua.LNumber(1), "REPL_SLAVE": lua.LNumber(2), "REPL_REPLICA": lua.LNumber(2), "REPL_ALL": lua.LNumber(3),
		"REDIS_VERSION": lua.LString(redisVersion), "REDIS_VERSION_NUM": lua.LNumber(redisVersionNum),
	} {
		t.RawSetString(k, v)
	}
	return t
}

// callArgs converts redis.call's arguments: strings, and numbers as Lua
// writes them.
func callArgs(L *lua.LState) []string {
	n := L.GetTop()
	if n == 0 {
		raiseTable(L, msgCallNoArgs)
	}
	args := make([]string, n)
	for i := 1; i <= n; i++ {
		switch v := L.Get(i).(type) {
		case lua.LString:
			args[i-1] = string(v)
		case lua.LNumber:
			// Redis writes numbers with "%.17g" here.
			args[i-1] = fmtFloat(float64(v), 17)
		default:
			raiseTable(L, msgCallArgType)
		}
	}
	return args
}

// raiseTable raises a Redis error, {err = msg}, as redis.call does.
func raiseTable(L *lua.LState, msg string) {
	t := L.NewTable()
	t.RawSetString("err", lua.LString(msg))
	L.Error(t, 0)
}

// refusal is the error for args a script may not run, or "".
func (e *scriptEnv) refusal(args []string) string {
	if msg := devapi.CommandRefused(args); msg != "" {
		return msg
	}
	cmd := strings.ToUpper(args[0])
	if noScript[cmd] {
		return msgCallNoScript
	}
	if noScriptContainer[cmd] && (len(args) < 2 || !strings.EqualFold(args[1], "HELP")) {
		return msgCallNoScript
	}
	if (cmd == "XREAD" || cmd == "XREADGROUP") && hasArg(args[1:], "BLOCK") {
		return fmt.Sprintf("ERR %s command is not allowed with BLOCK option from scripts", strings.ToLower(cmd))
	}
	if !e.s.m.Server().IsRegisteredCommand(cmd) {
		return msgCallUnknown
	}
	if e.readOnly && writeCommands[cmd] {
		return msgCallReadOnly
	}
	return ""
}

func hasArg(args []string, word string) bool {
	for _, a := range args {
		if strings.EqualFold(a, word) {
			return true
		}
	}
	return false
}

// call is redis.call (raise) and redis.pcall (return the error table).
func (e *scriptEnv) call(L *lua.LState, raise bool) int {
	args := callArgs(L)
	fail := func(msg string) int {
		if raise {
			raiseTable(L, msg)
		}
		t := L.NewTable()
		t.RawSetString("err", lua.LString(msg))
		L.Push(t)
		return 1
	}
	if msg := e.refusal(args); msg != "" {
		return fail(msg)
	}
	if strings.EqualFold(args[0], "BZMPOP") || strings.EqualFold(args[0], "BLMPOP") {
		// Redis runs blocking commands in scripts without blocking; the
		// rest are noscript. BZMPOP timeout numkeys ... is ZMPOP numkeys ...
		// (BLMPOP, lists.go, is LMPOP likewise).
		if len(args) < 2 {
			return fail(msgCallArity)
		}
		if _, err := strconv.ParseFloat(args[1], 64); err != nil {
			return fail("ERR timeout is not a float or out of range")
		}
		args = append([]string{strings.ToUpper(args[0][1:])}, args[2:]...)
	}
	res, err := e.s.dispatch(e.caller, e.ctx, args)
	if err != nil {
		msg := err.Error()
		if strings.HasPrefix(msg, "ERR wrong number of arguments") {
			msg = msgCallArity
		} else if strings.HasPrefix(msg, "ERR unknown command") {
			msg = msgCallUnknown
		}
		return fail(msg)
	}
	L.Push(replyToLua(L, res))
	return 1
}

// replyToLua converts a parsed miniredis reply: integers to numbers, bulk
// strings to strings, nil to false, arrays to tables, status replies to
// {ok = ...}.
func replyToLua(L *lua.LState, r any) lua.LValue {
	switch r := r.(type) {
	case nil:
		return lua.LFalse
	case int:
		return lua.LNumber(r)
	case int64:
		return lua.LNumber(r)
	case string:
		return lua.LString(r)
	case server.Simple:
		t := L.NewTable()
		t.RawSetString("ok", lua.LString(string(r)))
		return t
	case []any:
		t := L.CreateTable(len(r), 0)
		for i, v := range r {
			t.RawSetInt(i+1, replyToLua(L, v))
		}
		return t
	case error:
		t := L.NewTable()
		t.RawSetString("err", lua.LString(r.Error()))
		return t
	}
	return lua.LFalse
}

func redisErrorReply(L *lua.LState) int {
	s, ok := L.Get(1).(lua.LString)
	if !ok || L.GetTop() != 1 {
		raise(L, "wrong number or type of arguments")
	}
	msg := string(s)
	msg = strings.TrimPrefix(msg, "-")
	if !strings.Contains(msg, " ") {
		msg = "ERR " + msg
	}
	t := L.NewTable()
	t.RawSetString("err", lua.LString(msg))
	L.Push(t)
	return 1
}

func redisStatusReply(L *lua.LState) int {
	s, ok := L.Get(1).(lua.LString)
	if !ok || L.GetTop() != 1 {
		raise(L, "wrong number or type of arguments")
	}
	t := L.NewTable()
	t.RawSetString("ok", s)
	L.Push(t)
	return 1
}

func redisSha1hex(L *lua.LState) int {
	if L.GetTop() != 1 {
		raise(L, "wrong number of arguments")
	}
	s, _ := concatString(L.Get(1))
	L.Push(lua.LString(sha1hex(s)))
	return 1
}

// redisLog logs to devapi's log (PlaneConfig.Logger), rate-limited; never
// to standard output.
func (e *scriptEnv) redisLog(L *lua.LState) int {
	n := L.GetTop()
	if n < 2 {
		raise(L, "redis.log() requires two arguments or more.")
	}
	level, ok := L.Get(1).(lua.LNumber)
	if !ok {
		raise(L, "First argument must be a number (log level).")
	}
	if level < 0 || level > 3 {
		raise(L, "Invalid debug level.")
	}
	parts := make([]string, 0, n-1)
	size := 0
	for i := 2; i <= n && size < maxLogText; i++ {
		s, _ := concatString(L.Get(i))
		parts = append(parts, s)
		size += len(s) + 1
	}
	e.s.logLine(int(level), strings.Join(parts, " "))
	return 0
}

// redisSetresp accepts RESP 2 and 3 as Redis does; on the embedded plane
// redis.call replies stay RESP2-shaped either way.
func redisSetresp(L *lua.LState) int {
	if L.GetTop() != 1 {
		raise(L, "redis.setresp() requires one argument.")
	}
	if v := L.CheckInt(1); v != 2 && v != 3 {
		raise(L, "RESP version must be 2 or 3.")
	}
	return 0
}

func redisSetRepl(L *lua.LState) int {
	if L.GetTop() != 1 {
		raise(L, "redis.set_repl() requires one argument.")
	}
	if v := L.CheckInt(1); v < 0 || v > 3 {
		raise(L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.")
	}
	return 0
}

// aclCheckCmd is redis.acl_check_cmd: whether the database's user may run
// the command (the command policy).
func (e *scriptEnv) aclCheckCmd(L *lua.LState) int {
	args := callArgs(L)
	if devapi.CommandRefused(args) != "" {
		L.Push(lua.LFalse)
		return 1
	}
	if !e.s.m.Server().IsRegisteredCommand(args[0]) {
		raise(L, "Invalid command passed to redis.acl_check_cmd()")
	}
	L.Push(lua.LTrue)
	return 1
}

/* replies {{{ */

// reply is a script's answer: an error, or a Lua value toReply checked.
type reply struct {
	err string
	val lua.LValue
}

func errorReply(msg, sha string, line int) reply {
	if line > 0 {
		msg = fmt.Sprintf("%s script: %s, on @%s:%d.", msg, sha, scriptChunkName, line)
	}
	return reply{err: msg}
}

var scriptLine = regexp.MustCompile(regexp.QuoteMeta(scriptChunkName) + `:(\d+):`)

// errLine is the script line an error was raised on, or 0.
func errLine(err error) int {
	var ae *lua.ApiError
	if !errors.As(err, &ae) {
		return 0
	}
	for _, s := range []string{lua.LVAsString(ae.Object), ae.StackTrace} {
		if m := scriptLine.FindStringSubmatch(s); m != nil {
			n, _ := strconv.Atoi(m[1])
			return n
		}
	}
	return 0
}

// scriptError is the answer for a script that raised err: an error table's
// err field as it is, a string with "ERR ", both with Redis's suffix.
func scriptError(err error, sha string) reply {
	var ae *lua.ApiError
	if !errors.As(err, &ae) {
		return reply{err: msgScriptRuntime}
	}
	line := errLine(err)
	if ae.Type == lua.ApiErrorPanic {
		return errorReply("ERR "+luaRuntimeText(ae), sha, line)
	}
	if t, ok := ae.Object.(*lua.LTable); ok {
		if s, ok := t.RawGetString("err").(lua.LString); ok {
			return errorReply(string(s), sha, line)
		}
		return errorReply("ERR unknown error", sha, line)
	}
	return errorReply("ERR "+translateError(lua.LVAsString(ae.Object)), sha, line)
}

// luaRuntimeText is the text for a Go panic inside gopher-lua, whose own
// text is internal.
func luaRuntimeText(ae *lua.ApiError) string {
	if strings.Contains(fmt.Sprint(ae.Object), "callstack overflow") {
		return "stack overflow"
	}
	return "the Lua runtime failed"
}

// gopher-lua's texts for runtime errors, and Lua 5.1's.
var (
	reArith   = regexp.MustCompile(`cannot perform \w+ operation between (\w+) and (\w+)`)
	reIndex   = regexp.MustCompile(`attempt to index a non-table object\((\w+)\) with key '[^']*'`)
	reCompare = regexp.MustCompile(`attempt to compare (\w+) with (\w+)`)
	reBadArg  = regexp.MustCompile(`bad argument #(\d+) to ([\w.]+|\(anonymous\)) \(`)
)

// translateError rewrites gopher-lua's texts of runtime errors into Lua
// 5.1's where they differ only in words (Lua's names of variables are not
// known here: "attempt to index a nil value", not "... local 't' ...").
func translateError(msg string) string {
	msg = reArith.ReplaceAllStringFunc(msg, func(m string) string {
		sub := reArith.FindStringSubmatch(m)
		bad := sub[1]
		if bad == "number" || bad == "string" {
			bad = sub[2]
		}
		return "attempt to perform arithmetic on a " + bad + " value"
	})
	msg = reIndex.ReplaceAllString(msg, "attempt to index a $1 value")
	msg = reCompare.ReplaceAllStringFunc(msg, func(m string) string {
		sub := reCompare.FindStringSubmatch(m)
		if sub[1] == sub[2] {
			return "attempt to compare two " + sub[1] + " values"
		}
		return m
	})
	return reBadArg.ReplaceAllStringFunc(msg, func(m string) string {
		sub := reBadArg.FindStringSubmatch(m)
		name := sub[2]
		if name == "(anonymous)" {
			name = "?"
		}
		return "bad argument #" + sub[1] + " to '" + name + "' ("
	})
}

// toReply checks v can be written (nesting within maxReplyDepth).
func toReply(v lua.LValue, depth int) (reply, string) {
	if depth > maxReplyDepth {
		return reply{}, msgReplyTooDeep
	}
	t, ok := v.(*lua.LTable)
	if !ok {
		return reply{val: v}, ""
	}
	if _, ok := t.RawGetString("err").(lua.LString); ok {
		return reply{val: v}, ""
	}
	if _, ok := t.RawGetString("ok").(lua.LString); ok {
		return reply{val: v}, ""
	}
	if _, ok := t.RawGetString("double").(lua.LNumber); ok {
		return reply{val: v}, ""
	}
	if m, ok := t.RawGetString("map").(*lua.LTable); ok {
		for k, x := m.Next(lua.LNil); k != lua.LNil; k, x = m.Next(k) {
			for _, y := range []lua.LValue{k, x} {
				if _, msg := toReply(y, depth+1); msg != "" {
					return reply{}, msg
				}
			}
		}
		return reply{val: v}, ""
	}
	if s, ok := t.RawGetString("set").(*lua.LTable); ok {
		for k, _ := s.Next(lua.LNil); k != lua.LNil; k, _ = s.Next(k) {
			if _, msg := toReply(k, depth+1); msg != "" {
				return reply{}, msg
			}
		}
		return reply{val: v}, ""
	}
	for i := 1; ; i++ {
		x := t.RawGetInt(i)
		if x == lua.LNil {
			break
		}
		if _, msg := toReply(x, depth+1); msg != "" {
			return reply{}, msg
		}
	}
	return reply{val: v}, ""
}

// write sends the answer to c.
func (r reply) write(c *server.Peer) {
	if r.err != "" {
		c.WriteError(r.err)
		return
	}
	writeLua(c, r.val)
}

// writeLua writes a Lua value as Redis does: strings as bulk strings,
// numbers as integers (truncated), true as 1, false and nil as null,
// {err=}, {ok=}, {double=}, {map=}, {set=} as those replies, and other
// tables as arrays up to their first nil.
func writeLua(c *server.Peer, v lua.LValue) {
	switch v := v.(type) {
	case lua.LString:
		c.WriteBulk(string(v))
	case lua.LNumber:
		c.WriteInt(int(int64(v)))
	case lua.LBool:
		if v {
			c.WriteInt(1)
		} else {
			c.WriteNull()
		}
	case *lua.LTable:
		if s, ok := v.RawGetString("err").(lua.LString); ok {
			c.WriteError(string(s))
			return
		}
		if s, ok := v.RawGetString("ok").(lua.LString); ok {
			c.WriteInline(string(s))
			return
		}
		if d, ok := v.RawGetString("double").(lua.LNumber); ok {
			c.WriteFloat(float64(d))
			return
		}
		if m, ok := v.RawGetString("map").(*lua.LTable); ok {
			n := 0
			for k, _ := m.Next(lua.LNil); k != lua.LNil; k, _ = m.Next(k) {
				n++
			}
			c.WriteMapLen(n)
			for k, x := m.Next(lua.LNil); k != lua.LNil; k, x = m.Next(k) {
				writeLua(c, k)
				writeLua(c, x)
			}
			return
		}
		if s, ok := v.RawGetString("set").(*lua.LTable); ok {
			n := 0
			for k, _ := s.Next(lua.LNil); k != lua.LNil; k, _ = s.Next(k) {
				n++
			}
			c.WriteSetLen(n)
			for k, _ := s.Next(lua.LNil); k != lua.LNil; k, _ = s.Next(k) {
				writeLua(c, k)
			}
			return
		}
		n := 0
		for v.RawGetInt(n+1) != lua.LNil {
			n++
		}
		c.WriteLen(n)
		for i := 1; i <= n; i++ {
			writeLua(c, v.RawGetInt(i))
		}
	default:
		c.WriteNull()
	}
}

/* }}} */
