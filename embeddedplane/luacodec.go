package embeddedplane

// The cjson, cmsgpack and struct libraries of scripts, written for devapi
// after Redis's bundled lua-cjson 2.1.0, lua-cmsgpack 0.4.0 and lua_struct
// 0.2: the same encodings and limits (nesting, sparse arrays), with every
// result bounded by the memory limit and every nesting bounded so that
// decoding cannot overflow the goroutine's stack.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

const (
	cjsonMaxDepth    = 1000 // encode_max_depth, decode_max_depth
	cjsonSparseRatio = 2    // encode_sparse_array
	cjsonSparseSafe  = 10
	msgpackMaxNest   = 16 // LUACMSGPACK_MAX_NESTING: deeper tables pack as nil
	msgpackMaxDepth  = 1000
	structMaxInt     = 32 // MAXINTSIZE
	structMaxAlign   = 8
)

/* cjson {{{ */

func (e *scriptEnv) cjsonLib() *lua.LTable {
	L := e.L
	t := L.NewTable()
	null := L.NewUserData()
	t.RawSetString("null", null)
	t.RawSetString("_NAME", lua.LString("cjson"))
	t.RawSetString("_VERSION", lua.LString("2.1.0"))
	e.setFuncs(t, map[string]lua.LGFunction{
		"encode": func(L *lua.LState) int {
			if L.GetTop() != 1 {
				L.ArgError(1, "expected 1 argument")
			}
			var b bytes.Buffer
			e.jsonEncode(L, &b, L.Get(1), null, 0)
			L.Push(lua.LString(b.String()))
			return 1
		},
		"decode": func(L *lua.LState) int {
			if L.GetTop() != 1 {
				L.ArgError(1, "expected 1 argument")
			}
			L.Push(jsonDecode(L, stringArg(L, 1), null))
			return 1
		},
		// Settings: they answer the defaults and change nothing (a
		// script's state does not outlive it anyway).
		"encode_max_depth":        constFunc(lua.LNumber(cjsonMaxDepth)),
		"decode_max_depth":        constFunc(lua.LNumber(cjsonMaxDepth)),
		"encode_keep_buffer":      constFunc(lua.LTrue),
		"encode_number_precision": constFunc(lua.LNumber(14)),
		"encode_invalid_numbers":  constFunc(lua.LFalse),
		"decode_invalid_numbers":  constFunc(lua.LTrue),
		"encode_sparse_array": func(L *lua.LState) int {
			L.Push(lua.LFalse)
			L.Push(lua.LNumber(cjsonSparseRatio))
			L.Push(lua.LNumber(cjsonSparseSafe))
			return 3
		},
	})
	t.RawSetString("new", L.NewFunction(func(L *lua.LState) int { L.Push(t); return 1 }))
	return t
}

func constFunc(v lua.LValue) lua.LGFunction {
	return func(L *lua.LState) int { L.Push(v); return 1 }
}

// jsonArrayLen is lua-cjson's lua_array_length: the array length of t, 0
// for an empty table, -1 when t is an object.
func jsonArrayLen(L *lua.LState, t *lua.LTable) int {
	maxKey, items := 0, 0
	for k, _ := t.Next(lua.LNil); k != lua.LNil; k, _ = t.Next(k) {
		n, ok := k.(lua.LNumber)
		if !ok || float64(n) != math.Floor(float64(n)) || n < 1 || n > math.MaxInt32 {
			return -1
		}
		maxKey = max(maxKey, int(n))
		items++
	}
	if maxKey > items*cjsonSparseRatio && maxKey > cjsonSparseSafe {
		raise(L, "Cannot serialise table: excessively sparse array")
	}
	return maxKey
}

