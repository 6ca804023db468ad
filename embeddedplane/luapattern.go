package embeddedplane

// Lua 5.1's pattern matching (lstrlib.c: match, str_find_aux, gmatch,
// gsub), ported to Go for scripts. gopher-lua's own finds every match of a
// gsub or gmatch before it starts (gigabytes for a large string), rebuilds
// the whole string once per replacement (hours for a million of them), and
// cannot be interrupted. This one matches one at a time, looks at the
// script's deadline every few thousand steps, bounds its recursion, and
// bounds what gsub builds by the memory limit.
//
// Lua 5.1: MIT licence, Copyright (C) 1994-2012 Lua.org, PUC-Rio.

import (
	"strings"

	lua "github.com/yuin/gopher-lua"
)

const (
	maxCaptures   = 32 // LUA_MAXCAPTURES
	capUnfinished = -1
	capPosition   = -2
	// maxMatchDepth bounds match's recursion, as Lua 5.2 does
	// (MAXCCALLS): "pattern too complex".
	maxMatchDepth = 200
	// matchCheckEvery is how many matching steps pass between two looks at
	// the script's deadline.
	matchCheckEvery = 1 << 12
)

type capture struct {
	init int
	len  int
}

type matchState struct {
	L       *lua.LState
	src     string
	pat     string
	level   int
	capture [maxCaptures]capture
	depth   int
	steps   int
}

// step counts one step of matching and stops a script past its deadline.
func (ms *matchState) step() {
	ms.steps++
	if ms.steps%matchCheckEvery == 0 {
		if ctx := ms.L.Context(); ctx != nil && ctx.Err() != nil {
			raise(ms.L, "%s", ctx.Err().Error())
		}
	}
}

// at is the pattern's byte at p, or 0 past its end (C's terminating NUL).
func (ms *matchState) at(p int) byte {
	if p < len(ms.pat) {
		return ms.pat[p]
	}
	return 0
}

func (ms *matchState) checkCapture(l int) int {
	l -= '1'
	if l < 0 || l >= ms.level || ms.capture[l].len == capUnfinished {
		raise(ms.L, "invalid capture index")
	}
	return l
}

func (ms *matchState) captureToClose() int {
	for level := ms.level - 1; level >= 0; level-- {
		if ms.capture[level].len == capUnfinished {
			return level
		}
	}
	raise(ms.L, "invalid pattern capture")
	return 0
}

