package devapi

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
)

// NewPassword returns a new database password: 32 lowercase hex characters
// from crypto/rand, the format Upstash answers with.
func NewPassword() string {
	var b [passwordBytes]byte
	_, _ = rand.Read(b[:]) // never fails on Linux; see crypto/rand.Read
	return hex.EncodeToString(b[:])
}

// passwordBytes is how many random bytes a password holds: hex makes them
// restTokenSecret characters, the secret of a full REST token.
const passwordBytes = restTokenSecret / 2

// NewCredentials returns a new password for database id on port, and its
// REST tokens, as NewPassword and NewRestTokens make them, from one read
// of crypto/rand for the three (reset-password's hot path).
func NewCredentials(id string, port int) Credentials {
	var random [passwordBytes + restTokenSecret]byte
	_, _ = rand.Read(random[:])
	var password [2 * passwordBytes]byte
	hex.Encode(password[:], random[:passwordBytes])
	return Credentials{
		Password:          string(password[:]),
		RestToken:         restToken(1, id, port, password[:]),
		ReadOnlyRestToken: restToken(2, id, port, random[passwordBytes:]),
	}
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
	// The key's bytes and the hex stay on the stack for any key devapi
	// makes (64 characters): the string is the one allocation, where
	// []byte(key) and hex.EncodeToString made two more.
	var in [128]byte
	sum := sha256.Sum256(append(in[:0], key...))
	var out [2 * sha256.Size]byte
	hex.Encode(out[:], sum[:])
	return string(out[:])
}

// NewRestTokens returns a new full-access and read-only REST token for a
// database, shaped like Upstash's: base64 of a kind byte (1 full, 2 read-only),
// the port, the database id and a secret part. The full token carries the
// password as Upstash's does; the read-only one a fresh random secret.
// password is one NewPassword made (32 bytes): RestTokenDatabaseID finds
// the id at a fixed distance from the end.
func NewRestTokens(id string, port int, password string) (full, readOnly string) {
	return restToken(1, id, port, []byte(password)), restToken(2, id, port, randomBytes(restTokenSecret))
}

// A REST token's bytes: a kind byte, the port (2 bytes), restTokenMarker,
// the database id, and a secret of restTokenSecret bytes (a password from
// NewPassword, or random bytes); restTokenHead is the length before the id.
const (
	restTokenMarker = "\x01\x24\x20"
	restTokenHead   = 3 + len(restTokenMarker)
	restTokenSecret = 32
)

// RestTokenDatabaseID returns the database id a REST token made by
// NewRestTokens carries, so that a store can look the token's database up
// by its id and compare the token itself, in constant time, with the ones
// it stores. ok is false for a string of any other shape, and for an id
// that is not printable ASCII.
func RestTokenDatabaseID(token string) (id string, ok bool) {
	b, err := base64.URLEncoding.DecodeString(token)
	if err != nil || len(b) <= restTokenHead+restTokenSecret || (b[0] != 1 && b[0] != 2) ||
		string(b[3:restTokenHead]) != restTokenMarker {
		return "", false
	}
	id = string(b[restTokenHead : len(b)-restTokenSecret])
	// Ids are printable ASCII (uuids); anything else in a token is forged,
	// and would reach the store as a parameter PostgreSQL refuses (a NUL,
	// bytes that are not UTF-8) instead of matching no row.
	for i := range len(id) {
		if id[i] < 0x21 || id[i] > 0x7e {
			return "", false
		}
	}
	return id, true
}

// MatchRestToken reports whether token is one of d's REST tokens, and
// whether it is the read-only one. The comparison takes the same time
// wherever the tokens differ.
func MatchRestToken(d *Database, token string) (readOnly, ok bool) {
	switch {
	case subtle.ConstantTimeCompare([]byte(d.RestToken), []byte(token)) == 1:
		return false, true
	case subtle.ConstantTimeCompare([]byte(d.ReadOnlyRestToken), []byte(token)) == 1:
		return true, true
	}
	return false, false
}

func restToken(kind byte, id string, port int, secret []byte) string {
	// The bytes and their base64 stay on the stack for any id devapi
	// makes (uuids): the token's string is the one allocation.
	var raw [128]byte
	b := append(raw[:0], kind)
	b = binary.BigEndian.AppendUint16(b, uint16(port))
	b = append(b, restTokenMarker...)
	b = append(b, id...)
	b = append(b, secret...)
	var out [172]byte // base64 of raw
	return string(base64.URLEncoding.AppendEncode(out[:0], b))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails on Linux; see crypto/rand.Read
	return b
}
