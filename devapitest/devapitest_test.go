package devapitest_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi/devapitest"
	"github.com/devapi-dev/devapi/internal/portclaim"
	"github.com/devapi-dev/devapi/upstash"
)

func createDatabase(t *testing.T, c *upstash.Client, name string) *upstash.Database {
	t.Helper()
	db, err := c.CreateDatabase(t.Context(), upstash.CreateDatabaseRequest{Name: name, PrimaryRegion: "us-east-1"})
	if err != nil {
		t.Fatalf("CreateDatabase: %v", err)
	}
	return db
}

// dial returns a go-redis client for db over TLS, trusting pool.
func dial(t *testing.T, db *upstash.Database, password string, pool *x509.CertPool) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{
		Addr:       net.JoinHostPort(db.Endpoint, strconv.Itoa(db.Port)),
		Password:   password,
		MaxRetries: -1,
		TLSConfig:  &tls.Config{RootCAs: pool, ServerName: db.Endpoint, MinVersion: tls.VersionTLS12},
	})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

func TestRotatePassword(t *testing.T) {
	t.Parallel()
	s := devapitest.NewServer(t)
	ctx := t.Context()
	db := createDatabase(t, s.Client, "sessions")
	if !db.TLS {
		t.Fatalf("database without TLS: %+v", db)
	}
	if err := dial(t, db, db.Password, s.CAPool).Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET with the first password: %v", err)
	}

	rotated, err := s.Client.ResetPassword(ctx, db.ID)
	if err != nil {
		t.Fatalf("ResetPassword: %v", err)
	}
	if rotated.Password == db.Password {
		t.Fatal("ResetPassword kept the password")
	}
	if err := dial(t, db, db.Password, s.CAPool).Ping(ctx).Err(); !redis.IsAuthError(err) {
		t.Fatalf("PING with the old password: %v, want an auth error", err)
	}
	if v, err := dial(t, rotated, rotated.Password, s.CAPool).Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("GET with the new password = %q, %v; want v", v, err)
	}
}

func TestCAFile(t *testing.T) {
	t.Parallel()
	s := devapitest.NewServer(t)
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no PEM certificate", s.CAFile)
	}
	db := createDatabase(t, s.Client, "ca")
	if err := dial(t, db, db.Password, pool).Ping(t.Context()).Err(); err != nil {
		t.Fatalf("PING trusting %s: %v", s.CAFile, err)
	}
	// And a client that trusts only the system's roots is refused.
	if err := dial(t, db, db.Password, nil).Ping(t.Context()).Err(); err == nil {
		t.Fatal("PING without trusting the CA succeeded")
	}
}

func TestRestURL(t *testing.T) {
	t.Parallel()
	s := devapitest.NewServer(t)
	db := createDatabase(t, s.Client, "rest")
	hc := &http.Client{Timeout: 10 * time.Second}
	get := func(path, token string) (int, string) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.RestURL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	if status, body := get("/set/greeting/hello", db.RestToken); status != 200 || body != `{"result":"OK"}` {
		t.Fatalf("SET through the REST API: %d %s", status, body)
	}
	if status, body := get("/get/greeting", db.ReadOnlyRestToken); status != 200 || body != `{"result":"hello"}` {
		t.Fatalf("GET with the read-only token: %d %s", status, body)
	}
	if status, _ := get("/get/greeting", "not-a-token"); status != http.StatusUnauthorized {
		t.Fatalf("GET with a wrong token: %d, want 401", status)
	}
}

// Servers are independent: own account, own store, own ports.
func TestServersAreIndependent(t *testing.T) {
	t.Parallel()
	a, b := devapitest.NewServer(t), devapitest.NewServer(t)
	if a.Email == b.Email || a.APIKey == b.APIKey || a.URL == b.URL || a.RestURL == b.RestURL {
		t.Fatalf("servers share an account or an address: %+v %+v", a, b)
	}
	db := createDatabase(t, a.Client, "mine")
	if list, err := b.Client.ListDatabases(t.Context()); err != nil || len(list) != 0 {
		t.Fatalf("the other server lists %+v, %v", list, err)
	}
	if _, err := b.Client.GetDatabase(t.Context(), db.ID, false); !errors.Is(err, upstash.ErrNotFound) {
		t.Fatalf("the other server's GetDatabase: %v, want ErrNotFound", err)
	}
	// a's credentials mean nothing to b.
	c, err := upstash.New(a.Email, a.APIKey, upstash.WithBaseURL(b.URL))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListDatabases(t.Context()); !errors.Is(err, upstash.ErrUnauthorized) {
		t.Fatalf("a's key on b: %v, want ErrUnauthorized", err)
	}
}

// Servers started at once, creating databases at once, get distinct ports.
func TestConcurrentServers(t *testing.T) {
	t.Parallel()
	const servers, perServer = 4, 3
	var (
		mu    sync.Mutex
		ports = map[int]string{}
		wg    sync.WaitGroup
	)
	for i := range servers {
		s := devapitest.NewServer(t)
		for j := range perServer {
			wg.Go(func() {
				db, err := s.Client.CreateDatabase(t.Context(), upstash.CreateDatabaseRequest{
					Name: fmt.Sprintf("s%d-db%d", i, j), PrimaryRegion: "us-east-1",
				})
				if err != nil {
					t.Errorf("server %d: CreateDatabase: %v", i, err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if other, ok := ports[db.Port]; ok {
					t.Errorf("port %d given to %s and %s", db.Port, other, db.Name)
				}
				ports[db.Port] = db.Name
			})
		}
	}
	wg.Wait()
	for port := range ports {
		if port < portclaim.Min || port > portclaim.Max {
			t.Errorf("port %d is outside %d-%d, the range devapitest claims from", port, portclaim.Min, portclaim.Max)
		}
	}
}

func TestNewAccount(t *testing.T) {
	t.Parallel()
	s := devapitest.NewServer(t)
	email, key, err := s.NewAccount(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if email == s.Email {
		t.Fatalf("NewAccount gave the server's own account %s", email)
	}
	c, err := upstash.New(email, key, upstash.WithBaseURL(s.URL))
	if err != nil {
		t.Fatal(err)
	}
	createDatabase(t, s.Client, "owner's")
	if list, err := c.ListDatabases(t.Context()); err != nil || len(list) != 0 {
		t.Fatalf("the new account lists %+v, %v; want none", list, err)
	}
}

func TestStartClose(t *testing.T) {
	t.Parallel()
	s, err := devapitest.Start()
	if err != nil {
		t.Fatal(err)
	}
	db := createDatabase(t, s.Client, "short-lived")
	addr := net.JoinHostPort(db.Endpoint, strconv.Itoa(db.Port))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := os.Stat(s.CAFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s after Close: %v, want it removed", s.CAFile, err)
	}
	if _, err := s.Client.ListDatabases(t.Context()); err == nil {
		t.Error("the API answers after Close")
	}
	if conn, err := net.DialTimeout("tcp", addr, 5*time.Second); err == nil {
		_ = conn.Close()
		t.Errorf("the database at %s accepts connections after Close", addr)
	}
}

// BenchmarkNewServer measures starting a server (store, account, CA, plane,
// both APIs), and stopping it outside the timer.
func BenchmarkNewServer(b *testing.B) {
	b.ReportAllocs()
	for range b.N {
		s, err := devapitest.Start()
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
