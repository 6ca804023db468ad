// Package planetest is the conformance suite every devapi.Plane runs.
package planetest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/tlsca"
)

// Options describe the plane under test.
type Options struct {
	// Open returns a plane that keeps its files in dir. Opening again on the
	// same dir is a restart of devapi.
	Open func(t *testing.T, dir string, cfg devapi.PlaneConfig) devapi.Plane
	// Persistent planes keep keys across a restart.
	Persistent bool
	// Placed is for a devapi.Placer whose places are fixed, such as a pool
	// of running Redis servers, each with its own port and TLS setting: the
	// suite places every database with Place, on a place of the TLS setting
	// it wants, and serves it there; and it checks that Remove frees the
	// place, and the old password stops working, instead of the port. Open
	// must return a Placer with at least two places of each TLS setting,
	// all on 127.0.0.1, none of them holding a database.
	Placed bool
}

// env is one plane under test with a CA its clients trust.
type env struct {
	t     *testing.T
	plane devapi.Plane
	dir   string
	cfg   devapi.PlaneConfig
	ca    *tlsca.CA
	opts  Options
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	ca, _, err := tlsca.New(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tlsCfg, err := ca.ServerConfig([]string{"127.0.0.1", "localhost"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: t.TempDir(), cfg: devapi.PlaneConfig{Host: "127.0.0.1", TLS: tlsCfg}, ca: ca, opts: opts}
	e.plane = opts.Open(t, e.dir, e.cfg)
	t.Cleanup(func() { _ = e.plane.Close() })
	return e
}

// restart closes the plane and opens a new one on the same files.
func (e *env) restart() {
	e.t.Helper()
	if err := e.plane.Close(); err != nil {
		e.t.Fatalf("close: %v", err)
	}
	e.plane = e.opts.Open(e.t, e.dir, e.cfg)
	e.t.Cleanup(func() { _ = e.plane.Close() })
}

// FreePort returns a TCP port on 127.0.0.1 that nothing listens on now.
func FreePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port
}

func (e *env) serve(id string, tlsOn bool, password string, gen int64) devapi.PlaneDatabase {
	e.t.Helper()
	d := devapi.PlaneDatabase{ID: id, Port: FreePort(e.t), TLS: tlsOn, Password: password, Generation: gen}
	if e.opts.Placed {
		d.Port = e.place(id, tlsOn).Port
	}
	if err := e.plane.Serve(e.t.Context(), d); err != nil {
		e.t.Fatalf("serve %s: %v", id, err)
	}
	return d
}

// placer is the plane as a devapi.Placer.
func (e *env) placer() devapi.Placer {
	e.t.Helper()
	p, ok := e.plane.(devapi.Placer)
	if !ok {
		e.t.Fatalf("Options.Placed is set but the plane, a %T, is no devapi.Placer", e.plane)
	}
	return p
}

// place reserves a place with TLS as tlsOn says for id. A place of the other
// kind is taken, while id looks further, by a filler, removed at the end.
func (e *env) place(id string, tlsOn bool) devapi.Placement {
	e.t.Helper()
	ctx := e.t.Context()
	p := e.placer()
	var fillers []string
	defer func() {
		for _, f := range fillers {
			if err := p.Remove(ctx, f); err != nil {
				e.t.Errorf("remove filler %s: %v", f, err)
			}
		}
	}()
	for {
		pl, err := p.Place(ctx, id, tlsOn)
		if err != nil {
			e.t.Fatalf("place %s (TLS %v): %v", id, tlsOn, err)
		}
		if pl.Host != "127.0.0.1" {
			e.t.Fatalf("place %s on host %q, want 127.0.0.1", id, pl.Host)
		}
		if pl.TLS == tlsOn {
			return pl
		}
		if err := p.Remove(ctx, id); err != nil {
			e.t.Fatalf("remove %s: %v", id, err)
		}
		filler := fmt.Sprintf("%s-filler-%d", id, len(fillers))
		if _, err := p.Place(ctx, filler, !tlsOn); err != nil {
			e.t.Fatalf("no place with TLS %v for %s: %v", tlsOn, id, err)
		}
		fillers = append(fillers, filler)
	}
}

// client connects to d with password, the way a user would with the
// database's redis[s]:// URL.
func (e *env) client(d devapi.PlaneDatabase, password string) *redis.Client {
	e.t.Helper()
	return e.clientDB(d, password, 0)
}

// clientDB is client on logical database db.
func (e *env) clientDB(d devapi.PlaneDatabase, password string, db int) *redis.Client {
	e.t.Helper()
	scheme := "redis"
	if d.TLS {
		scheme = "rediss"
	}
	opt, err := redis.ParseURL(fmt.Sprintf("%s://default:%s@127.0.0.1:%d/%d", scheme, password, d.Port, db))
	if err != nil {
		e.t.Fatal(err)
	}
	if d.TLS {
		opt.TLSConfig = &tls.Config{RootCAs: e.ca.Pool(), ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	}
	opt.MaxRetries = -1
	opt.DialTimeout = 5 * time.Second
	c := redis.NewClient(opt)
	e.t.Cleanup(func() { _ = c.Close() })
	return c
}

// ping returns the error of PING on a new connection with password.
func (e *env) ping(d devapi.PlaneDatabase, password string) error {
	e.t.Helper()
	c := e.client(d, password)
	defer func() { _ = c.Close() }()
	return c.Ping(e.t.Context()).Err()
}

func isAuthError(err error) bool {
	return redis.IsAuthError(err)
}

// Run runs the suite.
func Run(t *testing.T, opts Options) {
	t.Run("PlainAndTLS", func(t *testing.T) {
		e := newEnv(t, opts)
		plain := e.serve("plain", false, "pw-plain", 1)
		secure := e.serve("secure", true, "pw-secure", 1)
		ctx := t.Context()
		for _, d := range []devapi.PlaneDatabase{plain, secure} {
			c := e.client(d, d.Password)
			if err := c.Set(ctx, "k", d.ID, 0).Err(); err != nil {
				t.Fatalf("%s: SET: %v", d.ID, err)
			}
			if got, err := c.Get(ctx, "k").Result(); err != nil || got != d.ID {
				t.Fatalf("%s: GET = %q, %v", d.ID, got, err)
			}
		}
		// A plain client cannot talk to the TLS port.
		if err := e.ping(devapi.PlaneDatabase{Port: secure.Port}, secure.Password); err == nil {
			t.Errorf("plain TCP PING on a TLS database succeeded")
		}
		// AUTH default <password> on a raw connection.
		c := e.client(devapi.PlaneDatabase{Port: plain.Port}, "")
		if err := c.Do(ctx, "AUTH", "default", "pw-plain").Err(); err != nil {
			t.Errorf("AUTH default <password>: %v", err)
		}
	})

	t.Run("WrongPasswordRefused", func(t *testing.T) {
		e := newEnv(t, opts)
		d := e.serve("db", false, "right", 1)
		if err := e.ping(d, "wrong"); !isAuthError(err) {
			t.Errorf("wrong password: %v, want an auth error", err)
		}
		if err := e.ping(d, ""); !isAuthError(err) {
			t.Errorf("no password: %v, want an auth error", err)
		}
	})

	t.Run("TTLExpiresInRealTime", func(t *testing.T) {
		e := newEnv(t, opts)
		d := e.serve("ttl", false, "pw", 1)
		c := e.client(d, "pw")
		ctx := t.Context()
		if err := c.Set(ctx, "short", "v", 300*time.Millisecond).Err(); err != nil {
			t.Fatal(err)
		}
		if err := c.Set(ctx, "long", "v", time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for c.Exists(ctx, "short").Val() == 1 {
			if time.Now().After(deadline) {
				t.Fatal("a 300ms TTL did not expire within 10s")
			}
			time.Sleep(50 * time.Millisecond)
		}
		if ttl := c.TTL(ctx, "long").Val(); ttl <= 0 || ttl > time.Hour {
			t.Errorf("TTL of the long key = %v", ttl)
		}
	})

	t.Run("SetPasswordRotates", func(t *testing.T) {
		e := newEnv(t, opts)
		d := e.serve("db", true, "old-password", 1)
		ctx := t.Context()
		held := e.client(d, "old-password")
		if err := held.Set(ctx, "kept", "yes", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if err := e.plane.SetPassword(ctx, "db", "new-password", 2); err != nil {
			t.Fatalf("SetPassword: %v", err)
		}
		if err := e.ping(d, "old-password"); !isAuthError(err) {
			t.Errorf("old password on a new connection: %v, want an auth error", err)
		}
		c := e.client(d, "new-password")
		if got, err := c.Get(ctx, "kept").Result(); err != nil || got != "yes" {
			t.Errorf("key after rotation: %q, %v", got, err)
		}
		st, err := e.plane.Status(ctx, "db")
		if err != nil || st.Generation != 2 || st.State != devapi.PlaneRunning {
			t.Errorf("status after rotation: %+v, %v", st, err)
		}
	})

	t.Run("OlderGenerationIgnored", func(t *testing.T) {
		e := newEnv(t, opts)
		d := e.serve("db", false, "gen1", 1)
		ctx := t.Context()
		if err := e.plane.SetPassword(ctx, "db", "gen5", 5); err != nil {
			t.Fatal(err)
		}
		if err := e.plane.SetPassword(ctx, "db", "gen4", 4); err != nil {
			t.Fatal(err)
		}
		if err := e.ping(d, "gen5"); err != nil {
			t.Errorf("gen5 password after a stale gen4 update: %v", err)
		}
		if err := e.ping(d, "gen4"); !isAuthError(err) {
			t.Errorf("stale gen4 password accepted: %v", err)
		}
		// Serve with an older generation (a stale reconcile) changes nothing.
		stale := d
		stale.Password, stale.Generation = "gen3", 3
		if err := e.plane.Serve(ctx, stale); err != nil {
			t.Fatal(err)
		}
		if err := e.ping(d, "gen5"); err != nil {
			t.Errorf("gen5 password after a stale Serve: %v", err)
		}
	})

	t.Run("OverlappingUpdatesEndOnNewest", func(t *testing.T) {
		e := newEnv(t, opts)
		d := e.serve("db", false, "gen0", 0)
		const n = 50
		gens := rand.Perm(n)
		var wg sync.WaitGroup
		for _, g := range gens {
			wg.Go(func() {
				if err := e.plane.SetPassword(context.Background(), "db", fmt.Sprintf("gen%d", g+1), int64(g+1)); err != nil {
					t.Errorf("SetPassword gen %d: %v", g+1, err)
				}
			})
		}
		wg.Wait()
		if err := e.ping(d, fmt.Sprintf("gen%d", n)); err != nil {
			t.Errorf("newest password refused: %v", err)
		}
		if st, err := e.plane.Status(t.Context(), "db"); err != nil || st.Generation != n {
			t.Errorf("generation %d, %v; want %d", st.Generation, err, n)
		}
	})

	t.Run("RemoveFreesPort", func(t *testing.T) {
		e := newEnv(t, opts)
		d := e.serve("db", false, "pw", 1)
		ctx := t.Context()
		if err := e.plane.Remove(ctx, "db"); err != nil {
			t.Fatalf("remove: %v", err)
		}
		if !opts.Placed {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", d.Port))
			if err != nil {
				t.Fatalf("port %d still taken after remove: %v", d.Port, err)
			}
			_ = ln.Close()
		} else if err := e.ping(d, "pw"); !isAuthError(err) {
			// The place stays, for another database: the password must go.
			t.Errorf("the password of a removed database: %v, want an auth error", err)
		}
		if _, err := e.plane.Status(ctx, "db"); devapi.ErrorCode(err) != devapi.ENOTFOUND {
			t.Errorf("status after remove: %v, want ENOTFOUND", err)
		}
		if err := e.plane.SetPassword(ctx, "db", "x", 9); devapi.ErrorCode(err) != devapi.ENOTFOUND {
			t.Errorf("SetPassword after remove: %v, want ENOTFOUND", err)
		}
		if err := e.plane.Remove(ctx, "db"); err != nil {
			t.Errorf("second remove: %v", err)
		}
		if ids, err := e.plane.Databases(ctx); err != nil || len(ids) != 0 {
			t.Errorf("databases after remove: %v, %v", ids, err)
		}
		if opts.Placed {
			// The place is free: placing until the plane is full reaches it.
			p, freed := e.placer(), false
			for i := 0; ; i++ {
				id := fmt.Sprint("fill-", i)
				pl, err := p.Place(ctx, id, false)
				if devapi.ErrorCode(err) == devapi.ECONFLICT {
					break
				}
				if err != nil || i > 1000 {
					t.Fatalf("place %s: %v", id, err)
				}
				freed = freed || pl.Port == d.Port
				t.Cleanup(func() { _ = p.Remove(context.Background(), id) })
			}
			if !freed {
				t.Errorf("the place on port %d was not given again after remove", d.Port)
			}
		}
	})

	t.Run("StatusCounts", func(t *testing.T) {
		e := newEnv(t, opts)
		d := e.serve("db", false, "pw", 1)
		ctx := t.Context()
		c := e.client(d, "pw")
		for i := range 3 {
			if err := c.Set(ctx, fmt.Sprint("k", i), "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
		st, err := e.plane.Status(ctx, "db")
		if err != nil {
			t.Fatal(err)
		}
		if st.Keys != 3 || st.Commands < 3 || st.Connections < 1 || st.TotalConnections < 1 || st.Addr != fmt.Sprintf("127.0.0.1:%d", d.Port) {
			t.Errorf("status %+v: want 3 keys, >= 3 commands, >= 1 connection, addr on port %d", st, d.Port)
		}
		ids, err := e.plane.Databases(ctx)
		if err != nil || len(ids) != 1 || ids[0] != "db" {
			t.Errorf("databases = %v, %v", ids, err)
		}
	})

	t.Run("SnapshotRestore", func(t *testing.T) {
		testSnapshotRestore(t, newEnv(t, opts))
	})

	t.Run("SnapshotStream", func(t *testing.T) {
		testSnapshotStream(t, newEnv(t, opts))
	})

	t.Run("Restart", func(t *testing.T) {
		e := newEnv(t, opts)
		d := e.serve("db", true, "pw", 3)
		ctx := t.Context()
		c := e.client(d, "pw")
		if err := c.Set(ctx, "survivor", "yes", 0).Err(); err != nil {
			t.Fatal(err)
		}
		_ = c.Close()
		e.restart()
		if err := e.plane.Serve(ctx, d); err != nil {
			t.Fatalf("serve after restart: %v", err)
		}
		c = e.client(d, "pw")
		got, err := c.Get(ctx, "survivor").Result()
		switch {
		case opts.Persistent && (err != nil || got != "yes"):
			t.Errorf("key after restart: %q, %v; the plane is persistent", got, err)
		case !opts.Persistent && !errors.Is(err, redis.Nil):
			t.Errorf("key after restart: %q, %v; want redis.Nil from an in-memory plane", got, err)
		}
	})
}
