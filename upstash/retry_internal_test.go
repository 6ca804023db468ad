package upstash

import (
	"net/http"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		header string
		want   time.Duration
	}{
		{"", -1},
		{"0", 0},
		{"7", 7 * time.Second},
		{" 7 ", 7 * time.Second},
		{"3600", maxRetryAfter},
		{"-1", -1},
		{"soon", -1},
		{now.Add(10 * time.Second).Format(http.TimeFormat), 10 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{now.Add(time.Hour).Format(http.TimeFormat), maxRetryAfter},
	} {
		if got := retryAfter(tc.header, now); got != tc.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tc.header, got, tc.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	for attempt := range 70 {
		want := min(backoffBase<<min(attempt, 16), backoffMax)
		if attempt >= 16 {
			want = backoffMax
		}
		for range 20 {
			if d := backoff(attempt); d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", attempt, d, want/2, want)
			}
		}
	}
}

func TestAPIBase(t *testing.T) {
	for in, want := range map[string]string{
		"https://api.upstash.com":        "https://api.upstash.com/v2/",
		"https://api.upstash.com/":       "https://api.upstash.com/v2/",
		"https://api.upstash.com/v2":     "https://api.upstash.com/v2/",
		"https://api.upstash.com/v2/":    "https://api.upstash.com/v2/",
		"http://127.0.0.1:8080":          "http://127.0.0.1:8080/v2/",
		"http://proxy.local/upstash":     "http://proxy.local/upstash/v2/",
		"http://proxy.local/upstash/v2/": "http://proxy.local/upstash/v2/",
	} {
		if got, err := apiBase(in); err != nil || got != want {
			t.Errorf("apiBase(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
