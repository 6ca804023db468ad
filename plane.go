package devapi

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"iter"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"
)

// PlaneDatabase is what a data plane needs to serve one database.
type PlaneDatabase struct {
	ID       string
	Port     int  // TCP port to listen on
	TLS      bool // serve TLS with the plane's certificate instead of plain TCP
	Password string
	// Generation of Password (Credentials.Generation). A plane never lets a
	// password of an older generation replace a newer one.
	Generation int64
	// MaxMemory caps the memory of the database in bytes, where the plane
	// accounts memory; 0 means no cap.
	MaxMemory int64
	// Eviction evicts keys (allkeys-lru) when MaxMemory is reached, where
	// the plane can; otherwise writes fail when it is reached.
	Eviction bool
	// MaxClients caps the client connections the database accepts at once
	// (the plan's db_max_clients); past it a new connection is answered
	// "ERR max number of clients reached" and closed. 0 means the plane's
	// default.
	MaxClients int
	// AllowedIPs are the CIDRs and addresses clients may connect from
	// (AllowedFrom), where the plane sees the client's address and can
	// refuse it (embedded); empty lets every address in. A change applies
	// to new connections.
	AllowedIPs []string
}

// PlaneStatus is what a data plane reports about one database.
type PlaneStatus struct {
	State            string // PlaneRunning, PlaneRestarting or PlaneStopped
	Generation       int64  // generation of the password now accepted
	Addr             string // host:port the Redis listens on
	Keys             int64  // keys in all logical databases
	Connections      int64  // client connections open now
	TotalConnections int64  // client connections accepted since start
	Commands         int64  // commands processed since start
}

// States a PlaneStatus reports.
const (
	// PlaneRunning: the database's Redis serves clients.
	PlaneRunning = "running"
	// PlaneRestarting: its Redis died and the plane is starting it again,
	// on its own (with back-off after repeated crashes), with the password
	// of the generation it holds and the data it persisted.
	PlaneRestarting = "restarting"
	// PlaneStopped: it does not serve clients and the plane is not
	// starting it again by itself (a listener it could not reopen, a
	// server that does not answer): the next Serve tries.
	PlaneStopped = "stopped"
)

// Plane serves databases as real Redis servers. Implementations are safe for
// concurrent use.
type Plane interface {
	// Serve makes the database's Redis run as d says: it starts one, adopts
	// one that is already running, or updates a running one (its listener,
	// memory cap and eviction). The password is
	// applied unless the plane holds a newer generation. Serve is what
	// start-up reconciliation calls for every stored database.
	Serve(ctx context.Context, d PlaneDatabase) error
	// SetPassword makes the database's Redis accept password, and refuse the
	// previous one, for new connections, unless the plane already holds a
	// generation newer than generation. Keys are untouched. ENOTFOUND if the
	// plane does not serve the database.
	SetPassword(ctx context.Context, id, password string, generation int64) error
	// Remove stops the database's Redis, deletes its data and frees its port.
	// Removing a database the plane does not serve is not an error.
	Remove(ctx context.Context, id string) error
	// Status reports on one database. ENOTFOUND if the plane does not serve it.
	Status(ctx context.Context, id string) (PlaneStatus, error)
	// Databases lists the ids of the databases the plane serves or holds
	// data for, so reconciliation can remove those the store no longer has.
	Databases(ctx context.Context) ([]string, error)
	// Snapshot reads every key of every logical database (0-15) of the
	// database, with its type, value and remaining TTL, and calls emit with
	// each in turn, in Snapshot order (see SnapshotKey.Follows): by DB, then
	// Key. Set members come sorted; the other types in their Redis order. A
	// plane holds a bounded batch of keys at a time, not the database, so a
	// backup streams. Keys are read one at a time, so a snapshot taken
	// while clients write is not of one instant. Not captured: stream
	// consumer groups, empty streams, per-field TTLs of hashes. An error
	// from emit stops the snapshot and is returned (possibly wrapped).
	// ENOTFOUND if the plane does not serve the database; EINVALID if it
	// holds a key of a type a Snapshot cannot hold; ECONFLICT if a key kept
	// changing while it was read.
	Snapshot(ctx context.Context, id string, emit func(SnapshotKey) error) error
	// Restore replaces the whole content of the database with the keys
	// keys yields, in Snapshot order, as they come: once the first key has
	// passed SnapshotKey.Validate (or keys yielded none) it flushes every
	// logical database, then writes each key with its TTL, which counts
	// from the restore. Clients connected meanwhile may see it half done.
	// ENOTFOUND if the plane does not serve the database. EINVALID if a key
	// fails SnapshotKey.Validate or does not follow the one before; that,
	// or an error keys yields (returned possibly wrapped), stops the
	// restore with the keys before it written, and the database untouched
	// when it is the first. Callers that want all or nothing check the
	// keys with ValidKeys first.
	Restore(ctx context.Context, id string, keys iter.Seq2[SnapshotKey, error]) error
	// Close stops serving. Data a plane persists stays for the next start.
	Close() error
}

