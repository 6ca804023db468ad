package embeddedplane

// The Lua environment of one script run: exactly the globals redis-server
// 7.0 gives a script, built fresh for every run on gopher-lua.
//
// Parts are adapted from miniredis's lua.go and cmd_scripting.go
// (github.com/alicebob/miniredis/v2, MIT licence, Copyright (c) 2014 Harmen)
// and from Lua 5.1's lbaselib.c, lstrlib.c and ltablib.c (MIT licence,
// Copyright (C) 1994-2012 Lua.org, PUC-Rio).

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/alicebob/miniredis/v2/server"
	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/ast"
	"github.com/yuin/gopher-lua/parse"
)

const (
	// scriptChunkName is the chunk name errors show, as Redis's
	// "user_script:1: ...".
	scriptChunkName = "user_script"
	// concatName is the global that the compiled scripts call for `..`
	// (see rewriteConcat). No Lua identifier can name it.
	concatName = "(concat)"

	// Lua state bounds. callStackSize is Lua 5.1's LUAI_MAXCALLS (nested
	// calls); the value stack starts small and grows by registryGrowBy up
	// to registryMaxSize slots (16 bytes each), so a script cannot grow it
	// without bound, and no single growth copies much.
	callStackSize   = 20000
	registrySize    = 4096
	registryMaxSize = 256 * 1024
	registryGrowBy  = 8192
	// maxResults is Lua 5.1's LUAI_MAXCSTACK: unpack and string.byte
	// return at most that many values.
	maxResults = 8000
	// maxSyntaxLevels bounds the nesting of a script's syntax tree, as Lua
	// 5.1 does (LUAI_MAXCCALLS, 200): compiling recurses once per level,
	// and a deeper tree could overflow the goroutine's stack, which
	// ends the process.
	maxSyntaxLevels = 200
	// maxLoadPieces bounds the calls load() makes to its reader function.
	maxLoadPieces = 1 << 20
)

// Redis's answers for scripts that touch what they may not.
const (
	msgReadonlyTable = "Attempt to modify a readonly table"
	msgNoGlobal      = "Script attempted to access nonexistent global variable '%s'"
)

// removedGlobals are what gopher-lua's base library has and redis-server
// does not give a script.
var removedGlobals = []string{
	"dofile", "loadfile", "require", "module", "package", "setfenv", "getfenv",
	"print", "newproxy", "_printregs", "_GOPHER_LUA_VERSION", "os", "io", "debug", "channel",
}

// scriptEnv is one run's Lua state and what its functions need.
type scriptEnv struct {
	s        *scripts
	L        *lua.LState
	caller   *server.Peer
	ctx      any // the miniredis state of the peer that runs redis.call
	sha      string
	readOnly bool
	heap     *heapBudget
	// readonly are the tables a script may not change (_G and the
	// libraries), as in Redis 7.
	readonly map[*lua.LTable]bool
	concat   *lua.LFunction
	// stringMeta is the metatable of strings.
	stringMeta *lua.LTable
}

