package embeddedplane

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/devapi-dev/devapi"
)

// logicalDBs is how many logical databases a database has (SELECT 0-15).
const logicalDBs = 16

// Snapshot implements devapi.Plane through miniredis's Go API, since its
// DUMP/RESTORE handle strings only. Each key is read at one instant, but a
// hash field by field, and handed to emit before the next is read. EINVALID
// for a HyperLogLog, which that API cannot read out.
func (p *Plane) Snapshot(ctx context.Context, id string, emit func(devapi.SnapshotKey) error) error {
	m, err := p.redisOf(id)
	if err != nil {
		return err
	}
	for i := range logicalDBs {
		db := m.DB(i)
		for _, key := range db.Keys() { // sorted
			if err := ctx.Err(); err != nil {
				return err
			}
			k, ok, err := snapshotKey(m, db, i, key)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if err := emit(k); err != nil {
				return err
			}
		}
	}
	return nil
}

// redisOf returns the Redis of a served database. The database's lock is
// held only to read it, not while keys stream to or from the caller, so a
// backup being stored does not hold up a password change or a status. The
// Redis outlives a change of listener; one removed meanwhile is read or
// written to the end and then dropped.
func (p *Plane) redisOf(id string) (*miniredis.Miniredis, error) {
	d, err := p.get(id)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.redis, nil
}

// snapshotKey reads one key. Each miniredis call locks on its own, so a
// client may change the key between them: ok is false when the key is gone,
// and a key whose type changes is read again.
func snapshotKey(m *miniredis.Miniredis, db *miniredis.RedisDB, i int, key string) (k devapi.SnapshotKey, ok bool, err error) {
	for range retries {
		k = devapi.SnapshotKey{DB: i, Key: key, Type: db.Type(key)}
		if ttl := db.TTL(key); ttl > 0 {
			k.TTLMillis = max(ttl.Milliseconds(), 1) // under 1ms left is still a TTL
		}
		switch k.Type {
		case "":
			return k, false, nil
		case devapi.TypeString:
			k.String, err = db.Get(key)
		case devapi.TypeList:
			k.List, err = readList(m, db, key)
			if len(k.List) == 1 && isJSONValue(k.List[0]) {
				// A RedisJSON document (json.go).
				k.Type, k.JSON, k.List = devapi.TypeJSON, k.List[0][len(jsonHeader):], nil
			}
		case devapi.TypeSet:
			k.Set, err = db.Members(key) // a sorted copy
		case devapi.TypeZSet:
			k.ZSet, err = readZSet(m, db, key)
		case devapi.TypeHash:
			k.Hash, err = readHash(db, key)
		case devapi.TypeStream:
			k.Stream, err = readStream(m, db, key)
		default:
			return k, false, devapi.Errorf(devapi.EINVALID, "key %q in db %d is of type %s, which the embedded plane cannot back up", key, i, k.Type)
		}
		switch {
		case errors.Is(err, miniredis.ErrKeyNotFound):
			return k, false, nil
		case errors.Is(err, miniredis.ErrWrongType), errors.Is(err, errChanged):
			continue
		case err != nil:
			return k, false, err
		}
		return k, true, nil
	}
	return k, false, devapi.Errorf(devapi.ECONFLICT, "key %q in db %d kept changing while it was read; try again", key, i)
}

// retries bounds how often a key that changes while it is read is read again.
const retries = 10

// errChanged says a key changed while it was read.
var errChanged = errors.New("embeddedplane: key changed while read")

// List, Stream and SortedSet return miniredis's own slice or map, which
// client commands change in place while holding miniredis's mutex. The read*
// functions below copy them while holding that mutex too (and call no
// miniredis method meanwhile: each takes it), then check that the key still
// holds the object copied, so the copy is the key's value at one instant.

// readList copies a list.
func readList(m *miniredis.Miniredis, db *miniredis.RedisDB, key string) ([]string, error) {
	l, err := db.List(key)
	if err != nil {
		return nil, err
	}
	m.Lock()
	c := slices.Clone(l)
	m.Unlock()
	again, err := db.List(key)
	if err != nil {
		return nil, err
	}
	if !sameSlice(l, again) {
		return nil, errChanged
	}
	return c, nil
}

