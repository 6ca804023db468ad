package restapi

import (
	"errors"
	"fmt"
	"sync"
)

// Limits bound what requests may cost devapi: untrusted input is bounded at
// the door. A token is enough to send any request, a read-only one included,
// so none of these depends on what the token may run. Zero fields mean the
// defaults, which DefaultLimits returns.
type Limits struct {
	// MaxBodyBytes caps a request body, counted on the wire: a larger
	// Content-Length is answered 413 before anything is read, and a body
	// sent without one is cut off at the limit with the same 413. Default
	// 10 MB (10,485,760 bytes), Upstash's max request size. At most 1 GiB.
	MaxBodyBytes int64
	// MaxCommands caps the commands of one /pipeline or /multi-exec; a
	// request with more is answered 400 and none of its commands runs.
	// Default 100,000. Upstash documents no such cap; this one is far above
	// what clients batch, and keeps one request's time on the database and
	// a transaction's queue inside it bounded.
	MaxCommands int
	// MaxResponseBytes caps the JSON answer to one request: a KEYS * or an
	// LRANGE of a huge database is answered with an error saying so instead
	// of gigabytes, and reading a reply stops as soon as it would pass the
	// limit. Default 64 MiB, below Upstash's max entry size (100 MB).
	MaxResponseBytes int64
	// MaxInFlightBytes caps, over every database, the bytes held for
	// requests at once: each request's body (by its Content-Length, or
	// MaxBodyBytes until it has been read when it has none), and its answer
	// as it grows. A request that finds no room is answered 429 with
	// Retry-After at once; none waits. Default 256 MiB.
	MaxInFlightBytes int64
	// MaxDatabaseInFlightBytes is MaxInFlightBytes for the requests of one
	// database, so that one token cannot take the room of every other.
	// Default 128 MiB: the largest request with the largest answer fits, with
	// room to spare. MaxBodyBytes + MaxResponseBytes must fit in it.
	MaxDatabaseInFlightBytes int64
	// MaxDatabaseRequests caps the requests one database serves at once;
	// more are answered 429 with Retry-After at once. Default 256.
	MaxDatabaseRequests int
	// MaxDatabaseStreams caps the event streams (/subscribe, /psubscribe,
	// /monitor) one database holds open at once; one more is answered 429
	// with Retry-After. Streams do not count against MaxDatabaseRequests.
	// Default 100.
	MaxDatabaseStreams int
	// MaxStreamBufferBytes caps the events one stream holds that its
	// client has not taken yet; they are held in flight, as answers are
	// (MaxDatabaseInFlightBytes, MaxInFlightBytes). A client that falls
	// further behind, or finds no room in flight, is dropped: its stream
	// ends. A message larger than this cannot be streamed and ends the
	// stream too. Default 8 MiB, at most MaxDatabaseInFlightBytes.
	MaxStreamBufferBytes int64
}

// DefaultLimits returns the limits a zero Limits means.
func DefaultLimits() Limits {
	return Limits{
		MaxBodyBytes:             10 << 20,
		MaxCommands:              100_000,
		MaxResponseBytes:         64 << 20,
		MaxInFlightBytes:         256 << 20,
		MaxDatabaseInFlightBytes: 128 << 20,
		MaxDatabaseRequests:      256,
		MaxDatabaseStreams:       100,
		MaxStreamBufferBytes:     8 << 20,
	}
}

// MaxBodyBytes is the default Limits.MaxBodyBytes: Upstash's request size
// limit, 10 MB.
const MaxBodyBytes = 10 << 20

// Check reports whether the limits fit together, with their zero fields
// filled as New fills them.
func (l Limits) Check() error {
	_, err := l.withDefaults()
	return err
}

