package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/app"
	"github.com/devapi-dev/devapi/internal/cputime"
	"github.com/devapi-dev/devapi/internal/redistest"
	"github.com/devapi-dev/devapi/server"
)

// noCommitStore is the baseline of BenchmarkResetPassword: the real store
// for everything but SetCredentials, which answers without writing.
type noCommitStore struct{ devapi.Store }

func (s noCommitStore) SetCredentials(ctx context.Context, owner, id string, c devapi.Credentials) (*devapi.Database, error) {
	d, err := s.Database(ctx, owner, id)
	if err != nil {
		return nil, err
	}
	c.Generation = d.Generation + 1
	d.Credentials = c
	return d, nil
}

// SetCredentialsAsKey is SetCredentials: the benchmark's key is valid.
func (s noCommitStore) SetCredentialsAsKey(ctx context.Context, owner, _, id string, c devapi.Credentials) (*devapi.Database, error) {
	return s.SetCredentials(ctx, owner, id, c)
}

// memoryStore is the real store for everything but the reset, which it
// answers from a copy of the database read once, without a store call:
// what is left is devapi's own work per reset (HTTP aside), the handler
// chain and the plane's password change.
type memoryStore struct {
	devapi.Store
	mu  sync.Mutex
	dbs map[string]*devapi.Database
}

func (s *memoryStore) SetCredentials(ctx context.Context, owner, id string, c devapi.Credentials) (*devapi.Database, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.dbs[id]
	if !ok {
		var err error
		if d, err = s.Database(ctx, owner, id); err != nil {
			return nil, err
		}
		s.dbs[id] = d
	}
	c.Generation = d.Generation + 1
	d.Credentials = c
	out := *d
	return &out, nil
}

func (s *memoryStore) SetCredentialsAsKey(ctx context.Context, owner, _, id string, c devapi.Credentials) (*devapi.Database, error) {
	return s.SetCredentials(ctx, owner, id, c)
}

// unlimited is an account request limit no benchmark reaches: the
// buckets' work stays in what is measured, their 429s do not.
var unlimited = server.RateLimit{PerSecond: 1e9, Burst: 1 << 30}

// BenchmarkResetPassword measures POST /v2/redis/reset-password/{id}
// through the whole in-process stack: routing, auth, validation, the store
// commit (SQLite, WAL, synchronous=FULL) and JSON. "no-commit" is the same
// stack with the commit left out; the difference is the cost of durability.
// "memory" answers the reset from memory, without the store: what is left
// is devapi's handler chain and the plane.
// The "-16" cases send from 16 goroutines at once (round robin over 16
// databases), where the store's group commit shares fsyncs among requests.
func BenchmarkResetPassword(b *testing.B) {
	for _, bc := range []struct {
		name     string
		wrap     func(devapi.Store) devapi.Store
		parallel bool
	}{
		{"commit", func(s devapi.Store) devapi.Store { return s }, false},
		{"no-commit", func(s devapi.Store) devapi.Store { return noCommitStore{s} }, false},
		{"memory", func(s devapi.Store) devapi.Store { return &memoryStore{Store: s, dbs: map[string]*devapi.Database{}} }, false},
		{"commit-16", func(s devapi.Store) devapi.Store { return s }, true},
		{"no-commit-16", func(s devapi.Store) devapi.Store { return noCommitStore{s} }, true},
		{"memory-16", func(s devapi.Store) devapi.Store { return &memoryStore{Store: s, dbs: map[string]*devapi.Database{}} }, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			const email, key = "bench@example.com", "bench-key"
			lo, hi := redistest.Ports(b, 50)
			a, err := app.Open(b.Context(), app.Config{
				Dir:             b.TempDir(),
				Setup:           app.Accounts("bench", map[string]string{email: key}),
				Server:          server.Config{Ports: server.PortRange{Min: lo, Max: hi}, AccountRequests: unlimited},
				ConfigureServer: func(cfg *server.Config) { cfg.Store = bc.wrap(cfg.Store) },
				ManualJobs:      true,
			})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = a.Close() })
			h := a.Handler()
			const dbs = 16
			var paths []string
			for range dbs {
				create := httptest.NewRequest(http.MethodPost, "/v2/redis/database", strings.NewReader(`{"database_name":"bench","primary_region":"us-east-1","tls":false}`))
				create.SetBasicAuth(email, key)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, create)
				var db struct {
					ID string `json:"database_id"`
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &db); rec.Code != http.StatusOK || err != nil {
					b.Fatalf("create: %d %s", rec.Code, rec.Body)
				}
				paths = append(paths, "/v2/redis/reset-password/"+db.ID)
			}
			reset := func(path string) bool {
				req := httptest.NewRequest(http.MethodPost, path, nil)
				req.SetBasicAuth(email, key)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Errorf("status %d: %s", rec.Code, rec.Body)
					return false
				}
				return true
			}
			b.ReportAllocs()
			// The process's CPU time per reset, the figure devapi-load
			// reports: on a busy machine it varies less than ns/op.
			cpu0, cpuOK := cputime.Process()
			defer func() {
				if cpu1, ok := cputime.Process(); cpuOK && ok && b.N > 0 {
					b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/1e3/float64(b.N), "cpu-µs/op")
				}
			}()
			if !bc.parallel {
				for b.Loop() {
					if !reset(paths[0]) {
						return
					}
				}
				return
			}
			var next atomic.Int64
			b.SetParallelism(8) // 8 x GOMAXPROCS(2) = 16 goroutines here
			b.ResetTimer()
			cpu0, cpuOK = cputime.Process()
			b.RunParallel(func(pb *testing.PB) {
				path := paths[next.Add(1)%dbs]
				for pb.Next() {
					if !reset(path) {
						return
					}
				}
			})
		})
	}
}
