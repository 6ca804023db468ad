package placement

import (
	"context"
	"math/bits"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/devapi-dev/devapi"
)

// Host is where the planes of devapi's range listen, and so where a port is
// probed.
const Host = "127.0.0.1"

// BusyFor is how long a port that another process holds is skipped before
// it is tried again: as long as a closed connection's TIME_WAIT, which keeps
// the port from being listened on, lasts on Linux.
const BusyFor = time.Minute

// Ports hands out the ports of the range Min-Max. Its methods are safe for
// concurrent use.
type Ports struct {
	min, max int
	stored   func(ctx context.Context) ([]int, error)
	now      func() time.Time

	mu       sync.Mutex
	taken    *portSet          // ports of stored databases and of creates under way; nil until the first Reserve
	reserved map[int]bool      // ports of creates under way, not yet stored
	busy     map[int]time.Time // ports another process held, and until when to skip them
}

// NewPorts returns the ports of min-max. stored answers the ports of the
// stored databases (read on the first Reserve, and again when the range
// seems full); now is the clock.
func NewPorts(min, max int, stored func(ctx context.Context) ([]int, error), now func() time.Time) *Ports {
	return &Ports{min: min, max: max, stored: stored, now: now, reserved: map[int]bool{}, busy: map[int]time.Time{}}
}

// Reserve takes the lowest port of the range that no stored database and no
// create under way holds and that nothing listens on now, and keeps it for
// the caller until Stored or Release. A port another process holds is
// skipped for BusyFor, so creates do not probe the same ports over and
// over. The stored ports are read on the first Reserve only; after that the
// caller keeps Ports up to date, as every database is created and deleted
// through it. When the range seems full they are read again, in case the
// store changed behind the caller's back, and the skipped ports are probed
// again. ECONFLICT when the range is full.
func (p *Ports) Reserve(ctx context.Context) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for reloaded := false; ; reloaded = true {
		if p.taken == nil || reloaded {
			if err := p.loadLocked(ctx); err != nil {
				return 0, err
			}
		}
		now := p.now()
		for port, ok := p.taken.next(p.min); ok; port, ok = p.taken.next(port + 1) {
			if until, found := p.busy[port]; found && now.Before(until) && !reloaded {
				continue
			}
			delete(p.busy, port)
			if !Bindable(port) {
				p.busy[port] = now.Add(BusyFor)
				continue
			}
			p.taken.set(port, true)
			p.reserved[port] = true
			return port, nil
		}
		if reloaded {
			return 0, devapi.Errorf(devapi.ECONFLICT, "no free port in devapi's port range %d-%d; delete a database or widen --ports", p.min, p.max)
		}
	}
}

// loadLocked sets taken to the ports of the stored databases and of the
// creates under way. Callers hold mu.
func (p *Ports) loadLocked(ctx context.Context) error {
	stored, err := p.stored(ctx)
	if err != nil {
		return err
	}
	taken := newPortSet(p.min, p.max)
	for _, port := range stored {
		taken.set(port, true)
	}
	for port := range p.reserved {
		taken.set(port, true)
	}
	p.taken = taken
	return nil
}

// Stored ends the reservation of port: the database that holds it is
// stored, so the store accounts for it from now on.
func (p *Ports) Stored(port int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.reserved, port)
}

// Release frees port: the create that reserved it failed, or the database
// that held it is deleted. busy says another process holds it now.
func (p *Ports) Release(port int, busy bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.reserved, port)
	if p.taken != nil {
		p.taken.set(port, false)
	}
	if busy {
		p.busy[port] = p.now().Add(BusyFor)
	}
}

// Bindable reports whether nothing listens on port of Host now.
func Bindable(port int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort(Host, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = ln.Close()
	return true
}

// portSet is a set of the ports of min-max, one bit each, so finding the
// lowest free port reads a word per 64 ports instead of the whole store.
type portSet struct {
	min, max int
	words    []uint64
}

func newPortSet(min, max int) *portSet {
	return &portSet{min: min, max: max, words: make([]uint64, (max-min)/64+1)}
}

// set marks port taken (or free); ports outside the range are ignored, as a
// database stored under an older range holds none of this one.
func (p *portSet) set(port int, taken bool) {
	if port < p.min || port > p.max {
		return
	}
	i := port - p.min
	if taken {
		p.words[i/64] |= 1 << (i % 64)
	} else {
		p.words[i/64] &^= 1 << (i % 64)
	}
}

// next returns the lowest port not in the set that is from or above from,
// and false if there is none.
func (p *portSet) next(from int) (int, bool) {
	if from < p.min {
		from = p.min
	}
	for from <= p.max {
		i := from - p.min
		w := ^p.words[i/64] >> (i % 64) // free ports from i to the end of its word
		if w == 0 {
			from += 64 - i%64
			continue
		}
		port := from + bits.TrailingZeros64(w)
		return port, port <= p.max
	}
	return 0, false
}
