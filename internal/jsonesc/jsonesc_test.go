package jsonesc

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"unicode/utf8"
)

var seeds = []string{
	"", "plain", `"quoted" \back\`, "<b>&amp;</b>", "\b\f\n\r\t\x00\x01\x1f\x7f",
	"héllo wörld ☃ 𝄞", "\u2028\u2029", "bad \xff\xfe utf-8", "cut \xe2\x98", "\xf0\x9d\x84",
}

// quoted is what encoding/json writes for s.
func quoted(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// FuzzAppend: Append writes encoding/json's bytes for any string, as a
// string and as a []byte, and a stream cut anywhere into pieces (final
// only for the last) writes the same bytes.
func FuzzAppend(f *testing.F) {
	for _, s := range seeds {
		f.Add(s, uint8(3))
	}
	f.Fuzz(func(t *testing.T, s string, piece uint8) {
		want := quoted(t, s)
		got, n := Append([]byte(`"`), s, true)
		if string(got)+`"` != want || n != len(s) {
			t.Fatalf("Append(%q) = %s (%d consumed), want %s", s, got, n, want)
		}
		got, _ = Append([]byte(`"`), []byte(s), true)
		if string(got)+`"` != want {
			t.Fatalf("Append([]byte(%q)) = %s, want %s", s, got, want)
		}
		// As a stream: pieces of size piece (at least 1); what a piece
		// leaves unconsumed comes again at the start of the next one.
		size := max(int(piece)%8, 1)
		stream, rest := []byte(`"`), []byte{}
		for i := 0; i < len(s); i += size {
			rest = append(rest, s[i:min(i+size, len(s))]...)
			final := i+size >= len(s)
			var n int
			stream, n = Append(stream, rest, final)
			rest = rest[n:]
			if !final && len(rest) >= utf8.UTFMax {
				t.Fatalf("a piece left %d bytes unconsumed", len(rest))
			}
		}
		if string(stream)+`"` != want {
			t.Fatalf("streamed in pieces of %d: %s, want %s", size, stream, want)
		}
	})
}

// TestAppendStopsBeforeACutSequence: not final, a UTF-8 sequence cut at the
// end of s is left for the next piece; final, it is invalid UTF-8.
func TestAppendStopsBeforeACutSequence(t *testing.T) {
	s := "ab\xe2\x98" // ☃ without its last byte
	got, n := Append(nil, s, false)
	if string(got) != "ab" || n != 2 {
		t.Errorf("not final: %q, %d consumed; want \"ab\", 2", got, n)
	}
	got, n = Append(nil, s, true)
	if string(got) != `ab\ufffd\ufffd` || n != len(s) {
		t.Errorf("final: %q, %d consumed; want ab\\ufffd\\ufffd, %d", got, n, len(s))
	}
}

// TestAppendAllocations: escaping into a buffer with room allocates
// nothing, for a []byte with non-ASCII text too.
func TestAppendAllocations(t *testing.T) {
	b := []byte("snow ☃ and <tags> \u2028 \xff " + string(make([]byte, 64)))
	dst := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(100, func() { dst, _ = Append(dst[:0], b, true) }); n != 0 {
		t.Errorf("Append allocates %.0f times, want 0", n)
	}
}

// TestEscapingMatchesEncodingJSON: strings are escaped as encoding/json
// escapes them, whole or cut into two parts anywhere (a stream is read a
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
		want := quoted(t, s)
		got, n := Append([]byte(`"`), []byte(s), true)
		if string(got)+`"` != want || n != len(s) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
		for cut := 0; cut <= len(s); cut++ {
			got, used := Append([]byte(`"`), []byte(s[:cut]), false)
			rest := s[used:]
			got, _ = Append(got, []byte(rest), true)
			if string(got)+`"` != want {
				t.Fatalf("%q cut at %d: got %s, want %s", s, cut, got, want)
			}
		}
	}
}
