package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/gen"
	"github.com/devapi-dev/devapi/server"
)

// specAllows fails t unless the spec declares status for the operation at
// specPath and method, and body and header match it.
func specAllows(t *testing.T, method, specPath, path string, status int, header http.Header, body []byte) {
	t.Helper()
	doc, err := server.Spec()
	if err != nil {
		t.Fatal(err)
	}
	item := doc.Paths.Find(specPath)
	if item == nil || item.GetOperation(method) == nil {
		t.Fatalf("no operation %s %s in the spec", method, specPath)
	}
	op := item.GetOperation(method)
	if op.Responses.Status(status) == nil {
		t.Fatalf("%s: status %d is not declared: %s", op.OperationID, status, body)
	}
	req, err := http.NewRequest(method, "http://devapi"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, Options: opts,
			Route: &routers.Route{Spec: doc, Path: specPath, PathItem: item, Method: method, Operation: op}},
		Status: status, Header: header, Options: opts,
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in.SetBodyBytes(body)); err != nil {
		t.Fatalf("%s: %d %s: the spec refuses the answer: %v", op.OperationID, status, body, err)
	}
}

// logTo sends a stack's log to buf.
func logTo(buf *syncBuffer) func(*server.Config) {
	return func(cfg *server.Config) { cfg.Logger = slog.New(slog.NewTextHandler(buf, nil)) }
}

// runRepairs runs the server's repair loop every interval until the test
// ends, and waits for it then.
func (s *stack) runRepairs(interval time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { s.srv.RunReconcile(ctx, interval) })
	s.t.Cleanup(func() { cancel(); wg.Wait() })
}

// state is the database's state as GET answers it.
func (s *stack) state(id string) string {
	s.t.Helper()
	resp, err := s.client.GetDatabaseWithResponse(s.t.Context(), id, nil)
	if err != nil || resp.JSON200 == nil {
		s.t.Fatalf("get: %v, %d %s", err, resp.StatusCode(), resp.Body)
	}
	return resp.JSON200.State
}

// stored is the database as the store holds it.
func (s *stack) stored(id string) *devapi.Database {
	s.t.Helper()
	d, err := s.store.Database(s.t.Context(), email, id)
	if err != nil {
		s.t.Fatal(err)
	}
	return d
}

