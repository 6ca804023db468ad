package poolplane_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi/internal/tlsca"
	"github.com/devapi-dev/devapi/poolplane"
)

// Ports of the redis-servers the tests start: a range no other package's
// tests use.
const (
	minPort = 32000
	maxPort = 32499
)

// adminUser is the ACL user the test servers give devapi.
const adminUser = "devapi-admin"

// needRedisServer skips without redis-server, except in CI.
func needRedisServer(tb testing.TB) {
	tb.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatal("redis-server is not installed, and CI=true requires these tests to run")
		}
		tb.Skip("redis-server not installed: skipping the pool plane tests (apt-get install redis-server)")
	}
}

// bindable reports whether nothing listens on port of 127.0.0.1 now.
func bindable(port int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = ln.Close()
	return true
}

// startServer runs a redis-server on 127.0.0.1, on a free port of
// minPort-maxPort, with `default` off and an admin user, as an operator
// would set up a pool server, and stops it when the test ends. With tlsCfg
// it speaks TLS only, serving tlsCfg's certificate.
func startServer(tb testing.TB, tlsCfg *tls.Config) poolplane.ServerSpec {
	tb.Helper()
	return runServer(tb, tlsCfg, false).spec
}

// testServer is a redis-server a test runs.
type testServer struct {
	spec   poolplane.ServerSpec
	dir    string
	conf   string // path of its redis.conf
	cmd    *exec.Cmd
	exited chan struct{}
}

// runServer is startServer; with aclFile the users are in dir/users.acl,
// which the server reads at start and ACL SAVE writes.
func runServer(tb testing.TB, tlsCfg *tls.Config, aclFile bool) *testServer {
	tb.Helper()
	dir := tb.TempDir()
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	s := &testServer{dir: dir, conf: filepath.Join(dir, "redis.conf"),
		spec: poolplane.ServerSpec{Host: "127.0.0.1", TLS: tlsCfg != nil, Username: adminUser, Password: hex.EncodeToString(secret)}}
	var tlsLines string
	if tlsCfg != nil {
		certPEM, keyPEM, err := tlsca.ServerPEM(tlsCfg)
		if err != nil {
			tb.Fatal(err)
		}
		for name, data := range map[string][]byte{"tls.crt": certPEM, "tls.key": keyPEM} {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
				tb.Fatal(err)
			}
		}
		tlsLines = fmt.Sprintf("tls-cert-file %s\ntls-key-file %s\ntls-auth-clients no\n",
			filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"))
	}
	users := "user default off\nuser " + adminUser + " on >" + s.spec.Password + " ~* &* +@all\n"
	if aclFile {
		aclPath := filepath.Join(dir, "users.acl")
		if err := os.WriteFile(aclPath, []byte(users), 0o600); err != nil {
			tb.Fatal(err)
		}
		users = "aclfile " + aclPath + "\n"
	}
	tb.Cleanup(s.stop)
	for range 50 {
		port := minPort + mrand.IntN(maxPort-minPort+1)
		if !bindable(port) {
			continue
		}
		listen := fmt.Sprintf("port %d\n", port)
		if tlsCfg != nil {
			listen = fmt.Sprintf("port 0\ntls-port %d\n", port)
		}
		conf := "bind 127.0.0.1\nprotected-mode no\ndaemonize no\nsave \"\"\nappendonly no\n" +
			"dir " + dir + "\nlogfile " + filepath.Join(dir, "redis.log") + "\n" + listen + tlsLines + users
		if err := os.WriteFile(s.conf, []byte(conf), 0o600); err != nil {
			tb.Fatal(err)
		}
		s.spec.Port = port
		if s.start(tb) {
			return s
		}
		// Another program took the port meanwhile: try another.
	}
	tb.Fatalf("no redis-server would start on a port of %d-%d", minPort, maxPort)
	return nil
}

// start runs redis-server on s.conf and reports whether it answers.
func (s *testServer) start(tb testing.TB) bool {
	tb.Helper()
	cmd := exec.Command("redis-server", s.conf)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.cmd, s.exited = cmd, exited
	if waitReady(tb, s.spec, exited) {
		return true
	}
	s.stop()
	return false
}

// stop kills the server and waits until it has exited.
func (s *testServer) stop() {
	if s.cmd != nil {
		_ = s.cmd.Process.Kill()
		<-s.exited
		s.cmd = nil
	}
}

// restart kills the server and starts it again on the same port, as a
// crash and a restart by the operator's supervisor would.
func (s *testServer) restart(tb testing.TB) {
	tb.Helper()
	s.stop()
	if !s.start(tb) {
		tb.Fatalf("redis-server on %s did not start again", s.spec.Key())
	}
}

// waitReady waits until the server answers the admin user, or exits.
func waitReady(tb testing.TB, spec poolplane.ServerSpec, exited <-chan struct{}) bool {
	tb.Helper()
	c := adminClient(spec)
	defer func() { _ = c.Close() }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		if err := c.Ping(context.Background()).Err(); err == nil {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
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
