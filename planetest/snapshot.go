package planetest

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi"
)

// sampleTTL is the TTL of the key "ttl" of SampleSnapshot.
const sampleTTL = time.Hour

// SampleSnapshot is a snapshot with a key of every type, a binary value,
// non-integer scores, a key with a TTL, and a key in logical database 3, in
// the order Snapshot returns keys.
func SampleSnapshot() devapi.Snapshot {
	return devapi.Snapshot{Keys: []devapi.SnapshotKey{
		{DB: 0, Key: "hash", Type: devapi.TypeHash, Hash: map[string]string{"f1": "v1", "f2": ""}},
		{DB: 0, Key: "list", Type: devapi.TypeList, List: []string{"a", "b", "a", "c"}},
		{DB: 0, Key: "set", Type: devapi.TypeSet, Set: []string{"x", "y", "z"}},
		{DB: 0, Key: "str", Type: devapi.TypeString, String: "bin\x00\xff\r\nvalue"},
		{DB: 0, Key: "stream", Type: devapi.TypeStream, Stream: []devapi.StreamEntry{
			{ID: "1700000000000-0", Fields: []string{"name", "ada", "lang", "en"}},
			{ID: "1700000000000-1", Fields: []string{"name", "bob"}},
		}},
		{DB: 0, Key: "ttl", Type: devapi.TypeString, TTLMillis: sampleTTL.Milliseconds(), String: "soon"},
		{DB: 0, Key: "zset", Type: devapi.TypeZSet, ZSet: []devapi.ScoredMember{
			{Member: "minus", Score: -0.25}, {Member: "one", Score: 1.5}, {Member: "pi", Score: 3.14159},
		}},
		{DB: 3, Key: "other", Type: devapi.TypeString, String: "in db 3"},
	}}
}

// DiffSnapshot describes how got differs from want, or returns "" when they
// are equal. A TTL counts as equal when it is at most a minute below want's:
// TTLs run down between snapshots.
func DiffSnapshot(got, want devapi.Snapshot) string {
	for i := range max(len(got.Keys), len(want.Keys)) {
		if i >= len(got.Keys) || i >= len(want.Keys) {
			return fmt.Sprintf("%d keys, want %d; the first of the difference:\n got %s\nwant %s", len(got.Keys), len(want.Keys), keyAt(got, i), keyAt(want, i))
		}
		g, w := got.Keys[i], want.Keys[i]
		if w.TTLMillis > 0 && g.TTLMillis > 0 && g.TTLMillis <= w.TTLMillis && g.TTLMillis > w.TTLMillis-time.Minute.Milliseconds() {
			g.TTLMillis = w.TTLMillis
		}
		if !reflect.DeepEqual(g, w) {
			return fmt.Sprintf("key %d:\n got %s\nwant %s", i, keyAt(got, i), keyAt(want, i))
		}
	}
	return ""
}

// keyAt describes key i of s, in at most 300 bytes.
func keyAt(s devapi.Snapshot, i int) string {
	if i >= len(s.Keys) {
		return "(none)"
	}
	d := fmt.Sprintf("%+v", s.Keys[i])
	if len(d) > 300 {
		d = d[:300] + "..."
	}
	return d
}

// fillSample writes SampleSnapshot with client commands, on db 0 through c
// and db 3 through c3.
func fillSample(ctx context.Context, t *testing.T, c, c3 *redis.Client) {
	t.Helper()
	for _, err := range []error{
		c.HSet(ctx, "hash", "f1", "v1", "f2", "").Err(),
		c.RPush(ctx, "list", "a", "b", "a", "c").Err(),
		c.SAdd(ctx, "set", "z", "x", "y").Err(),
		c.Set(ctx, "str", "bin\x00\xff\r\nvalue", 0).Err(),
		c.XAdd(ctx, &redis.XAddArgs{Stream: "stream", ID: "1700000000000-0", Values: []string{"name", "ada", "lang", "en"}}).Err(),
		c.XAdd(ctx, &redis.XAddArgs{Stream: "stream", ID: "1700000000000-1", Values: []string{"name", "bob"}}).Err(),
		c.Set(ctx, "ttl", "soon", sampleTTL).Err(),
		c.ZAdd(ctx, "zset", redis.Z{Member: "pi", Score: 3.14159}, redis.Z{Member: "one", Score: 1.5}, redis.Z{Member: "minus", Score: -0.25}).Err(),
		c3.Set(ctx, "other", "in db 3", 0).Err(),
	} {
		if err != nil {
			t.Fatalf("fill: %v", err)
		}
	}
}