// newScriptEnv returns a fresh Lua state with Redis's globals but KEYS and
// ARGV; protect must be called after those are set.
func newScriptEnv(s *scripts, caller *server.Peer, sha string, readOnly bool, heap *heapBudget) *scriptEnv {
	L := lua.NewState(lua.Options{
		SkipOpenLibs:        true,
		CallStackSize:       callStackSize,
		MinimizeStackMemory: true,
		RegistrySize:        registrySize,
		RegistryMaxSize:     registryMaxSize,
		RegistryGrowStep:    registryGrowBy,
	})
	e := &scriptEnv{
		s:        s,
		L:        L,
		caller:   caller,
		ctx:      copyCtx(caller.Ctx),
		sha:      sha,
		readOnly: readOnly,
		heap:     heap,
		readonly: map[*lua.LTable]bool{},
	}
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
		{lua.CoroutineLibName, lua.OpenCoroutine},
	} {
		L.Push(L.NewFunction(lib.open))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	g := L.G.Global
	for _, name := range removedGlobals {
		g.RawSetString(name, lua.LNil)
	}
	e.concat = L.NewFunction(e.luaConcat)
	e.setFuncs(g, map[string]lua.LGFunction{
		"collectgarbage":        luaCollectGarbage,
		"gcinfo":                luaGCInfo,
		"load":                  e.luaLoad,
		"loadstring":            e.luaLoadString,
		"unpack":                luaUnpack,
		"tostring":              luaToString,
		"rawset":                e.luaRawSet,
		"error":                 luaError,
		"pcall":                 luaPcall,
		"setmetatable":          e.luaSetMetatable,
		"__redis__err__handler": luaErrHandler,
	})
	str := g.RawGetString("string").(*lua.LTable)
	e.setFuncs(str, map[string]lua.LGFunction{
		"rep":    e.strRep,
		"format": e.strFormat,
		"byte":   strByte,
		"char":   strChar,
		"dump":   strDump,
		"find":   e.strFind,
		"match":  e.strMatch,
		"gsub":   e.strGsub,
	})
	// The string metatable is a table of its own, {__index = string}, as
	// in Lua 5.1; gopher-lua uses the string table itself.
	str.RawSetString("__index", lua.LNil)
	e.stringMeta = L.NewTable()
	e.stringMeta.RawSetString("__index", str)
	L.SetMetatable(lua.LString(""), e.stringMeta)
	gmatch := L.NewFunction(e.strGmatch)
	str.RawSetString("gmatch", gmatch)
	str.RawSetString("gfind", gmatch)
	tbl := g.RawGetString("table").(*lua.LTable)
	e.setFuncs(tbl, map[string]lua.LGFunction{
		"concat":   e.tabConcat,
		"foreach":  tabForeach,
		"foreachi": tabForeachi,
		"setn":     tabSetn,
	})
	g.RawSetString("bit", e.bitLib())
	g.RawSetString("cjson", e.cjsonLib())
	g.RawSetString("cmsgpack", e.cmsgpackLib())
	g.RawSetString("struct", e.structLib())
	g.RawSetString("redis", e.redisLib())
	return e
}

func (e *scriptEnv) setFuncs(t *lua.LTable, fns map[string]lua.LGFunction) {
	for name, fn := range fns {
		t.RawSetString(name, e.L.NewFunction(fn))
	}
}

// protect makes _G and the libraries read-only and the missing globals an
// error, with Redis's texts.
func (e *scriptEnv) protect() {
	L := e.L
	g := L.G.Global
	e.readonly[g] = true
	e.readonly[e.stringMeta] = true
	for _, name := range []string{"string", "table", "math", "coroutine", "bit", "cjson", "cmsgpack", "struct", "redis"} {
		if t, ok := g.RawGetString(name).(*lua.LTable); ok {
			e.readonly[t] = true
		}
	}
	mt := L.NewTable()
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		name := L.Get(2)
		if s, ok := name.(lua.LString); ok && string(s) == concatName {
			L.Push(e.concat)
			return 1
		}
		raise(L, msgNoGlobal, lua.LVAsString(name))
		return 0
	}))
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		raise(L, msgReadonlyTable)
		return 0
	}))
	mt.RawSetString("__metatable", lua.LFalse)
	g.Metatable = mt
}

// raise raises a Lua error as luaL_error does: with the position of the
// caller when that is Lua code (not when a Go function such as pcall
// called it). gopher-lua's RaiseError always adds the nearest Lua
// position.
func raise(L *lua.LState, format string, args ...any) {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	if dbg, ok := L.GetStack(1); ok {
		if _, err := L.GetInfo("Sl", dbg, lua.LNil); err == nil && dbg.What != "G" && dbg.CurrentLine > 0 {
			msg = fmt.Sprintf("%s:%d: %s", dbg.Source, dbg.CurrentLine, msg)
		}
	}
	L.Error(lua.LString(msg), 0)
}

// luaError is Lua's error(): any value, nil included; a string gets the
// position of the given level.
func luaError(L *lua.LState) int {
	v := L.Get(1)
	level := L.OptInt(2, 1)
	if s, ok := v.(lua.LString); ok && level > 0 {
		if dbg, ok := L.GetStack(level); ok {
			if _, err := L.GetInfo("Sl", dbg, lua.LNil); err == nil && dbg.What != "G" && dbg.CurrentLine > 0 {
				v = lua.LString(fmt.Sprintf("%s:%d: %s", dbg.Source, dbg.CurrentLine, s))
			}
		}
	}
	L.Error(v, 0)
	return 0
}

