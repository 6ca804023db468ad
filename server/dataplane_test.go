package server_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/embeddedplane"
	"github.com/devapi-dev/devapi/gen"
	"github.com/devapi-dev/devapi/internal/app"
	"github.com/devapi-dev/devapi/internal/portclaim"
	"github.com/devapi-dev/devapi/internal/redistest"
	"github.com/devapi-dev/devapi/internal/tlsca"
	"github.com/devapi-dev/devapi/redisserverplane"
	"github.com/devapi-dev/devapi/server"
	"github.com/devapi-dev/devapi/sqlitestore"
)

const (
	email  = "planes@example.com"
	apiKey = "planes-api-key-0123456789abcdef"
)

// planeEnv is what a stack opens its plane with.
type planeEnv struct {
	dir   string // the plane's own directory, kept across a restart of the stack
	cfg   devapi.PlaneConfig
	store *sqlitestore.Store // the stack's store, a devapi.PoolStore
	ca    *tlsca.CA          // the stack's CA, which issued cfg.TLS
}

// planeKind opens one kind of data plane.
type planeKind struct {
	name string
	// persistent: keys outlive a restart of devapi, and the plane accounts
	// memory (a real redis-server).
	persistent bool
	// pool: a poolplane, which places each database on a server of its
	// pool instead of a port of devapi's range.
	pool bool
	open func(t *testing.T, env planeEnv) devapi.Plane
}

// planeKinds are the planes every data-plane test runs on. redis-server and
// the pool are skipped when the binary is missing, except in CI where it
// must be there.
func planeKinds(t *testing.T) []planeKind {
	kinds := []planeKind{{
		name: "embedded",
		open: func(_ *testing.T, env planeEnv) devapi.Plane { return embeddedplane.New(env.cfg) },
	}}
	if !haveRedisServer(t) {
		t.Log("redis-server not installed: skipping the redis-server and pool planes (install it with apt-get install redis-server)")
		return kinds
	}
	return append(kinds, planeKind{
		name:       "redis-server",
		persistent: true,
		open: func(t *testing.T, env planeEnv) devapi.Plane {
			p, err := redisserverplane.Open(t.Context(), redisserverplane.Config{Dir: env.dir, PlaneConfig: env.cfg})
			if err != nil {
				t.Fatalf("open redis-server plane: %v", err)
			}
			return p
		},
	}, poolKind(defaultPoolSize))
}

// haveRedisServer reports whether redis-server is installed; under CI=true
// it must be.
func haveRedisServer(tb testing.TB) bool {
	tb.Helper()
	return redistest.Installed(tb)
}

// stack is a real devapi, assembled by internal/app: SQLite store, a plane,
// the HTTP server.
type stack struct {
	t      *testing.T
	kind   planeKind
	dir    string
	app    *app.App
	ports  server.PortRange // the database ports, but on a pool
	store  *sqlitestore.Store
	plane  devapi.Plane
	srv    *server.Server
	ca     *tlsca.CA
	client *gen.ClientWithResponses
}