func (e *scriptEnv) jsonEncode(L *lua.LState, b *bytes.Buffer, v lua.LValue, null lua.LValue, depth int) {
	e.tooLarge(L, "cjson.encode", float64(b.Len()))
	switch v := v.(type) {
	case *lua.LNilType:
		b.WriteString("null")
	case lua.LBool:
		b.WriteString(strconv.FormatBool(bool(v)))
	case lua.LNumber:
		f := float64(v)
		if math.IsInf(f, 0) || math.IsNaN(f) {
			raise(L, "Cannot serialise number: must not be NaN or Inf")
		}
		b.WriteString(fmtNumber(f))
	case lua.LString:
		e.tooLarge(L, "cjson.encode", float64(b.Len())+6*float64(len(v)))
		jsonString(b, string(v))
	case *lua.LTable:
		depth++
		if depth > cjsonMaxDepth {
			raise(L, "Cannot serialise, excessive nesting (%d)", depth)
		}
		n := jsonArrayLen(L, v)
		if n > 0 {
			b.WriteByte('[')
			for i := 1; i <= n; i++ {
				if i > 1 {
					b.WriteByte(',')
				}
				e.jsonEncode(L, b, v.RawGetInt(i), null, depth)
			}
			b.WriteByte(']')
			return
		}
		b.WriteByte('{')
		first := true
		for k, x := v.Next(lua.LNil); k != lua.LNil; k, x = v.Next(k) {
			if !first {
				b.WriteByte(',')
			}
			first = false
			switch k := k.(type) {
			case lua.LString:
				jsonString(b, string(k))
			case lua.LNumber:
				jsonString(b, fmtNumber(float64(k)))
			default:
				raise(L, "Cannot serialise %s: table key must be a number or string", k.Type().String())
			}
			b.WriteByte(':')
			e.jsonEncode(L, b, x, null, depth)
		}
		b.WriteByte('}')
	default:
		if v == null {
			b.WriteString("null")
			return
		}
		raise(L, "Cannot serialise %s: type not supported", v.Type().String())
	}
}

// jsonString writes s quoted as lua-cjson does ("/" escaped too).
func jsonString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '/':
			b.WriteString(`\/`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if c < 0x20 || c == 0x7f {
				b.WriteString(`\u00`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&15])
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
}

// jsonDecode decodes s into Lua values, null as cjson.null.
func jsonDecode(L *lua.LState, s string, null lua.LValue) lua.LValue {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	v, err := jsonValue(L, d, null, 0)
	if err == nil {
		if _, extra := d.Token(); extra != io.EOF {
			err = errors.New("Expected the end but found more data")
		}
	}
	if err != nil {
		raise(L, "%s", jsonError(err))
	}
	return v
}

var errJSONDepth = errors.New("Found too many nested data structures")

func jsonError(err error) string {
	var se *json.SyntaxError
	switch {
	case errors.Is(err, errJSONDepth):
		return fmt.Sprintf("%s (%d)", errJSONDepth, cjsonMaxDepth+1)
	case errors.As(err, &se):
		return fmt.Sprintf("Expected value but found invalid token at character %d", se.Offset)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "Expected value but found T_END"
	}
	return "Expected value but found invalid token"
}

func jsonValue(L *lua.LState, d *json.Decoder, null lua.LValue, depth int) (lua.LValue, error) {
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch tok := tok.(type) {
	case nil:
		return null, nil
	case bool:
		return lua.LBool(tok), nil
	case json.Number:
		f, err := strconv.ParseFloat(string(tok), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return nil, err
		}
		return lua.LNumber(f), nil
	case string:
		return lua.LString(tok), nil
	case json.Delim:
		if depth >= cjsonMaxDepth {
			return nil, errJSONDepth
		}
		t := L.NewTable()
		switch tok {
		case '[':
			for i := 1; d.More(); i++ {
				v, err := jsonValue(L, d, null, depth+1)
				if err != nil {
					return nil, err
				}
				t.RawSetInt(i, v)
			}
		case '{':
			for d.More() {
				k, err := d.Token()
				if err != nil {
					return nil, err
				}
				v, err := jsonValue(L, d, null, depth+1)
				if err != nil {
					return nil, err
				}
				t.RawSetString(k.(string), v)
			}
		}
		if _, err := d.Token(); err != nil { // the closing delimiter
			return nil, err
		}
		return t, nil
	}
	return nil, errors.New("unexpected token")
}

/* }}} */

/* cmsgpack {{{ */

func (e *scriptEnv) cmsgpackLib() *lua.LTable {
	L := e.L
	t := L.NewTable()
	t.RawSetString("_NAME", lua.LString("cmsgpack"))
	t.RawSetString("_VERSION", lua.LString("lua-cmsgpack 0.4.0"))
	t.RawSetString("_COPYRIGHT", lua.LString("Copyright (C) 2012, Salvatore Sanfilippo"))
	t.RawSetString("_DESCRIPTION", lua.LString("MessagePack C implementation for Lua"))
	e.setFuncs(t, map[string]lua.LGFunction{
		"pack": func(L *lua.LState) int {
			n := L.GetTop()
			if n == 0 {
				L.ArgError(0, "MessagePack pack needs input.")
			}
			var b bytes.Buffer
			for i := 1; i <= n; i++ {
				e.msgpackEncode(L, &b, L.Get(i), 0)
			}
			L.Push(lua.LString(b.String()))
			return 1
		},
		"unpack": func(L *lua.LState) int {
			return msgpackUnpack(L, stringArg(L, 1), 0, 0)
		},
		"unpack_one": func(L *lua.LState) int {
			return msgpackUnpack(L, stringArg(L, 1), 1, L.OptInt(2, 0))
		},
		"unpack_limit": func(L *lua.LState) int {
			return msgpackUnpack(L, stringArg(L, 1), L.CheckInt(2), L.OptInt(3, 0))
		},
	})
	return t
}

