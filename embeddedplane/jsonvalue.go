package embeddedplane

// JSON values for the RedisJSON family (json.go): parsing with RedisJSON's
// limits, and writing them out as RedisJSON does (serde_json's compact form,
// or its INDENT/NEWLINE/SPACE form).
//
// A value is nil, bool, int64, float64, string, []any or map[string]any:
// what the JSONPath library (github.com/theory/jsonpath) walks. Go maps have
// no order, and RedisJSON keeps an object's keys in insertion order, so a
// document carries that order on the side (jsonDoc.order), by map.

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// jsonMaxDepth is RedisJSON's nesting limit (MAX_DEPTH, and serde_json's
// recursion limit): a document nests less deep than this, 127 containers
// at most.
const jsonMaxDepth = 128

// errRecursion is RedisJSON's answer to a value nested too deep.
var errRecursion = errors.New("ERR recursion limit exceeded")

// jsonDoc is one document and the key order of its objects.
type jsonDoc struct {
	root  any
	order map[unsafe.Pointer][]string
}

func newDoc() *jsonDoc {
	return &jsonDoc{order: map[unsafe.Pointer][]string{}}
}

// mapID identifies an object of a document.
func mapID(m map[string]any) unsafe.Pointer {
	return reflect.ValueOf(m).UnsafePointer()
}

// keys returns an object's keys in insertion order.
func (d *jsonDoc) keys(m map[string]any) []string {
	ks := d.order[mapID(m)]
	if len(ks) == len(m) {
		return ks
	}
	// Not made by parse or put (cannot happen); fall back to a stable order.
	ks = make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	d.order[mapID(m)] = ks
	return ks
}

// put sets m[k] = v, keeping k's place or appending it.
func (d *jsonDoc) put(m map[string]any, k string, v any) {
	if _, ok := m[k]; !ok {
		d.order[mapID(m)] = append(d.keys(m), k)
	}
	m[k] = v
}

// remove deletes k from m as RedisJSON's objects (ijson) do: the last key
// takes the removed key's place ({"a","b","c"} less "a" is {"c","b"}).
func (d *jsonDoc) remove(m map[string]any, k string) {
	if _, ok := m[k]; !ok {
		return
	}
	ks := slices.Clone(d.keys(m))
	if i := slices.Index(ks, k); i >= 0 {
		ks[i] = ks[len(ks)-1]
		d.order[mapID(m)] = ks[:len(ks)-1]
	}
	delete(m, k)
}

// newObject returns an empty object of d.
func (d *jsonDoc) newObject() map[string]any {
	m := map[string]any{}
	d.order[mapID(m)] = nil
	return m
}

// parseValue parses one JSON text into a value of d, as RedisJSON's
// serde_json does, with its recursion limit; errors are serde_json's words
// and positions.
func (d *jsonDoc) parseValue(s string) (any, error) {
	if len(s) > jsonMaxDoc {
		return nil, errTooBig
	}
	p := &jsonParser{s: s, d: d}
	p.space()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i < len(s) {
		return nil, p.fail("trailing characters", p.i)
	}
	return v, nil
}

// jsonParser reads one JSON text.
type jsonParser struct {
	s string
	i int
	d *jsonDoc
}

// fail words an error at byte at as serde_json does: its line and
// 1-based column.
func (p *jsonParser) fail(msg string, at int) error {
	at = min(at, len(p.s))
	line, col := 1, 0
	for j := 0; j < at; j++ {
		if p.s[j] == '\n' {
			line, col = line+1, 0
		} else {
			col++
		}
	}
	if at < len(p.s) {
		col++ // the offending byte itself
	}
	return fmt.Errorf("%s at line %d column %d", msg, line, col)
}

func (p *jsonParser) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// value reads a value; depth is how many containers enclose it.
func (p *jsonParser) value(depth int) (any, error) {
	if p.i >= len(p.s) {
		return nil, p.fail("EOF while parsing a value", p.i)
	}
	switch c := p.s[p.i]; {
	case c == '[' || c == '{':
		if depth+1 >= jsonMaxDepth {
			return nil, p.fail("recursion limit exceeded", p.i)
		}
		if c == '[' {
			return p.array(depth + 1)
		}
		return p.object(depth + 1)
	case c == '"':
		return p.str()
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return true, p.word("true")
	case c == 'f':
		return false, p.word("false")
	case c == 'n':
		return nil, p.word("null")
	}
	return nil, p.fail("expected value", p.i)
}

