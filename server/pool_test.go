package server_test

import (
	"crypto/tls"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/redistest"
	"github.com/devapi-dev/devapi/poolplane"
)

// defaultPoolSize is the pool of the data-plane tests: enough for the
// creates of each.
const defaultPoolSize = 4

// poolAdmin is the ACL user the pool's servers give devapi.
const poolAdmin = "devapi-admin"

// poolKind is the pool plane on n redis-servers that the test starts, as an
// operator configures them: `default` off, an admin user, no persistence.
// They speak plain TCP and TLS in turn, a plain one first, so that a test's
// first database, which Place puts on the first server, is a plain one and
// its second a TLS one; the TLS ones serve a certificate of the stack's CA,
// as `devapi pool cert` issues. The servers of a stack's directory are
// started with its first plane and outlive it: a stack re-created on the
// same directory, as a restarted devapi, finds them with their keys and
// passwords. They are killed when the test ends.
func poolKind(n int) planeKind {
	var mu sync.Mutex
	pools := map[string]string{} // server list by plane directory
	return planeKind{
		name:       "pool",
		persistent: true,
		pool:       true,
		open: func(t *testing.T, env planeEnv) devapi.Plane {
			t.Helper()
			mu.Lock()
			list, ok := pools[env.dir]
			if !ok {
				list = startPool(t, n, env.cfg.TLS)
				pools[env.dir] = list
			}
			mu.Unlock()
			servers, err := poolplane.ParseServers(list)
			if err != nil {
				t.Fatal(err)
			}
			p, err := poolplane.Open(t.Context(), poolplane.Config{Servers: servers, Store: env.store, RootCAs: env.ca.Pool()})
			if err != nil {
				t.Fatalf("open pool plane: %v", err)
			}
			return p
		},
	}
}

// startPool starts n redis-servers and returns their server list, one URL
// a line, as --pool-file holds it.
func startPool(t *testing.T, n int, tlsCfg *tls.Config) string {
	t.Helper()
	var urls []string
	for i := range n {
		var serverTLS *tls.Config
		if i%2 == 1 {
			serverTLS = tlsCfg
		}
		urls = append(urls, startPoolServer(t, serverTLS))
	}
	return "# the test's Redis pool\n" + strings.Join(urls, "\n") + "\n"
}

// startPoolServer runs one redis-server (internal/redistest) as an
// operator sets up a pool server, TLS only with tlsCfg's certificate if
// tlsCfg is not nil, and returns its URL with the admin user.
func startPoolServer(t *testing.T, tlsCfg *tls.Config) string {
	t.Helper()
	return redistest.Start(t, redistest.Options{TLS: tlsCfg, Admin: poolAdmin}).URL()
}

// newPoolStack is a stack on a pool of n servers; it skips without
// redis-server, except under CI=true.
func newPoolStack(t *testing.T, n int) *stack {
	t.Helper()
	if !haveRedisServer(t) {
		t.Skip("redis-server not installed: skipping the pool plane (install it with apt-get install redis-server)")
	}
	return newStack(t, poolKind(n), t.TempDir())
}

// poolServerOf returns the pool server ("host:port") id holds, or "" if it
// holds none.
func (s *stack) poolServerOf(id string) string {
	s.t.Helper()
	as, err := s.store.PoolAssignments(s.t.Context())
	if err != nil {
		s.t.Fatal(err)
	}
	return as[id].Server
}

