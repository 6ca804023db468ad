package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// loadConfig is one run of the load generator.
type loadConfig struct {
	baseURL     string   // http://127.0.0.1:PORT
	paths       []string // requests go to these, round robin per connection
	email, key  string   // HTTP Basic credentials
	conns       int      // connections, one goroutine each
	warmup      time.Duration
	duration    time.Duration // measured time, at most
	maxRequests int           // measured requests, at most
	// measuring, when set, is called after the warm-up and before the
	// measured phase; its result is called after it (profiling).
	measuring func() (done func())
}

// loadResult is what one run measured.
type loadResult struct {
	requests int // answered 200 during the measured phase
	errors   int // anything else, including transport errors
	firstErr error
	elapsed  time.Duration
	latency  []time.Duration // of the 200s, sorted
}

func (r loadResult) perSecond() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.requests) / r.elapsed.Seconds()
}

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted, or 0 if it is empty.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// newClient returns a keep-alive client that uses one connection, dialled
// only to loopback.
func newClient() *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext:         d.DialContext,
			MaxIdleConns:        1,
			MaxIdleConnsPerHost: 1,
			MaxConnsPerHost:     1,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
			ForceAttemptHTTP2:   false,
		},
	}
}

// runLoad runs cfg: a warm-up, then conns goroutines, each with its own
// keep-alive connection, send requests back to back until the duration is
// up or maxRequests have been sent.
func runLoad(ctx context.Context, cfg loadConfig) loadResult {
	clients := make([]*http.Client, cfg.conns)
	for i := range clients {
		clients[i] = newClient()
	}
	defer func() {
		for _, c := range clients {
			c.CloseIdleConnections()
		}
	}()

	phase := func(d time.Duration, limit int, record bool) loadResult {
		var (
			sent     atomic.Int64
			mu       sync.Mutex
			res      loadResult
			wg       sync.WaitGroup
			deadline = time.Now().Add(d)
		)
		start := time.Now()
		for i, c := range clients {
			wg.Go(func() {
				var lat []time.Duration
				var errs int
				var firstErr error
				for n := i; ctx.Err() == nil && time.Now().Before(deadline) && sent.Add(1) <= int64(limit); n++ {
					path := cfg.paths[n%len(cfg.paths)]
					t := time.Now()
					err := post(ctx, c, cfg.baseURL+path, cfg.email, cfg.key)
					if err != nil {
						errs++
						if firstErr == nil {
							firstErr = err
						}
						continue
					}
					if record {
						lat = append(lat, time.Since(t))
					}
				}
				mu.Lock()
				res.latency = append(res.latency, lat...)
				res.errors += errs
				if res.firstErr == nil {
					res.firstErr = firstErr
				}
				mu.Unlock()
			})
		}
		wg.Wait()
		res.elapsed = time.Since(start)
		res.requests = len(res.latency)
		slices.Sort(res.latency)
		return res
	}

	if cfg.warmup > 0 {
		phase(cfg.warmup, math.MaxInt, false)
	}
	if cfg.measuring != nil {
		done := cfg.measuring()
		defer done()
	}
	return phase(cfg.duration, cfg.maxRequests, true)
}

// post sends one POST with Basic auth and reads the whole answer; any status
// but 200 is an error.
func post(ctx context.Context, c *http.Client, url, email, key string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return err
	}
	req.SetBasicAuth(email, key)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return err
}
