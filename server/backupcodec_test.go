package server

import (
	"bytes"
	"compress/gzip"
	"encoding/gob"
	"errors"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/devapi-dev/devapi"
)

// codecSample has a key of every type, with what a codec gets wrong:
// binary and empty values, infinite scores, a value longer than the
// decoder's scratch buffer, TTLs, several logical databases.
func codecSample() devapi.Snapshot {
	return devapi.Snapshot{Keys: []devapi.SnapshotKey{
		{DB: 0, Key: "big", Type: devapi.TypeString, String: strings.Repeat("0123456789", 10_000)},
		{DB: 0, Key: "bin\x00key", Type: devapi.TypeString, String: "bin\x00\xff\r\nvalue", TTLMillis: 3_600_000},
		{DB: 0, Key: "empty", Type: devapi.TypeString, String: ""},
		{DB: 0, Key: "hash", Type: devapi.TypeHash, Hash: map[string]string{"f1": "v1", "f2": "", "\xff": "\x00"}},
		{DB: 0, Key: "json", Type: devapi.TypeJSON, JSON: `{"a":[1,"\u00ff"],"b":null}`, TTLMillis: 5},
		{DB: 0, Key: "list", Type: devapi.TypeList, List: []string{"a", "b", "a", ""}},
		{DB: 0, Key: "set", Type: devapi.TypeSet, Set: []string{"x", "y"}},
		{DB: 0, Key: "stream", Type: devapi.TypeStream, Stream: []devapi.StreamEntry{
			{ID: "1-0", Fields: []string{"name", "ada"}}, {ID: "1-1", Fields: []string{"n", "b", "m", "c"}},
		}},
		{DB: 0, Key: "zset", Type: devapi.TypeZSet, ZSet: []devapi.ScoredMember{
			{Member: "low", Score: math.Inf(-1)}, {Member: "pi", Score: 3.14159}, {Member: "high", Score: math.Inf(1)},
		}},
		{DB: 15, Key: "last", Type: devapi.TypeString, String: "in db 15", TTLMillis: 1},
	}}
}

// encode returns the backup content of s, with limit.
func encode(t *testing.T, s devapi.Snapshot, limit int64) ([]byte, error) {
	t.Helper()
	var buf bytes.Buffer
	err := writeBackup(&buf, limit, func(emit func(devapi.SnapshotKey) error) error {
		for _, k := range s.Keys {
			if err := emit(k); err != nil {
				return err
			}
		}
		return nil
	})
	return buf.Bytes(), err
}

// decodeAll returns the keys of backup content b.
func decodeAll(b []byte) (devapi.Snapshot, error) {
	var s devapi.Snapshot
	for k, err := range backupKeys(bytes.NewReader(b)) {
		if err != nil {
			return s, err
		}
		s.Keys = append(s.Keys, k)
	}
	return s, nil
}

func TestBackupCodecRoundTrip(t *testing.T) {
	for name, want := range map[string]devapi.Snapshot{"Sample": codecSample(), "Empty": {}} {
		t.Run(name, func(t *testing.T) {
			b, err := encode(t, want, math.MaxInt64)
			if err != nil {
				t.Fatal(err)
			}
			if err := checkBackup(bytes.NewReader(b)); err != nil {
				t.Errorf("checkBackup of a whole backup: %v", err)
			}
			got, err := decodeAll(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Keys, want.Keys) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got.Keys, want.Keys)
			}
		})
	}
}

// TestBackupCodecReadsVersion1 reads what devapi stored before backups
// streamed: one gob-encoded Snapshot, without a header.
func TestBackupCodecReadsVersion1(t *testing.T) {
	want := codecSample()
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(want); err != nil {
		t.Fatal(err)
	}
	if err := checkBackup(bytes.NewReader(buf.Bytes())); err != nil {
		t.Errorf("checkBackup of a version 1 backup: %v", err)
	}
	got, err := decodeAll(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Keys, want.Keys) {
		t.Errorf("version 1:\n got %+v\nwant %+v", got.Keys, want.Keys)
	}
}

