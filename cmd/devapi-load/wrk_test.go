package main

import (
	"strings"
	"testing"
	"time"
)

// wrkOutput is wrk 4.1's --latency output, as it prints it.
const wrkOutput = `Running 5s test @ http://127.0.0.1:40000
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.02ms    1.10ms  23.46ms   91.02%
    Req/Sec     8.51k     1.02k   10.33k    70.00%
  Latency Distribution
     50%  635.00us
     75%    1.01ms
     90%    1.67ms
     99%    4.57s
  84708 requests in 5.00s, 142.12MB read
  Non-2xx or 3xx responses: 12
Requests/sec:  16932.51
Transfer/sec:     28.41MB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(strings.NewReader(wrkOutput))
	if err != nil {
		t.Fatal(err)
	}
	if r.perSec != 16932.51 || r.p50 != 635*time.Microsecond || r.p99 != 4570*time.Millisecond || r.requests != 84708 || r.non2xx != 12 {
		t.Errorf("parseWrk = %+v", r)
	}
	if _, err := parseWrk(strings.NewReader("wrk: connection refused\n")); err == nil {
		t.Error("output without Requests/sec parsed")
	}
}