// msgpackIsArray is lua-cmsgpack's table_is_an_array: keys 1..n only.
func msgpackIsArray(t *lua.LTable) (n int, ok bool) {
	count, maxKey := 0, 0
	for k, _ := t.Next(lua.LNil); k != lua.LNil; k, _ = t.Next(k) {
		f, isNum := k.(lua.LNumber)
		if !isNum || float64(f) != math.Floor(float64(f)) || f < 1 {
			return 0, false
		}
		count++
		maxKey = max(maxKey, int(f))
	}
	return count, count == maxKey
}

func (e *scriptEnv) msgpackEncode(L *lua.LState, b *bytes.Buffer, v lua.LValue, nest int) {
	e.tooLarge(L, "cmsgpack.pack", float64(b.Len()))
	switch v := v.(type) {
	case lua.LBool:
		if v {
			b.WriteByte(0xc3)
		} else {
			b.WriteByte(0xc2)
		}
	case lua.LNumber:
		f := float64(v)
		if f == math.Trunc(f) && f >= math.MinInt64 && f < math.MaxInt64 {
			msgpackInt(b, int64(f))
		} else if float64(float32(f)) == f {
			b.WriteByte(0xca)
			_ = binary.Write(b, binary.BigEndian, math.Float32bits(float32(f)))
		} else {
			b.WriteByte(0xcb)
			_ = binary.Write(b, binary.BigEndian, math.Float64bits(f))
		}
	case lua.LString:
		e.tooLarge(L, "cmsgpack.pack", float64(b.Len())+float64(len(v))+5)
		n := len(v)
		switch {
		case n < 32:
			b.WriteByte(0xa0 | byte(n))
		case n <= 0xff:
			b.Write([]byte{0xd9, byte(n)})
		case n <= 0xffff:
			b.WriteByte(0xda)
			_ = binary.Write(b, binary.BigEndian, uint16(n))
		default:
			b.WriteByte(0xdb)
			_ = binary.Write(b, binary.BigEndian, uint32(n))
		}
		b.WriteString(string(v))
	case *lua.LTable:
		if nest >= msgpackMaxNest {
			b.WriteByte(0xc0)
			return
		}
		if n, ok := msgpackIsArray(v); ok {
			msgpackLen(b, n, 0x90, 0xdc, 0xdd)
			for i := 1; i <= n; i++ {
				e.msgpackEncode(L, b, v.RawGetInt(i), nest+1)
			}
			return
		}
		n := 0
		for k, _ := v.Next(lua.LNil); k != lua.LNil; k, _ = v.Next(k) {
			n++
		}
		msgpackLen(b, n, 0x80, 0xde, 0xdf)
		for k, x := v.Next(lua.LNil); k != lua.LNil; k, x = v.Next(k) {
			e.msgpackEncode(L, b, k, nest+1)
			e.msgpackEncode(L, b, x, nest+1)
		}
	default:
		b.WriteByte(0xc0)
	}
}

func msgpackLen(b *bytes.Buffer, n int, fix, b16, b32 byte) {
	switch {
	case n < 16:
		b.WriteByte(fix | byte(n))
	case n <= 0xffff:
		b.WriteByte(b16)
		_ = binary.Write(b, binary.BigEndian, uint16(n))
	default:
		b.WriteByte(b32)
		_ = binary.Write(b, binary.BigEndian, uint32(n))
	}
}

