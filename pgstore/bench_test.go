package pgstore

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/cputime"
)

// BenchmarkSetCredentials measures resets through the store alone: 2 or 16
// goroutines (as devapi-load's connections) reset 16 databases round robin,
// each on behalf of an API key (SetCredentialsAsKey, what the server calls).
// Besides the time per reset it reports the CPU per reset of this process
// (devapi-cpu-µs/op) and, when PostgreSQL runs on this machine and its
// processes are readable in /proc, of PostgreSQL's processes for the
// benchmark's database and its background workers (pg-cpu-µs/op), and the
// mean resets per batch.
//
//	go test ./pgstore -run '^$' -bench SetCredentials -benchtime 5s
func BenchmarkSetCredentials(b *testing.B) {
	for _, conns := range []int{2, 16} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) { benchmarkSetCredentials(b, conns) })
	}
}

func benchmarkSetCredentials(b *testing.B, conns int) {
	const dbs = 16
	ids := make([]string, dbs)
	for i := range ids {
		ids[i] = fmt.Sprintf("db-%02d", i)
	}
	s := openWithDatabases(b, ids...)
	const owner = "owner@example.com"
	key := &devapi.APIKey{ID: "key-1", Email: owner, Name: "bench", Hash: "hash-of-key-1", CreatedAt: t0}
	if err := s.AddAPIKey(b.Context(), key); err != nil {
		b.Fatal(err)
	}
	pids := pgPIDs(b, s)
	b.ReportAllocs()
	cpu0, cpuOK := cputime.Process()
	pg0 := pgCPU(pids)
	batches0, resets0 := s.creds.batches.Load(), s.creds.resets.Load()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range conns {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				// Real-shaped credentials: the row's size is what a reset writes.
				id := ids[i%dbs]
				c := devapi.Credentials{Password: devapi.NewPassword()}
				c.RestToken, c.ReadOnlyRestToken = devapi.NewRestTokens(id, 6379, c.Password)
				if _, err := s.SetCredentialsAsKey(b.Context(), owner, key.Hash, id, c); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	n := float64(b.N)
	if cpu, ok := cputime.Process(); ok && cpuOK {
		b.ReportMetric(float64((cpu-cpu0).Microseconds())/n, "devapi-cpu-µs/op")
	}
	if pg := pgCPU(pids); pg >= 0 && pg0 >= 0 {
		b.ReportMetric(float64((pg-pg0).Microseconds())/n, "pg-cpu-µs/op")
	}
	if batches := s.creds.batches.Load() - batches0; batches > 0 {
		b.ReportMetric(float64(s.creds.resets.Load()-resets0)/float64(batches), "resets/batch")
	}
}

// pgPIDs returns the processes of the PostgreSQL server that work for s's
// database (its backends, once the pool holds all its connections) or for
// every database (the WAL writer, the checkpointer, ...). Autovacuum workers
// come and go and are not counted.
func pgPIDs(tb testing.TB, s *Store) []int {
	tb.Helper()
	conns := make([]interface{ Release() }, 0, defaultMaxConns)
	for range int(s.pool.Config().MaxConns) {
		c, err := s.pool.Acquire(tb.Context())
		if err != nil {
			tb.Fatal(err)
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		c.Release()
	}
	rows, err := s.pool.Query(tb.Context(),
		`SELECT pid FROM pg_stat_activity WHERE datname = current_database() OR (datname IS NULL AND backend_type <> 'autovacuum worker')`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var pids []int
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			tb.Fatal(err)
		}
		pids = append(pids, pid)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return pids
}

// pgCPU sums the CPU time of pids from /proc, or returns -1 when one of
// them cannot be read (PostgreSQL on another machine, or another user's).
func pgCPU(pids []int) time.Duration {
	const tick = time.Second / 100 // USER_HZ on Linux
	var sum time.Duration
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return -1
		}
		// The fields after the command, which is in parentheses and may
		// hold spaces: state is field 3, utime 14, stime 15.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) < 13 {
			return -1
		}
		u, err1 := strconv.ParseInt(f[11], 10, 64)
		st, err2 := strconv.ParseInt(f[12], 10, 64)
		if err1 != nil || err2 != nil {
			return -1
		}
		sum += time.Duration(u+st) * tick
	}
	return sum
}