func testSnapshotRestore(t *testing.T, e *env) {
	d := e.serve("db", false, "pw", 1)
	ctx := t.Context()
	c, c3, c5 := e.clientDB(d, "pw", 0), e.clientDB(d, "pw", 3), e.clientDB(d, "pw", 5)
	fillSample(ctx, t, c, c3)

	snap, err := devapi.CollectSnapshot(ctx, e.plane, "db")
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	if diff := DiffSnapshot(snap, SampleSnapshot()); diff != "" {
		t.Fatalf("Snapshot of what clients wrote: %s", diff)
	}

	// Change everything: overwrite, delete, change a type, add keys.
	for _, err := range []error{
		c.Set(ctx, "str", "changed", 0).Err(),
		c.Del(ctx, "list").Err(),
		c.Del(ctx, "set").Err(),
		c.Set(ctx, "set", "now a string", 0).Err(),
		c.ZAdd(ctx, "zset", redis.Z{Member: "new", Score: 99}).Err(),
		c.HSet(ctx, "hash", "f3", "v3").Err(),
		c.XAdd(ctx, &redis.XAddArgs{Stream: "stream", Values: []string{"x", "y"}}).Err(),
		c.Persist(ctx, "ttl").Err(),
		c.Set(ctx, "added", "after the snapshot", 0).Err(),
		c3.Del(ctx, "other").Err(),
		c5.Set(ctx, "added5", "after the snapshot", 0).Err(),
	} {
		if err != nil {
			t.Fatalf("change: %v", err)
		}
	}

	if err := e.plane.Restore(ctx, "db", snap.All()); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	// What clients see.
	if v, err := c.Get(ctx, "str").Result(); err != nil || v != "bin\x00\xff\r\nvalue" {
		t.Errorf("str after restore: %q, %v", v, err)
	}
	if typ := c.Type(ctx, "set").Val(); typ != "set" {
		t.Errorf("type of set after restore: %q", typ)
	}
	if v := c.LRange(ctx, "list", 0, -1).Val(); !reflect.DeepEqual(v, []string{"a", "b", "a", "c"}) {
		t.Errorf("list after restore: %q", v)
	}
	if z := c.ZRangeWithScores(ctx, "zset", 0, -1).Val(); len(z) != 3 || z[0].Score != -0.25 || z[1].Score != 1.5 || z[2].Score != 3.14159 {
		t.Errorf("zset after restore: %v", z)
	}
	if x := c.XRange(ctx, "stream", "-", "+").Val(); len(x) != 2 || x[0].ID != "1700000000000-0" || x[1].ID != "1700000000000-1" {
		t.Errorf("stream after restore: %v", x)
	}
	if ttl := c.PTTL(ctx, "ttl").Val(); ttl <= 0 || ttl > sampleTTL {
		t.Errorf("TTL of ttl after restore: %v, want in (0, %v]", ttl, sampleTTL)
	}
	if n := c.Exists(ctx, "added").Val(); n != 0 {
		t.Errorf("a key added after the snapshot survived the restore")
	}
	if n := c5.DBSize(ctx).Val(); n != 0 {
		t.Errorf("db 5 holds %d keys after the restore, want 0", n)
	}
	if v, err := c3.Get(ctx, "other").Result(); err != nil || v != "in db 3" {
		t.Errorf("db 3 after restore: %q, %v", v, err)
	}
	// And all of it, through a second snapshot.
	again, err := devapi.CollectSnapshot(ctx, e.plane, "db")
	if err != nil {
		t.Fatalf("Snapshot after Restore: %v", err)
	}
	if diff := DiffSnapshot(again, SampleSnapshot()); diff != "" {
		t.Errorf("Snapshot after Restore: %s", diff)
	}

	// A snapshot no Redis can restore is refused before anything is flushed.
	bad := devapi.Snapshot{Keys: []devapi.SnapshotKey{{DB: 16, Key: "k", Type: devapi.TypeString, String: "v"}}}
	if err := e.plane.Restore(ctx, "db", bad.All()); devapi.ErrorCode(err) != devapi.EINVALID {
		t.Errorf("Restore of a key in db 16: %v, want EINVALID", err)
	}
	if n := c.DBSize(ctx).Val(); n != 7 {
		t.Errorf("db 0 holds %d keys after a refused restore, want 7", n)
	}

	if _, err := devapi.CollectSnapshot(ctx, e.plane, "nope"); devapi.ErrorCode(err) != devapi.ENOTFOUND {
		t.Errorf("Snapshot of an unserved database: %v, want ENOTFOUND", err)
	}
	if err := e.plane.Restore(ctx, "nope", snap.All()); devapi.ErrorCode(err) != devapi.ENOTFOUND {
		t.Errorf("Restore of an unserved database: %v, want ENOTFOUND", err)
	}
}

