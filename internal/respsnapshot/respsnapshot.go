package respsnapshot

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi"
)

// Take reads every key of every logical database of the Redis c talks to,
// with typed reads (not DUMP, whose format only Redis reads), and calls emit
// with each in Snapshot order: for each logical database INFO keyspace
// lists, SCAN lists the key names (held, sorted, for the whole database),
// then keys are read in groups of at most readBatch keys and about
// readBytes (by MEMORY USAGE), per key one MULTI of TYPE, PTTL and the read
// for its type, so each key is read at one instant. Each round trip takes a
// connection of c's pool and gives it back (see onDB), so c's other users
// go on meanwhile. c must be allowed SELECT, INFO, SCAN, MEMORY USAGE,
// MULTI and the reads. An error from emit stops it and is returned as is.
// EINVALID for a key of a type a Snapshot cannot hold (a module's, a
// vector set); ECONFLICT for a key that kept changing type while it was
// read.
func Take(ctx context.Context, c *redis.Client, emit func(devapi.SnapshotKey) error) error {
	dbs, err := keyspaces(ctx, c)
	if err != nil {
		return err
	}
	for _, db := range dbs {
		keys, err := scanAll(ctx, c, db)
		if err != nil {
			return err
		}
		for batch := range slices.Chunk(keys, readBatch) {
			groups, err := bySize(ctx, c, db, batch)
			if err != nil {
				return err
			}
			for _, group := range groups {
				read, err := readKeys(ctx, c, db, group)
				if err != nil {
					return err
				}
				for _, k := range read {
					if err := emit(k); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// Restore replaces the whole content of the Redis c talks to with the keys
// keys yields, in Snapshot order: FLUSHALL once the first key is valid,
// then typed writes (SET, RPUSH, SADD, ZADD, HSET, XADD with the
// snapshot's IDs) and PEXPIRE, pipelined in round trips of at most
// writeBatch commands and about writeBytes, each on a connection of c's
// pool that it gives back (see onDB). EINVALID for a key that fails
// devapi.ValidKeys (before anything is flushed when it is the first); an
// error keys yields is returned as is; either stops it half done, with the
// keys before written, and so does a write Redis refuses (OOM at the
// memory cap).
func Restore(ctx context.Context, c *redis.Client, keys iter.Seq2[devapi.SnapshotKey, error]) error {
	var w *writer
	for k, err := range devapi.ValidKeys(keys) {
		if err != nil {
			if w != nil {
				_ = w.flush() // the keys before it are written, as on every plane
			}
			return err
		}
		if w == nil {
			if err := c.FlushAll(ctx).Err(); err != nil {
				return err
			}
			w = &writer{ctx: ctx, c: c}
		}
		if err := w.key(k); err != nil {
			return err
		}
	}
	if w == nil {
		return c.FlushAll(ctx).Err()
	}
	return w.flush()
}

// onDB sends the commands queue queues as one pipeline (a MULTI when tx)
// in logical database db: SELECT db first and SELECT 0 last. The
// connection goes back to c's pool after the round trip, in database 0
// where go-redis expects it, so c's other users share it between round
// trips: redisserverplane's admin client has one connection, which a
// password change needs while a backup is taken. Errors are per command,
// for the caller to read; the pipeline's first is returned too.
func onDB(ctx context.Context, c *redis.Client, db int, tx bool, queue func(pipe redis.Pipeliner)) error {
	fn := func(pipe redis.Pipeliner) error {
		if db != 0 {
			pipe.Select(ctx, db)
		}
		queue(pipe)
		if db != 0 {
			pipe.Select(ctx, 0)
		}
		return nil
	}
	var err error
	if tx {
		_, err = c.TxPipelined(ctx, fn)
	} else {
		_, err = c.Pipelined(ctx, fn)
	}
	return err
}

// Batch sizes of Take and Restore. Take reads at most readBatch keys a
// round trip, and fewer when MEMORY USAGE says they hold more than
// readBytes, so that large values are read a few at a time. Restore writes
// at most writeBatch commands a round trip, and fewer when their arguments
// pass writeBytes; a variadic write takes at most chunk elements.
const (
	readBatch  = 100
	readBytes  = 8 << 20
	writeBatch = 1000
	writeBytes = 8 << 20
	chunk      = 1000
)

// bySize splits keys into groups to read in one round trip each: up to
// readBytes of MEMORY USAGE a group, and at least one key. A key gone
// meanwhile counts as nothing.
func bySize(ctx context.Context, c *redis.Client, db int, keys []string) ([][]string, error) {
	sizes := make([]*redis.IntCmd, len(keys))
	// Errors are per command, and checked below: redis.Nil is a key gone.
	_ = onDB(ctx, c, db, false, func(pipe redis.Pipeliner) {
		for i, k := range keys {
			sizes[i] = pipe.MemoryUsage(ctx, k)
		}
	})
	var groups [][]string
	start, bytes := 0, int64(0)
	for i := range keys {
		n, err := sizes[i].Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, err
		}
		if i > start && bytes+n > readBytes {
			groups = append(groups, keys[start:i])
			start, bytes = i, 0
		}
		bytes += n
	}
	return append(groups, keys[start:]), nil
}

// keyspaces lists the logical databases that hold keys, from INFO keyspace
// ("db3:keys=1,expires=0,...").
func keyspaces(ctx context.Context, c *redis.Client) ([]int, error) {
	info, err := c.Info(ctx, "keyspace").Result()
	if err != nil {
		return nil, err
	}
	var dbs []int
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		name, _, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if n, err := strconv.Atoi(strings.TrimPrefix(name, "db")); ok && err == nil && strings.HasPrefix(name, "db") {
			dbs = append(dbs, n)
		}
	}
	slices.Sort(dbs)
	return dbs, nil
}

// scanAll lists the keys of logical database db, sorted. SCAN may return
// a key twice; it is listed once.
func scanAll(ctx context.Context, c *redis.Client, db int) ([]string, error) {
	var keys []string
	var cursor uint64
	for {
		var scan *redis.ScanCmd
		if err := onDB(ctx, c, db, false, func(pipe redis.Pipeliner) {
			scan = pipe.Scan(ctx, cursor, "", 1000)
		}); err != nil {
			return nil, err
		}
		batch, next, err := scan.Result()
		if err != nil {
			return nil, err
		}
		keys = append(keys, batch...)
		if cursor = next; cursor == 0 {
			break
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys), nil
}

// keyRead is the commands that read one key in one MULTI.
type keyRead struct {
	key  string
	typ  string // the type the read is for
	tx   *redis.StatusCmd
	pttl *redis.Cmd
	read redis.Cmder
}

// readKeys reads keys of logical database db. A key is first asked its
// type, then read in a MULTI that asks again: when a client changed the type
// meanwhile, the key is read again.
func readKeys(ctx context.Context, c *redis.Client, db int, keys []string) ([]devapi.SnapshotKey, error) {
	got := make(map[string]devapi.SnapshotKey, len(keys))
	pending := keys
	for range 10 {
		if len(pending) == 0 {
			break
		}
		types := make([]*redis.StatusCmd, len(pending))
		if err := onDB(ctx, c, db, false, func(pipe redis.Pipeliner) {
			for i, k := range pending {
				types[i] = pipe.Type(ctx, k)
			}
		}); err != nil {
			return nil, err
		}
		reads := make([]keyRead, 0, len(pending))
		for i, k := range pending {
			switch t := types[i].Val(); t {
			case "none": // deleted meanwhile
			case devapi.TypeString, devapi.TypeList, devapi.TypeSet, devapi.TypeZSet, devapi.TypeHash, devapi.TypeStream, devapi.TypeJSON:
				reads = append(reads, keyRead{key: k, typ: t})
			default:
				return nil, devapi.Errorf(devapi.EINVALID, "key %q in db %d is of type %s, which a snapshot cannot hold", k, db, t)
			}
		}
		// Errors are per command: a read of a type changed meanwhile fails
		// with WRONGTYPE, which the TYPE in the same MULTI explains.
		_ = onDB(ctx, c, db, true, func(pipe redis.Pipeliner) {
			for i := range reads {
				r := &reads[i]
				r.tx = pipe.Type(ctx, r.key)
				r.pttl = pipe.Do(ctx, "PTTL", r.key)
				r.read = typedRead(ctx, pipe, r.key, r.typ)
			}
		})
		pending = nil
		for _, r := range reads {
			if err := r.tx.Err(); err != nil {
				return nil, err
			}
			switch t := r.tx.Val(); {
			case t == "none":
				continue
			case t != r.typ:
				pending = append(pending, r.key)
				continue
			}
			k, ok, err := decode(db, r)
			if err != nil {
				return nil, fmt.Errorf("read key %q in db %d: %w", r.key, db, err)
			}
			if ok {
				got[r.key] = k
			}
		}
	}
	if len(pending) > 0 {
		return nil, devapi.Errorf(devapi.ECONFLICT, "key %q in db %d kept changing type while it was read; try again", pending[0], db)
	}
	out := make([]devapi.SnapshotKey, 0, len(got))
	for _, k := range keys {
		if sk, ok := got[k]; ok {
			out = append(out, sk)
		}
	}
	return out, nil
}

// typedRead queues the command that reads a whole key of type typ.
func typedRead(ctx context.Context, pipe redis.Pipeliner, key, typ string) redis.Cmder {
	switch typ {
	case devapi.TypeString:
		return pipe.Get(ctx, key)
	case devapi.TypeList:
		return pipe.LRange(ctx, key, 0, -1)
	case devapi.TypeSet:
		return pipe.SMembers(ctx, key)
	case devapi.TypeZSet:
		return pipe.ZRangeWithScores(ctx, key, 0, -1)
	case devapi.TypeHash:
		return pipe.HGetAll(ctx, key)
	case devapi.TypeJSON: // a server with RedisJSON: the whole document
		return pipe.Do(ctx, "JSON.GET", key)
	default: // devapi.TypeStream; raw, for XMessage keeps fields in a map
		return pipe.Do(ctx, "XRANGE", key, "-", "+")
	}
}

// decode turns the replies of a key's MULTI into a SnapshotKey; ok is false
// when the key is gone.
func decode(db int, r keyRead) (k devapi.SnapshotKey, ok bool, err error) {
	if err := r.read.Err(); err != nil {
		return k, false, err
	}
	ttl, err := r.pttl.Int64()
	if err != nil {
		return k, false, err
	}
	k = devapi.SnapshotKey{DB: db, Key: r.key, Type: r.typ}
	switch {
	case ttl == -2:
		return k, false, nil
	case ttl >= 0:
		k.TTLMillis = max(ttl, 1) // under 1ms left is still a TTL
	}
	switch cmd := r.read.(type) {
	case *redis.StringCmd:
		k.String = cmd.Val()
	case *redis.StringSliceCmd:
		if r.typ == devapi.TypeList {
			k.List = cmd.Val()
		} else {
			k.Set = cmd.Val()
			slices.Sort(k.Set)
		}
	case *redis.ZSliceCmd:
		for _, z := range cmd.Val() {
			member, isString := z.Member.(string)
			if !isString {
				return k, false, fmt.Errorf("sorted set member %v is a %T", z.Member, z.Member)
			}
			k.ZSet = append(k.ZSet, devapi.ScoredMember{Member: member, Score: z.Score})
		}
	case *redis.MapStringStringCmd:
		k.Hash = cmd.Val()
	case *redis.Cmd:
		if r.typ == devapi.TypeJSON {
			if k.JSON, ok = cmd.Val().(string); !ok {
				return k, false, fmt.Errorf("JSON.GET replied %T", cmd.Val())
			}
			break
		}
		if k.Stream, err = decodeStream(cmd.Val()); err != nil {
			return k, false, err
		}
		if len(k.Stream) == 0 {
			return k, false, nil // an empty stream: XADD cannot make one
		}
	}
	return k, true, nil
}

// decodeStream reads an XRANGE reply: [[id, [name, value, ...]], ...].
func decodeStream(v any) ([]devapi.StreamEntry, error) {
	entries, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("XRANGE replied %T", v)
	}
	out := make([]devapi.StreamEntry, 0, len(entries))
	for _, e := range entries {
		pair, ok := e.([]any)
		if !ok || len(pair) != 2 {
			return nil, fmt.Errorf("XRANGE entry %v", e)
		}
		id, ok := pair[0].(string)
		fields, ok2 := pair[1].([]any)
		if !ok || !ok2 {
			return nil, fmt.Errorf("XRANGE entry %v", e)
		}
		se := devapi.StreamEntry{ID: id, Fields: make([]string, len(fields))}
		for i, f := range fields {
			if se.Fields[i], ok = f.(string); !ok {
				return nil, fmt.Errorf("XRANGE field %v is a %T", f, f)
			}
		}
		out = append(out, se)
	}
	return out, nil
}

// writer pipelines the writes of a Restore: writeBatch commands, or
// writeBytes of arguments, a round trip, each in the logical database of
// its keys and back to 0 at its end, as onDB does.
type writer struct {
	ctx   context.Context
	c     *redis.Client
	pipe  redis.Pipeliner // nil between round trips
	bytes int             // of the string arguments queued
	db    int             // of the last key queued
}

// do queues one command.
func (w *writer) do(args ...any) error {
	if w.pipe == nil {
		w.pipe = w.c.Pipeline()
		if w.db != 0 {
			w.pipe.Select(w.ctx, w.db)
		}
	}
	w.pipe.Do(w.ctx, args...)
	for _, a := range args {
		if s, ok := a.(string); ok {
			w.bytes += len(s)
		}
	}
	if w.pipe.Len() >= writeBatch || w.bytes >= writeBytes {
		return w.flush()
	}
	return nil
}

// flush sends what is queued.
func (w *writer) flush() error {
	if w.pipe == nil {
		return nil
	}
	if w.db != 0 {
		w.pipe.Select(w.ctx, 0)
	}
	_, err := w.pipe.Exec(w.ctx)
	w.pipe, w.bytes = nil, 0
	return err
}

// key queues the writes of one key.
func (w *writer) key(k devapi.SnapshotKey) error {
	if k.DB != w.db {
		if w.pipe != nil {
			w.pipe.Select(w.ctx, k.DB)
		}
		w.db = k.DB
	}
	var err error
	switch k.Type {
	case devapi.TypeString:
		err = w.do("SET", k.Key, k.String)
	case devapi.TypeList:
		err = variadic(w, "RPUSH", k.Key, k.List, 1, func(args []any, i int) []any { return append(args, k.List[i]) })
	case devapi.TypeSet:
		err = variadic(w, "SADD", k.Key, k.Set, 1, func(args []any, i int) []any { return append(args, k.Set[i]) })
	case devapi.TypeZSet:
		err = variadic(w, "ZADD", k.Key, k.ZSet, 2, func(args []any, i int) []any {
			return append(args, strconv.FormatFloat(k.ZSet[i].Score, 'g', -1, 64), k.ZSet[i].Member)
		})
	case devapi.TypeHash:
		fields := slices.Sorted(maps.Keys(k.Hash))
		err = variadic(w, "HSET", k.Key, fields, 2, func(args []any, i int) []any { return append(args, fields[i], k.Hash[fields[i]]) })
	case devapi.TypeJSON:
		// A server without RedisJSON (redis-server 7.0 as Debian has it)
		// answers "unknown command": the restore fails with that.
		err = w.do("JSON.SET", k.Key, "$", k.JSON)
	case devapi.TypeStream:
		for _, e := range k.Stream {
			args := append(make([]any, 0, 3+len(e.Fields)), "XADD", k.Key, e.ID)
			for _, f := range e.Fields {
				args = append(args, f)
			}
			if err = w.do(args...); err != nil {
				break
			}
		}
	}
	if err != nil {
		return err
	}
	if k.TTLMillis > 0 {
		return w.do("PEXPIRE", k.Key, k.TTLMillis)
	}
	return nil
}

// variadic queues cmd key followed by the elements of s, chunk elements a
// command; add appends the arguments of element i.
func variadic[E any](w *writer, cmd, key string, s []E, per int, add func(args []any, i int) []any) error {
	for start := 0; start < len(s); start += chunk {
		end := min(start+chunk, len(s))
		args := append(make([]any, 0, 2+per*(end-start)), cmd, key)
		for i := start; i < end; i++ {
			args = add(args, i)
		}
		if err := w.do(args...); err != nil {
			return err
		}
	}
	return nil
}
