package redisserverplane

import (
	"testing"
	"time"
)

// TestRestartBackoff: the delay before a restart doubles from 100 ms to
// 30 s while processes keep dying, and starts over after one ran a minute.
func TestRestartBackoff(t *testing.T) {
	var in instance
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var got []time.Duration
	for range 11 {
		in.schedule(now)
		got = append(got, in.delay)
		if !in.retryAt.Equal(now.Add(in.delay)) {
			t.Fatalf("retryAt %v, want now + %v", in.retryAt, in.delay)
		}
		now = in.retryAt
		in.upSince = now // restarted, and died again at once
	}
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond,
		1600 * time.Millisecond, 3200 * time.Millisecond, 6400 * time.Millisecond, 12800 * time.Millisecond,
		25600 * time.Millisecond, 30 * time.Second, 30 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("delays %v, want %v", got, want)
		}
	}
	// A failed restart (no process ran: upSince zero) doubles too.
	in.upSince = time.Time{}
	in.delay = time.Second
	in.schedule(now)
	if in.delay != 2*time.Second {
		t.Errorf("after a failed restart: %v, want 2s", in.delay)
	}
	// A process that ran for a minute starts the back-off over.
	in.upSince = now
	in.schedule(now.Add(healthyAfter))
	if in.delay != minRestartDelay {
		t.Errorf("after a minute of health: %v, want %v", in.delay, minRestartDelay)
	}
}