// withDefaults fills zero fields and checks that the limits fit together: a
// request as large as MaxBodyBytes with an answer as large as
// MaxResponseBytes must fit in an idle database's room, or it could never be
// served and its client would retry forever.
func (l Limits) withDefaults() (Limits, error) {
	if l.MaxBodyBytes < 0 || l.MaxCommands < 0 || l.MaxResponseBytes < 0 || l.MaxInFlightBytes < 0 ||
		l.MaxDatabaseInFlightBytes < 0 || l.MaxDatabaseRequests < 0 || l.MaxDatabaseStreams < 0 || l.MaxStreamBufferBytes < 0 {
		return l, errors.New("restapi: a limit is negative")
	}
	// Defaults that would not fit explicit limits shrink to fit them.
	d := DefaultLimits()
	if l.MaxInFlightBytes == 0 {
		l.MaxInFlightBytes = d.MaxInFlightBytes
	}
	if l.MaxDatabaseInFlightBytes == 0 {
		l.MaxDatabaseInFlightBytes = min(d.MaxDatabaseInFlightBytes, l.MaxInFlightBytes)
	}
	if l.MaxBodyBytes == 0 {
		l.MaxBodyBytes = min(d.MaxBodyBytes, l.MaxDatabaseInFlightBytes/2)
	}
	if l.MaxResponseBytes == 0 {
		l.MaxResponseBytes = min(d.MaxResponseBytes, l.MaxDatabaseInFlightBytes-l.MaxBodyBytes)
	}
	if l.MaxCommands == 0 {
		l.MaxCommands = d.MaxCommands
	}
	if l.MaxDatabaseRequests == 0 {
		l.MaxDatabaseRequests = d.MaxDatabaseRequests
	}
	if l.MaxDatabaseStreams == 0 {
		l.MaxDatabaseStreams = d.MaxDatabaseStreams
	}
	if l.MaxStreamBufferBytes == 0 {
		l.MaxStreamBufferBytes = min(d.MaxStreamBufferBytes, l.MaxDatabaseInFlightBytes)
	}
	switch {
	case l.MaxBodyBytes > 1<<30:
		return l, fmt.Errorf("restapi: Limits.MaxBodyBytes %d is over 1 GiB", l.MaxBodyBytes)
	case l.MaxDatabaseInFlightBytes > l.MaxInFlightBytes:
		return l, fmt.Errorf("restapi: Limits.MaxDatabaseInFlightBytes %d is over Limits.MaxInFlightBytes %d", l.MaxDatabaseInFlightBytes, l.MaxInFlightBytes)
	case l.MaxStreamBufferBytes > l.MaxDatabaseInFlightBytes:
		return l, fmt.Errorf("restapi: Limits.MaxStreamBufferBytes %d is over Limits.MaxDatabaseInFlightBytes %d", l.MaxStreamBufferBytes, l.MaxDatabaseInFlightBytes)
	case l.MaxResponseBytes <= 0 || l.MaxBodyBytes+l.MaxResponseBytes > l.MaxDatabaseInFlightBytes:
		return l, fmt.Errorf("restapi: Limits.MaxBodyBytes %d and Limits.MaxResponseBytes %d do not fit in Limits.MaxDatabaseInFlightBytes %d: the largest request with the largest answer could never be served",
			l.MaxBodyBytes, l.MaxResponseBytes, l.MaxDatabaseInFlightBytes)
	}
	return l, nil
}

// Load is what requests hold at one moment.
type Load struct {
	Bytes    int64 // bytes of bodies, answers and streams' events
	Requests int   // requests being served, streams excluded
	Streams  int   // event streams open
}

// admission counts what requests hold, overall and per database, and grants
// a request or more bytes only under the limits. It never waits: what does
// not fit is refused at once, so that nothing queues without bound.
type admission struct {
	limits Limits

	mu    sync.Mutex
	total Load
	dbs   map[string]*Load // by database id; removed when idle
}

func newAdmission(l Limits) *admission {
	return &admission{limits: l, dbs: map[string]*Load{}}
}

// ticket is one admitted request, or stream, and the bytes it holds.
type ticket struct {
	a      *admission
	db     string
	held   int64
	stream bool
}

// enter admits one request to database db, or returns nil when the database
// serves MaxDatabaseRequests already.
func (a *admission) enter(db string) *ticket {
	a.mu.Lock()
	defer a.mu.Unlock()
	l := a.dbs[db]
	if l == nil {
		l = &Load{}
		a.dbs[db] = l
	}
	if l.Requests >= a.limits.MaxDatabaseRequests {
		return nil
	}
	l.Requests++
	a.total.Requests++
	return &ticket{a: a, db: db}
}

// enterStream admits one event stream to database db, or returns nil when
// the database holds MaxDatabaseStreams open already.
func (a *admission) enterStream(db string) *ticket {
	a.mu.Lock()
	defer a.mu.Unlock()
	l := a.dbs[db]
	if l == nil {
		l = &Load{}
		a.dbs[db] = l
	}
	if l.Streams >= a.limits.MaxDatabaseStreams {
		return nil
	}
	l.Streams++
	a.total.Streams++
	return &ticket{a: a, db: db, stream: true}
}

// reserve holds n more bytes for the request, if they fit both the
// database's room and the overall one.
func (t *ticket) reserve(n int64) bool {
	a := t.a
	a.mu.Lock()
	defer a.mu.Unlock()
	l := a.dbs[t.db]
	if l.Bytes+n > a.limits.MaxDatabaseInFlightBytes || a.total.Bytes+n > a.limits.MaxInFlightBytes {
		return false
	}
	l.Bytes += n
	a.total.Bytes += n
	t.held += n
	return true
}

// release gives back n of the bytes the request holds.
func (t *ticket) release(n int64) {
	a := t.a
	a.mu.Lock()
	defer a.mu.Unlock()
	n = min(n, t.held)
	a.dbs[t.db].Bytes -= n
	a.total.Bytes -= n
	t.held -= n
}

// done gives back everything the request holds.
func (t *ticket) done() {
	t.release(t.held)
	a := t.a
	a.mu.Lock()
	defer a.mu.Unlock()
	l := a.dbs[t.db]
	if t.stream {
		l.Streams--
		a.total.Streams--
	} else {
		l.Requests--
		a.total.Requests--
	}
	if l.Requests == 0 && l.Streams == 0 {
		delete(a.dbs, t.db)
	}
}

// load reports the overall load and database db's.
func (a *admission) load(db string) (total, database Load) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if l := a.dbs[db]; l != nil {
		database = *l
	}
	return a.total, database
}
