package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestServeLogReachesStderr: serve's log is buffered (internal/logbuf),
// and still every request's line reaches stderr, once and in order, by
// the time the process exits on SIGTERM, with the shutdown's own lines
// after them.
func TestServeLogReachesStderr(t *testing.T) {
	p := serve(t, t.TempDir(), "embedded")
	const requests = 50
	for i := range requests {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, p.url+"/v2/redis/databases", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth(e2eEmail, e2eKey)
		req.Header.Set("X-Request-Id", fmt.Sprintf("log-test-%d", i))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d: status %d", i, resp.StatusCode)
		}
	}
	p.stop()
	log := p.log.String()
	next := 0
	for line := range strings.Lines(log) {
		if !strings.Contains(line, "msg=request") || !strings.Contains(line, "request_id=log-test-") {
			continue
		}
		if want := fmt.Sprintf("request_id=log-test-%d ", next); !strings.Contains(line, want) {
			t.Fatalf("request line %q where %q was next:\n%s", line, want, log)
		}
		next++
	}
	if next != requests {
		t.Fatalf("%d of %d request lines reached stderr:\n%s", next, requests, log)
	}
	last := strings.LastIndex(log, "request_id=log-test-")
	if shutdown := strings.Index(log, `msg="shutting down"`); shutdown < last {
		t.Errorf("no shutdown line after the request lines:\n%s", log)
	}
}
