package server

import (
	"context"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"github.com/devapi-dev/devapi"
)

// ParsePortRange reads a port range written MIN-MAX, such as 16380-17379:
// the form of devapi serve's --ports and of the load harness's.
func ParsePortRange(s string) (PortRange, error) {
	lo, hi, ok := strings.Cut(s, "-")
	minPort, err1 := strconv.Atoi(lo)
	maxPort, err2 := strconv.Atoi(hi)
	if !ok || err1 != nil || err2 != nil || minPort < 1 || maxPort > 65535 || minPort > maxPort {
		return PortRange{}, fmt.Errorf("a port range is MIN-MAX within 1-65535, like 16380-17379, not %q", s)
	}
	return PortRange{Min: minPort, Max: maxPort}, nil
}

// portSet is a set of the ports of a PortRange, one bit each, so finding the
// lowest free port reads a word per 64 ports instead of the whole store.
type portSet struct {
	r     PortRange
	words []uint64
}

func newPortSet(r PortRange) *portSet {
	return &portSet{r: r, words: make([]uint64, (r.Max-r.Min)/64+1)}
}

// set marks port taken (or free); ports outside the range are ignored, as a
// database stored under an older range holds none of this one.
func (p *portSet) set(port int, taken bool) {
	if port < p.r.Min || port > p.r.Max {
		return
	}
	i := port - p.r.Min
	if taken {
		p.words[i/64] |= 1 << (i % 64)
	} else {
		p.words[i/64] &^= 1 << (i % 64)
	}
}

// next returns the lowest port not in the set that is from or above from,
// and false if there is none.
func (p *portSet) next(from int) (int, bool) {
	if from < p.r.Min {
		from = p.r.Min
	}
	for from <= p.r.Max {
		i := from - p.r.Min
		w := ^p.words[i/64] >> (i % 64) // free ports from i to the end of its word
		if w == 0 {
			from += 64 - i%64
			continue
		}
		port := from + bits.TrailingZeros64(w)
		return port, port <= p.r.Max
	}
	return 0, false
}

// busyFor is how long a port that another process holds is skipped before
// it is tried again: as long as a closed connection's TIME_WAIT, which keeps
// the port from being listened on, lasts on Linux.
const busyFor = time.Minute

// reservePort takes the lowest port of the range that no stored database
// and no create under way holds and that nothing listens on now, and keeps
// it for the caller until releasePort. A port another process holds is
// skipped for busyFor, so creates do not probe the same ports over and
// over. The ports of stored databases are read from the store on the first
// create only; after that the server keeps them itself, as every database
// is created and deleted through it. When the range seems full they are
// read again, in case the store changed behind the server's back, and the
// skipped ports are probed again. ECONFLICT when the range is full.
func (s *Server) reservePort(ctx context.Context) (int, error) {
	s.portMu.Lock()
	defer s.portMu.Unlock()
	for reloaded := false; ; reloaded = true {
		if s.taken == nil || reloaded {
			if err := s.loadPortsLocked(ctx); err != nil {
				return 0, err
			}
		}
		now := s.now()
		for port, ok := s.taken.next(s.ports.Min); ok; port, ok = s.taken.next(port + 1) {
			if until, found := s.busy[port]; found && now.Before(until) && !reloaded {
				continue
			}
			delete(s.busy, port)
			if !bindable(port) {
				s.busy[port] = now.Add(busyFor)
				continue
			}
			s.taken.set(port, true)
			s.reserved[port] = true
			return port, nil
		}
		if reloaded {
			return 0, devapi.Errorf(devapi.ECONFLICT, "no free port in devapi's port range %d-%d; delete a database or widen --ports", s.ports.Min, s.ports.Max)
		}
	}
}

// loadPortsLocked sets taken to the ports of the stored databases and of the
// creates under way. Callers hold portMu.
func (s *Server) loadPortsLocked(ctx context.Context) error {
	all, err := s.store.AllDatabases(ctx)
	if err != nil {
		return err
	}
	taken := newPortSet(s.ports)
	for _, d := range all {
		taken.set(d.Port, true)
	}
	for port := range s.reserved {
		taken.set(port, true)
	}
	s.taken = taken
	return nil
}

// storedPort ends the reservation of port: the database that holds it is
// stored, so the store accounts for it from now on.
func (s *Server) storedPort(port int) {
	s.portMu.Lock()
	defer s.portMu.Unlock()
	delete(s.reserved, port)
}

// releasePort frees port: the create that reserved it failed, or the
// database that held it is deleted. busy says another process holds it now.
func (s *Server) releasePort(port int, busy bool) {
	s.portMu.Lock()
	defer s.portMu.Unlock()
	delete(s.reserved, port)
	if s.taken != nil {
		s.taken.set(port, false)
	}
	if busy {
		s.busy[port] = s.now().Add(busyFor)
	}
}
