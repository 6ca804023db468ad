// Package gctune keeps Go's garbage collector from running every few
// megabytes of allocation while the heap is small.
//
// With the default GOGC=100 the collector runs each time the heap has grown
// by as much as it held live after the last collection. devapi's serve
// holds little (tens of MiB with the embedded plane's data) and allocates
// about 11 KB per reset-password, so under load it collected many times a
// second, and its marking, assists and wake-ups cost about a tenth of the
// CPU of a reset. Start lets the heap grow by at least a fixed headroom
// before the next collection instead: the goal is the larger of twice the
// live heap (GOGC=100's) and the live heap plus the headroom. A large heap
// is collected exactly as with the default; a small one uses at most the
// headroom more memory.
//
// The percent is set again after every collection, from that collection's
// live heap (a cleanup on a sentinel object that each collection frees).
// A GOGC the user set in the environment is left alone, and GOMEMLIMIT
// still bounds the heap when set.
package gctune

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// DefaultHeadroom is serve's headroom: 64 MiB.
const DefaultHeadroom = 64 << 20

// minPercent is GOGC's default: never collect more often than it does.
const minPercent = 100

// heapMinimum is the runtime's smallest heap goal at GOGC=100, which it
// scales with the percent: 4 MiB.
const heapMinimum = 4 << 20

// Percent is the GOGC percent whose heap goal is the larger of twice live
// and live plus headroom. It is at most headroom/4 MiB x 100, since the
// runtime's smallest goal grows with the percent (4 MiB at 100): the goal
// then stays at or under the headroom however small live is. A live heap
// not known yet (0: no collection ran) gets the default.
func Percent(live, headroom uint64) int {
	if live == 0 {
		return minPercent
	}
	p := headroom * 100 / live
	return int(min(max(p, minPercent), max(headroom*100/heapMinimum, minPercent)))
}

type tuner struct {
	headroom uint64
	mu       sync.Mutex
	stopped  bool
	percent  int // the percent last set
	sample   []metrics.Sample
}

// sentinel is what each collection frees; big enough and with a pointer,
// so that it is an allocation of its own (not packed with others).
type sentinel struct {
	t *tuner
	_ [16]byte
}

// Start tunes the collector as the package comment says, unless GOGC is
// set in the environment, and returns a stop that puts GOGC's default
// (100) back. Only a program's main should call it: the percent is the
// process's.
func Start(headroom uint64) (stop func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	t := &tuner{headroom: headroom, percent: minPercent,
		sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	t.tune()
	t.arm()
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if !t.stopped {
			t.stopped = true
			debug.SetGCPercent(minPercent)
		}
	}
}

// arm makes the next collection call tune and arm again.
func (t *tuner) arm() {
	runtime.AddCleanup(&sentinel{t: t}, func(t *tuner) {
		if t.tune() {
			t.arm()
		}
	}, t)
}

// tune sets the percent from the live heap of the last collection, when
// it moved by more than a tenth. It reports false once stopped.
func (t *tuner) tune() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return false
	}
	metrics.Read(t.sample)
	var live uint64
	if t.sample[0].Value.Kind() == metrics.KindUint64 {
		live = t.sample[0].Value.Uint64()
	}
	if live == 0 {
		return true // no collection yet
	}
	p := Percent(live, t.headroom)
	if math.Abs(float64(p-t.percent)) > float64(t.percent)/10 {
		debug.SetGCPercent(p)
		t.percent = p
	}
	return true
}
