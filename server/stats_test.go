package server

import (
	"testing"
	"time"
)

// TestStatsBookKeepsAWeek: samples come back as added, oldest first, and
// are dropped once they are more than statsWindow older than the newest.
func TestStatsBookKeepsAWeek(t *testing.T) {
	b := &statsBook{samples: map[string]*series{}}
	start := time.Date(2026, 1, 1, 0, 0, 0, 123, time.UTC)
	var added []sample
	for i := range 3 * 24 * 60 * 7 / 2 { // ten and a half days, one sample every 5 minutes
		s := sample{
			at:          start.Add(time.Duration(i)*5*time.Minute + time.Duration(i%7)*time.Millisecond),
			connections: int64(i % 3),
			keys:        int64(1000 - i),    // going down
			commands:    int64(i * i % 977), // restarts now and then
		}
		b.add("a", s)
		added = append(added, s)
	}
	b.add("b", sample{at: start, keys: 1})

	last := added[len(added)-1].at
	var want []sample
	for _, s := range added {
		if last.Sub(s.at) <= statsWindow {
			want = append(want, s)
		}
	}
	got := b.since("a", time.Time{})
	if len(got) != len(want) {
		t.Fatalf("kept %d samples, want %d", len(got), len(want))
	}
	for i := range want {
		if !got[i].at.Equal(want[i].at) || got[i].at.String() != want[i].at.String() ||
			got[i].connections != want[i].connections || got[i].keys != want[i].keys || got[i].commands != want[i].commands {
			t.Fatalf("sample %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	from := last.Add(-time.Hour)
	wantHour := 0
	for _, s := range added {
		if !s.at.Before(from) {
			wantHour++
		}
	}
	if got := b.since("a", from); len(got) != wantHour || got[0].at.Before(from) {
		t.Errorf("since an hour before the last: %d samples from %v, want %d", len(got), got[0].at, wantHour)
	}
	if got := b.since("b", time.Time{}); len(got) != 1 || got[0].keys != 1 || !got[0].at.Equal(start) {
		t.Errorf("b: %+v", got)
	}
	b.keep(map[string]bool{"b": true})
	if got := b.since("a", time.Time{}); got != nil {
		t.Errorf("a after keep(b): %d samples", len(got))
	}
	if got := b.since("none", time.Time{}); got != nil {
		t.Errorf("a database never sampled: %d samples", len(got))
	}
}

// TestStatsBookPacksIdleSamples: a database sampled every minute, with the
// ticker's jitter, whose counters do not change, costs a few bytes a sample.
func TestStatsBookPacksIdleSamples(t *testing.T) {
	b := &statsBook{samples: map[string]*series{}}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 7 * 24 * 60
	for i := range n {
		jitter := time.Duration(i*7919%500) * time.Microsecond
		b.add("a", sample{at: start.Add(time.Duration(i)*time.Minute + jitter), keys: 3, commands: 40})
	}
	if size := len(b.samples["a"].data); size > 6*n {
		t.Errorf("a week of idle samples takes %d bytes, %.1f a sample; want 6 or fewer", size, float64(size)/n)
	}
	if got := b.since("a", time.Time{}); len(got) != n || got[n-1].keys != 3 || got[n-1].commands != 40 {
		t.Errorf("read back %d samples, the last %+v", len(got), got[len(got)-1])
	}
}
