package restapi

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// TestEscapingMatchesEncodingJSON: strings are escaped as encoding/json
// escapes them, whole or cut into parts anywhere (a bulk string is read a
// part at a time, and a UTF-8 sequence may be cut between two parts).
func TestEscapingMatchesEncodingJSON(t *testing.T) {
	samples := []string{"", "plain", "\x00\x01\x1f\x7f", `"\/`, "<a href='x'>&amp;</a>", "\b\f\n\r\t",
		"é漢字🙂", "\u2028\u2029", "\xff\xfe", "a\xe6\x97", "\xe6\x97\xa5\xe6", "\xf0\x9f\x99"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		samples = append(samples, string(b), "é"+string(b)+"🙂")
	}
	for _, s := range samples {
		want, _ := json.Marshal(s)
		got, n := appendEscaped([]byte(`"`), []byte(s), true)
		if string(got)+`"` != string(want) || n != len(s) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
		for cut := 0; cut <= len(s); cut++ {
			got, used := appendEscaped([]byte(`"`), []byte(s[:cut]), false)
			rest := s[used:]
			got, _ = appendEscaped(got, []byte(rest), true)
			if string(got)+`"` != string(want) {
				t.Fatalf("%q cut at %d: got %s, want %s", s, cut, got, want)
			}
		}
	}
}