func msgpackInt(b *bytes.Buffer, n int64) {
	switch {
	case n >= 0 && n <= 127:
		b.WriteByte(byte(n))
	case n >= 0 && n <= 0xff:
		b.Write([]byte{0xcc, byte(n)})
	case n >= 0 && n <= 0xffff:
		b.WriteByte(0xcd)
		_ = binary.Write(b, binary.BigEndian, uint16(n))
	case n >= 0 && n <= 0xffffffff:
		b.WriteByte(0xce)
		_ = binary.Write(b, binary.BigEndian, uint32(n))
	case n >= 0:
		b.WriteByte(0xcf)
		_ = binary.Write(b, binary.BigEndian, uint64(n))
	case n >= -32:
		b.WriteByte(byte(int8(n)))
	case n >= math.MinInt8:
		b.Write([]byte{0xd0, byte(int8(n))})
	case n >= math.MinInt16:
		b.WriteByte(0xd1)
		_ = binary.Write(b, binary.BigEndian, int16(n))
	case n >= math.MinInt32:
		b.WriteByte(0xd2)
		_ = binary.Write(b, binary.BigEndian, int32(n))
	default:
		b.WriteByte(0xd3)
		_ = binary.Write(b, binary.BigEndian, n)
	}
}

var (
	errMsgpackShort = errors.New("Missing bytes in input.")
	errMsgpackBad   = errors.New("Bad data format in input.")
)

// msgpackUnpack decodes up to limit objects (0: all) from offset and
// returns them; with limit > 0 the next offset (-1 at the end) comes first,
// as unpack_one and unpack_limit do.
func msgpackUnpack(L *lua.LState, s string, limit, offset int) int {
	if offset < 0 || offset > len(s) {
		raise(L, "Start offset %d greater than input length %d.", offset, len(s))
	}
	d := &msgpackDecoder{L: L, s: s, pos: offset}
	var vals []lua.LValue
	for d.pos < len(s) && (limit <= 0 || len(vals) < limit) {
		if len(vals) >= maxResults {
			raise(L, "too many results to unpack")
		}
		v, err := d.value(0)
		if err != nil {
			raise(L, "%s", err.Error())
		}
		vals = append(vals, v)
	}
	n := 0
	if limit > 0 {
		next := d.pos
		if next >= len(s) {
			next = -1
		}
		L.Push(lua.LNumber(next))
		n++
	}
	for _, v := range vals {
		L.Push(v)
	}
	return n + len(vals)
}

type msgpackDecoder struct {
	L   *lua.LState
	s   string
	pos int
}

func (d *msgpackDecoder) take(n int) (string, error) {
	if n < 0 || len(d.s)-d.pos < n {
		return "", errMsgpackShort
	}
	out := d.s[d.pos : d.pos+n]
	d.pos += n
	return out, nil
}

func (d *msgpackDecoder) uint(n int) (uint64, error) {
	b, err := d.take(n)
	if err != nil {
		return 0, err
	}
	var v uint64
	for i := 0; i < n; i++ {
		v = v<<8 | uint64(b[i])
	}
	return v, nil
}

func (d *msgpackDecoder) value(depth int) (lua.LValue, error) {
	if depth > msgpackMaxDepth {
		return nil, errMsgpackBad
	}
	tb, err := d.take(1)
	if err != nil {
		return nil, err
	}
	c := tb[0]
	switch {
	case c <= 0x7f:
		return lua.LNumber(c), nil
	case c >= 0xe0:
		return lua.LNumber(int8(c)), nil
	case c&0xe0 == 0xa0:
		s, err := d.take(int(c & 0x1f))
		return lua.LString(s), err
	case c&0xf0 == 0x90:
		return d.array(int(c&0x0f), depth)
	case c&0xf0 == 0x80:
		return d.mapOf(int(c&0x0f), depth)
	}
	sized := func(n int) (uint64, error) { return d.uint(n) }
	switch c {
	case 0xc0:
		return lua.LNil, nil
	case 0xc2:
		return lua.LFalse, nil
	case 0xc3:
		return lua.LTrue, nil
	case 0xcc, 0xcd, 0xce, 0xcf:
		v, err := sized(1 << (c - 0xcc))
		return lua.LNumber(v), err
	case 0xd0, 0xd1, 0xd2, 0xd3:
		n := 1 << (c - 0xd0)
		v, err := sized(n)
		shift := 64 - 8*n
		return lua.LNumber(int64(v<<shift) >> shift), err
	case 0xca:
		v, err := sized(4)
		return lua.LNumber(math.Float32frombits(uint32(v))), err
	case 0xcb:
		v, err := sized(8)
		return lua.LNumber(math.Float64frombits(v)), err
	case 0xd9, 0xda, 0xdb, 0xc4, 0xc5, 0xc6:
		width := map[byte]int{0xd9: 1, 0xda: 2, 0xdb: 4, 0xc4: 1, 0xc5: 2, 0xc6: 4}[c]
		n, err := sized(width)
		if err != nil {
			return nil, err
		}
		s, err := d.take(int(min(n, uint64(len(d.s)+1))))
		return lua.LString(s), err
	case 0xdc, 0xdd:
		n, err := sized(2 << (c - 0xdc))
		if err != nil {
			return nil, err
		}
		return d.array(int(min(n, math.MaxInt32)), depth)
	case 0xde, 0xdf:
		n, err := sized(2 << (c - 0xde))
		if err != nil {
			return nil, err
		}
		return d.mapOf(int(min(n, math.MaxInt32)), depth)
	}
	return nil, errMsgpackBad
}

