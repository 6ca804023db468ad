package server

import (
	"bytes"
	"math"
	"reflect"
	"testing"

	"github.com/devapi-dev/devapi"
)

// FuzzBackupRoundTrip: whatever keys a snapshot holds, a backup of them
// decodes to the same keys, in order.
func FuzzBackupRoundTrip(f *testing.F) {
	f.Add(uint8(0), "k", uint8(0), int64(0), "v", "w", 1.5)
	f.Add(uint8(15), "\x00\xff", uint8(3), int64(1000), "", "\u2028", math.Inf(-1))
	f.Add(uint8(3), "stream", uint8(5), int64(-1), "1-1", "f", 0.0)
	f.Fuzz(func(t *testing.T, db uint8, key string, typ uint8, ttl int64, a, b string, score float64) {
		if math.IsNaN(score) {
			score = 0 // a snapshot never holds a NaN score (Snapshot.Validate)
		}
		k := devapi.SnapshotKey{DB: int(db % 16), Key: key, TTLMillis: ttl}
		switch typ % 6 {
		case 0:
			k.Type, k.String = devapi.TypeString, a
		case 1:
			k.Type, k.List = devapi.TypeList, []string{a, b, a}
		case 2:
			k.Type, k.Set = devapi.TypeSet, []string{a, b}
		case 3:
			k.Type, k.ZSet = devapi.TypeZSet, []devapi.ScoredMember{{Member: a, Score: score}, {Member: b, Score: -score}}
		case 4:
			k.Type, k.Hash = devapi.TypeHash, map[string]string{a: b, b + "x": a}
		case 5:
			k.Type, k.Stream = devapi.TypeStream, []devapi.StreamEntry{{ID: "1-1", Fields: []string{a, b}}, {ID: "2-0", Fields: []string{b, ""}}}
		}
		second := devapi.SnapshotKey{DB: k.DB, Key: key + "+", Type: devapi.TypeString, String: b}
		want := []devapi.SnapshotKey{k, second}
		var buf bytes.Buffer
		err := writeBackup(&buf, 1<<30, func(emit func(devapi.SnapshotKey) error) error {
			for _, k := range want {
				if err := emit(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("write: %v", err)
		}
		if err := checkBackup(bytes.NewReader(buf.Bytes())); err != nil {
			t.Fatalf("check: %v", err)
		}
		var got []devapi.SnapshotKey
		for k, err := range backupKeys(bytes.NewReader(buf.Bytes())) {
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			got = append(got, k)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip:\n got %#v\nwant %#v", got, want)
		}
	})
}

// FuzzBackupDecode: damaged backup content is an error, never a panic or a
// runaway allocation.
func FuzzBackupDecode(f *testing.F) {
	var good bytes.Buffer
	_ = writeBackup(&good, 1<<20, func(emit func(devapi.SnapshotKey) error) error {
		return emit(devapi.SnapshotKey{Key: "k", Type: devapi.TypeHash, Hash: map[string]string{"f": "v"}})
	})
	f.Add(good.Bytes())
	f.Add([]byte(backupMagic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = checkBackup(bytes.NewReader(data))
		n := 0
		for _, err := range backupKeys(bytes.NewReader(data)) {
			if err != nil || n > 10_000 {
				break
			}
			n++
		}
	})
}
