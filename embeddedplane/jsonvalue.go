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
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unsafe"
)

// jsonMaxDepth is RedisJSON's nesting limit (MAX_DEPTH in json_path and
// serde_json's recursion limit): a document nests at most this deep.
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

// remove deletes k from m.
func (d *jsonDoc) remove(m map[string]any, k string) {
	if _, ok := m[k]; !ok {
		return
	}
	ks := d.keys(m)
	if i := slices.Index(ks, k); i >= 0 {
		d.order[mapID(m)] = slices.Delete(slices.Clone(ks), i, i+1)
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
// serde_json does with its recursion limit; errors are serde_json's words.
func (d *jsonDoc) parseValue(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	v, err := d.parseNext(dec, 0)
	if err != nil {
		return nil, jsonSyntax(s, dec, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("trailing characters at line 1 column %d", dec.InputOffset()+1)
	}
	return v, nil
}

// errTooDeep stops a parse at the nesting limit.
var errTooDeep = errors.New("too deep")

// jsonSyntax words a parse error as serde_json does.
func jsonSyntax(s string, dec *json.Decoder, err error) error {
	col := dec.InputOffset() + 1
	switch {
	case errors.Is(err, errTooDeep):
		return fmt.Errorf("recursion limit exceeded at line 1 column %d", col)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("EOF while parsing a value at line 1 column %d", len(s))
	}
	return fmt.Errorf("expected value at line 1 column %d", col)
}

func (d *jsonDoc) parseNext(dec *json.Decoder, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= jsonMaxDepth {
			return nil, errTooDeep
		}
		switch t {
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := d.parseNext(dec, depth+1)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return arr, nil
		case '{':
			obj := d.newObject()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, ok := kt.(string)
				if !ok {
					return nil, errors.New("key must be a string")
				}
				v, err := d.parseNext(dec, depth+1)
				if err != nil {
					return nil, err
				}
				d.put(obj, k, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return obj, nil
		}
		return nil, errors.New("unexpected delimiter")
	case json.Number:
		return parseNumber(string(t))
	case string, bool, nil:
		return t, nil
	}
	return nil, errors.New("unexpected token")
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

// jsonEqual reports whether a and b are the same JSON value (ARRINDEX);
// 1 and 1.0 are equal, as RedisJSON compares numbers by value.
func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case int64, float64:
		fa, oka := toFloat(a)
		fb, okb := toFloat(b)
		if ia, ok := x.(int64); ok {
			if ib, ok := b.(int64); ok {
				return ia == ib
			}
		}
		return oka && okb && fa == fb
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