// A Retirer is a Plane that persists databases and can set one's data
// aside instead of deleting it. Reconciliation retires, rather than
// removes, what the plane holds for databases the store does not have: a
// store that is new, emptied or older than the plane is no licence to
// delete data.
type Retirer interface {
	Plane
	// Retire stops the database's Redis, frees its port and moves its data
	// out of the plane, to a folder of orphans it returns the path of
	// (devapi orphans lists and purges them). Retiring a database the
	// plane does not hold returns "" and no error.
	Retire(ctx context.Context, id string) (string, error)
}

// A Monitorer is a Plane that can show the commands a database runs, as
// Redis's MONITOR does, without giving its clients MONITOR (the command
// policy refuses it: it would show devapi's own commands, passwords among
// them).
type Monitorer interface {
	Plane
	// Monitor calls emit with "OK" once it is in place (as MONITOR answers
	// +OK), then with each command database id runs from then on,
	// from every client of the database (TCP and the REST API alike) and
	// no other database's, as one line of Redis's MONITOR output without
	// its "+" and CRLF: `1721284005.242090 [0 127.0.0.1:51234] "SET" "k"
	// "v"`. Passwords are redacted as Redis 7 redacts them (`"AUTH"
	// "(redacted)"`), and devapi's own commands are left out. emit is
	// called from one goroutine at a time and should not block: a monitor
	// that falls behind by more than the plane buffers ends. Monitor
	// returns when ctx ends (ctx's error), when emit returns an error
	// (that error), or when the database stops serving or the monitor fell
	// behind (EUNAVAILABLE). ENOTFOUND if the plane does not serve the
	// database.
	Monitor(ctx context.Context, id string, emit func(line string) error) error
}

// Snapshot is the content of a database, independent of the plane that took
// it: a snapshot of one plane restores on any other.
//
// Values are Go strings holding raw bytes. encoding/json replaces bytes that
// are not valid UTF-8 with U+FFFD and cannot encode an infinite Score, so a
// snapshot with binary values or ±Inf scores does not survive encoding/json
// unchanged.
type Snapshot struct {
	Keys []SnapshotKey `json:"keys"` // in Snapshot order: by DB, then Key
}

// Key types a SnapshotKey holds, as Redis's TYPE names them.
const (
	TypeString = "string"
	TypeList   = "list"
	TypeSet    = "set"
	TypeZSet   = "zset"
	TypeHash   = "hash"
	TypeStream = "stream"
	// TypeJSON is a RedisJSON document (the module's TYPE name). A plane
	// without RedisJSON cannot restore one: its Restore fails.
	TypeJSON = "ReJSON-RL"
)

// SnapshotKey is one key of a Snapshot. Type says which one value field is
// set; the others are empty.
type SnapshotKey struct {
	DB   int    `json:"db"` // logical database, 0-15
	Key  string `json:"key"`
	Type string `json:"type"` // TypeString, TypeList, TypeSet, TypeZSet, TypeHash, TypeStream or TypeJSON
	// TTLMillis is the time the key had left to live, in milliseconds; 0
	// means it does not expire.
	TTLMillis int64             `json:"ttl_millis"`
	String    string            `json:"string,omitempty"`
	List      []string          `json:"list,omitempty"`   // in order
	Set       []string          `json:"set,omitempty"`    // sorted
	ZSet      []ScoredMember    `json:"zset,omitempty"`   // by score, as ZRANGE
	Hash      map[string]string `json:"hash,omitempty"`   // field to value
	Stream    []StreamEntry     `json:"stream,omitempty"` // by ID, oldest first
	JSON      string            `json:"json,omitempty"`   // the document, as JSON text
}

// ScoredMember is one member of a sorted set.
type ScoredMember struct {
	Member string  `json:"member"`
	Score  float64 `json:"score"`
}