// TestPoolFullIsABadRequest: a create beyond the pool's size answers 400,
// saying the pool is full, and stores nothing; a delete makes room again.
func TestPoolFullIsABadRequest(t *testing.T) {
	s := newPoolStack(t, 2)
	ctx := t.Context()
	first := s.create("one", false)
	s.create("two", true)
	resp, err := s.client.CreateDatabaseWithResponse(ctx, createBody("three", false))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode() != 400 || !strings.Contains(string(resp.Body), "pool is full") {
		t.Errorf("create beyond the pool: %d %s; want 400 saying the pool is full", resp.StatusCode(), resp.Body)
	}
	dbs, err := s.store.AllDatabases(ctx)
	if err != nil || len(dbs) != 2 {
		t.Errorf("store holds %d databases (%v) after the refused create, want 2", len(dbs), err)
	}
	if as, err := s.store.PoolAssignments(ctx); err != nil || len(as) != 2 {
		t.Errorf("pool assignments after the refused create: %v (%v), want 2", as, err)
	}

	if del, err := s.client.DeleteDatabaseWithResponse(ctx, first.DatabaseId); err != nil || del.StatusCode() != 200 {
		t.Fatalf("delete: %v", err)
	}
	again := s.create("three", false)
	if again.Endpoint != first.Endpoint || again.Port != first.Port {
		t.Errorf("after a delete the create got %s:%d, want the freed %s:%d", again.Endpoint, again.Port, first.Endpoint, first.Port)
	}
}

// TestReconcileFreesAPoolPlaceOrphanedTwice: Reconcile frees a place that
// the store does not have only when this server's previous Reconcile found
// it orphaned too, since another replica's create places its database
// before it stores it. (The store holds a database throughout: one that
// holds none frees nothing, see TestReconcileKeepsPoolPlacesOfAnEmptyStore.)
func TestReconcileFreesAPoolPlaceOrphanedTwice(t *testing.T) {
	t.Run("PlacedNotStored", func(t *testing.T) {
		s := newPoolStack(t, defaultPoolSize) // newStack reconciled once already, before the place
		ctx := t.Context()
		s.create("keeper", false)
		placer := s.plane.(devapi.Placer)
		// Another replica's create, between its Place and its store.
		placed, err := placer.Place(ctx, "in-flight", false)
		if err != nil {
			t.Fatal(err)
		}
		server := s.poolServerOf("in-flight")
		if server == "" {
			t.Fatal("Place recorded no assignment")
		}

		if err := s.srv.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
		if got := s.poolServerOf("in-flight"); got != server {
			t.Fatalf("after one Reconcile the place holds %q, want %q still", got, server)
		}
		other, err := placer.Place(ctx, "another", false)
		if err != nil {
			t.Fatal(err)
		}
		if other == placed {
			t.Fatalf("a new place got %v, the server of the place Reconcile kept", other)
		}

		if err := s.srv.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
		if got := s.poolServerOf("in-flight"); got != "" {
			t.Errorf("after two Reconciles the orphaned place still holds %q", got)
		}
		// "another" was orphaned at one Reconcile only: it stays for now,
		// and goes at the next.
		if s.poolServerOf("another") == "" {
			t.Errorf("the place made after the first Reconcile went at the second")
		}
		if err := s.srv.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
		if got := s.poolServerOf("another"); got != "" {
			t.Errorf("after its second Reconcile the orphaned place still holds %q", got)
		}
	})

	t.Run("DeletedFromStoreOnly", func(t *testing.T) {
		s := newPoolStack(t, defaultPoolSize)
		ctx := t.Context()
		s.create("keeper", false)
		db := s.create("half-deleted", false)
		if err := s.connect(db, *db.Password).Set(ctx, "k", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		server := s.poolServerOf(db.DatabaseId)
		// A replica that died between the store delete and the plane's Remove.
		if err := s.store.DeleteDatabase(ctx, email, db.DatabaseId); err != nil {
			t.Fatal(err)
		}

		if err := s.srv.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
		if got := s.poolServerOf(db.DatabaseId); got != server {
			t.Fatalf("after one Reconcile the database holds %q, want %q still", got, server)
		}
		if err := s.srv.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
		if got := s.poolServerOf(db.DatabaseId); got != "" {
			t.Fatalf("after two Reconciles the database still holds %q", got)
		}
		// Freed the way Remove frees: the password is off and the keys gone,
		// so the next database starts empty on that server.
		if err := s.connect(db, *db.Password).Ping(ctx).Err(); !authRefused(err) {
			t.Errorf("the removed database's password after Reconcile freed it: %v, want an auth error", err)
		}
		next := s.create("next", false)
		if next.Endpoint != db.Endpoint || next.Port != db.Port {
			t.Fatalf("the next create got %s:%d, want the freed %s:%d", next.Endpoint, next.Port, db.Endpoint, db.Port)
		}
		if n, err := s.connect(next, *next.Password).DBSize(ctx).Result(); err != nil || n != 0 {
			t.Errorf("the freed server holds %d keys (%v) for the next database, want 0", n, err)
		}
	})
}

// TestReconcileKeepsPoolPlacesOfAnEmptyStore: a store that holds no
// database (new, or emptied) is no reason to wipe the pool servers it
// still records as held: Reconcile keeps them, with one warning each.
func TestReconcileKeepsPoolPlacesOfAnEmptyStore(t *testing.T) {
	if !haveRedisServer(t) {
		t.Skip("redis-server not installed: skipping the pool plane (install it with apt-get install redis-server)")
	}
	var log syncBuffer
	s := newStack(t, poolKind(defaultPoolSize), t.TempDir(), logTo(&log))
	ctx := t.Context()
	db := s.create("only", false)
	if err := s.connect(db, *db.Password).Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	server := s.poolServerOf(db.DatabaseId)
	if err := s.store.DeleteDatabase(ctx, email, db.DatabaseId); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := s.srv.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.poolServerOf(db.DatabaseId); got != server {
		t.Errorf("after three Reconciles on a store without databases the place is %q, want %q kept", got, server)
	}
	if v, err := s.connect(db, *db.Password).Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Errorf("the kept server's key: %q, %v", v, err)
	}
	if n := strings.Count(log.String(), "level=WARN msg=\"the store holds no database but the data plane holds this one"); n != 1 {
		t.Errorf("%d warnings about the kept place, want 1:\n%s", n, log.String())
	}
}

