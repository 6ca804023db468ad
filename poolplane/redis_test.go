package poolplane_test

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi/internal/redistest"
	"github.com/devapi-dev/devapi/internal/tlsca"
	"github.com/devapi-dev/devapi/poolplane"
)

// adminUser is the ACL user the test servers give devapi.
const adminUser = "devapi-admin"

// needRedisServer skips without redis-server, except in CI.
func needRedisServer(tb testing.TB) {
	tb.Helper()
	redistest.Binary(tb)
}

// startServer runs a redis-server on 127.0.0.1 with `default` off and an
// admin user, as an operator would set up a pool server, and stops it when
// the test ends. With tlsCfg it speaks TLS only, serving tlsCfg's
// certificate.
func startServer(tb testing.TB, tlsCfg *tls.Config) poolplane.ServerSpec {
	tb.Helper()
	return runServer(tb, tlsCfg, false).spec
}

// testServer is a redis-server a test runs (internal/redistest), with its
// pool server spec.
type testServer struct {
	*redistest.Server
	spec poolplane.ServerSpec
}

// runServer is startServer; with aclFile the users are in the server's
// users.acl, which it reads at start and ACL SAVE writes.
func runServer(tb testing.TB, tlsCfg *tls.Config, aclFile bool) *testServer {
	tb.Helper()
	s := redistest.Start(tb, redistest.Options{TLS: tlsCfg, Admin: adminUser, ACLFile: aclFile})
	return &testServer{Server: s, spec: poolplane.ServerSpec{Host: s.Host, Port: s.Port, TLS: s.TLS, Username: s.Username, Password: s.Password}}
}

// stop kills the server and waits until it has exited.
func (s *testServer) stop() { s.Stop() }

// restart kills the server and starts it again on the same port, as a
// crash and a restart by the operator's supervisor would.
func (s *testServer) restart(tb testing.TB) {
	tb.Helper()
	s.Restart(tb)
}

// adminClient talks to spec as its admin user; TLS certificates are not
// checked, it only tests.
func adminClient(spec poolplane.ServerSpec) *redis.Client {
	opt := &redis.Options{Addr: spec.Key(), Username: spec.Username, Password: spec.Password, MaxRetries: -1, DialTimeout: time.Second}
	if spec.TLS {
		opt.TLSConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // a test's own server
	}
	return redis.NewClient(opt)
}

// leafPool trusts the certificate tlsCfg serves, as a root.
func leafPool(tb testing.TB, tlsCfg *tls.Config) *x509.CertPool {
	tb.Helper()
	leaf, err := x509.ParseCertificate(tlsCfg.Certificates[0].Certificate[0])
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return pool
}

// serverConfig issues a certificate for 127.0.0.1 from a new CA, and
// returns it with a pool that trusts the CA.
func serverConfig(tb testing.TB) (*tls.Config, *x509.CertPool) {
	tb.Helper()
	ca, _, err := tlsca.New(time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	cfg, err := ca.ServerConfig([]string{"127.0.0.1"}, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	return cfg, ca.Pool()
}

// clientOf connects to spec's host and port as `default` with password, a
// database's client.
func clientOf(tb testing.TB, spec poolplane.ServerSpec, roots *x509.CertPool, password string) *redis.Client {
	tb.Helper()
	opt := &redis.Options{Addr: spec.Key(), Password: password, MaxRetries: -1, DialTimeout: 5 * time.Second}
	if spec.TLS {
		opt.TLSConfig = &tls.Config{RootCAs: roots, ServerName: spec.Host, MinVersion: tls.VersionTLS12}
	}
	c := redis.NewClient(opt)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}
