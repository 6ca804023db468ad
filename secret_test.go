package devapi_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/devapi-dev/devapi"
)

func TestRestTokenDatabaseID(t *testing.T) {
	for _, id := range []string{"db-1", "2f6b0c86-9a3e-4a51-8d5e-0c1d2e3f4a5b", "x"} {
		full, readOnly := devapi.NewRestTokens(id, 6379, devapi.NewPassword())
		for _, tok := range []string{full, readOnly} {
			if got, ok := devapi.RestTokenDatabaseID(tok); !ok || got != id {
				t.Errorf("RestTokenDatabaseID(token of %q) = %q, %v", id, got, ok)
			}
		}
	}
	// The layout written out by hand, as tokens stored by every earlier
	// version have it: kind 1, port 6379, 01 24 20, the id, 32 secret bytes.
	golden := base64.URLEncoding.EncodeToString(append([]byte("\x01\x18\xeb\x01\x24\x20db-1"), make([]byte, 32)...))
	if id, ok := devapi.RestTokenDatabaseID(golden); !ok || id != "db-1" {
		t.Errorf("RestTokenDatabaseID(hand-made token of db-1) = %q, %v", id, ok)
	}
	full, _ := devapi.NewRestTokens("db-1", 6379, devapi.NewPassword())
	raw, _ := base64.URLEncoding.DecodeString(full)
	if string(raw[:6]) != "\x01\x18\xeb\x01\x24\x20" || string(raw[6:len(raw)-32]) != "db-1" {
		t.Errorf("NewRestTokens wrote % x, want the layout above", raw)
	}
	with := func(i int, v byte) string {
		b := append([]byte(nil), raw...)
		b[i] = v
		return base64.URLEncoding.EncodeToString(b)
	}
	for name, tok := range map[string]string{
		"empty":          "",
		"not base64":     "not a token!",
		"free-form":      "rest-token-of-db-1",
		"standard alpha": base64.StdEncoding.EncodeToString(raw) + "+/",
		"no id":          base64.URLEncoding.EncodeToString(raw[:6+32]),
		"kind 3":         with(0, 3),
		"marker":         with(4, 0x25),
		"NUL in the id":  with(6, 0),
		"not UTF-8 id":   with(7, 0xff),
		"space in id":    with(8, ' '),
	} {
		if id, ok := devapi.RestTokenDatabaseID(tok); ok {
			t.Errorf("%s: RestTokenDatabaseID(%q) = %q, true", name, tok, id)
		}
	}
}

func TestMatchRestToken(t *testing.T) {
	d := &devapi.Database{Credentials: devapi.Credentials{RestToken: "full-token", ReadOnlyRestToken: "read-only-token"}}
	for tok, want := range map[string][2]bool{
		"full-token":      {false, true},
		"read-only-token": {true, true},
		"full-tokeN":      {false, false},
		"full-token ":     {false, false},
		"":                {false, false},
	} {
		if ro, ok := devapi.MatchRestToken(d, tok); ro != want[0] || ok != want[1] {
			t.Errorf("MatchRestToken(%q) = %v, %v; want %v, %v", tok, ro, ok, want[0], want[1])
		}
	}
}

// TestNewCredentials: NewCredentials makes what NewPassword and
// NewRestTokens make, byte for byte in the layout TestRestTokenDatabaseID
// pins: a password of 32 lowercase hex digits, a full token holding it, a
// read-only token with a secret of its own; from one read of crypto/rand,
// so with three allocations, the three strings.
func TestNewCredentials(t *testing.T) {
	const id = "2f6b0c86-9a3e-4a51-8d5e-0c1d2e3f4a5b"
	c := devapi.NewCredentials(id, 6379)
	if len(c.Password) != 32 || strings.Trim(c.Password, "0123456789abcdef") != "" {
		t.Fatalf("password %q, want 32 lowercase hex digits", c.Password)
	}
	head := "\x01\x18\xeb\x01\x24\x20" + id
	full, err := base64.URLEncoding.DecodeString(c.RestToken)
	if err != nil || string(full) != head+c.Password {
		t.Errorf("full token %q holds % x, want % x", c.RestToken, full, head+c.Password)
	}
	ro, err := base64.URLEncoding.DecodeString(c.ReadOnlyRestToken)
	if err != nil || len(ro) != len(head)+32 || ro[0] != 2 || string(ro[1:len(head)]) != head[1:] {
		t.Errorf("read-only token %q holds % x, want 02 18 eb 01 24 20, the id and 32 bytes", c.ReadOnlyRestToken, ro)
	}
	if string(ro[len(head):]) == c.Password || bytes.Equal(ro[len(head):], make([]byte, 32)) {
		t.Errorf("read-only token's secret % x is not random", ro[len(head):])
	}
	for _, tok := range []string{c.RestToken, c.ReadOnlyRestToken} {
		if got, ok := devapi.RestTokenDatabaseID(tok); !ok || got != id {
			t.Errorf("RestTokenDatabaseID(%q) = %q, %v", tok, got, ok)
		}
	}
	if again := devapi.NewCredentials(id, 6379); again.Password == c.Password || again.ReadOnlyRestToken == c.ReadOnlyRestToken {
		t.Errorf("two calls made the same secrets: %+v", again)
	}
	// (The race detector's instrumentation makes a fourth.)
	if n := testing.AllocsPerRun(100, func() { devapi.NewCredentials(id, 6379) }); n > 3 && !raceEnabled {
		t.Errorf("NewCredentials allocates %v times, want 3", n)
	}
}

// TestHashAPIKey: the stored form of a key is the hex of its SHA-256,
// made with one allocation, the string (authenticate hashes the caller's
// key on every request).
func TestHashAPIKey(t *testing.T) {
	const key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	sum := sha256.Sum256([]byte(key))
	if got, want := devapi.HashAPIKey(key), hex.EncodeToString(sum[:]); got != want {
		t.Errorf("HashAPIKey = %q, want %q", got, want)
	}
	if n := testing.AllocsPerRun(100, func() { devapi.HashAPIKey(key) }); n > 1 {
		t.Errorf("HashAPIKey allocates %v times, want 1", n)
	}
}
