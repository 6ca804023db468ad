package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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

// TestDurableBaselineWritesEveryRecord loads the durable baseline: every
// answered request left its record in the log file, and the records went in
// batches.
func TestDurableBaselineWritesEveryRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "durable.log")
	l, err := openDurableLog(path)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(durableHandler(l, []byte(`{"ok":true}`), "application/json"))
	res := runLoad(t.Context(), loadConfig{
		baseURL: srv.URL, paths: []string{"/a"}, email: "e", key: "k",
		conns: 8, duration: time.Minute, maxRequests: 400,
	})
	srv.Close()
	if err := l.close(); err != nil {
		t.Fatal(err)
	}
	if res.requests != 400 || res.errors != 0 {
		t.Fatalf("requests %d, errors %d (%v); want 400, 0", res.requests, res.errors, res.firstErr)
	}
	commits, writes := l.GroupCommitStats()
	if writes != 400 || commits < 1 || commits > 400 {
		t.Errorf("GroupCommitStats = %d commits, %d writes; want 1..400, 400", commits, writes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) != durableLogSize {
		t.Errorf("log is %d bytes, want %d (records wrap inside it)", len(data), durableLogSize)
	}
	if n := bytes.Count(data, durableRecordBytes); n != 400 {
		t.Errorf("log holds %d records, want 400", n)
	}
}

// TestDurableBaselineFailsWhenTheWriteFails: a request whose record could
// not be written is not acknowledged.
func TestDurableBaselineFailsWhenTheWriteFails(t *testing.T) {
	l, err := openDurableLog(filepath.Join(t.TempDir(), "durable.log"))
	if err != nil {
		t.Fatal(err)
	}
	_ = l.f.Close() // every write from now on fails
	rec := httptest.NewRecorder()
	durableHandler(l, []byte(`{"ok":true}`), "application/json").ServeHTTP(rec, httptest.NewRequest("POST", "/a", nil))
	_ = l.close()
	if rec.Code != http.StatusInternalServerError || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("answer %d %q, want 500 application/json", rec.Code, rec.Header().Get("Content-Type"))
	}
}

// TestBaselinesBoundTheBody: both baselines read at most maxRequestBody of a
// request's body; past it they answer 413, and the durable one writes no
// record.
func TestBaselinesBoundTheBody(t *testing.T) {
	l, err := openDurableLog(filepath.Join(t.TempDir(), "durable.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.close() }()
	for name, h := range map[string]http.Handler{
		"baseline": baselineHandler([]byte(`{"ok":true}`), "application/json"),
		"durable":  durableHandler(l, []byte(`{"ok":true}`), "application/json"),
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/a", bytes.NewReader(make([]byte, maxRequestBody+1))))
		if rec.Code != http.StatusRequestEntityTooLarge || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s: answer %d %q to a body over the bound, want 413 application/json", name, rec.Code, rec.Header().Get("Content-Type"))
		}
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/a", bytes.NewReader(make([]byte, maxRequestBody))))
		if rec.Code != http.StatusOK {
			t.Errorf("%s: answer %d to a body at the bound, want 200", name, rec.Code)
		}
	}
	if _, writes := l.GroupCommitStats(); writes != 1 {
		t.Errorf("the durable baseline wrote %d records, want 1 (the body at the bound only)", writes)
	}
}

// TestDurableBatchIsBounded: a batch takes at most durableMaxBatch of the
// requests waiting, however many wait.
func TestDurableBatchIsBounded(t *testing.T) {
	l := &durableLog{reqs: make(chan chan error, durableMaxBatch+10)}
	for range durableMaxBatch + 10 {
		l.reqs <- make(chan error, 1)
	}
	if got := len(l.drain(nil)); got != durableMaxBatch {
		t.Errorf("drain took %d of %d waiting, want %d", got, durableMaxBatch+10, durableMaxBatch)
	}
	if got := len(l.reqs); got != 10 {
		t.Errorf("%d left waiting, want 10", got)
	}
}
