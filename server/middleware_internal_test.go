package server

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
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

// TestParseBasicAuth: parseBasicAuth reads every header as
// net/http.Request.BasicAuth does, with at most one allocation for a
// header of any usual length.
func TestParseBasicAuth(t *testing.T) {
	basic := func(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }
	long := strings.Repeat("k", 300) // decoded past parseBasicAuth's stack buffer
	for _, h := range []string{
		"",
		basic("dev@example.com:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
		basic("Dev@Example.COM:key"),
		basic("dev@example.com:key:with:colons"),
		basic("dev@example.com:"),
		basic(":key"),
		basic("no colon"),
		basic("dev@example.com:" + long),
		"basic " + base64.StdEncoding.EncodeToString([]byte("a:b")),
		"BASIC " + base64.StdEncoding.EncodeToString([]byte("a:b")),
		"Basic",
		"Basic ",
		"Basic !!!",
		"Basic " + base64.RawStdEncoding.EncodeToString([]byte("a:bc")),
		"Basic " + base64.URLEncoding.EncodeToString([]byte("a:b?>")),
		"Bearer " + base64.StdEncoding.EncodeToString([]byte("a:b")),
		"Basi\u017f " + base64.StdEncoding.EncodeToString([]byte("a:b")), // ſ folds to s outside ASCII
		" Basic " + base64.StdEncoding.EncodeToString([]byte("a:b")),
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if h != "" {
			r.Header.Set("Authorization", h)
		}
		wantEmail, wantKey, wantOK := r.BasicAuth()
		email, key, ok := parseBasicAuth(r.Header.Get("Authorization"))
		if email != wantEmail || key != wantKey || ok != wantOK {
			t.Errorf("parseBasicAuth(%q) = %q, %q, %v; BasicAuth says %q, %q, %v", h, email, key, ok, wantEmail, wantKey, wantOK)
		}
	}
	h := basic("dev@example.com:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	if n := testing.AllocsPerRun(100, func() { _, _, _ = parseBasicAuth(h) }); n > 1 {
		t.Errorf("parseBasicAuth allocates %v times, want 1", n)
	}
}

// TestBasicAuthParsedOnce: throttleAuth and authenticate share one parse
// of the Authorization header per request (requestInfo.basicAuth).
func TestBasicAuthParsedOnce(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth("dev@example.com", "key")
	var ri requestInfo
	if c := ri.basicAuth(r); c != (basicCredentials{email: "dev@example.com", key: "key", ok: true}) {
		t.Fatalf("basicAuth = %+v", c)
	}
	r.SetBasicAuth("other@example.com", "other")
	if c := ri.basicAuth(r); c.email != "dev@example.com" || c.key != "key" {
		t.Fatalf("basicAuth parsed the header again: %+v", c)
	}
	for _, tc := range []struct{ email, key string }{{"", "key"}, {"dev@example.com", ""}} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.SetBasicAuth(tc.email, tc.key)
		var ri requestInfo
		if c := ri.basicAuth(r); c.ok {
			t.Errorf("basicAuth(%q, %q) = %+v, want not ok", tc.email, tc.key, c)
		}
	}
}
