package embeddedplane

import "testing"

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