func (p *jsonParser) word(w string) error {
	for j := 0; j < len(w); j++ {
		if p.i >= len(p.s) {
			return p.fail("EOF while parsing a value", p.i)
		}
		if p.s[p.i] != w[j] {
			return p.fail("expected ident", p.i)
		}
		p.i++
	}
	return nil
}

func (p *jsonParser) array(depth int) (any, error) {
	p.i++ // [
	arr := []any{}
	p.space()
	if p.i < len(p.s) && p.s[p.i] == ']' {
		p.i++
		return arr, nil
	}
	for {
		p.space()
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
		p.space()
		if p.i >= len(p.s) {
			return nil, p.fail("EOF while parsing a list", p.i)
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return arr, nil
		default:
			return nil, p.fail("expected `,` or `]`", p.i)
		}
	}
}

func (p *jsonParser) object(depth int) (any, error) {
	p.i++ // {
	obj := p.d.newObject()
	p.space()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return obj, nil
	}
	for {
		p.space()
		if p.i >= len(p.s) {
			return nil, p.fail("EOF while parsing an object", p.i)
		}
		if p.s[p.i] != '"' {
			return nil, p.fail("key must be a string", p.i)
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.s) {
			return nil, p.fail("EOF while parsing an object", p.i)
		}
		if p.s[p.i] != ':' {
			return nil, p.fail("expected `:`", p.i)
		}
		p.i++
		p.space()
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		p.d.put(obj, k, v)
		p.space()
		if p.i >= len(p.s) {
			return nil, p.fail("EOF while parsing an object", p.i)
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return obj, nil
		default:
			return nil, p.fail("expected `,` or `}`", p.i)
		}
	}
}

// str reads a string; p.s[p.i] is its opening quote.
func (p *jsonParser) str() (string, error) {
	p.i++
	start := p.i
	// The common case: no escapes.
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '"' {
			p.i++
			return p.s[start : p.i-1], nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		p.i++
	}
	b := []byte(p.s[start:p.i])
	for {
		if p.i >= len(p.s) {
			return "", p.fail("EOF while parsing a string", p.i)
		}
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return string(b), nil
		case c < 0x20:
			return "", p.fail("control character (\\u0000-\\u001F) found while parsing a string", p.i)
		case c != '\\':
			b = append(b, c)
			p.i++
			continue
		}
		p.i++ // the backslash
		if p.i >= len(p.s) {
			return "", p.fail("EOF while parsing a string", p.i)
		}
		e := p.s[p.i]
		p.i++
		switch e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, err := p.hex4()
			if err != nil {
				return "", err
			}
			if utf16.IsSurrogate(r) {
				if r >= 0xdc00 || !strings.HasPrefix(p.s[p.i:], "\\u") {
					return "", p.fail("lone leading surrogate in hex escape", p.i)
				}
				p.i += 2
				r2, err := p.hex4()
				if err != nil {
					return "", err
				}
				if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
					return "", p.fail("lone leading surrogate in hex escape", p.i)
				}
			}
			b = utf8.AppendRune(b, r)
		default:
			return "", p.fail("invalid escape", p.i-1)
		}
	}
}

func (p *jsonParser) hex4() (rune, error) {
	if p.i+4 > len(p.s) {
		return 0, p.fail("EOF while parsing a string", len(p.s))
	}
	n, err := strconv.ParseUint(p.s[p.i:p.i+4], 16, 32)
	if err != nil {
		return 0, p.fail("invalid escape", p.i)
	}
	p.i += 4
	return rune(n), nil
}

// number reads a number as JSON's grammar has it.
func (p *jsonParser) number() (any, error) {
	start := p.i
	digits := func() int {
		n := 0
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.s[p.i] == '-' {
		p.i++
	}
	if p.i < len(p.s) && p.s[p.i] == '0' {
		p.i++
		if p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			return nil, p.fail("invalid number", p.i)
		}
	} else if digits() == 0 {
		return nil, p.fail("invalid number", p.i)
	}
	if p.i < len(p.s) && p.s[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return nil, p.fail("invalid number", p.i)
		}
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return nil, p.fail("invalid number", p.i)
		}
	}
	v, err := parseNumber(p.s[start:p.i])
	if err != nil {
		return nil, p.fail("number out of range", start)
	}
	return v, nil
}

// parseNumber makes an integer of what serde_json reads as one (no
// fraction, no exponent, fits an int64), a float64 of the rest.
func parseNumber(s string) (any, error) {
	if !strings.ContainsAny(s, ".eE") {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return nil, errors.New("number out of range")
	}
	return f, nil
}