// luaPcall is Redis 7's pcall: an error table with an err field is
// caught as that string.
func luaPcall(L *lua.LState) int {
	L.CheckAny(1)
	v := L.Get(1)
	if v.Type() != lua.LTFunction && L.GetMetaField(v, "__call").Type() != lua.LTFunction {
		L.Push(lua.LFalse)
		L.Push(lua.LString("attempt to call a " + v.Type().String() + " value"))
		return 2
	}
	if err := L.PCall(L.GetTop()-1, lua.MultRet, nil); err != nil {
		L.Push(lua.LFalse)
		var obj lua.LValue = lua.LString(err.Error())
		var ae *lua.ApiError
		if errors.As(err, &ae) {
			obj = ae.Object
			if ae.Type == lua.ApiErrorPanic {
				obj = lua.LString(luaRuntimeText(ae))
			}
		}
		if t, ok := obj.(*lua.LTable); ok {
			if s, ok := t.RawGetString("err").(lua.LString); ok {
				obj = s
			}
		}
		if s, ok := obj.(lua.LString); ok {
			obj = lua.LString(translateError(string(s)))
		}
		L.Push(obj)
		return 2
	}
	L.Insert(lua.LTrue, 1)
	return L.GetTop()
}

// tooLarge raises the error for a value of n bytes over the memory limit,
// before anything is allocated.
func (e *scriptEnv) tooLarge(L *lua.LState, what string, n float64) {
	if n > float64(e.heap.limit) {
		raise(L, "%s: a result of %.0f bytes is over the script memory limit (%s)", what, n, bytesText(int64(e.heap.limit)))
	}
}

// reserve is tooLarge for a value made in one piece, which also must fit
// in what is left of the run's memory budget: without it, a script that
// keeps a few such values could take the heap past the limit by a whole
// value between two samples of the watchdog. Over the budget, the run is
// stopped (its answer is the memory limit's) and the value never made.
func (e *scriptEnv) reserve(L *lua.LState, what string, n float64) {
	e.tooLarge(L, what, n)
	if n >= bigValue && !e.heap.fits(uint64(n)) {
		raise(L, "%s: over the script memory limit", what)
	}
}

// luaConcat is `..`: every concatenation in a script is compiled into a
// call of it (see rewriteConcat), so that a chain of them cannot make one
// string larger than the memory limit. Lua's rules: strings and numbers
// concatenate, anything else goes to __concat.
func (e *scriptEnv) luaConcat(L *lua.LState) int {
	a, b := L.Get(1), L.Get(2)
	as, aok := concatString(a)
	bs, bok := concatString(b)
	if aok && bok {
		e.reserve(L, "concatenation", float64(len(as))+float64(len(bs)))
		L.Push(lua.LString(as + bs))
		return 1
	}
	mm := L.GetMetaField(a, "__concat")
	if mm == lua.LNil {
		mm = L.GetMetaField(b, "__concat")
	}
	if mm == lua.LNil {
		bad := a
		if aok {
			bad = b
		}
		raise(L, "attempt to concatenate a %s value", bad.Type().String())
		return 0
	}
	L.Push(mm)
	L.Push(a)
	L.Push(b)
	L.Call(2, 1)
	return 1
}

func concatString(v lua.LValue) (string, bool) {
	switch v := v.(type) {
	case lua.LString:
		return string(v), true
	case lua.LNumber:
		return fmtNumber(float64(v)), true
	}
	return "", false
}

// fmtNumber writes a number as Lua 5.1 does ("%.14g"): 1e+15, 0.1, inf.
func fmtNumber(f float64) string { return fmtFloat(f, 14) }

// fmtFloat is C's "%.<prec>g".
func fmtFloat(f float64, prec int) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	case f == math.Trunc(f) && math.Abs(f) < 1e14:
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', prec, 64)
}

func luaToString(L *lua.LState) int {
	v := L.CheckAny(1)
	if n, ok := v.(lua.LNumber); ok {
		L.Push(lua.LString(fmtNumber(float64(n))))
		return 1
	}
	L.Push(L.ToStringMeta(v))
	return 1
}

