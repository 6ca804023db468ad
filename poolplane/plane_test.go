package poolplane_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/planetest"
	"github.com/devapi-dev/devapi/poolplane"
	"github.com/devapi-dev/devapi/sqlitestore"
)

// openStore opens the SQLite store at path, closed when the test ends.
func openStore(tb testing.TB, path string) *sqlitestore.Store {
	tb.Helper()
	s, err := sqlitestore.Open(tb.Context(), path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// openPlane opens a Plane on servers and store, closed when the test ends.
func openPlane(tb testing.TB, servers []poolplane.ServerSpec, roots *x509.CertPool, store devapi.PoolStore) *poolplane.Plane {
	tb.Helper()
	p, err := poolplane.Open(tb.Context(), poolplane.Config{Servers: servers, Store: store, RootCAs: roots})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = p.Close() })
	return p
}

// TestConformance runs planetest on a pool of two plain and two TLS
// redis-servers, the latter serving the suite's certificate, and a SQLite
// store. A restart opens a new Plane, and a new store handle, on the same
// servers and file.
func TestConformance(t *testing.T) {
	needRedisServer(t)
	type pool struct {
		servers []poolplane.ServerSpec
		roots   *x509.CertPool
	}
	var mu sync.Mutex
	pools := map[string]*pool{} // by the suite's dir
	planetest.Run(t, planetest.Options{
		Persistent: true, // the servers keep running across a restart of devapi
		Placed:     true,
		Open: func(t *testing.T, dir string, cfg devapi.PlaneConfig) devapi.Plane {
			mu.Lock()
			defer mu.Unlock()
			p := pools[dir]
			if p == nil {
				p = &pool{roots: leafPool(t, cfg.TLS)}
				for _, tlsCfg := range []*tls.Config{nil, cfg.TLS, nil, cfg.TLS} {
					p.servers = append(p.servers, startServer(t, tlsCfg))
				}
				pools[dir] = p
			}
			return openPlane(t, p.servers, p.roots, openStore(t, filepath.Join(dir, "devapi.db")))
		},
	})
}

// servePlaced places id on p and serves it with password at generation 1.
func servePlaced(tb testing.TB, p *poolplane.Plane, id, password string) devapi.PlaneDatabase {
	tb.Helper()
	pl, err := p.Place(tb.Context(), id, false)
	if err != nil {
		tb.Fatalf("place %s: %v", id, err)
	}
	d := devapi.PlaneDatabase{ID: id, Port: pl.Port, TLS: pl.TLS, Password: password, Generation: 1}
	if err := p.Serve(tb.Context(), d); err != nil {
		tb.Fatalf("serve %s: %v", id, err)
	}
	return d
}

func TestPlaceFullPool(t *testing.T) {
	needRedisServer(t)
	servers := []poolplane.ServerSpec{startServer(t, nil), startServer(t, nil)}
	p := openPlane(t, servers, nil, openStore(t, filepath.Join(t.TempDir(), "devapi.db")))
	ctx := t.Context()
	a, err := p.Place(ctx, "a", false)
	if err != nil {
		t.Fatal(err)
	}
	if want := (devapi.Placement{Host: "127.0.0.1", Port: servers[0].Port}); a != want {
		t.Errorf("first placement %+v, want %+v", a, want)
	}
	if _, err := p.Place(ctx, "b", false); err != nil {
		t.Fatal(err)
	}
	_, err = p.Place(ctx, "c", false)
	if devapi.ErrorCode(err) != devapi.ECONFLICT || !strings.Contains(devapi.ErrorMessage(err), "the Redis pool is full: all 2 servers hold a database") {
		t.Errorf("place on a full pool: %v, want ECONFLICT saying the pool is full", err)
	}
	if again, err := p.Place(ctx, "a", false); err != nil || again != a {
		t.Errorf("placing a again: %+v, %v; want %+v", again, err, a)
	}
}

