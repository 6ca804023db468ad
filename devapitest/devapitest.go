package devapitest

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/app"
	"github.com/devapi-dev/devapi/internal/portclaim"
	"github.com/devapi-dev/devapi/server"
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

	store   devapi.Store
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

// start starts a devapi through internal/app, as `devapi serve` does,
// with its files in dir. On error, whatever it started is stopped.
func start(dir string) (_ *Server, err error) {
	ctx := context.Background()
	s := &Server{}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()
	add := func(f func() error) { s.closers = append(s.closers, f) }

	lo, hi, release := portclaim.Claim(portCount)
	add(release) // after the app is closed: its plane listens on these ports
	s.Email, s.APIKey = newEmail(), devapi.NewAPIKey()
	s.CAFile = filepath.Join(dir, "ca.pem")
	a, err := app.Open(ctx, app.Config{
		Dir:    dir,
		CAFile: s.CAFile,
		Setup:  app.Accounts("devapitest", map[string]string{s.Email: s.APIKey}),
		Server: server.Config{Ports: server.PortRange{Min: lo, Max: hi},
			// A test suite may send thousands of requests a second from
			// one account; failed logins are still throttled as by devapi
			// serve.
			AccountRequests: server.RateLimit{PerSecond: -1}},
	})
	if err != nil {
		return nil, err
	}
	add(a.Close)
	a.Start()
	s.store, s.CAPool = a.Store(), a.CA().Pool()
	s.URL, s.RestURL = a.APIURL(), a.RESTURL()

	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}}
	add(func() error { hc.CloseIdleConnections(); return nil })
	s.Client, err = upstash.New(s.Email, s.APIKey, upstash.WithBaseURL(s.URL), upstash.WithHTTPClient(hc))
	if err != nil {
		return nil, err
	}
	return s, nil
}

// portCount is how many database ports a Server claims: more databases
// than a test makes, fewer than its account may own.
const portCount = 100

// newEmail returns a fresh account email.
func newEmail() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b) // never fails; see crypto/rand.Read
	return "user-" + hex.EncodeToString(b) + "@devapitest.local"
}