// luaCollectGarbage answers like Lua's but collects nothing: a script must
// not make the whole process collect garbage in a loop.
func luaCollectGarbage(L *lua.LState) int {
	switch opt := L.OptString(1, "collect"); opt {
	case "count":
		L.Push(lua.LNumber(0))
	case "stop", "restart", "collect", "step", "setpause", "setstepmul":
		L.Push(lua.LNumber(0))
	default:
		L.ArgError(1, "invalid option '"+opt+"'")
	}
	return 1
}

func luaGCInfo(L *lua.LState) int {
	L.Push(lua.LNumber(0))
	return 1
}

// luaErrHandler is Redis's __redis__err__handler: it turns an error into
// an error table.
func luaErrHandler(L *lua.LState) int {
	v := L.Get(1)
	if t, ok := v.(*lua.LTable); ok {
		L.Push(t)
		return 1
	}
	t := L.NewTable()
	t.RawSetString("err", lua.LString("ERR "+lua.LVAsString(L.ToStringMeta(v))))
	L.Push(t)
	return 1
}

func luaUnpack(L *lua.LState) int {
	t := L.CheckTable(1)
	i := L.OptInt(2, 1)
	j := L.OptInt(3, t.Len())
	if i > j {
		return 0
	}
	n := int64(j) - int64(i) + 1
	if n >= maxResults {
		raise(L, "too many results to unpack")
	}
	for k := i; k <= j; k++ {
		L.Push(t.RawGetInt(k))
	}
	return int(n)
}

func (e *scriptEnv) luaRawSet(L *lua.LState) int {
	t := L.CheckTable(1)
	if e.readonly[t] {
		raise(L, msgReadonlyTable)
	}
	k := L.CheckAny(2)
	if k == lua.LNil {
		raise(L, "table index is nil")
	}
	t.RawSet(k, L.CheckAny(3))
	L.Push(t)
	return 1
}

func (e *scriptEnv) luaSetMetatable(L *lua.LState) int {
	t := L.CheckTable(1)
	if e.readonly[t] {
		raise(L, msgReadonlyTable)
	}
	mt := L.Get(2)
	if _, ok := mt.(*lua.LTable); !ok && mt != lua.LNil {
		L.ArgError(2, "nil or table expected")
	}
	if t.Metatable != lua.LNil && t.Metatable != nil {
		if cur, ok := t.Metatable.(*lua.LTable); ok && cur.RawGetString("__metatable") != lua.LNil {
			raise(L, "cannot change a protected metatable")
		}
	}
	L.SetMetatable(t, mt)
	L.Push(t)
	return 1
}

// luaLoadString compiles a chunk the way scripts are compiled (concat
// guarded, syntax levels bounded), with the script's globals.
func (e *scriptEnv) luaLoadString(L *lua.LState) int {
	src := L.CheckString(1)
	return e.loadChunk(L, src, L.OptString(2, src))
}

func (e *scriptEnv) luaLoad(L *lua.LState) int {
	fn := L.CheckFunction(1)
	name := L.OptString(2, "=(load)")
	var b strings.Builder
	for range maxLoadPieces {
		L.Push(fn)
		L.Call(0, 1)
		v := L.Get(-1)
		L.Pop(1)
		if v == lua.LNil {
			break
		}
		s, ok := v.(lua.LString)
		if !ok {
			if n, isNum := v.(lua.LNumber); isNum {
				s, ok = lua.LString(fmtNumber(float64(n))), true
			}
		}
		if !ok {
			L.Push(lua.LNil)
			L.Push(lua.LString("reader function must return a string"))
			return 2
		}
		if len(s) == 0 {
			break
		}
		e.tooLarge(L, "load", float64(b.Len())+float64(len(s)))
		b.WriteString(string(s))
	}
	return e.loadChunk(L, b.String(), name)
}

func (e *scriptEnv) loadChunk(L *lua.LState, src, name string) int {
	if len(name) > 60 {
		name = name[:60]
	}
	proto, err := compileScript(src, name)
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	L.Push(L.NewFunctionFromProto(proto))
	return 1
}

// compileScript parses and compiles a script, with every `..` made a call
// of the guarded concatenation and its nesting bounded.
func compileScript(src, name string) (*lua.FunctionProto, error) {
	chunk, err := parse.Parse(strings.NewReader(src), name)
	if err != nil {
		return nil, err
	}
	if err := rewriteStmts(chunk, 0); err != nil {
		return nil, err
	}
	return lua.Compile(chunk, name)
}