// TestPlacePrefersTheKindAsked: a create that asks for TLS gets a rediss://
// server even when a plain one comes first in the list, and the other kind
// only when none of its own is free.
func TestPlacePrefersTheKindAsked(t *testing.T) {
	needRedisServer(t)
	tlsCfg, roots := serverConfig(t)
	plain, secure := startServer(t, nil), startServer(t, tlsCfg)
	p := openPlane(t, []poolplane.ServerSpec{plain, secure}, roots, openStore(t, filepath.Join(t.TempDir(), "devapi.db")))
	ctx := t.Context()
	for _, step := range []struct {
		id       string
		tls      bool
		wantPort int
	}{
		{"wants-tls", true, secure.Port},
		{"wants-tls-too", true, plain.Port}, // the only free one left
	} {
		pl, err := p.Place(ctx, step.id, step.tls)
		if err != nil {
			t.Fatalf("place %s: %v", step.id, err)
		}
		if pl.Port != step.wantPort || pl.TLS != (step.wantPort == secure.Port) {
			t.Errorf("place %s (TLS %v): %+v, want port %d", step.id, step.tls, pl, step.wantPort)
		}
	}
}

func TestServeChecks(t *testing.T) {
	needRedisServer(t)
	tlsCfg, roots := serverConfig(t)
	servers := []poolplane.ServerSpec{startServer(t, nil), startServer(t, tlsCfg)}
	p := openPlane(t, servers, roots, openStore(t, filepath.Join(t.TempDir(), "devapi.db")))
	ctx := t.Context()
	plain := servePlaced(t, p, "plain", "pw")
	secure := servePlaced(t, p, "secure", "pw-tls")
	if !secure.TLS || plain.TLS {
		t.Fatalf("placements: plain %+v, secure %+v", plain, secure)
	}
	if err := clientOf(t, servers[1], roots, "pw-tls").Ping(ctx).Err(); err != nil {
		t.Errorf("PING over TLS, verified with the CA: %v", err)
	}
	for _, c := range []struct {
		name string
		d    devapi.PlaneDatabase
		code string
	}{
		{"TLSOnPlainServer", devapi.PlaneDatabase{ID: "plain", Port: plain.Port, TLS: true, Password: "pw", Generation: 2}, devapi.EINVALID},
		{"PlainOnTLSServer", devapi.PlaneDatabase{ID: "secure", Port: secure.Port, Password: "pw", Generation: 2}, devapi.EINVALID},
		{"OtherPort", devapi.PlaneDatabase{ID: "plain", Port: plain.Port + 1, Password: "pw", Generation: 2}, devapi.EINVALID},
		{"NotPlaced", devapi.PlaneDatabase{ID: "nope", Port: plain.Port, Password: "pw", Generation: 2}, devapi.ENOTFOUND},
		{"EmptyPassword", devapi.PlaneDatabase{ID: "plain", Port: plain.Port, Generation: 2}, devapi.EINVALID},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := p.Serve(ctx, c.d)
			if got := devapi.ErrorCode(err); got != c.code {
				t.Errorf("Serve: %v, want %s", err, c.code)
			}
		})
	}
	if err := clientOf(t, servers[0], nil, "pw").Ping(ctx).Err(); err != nil {
		t.Errorf("the refused Serves changed the password: %v", err)
	}
}

