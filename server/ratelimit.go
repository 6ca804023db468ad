package server

import (
	"hash/maphash"
	"math"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/devapi-dev/devapi/gen"
)

// RateLimit is a token bucket: Burst requests may come at once, and the
// bucket refills at PerSecond. In a Config field, the zero value means that
// field's default and a negative PerSecond turns the limit off; a Burst of 0
// means PerSecond rounded up (at least 1).
type RateLimit struct {
	PerSecond float64
	Burst     int
}

// Defaults of Config.AuthFailures and Config.AccountRequests.
var (
	// A person mistyping a key fails a few times a minute; a guesser wants
	// thousands a second. 10 a second with a burst of 20 never stops the
	// first and slows the second to 864,000 guesses a day per address and
	// per email.
	defaultAuthFailures = RateLimit{PerSecond: 10, Burst: 20}
	// Above what one devapi commits (a few thousand writes a second on
	// SQLite, see the README's load figures) only when the store does not
	// write: it stops a flood of cheap requests, not a busy client.
	defaultAccountRequests = RateLimit{PerSecond: 1000, Burst: 2000}
)

// maxBuckets bounds the buckets one limiter keeps: about 110 bytes each, so
// 10,000 keys are about 1.1 MB whatever a flood of addresses or emails sends.
const maxBuckets = 10_000

// resolve returns l with defaults filled in, or ok false when it is off.
func (l RateLimit) resolve(def RateLimit) (_ RateLimit, ok bool) {
	switch {
	case l.PerSecond < 0:
		return RateLimit{}, false
	case l.PerSecond == 0:
		l = def
	}
	if l.Burst <= 0 {
		l.Burst = max(1, int(math.Ceil(l.PerSecond)))
	}
	return l, true
}

// buckets keeps one token bucket per key in bounded memory. A key without
// a bucket has a full one, so a key takes memory only once it spent a
// token, and a bucket that filled up again can be dropped without losing
// anything. Keys are hashed with a per-process seed: a long email costs no
// more than a short one, and no one can make two keys share a bucket on
// purpose.
type buckets struct {
	limit rate.Limit
	burst int
	max   int // buckets kept at most
	seed  maphash.Seed

	mu sync.Mutex
	m  map[uint64]*rate.Limiter
	// kept is len(m), stored under mu whenever m changes: wait reads it
	// without mu, so that a request costs no lock and no hash while no key
	// spent a token, the usual case of a limiter of failed logins.
	kept atomic.Int64
}

func newBuckets(l RateLimit) *buckets {
	return &buckets{limit: rate.Limit(l.PerSecond), burst: l.Burst, max: maxBuckets, seed: maphash.MakeSeed(), m: map[uint64]*rate.Limiter{}}
}

// wait returns how long key has to wait at now for a token: 0 when its
// bucket holds one. It takes nothing.
func (b *buckets) wait(key string, now time.Time) time.Duration {
	// No bucket at all: key's is full. A bucket being made meanwhile is
	// one this wait came before.
	if b.none() {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.m[maphash.String(b.seed, key)]
	if l == nil {
		return 0
	}
	return b.waitFor(l.TokensAt(now))
}

// spend takes a token from key's bucket at now, running the bucket into
// debt when it is empty: failures that overtook a check still cost their
// sender the time they would have cost one by one.
func (b *buckets) spend(key string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bucket(key, now).ReserveN(now, 1)
}

// take takes a token from key's bucket at now and returns 0 when there is
// one; else it takes nothing and returns how long to wait for one.
func (b *buckets) take(key string, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.bucket(key, now)
	if l.AllowN(now, 1) {
		return 0
	}
	return b.waitFor(l.TokensAt(now))
}

// waitFor is how long a bucket holding tokens takes to hold one.
func (b *buckets) waitFor(tokens float64) time.Duration {
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) / float64(b.limit) * float64(time.Second))
}

// bucket returns key's bucket, making one. b.mu is held.
func (b *buckets) bucket(key string, now time.Time) *rate.Limiter {
	h := maphash.String(b.seed, key)
	if l := b.m[h]; l != nil {
		return l
	}
	if len(b.m) >= b.max {
		b.makeRoom(now)
	}
	l := rate.NewLimiter(b.limit, b.burst)
	b.m[h] = l
	b.kept.Store(int64(len(b.m)))
	return l
}

