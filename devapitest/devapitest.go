package devapitest

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gofrs/flock"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/embeddedplane"
	"github.com/devapi-dev/devapi/internal/tlsca"
	"github.com/devapi-dev/devapi/restapi"
	"github.com/devapi-dev/devapi/server"
	"github.com/devapi-dev/devapi/sqlitestore"
	"github.com/devapi-dev/devapi/upstash"
)

// Server is a running devapi. Its fields are set by NewServer and Start and
// must not be changed.
type Server struct {
	// URL is the root of the management API's host, such as
	// http://127.0.0.1:PORT: the API is under URL+"/v2", and URL is what
	// upstash.WithBaseURL takes.
	URL string
	// RestURL is the REST data API (UPSTASH_REDIS_REST_URL) of every
	// database; a database's rest_token picks the database.
	RestURL string
	// Email and APIKey are the credentials of the server's account, made
	// fresh for each Server.
	Email, APIKey string
	// CAPool trusts the CA that signs the databases' certificates (the
	// databases speak TLS unless created with TLS false).
	CAPool *x509.CertPool
	// CAFile is that CA's certificate in PEM, in the server's temporary
	// folder, for clients that read a file (redis-cli --cacert).
	CAFile string
	// Client is an upstash.Client of the server's account.
	Client *upstash.Client

	store   *sqlitestore.Store
	closers []func() error // run in reverse order by Close

	closeOnce sync.Once
	closeErr  error
}

// NewServer starts a Server for the test or benchmark tb, and stops it and
// removes its files when tb ends. It fails tb if the server cannot start.
func NewServer(tb testing.TB) *Server {
	tb.Helper()
	s, err := start(tb.TempDir())
	if err != nil {
		tb.Fatalf("devapitest: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("devapitest: close: %v", err)
		}
	})
	return s
}

// Start starts a Server outside a test (in an example, or a program). Its
// files go to a new temporary folder, which Close removes; call Close when
// done.
func Start() (*Server, error) {
	dir, err := os.MkdirTemp("", "devapitest-")
	if err != nil {
		return nil, fmt.Errorf("devapitest: %w", err)
	}
	s, err := start(dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("devapitest: %w", err)
	}
	s.closers = append([]func() error{func() error { return os.RemoveAll(dir) }}, s.closers...)
	return s, nil
}

// Close stops the server: both APIs, every database and the store. It
// answers the first call's outcome to every call.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		for i := len(s.closers) - 1; i >= 0; i-- {
			errs = append(errs, s.closers[i]())
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// NewAccount adds another account to the server, for tests that need two
// (team members, isolation between accounts). Make a client for it with
// upstash.New(email, apiKey, upstash.WithBaseURL(s.URL)).
func (s *Server) NewAccount(ctx context.Context) (email, apiKey string, err error) {
	email, apiKey = newEmail(), devapi.NewAPIKey()
	if _, err := devapi.EnsureAPIKey(ctx, s.store, email, apiKey, "devapitest", time.Now().UTC()); err != nil {
		return "", "", fmt.Errorf("devapitest: new account: %w", err)
	}
	return email, apiKey, nil
}

// start wires a devapi as `devapi serve` does, with its files in dir. On
// error, whatever it started is stopped.
func start(dir string) (_ *Server, err error) {
	ctx := context.Background()
	now := time.Now().UTC()
	s := &Server{}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()
	add := func(f func() error) { s.closers = append(s.closers, f) }

	s.store, err = sqlitestore.Open(ctx, filepath.Join(dir, "devapi.db"))
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	add(s.store.Close)
	ports, release := claimPorts()
	add(release) // after the plane is closed: it listens on these ports
	if s.Email, s.APIKey, err = s.NewAccount(ctx); err != nil {
		return nil, err
	}

	ca, err := tlsca.Load(ctx, s.store, now)
	if err != nil {
		return nil, err
	}
	s.CAPool = ca.Pool()
	s.CAFile = filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(s.CAFile, ca.CertPEM, 0o644); err != nil {
		return nil, fmt.Errorf("write CA file: %w", err)
	}
	tlsConfig, err := ca.ServerConfig([]string{planeHost, "localhost", "::1"}, now)
	if err != nil {
		return nil, err
	}
	plane := embeddedplane.New(devapi.PlaneConfig{Host: planeHost, TLS: tlsConfig})
	add(plane.Close)

	srv, err := server.New(server.Config{Store: s.store, Plane: plane, Ports: ports, AdvertisedHost: planeHost,
		// A test suite may send thousands of requests a second from one
		// account; failed logins are still throttled as by devapi serve.
		AccountRequests: server.RateLimit{PerSecond: -1}})
	if err != nil {
		return nil, err
	}
	if err := srv.Reconcile(ctx); err != nil {
		return nil, err
	}
	bg, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { srv.RunStats(bg) })
	wg.Go(func() { srv.RunDailyBackups(bg) })
	add(func() error { stop(); wg.Wait(); return nil })

	rest, err := restapi.New(restapi.Config{Store: s.store, PlaneHost: planeHost, RootCAs: s.CAPool})
	if err != nil {
		return nil, err
	}
	add(rest.Close)
	rs := httptest.NewServer(rest.Handler())
	add(func() error { rs.Close(); return nil })
	s.RestURL = rs.URL
	ms := httptest.NewServer(srv.Handler())
	add(func() error { ms.Close(); return nil })
	s.URL = ms.URL

	hc := ms.Client() // its idle connections are closed with ms
	hc.Timeout = 30 * time.Second
	s.Client, err = upstash.New(s.Email, s.APIKey, upstash.WithBaseURL(s.URL), upstash.WithHTTPClient(hc))
	if err != nil {
		return nil, err
	}
	return s, nil
}

// planeHost is where databases listen, and the endpoint they advertise.
const planeHost = "127.0.0.1"

// Database ports come from this range, in blocks of portBlock.
const (
	portMin   = 31000
	portMax   = 31999
	portBlock = 50
)

// claimPorts picks a block of ports no other Server uses, holding a lock
// file for it until release. The port range is below Linux's ephemeral
// ports (32768 up) and away from the ranges devapi's own tests use. When
// every block is taken it falls back to the whole range, where servers
// still skip ports in use but two may race for the same free port.
func claimPorts() (_ server.PortRange, release func() error) {
	blocks := (portMax - portMin + 1) / portBlock
	first := mathrand.N(blocks)
	for i := range blocks {
		lo := portMin + ((first+i)%blocks)*portBlock
		lock := flock.New(filepath.Join(os.TempDir(), fmt.Sprintf("devapitest-ports-%d.lock", lo)))
		if locked, err := lock.TryLock(); err != nil || !locked {
			continue
		}
		return server.PortRange{Min: lo, Max: lo + portBlock - 1}, lock.Unlock
	}
	return server.PortRange{Min: portMin, Max: portMax}, func() error { return nil }
}

// newEmail returns a fresh account email.
func newEmail() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b) // never fails; see crypto/rand.Read
	return "user-" + hex.EncodeToString(b) + "@devapitest.local"
}