// TestRemoveWipesAndFrees: Remove disconnects the database's clients,
// refuses its password, deletes its keys and hands the server on.
func TestRemoveWipesAndFrees(t *testing.T) {
	needRedisServer(t)
	servers := []poolplane.ServerSpec{startServer(t, nil)}
	p := openPlane(t, servers, nil, openStore(t, filepath.Join(t.TempDir(), "devapi.db")))
	ctx := t.Context()
	servePlaced(t, p, "old", "old-pw")
	held := clientOf(t, servers[0], nil, "old-pw")
	if err := held.Set(ctx, "secret", "of old", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Place(ctx, "new", false); devapi.ErrorCode(err) != devapi.ECONFLICT {
		t.Fatalf("place on a full pool: %v", err)
	}
	if err := p.Remove(ctx, "old"); err != nil {
		t.Fatal(err)
	}
	if err := held.Get(ctx, "secret").Err(); err == nil {
		t.Errorf("a connection of the removed database still reads")
	}
	if err := clientOf(t, servers[0], nil, "old-pw").Ping(ctx).Err(); !redis.IsAuthError(err) {
		t.Errorf("the old password after Remove: %v, want an auth error", err)
	}
	if err := p.Remove(ctx, "old"); err != nil {
		t.Errorf("second Remove: %v", err)
	}
	d := servePlaced(t, p, "new", "new-pw")
	if d.Port != servers[0].Port {
		t.Errorf("new database on port %d, want the freed %d", d.Port, servers[0].Port)
	}
	c := clientOf(t, servers[0], nil, "new-pw")
	if n, err := c.DBSize(ctx).Result(); err != nil || n != 0 {
		t.Errorf("keys of the new database: %d, %v; want 0", n, err)
	}
	if err := clientOf(t, servers[0], nil, "old-pw").Ping(ctx).Err(); !redis.IsAuthError(err) {
		t.Errorf("the old password on the new database: %v, want an auth error", err)
	}
}

// TestReplicasEndOnNewestPassword: two Planes, as two devapi replicas, on
// one store and one server; 50 password changes with generations in random
// order through both at once leave the server on the newest password.
func TestReplicasEndOnNewestPassword(t *testing.T) {
	needRedisServer(t)
	servers := []poolplane.ServerSpec{startServer(t, nil)}
	path := filepath.Join(t.TempDir(), "devapi.db")
	replicas := []*poolplane.Plane{
		openPlane(t, servers, nil, openStore(t, path)),
		openPlane(t, servers, nil, openStore(t, path)),
	}
	checkNewestWins(t, replicas, servers[0])
}

// checkNewestWins serves a database through replicas[0] and races 50
// SetPassword calls through all replicas.
func checkNewestWins(t *testing.T, replicas []*poolplane.Plane, srv poolplane.ServerSpec) {
	t.Helper()
	ctx := t.Context()
	servePlaced(t, replicas[0], "db", "gen1")
	const n = 50
	var wg sync.WaitGroup
	for i, g := range rand.Perm(n) {
		gen := int64(g + 2)
		wg.Go(func() {
			if err := replicas[i%len(replicas)].SetPassword(context.Background(), "db", fmt.Sprint("gen", gen), gen); err != nil {
				t.Errorf("SetPassword gen %d: %v", gen, err)
			}
		})
	}
	wg.Wait()
	newest := int64(n + 1)
	for gen := int64(1); gen <= newest; gen++ {
		err := clientOf(t, srv, nil, fmt.Sprint("gen", gen)).Do(ctx, "AUTH", "default", fmt.Sprint("gen", gen)).Err()
		switch {
		case gen == newest && err != nil:
			t.Errorf("the newest password (gen %d) refused: %v", gen, err)
		case gen != newest && !redis.IsAuthError(err):
			t.Errorf("the password of gen %d: %v, want an auth error", gen, err)
		}
	}
	for i, r := range replicas {
		if st, err := r.Status(ctx, "db"); err != nil || st.Generation != newest {
			t.Errorf("replica %d: status %+v, %v; want generation %d", i, st, err, newest)
		}
	}
}

// TestOpenWithServerDown: a server that does not answer is logged, without
// its password, and does not fail Open. Place does not hand it out, since
// it cannot check it is empty; a database on a server that goes down
// reports stopped, and keeps the server when removed.
func TestOpenWithServerDown(t *testing.T) {
	needRedisServer(t)
	up := runServer(t, nil, false)
	down := poolplane.ServerSpec{Host: "127.0.0.1", Port: planetest.FreePort(t), Username: adminUser, Password: "very-secret-password"}
	var log bytes.Buffer
	p, err := poolplane.Open(t.Context(), poolplane.Config{
		Servers: []poolplane.ServerSpec{up.spec, down},
		Store:   openStore(t, filepath.Join(t.TempDir(), "devapi.db")),
		Logger:  slog.New(slog.NewTextHandler(&log, nil)),
	})
	if err != nil {
		t.Fatalf("Open with one server down: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	if !strings.Contains(log.String(), down.Key()) || strings.Contains(log.String(), down.Password) {
		t.Errorf("log %q: want the down server named, without its password", log.String())
	}
	if _, err := p.Place(t.Context(), "db", false); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Place(t.Context(), "on-down", false); err == nil || !strings.Contains(err.Error(), down.Key()) {
		t.Errorf("Place on the down server: %v, want an error naming it", err)
	}
	if ids, err := p.Databases(t.Context()); err != nil || len(ids) != 1 {
		t.Errorf("databases after a failed Place: %v, %v; want only db", ids, err)
	}
	// Status of a database on a server gone down: stopped.
	up.stop()
	if st, err := p.Status(t.Context(), "db"); err != nil || st.State != devapi.PlaneStopped {
		t.Errorf("status on a down server: %+v, %v; want stopped", st, err)
	}
	if err := p.Remove(t.Context(), "db"); err == nil {
		t.Errorf("Remove on a down server succeeded; it must keep the server until it is wiped")
	}
}

func TestOpenRefuses(t *testing.T) {
	store := openStore(t, filepath.Join(t.TempDir(), "devapi.db"))
	ok := poolplane.ServerSpec{Host: "127.0.0.1", Port: 6379, Username: "admin", Password: "pw"}
	withUser := ok
	withUser.Username = "default"
	for _, c := range []struct {
		name string
		cfg  poolplane.Config
	}{
		{"NoServers", poolplane.Config{Store: store}},
		{"NoStore", poolplane.Config{Servers: []poolplane.ServerSpec{ok}}},
		{"Duplicate", poolplane.Config{Servers: []poolplane.ServerSpec{ok, ok}, Store: store}},
		{"DefaultUser", poolplane.Config{Servers: []poolplane.ServerSpec{withUser}, Store: store}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := poolplane.Open(t.Context(), c.cfg)
			if err == nil {
				_ = p.Close()
				t.Fatal("Open succeeded")
			}
			if strings.Contains(err.Error(), "pw@") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

// TestPasswordSurvivesServerRestart: on a server with an ACL file, the
// password, and a removed database's `default` off, outlive a restart of
// the server.
func TestPasswordSurvivesServerRestart(t *testing.T) {
	needRedisServer(t)
	srv := runServer(t, nil, true)
	p := openPlane(t, []poolplane.ServerSpec{srv.spec}, nil, openStore(t, filepath.Join(t.TempDir(), "devapi.db")))
	ctx := t.Context()
	servePlaced(t, p, "db", "first")
	if err := p.SetPassword(ctx, "db", "second", 2); err != nil {
		t.Fatal(err)
	}
	srv.restart(t)
	if err := clientOf(t, srv.spec, nil, "second").Ping(ctx).Err(); err != nil {
		t.Errorf("the password after a restart of the server: %v", err)
	}
	if err := clientOf(t, srv.spec, nil, "first").Ping(ctx).Err(); !redis.IsAuthError(err) {
		t.Errorf("the older password after a restart of the server: %v, want an auth error", err)
	}
	if err := p.Remove(ctx, "db"); err != nil {
		t.Fatal(err)
	}
	srv.restart(t)
	if err := clientOf(t, srv.spec, nil, "second").Ping(ctx).Err(); !redis.IsAuthError(err) {
		t.Errorf("a removed database's password after a restart of the server: %v, want an auth error", err)
	}
}
