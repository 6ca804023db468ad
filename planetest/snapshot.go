package planetest

import (
	"context"
	"fmt"
	"reflect"
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
	if len(got.Keys) != len(want.Keys) {
		return fmt.Sprintf("%d keys, want %d:\n got %+v\nwant %+v", len(got.Keys), len(want.Keys), got.Keys, want.Keys)
	}
	for i, g := range got.Keys {
		w := want.Keys[i]
		if w.TTLMillis > 0 && g.TTLMillis > 0 && g.TTLMillis <= w.TTLMillis && g.TTLMillis > w.TTLMillis-time.Minute.Milliseconds() {
			g.TTLMillis = w.TTLMillis
		}
		if !reflect.DeepEqual(g, w) {
			return fmt.Sprintf("key %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	return ""
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

	snap, err := e.plane.Snapshot(ctx, "db")
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

	if err := e.plane.Restore(ctx, "db", snap); err != nil {
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
	again, err := e.plane.Snapshot(ctx, "db")
	if err != nil {
		t.Fatalf("Snapshot after Restore: %v", err)
	}
	if diff := DiffSnapshot(again, SampleSnapshot()); diff != "" {
		t.Errorf("Snapshot after Restore: %s", diff)
	}

	// A snapshot no Redis can restore is refused before anything is flushed.
	bad := devapi.Snapshot{Keys: []devapi.SnapshotKey{{DB: 16, Key: "k", Type: devapi.TypeString, String: "v"}}}
	if err := e.plane.Restore(ctx, "db", bad); devapi.ErrorCode(err) != devapi.EINVALID {
		t.Errorf("Restore of a key in db 16: %v, want EINVALID", err)
	}
	if n := c.DBSize(ctx).Val(); n != 7 {
		t.Errorf("db 0 holds %d keys after a refused restore, want 7", n)
	}

	if _, err := e.plane.Snapshot(ctx, "nope"); devapi.ErrorCode(err) != devapi.ENOTFOUND {
		t.Errorf("Snapshot of an unserved database: %v, want ENOTFOUND", err)
	}
	if err := e.plane.Restore(ctx, "nope", snap); devapi.ErrorCode(err) != devapi.ENOTFOUND {
		t.Errorf("Restore of an unserved database: %v, want ENOTFOUND", err)
	}
}
