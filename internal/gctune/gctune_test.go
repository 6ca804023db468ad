package gctune

import (
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	for _, c := range []struct {
		live, headroom uint64
		want           int
	}{
		{0, DefaultHeadroom, 100},              // no collection yet: the default
		{1 << 10, DefaultHeadroom, 1600},       // the runtime's 4 MiB minimum x 16 = 64 MiB
		{1 << 20, 1 << 20, 100},                // a headroom under 4 MiB: the default
		{8 << 20, DefaultHeadroom, 800},        // goal 8 + 64 MiB
		{32 << 20, DefaultHeadroom, 200},       // goal 32 + 64 MiB
		{64 << 20, DefaultHeadroom, 100},       // twice live: the default
		{1 << 30, DefaultHeadroom, minPercent}, // a big heap: the default
	} {
		if got := Percent(c.live, c.headroom); got != c.want {
			t.Errorf("Percent(%d, %d) = %d, want %d", c.live, c.headroom, got, c.want)
		}
	}
}

func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

// collectUntil runs collections until ok(GOGC percent) or 10 s pass, and
// returns the last percent.
func collectUntil(ok func(int) bool) int {
	deadline := time.Now().Add(10 * time.Second)
	for !ok(gogc()) && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(5 * time.Millisecond) // the cleanup runs on its own goroutine
	}
	return gogc()
}

// TestStartFollowsCollections: after Start, the percent is the one the
// live heap of the last collection asks for, collection after collection;
// stop puts 100 back and no later collection changes it.
func TestStartFollowsCollections(t *testing.T) {
	t.Setenv("GOGC", "")
	stop := Start(DefaultHeadroom)
	defer stop()
	// This test binary's live heap is a few MiB: far more than 100.
	if p := collectUntil(func(p int) bool { return p > 200 }); p <= 200 {
		t.Fatalf("GOGC percent after Start and a collection = %d, want the small heap's (> 200)", p)
	}
	// A live heap of 48 MiB asks for about 133.
	keep := make([][]byte, 48)
	for i := range keep {
		keep[i] = make([]byte, 1<<20)
		keep[i][0] = 1
	}
	if p := collectUntil(func(p int) bool { return p <= 150 }); p > 150 {
		t.Errorf("GOGC percent with 48 MiB live = %d, want about 133", p)
	}
	runtime.KeepAlive(keep)
	keep = nil
	// Small again: large again.
	if p := collectUntil(func(p int) bool { return p > 200 }); p <= 200 {
		t.Errorf("GOGC percent once the 48 MiB are gone = %d, want > 200", p)
	}
	stop()
	if p := gogc(); p != 100 {
		t.Errorf("GOGC percent after stop = %d, want 100", p)
	}
	for range 3 {
		runtime.GC()
	}
	time.Sleep(10 * time.Millisecond)
	if p := gogc(); p != 100 {
		t.Errorf("GOGC percent after stop and collections = %d, want 100", p)
	}
}

// TestStartLeavesTheUsersGOGC: a GOGC in the environment is the user's.
func TestStartLeavesTheUsersGOGC(t *testing.T) {
	t.Setenv("GOGC", "150")
	before := gogc()
	stop := Start(DefaultHeadroom)
	defer stop()
	runtime.GC()
	runtime.GC()
	time.Sleep(10 * time.Millisecond)
	if p := gogc(); p != before {
		t.Errorf("GOGC percent = %d with GOGC set in the environment, want it left at %d", p, before)
	}
}
