//go:build unix

package server_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/embeddedplane"
	"github.com/devapi-dev/devapi/server"
	"github.com/devapi-dev/devapi/sqlitestore"
)

// scalePorts is the port range of BenchmarkScale: no test uses it. It lies
// inside Linux's default ephemeral range (32768-60999), so another process's
// connections (TIME_WAIT included) may hold some of its ports: seeding and
// creates skip those, and a port taken after seeding leaves its database
// unserved (counted in unserved/op). Below 32768 no free span of 10,000
// ports is left to take.
var scalePorts = server.PortRange{Min: 33000, Max: 43999}

// Accounts of BenchmarkScale: "all" owns the N databases of the size, "few"
// owns scaleFewDBs of its own.
const (
	scaleAll, scaleAllKey = "all@example.com", "all-key"
	scaleFew, scaleFewKey = "few@example.com", "few-key"
	scaleFewDBs           = 10
)

// BenchmarkScale measures how the embedded default (SQLite store, one
// miniredis per database) costs as the number of databases grows. For each
// size N, one account owns N databases and another owns 10:
//
//   - serve: start-up reconciliation serving all N+10 databases on a fresh
//     plane; reports the plane's memory per database (B/db: HeapInuse after
//     GC, sys-B/db: Sys), open files and goroutines per database, and the
//     heap the first stats sample adds per database (stats-B/db);
//     unserved/op counts databases whose port another process took after
//     seeding (scalePorts lies in the ephemeral range).
//   - reset-password (and reset-password-no-commit, without the store's
//     commit), list-few (the account with 10), list-all (the
//     account with N), create (create-database; the database is deleted
//     again outside the timer, so the size stays N): requests through the
//     real handler, each with its durable commit where it has one.
//   - sample-stats: one SampleStats pass over every database: its time per
//     database, and the heap each kept sample adds (B/db/sample).
//
// Most databases are seeded with one SQL transaction straight into the
// store's file (a create through the API is a durable commit each), then
// served by Reconcile; the measured operations all go through the handler.
func BenchmarkScale(b *testing.B) {
	sizes := []int{10, 1_000, 10_000}
	raiseOpenFiles(b)
	for _, n := range sizes {
		b.Run("dbs="+strconv.Itoa(n), func(b *testing.B) { benchmarkScale(b, n) })
	}
}

func benchmarkScale(b *testing.B, n int) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(err)
	}
	// One listener per database, plus the store, the create, and slack.
	if need := uint64(n + scaleFewDBs + 256); lim.Cur < need {
		b.Skipf("open-files limit is %d, %d databases need about %d: raise the hard limit (ulimit -Hn)", lim.Cur, n, need)
	}
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "devapi.db")
	store, err := sqlitestore.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close() })
	for _, a := range [][2]string{{scaleAll, scaleAllKey}, {scaleFew, scaleFewKey}} {
		if _, err := devapi.EnsureAPIKey(ctx, store, a[0], a[1], "bench", time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	ids := seedDatabases(b, path, n)
	total := n + scaleFewDBs
	// The servers' warnings and errors, shown if the benchmark fails.
	logs := new(syncBuffer)
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	b.Cleanup(func() {
		if b.Failed() {
			b.Logf("server log:\n%s", logs)
		}
	})

	b.Run("serve", func(b *testing.B) {
		var heap, sys, fds, goroutines, stats, served float64
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			plane := embeddedplane.New(devapi.PlaneConfig{})
			srv, err := server.New(server.Config{Store: store, Plane: plane, Ports: scalePorts, Logger: logger})
			if err != nil {
				b.Fatal(err)
			}
			before := measure()
			b.StartTimer()
			if err := srv.Reconcile(ctx); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			after := measure()
			if err := srv.SampleStats(ctx); err != nil {
				b.Fatal(err)
			}
			sampled := measure()
			// Fewer than total when another process took a port since
			// seeding (Reconcile logs it and serves the others).
			ids, err := plane.Databases(ctx)
			if err != nil {
				b.Fatal(err)
			}
			served += float64(len(ids))
			heap += float64(after.heap) - float64(before.heap)
			sys += float64(after.sys) - float64(before.sys)
			fds += float64(after.fds - before.fds)
			goroutines += float64(after.goroutines - before.goroutines)
			stats += float64(sampled.heap) - float64(after.heap)
			_ = plane.Close()
			runtime.KeepAlive(srv)
			b.StartTimer()
		}
		per := served
		b.ReportMetric((float64(b.N*total)-served)/float64(b.N), "unserved/op")
		b.ReportMetric(heap/per, "B/db")
		b.ReportMetric(sys/per, "sys-B/db")
		b.ReportMetric(fds/per, "fds/db")
		b.ReportMetric(goroutines/per, "goroutines/db")
		b.ReportMetric(stats/per, "stats-B/db")
	})

	plane := embeddedplane.New(devapi.PlaneConfig{})
	b.Cleanup(func() { _ = plane.Close() })
	srv, err := server.New(server.Config{Store: store, Plane: plane, Ports: scalePorts, Logger: logger, AccountRequests: unlimited})
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Reconcile(ctx); err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	// The database to reset: one in the middle that is served (a port
	// another process took since seeding leaves its database unserved).
	target := ids[len(ids)/2:]
	for len(target) > 1 {
		if _, err := plane.Status(ctx, target[0]); err == nil {
			break
		}
		target = target[1:]
	}

	// reset-password-no-commit is reset-password with the store's commit
	// left out (noCommitStore): what is left when the disk's fsync, which
	// does not depend on the number of databases but varies, is taken away.
	noCommit, err := server.New(server.Config{Store: noCommitStore{store}, Plane: plane, Ports: scalePorts, AccountRequests: unlimited})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{
		{"reset-password", h},
		{"reset-password-no-commit", noCommit.Handler()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			path := "/v2/redis/reset-password/" + target[0]
			b.ReportAllocs()
			for b.Loop() {
				serve(b, bc.h, http.MethodPost, path, "", scaleAll, scaleAllKey)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
	}
	for _, bc := range []struct {
		name, email, key string
		want             int
	}{
		{"list-few", scaleFew, scaleFewKey, scaleFewDBs},
		{"list-all", scaleAll, scaleAllKey, n},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var list []json.RawMessage
			if err := json.Unmarshal(serve(b, h, http.MethodGet, "/v2/redis/databases", "", bc.email, bc.key), &list); err != nil || len(list) != bc.want {
				b.Fatalf("list: %d databases (%v), want %d", len(list), err, bc.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				serve(b, h, http.MethodGet, "/v2/redis/databases", "", bc.email, bc.key)
			}
		})
	}
	b.Run("create", func(b *testing.B) {
		const body = `{"database_name":"scale","primary_region":"us-east-1","tls":false}`
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			var db struct {
				ID string `json:"database_id"`
			}
			if err := json.Unmarshal(serve(b, h, http.MethodPost, "/v2/redis/database", body, scaleFew, scaleFewKey), &db); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			serve(b, h, http.MethodDelete, "/v2/redis/database/"+db.ID, "", scaleFew, scaleFewKey)
			b.StartTimer()
		}
	})
	b.Run("sample-stats", func(b *testing.B) {
		// Samples are kept for a week, one a minute: B/db/sample times
		// 10,080 is what the stats of a database come to. The first pass
		// makes what a database's first sample makes (stats-B/db of serve).
		if err := srv.SampleStats(ctx); err != nil {
			b.Fatal(err)
		}
		before := measure()
		b.ReportAllocs()
		for b.Loop() {
			if err := srv.SampleStats(ctx); err != nil {
				b.Fatal(err)
			}
		}
		after := measure()
		per := float64(b.N) * float64(total)
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/per, "ns/db")
		b.ReportMetric((float64(after.heap)-float64(before.heap))/per, "B/db/sample")
	})
}

