package server

import (
	"regexp"
	"strings"
	"testing"
)

// TestValidRequestID checks the rule for a caller's X-Request-Id against
// the regular expression it replaced, on the edges and on every byte.
func TestValidRequestID(t *testing.T) {
	rule := regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	cases := []string{"", "a", "Z", "0", ".", "_", "-", "abc.DEF_012-", strings.Repeat("x", 64), strings.Repeat("x", 65),
		"a b", "a\n", "é", "a/b", "a:b", "a\x00", "🎉", strings.Repeat("x", 63) + "é"}
	for c := range 256 {
		cases = append(cases, string([]byte{byte(c)}), "id"+string([]byte{byte(c)}))
	}
	for _, id := range cases {
		if got, want := validRequestID(id), rule.MatchString(id); got != want {
			t.Errorf("validRequestID(%q) = %v, want %v", id, got, want)
		}
	}
}

// TestRequestIDs: ids are 16 hex digits, do not repeat, and differ from
// another handler's.
func TestRequestIDs(t *testing.T) {
	shape := regexp.MustCompile(`^[0-9a-f]{16}$`)
	a, b := newRequestIDs(), newRequestIDs()
	seen := map[string]bool{}
	const n = 100000
	for range n {
		id := a.next()
		if !shape.MatchString(id) {
			t.Fatalf("id %q is not 16 hex digits", id)
		}
		if seen[id] {
			t.Fatalf("id %q handed out twice", id)
		}
		seen[id] = true
	}
	for range 1000 {
		if id := b.next(); seen[id] {
			t.Fatalf("another handler's id %q repeats one of the first's", id)
		}
	}
	// Consecutive ids differ in many digits, not in the last few only.
	first, second := a.next(), a.next()
	same := 0
	for i := range first {
		if first[i] == second[i] {
			same++
		}
	}
	if same > 8 {
		t.Errorf("consecutive ids %s and %s share %d of 16 digits", first, second, same)
	}
}