// StreamEntry is one entry of a stream. Consumer groups are not part of a
// Snapshot.
type StreamEntry struct {
	ID     string   `json:"id"`     // as XADD takes it: "<ms>-<seq>"
	Fields []string `json:"fields"` // name, value, name, value, ...
}

// All yields the keys of s, for Plane.Restore.
func (s Snapshot) All() iter.Seq2[SnapshotKey, error] {
	return func(yield func(SnapshotKey, error) bool) {
		for _, k := range s.Keys {
			if !yield(k, nil) {
				return
			}
		}
	}
}

// CollectSnapshot returns the whole snapshot of database id on p, in
// memory: for tests and small databases. Backups stream instead.
func CollectSnapshot(ctx context.Context, p Plane, id string) (Snapshot, error) {
	var s Snapshot
	err := p.Snapshot(ctx, id, func(k SnapshotKey) error {
		s.Keys = append(s.Keys, k)
		return nil
	})
	if err != nil {
		return Snapshot{}, err
	}
	return s, nil
}

// Validate reports, as EINVALID, what in s no Redis could restore: a key
// that fails SnapshotKey.Validate, or keys out of Snapshot order (which
// includes a key listed twice).
func (s Snapshot) Validate() error {
	for _, err := range ValidKeys(s.All()) {
		if err != nil {
			return err
		}
	}
	return nil
}

// ValidKeys yields what keys yields, checked: a key that fails
// SnapshotKey.Validate, or does not follow the key before it in Snapshot
// order, is replaced by an EINVALID error; an error keys yields is passed
// on as is. It stops after the first error. It holds one key at a time, so
// a stream of any length is checked in bounded memory.
func ValidKeys(keys iter.Seq2[SnapshotKey, error]) iter.Seq2[SnapshotKey, error] {
	return func(yield func(SnapshotKey, error) bool) {
		var prev SnapshotKey
		i := 0
		for k, err := range keys {
			if err == nil {
				err = k.Validate()
			}
			if err == nil && i > 0 && !k.Follows(prev) {
				err = Errorf(EINVALID, "snapshot key %q in db %d does not follow %q in db %d: keys go by db, then key, each once", k.Key, k.DB, prev.Key, prev.DB)
			}
			if err != nil {
				var zero SnapshotKey
				yield(zero, err)
				return
			}
			if !yield(k, nil) {
				return
			}
			prev = k
			i++
		}
	}
}

// Follows reports whether k comes after prev in Snapshot order: a higher
// DB, or the same DB and a Key that sorts after prev's, byte by byte. Keys
// in that order are each listed once.
func (k SnapshotKey) Follows(prev SnapshotKey) bool {
	return k.DB > prev.DB || (k.DB == prev.DB && k.Key > prev.Key)
}

// Validate reports, as EINVALID, what in k no Redis could restore: a DB
// out of 0-15, an empty key, an unknown type, an empty collection (Redis
// holds none), a negative TTL, a NaN score, or stream entries without
// fields, with an odd field list, or with IDs that are malformed, 0-0 or
// not increasing.
func (k SnapshotKey) Validate() error {
	bad := func(format string, args ...any) error {
		return Errorf(EINVALID, "snapshot key %q in db %d: %s", k.Key, k.DB, fmt.Sprintf(format, args...))
	}
	if k.DB < 0 || k.DB > 15 {
		return bad("db must be 0-15")
	}
	if k.Key == "" {
		return bad("key is empty")
	}
	if k.TTLMillis < 0 {
		return bad("ttl_millis is negative")
	}
	var n int
	switch k.Type {
	case TypeString:
		n = 1
	case TypeList:
		n = len(k.List)
	case TypeSet:
		n = len(k.Set)
	case TypeZSet:
		n = len(k.ZSet)
		for _, m := range k.ZSet {
			if math.IsNaN(m.Score) {
				return bad("score of %q is NaN", m.Member)
			}
		}
	case TypeHash:
		n = len(k.Hash)
	case TypeStream:
		n = len(k.Stream)
		var last [2]uint64
		for j, e := range k.Stream {
			ms, seq, ok := parseStreamID(e.ID)
			if !ok || (ms == 0 && seq == 0) {
				return bad("stream entry id %q is not <ms>-<seq> above 0-0", e.ID)
			}
			if j > 0 && (ms < last[0] || (ms == last[0] && seq <= last[1])) {
				return bad("stream entry id %q does not follow %q", e.ID, k.Stream[j-1].ID)
			}
			last = [2]uint64{ms, seq}
			if len(e.Fields) == 0 || len(e.Fields)%2 != 0 {
				return bad("stream entry %q needs name, value pairs", e.ID)
			}
		}
	case TypeJSON:
		if !json.Valid([]byte(k.JSON)) {
			return bad("json is not one JSON value")
		}
		n = 1
	default:
		return bad("unknown type %q", k.Type)
	}
	if n == 0 {
		return bad("a %s key without elements", k.Type)
	}
	return nil
}