// awaitPing waits until the database answers PING with password.
func (s *stack) awaitPing(db gen.Database, password string, within time.Duration) {
	s.t.Helper()
	c := s.connect(db, password)
	deadline := time.Now().Add(within)
	for {
		err := c.Ping(s.t.Context()).Err()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no PONG with the stored password after %v: %v", within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// redisPid is the pid of a redis-server plane's process for database id.
func (s *stack) redisPid(id string) int {
	s.t.Helper()
	b, err := os.ReadFile(filepath.Join(s.dir, "redis", id, "redis.pid"))
	if err != nil {
		s.t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		s.t.Fatal(err)
	}
	return pid
}

// redisServerKind is the redis-server plane of planeKinds, or a skip.
func redisServerKind(t *testing.T) planeKind {
	for _, k := range planeKinds(t) {
		if k.name == "redis-server" {
			return k
		}
	}
	t.Skip("redis-server not installed: skipping (install it with apt-get install redis-server)")
	return planeKind{}
}

// TestResetWhileRedisStoppedAnswers503: a redis-server that is stopped
// (SIGSTOP) cannot take a new password: reset-password answers the spec's
// 503, the state says unavailable, the warning is logged once; after
// SIGCONT the repair loop applies the stored password without another
// reset.
func TestResetWhileRedisStoppedAnswers503(t *testing.T) {
	var log syncBuffer
	s := newStack(t, redisServerKind(t), t.TempDir(), logTo(&log), func(cfg *server.Config) { cfg.PlaneTimeout = time.Second })
	ctx := t.Context()
	db := s.create("paused", false)
	if err := s.connect(db, *db.Password).Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	pid := s.redisPid(db.DatabaseId)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	t.Cleanup(func() {
		if stopped {
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	})
	for i := range 2 {
		resp, err := s.client.ResetPasswordWithResponse(ctx, db.DatabaseId)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode() != http.StatusServiceUnavailable || resp.JSON503 == nil || !strings.Contains(resp.JSON503.Error, "stored") {
			t.Fatalf("reset %d of a stopped redis-server: %d %s; want 503 saying the password is stored", i, resp.StatusCode(), resp.Body)
		}
		specAllows(t, "POST", "/redis/reset-password/{id}", "/redis/reset-password/"+db.DatabaseId, resp.StatusCode(), resp.HTTPResponse.Header, resp.Body)
	}
	if got := s.state(db.DatabaseId); got != "unavailable" {
		t.Errorf("state while the reset is not applied: %q, want unavailable", got)
	}
	const warning = "the data plane does not serve a database as stored"
	if n := strings.Count(log.String(), warning); n != 1 {
		t.Errorf("%d warnings for one episode, want 1:\n%s", n, log.String())
	}

	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	stopped = false
	s.runRepairs(50 * time.Millisecond)
	stored := s.stored(db.DatabaseId)
	if stored.Generation != 3 {
		t.Fatalf("stored generation %d, want 3 (two resets)", stored.Generation)
	}
	s.awaitPing(db, stored.Password, 20*time.Second)
	if v, err := s.connect(db, stored.Password).Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Errorf("key after the repair: %q, %v", v, err)
	}
	if err := s.connect(db, *db.Password).Ping(ctx).Err(); !authRefused(err) {
		t.Errorf("the password before the resets after the repair: %v, want an auth error", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.state(db.DatabaseId) != "active" {
		if time.Now().After(deadline) {
			t.Fatalf("state %q 10s after the repair, want active", s.state(db.DatabaseId))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(log.String(), "the data plane serves the database as stored again") {
		t.Errorf("the end of the episode is not logged:\n%s", log.String())
	}
}

// TestPortTakenAtStart: a database whose port another process holds when
// devapi starts stays stored: its state says unavailable, reset-password
// answers 503 (not 404), and once the port is free the repair loop serves
// it with the password of that reset.
func TestPortTakenAtStart(t *testing.T) {
	for _, kind := range planeKinds(t) {
		if kind.pool {
			continue // a pool's servers are not devapi's to listen on
		}
		t.Run(kind.name, func(t *testing.T) {
			dir := t.TempDir()
			s := newStack(t, kind, dir)
			db := s.create("squatted", false)
			if err := s.connect(db, *db.Password).Set(t.Context(), "k", "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
			s.stop()
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", db.Port))
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = ln.Close() }()

			var log syncBuffer
			s = newStack(t, kind, dir, logTo(&log))
			if got := s.state(db.DatabaseId); got != "unavailable" {
				t.Errorf("state of a database whose port is taken: %q, want unavailable", got)
			}
			resp, err := s.client.ResetPasswordWithResponse(t.Context(), db.DatabaseId)
			if err != nil || resp.StatusCode() != http.StatusServiceUnavailable {
				t.Fatalf("reset of a database the plane could not serve: %v %d %s, want 503", err, resp.StatusCode(), resp.Body)
			}
			if n := strings.Count(log.String(), "the data plane does not serve a database as stored"); n != 1 {
				t.Errorf("%d warnings for one episode, want 1:\n%s", n, log.String())
			}
			_ = ln.Close()
			s.runRepairs(50 * time.Millisecond)
			stored := s.stored(db.DatabaseId)
			s.awaitPing(db, stored.Password, 20*time.Second)
			if kind.persistent {
				if v, err := s.connect(db, stored.Password).Get(t.Context(), "k").Result(); err != nil || v != "v" {
					t.Errorf("key after the repair: %q, %v", v, err)
				}
			}
			deadline := time.Now().Add(10 * time.Second)
			for s.state(db.DatabaseId) != "active" {
				if time.Now().After(deadline) {
					t.Fatalf("state %q 10s after the repair, want active", s.state(db.DatabaseId))
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// servingPlane counts the Serve calls to a plane.
type servingPlane struct {
	devapi.Plane
	serves atomic.Int64
}

func (p *servingPlane) Serve(ctx context.Context, d devapi.PlaneDatabase) error {
	p.serves.Add(1)
	return p.Plane.Serve(ctx, d)
}

// TestRepairLeavesMatchingDatabasesAlone: the repair loop asks the plane
// and serves again only a database whose password generation differs from
// the store's.
func TestRepairLeavesMatchingDatabasesAlone(t *testing.T) {
	for _, kind := range planeKinds(t) {
		if kind.pool {
			continue // on a pool every round serves every database: see repair
		}
		t.Run(kind.name, func(t *testing.T) {
			var serving *servingPlane
			s := newStack(t, kind, t.TempDir(), func(cfg *server.Config) {
				serving = &servingPlane{Plane: cfg.Plane}
				cfg.Plane = serving
			})
			a, b := s.create("a", false), s.create("b", false)
			before := serving.serves.Load()
			for range 3 {
				if err := s.srv.Repair(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			if n := serving.serves.Load() - before; n != 0 {
				t.Errorf("%d Serve calls for databases the plane serves as stored, want 0", n)
			}
			// b's password moves on in the store only, as a reset that
			// committed and died before the plane does.
			if _, err := s.store.SetCredentials(t.Context(), email, b.DatabaseId, devapi.Credentials{Password: "stored-only", RestToken: "t", ReadOnlyRestToken: "r"}); err != nil {
				t.Fatal(err)
			}
			if err := s.srv.Repair(t.Context()); err != nil {
				t.Fatal(err)
			}
			if n := serving.serves.Load() - before; n != 1 {
				t.Errorf("%d Serve calls after one database's password moved on, want 1", n)
			}
			if err := s.connect(b, "stored-only").Ping(t.Context()).Err(); err != nil {
				t.Errorf("the stored password after the repair: %v", err)
			}
			if err := s.connect(a, *a.Password).Ping(t.Context()).Err(); err != nil {
				t.Errorf("the untouched database: %v", err)
			}
		})
	}
}

// TestReconcileRetiresWhatTheStoreLacks: at start, the folder of a
// redis-server database the store does not have is moved to
// <data>/orphans, append-only file and all, never deleted: whether the
// store lacks one database (older than the plane) or holds none at all
// (an emptied devapi.db).
func TestReconcileRetiresWhatTheStoreLacks(t *testing.T) {
	kind := redisServerKind(t)
	for _, emptied := range []bool{false, true} {
		t.Run(fmt.Sprintf("emptied=%v", emptied), func(t *testing.T) {
			dir := t.TempDir()
			s := newStack(t, kind, dir)
			ctx := t.Context()
			kept, lost := s.create("kept", false), s.create("lost", false)
			for _, db := range []gen.Database{kept, lost} {
				if err := s.connect(db, *db.Password).Set(ctx, "k", "value-of-"+db.DatabaseName, 0).Err(); err != nil {
					t.Fatal(err)
				}
			}
			gone := []gen.Database{lost}
			if emptied {
				s.stop()
				for _, name := range []string{"devapi.db", "devapi.db-wal", "devapi.db-shm"} {
					if err := os.Truncate(filepath.Join(dir, name), 0); err != nil && !os.IsNotExist(err) {
						t.Fatal(err)
					}
				}
				gone = append(gone, kept)
			} else {
				if err := s.store.DeleteDatabase(ctx, email, lost.DatabaseId); err != nil {
					t.Fatal(err)
				}
				s.stop()
			}

			var log syncBuffer
			s = newStack(t, kind, dir, logTo(&log))
			for _, db := range gone {
				moved, err := filepath.Glob(filepath.Join(dir, "orphans", db.DatabaseId+"-*"))
				if err != nil || len(moved) != 1 {
					t.Fatalf("orphans of %s: %v %v\n%s", db.DatabaseName, moved, err, log.String())
				}
				if _, err := os.Stat(filepath.Join(dir, "redis", db.DatabaseId)); !os.IsNotExist(err) {
					t.Errorf("%s's folder is still in the plane: %v", db.DatabaseName, err)
				}
				aof, err := filepath.Glob(filepath.Join(moved[0], "appendonlydir", "*.aof"))
				if err != nil || len(aof) == 0 {
					t.Errorf("%s's orphan holds no AOF: %v %v", db.DatabaseName, aof, err)
				}
				if !strings.Contains(log.String(), "level=WARN msg=\"moved a database the store does not have to the orphans folder") ||
					!strings.Contains(log.String(), db.DatabaseId) {
					t.Errorf("the move of %s is not logged at WARN:\n%s", db.DatabaseName, log.String())
				}
				if c := s.connect(db, *db.Password); c.Ping(ctx).Err() == nil {
					t.Errorf("%s still answers after it was moved aside", db.DatabaseName)
				}
			}
			if !emptied {
				if v, err := s.connect(kept, *kept.Password).Get(ctx, "k").Result(); err != nil || v != "value-of-kept" {
					t.Errorf("the stored database after Reconcile: %q, %v", v, err)
				}
			}
		})
	}
}