// readStream copies a stream's entries, oldest first.
func readStream(m *miniredis.Miniredis, db *miniredis.RedisDB, key string) ([]devapi.StreamEntry, error) {
	entries, err := db.Stream(key)
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, miniredis.ErrKeyNotFound // an empty stream: XADD cannot make one
	}
	m.Lock()
	c := make([]devapi.StreamEntry, len(entries))
	for j, e := range entries {
		c[j] = devapi.StreamEntry{ID: e.ID, Fields: slices.Clone(e.Values)}
	}
	m.Unlock()
	again, err := db.Stream(key)
	if err != nil {
		return nil, err
	}
	if !sameSlice(entries, again) {
		return nil, errChanged
	}
	return c, nil
}

// sameSlice reports whether a and b are the same slice of the same array.
func sameSlice[E any](a, b []E) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// readZSet copies a sorted set in ZRANGE order: by score, then member.
func readZSet(m *miniredis.Miniredis, db *miniredis.RedisDB, key string) ([]devapi.ScoredMember, error) {
	scores, err := db.SortedSet(key)
	if err != nil {
		return nil, err
	}
	m.Lock()
	c := make([]devapi.ScoredMember, 0, len(scores))
	for member, score := range scores {
		c = append(c, devapi.ScoredMember{Member: member, Score: score})
	}
	m.Unlock()
	again, err := db.SortedSet(key)
	if err != nil {
		return nil, err
	}
	if reflect.ValueOf(scores).UnsafePointer() != reflect.ValueOf(again).UnsafePointer() {
		return nil, errChanged
	}
	slices.SortFunc(c, func(a, b devapi.ScoredMember) int {
		if n := cmp.Compare(a.Score, b.Score); n != 0 {
			return n
		}
		return strings.Compare(a.Member, b.Member)
	})
	return c, nil
}

// readHash reads a hash field by field: HGet cannot tell a field deleted
// meanwhile from an empty one, so the fields are listed again after.
func readHash(db *miniredis.RedisDB, key string) (map[string]string, error) {
	fields, err := db.HKeys(key)
	if err != nil {
		return nil, err
	}
	h := make(map[string]string, len(fields))
	for _, f := range fields {
		h[f] = db.HGet(key, f)
	}
	again, err := db.HKeys(key)
	if err != nil {
		return nil, err
	}
	if !slices.Equal(fields, again) {
		return nil, errChanged
	}
	return h, nil
}

// Restore implements devapi.Plane.
func (p *Plane) Restore(ctx context.Context, id string, keys iter.Seq2[devapi.SnapshotKey, error]) error {
	m, err := p.redisOf(id)
	if err != nil {
		return err
	}
	flushed := false
	for k, err := range devapi.ValidKeys(keys) {
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			return err
		}
		if !flushed {
			m.FlushAll()
			flushed = true
		}
		if err := restoreKey(m, k); err != nil {
			return fmt.Errorf("embeddedplane: restore key %q in db %d of %s: %w", k.Key, k.DB, id, err)
		}
	}
	if !flushed {
		m.FlushAll()
	}
	return nil
}

// restoreKey writes one key, with its TTL.
func restoreKey(m *miniredis.Miniredis, k devapi.SnapshotKey) error {
	db := m.DB(k.DB)
	var err error
	switch k.Type {
	case devapi.TypeString:
		err = db.Set(k.Key, k.String)
	case devapi.TypeList:
		_, err = db.Push(k.Key, k.List...)
	case devapi.TypeSet:
		_, err = db.SetAdd(k.Key, k.Set...)
	case devapi.TypeZSet:
		for _, z := range k.ZSet {
			if _, err = db.ZAdd(k.Key, z.Score, z.Member); err != nil {
				break
			}
		}
	case devapi.TypeHash:
		fv := make([]string, 0, 2*len(k.Hash))
		for f, v := range k.Hash {
			fv = append(fv, f, v)
		}
		db.HSet(k.Key, fv...)
	case devapi.TypeStream:
		for _, e := range k.Stream {
			if _, err = db.XAdd(k.Key, e.ID, e.Fields); err != nil {
				break
			}
		}
	case devapi.TypeJSON:
		var v string
		if v, err = jsonValueOf(k.JSON); err == nil {
			_, err = db.Push(k.Key, v)
		}
	}
	if err != nil {
		return err
	}
	if k.TTLMillis > 0 {
		db.SetTTL(k.Key, time.Duration(k.TTLMillis)*time.Millisecond)
	}
	return nil
}