// keysThenError yields keys, then err.
func keysThenError(keys []devapi.SnapshotKey, err error) iter.Seq2[devapi.SnapshotKey, error] {
	return func(yield func(devapi.SnapshotKey, error) bool) {
		for _, k := range keys {
			if !yield(k, nil) {
				return
			}
		}
		yield(devapi.SnapshotKey{}, err)
	}
}

// bigSnapshot is a snapshot larger than one batch of a plane's reads and
// writes: 2500 small keys, and values of 3 MiB, in db 0 and 1.
func bigSnapshot() devapi.Snapshot {
	var s devapi.Snapshot
	for db := range 2 {
		for i := range 1250 {
			k := devapi.SnapshotKey{DB: db, Key: fmt.Sprintf("k%05d", i), Type: devapi.TypeString, String: fmt.Sprint("v", i)}
			if i%250 == 0 {
				k.String = strings.Repeat(string(rune('a'+i/250)), 3<<20)
			}
			if i%100 == 1 {
				k.Type, k.String, k.List = devapi.TypeList, "", []string{"x", "y", "z"}
			}
			s.Keys = append(s.Keys, k)
		}
	}
	return s
}

func testSnapshotStream(t *testing.T, e *env) {
	d := e.serve("db", false, "pw", 1)
	ctx := t.Context()
	c := e.clientDB(d, "pw", 0)

	t.Run("LargerThanABatch", func(t *testing.T) {
		want := bigSnapshot()
		if err := e.plane.Restore(ctx, "db", want.All()); err != nil {
			t.Fatalf("Restore: %v", err)
		}
		got, err := devapi.CollectSnapshot(ctx, e.plane, "db")
		if err != nil {
			t.Fatalf("Snapshot: %v", err)
		}
		if diff := DiffSnapshot(got, want); diff != "" {
			t.Error(diff)
		}
	})

	t.Run("EmitErrorStops", func(t *testing.T) {
		if err := e.plane.Restore(ctx, "db", SampleSnapshot().All()); err != nil {
			t.Fatal(err)
		}
		stop := errors.New("stop here")
		calls := 0
		err := e.plane.Snapshot(ctx, "db", func(devapi.SnapshotKey) error {
			calls++
			return stop
		})
		if !errors.Is(err, stop) || calls != 1 {
			t.Errorf("Snapshot whose emit fails: %v after %d calls, want the emit's error after 1", err, calls)
		}
	})

	t.Run("KeysErrorStops", func(t *testing.T) {
		broken := errors.New("backup unreadable")
		// At once: the database keeps what it holds.
		if err := e.plane.Restore(ctx, "db", SampleSnapshot().All()); err != nil {
			t.Fatal(err)
		}
		if err := e.plane.Restore(ctx, "db", keysThenError(nil, broken)); !errors.Is(err, broken) {
			t.Errorf("Restore of keys that fail at once: %v, want the keys' error", err)
		}
		if n := c.DBSize(ctx).Val(); n != 7 {
			t.Errorf("db 0 holds %d keys after a restore that failed at once, want the 7 it held", n)
		}
		// After a key: flushed, that key written, then stopped.
		one := devapi.SnapshotKey{DB: 0, Key: "first", Type: devapi.TypeString, String: "1"}
		if err := e.plane.Restore(ctx, "db", keysThenError([]devapi.SnapshotKey{one}, broken)); !errors.Is(err, broken) {
			t.Errorf("Restore of keys that fail after one: %v, want the keys' error", err)
		}
		if keys := c.Keys(ctx, "*").Val(); len(keys) != 1 || keys[0] != "first" {
			t.Errorf("keys after a restore that failed after one key: %q, want [first]", keys)
		}
	})

	t.Run("OutOfOrder", func(t *testing.T) {
		for name, keys := range map[string][]devapi.SnapshotKey{
			"Twice":    {{DB: 0, Key: "a", Type: devapi.TypeString, String: "1"}, {DB: 0, Key: "a", Type: devapi.TypeString, String: "2"}},
			"Backward": {{DB: 0, Key: "b", Type: devapi.TypeString, String: "1"}, {DB: 0, Key: "a", Type: devapi.TypeString, String: "2"}},
			"LowerDB":  {{DB: 1, Key: "a", Type: devapi.TypeString, String: "1"}, {DB: 0, Key: "b", Type: devapi.TypeString, String: "2"}},
		} {
			err := e.plane.Restore(ctx, "db", devapi.Snapshot{Keys: keys}.All())
			if devapi.ErrorCode(err) != devapi.EINVALID {
				t.Errorf("%s: Restore: %v, want EINVALID", name, err)
			}
		}
	})

	// While a snapshot's keys go to a slow consumer (a backup being
	// stored), the database's password can change and its status be read.
	t.Run("OthersGoOnMeanwhile", func(t *testing.T) {
		if err := e.plane.Restore(ctx, "db", SampleSnapshot().All()); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 2)
		var wg sync.WaitGroup
		defer wg.Wait()
		first := true
		err := e.plane.Snapshot(ctx, "db", func(devapi.SnapshotKey) error {
			if !first {
				return nil
			}
			first = false
			wg.Go(func() { done <- e.plane.SetPassword(ctx, "db", "pw", 2) })
			wg.Go(func() { _, err := e.plane.Status(ctx, "db"); done <- err })
			for range 2 {
				select {
				case err := <-done:
					if err != nil {
						t.Errorf("during a snapshot: %v", err)
					}
				case <-time.After(10 * time.Second):
					return errors.New("a password change or a status waited for the snapshot to end")
				}
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	})

	t.Run("Empty", func(t *testing.T) {
		if err := e.plane.Restore(ctx, "db", SampleSnapshot().All()); err != nil {
			t.Fatal(err)
		}
		if err := e.plane.Restore(ctx, "db", devapi.Snapshot{}.All()); err != nil {
			t.Fatalf("Restore of no keys: %v", err)
		}
		got, err := devapi.CollectSnapshot(ctx, e.plane, "db")
		if err != nil || len(got.Keys) != 0 {
			t.Errorf("after restoring no keys: %d keys, %v; want none", len(got.Keys), err)
		}
	})
}
