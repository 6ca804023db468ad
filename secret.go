package devapi

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
)

// NewPassword returns a new database password: 32 lowercase hex characters
// from crypto/rand, the format Upstash answers with.
func NewPassword() string {
	return hex.EncodeToString(randomBytes(16))
}

// NewAPIKey returns a new API key: a long random string.
func NewAPIKey() string {
	return hex.EncodeToString(randomBytes(32))
}

// NewKeyID returns a short random id for an API key, safe to show and log.
func NewKeyID() string {
	return "key_" + hex.EncodeToString(randomBytes(6))
}

// HashAPIKey returns the stored form of an API key. Keys are 256-bit random
// strings, so one SHA-256 is enough: there is nothing to brute-force.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// NewRestTokens returns a new full-access and read-only REST token for a
// database, shaped like Upstash's: base64 of a kind byte (1 full, 2 read-only),
// the port, the database id and a secret part. The full token carries the
// password as Upstash's does; the read-only one a fresh random secret.
func NewRestTokens(id string, port int, password string) (full, readOnly string) {
	return restToken(1, id, port, []byte(password)), restToken(2, id, port, randomBytes(32))
}

func restToken(kind byte, id string, port int, secret []byte) string {
	b := make([]byte, 0, 3+3+len(id)+len(secret))
	b = append(b, kind)
	b = binary.BigEndian.AppendUint16(b, uint16(port))
	b = append(b, 0x01, 0x24, 0x20)
	b = append(b, id...)
	b = append(b, secret...)
	return base64.URLEncoding.EncodeToString(b)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails on Linux; see crypto/rand.Read
	return b
}