// makeRoom drops buckets until an eighth of b.max is free, so that its cost
// is shared by the next b.max/8 new keys. Full buckets go first: they hold
// nothing a new one would not. Only when more than b.max keys spend tokens
// at once (a flood from many addresses) does it drop buckets that are not
// full, those closest to full first: a key deep in debt is the last to be
// forgotten. b.mu is held.
func (b *buckets) makeRoom(now time.Time) {
	type entry struct {
		key    uint64
		tokens float64
	}
	entries := make([]entry, 0, len(b.m))
	for k, l := range b.m {
		t := l.TokensAt(now)
		if t >= float64(b.burst) {
			delete(b.m, k)
			continue
		}
		entries = append(entries, entry{k, t})
	}
	keep := b.max - max(1, b.max/8)
	if len(entries) <= keep {
		return
	}
	slices.SortFunc(entries, func(x, y entry) int { return -cmpFloat(x.tokens, y.tokens) })
	for _, e := range entries[:len(entries)-keep] {
		delete(b.m, e.key)
	}
}

func cmpFloat(x, y float64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// none reports whether b keeps no bucket: every key's is full. It takes
// no lock.
func (b *buckets) none() bool { return b.kept.Load() == 0 }

// len returns how many buckets b keeps.
func (b *buckets) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.m)
}

// authLimiter throttles failed authentication per client address and per
// email.
type authLimiter struct {
	byAddr, byEmail *buckets
}

// clientAddr is the bucket key of a request's client: its IP address, or
// for IPv6 its /64, the block one host usually has to itself. devapi takes
// the TCP peer's address and no X-Forwarded-For: behind a proxy every
// client shares the proxy's buckets.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// throttleAuth answers 429 before authentication while the client's
// address, or the email it authenticates as, has no failed-authentication
// token left; after authentication, a 401 to credentials costs a token of
// each. A correct key is refused too while the bucket is empty: were it let
// through, a guesser would learn which guess was right from the one answer
// that is not a 429. Requests without credentials are answered 401 and cost
// nothing: they guess nothing and cost no store lookup.
func (s *Server) throttleAuth(next http.Handler) http.Handler {
	if s.authLimiter == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		creds := info(r.Context()).basicAuth(r)
		// (No allocation for an email already in lower case.)
		email := strings.ToLower(creds.email)
		guess := creds.ok
		now := s.now()
		// The client's address is worked out only when a bucket may be
		// its (some address spent a token) or when it spends one.
		var addr string
		var wait time.Duration
		if !s.authLimiter.byAddr.none() {
			addr = clientAddr(r)
			wait = s.authLimiter.byAddr.wait(addr, now)
		}
		if guess {
			wait = max(wait, s.authLimiter.byEmail.wait(email, now))
		}
		if wait > 0 {
			writeTooManyRequests(w, wait, "too many failed logins: retry later")
			return
		}
		// The logging middleware's recorder, when w is one that has
		// recorded nothing yet, tells the status without another.
		rec, ok := w.(*statusRecorder)
		if !ok || rec.status != 0 {
			rec = &statusRecorder{ResponseWriter: w}
		}
		next.ServeHTTP(rec, r)
		if guess && rec.status == http.StatusUnauthorized {
			if addr == "" {
				addr = clientAddr(r)
			}
			now := s.now()
			s.authLimiter.byAddr.spend(addr, now)
			s.authLimiter.byEmail.spend(email, now)
		}
	})
}

// limitAccount answers 429 to an authenticated account's requests over
// Config.AccountRequests. It runs after authenticate.
func (s *Server) limitAccount(next http.Handler) http.Handler {
	if s.accountLimiter == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if acct := accountFrom(r.Context()); acct != nil {
			if wait := s.accountLimiter.take(acct.Email, s.now()); wait > 0 {
				writeTooManyRequests(w, wait, "rate limit exceeded: retry later")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// writeTooManyRequests answers 429 {"error": msg} with Retry-After: wait in
// whole seconds, at least 1.
func writeTooManyRequests(w http.ResponseWriter, wait time.Duration, msg string) {
	secs := max(1, int64(math.Ceil(wait.Seconds())))
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	var body gen.Error
	_ = body.FromErrorObject(gen.ErrorObject{Error: msg})
	writeJSON(w, http.StatusTooManyRequests, body)
}