// parseStreamID splits a stream entry ID "<ms>-<seq>".
func parseStreamID(id string) (ms, seq uint64, ok bool) {
	a, b, found := strings.Cut(id, "-")
	if !found {
		return 0, 0, false
	}
	ms, err1 := strconv.ParseUint(a, 10, 64)
	seq, err2 := strconv.ParseUint(b, 10, 64)
	return ms, seq, err1 == nil && err2 == nil
}

// PlaneConfig is what every plane implementation is built with.
type PlaneConfig struct {
	// Host is the address the Redis servers listen on. Default: 127.0.0.1.
	Host string
	// TLS is the server configuration for databases with TLS on. Required
	// when any database has TLS.
	TLS *tls.Config
	// ScriptTimeLimit stops a Lua script (EVAL, FCALL) that runs longer,
	// with an error, where the plane runs scripts itself (embedded).
	// Default: 5 seconds.
	ScriptTimeLimit time.Duration
	// ScriptMemoryLimit fails a Lua script that allocates more, where the
	// plane runs scripts itself (embedded). Default: 256 MiB, or the
	// database's MaxMemory when that is less.
	ScriptMemoryLimit int64
	// Logger receives the plane's warnings (accept errors, restarts).
	// Default: discard.
	Logger *slog.Logger
}

// A Placer is a Plane that decides itself where each database is served,
// such as a pool of Redis servers that already run, instead of listening on
// a port of devapi's range. The server calls Place before it stores a new
// database, and stores the Placement as the database's Endpoint, Port and
// TLS.
type Placer interface {
	Plane
	// Place reserves a place for the new database id and returns it: one
	// with TLS as tls asks if one is free, else one of the other kind (the
	// Placement says which). Placing an id again returns the place it holds.
	// ECONFLICT when the plane has no free place (the message says so, for
	// the caller). Remove frees it.
	Place(ctx context.Context, id string, tls bool) (Placement, error)
}

// Placement is where a Placer serves a database.
type Placement struct {
	Host string // host name clients dial
	Port int
	TLS  bool // the server speaks TLS only; a Placer cannot turn it off or on
}

// PoolStore keeps the assignment of pool servers to databases, shared by
// every devapi replica on the store, and orders password changes across
// replicas. Servers are named by a key that holds no credential ("host:port").
type PoolStore interface {
	// AssignPoolServer gives database id the first of servers that no other
	// database holds, and returns it; if id holds a server already, it
	// returns that one, listed in servers or not. Of concurrent callers, of
	// any replica, no two get the same server. A new assignment records no
	// generation (-1), so that any generation, 0 included, is newer.
	// ECONFLICT when every server is taken.
	AssignPoolServer(ctx context.Context, id string, servers []string) (string, error)
	// PoolAssignments returns every assignment, by database id.
	PoolAssignments(ctx context.Context) (map[string]PoolAssignment, error)
	// ApplyPoolGeneration calls apply unless the generation last recorded
	// for id is newer than generation (the same generation applies again, so
	// a server that lost its password gets it back), and records generation if apply
	// returns nil. Calls for the same id, from any replica, run one after
	// another (a row lock held across apply). It reports whether apply ran
	// and its generation was recorded. ENOTFOUND, without calling apply, if
	// id holds no server; an error from apply is returned as is, with the
	// generation left as it was.
	ApplyPoolGeneration(ctx context.Context, id string, generation int64, apply func(ctx context.Context) error) (bool, error)
	// ReleasePoolServer frees the server id holds. Not an error if it holds
	// none.
	ReleasePoolServer(ctx context.Context, id string) error
}

// PoolAssignment is the pool server a database holds and the generation of
// the password last applied to it: -1 until one is.
type PoolAssignment struct {
	Server     string
	Generation int64
}