func (ms *matchState) classEnd(p int) int {
	c := ms.at(p)
	p++
	switch c {
	case '%':
		if p >= len(ms.pat) {
			raise(ms.L, "malformed pattern (ends with '%%')")
		}
		return p + 1
	case '[':
		if ms.at(p) == '^' {
			p++
		}
		for {
			if p >= len(ms.pat) {
				raise(ms.L, "malformed pattern (missing ']')")
			}
			c := ms.pat[p]
			p++
			if c == '%' && p < len(ms.pat) {
				p++
			}
			if ms.at(p) == ']' {
				break
			}
		}
		return p + 1
	}
	return p
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isSpace(c byte) bool { return c == ' ' || c >= '\t' && c <= '\r' }
func isCntrl(c byte) bool { return c < 32 || c == 127 }
func isPunct(c byte) bool {
	return c > 32 && c < 127 && !isAlpha(c) && !isDigit(c)
}
func isXDigit(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func matchClass(c, cl byte) bool {
	var res bool
	lower := cl
	if isUpper(cl) {
		lower = cl + ('a' - 'A')
	}
	switch lower {
	case 'a':
		res = isAlpha(c)
	case 'c':
		res = isCntrl(c)
	case 'd':
		res = isDigit(c)
	case 'l':
		res = isLower(c)
	case 'p':
		res = isPunct(c)
	case 's':
		res = isSpace(c)
	case 'u':
		res = isUpper(c)
	case 'w':
		res = isAlpha(c) || isDigit(c)
	case 'x':
		res = isXDigit(c)
	case 'z':
		res = c == 0
	default:
		return cl == c
	}
	if isUpper(cl) {
		return !res
	}
	return res
}

// matchBracketClass: p is at '[', ec at the closing ']'.
func (ms *matchState) matchBracketClass(c byte, p, ec int) bool {
	sig := true
	if ms.at(p+1) == '^' {
		sig = false
		p++
	}
	for p++; p < ec; p++ {
		switch {
		case ms.pat[p] == '%':
			p++
			if matchClass(c, ms.at(p)) {
				return sig
			}
		case ms.at(p+1) == '-' && p+2 < ec:
			p += 2
			if ms.pat[p-2] <= c && c <= ms.pat[p] {
				return sig
			}
		case ms.pat[p] == c:
			return sig
		}
	}
	return !sig
}

func (ms *matchState) singleMatch(c byte, p, ep int) bool {
	switch ms.pat[p] {
	case '.':
		return true
	case '%':
		return matchClass(c, ms.at(p+1))
	case '[':
		return ms.matchBracketClass(c, p, ep-1)
	}
	return ms.pat[p] == c
}

func (ms *matchState) matchBalance(s, p int) int {
	if p+1 >= len(ms.pat) {
		raise(ms.L, "unbalanced pattern")
	}
	if s >= len(ms.src) || ms.src[s] != ms.pat[p] {
		return -1
	}
	b, e := ms.pat[p], ms.pat[p+1]
	cont := 1
	for s++; s < len(ms.src); s++ {
		ms.step()
		switch ms.src[s] {
		case e:
			cont--
			if cont == 0 {
				return s + 1
			}
		case b:
			cont++
		}
	}
	return -1
}

func (ms *matchState) maxExpand(s, p, ep int) int {
	i := 0
	for s+i < len(ms.src) && ms.singleMatch(ms.src[s+i], p, ep) {
		ms.step()
		i++
	}
	for ; i >= 0; i-- {
		if res := ms.match(s+i, ep+1); res != -1 {
			return res
		}
	}
	return -1
}

func (ms *matchState) minExpand(s, p, ep int) int {
	for {
		if res := ms.match(s, ep+1); res != -1 {
			return res
		}
		if s < len(ms.src) && ms.singleMatch(ms.src[s], p, ep) {
			s++
		} else {
			return -1
		}
	}
}

func (ms *matchState) startCapture(s, p, what int) int {
	if ms.level >= maxCaptures {
		raise(ms.L, "too many captures")
	}
	ms.capture[ms.level] = capture{init: s, len: what}
	ms.level++
	res := ms.match(s, p)
	if res == -1 {
		ms.level--
	}
	return res
}

func (ms *matchState) endCapture(s, p int) int {
	l := ms.captureToClose()
	ms.capture[l].len = s - ms.capture[l].init
	res := ms.match(s, p)
	if res == -1 {
		ms.capture[l].len = capUnfinished
	}
	return res
}

func (ms *matchState) matchCapture(s int, l int) int {
	l = ms.checkCapture(l)
	c := ms.capture[l]
	if len(ms.src)-s >= c.len && ms.src[c.init:c.init+c.len] == ms.src[s:s+c.len] {
		return s + c.len
	}
	return -1
}

// match returns the end of the match of the pattern from p against the
// subject from s, or -1.
func (ms *matchState) match(s, p int) int {
	ms.depth++
	defer func() { ms.depth-- }()
	if ms.depth > maxMatchDepth {
		raise(ms.L, "pattern too complex")
	}
	for {
		ms.step()
		if p >= len(ms.pat) {
			return s
		}
		switch ms.pat[p] {
		case '(':
			if ms.at(p+1) == ')' {
				return ms.startCapture(s, p+2, capPosition)
			}
			return ms.startCapture(s, p+1, capUnfinished)
		case ')':
			return ms.endCapture(s, p+1)
		case '%':
			switch ms.at(p + 1) {
			case 'b':
				s = ms.matchBalance(s, p+2)
				if s == -1 {
					return -1
				}
				p += 4
				continue
			case 'f':
				p += 2
				if ms.at(p) != '[' {
					raise(ms.L, "missing '[' after '%%f' in pattern")
				}
				ep := ms.classEnd(p)
				var prev, cur byte
				if s > 0 {
					prev = ms.src[s-1]
				}
				if s < len(ms.src) {
					cur = ms.src[s]
				}
				if ms.matchBracketClass(prev, p, ep-1) || !ms.matchBracketClass(cur, p, ep-1) {
					return -1
				}
				p = ep
				continue
			default:
				if isDigit(ms.at(p + 1)) {
					s = ms.matchCapture(s, int(ms.at(p+1)))
					if s == -1 {
						return -1
					}
					p += 2
					continue
				}
			}
		case '$':
			if p+1 == len(ms.pat) {
				if s == len(ms.src) {
					return s
				}
				return -1
			}
		}
		// a single-character pattern item
		ep := ms.classEnd(p)
		m := s < len(ms.src) && ms.singleMatch(ms.src[s], p, ep)
		switch ms.at(ep) {
		case '?':
			if m {
				if res := ms.match(s+1, ep+1); res != -1 {
					return res
				}
			}
			p = ep + 1
			continue
		case '*':
			return ms.maxExpand(s, p, ep)
		case '+':
			if !m {
				return -1
			}
			return ms.maxExpand(s+1, p, ep)
		case '-':
			return ms.minExpand(s, p, ep)
		}
		if !m {
			return -1
		}
		s++
		p = ep
	}
}

// pushCapture pushes capture i (the whole match s:e when there is none).
func (ms *matchState) pushCapture(i, s, e int) {
	L := ms.L
	if i >= ms.level {
		if i != 0 {
			raise(L, "invalid capture index")
		}
		L.Push(lua.LString(ms.src[s:e]))
		return
	}
	c := ms.capture[i]
	switch c.len {
	case capUnfinished:
		raise(L, "unfinished capture")
	case capPosition:
		L.Push(lua.LNumber(c.init + 1))
	default:
		L.Push(lua.LString(ms.src[c.init : c.init+c.len]))
	}
}

// pushCaptures pushes every capture (or the whole match when whole and
// there is none) and returns how many.
func (ms *matchState) pushCaptures(s, e int, whole bool) int {
	n := ms.level
	if n == 0 && whole {
		n = 1
	}
	for i := range n {
		ms.pushCapture(i, s, e)
	}
	return n
}

const patternSpecials = "^$*+?.([%-"

func (e *scriptEnv) strFind(L *lua.LState) int  { return findAux(L, true) }
func (e *scriptEnv) strMatch(L *lua.LState) int { return findAux(L, false) }

// findAux is string.find (find) and string.match.
func findAux(L *lua.LState, find bool) int {
	s := stringArg(L, 1)
	p := stringArg(L, 2)
	init := strPos(L.OptInt(3, 1), len(s)) - 1
	if init < 0 {
		init = 0
	} else if init > len(s) {
		init = len(s)
	}
	if find && (lua.LVAsBool(L.Get(4)) || !strings.ContainsAny(p, patternSpecials)) {
		if i := strings.Index(s[init:], p); i >= 0 {
			L.Push(lua.LNumber(init + i + 1))
			L.Push(lua.LNumber(init + i + len(p)))
			return 2
		}
		L.Push(lua.LNil)
		return 1
	}
	anchor := len(p) > 0 && p[0] == '^'
	if anchor {
		p = p[1:]
	}
	ms := &matchState{L: L, src: s, pat: p}
	for s1 := init; ; s1++ {
		ms.level = 0
		if res := ms.match(s1, 0); res != -1 {
			if find {
				L.Push(lua.LNumber(s1 + 1))
				L.Push(lua.LNumber(res))
				return ms.pushCaptures(-1, -1, false) + 2
			}
			return ms.pushCaptures(s1, res, true)
		}
		if s1 >= len(s) || anchor {
			break
		}
	}
	L.Push(lua.LNil)
	return 1
}

// strGmatch is string.gmatch (and gfind): an iterator that finds one match
// per call.
func (e *scriptEnv) strGmatch(L *lua.LState) int {
	s := stringArg(L, 1)
	p := stringArg(L, 2)
	pos := 0
	L.Push(L.NewFunction(func(L *lua.LState) int {
		ms := &matchState{L: L, src: s, pat: p}
		for src := pos; src <= len(s); src++ {
			ms.level = 0
			if end := ms.match(src, 0); end != -1 {
				pos = end
				if end == src {
					pos++
				}
				return ms.pushCaptures(src, end, true)
			}
		}
		pos = len(s) + 1
		return 0
	}))
	return 1
}

// strGsub is string.gsub, its result bounded by the memory limit.
func (e *scriptEnv) strGsub(L *lua.LState) int {
	src := stringArg(L, 1)
	p := stringArg(L, 2)
	repl := L.Get(3)
	switch repl.(type) {
	case lua.LNumber, lua.LString, *lua.LFunction, *lua.LTable:
	default:
		L.ArgError(3, "string/function/table expected")
	}
	maxN := L.OptInt(4, len(src)+1)
	anchor := len(p) > 0 && p[0] == '^'
	if anchor {
		p = p[1:]
	}
	ms := &matchState{L: L, src: src, pat: p}
	var b strings.Builder
	add := func(s string) {
		e.tooLarge(L, "string.gsub", float64(b.Len())+float64(len(s)))
		b.WriteString(s)
	}
	s, n := 0, 0
loop:
	for n < maxN {
		ms.level = 0
		end := ms.match(s, 0)
		if end != -1 {
			n++
			add(ms.replacement(repl, s, end))
		}
		switch {
		case end != -1 && end > s:
			s = end
		case s < len(src):
			add(src[s : s+1])
			s++
		default:
			break loop
		}
		if anchor {
			break
		}
	}
	if s < len(src) {
		add(src[s:])
	}
	L.Push(lua.LString(b.String()))
	L.Push(lua.LNumber(n))
	return 2
}

// replacement is what a match of s:e becomes (Lua's add_value).
func (ms *matchState) replacement(repl lua.LValue, s, e int) string {
	L := ms.L
	var v lua.LValue
	switch r := repl.(type) {
	case lua.LString, lua.LNumber:
		news, _ := concatString(r)
		var b strings.Builder
		for i := 0; i < len(news); i++ {
			c := news[i]
			if c != '%' {
				b.WriteByte(c)
				continue
			}
			i++
			if i >= len(news) {
				break
			}
			c = news[i]
			switch {
			case !isDigit(c):
				b.WriteByte(c)
			case c == '0':
				b.WriteString(ms.src[s:e])
			default:
				ms.pushCapture(int(c-'1'), s, e)
				cv, _ := concatString(L.Get(-1))
				L.Pop(1)
				b.WriteString(cv)
			}
		}
		return b.String()
	case *lua.LFunction:
		top := L.GetTop()
		L.Push(r)
		n := ms.pushCaptures(s, e, true)
		L.Call(n, 1)
		v = L.Get(-1)
		L.SetTop(top)
	case *lua.LTable:
		ms.pushCapture(0, s, e)
		k := L.Get(-1)
		L.Pop(1)
		v = L.GetTable(r, k)
	}
	if !lua.LVAsBool(v) {
		return ms.src[s:e]
	}
	out, ok := concatString(v)
	if !ok {
		raise(L, "invalid replacement value (a %s)", v.Type().String())
	}
	return out
}