// depthOf is how deep v nests: 0 for a scalar, 1 for a flat array.
func depthOf(v any) int {
	n := 0
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			n = max(n, depthOf(e))
		}
		return n + 1
	case map[string]any:
		for _, e := range t {
			n = max(n, depthOf(e))
		}
		return n + 1
	}
	return 0
}

// jsonFormat is JSON.GET's INDENT, NEWLINE and SPACE; the zero value is
// the compact form.
type jsonFormat struct {
	indent, newline, space string
}

// marshal writes v as RedisJSON does.
func (d *jsonDoc) marshal(v any, f jsonFormat) string {
	var b bytes.Buffer
	d.write(&b, v, f, 0)
	return b.String()
}

func (d *jsonDoc) write(b *bytes.Buffer, v any, f jsonFormat, level int) {
	newline := func(level int) {
		b.WriteString(f.newline)
		for range level {
			b.WriteString(f.indent)
		}
	}
	switch t := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(t))
	case int64:
		b.WriteString(strconv.FormatInt(t, 10))
	case float64:
		b.WriteString(formatFloat(t))
	case string:
		writeString(b, t)
	case []any:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteByte(',')
			}
			newline(level + 1)
			d.write(b, e, f, level+1)
		}
		if len(t) > 0 {
			newline(level)
		}
		b.WriteByte(']')
	case map[string]any:
		b.WriteByte('{')
		for i, k := range d.keys(t) {
			if i > 0 {
				b.WriteByte(',')
			}
			newline(level + 1)
			writeString(b, k)
			b.WriteByte(':')
			b.WriteString(f.space)
			d.write(b, t[k], f, level+1)
		}
		if len(t) > 0 {
			newline(level)
		}
		b.WriteByte('}')
	}
}

// writeString writes s as serde_json does: only '"', '\\' and control
// characters escaped.
func writeString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			b.WriteString(`\"`)
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\b':
			b.WriteString(`\b`)
		case c == '\f':
			b.WriteString(`\f`)
		case c < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

// formatFloat writes a float as serde_json does (the ryu crate): a
// decimal point always ("3.0"), an exponent outside 1e-5..1e16 ("1e16",
// "1.5e-7").
func formatFloat(f float64) string {
	if f == 0 {
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	sign := ""
	if s[0] == '-' {
		sign, s = "-", s[1:]
	}
	mant, exp, _ := strings.Cut(s, "e")
	e, _ := strconv.Atoi(exp)
	digits := strings.Replace(mant, ".", "", 1)
	n := len(digits)
	kk := e + 1 // the decimal point's place after the first digit
	var out string
	switch {
	case kk >= n && kk <= 16:
		out = digits + strings.Repeat("0", kk-n) + ".0"
	case kk > 0 && kk <= 16:
		out = digits[:kk] + "." + digits[kk:]
	case kk > -5 && kk <= 0:
		out = "0." + strings.Repeat("0", -kk) + digits
	case n == 1:
		out = digits + "e" + strconv.Itoa(kk-1)
	default:
		out = digits[:1] + "." + digits[1:] + "e" + strconv.Itoa(kk-1)
	}
	return sign + out
}

// jsonEqual reports whether a and b are the same JSON value (ARRINDEX),
// as RedisJSON's is_equal: an integer never equals a float (3 is not 3.0).
func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !jsonEqual(v, w) {
				return false
			}
		}
		return true
	}
	return a == b
}

func toFloat(v any) (float64, bool) {
	switch t := v.(type) {
	case int64:
		return float64(t), true
	case float64:
		return t, true
	}
	return 0, false
}

// typeName is JSON.TYPE's name of a value.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case int64:
		return "integer"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	}
	return "object"
}

// adopt copies the key order of v's objects, parsed into src, into d.
func (d *jsonDoc) adopt(src *jsonDoc, v any) {
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			d.adopt(src, e)
		}
	case map[string]any:
		d.order[mapID(t)] = src.keys(t)
		for _, e := range t {
			d.adopt(src, e)
		}
	}
}

// clone deep-copies v, an value of d, into a value of d.
func (d *jsonDoc) clone(v any) any {
	switch t := v.(type) {
	case []any:
		c := make([]any, len(t))
		for i, e := range t {
			c[i] = d.clone(e)
		}
		return c
	case map[string]any:
		c := d.newObject()
		for _, k := range d.keys(t) {
			d.put(c, k, d.clone(t[k]))
		}
		return c
	}
	return v
}