// array and mapOf read n elements; a claimed n larger than the input
// fails on the bytes missing, never allocated up front.
func (d *msgpackDecoder) array(n, depth int) (lua.LValue, error) {
	t := d.L.CreateTable(min(n, len(d.s)-d.pos), 0)
	for i := 1; i <= n; i++ {
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		t.RawSetInt(i, v)
	}
	return t, nil
}

func (d *msgpackDecoder) mapOf(n, depth int) (lua.LValue, error) {
	t := d.L.NewTable()
	for range n {
		k, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if k != lua.LNil {
			t.RawSet(k, v)
		}
	}
	return t, nil
}

/* }}} */

/* struct {{{ */

func (e *scriptEnv) structLib() *lua.LTable {
	t := e.L.NewTable()
	e.setFuncs(t, map[string]lua.LGFunction{
		"pack":   e.structPack,
		"unpack": structUnpack,
		"size":   structSize,
	})
	return t
}

type structHeader struct {
	big   bool
	align int
}

// structNum reads a decimal count at fmt[*i], or df.
func structNum(L *lua.LState, f string, i *int, df int) int {
	if *i >= len(f) || !isDigit(f[*i]) {
		return df
	}
	a := 0
	for *i < len(f) && isDigit(f[*i]) {
		if a > (math.MaxInt32-int(f[*i]-'0'))/10 {
			raise(L, "integral size overflow")
		}
		a = a*10 + int(f[*i]-'0')
		*i++
	}
	return a
}

func structOptSize(L *lua.LState, opt byte, f string, i *int) int {
	switch opt {
	case 'B', 'b', 'x':
		return 1
	case 'H', 'h':
		return 2
	case 'L', 'l', 'T', 'd':
		return 8
	case 'f':
		return 4
	case 'c':
		return structNum(L, f, i, 1)
	case 'i', 'I':
		sz := structNum(L, f, i, 4)
		if sz > structMaxInt {
			raise(L, "integral size %d is larger than limit of %d", sz, structMaxInt)
		}
		return sz
	}
	return 0
}

func structToAlign(n int, h *structHeader, opt byte, size int) int {
	if size == 0 || opt == 'c' {
		return 0
	}
	if size > h.align {
		size = h.align
	}
	return (size - (n & (size - 1))) & (size - 1)
}

func structControl(L *lua.LState, opt byte, f string, i *int, h *structHeader) {
	switch opt {
	case ' ':
	case '>':
		h.big = true
	case '<':
		h.big = false
	case '!':
		a := structNum(L, f, i, structMaxAlign)
		if a == 0 || a&(a-1) != 0 {
			raise(L, "alignment %d is not a power of 2", a)
		}
		h.align = a
	default:
		L.ArgError(1, fmt.Sprintf("invalid format option '%c'", opt))
	}
}

