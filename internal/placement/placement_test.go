package placement

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/portclaim"
)

func TestPortSetNext(t *testing.T) {
	// 100-229 spans three words, the last one partly.
	p := newPortSet(100, 229)
	for port := 100; port <= 228; port++ {
		if port != 163 && port != 164 {
			p.set(port, true)
		}
	}
	p.set(99, true)  // outside: ignored
	p.set(300, true) // outside: ignored
	for _, tc := range []struct {
		from, want int
		ok         bool
	}{
		{0, 163, true},
		{163, 163, true},
		{164, 164, true},
		{165, 229, true},
		{229, 229, true},
		{230, 0, false},
	} {
		if got, ok := p.next(tc.from); got != tc.want || ok != tc.ok {
			t.Errorf("next(%d) = %d, %v; want %d, %v", tc.from, got, ok, tc.want, tc.ok)
		}
	}
	p.set(229, true)
	if got, ok := p.next(165); ok {
		t.Errorf("next(165) of a full tail = %d, want none", got)
	}
	p.set(163, false)
	p.set(164, true)
	if got, ok := p.next(0); got != 163 || !ok {
		t.Errorf("after set(163, false): next(0) = %d, %v; want 163, true", got, ok)
	}
	full := newPortSet(1, 64)
	for port := 1; port <= 64; port++ {
		full.set(port, true)
	}
	if got, ok := full.next(1); ok {
		t.Errorf("next of a full one-word set = %d, want none", got)
	}
}

// TestReserve: Reserve takes the lowest port that is neither stored, nor
// reserved, nor listened on; a port another process held is skipped for
// BusyFor; Release frees a port; a full range reads the stored ports again
// before it answers ECONFLICT.
func TestReserve(t *testing.T) {
	lo, _, release := portclaim.Claim(4)
	t.Cleanup(func() { _ = release() })
	now := time.Now()
	stored := []int{lo + 1}
	p := NewPorts(lo, lo+3, func(context.Context) ([]int, error) { return stored, nil }, func() time.Time { return now })
	reserve := func(want int) {
		t.Helper()
		if got, err := p.Reserve(t.Context()); err != nil || got != want {
			t.Fatalf("Reserve = %d, %v; want %d", got, err, want)
		}
	}
	other, err := net.Listen("tcp", net.JoinHostPort(Host, strconv.Itoa(lo)))
	if err != nil {
		t.Skipf("port %d is taken: %v", lo, err)
	}
	reserve(lo + 2) // lo is another process's, lo+1 stored
	_ = other.Close()
	reserve(lo + 3) // lo is skipped for BusyFor
	now = now.Add(BusyFor)
	reserve(lo)
	p.Stored(lo) // and the store has it now
	stored = append(stored, lo)
	if _, err := p.Reserve(t.Context()); devapi.ErrorCode(err) != devapi.ECONFLICT {
		t.Fatalf("Reserve in a full range: %v, want ECONFLICT", err)
	}
	p.Release(lo+3, false)
	reserve(lo + 3)
	stored = []int{lo} // lo+1's database was deleted behind Ports' back
	reserve(lo + 1)
	p2 := NewPorts(lo, lo+3, func(context.Context) ([]int, error) { return nil, errors.New("store down") }, time.Now)
	if _, err := p2.Reserve(t.Context()); err == nil {
		t.Error("Reserve with the store down answered a port")
	}
}