var errSyntaxLevels = fmt.Errorf("chunk has too many syntax levels")

// rewriteStmts and rewriteExpr replace every `a .. b` with `(concat)(a, b)`
// (see luaConcat) and fail past maxSyntaxLevels of nesting.
func rewriteStmts(stmts []ast.Stmt, depth int) error {
	if depth > maxSyntaxLevels {
		return errSyntaxLevels
	}
	for _, st := range stmts {
		if err := rewriteStmt(st, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func rewriteExprs(exprs []ast.Expr, depth int) error {
	for i := range exprs {
		if err := rewriteExpr(&exprs[i], depth); err != nil {
			return err
		}
	}
	return nil
}

func rewriteStmt(st ast.Stmt, depth int) error {
	if depth > maxSyntaxLevels {
		return errSyntaxLevels
	}
	switch st := st.(type) {
	case *ast.AssignStmt:
		if err := rewriteExprs(st.Lhs, depth); err != nil {
			return err
		}
		return rewriteExprs(st.Rhs, depth)
	case *ast.LocalAssignStmt:
		return rewriteExprs(st.Exprs, depth)
	case *ast.FuncCallStmt:
		return rewriteExpr(&st.Expr, depth)
	case *ast.DoBlockStmt:
		return rewriteStmts(st.Stmts, depth)
	case *ast.WhileStmt:
		if err := rewriteExpr(&st.Condition, depth); err != nil {
			return err
		}
		return rewriteStmts(st.Stmts, depth)
	case *ast.RepeatStmt:
		if err := rewriteExpr(&st.Condition, depth); err != nil {
			return err
		}
		return rewriteStmts(st.Stmts, depth)
	case *ast.IfStmt:
		if err := rewriteExpr(&st.Condition, depth); err != nil {
			return err
		}
		if err := rewriteStmts(st.Then, depth); err != nil {
			return err
		}
		return rewriteStmts(st.Else, depth)
	case *ast.NumberForStmt:
		for _, x := range []*ast.Expr{&st.Init, &st.Limit, &st.Step} {
			if *x != nil {
				if err := rewriteExpr(x, depth); err != nil {
					return err
				}
			}
		}
		return rewriteStmts(st.Stmts, depth)
	case *ast.GenericForStmt:
		if err := rewriteExprs(st.Exprs, depth); err != nil {
			return err
		}
		return rewriteStmts(st.Stmts, depth)
	case *ast.FuncDefStmt:
		var fe ast.Expr = st.Func
		return rewriteExpr(&fe, depth)
	case *ast.ReturnStmt:
		return rewriteExprs(st.Exprs, depth)
	}
	return nil
}

func rewriteExpr(x *ast.Expr, depth int) error {
	if depth > maxSyntaxLevels {
		return errSyntaxLevels
	}
	depth++
	switch ex := (*x).(type) {
	case *ast.StringConcatOpExpr:
		if err := rewriteExpr(&ex.Lhs, depth); err != nil {
			return err
		}
		if err := rewriteExpr(&ex.Rhs, depth); err != nil {
			return err
		}
		fn := &ast.IdentExpr{Value: concatName}
		fn.SetLine(ex.Line())
		fn.SetLastLine(ex.LastLine())
		call := &ast.FuncCallExpr{Func: fn, Args: []ast.Expr{ex.Lhs, ex.Rhs}, AdjustRet: true}
		call.SetLine(ex.Line())
		call.SetLastLine(ex.LastLine())
		*x = call
	case *ast.AttrGetExpr:
		if err := rewriteExpr(&ex.Object, depth); err != nil {
			return err
		}
		return rewriteExpr(&ex.Key, depth)
	case *ast.TableExpr:
		for _, f := range ex.Fields {
			if f.Key != nil {
				if err := rewriteExpr(&f.Key, depth); err != nil {
					return err
				}
			}
			if err := rewriteExpr(&f.Value, depth); err != nil {
				return err
			}
		}
	case *ast.FuncCallExpr:
		if ex.Func != nil {
			if err := rewriteExpr(&ex.Func, depth); err != nil {
				return err
			}
		}
		if ex.Receiver != nil {
			if err := rewriteExpr(&ex.Receiver, depth); err != nil {
				return err
			}
		}
		return rewriteExprs(ex.Args, depth)
	case *ast.LogicalOpExpr:
		if err := rewriteExpr(&ex.Lhs, depth); err != nil {
			return err
		}
		return rewriteExpr(&ex.Rhs, depth)
	case *ast.RelationalOpExpr:
		if err := rewriteExpr(&ex.Lhs, depth); err != nil {
			return err
		}
		return rewriteExpr(&ex.Rhs, depth)
	case *ast.ArithmeticOpExpr:
		if err := rewriteExpr(&ex.Lhs, depth); err != nil {
			return err
		}
		return rewriteExpr(&ex.Rhs, depth)
	case *ast.UnaryMinusOpExpr:
		return rewriteExpr(&ex.Expr, depth)
	case *ast.UnaryNotOpExpr:
		return rewriteExpr(&ex.Expr, depth)
	case *ast.UnaryLenOpExpr:
		return rewriteExpr(&ex.Expr, depth)
	case *ast.FunctionExpr:
		return rewriteStmts(ex.Stmts, depth)
	}
	return nil
}

// close releases the Lua state.
func (e *scriptEnv) close() {
	e.L.Close()
}

/* string library {{{ */

func (e *scriptEnv) strRep(L *lua.LState) int {
	s := L.CheckString(1)
	n := L.CheckInt(2)
	if n <= 0 || len(s) == 0 {
		L.Push(lua.LString(""))
		return 1
	}
	e.reserve(L, "string.rep", float64(len(s))*float64(n))
	L.Push(lua.LString(strings.Repeat(s, n)))
	return 1
}

func strByte(L *lua.LState) int {
	s := L.CheckString(1)
	i := strPos(L.OptInt(2, 1), len(s))
	j := strPos(L.OptInt(3, i), len(s))
	if i < 1 {
		i = 1
	}
	if j > len(s) {
		j = len(s)
	}
	if i > j {
		return 0
	}
	n := j - i + 1
	if n >= maxResults {
		raise(L, "string slice too long")
	}
	for k := i; k <= j; k++ {
		L.Push(lua.LNumber(s[k-1]))
	}
	return n
}

// strPos is Lua 5.1's posrelat: a negative position counts from the end.
func strPos(pos, n int) int {
	if pos < 0 {
		pos += n + 1
	}
	return pos
}

func strChar(L *lua.LState) int {
	n := L.GetTop()
	b := make([]byte, n)
	for i := 1; i <= n; i++ {
		c := L.CheckInt(i)
		if c < 0 || c > 255 {
			L.ArgError(i, "invalid value")
		}
		b[i-1] = byte(c)
	}
	L.Push(lua.LString(b))
	return 1
}

// strDump: Redis's string.dump makes bytecode that its load refuses;
// gopher-lua has no bytecode, so it fails as Lua does for a function it
// cannot dump.
func strDump(L *lua.LState) int {
	L.CheckFunction(1)
	raise(L, "unable to dump given function")
	return 0
}

// strFormat is Lua 5.1's string.format: its flags, widths and precisions
// of at most two digits ("invalid format (width or precision too long)"),
// its conversions, and the result bounded by the memory limit.
func (e *scriptEnv) strFormat(L *lua.LState) int {
	f := L.CheckString(1)
	arg := 1
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		i++
		if i < len(f) && f[i] == '%' {
			b.WriteByte('%')
			continue
		}
		start := i
		for i < len(f) && strings.IndexByte("-+ #0", f[i]) >= 0 {
			i++
		}
		if i-start > 5 {
			raise(L, "invalid format (repeated flags)")
		}
		digits := func() {
			n := 0
			for i < len(f) && f[i] >= '0' && f[i] <= '9' {
				i++
				n++
			}
			if n > 2 {
				raise(L, "invalid format (width or precision too long)")
			}
		}
		digits()
		if i < len(f) && f[i] == '.' {
			i++
			digits()
		}
		if i >= len(f) {
			raise(L, "invalid option '%%' to 'format'")
		}
		spec := f[start:i]
		arg++
		var out string
		switch conv := f[i]; conv {
		case 'c':
			out = string([]byte{byte(int64(L.CheckNumber(arg)))})
		case 'd', 'i':
			out = fmt.Sprintf("%"+spec+"d", int64(L.CheckNumber(arg)))
		case 'o', 'u', 'x', 'X':
			verb := conv
			if conv == 'u' {
				verb = 'd'
			}
			out = fmt.Sprintf("%"+spec+string(verb), uint64(int64(L.CheckNumber(arg))))
		case 'e', 'E', 'f', 'g', 'G':
			n := float64(L.CheckNumber(arg))
			s := spec
			if (conv == 'g' || conv == 'G') && !strings.Contains(s, ".") {
				s += ".6"
			}
			out = fmt.Sprintf("%"+s+string(conv), n)
			out = strings.NewReplacer("+Inf", "inf", "-Inf", "-inf", "NaN", "nan").Replace(out)
		case 'q':
			out = quoteString(L.CheckString(arg))
		case 's':
			out = formatString(spec, stringArg(L, arg))
		default:
			raise(L, "invalid option '%%%c' to 'format'", conv)
		}
		e.tooLarge(L, "string.format", float64(b.Len())+float64(len(out)))
		b.WriteString(out)
	}
	L.Push(lua.LString(b.String()))
	return 1
}

// stringArg is luaL_checklstring: a string, or a number written as Lua
// writes it.
func stringArg(L *lua.LState, n int) string {
	switch v := L.Get(n).(type) {
	case lua.LString:
		return string(v)
	case lua.LNumber:
		return fmtNumber(float64(v))
	}
	L.TypeError(n, lua.LTString)
	return ""
}

// formatString applies a %s spec (flags, width, precision in bytes).
func formatString(spec, s string) string {
	left := strings.Contains(spec, "-")
	spec = strings.TrimLeft(spec, "-+ #0")
	width, prec := spec, ""
	if i := strings.IndexByte(spec, '.'); i >= 0 {
		width, prec = spec[:i], spec[i+1:]
		p, _ := strconv.Atoi(prec)
		if p < len(s) {
			s = s[:p]
		}
	}
	w, _ := strconv.Atoi(width)
	if pad := w - len(s); pad > 0 {
		if left {
			return s + strings.Repeat(" ", pad)
		}
		return strings.Repeat(" ", pad) + s
	}
	return s
}

// quoteString is Lua 5.1's %q.
func quoteString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\', '\n':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\r':
			b.WriteString(`\r`)
		case 0:
			b.WriteString(`\000`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

/* }}} */

/* table library {{{ */

func (e *scriptEnv) tabConcat(L *lua.LState) int {
	t := L.CheckTable(1)
	sep := L.OptString(2, "")
	i := L.OptInt(3, 1)
	j := L.OptInt(4, t.Len())
	if i > j {
		L.Push(lua.LString(""))
		return 1
	}
	var size float64
	parts := make([]string, 0, min(j-i+1, 1<<16))
	for k := i; k <= j; k++ {
		s, ok := concatString(t.RawGetInt(k))
		if !ok {
			raise(L, "invalid value (%s) at index %d in table for 'concat'", t.RawGetInt(k).Type().String(), k)
		}
		size += float64(len(s))
		if k < j {
			size += float64(len(sep))
		}
		e.tooLarge(L, "table.concat", size)
		parts = append(parts, s)
	}
	e.reserve(L, "table.concat", size)
	L.Push(lua.LString(strings.Join(parts, sep)))
	return 1
}

func tabForeach(L *lua.LState) int {
	t := L.CheckTable(1)
	fn := L.CheckFunction(2)
	for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
		L.Push(fn)
		L.Push(k)
		L.Push(v)
		L.Call(2, 1)
		if r := L.Get(-1); r != lua.LNil {
			return 1
		}
		L.Pop(1)
	}
	return 0
}

func tabForeachi(L *lua.LState) int {
	t := L.CheckTable(1)
	fn := L.CheckFunction(2)
	n := t.Len()
	for i := 1; i <= n; i++ {
		L.Push(fn)
		L.Push(lua.LNumber(i))
		L.Push(t.RawGetInt(i))
		L.Call(2, 1)
		if r := L.Get(-1); r != lua.LNil {
			return 1
		}
		L.Pop(1)
	}
	return 0
}

func tabSetn(L *lua.LState) int {
	raise(L, "'setn' is obsolete")
	return 0
}

/* }}} */