// serve sends one request through h and returns the body of its 200 answer.
func serve(b *testing.B, h http.Handler, method, path, body, email, key string) []byte {
	b.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.SetBasicAuth(email, key)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
	}
	return rec.Body.Bytes()
}

// seedDatabases stores n databases of scaleAll and scaleFewDBs of scaleFew
// in one transaction on the store's file, on ports of scalePorts that are
// free now, and returns the ids of scaleAll's. The columns are the schema's
// (migrations 0001-0005).
func seedDatabases(b *testing.B, path string, n int) []string {
	b.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=foreign_keys(ON)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	stmt, err := tx.Prepare(`INSERT INTO databases (id, owner, name, platform, primary_region, read_regions, plan, budget,
		tls, eviction, auto_upgrade, prod_pack, state, endpoint, port, created_at,
		password, rest_token, read_only_rest_token, generation, daily_backup)
		VALUES (?, ?, ?, 'aws', 'us-east-1', '[]', 'payg', 20, 0, 0, 0, 0, 'active', '127.0.0.1', ?, ?, ?, ?, ?, 1, 0)`)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, 0, n)
	port := scalePorts.Min
	created := time.Now().UnixMicro()
	for i := range n + scaleFewDBs {
		for ; !portFree(port); port++ {
		}
		if port > scalePorts.Max {
			b.Fatalf("only %d free ports in %d-%d", i, scalePorts.Min, scalePorts.Max)
		}
		id, owner := uuid.NewString(), scaleAll
		if i >= n {
			owner = scaleFew
		} else {
			ids = append(ids, id)
		}
		password := devapi.NewPassword()
		full, readOnly := devapi.NewRestTokens(id, port, password)
		if _, err := stmt.Exec(id, owner, fmt.Sprintf("db%d", i), port, created+int64(i), password, full, readOnly); err != nil {
			b.Fatal(err)
		}
		port++
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	return ids
}

// portFree reports whether nothing listens on 127.0.0.1:port now.
func portFree(port int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = ln.Close()
	return true
}

// raiseOpenFiles raises the soft open-files limit to the hard one: every
// served database holds a listening socket.
func raiseOpenFiles(b *testing.B) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			b.Fatal(err)
		}
	}
}

// syncBuffer is a bytes.Buffer that the server's goroutines can write to.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// usage is a reading of the process's resources.
type usage struct {
	heap, sys       uint64
	fds, goroutines int
}

// measure collects garbage and reads the process's usage.
func measure() usage {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fds, _ := os.ReadDir("/proc/self/fd")
	return usage{heap: ms.HeapInuse, sys: ms.Sys, fds: len(fds), goroutines: runtime.NumGoroutine()}
}