// newStack starts a stack on dir; configure, if any, adjusts the server's
// Config (its Store and Plane included) before the server is made.
func newStack(t *testing.T, kind planeKind, dir string, configure ...func(*server.Config)) *stack {
	t.Helper()
	lo, hi := redistest.Ports(t, 100)
	ports := server.PortRange{Min: lo, Max: hi}
	a, err := app.Open(t.Context(), app.Config{
		Dir:   dir,
		Setup: app.Accounts("test", map[string]string{email: apiKey}),
		Plane: app.PlaneConfig{Open: func(_ context.Context, env app.PlaneEnv) (devapi.Plane, error) {
			return kind.open(t, planeEnv{dir: filepath.Join(dir, "redis"), cfg: env.Config, store: env.Store.(*sqlitestore.Store), ca: env.CA}), nil
		}},
		Server: server.Config{Ports: ports},
		ConfigureServer: func(cfg *server.Config) {
			for _, c := range configure {
				c(cfg)
			}
		},
		// The tests run repairs, samples and backups themselves.
		ManualJobs: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	client, err := gen.NewClientWithResponses(a.APIURL()+"/v2", gen.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
		req.SetBasicAuth(email, apiKey)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{t: t, kind: kind, dir: dir, app: a, ports: ports, store: a.Store().(*sqlitestore.Store), plane: a.Plane(), srv: a.Server(), ca: a.CA(), client: client}
	t.Cleanup(s.stop)
	return s
}

// stop shuts the stack down as a clean devapi exit does.
func (s *stack) stop() {
	if err := s.app.Close(); err != nil {
		s.t.Errorf("close the stack: %v", err)
	}
}

func (s *stack) create(name string, tlsOn bool) gen.Database {
	s.t.Helper()
	resp, err := s.client.CreateDatabaseWithResponse(s.t.Context(), createBody(name, tlsOn))
	if err != nil || resp.JSON200 == nil {
		s.t.Fatalf("create: %v, %d %s", err, resp.StatusCode(), resp.Body)
	}
	return *resp.JSON200
}

// createBody asks for a database in us-east-1.
func createBody(name string, tlsOn bool) gen.CreateDatabaseJSONRequestBody {
	return gen.CreateDatabaseJSONRequestBody{
		DatabaseName: &name, PrimaryRegion: ptr(gen.CreateDatabaseRequestPrimaryRegionUsEast1), Tls: &tlsOn,
	}
}

func (s *stack) reset(id string) gen.DatabaseWithCredentials {
	s.t.Helper()
	resp, err := s.client.ResetPasswordWithResponse(s.t.Context(), id)
	if err != nil || resp.JSON200 == nil {
		s.t.Fatalf("reset: %v, %d %s", err, resp.StatusCode(), resp.Body)
	}
	return *resp.JSON200
}

// connect dials a database the way a user would, from the answer's
// endpoint, port and password, over TLS when the answer says tls.
func (s *stack) connect(db gen.Database, password string) *redis.Client {
	s.t.Helper()
	scheme := "redis"
	if db.Tls {
		scheme = "rediss"
	}
	opt, err := redis.ParseURL(fmt.Sprintf("%s://default:%s@%s:%d", scheme, password, db.Endpoint, db.Port))
	if err != nil {
		s.t.Fatal(err)
	}
	if db.Tls {
		opt.TLSConfig = &tls.Config{RootCAs: s.ca.Pool(), ServerName: db.Endpoint, MinVersion: tls.VersionTLS12}
	}
	opt.MaxRetries = -1
	c := redis.NewClient(opt)
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

func ptr[T any](v T) *T { return &v }

func authRefused(err error) bool {
	return redis.IsAuthError(err)
}

func TestDatabasesAreRealRedis(t *testing.T) {
	for _, kind := range planeKinds(t) {
		t.Run(kind.name, func(t *testing.T) {
			s := newStack(t, kind, t.TempDir())
			ctx := t.Context()
			// On a pool the server decides TLS, whatever the create asks:
			// poolKind's first server is plain, its second TLS, so the
			// creates ask for what they get.
			for _, tlsOn := range []bool{false, true} {
				db := s.create(fmt.Sprintf("tls-%v", tlsOn), tlsOn)
				lo, hi := int64(s.ports.Min), int64(s.ports.Max)
				if kind.pool {
					lo, hi = portclaim.Min, portclaim.Max // the pool's servers' ports
				}
				if db.Endpoint != "127.0.0.1" || db.Port < lo || db.Port > hi {
					t.Errorf("endpoint %s:%d is not the advertised host and a port of %d-%d", db.Endpoint, db.Port, lo, hi)
				}
				if db.Tls != tlsOn {
					t.Errorf("created with tls=%v, answered tls=%v", tlsOn, db.Tls)
				}
				c := s.connect(db, *db.Password)
				if err := c.Set(ctx, "session", "abc", 400*time.Millisecond).Err(); err != nil {
					t.Fatalf("tls=%v: SET with the created password: %v", tlsOn, err)
				}
				if err := c.Set(ctx, "kept", "yes", 0).Err(); err != nil {
					t.Fatal(err)
				}
				deadline := time.Now().Add(10 * time.Second)
				for c.Exists(ctx, "session").Val() == 1 {
					if time.Now().After(deadline) {
						t.Fatalf("tls=%v: a 400ms TTL did not expire in 10s", tlsOn)
					}
					time.Sleep(50 * time.Millisecond)
				}

				reset := s.reset(db.DatabaseId)
				if err := s.connect(db, *db.Password).Ping(ctx).Err(); !authRefused(err) {
					t.Errorf("tls=%v: old password after reset: %v, want an auth error", tlsOn, err)
				}
				nc := s.connect(db, reset.Password)
				if got, err := nc.Get(ctx, "kept").Result(); err != nil || got != "yes" {
					t.Errorf("tls=%v: key after reset with the new password: %q, %v", tlsOn, got, err)
				}
			}
		})
	}
}

func TestOverlappingResetsPlaneMatchesStore(t *testing.T) {
	for _, kind := range planeKinds(t) {
		t.Run(kind.name, func(t *testing.T) {
			s := newStack(t, kind, t.TempDir())
			db := s.create("race", false)
			const n = 50
			var wg sync.WaitGroup
			for range n {
				wg.Go(func() {
					resp, err := s.client.ResetPasswordWithResponse(context.Background(), db.DatabaseId)
					if err != nil || resp.JSON200 == nil {
						t.Errorf("reset: %v", err)
					}
				})
			}
			wg.Wait()
			stored, err := s.store.Database(t.Context(), email, db.DatabaseId)
			if err != nil {
				t.Fatal(err)
			}
			if stored.Generation != 1+n {
				t.Errorf("stored generation %d, want %d", stored.Generation, 1+n)
			}
			st, err := s.plane.Status(t.Context(), db.DatabaseId)
			if err != nil || st.Generation != stored.Generation {
				t.Errorf("plane generation %d (%v), store %d", st.Generation, err, stored.Generation)
			}
			if err := s.connect(db, stored.Password).Ping(t.Context()).Err(); err != nil {
				t.Errorf("the stored password is refused by the plane: %v", err)
			}
		})
	}
}

func TestDeleteFreesPort(t *testing.T) {
	for _, kind := range planeKinds(t) {
		t.Run(kind.name, func(t *testing.T) {
			s := newStack(t, kind, t.TempDir())
			ctx := t.Context()
			db := s.create("doomed", true)
			if err := s.connect(db, *db.Password).Set(ctx, "k", "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
			resp, err := s.client.DeleteDatabaseWithResponse(ctx, db.DatabaseId)
			if err != nil || resp.StatusCode() != 200 {
				t.Fatalf("delete: %v %d", err, resp.StatusCode())
			}
			if ids, err := s.plane.Databases(ctx); err != nil || len(ids) != 0 {
				t.Errorf("plane still holds %v (%v)", ids, err)
			}
			if !kind.pool {
				ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", db.Port))
				if err != nil {
					t.Fatalf("port %d still taken after delete: %v", db.Port, err)
				}
				_ = ln.Close()
				return
			}
			// A pool server keeps running: it goes back to the pool with
			// the password off and no keys, and the next create gets it.
			if err := s.connect(db, *db.Password).Ping(ctx).Err(); !authRefused(err) {
				t.Errorf("the deleted database's password: %v, want an auth error", err)
			}
			next := s.create("next", true)
			if next.Endpoint != db.Endpoint || next.Port != db.Port {
				t.Fatalf("the next create got %s:%d, want the freed %s:%d", next.Endpoint, next.Port, db.Endpoint, db.Port)
			}
			if n, err := s.connect(next, *next.Password).DBSize(ctx).Result(); err != nil || n != 0 {
				t.Errorf("the freed server holds %d keys (%v) for the next database, want 0", n, err)
			}
		})
	}
}

func TestRestartServesStoredPasswordOnSamePort(t *testing.T) {
	for _, kind := range planeKinds(t) {
		t.Run(kind.name, func(t *testing.T) {
			dir := t.TempDir()
			s := newStack(t, kind, dir)
			db := s.create("durable", true)
			reset := s.reset(db.DatabaseId)
			if err := s.connect(db, reset.Password).Set(t.Context(), "survivor", "yes", 0).Err(); err != nil {
				t.Fatal(err)
			}
			s.stop()

			s = newStack(t, kind, dir)
			c := s.connect(db, reset.Password)
			got, err := c.Get(t.Context(), "survivor").Result()
			switch {
			case kind.persistent && (err != nil || got != "yes"):
				t.Errorf("key after restart: %q, %v", got, err)
			case !kind.persistent && !errors.Is(err, redis.Nil):
				t.Errorf("after restart: %q, %v; want the stored password accepted and no keys (in memory)", got, err)
			}
			if err := s.connect(db, *db.Password).Ping(t.Context()).Err(); !authRefused(err) {
				t.Errorf("the password before the reset works after restart: %v", err)
			}
		})
	}
}

// TestEnableTLSSwitchesTheRedis: after enable-tls the same port speaks TLS
// only, with the same password and keys. A pool server speaks TLS or not
// as its operator configured it: there enable-tls answers 400, saying so,
// and the database goes on as it was.
func TestEnableTLSSwitchesTheRedis(t *testing.T) {
	for _, kind := range planeKinds(t) {
		t.Run(kind.name, func(t *testing.T) {
			s := newStack(t, kind, t.TempDir())
			db := s.create("plain", false)
			ctx := t.Context()
			if err := s.connect(db, *db.Password).Set(ctx, "k", "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
			resp, err := s.client.EnableTlsWithResponse(ctx, db.DatabaseId)
			if kind.pool {
				if err != nil || resp.StatusCode() != 400 || !strings.Contains(string(resp.Body), "plain TCP only") {
					t.Fatalf("enable-tls on a plain pool server: %v %d %s; want 400 saying the server speaks plain TCP only", err, resp.StatusCode(), resp.Body)
				}
				if got, err := s.connect(db, *db.Password).Get(ctx, "k").Result(); err != nil || got != "v" {
					t.Errorf("plain TCP after the refused enable-tls: %q, %v", got, err)
				}
				return // that it changes nothing else: TestPoolRefusedEnableTLSChangesNothing
			}
			if err != nil || resp.JSON200 == nil || !resp.JSON200.Tls || resp.JSON200.Port != db.Port {
				t.Fatalf("enable-tls: %v %s", err, resp.Body)
			}
			if err := s.connect(db, *db.Password).Ping(ctx).Err(); err == nil {
				t.Errorf("plain TCP still answers after enable-tls")
			}
			// Both planes keep the keys: the embedded one moves its miniredis
			// to a TLS listener, redis-server restarts from its AOF.
			if got, err := s.connect(*resp.JSON200, *db.Password).Get(ctx, "k").Result(); err != nil || got != "v" {
				t.Errorf("over TLS after enable-tls: %q, %v", got, err)
			}
		})
	}
}

// TestPlanMemoryLimitAndEvictionEnforced fills a redis-server database on the
// fixed_250mb plan: without eviction writes fail with OOM near 250 MB; after
// enable-eviction they succeed again because old keys are evicted.
func TestPlanMemoryLimitAndEvictionEnforced(t *testing.T) {
	for _, kind := range planeKinds(t) {
		if !kind.persistent {
			continue // miniredis has no memory accounting: recorded only (README)
		}
		t.Run(kind.name, func(t *testing.T) {
			s := newStack(t, kind, t.TempDir())
			ctx := t.Context()
			db := s.create("small", false)
			plan, err := s.client.ChangePlanWithResponse(ctx, db.DatabaseId, gen.ChangePlanJSONRequestBody{PlanName: gen.Fixed250mb})
			if err != nil || plan.StatusCode() != 200 {
				t.Fatalf("change-plan: %v %s", err, plan.Body)
			}
			c := s.connect(db, *db.Password)
			value := strings.Repeat("x", 1<<20)
			const most = 400 // 400 MB: well past the plan's 250 MB
			written := 0
			var oom error
			for ; written < most; written++ {
				if err := c.Set(ctx, fmt.Sprint("k", written), value, 0).Err(); err != nil {
					oom = err
					break
				}
			}
			if oom == nil || !strings.Contains(oom.Error(), "OOM") || written < 150 {
				t.Fatalf("after %d MB: %v; want OOM between 150 and 250 MB (allocator overhead counts)", written, oom)
			}
			ev, err := s.client.EnableEvictionWithResponse(ctx, db.DatabaseId)
			if err != nil || ev.StatusCode() != 200 {
				t.Fatalf("enable-eviction: %v %s", err, ev.Body)
			}
			for i := range 50 {
				if err := c.Set(ctx, fmt.Sprint("new", i), value, 0).Err(); err != nil {
					t.Fatalf("write %d after enable-eviction: %v", i, err)
				}
			}
			// 50 more 1 MB values fit only because about as many keys went.
			if n := c.DBSize(ctx).Val(); n > int64(written)+10 {
				t.Errorf("%d keys after %d + 50 writes: nothing was evicted", n, written)
			}
		})
	}
}
