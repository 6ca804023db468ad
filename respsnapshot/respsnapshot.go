package respsnapshot

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi"
)

// Take reads every key of every logical database of the Redis c talks to,
// with typed reads (not DUMP, whose format only Redis reads) on a connection
// of its own: for each logical database INFO keyspace lists, SCAN, then per
// key one MULTI of TYPE, PTTL and the read for its type, so each key is read
// at one instant. c must be allowed SELECT, INFO, SCAN, MULTI and the reads.
// EINVALID for a key of a type a Snapshot cannot hold (a module's, a vector
// set); ECONFLICT for a key that kept changing type while it was read.
func Take(ctx context.Context, c *redis.Client) (devapi.Snapshot, error) {
	dbs, err := keyspaces(ctx, c)
	if err != nil {
		return devapi.Snapshot{}, err
	}
	conn := c.EphemeralConn() // SELECT changes it: never pooled again
	defer func() { _ = conn.Close() }()
	var s devapi.Snapshot
	for _, db := range dbs {
		if err := conn.Select(ctx, db).Err(); err != nil {
			return devapi.Snapshot{}, err
		}
		keys, err := scanAll(ctx, conn)
		if err != nil {
			return devapi.Snapshot{}, err
		}
		for batch := range slices.Chunk(keys, readBatch) {
			read, err := readKeys(ctx, conn, db, batch)
			if err != nil {
				return devapi.Snapshot{}, err
			}
			s.Keys = append(s.Keys, read...)
		}
	}
	return s, nil
}

// Restore replaces the whole content of the Redis c talks to with s, on a
// connection of its own: FLUSHALL, then for each logical database SELECT
// and typed writes (SET, RPUSH, SADD, ZADD, HSET, XADD with the snapshot's
// IDs) and PEXPIRE, pipelined. EINVALID, before anything is flushed, if s
// does not pass Snapshot.Validate. A write Redis refuses (OOM at the memory
// cap) stops it half done.
func Restore(ctx context.Context, c *redis.Client, s devapi.Snapshot) error {
	if err := s.Validate(); err != nil {
		return err
	}
	conn := c.EphemeralConn() // SELECT changes it: never pooled again
	defer func() { _ = conn.Close() }()
	if err := conn.FlushAll(ctx).Err(); err != nil {
		return err
	}
	keys := slices.Clone(s.Keys)
	slices.SortStableFunc(keys, func(a, b devapi.SnapshotKey) int { return cmp.Compare(a.DB, b.DB) })
	w := &writer{ctx: ctx, conn: conn, db: -1}
	for _, k := range keys {
		if err := w.key(k); err != nil {
			return err
		}
	}
	return w.flush()
}

// Batch sizes of Snapshot and Restore: keys read per round trip, commands
// written per round trip, elements per variadic write command.
const (
	readBatch  = 100
	writeBatch = 1000
	chunk      = 1000
)

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

// scanAll lists the keys of the selected database, sorted. SCAN may return
// a key twice; it is listed once.
func scanAll(ctx context.Context, conn *redis.Conn) ([]string, error) {
	var keys []string
	var cursor uint64
	for {
		batch, next, err := conn.Scan(ctx, cursor, "", 1000).Result()
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

// readKeys reads keys of the selected database db. A key is first asked its
// type, then read in a MULTI that asks again: when a client changed the type
// meanwhile, the key is read again.
func readKeys(ctx context.Context, conn *redis.Conn, db int, keys []string) ([]devapi.SnapshotKey, error) {
	got := make(map[string]devapi.SnapshotKey, len(keys))
	pending := keys
	for range 10 {
		if len(pending) == 0 {
			break
		}
		types := make([]*redis.StatusCmd, len(pending))
		if _, err := conn.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for i, k := range pending {
				types[i] = pipe.Type(ctx, k)
			}
			return nil
		}); err != nil {
			return nil, err
		}
		reads := make([]keyRead, 0, len(pending))
		for i, k := range pending {
			switch t := types[i].Val(); t {
			case "none": // deleted meanwhile
			case devapi.TypeString, devapi.TypeList, devapi.TypeSet, devapi.TypeZSet, devapi.TypeHash, devapi.TypeStream:
				reads = append(reads, keyRead{key: k, typ: t})
			default:
				return nil, devapi.Errorf(devapi.EINVALID, "key %q in db %d is of type %s, which a snapshot cannot hold", k, db, t)
			}
		}
		// Errors are per command: a read of a type changed meanwhile fails
		// with WRONGTYPE, which the TYPE in the same MULTI explains.
		_, _ = conn.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			for i := range reads {
				r := &reads[i]
				r.tx = pipe.Type(ctx, r.key)
				r.pttl = pipe.Do(ctx, "PTTL", r.key)
				r.read = typedRead(ctx, pipe, r.key, r.typ)
			}
			return nil
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

// writer pipelines the writes of a Restore, writeBatch commands a round
// trip.
type writer struct {
	ctx  context.Context
	conn *redis.Conn
	pipe redis.Pipeliner
	db   int // selected on conn once the pipeline is sent; -1 at first
}

// do queues one command.
func (w *writer) do(args ...any) error {
	if w.pipe == nil {
		w.pipe = w.conn.Pipeline()
	}
	w.pipe.Do(w.ctx, args...)
	if w.pipe.Len() >= writeBatch {
		return w.flush()
	}
	return nil
}

// flush sends what is queued.
func (w *writer) flush() error {
	if w.pipe == nil || w.pipe.Len() == 0 {
		return nil
	}
	_, err := w.pipe.Exec(w.ctx)
	return err
}

// key queues the writes of one key.
func (w *writer) key(k devapi.SnapshotKey) error {
	if k.DB != w.db {
		if err := w.do("SELECT", k.DB); err != nil {
			return err
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
