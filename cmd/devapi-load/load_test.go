package main

import (
	"net/http/httptest"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	var sorted []time.Duration
	for i := 1; i <= 100; i++ {
		sorted = append(sorted, ms(i))
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{50, ms(50)}, {99, ms(99)}, {100, ms(100)}, {0.1, ms(1)}} {
		if got := percentile(sorted, tc.p); got != tc.want {
			t.Errorf("percentile(1..100ms, %v) = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("percentile(nil) = %v, want 0", got)
	}
	if got := percentile([]time.Duration{ms(7)}, 99); got != ms(7) {
		t.Errorf("percentile of one = %v, want 7ms", got)
	}
}

// TestRunLoadStopsAtMaxRequests runs the load generator against the
// baseline handler: it sends exactly maxRequests, all answered.
func TestRunLoadStopsAtMaxRequests(t *testing.T) {
	srv := httptest.NewServer(baselineHandler([]byte(`{"ok":true}`), "application/json"))
	defer srv.Close()
	res := runLoad(t.Context(), loadConfig{
		baseURL: srv.URL, paths: []string{"/a", "/b"}, email: "e", key: "k",
		conns: 3, duration: time.Minute, maxRequests: 200,
	})
	if res.requests != 200 || res.errors != 0 || len(res.latency) != 200 {
		t.Fatalf("requests %d, errors %d (%v), latencies %d; want 200, 0, 200", res.requests, res.errors, res.firstErr, len(res.latency))
	}
	for i := 1; i < len(res.latency); i++ {
		if res.latency[i] < res.latency[i-1] {
			t.Fatal("latencies not sorted")
		}
	}
}