func (e *scriptEnv) structPack(L *lua.LState) int {
	f := L.CheckString(1)
	h := structHeader{align: 1}
	arg := 2
	var b bytes.Buffer
	for i := 0; i < len(f); {
		opt := f[i]
		i++
		size := structOptSize(L, opt, f, &i)
		pad := structToAlign(b.Len(), &h, opt, size)
		b.Write(make([]byte, pad))
		switch opt {
		case 'b', 'B', 'h', 'H', 'l', 'L', 'T', 'i', 'I':
			n := float64(L.CheckNumber(arg))
			arg++
			var v uint64
			if n < 0 {
				v = uint64(int64(n))
			} else {
				v = uint64(n)
			}
			buf := make([]byte, size)
			for k := 0; k < size; k++ {
				idx := k
				if h.big {
					idx = size - 1 - k
				}
				buf[idx] = byte(v)
				v >>= 8
			}
			b.Write(buf)
		case 'x':
			b.WriteByte(0)
		case 'f', 'd':
			n := float64(L.CheckNumber(arg))
			arg++
			var buf []byte
			if opt == 'f' {
				buf = binary.LittleEndian.AppendUint32(nil, math.Float32bits(float32(n)))
			} else {
				buf = binary.LittleEndian.AppendUint64(nil, math.Float64bits(n))
			}
			if h.big {
				for l, r := 0, len(buf)-1; l < r; l, r = l+1, r-1 {
					buf[l], buf[r] = buf[r], buf[l]
				}
			}
			b.Write(buf)
		case 'c', 's':
			s := stringArg(L, arg)
			arg++
			if size == 0 || opt == 's' {
				size = len(s)
			}
			if len(s) < size {
				L.ArgError(arg-1, "string too short")
			}
			e.tooLarge(L, "struct.pack", float64(b.Len())+float64(size)+1)
			b.WriteString(s[:size])
			if opt == 's' {
				b.WriteByte(0)
			}
		default:
			structControl(L, opt, f, &i, &h)
		}
		e.tooLarge(L, "struct.pack", float64(b.Len()))
	}
	L.Push(lua.LString(b.String()))
	return 1
}

func structUnpack(L *lua.LState) int {
	f := L.CheckString(1)
	data := stringArg(L, 2)
	pos := L.OptInt(3, 1) - 1
	if pos < 0 || pos > len(data) {
		L.ArgError(3, "offset must be 1 or greater")
	}
	h := structHeader{align: 1}
	n := 0
	short := func(size int) {
		if size > len(data) || pos > len(data)-size {
			L.ArgError(2, "data string too short")
		}
	}
	for i := 0; i < len(f); {
		opt := f[i]
		i++
		size := structOptSize(L, opt, f, &i)
		pos += structToAlign(pos, &h, opt, size)
		short(size)
		if n >= maxResults {
			raise(L, "too many results")
		}
		switch opt {
		case 'b', 'B', 'h', 'H', 'l', 'L', 'T', 'i', 'I':
			var v uint64
			for k := 0; k < size; k++ {
				idx := size - 1 - k
				if h.big {
					idx = k
				}
				v = v<<8 | uint64(data[pos+idx])
			}
			if opt >= 'a' && opt <= 'z' && size < 8 {
				shift := uint(64 - 8*size)
				L.Push(lua.LNumber(int64(v<<shift) >> shift))
			} else if opt >= 'a' && opt <= 'z' {
				L.Push(lua.LNumber(int64(v)))
			} else {
				L.Push(lua.LNumber(v))
			}
			n++
		case 'x':
		case 'f', 'd':
			buf := []byte(data[pos : pos+size])
			if h.big {
				for l, r := 0, len(buf)-1; l < r; l, r = l+1, r-1 {
					buf[l], buf[r] = buf[r], buf[l]
				}
			}
			if opt == 'f' {
				L.Push(lua.LNumber(math.Float32frombits(binary.LittleEndian.Uint32(buf))))
			} else {
				L.Push(lua.LNumber(math.Float64frombits(binary.LittleEndian.Uint64(buf))))
			}
			n++
		case 'c':
			if size == 0 {
				prev, ok := L.Get(-1).(lua.LNumber)
				if n == 0 || !ok {
					raise(L, "format 'c0' needs a previous size")
				}
				size = int(prev)
				L.Pop(1)
				n--
				short(size)
			}
			L.Push(lua.LString(data[pos : pos+size]))
			n++
		case 's':
			end := strings.IndexByte(data[pos:], 0)
			if end < 0 {
				raise(L, "unfinished string in data")
			}
			size = end + 1
			L.Push(lua.LString(data[pos : pos+end]))
			n++
		default:
			structControl(L, opt, f, &i, &h)
		}
		pos += size
	}
	L.Push(lua.LNumber(pos + 1))
	return n + 1
}

func structSize(L *lua.LState) int {
	f := L.CheckString(1)
	h := structHeader{align: 1}
	pos := 0
	for i := 0; i < len(f); {
		opt := f[i]
		i++
		size := structOptSize(L, opt, f, &i)
		pos += structToAlign(pos, &h, opt, size)
		if opt == 's' {
			L.ArgError(1, "options 's' has no size")
		} else if opt == 'c' && size == 0 {
			L.ArgError(1, "options 'c0' has no size")
		}
		if !isAlpha(opt) && !isDigit(opt) {
			structControl(L, opt, f, &i, &h)
		}
		pos += size
	}
	L.Push(lua.LNumber(pos))
	return 1
}

/* }}} */
