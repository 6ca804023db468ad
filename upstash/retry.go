package upstash

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Backoff between retries: the n-th retry waits between half and all of
// min(backoffBase * 2^n, backoffMax), unless the answer says Retry-After.
const (
	backoffBase   = 250 * time.Millisecond
	backoffMax    = 8 * time.Second
	maxRetryAfter = 30 * time.Second
)

// retrier sends requests through an http.Client, retrying GET requests (the
// API's reads) on network errors and on answers that ask for another try.
// Other methods go out exactly once.
type retrier struct {
	client  *http.Client
	retries int
}

// Do implements gen.HttpRequestDoer.
func (r *retrier) Do(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet || r.retries == 0 {
		return r.client.Do(req)
	}
	ctx := req.Context()
	for attempt := 0; ; attempt++ {
		resp, err := r.client.Do(req.Clone(ctx))
		if attempt == r.retries {
			return resp, err
		}
		var (
			wait time.Duration
			last string
		)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return nil, err
			}
			wait, last = backoff(attempt), err.Error()
		case retryableStatus(resp.StatusCode):
			wait = retryAfter(resp.Header.Get("Retry-After"), time.Now())
			if wait < 0 {
				wait = backoff(attempt)
			}
			last = fmt.Sprintf("status %d", resp.StatusCode)
		default:
			return resp, nil
		}
		// Keep the real outcome when the context would end before the retry.
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= wait {
			return resp, err
		}
		if resp != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
			_ = resp.Body.Close()
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("waiting to retry after %s: %w", last, err)
		}
	}
}

// retryableStatus reports whether an answer with status asks for another
// try: rate limited, or a gateway or the service unavailable for now.
func retryableStatus(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// backoff is the wait before retry number attempt+1: exponential, capped,
// with jitter so that many clients do not retry in step.
func backoff(attempt int) time.Duration {
	d := backoffMax
	if attempt < 16 {
		d = min(backoffBase<<attempt, backoffMax)
	}
	return d/2 + rand.N(d/2+1)
}

// retryAfter reads a Retry-After header, in seconds or an HTTP date, capped
// at maxRetryAfter. It returns -1 when the header is absent or unreadable.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return -1
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(h, 10, 64); err == nil {
		if secs < 0 {
			return -1
		}
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if at, err := http.ParseTime(h); err == nil {
		d = max(at.Sub(now), 0)
	} else {
		return -1
	}
	return min(d, maxRetryAfter)
}

// sleep waits for d or until ctx ends, whichever comes first.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}
