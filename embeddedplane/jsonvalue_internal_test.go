package embeddedplane

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestFormatFloat: floats as serde_json (ryu) writes them.
func TestFormatFloat(t *testing.T) {
	a, b := 0.1, 0.2
	for f, want := range map[float64]string{
		1: "1.0", -2.5: "-2.5", a + b: "0.30000000000000004", 1e15: "1000000000000000.0", 1e16: "1e16",
		1.5e16: "1.5e16", 1e-5: "0.00001", 1e-6: "1e-6", 1e-7: "1e-7", 1.25e-7: "1.25e-7", 123.456: "123.456",
		1e300: "1e300", 0: "0.0",
	} {
		if got := formatFloat(f); got != want {
			t.Errorf("formatFloat(%v) = %s, want %s", f, got, want)
		}
	}
}

// TestBracketNames: RedisJSON's member names that RFC 9535's shorthand
// does not take become bracket notation, and nothing else changes.
func TestBracketNames(t *testing.T) {
	for in, want := range map[string]string{
		"$.a.b":         "$.a.b",
		"$.a-b.c":       "$['a-b'].c",
		"$..a-b":        "$..['a-b']",
		"$.1st[0]":      "$['1st'][0]",
		"$.*..*":        "$.*..*",
		"$[?@.a-b==1]":  "$[?@.a-b==1]",
		"$['x.y-z'].w":  "$['x.y-z'].w",
		`$["q\"-"].a:b`: `$["q\"-"]['a:b']`,
		"$.a[0].b-c..d": "$.a[0]['b-c']..d",
		"$.é-x":         "$['é-x']",
	} {
		if got := bracketNames(in); got != want {
			t.Errorf("bracketNames(%s) = %s, want %s", in, got, want)
		}
	}
}

// TestBracketDepth: brackets inside quoted names do not count.
func TestBracketDepth(t *testing.T) {
	for in, want := range map[string]int{
		"$":                0,
		"$[0][1]":          1,
		"$[?(@[0]==1)]":    3,
		`$['[[[']`:         1,
		`$["a\"[[["][0]`:   1,
		"$[?@.a[?@.b[0]]]": 3,
	} {
		if got := bracketDepth(in); got != want {
			t.Errorf("bracketDepth(%s) = %d, want %d", in, got, want)
		}
	}
}

// FuzzJSONValue: the parser takes exactly what encoding/json calls valid
// (bar nesting past RedisJSON's limit and numbers out of float64's range),
// and what it writes parses back to the same text.
func FuzzJSONValue(f *testing.F) {
	for _, s := range []string{
		`{"a":[1,2.5,"x\u00e9\n",true,null,{"b":{}}]}`, `"\ud83d\ude00"`, `-0`, `1e400`, `[1,]`, `{"a" 1}`,
		`"\ud800"`, "\"\x01\"", `01`, `1.`, `-`, `[[[[]]]]`, ` 1 `, `{"a":1,"a":2}`, "\"\xff\"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := newDoc()
		v, err := d.parseValue(s)
		if err != nil {
			if json.Valid([]byte(s)) && !strings.Contains(err.Error(), "recursion limit") &&
				!strings.Contains(err.Error(), "out of range") && !strings.Contains(err.Error(), "surrogate") {
				t.Fatalf("%q is valid JSON, parse says %v", s, err)
			}
			return
		}
		if !json.Valid([]byte(s)) && utf8.ValidString(s) {
			t.Fatalf("%q is not valid JSON, parse took it", s)
		}
		out := d.marshal(v, jsonFormat{})
		d2 := newDoc()
		v2, err := d2.parseValue(out)
		if err != nil {
			t.Fatalf("%q wrote %q, which does not parse: %v", s, out, err)
		}
		if again := d2.marshal(v2, jsonFormat{}); again != out {
			t.Fatalf("%q wrote %q, then %q", s, out, again)
		}
	})
}

// FuzzJSONPath: any path, on a document with every kind of value, parses
// or fails with an error, and evaluates within the budget without panic.
func FuzzJSONPath(f *testing.F) {
	for _, s := range []string{
		"$", ".", "a", ".a.b", "$..*", "$..a..b", "$[?@.a>1]", "$[?$..a]", "$[0,1,-1]", "$[::-1]", "$.a-b",
		"$['a','b'][*]", "$[?length(@)>1]", "$.[0]", `$["x\"y"]`, "$..[?@==null]", "[0]", "$[",
	} {
		f.Add(s)
	}
	d := newDoc()
	root, err := d.parseValue(`{"a":{"b":[1,{"a":2,"b":[3,null]}],"c":"s"},"b":[true,false,1.5],"a-b":{"x":[]},"n":null}`)
	if err != nil {
		f.Fatal(err)
	}
	d.root = root
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePath(s)
		if err != nil {
			return
		}
		nodes, err := p.eval(d)
		if err != nil && err != errPathCost {
			t.Fatalf("%q: %v", s, err)
		}
		for _, n := range nodes {
			if got := d.at(n.Path); !jsonEqual(got, n.Node) && n.Node != nil {
				t.Fatalf("%q: node at %v is %v, path leads to %v", s, n.Path, n.Node, got)
			}
		}
	})
}

// TestJSONMaxDoc: JSON text over 64 MiB is refused before it is parsed.
func TestJSONMaxDoc(t *testing.T) {
	big := `"` + strings.Repeat("x", jsonMaxDoc) + `"`
	if _, err := newDoc().parseValue(big); err != errTooBig {
		t.Errorf("%d bytes of JSON: %v", len(big), err)
	}
	if _, err := newDoc().parseValue(big[:jsonMaxDoc-1] + `"`); err != nil {
		t.Errorf("%d bytes of JSON: %v", jsonMaxDoc, err)
	}
}