// TestBackupCodecCatchesDamage: a backup cut short or with a byte changed
// fails checkBackup, so a restore never starts on it.
func TestBackupCodecCatchesDamage(t *testing.T) {
	b, err := encode(t, codecSample(), math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(b)
	flipped[len(flipped)/2] ^= 0x10
	for name, damaged := range map[string][]byte{
		"Truncated":   b[:len(b)-9],
		"CutInHalf":   b[:len(b)/2],
		"ByteChanged": flipped,
		"Nothing":     nil,
	} {
		if err := checkBackup(bytes.NewReader(damaged)); err == nil {
			t.Errorf("%s: checkBackup passed a damaged backup", name)
		}
		if _, err := decodeAll(damaged); err == nil {
			t.Errorf("%s: decoding a damaged backup succeeded", name)
		}
	}
}

// TestBackupCodecLimit: past the limit the snapshot is stopped at the key
// that passes it, with a tooLargeError that says the limit in MB.
func TestBackupCodecLimit(t *testing.T) {
	var s devapi.Snapshot
	for i := range 100 {
		s.Keys = append(s.Keys, devapi.SnapshotKey{Key: string(rune('a'+i/26)) + string(rune('a'+i%26)), Type: devapi.TypeString, String: strings.Repeat("v", 100<<10)})
	}
	emitted := 0
	var buf bytes.Buffer
	err := writeBackup(&buf, 1<<20, func(emit func(devapi.SnapshotKey) error) error {
		for _, k := range s.Keys {
			emitted++
			if err := emit(k); err != nil {
				return err
			}
		}
		return nil
	})
	var tooLarge *tooLargeError
	if !errors.As(err, &tooLarge) || devapi.ErrorCode(err) != devapi.EINVALID {
		t.Fatalf("writeBackup over the limit: %v, want a tooLargeError (EINVALID)", err)
	}
	if msg := devapi.ErrorMessage(err); msg != "database is larger than the backup limit (1 MB)" {
		t.Errorf("message %q", msg)
	}
	// 1 MiB holds 10 keys of 100 KiB; the writer's 64 KiB buffer lets one
	// or two more in before it passes the limit on.
	if emitted > 12 {
		t.Errorf("the snapshot went on for %d keys of 100 KiB past a 1 MiB limit", emitted)
	}
	if msg := devapi.ErrorMessage(&tooLargeError{limit: 4096}); msg != "database is larger than the backup limit (4096 bytes)" {
		t.Errorf("message of a limit under 1 MB: %q", msg)
	}
	// At the limit exactly, it fits.
	b, err := encode(t, devapi.Snapshot{Keys: s.Keys[:1]}, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	raw := rawSize(t, b)
	if _, err := encode(t, devapi.Snapshot{Keys: s.Keys[:1]}, raw); err != nil {
		t.Errorf("a backup of exactly the limit: %v", err)
	}
	if _, err := encode(t, devapi.Snapshot{Keys: s.Keys[:1]}, raw-1); !errors.As(err, &tooLarge) {
		t.Errorf("a backup one byte over the limit: %v, want a tooLargeError", err)
	}
}

// rawSize returns the bytes of records in backup content b, uncompressed.
func rawSize(t *testing.T, b []byte) int64 {
	t.Helper()
	r := bytes.NewReader(b)
	if _, err := r.Seek(int64(len(backupMagic)), io.SeekStart); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(r)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, zr)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestBackupLimit(t *testing.T) {
	const mib, gib = int64(1) << 20, int64(1) << 30
	for _, c := range []struct {
		plan string
		flag int64
		want int64
	}{
		{devapi.PlanFree, 0, 256 * mib},       // the plan's
		{devapi.PlanFree, 1 * gib, 256 * mib}, // the plan's, smaller
		{devapi.PlanFree, 10 * mib, 10 * mib}, // the flag's, smaller
		{devapi.PlanPayg, 0, 100 * gib},       // the plan's
		{devapi.PlanPayg, 1 * mib, 1 * mib},   // the flag's
		{"no-such-plan", 0, math.MaxInt64},    // none known
		{"no-such-plan", 5 * mib, 5 * mib},    // the flag's alone
	} {
		s := &Server{maxBackup: c.flag}
		if got := s.backupLimit(&devapi.Database{Plan: c.plan}); got != c.want {
			t.Errorf("plan %s, MaxBackupBytes %d: limit %d, want %d", c.plan, c.flag, got, c.want)
		}
	}
}