// TestReconcileSurvivesAnUnreachablePoolServer: a pool server that does not
// answer while it holds an orphaned place makes that place's removal fail;
// Reconcile logs it and goes on (devapi still starts), and the place stays
// held, since an unemptied server must not go to another database.
func TestReconcileSurvivesAnUnreachablePoolServer(t *testing.T) {
	if !haveRedisServer(t) {
		t.Skip("redis-server not installed: skipping the pool plane (install it with apt-get install redis-server)")
	}
	list := startPool(t, 3, nil) // plain servers only
	servers, err := poolplane.ParseServers(list)
	if err != nil {
		t.Fatal(err)
	}
	kind := planeKind{name: "pool", persistent: true, pool: true, open: func(t *testing.T, env planeEnv) devapi.Plane {
		p, err := poolplane.Open(t.Context(), poolplane.Config{Servers: servers, Store: env.store})
		if err != nil {
			t.Fatalf("open pool plane: %v", err)
		}
		return p
	}}
	s := newStack(t, kind, t.TempDir())
	ctx := t.Context()
	s.create("keeper", false) // a store that holds none frees nothing anyway
	if _, err := s.plane.(devapi.Placer).Place(ctx, "orphan", false); err != nil {
		t.Fatal(err)
	}
	held := s.poolServerOf("orphan")
	for _, spec := range servers {
		if spec.Key() != held {
			continue
		}
		admin := redis.NewClient(&redis.Options{Addr: spec.Key(), Username: spec.Username, Password: spec.Password})
		_ = admin.Do(ctx, "SHUTDOWN", "NOSAVE").Err() // the connection drops: no answer to check
		_ = admin.Close()
	}
	for i := range 3 {
		if err := s.srv.Reconcile(ctx); err != nil {
			t.Fatalf("Reconcile %d with a pool server down: %v", i+1, err)
		}
	}
	if got := s.poolServerOf("orphan"); got != held {
		t.Errorf("the orphaned place on the unreachable server is %q after Reconcile, want %q kept", got, held)
	}
	db := s.create("alive", false) // the other server still serves
	if err := s.connect(db, *db.Password).Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Errorf("database on the server that answers: %v", err)
	}
}
