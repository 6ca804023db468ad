package redistest

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi/internal/portclaim"
	"github.com/devapi-dev/devapi/internal/tlsca"
)

// install says how to get redis-server.
const install = "install it with apt-get install redis-server"

// SkipOrFail skips tb with the message why, or fails it under CI=true,
// where every test must run.
func SkipOrFail(tb testing.TB, why string) {
	tb.Helper()
	if os.Getenv("CI") == "true" {
		tb.Fatalf("%s, and CI=true requires this test to run", why)
	}
	tb.Skip(why)
}

// Installed reports whether redis-server is on PATH. Under CI=true it must
// be: it fails tb when it is not. For tests that run some of their cases
// without it (and should log which they leave out).
func Installed(tb testing.TB) bool {
	tb.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("redis-server is not installed, and CI=true requires the tests that use it to run")
		}
		return false
	}
	return true
}

// Binary returns redis-server's path; without one it skips tb, or fails it
// under CI=true.
func Binary(tb testing.TB) string {
	tb.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		SkipOrFail(tb, "redis-server is not installed ("+install+")")
	}
	return path
}

// Ports claims n free ports in a row for tb (a block no other test process
// holds: see package portclaim), for a server's database port range. They
// are released when tb ends.
func Ports(tb testing.TB, n int) (lo, hi int) {
	tb.Helper()
	lo, hi, release := portclaim.Claim(n)
	tb.Cleanup(func() { _ = release() })
	return lo, hi
}

// Options say how Start runs redis-server. The zero value is a plain
// server whose default user has no password, keeping nothing on disk.
type Options struct {
	// TLS serves TLS only (no plain port) with this configuration's
	// certificate, as tlsca issues it. Default: plain TCP.
	TLS *tls.Config
	// Admin turns the default user off and gives this user a fresh
	// password and every permission, as an operator sets up a pool server.
	// Default: the default user, without a password.
	Admin string
	// ACLFile keeps the users in Dir/users.acl, which the server reads at
	// start and ACL SAVE writes. Default: in redis.conf.
	ACLFile bool
}

// Server is a redis-server a test runs. Its fields are set by Start and
// must not be changed.
type Server struct {
	// Host and Port are where it listens: 127.0.0.1 and a claimed port.
	Host string
	Port int
	// TLS reports whether it speaks TLS.
	TLS bool
	// Username and Password are Options.Admin's credentials, or empty.
	Username, Password string
	// Dir holds its redis.conf, its log and its TLS files.
	Dir string
	// Conf is the path of its redis.conf.
	Conf string

	bin    string
	cmd    *exec.Cmd
	exited chan struct{}
}

// Start runs a redis-server on 127.0.0.1 as o says, waits until it answers,
// and stops it when tb ends. It skips tb without redis-server, or fails it
// under CI=true.
func Start(tb testing.TB, o Options) *Server {
	tb.Helper()
	s := &Server{Host: "127.0.0.1", TLS: o.TLS != nil, Username: o.Admin, bin: Binary(tb), Dir: tb.TempDir()}
	s.Conf = filepath.Join(s.Dir, "redis.conf")
	var tlsLines string
	if o.TLS != nil {
		certPEM, keyPEM, err := tlsca.ServerPEM(o.TLS)
		if err != nil {
			tb.Fatal(err)
		}
		for name, data := range map[string][]byte{"tls.crt": certPEM, "tls.key": keyPEM} {
			if err := os.WriteFile(filepath.Join(s.Dir, name), data, 0o600); err != nil {
				tb.Fatal(err)
			}
		}
		tlsLines = fmt.Sprintf("tls-cert-file %s\ntls-key-file %s\ntls-auth-clients no\n",
			filepath.Join(s.Dir, "tls.crt"), filepath.Join(s.Dir, "tls.key"))
	}
	var users string
	if o.Admin != "" {
		secret := make([]byte, 16)
		_, _ = rand.Read(secret)
		s.Password = hex.EncodeToString(secret)
		users = "user default off\nuser " + o.Admin + " on >" + s.Password + " ~* &* +@all\n"
	}
	if o.ACLFile {
		aclPath := filepath.Join(s.Dir, "users.acl")
		if users == "" {
			users = "user default on nopass ~* &* +@all\n"
		}
		if err := os.WriteFile(aclPath, []byte(users), 0o600); err != nil {
			tb.Fatal(err)
		}
		users = "aclfile " + aclPath + "\n"
	}
	tb.Cleanup(s.Stop)
	lo, hi := Ports(tb, 1)
	for port := lo; port <= hi; port++ {
		if !bindable(port) {
			continue
		}
		listen := fmt.Sprintf("port %d\n", port)
		if o.TLS != nil {
			listen = fmt.Sprintf("port 0\ntls-port %d\n", port)
		}
		conf := "bind 127.0.0.1\nprotected-mode no\ndaemonize no\nsave \"\"\nappendonly no\n" +
			"dir " + s.Dir + "\nlogfile " + filepath.Join(s.Dir, "redis.log") + "\n" + listen + tlsLines + users
		if err := os.WriteFile(s.Conf, []byte(conf), 0o600); err != nil {
			tb.Fatal(err)
		}
		s.Port = port
		if s.start(tb) {
			return s
		}
		// Another program took the port meanwhile: try the next.
	}
	tb.Fatalf("no redis-server would start on a port of %d-%d (see %s)", lo, hi, filepath.Join(s.Dir, "redis.log"))
	return nil
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// URL is the server's redis:// (rediss:// with TLS) URL, with the admin
// user's credentials when it has one: a line of a pool file.
func (s *Server) URL() string {
	u := url.URL{Scheme: "redis", Host: s.Addr()}
	if s.TLS {
		u.Scheme = "rediss"
	}
	if s.Username != "" {
		u.User = url.UserPassword(s.Username, s.Password)
	}
	return u.String()
}

// Client is a client of the server as its admin user (the default user
// without one), closed when tb ends. TLS certificates are not verified:
// it only tests.
func (s *Server) Client(tb testing.TB) *redis.Client {
	tb.Helper()
	c := s.client()
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

func (s *Server) client() *redis.Client {
	opt := &redis.Options{Addr: s.Addr(), Username: s.Username, Password: s.Password, MaxRetries: -1, DialTimeout: time.Second}
	if s.TLS {
		opt.TLSConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the test's own server
	}
	return redis.NewClient(opt)
}

// start runs redis-server on s.Conf and reports whether it answers.
func (s *Server) start(tb testing.TB) bool {
	tb.Helper()
	cmd := exec.Command(s.bin, s.Conf)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }() // its owner: Stop waits for exited
	s.cmd, s.exited = cmd, exited
	if s.ready(exited) {
		return true
	}
	s.Stop()
	return false
}

// ready waits until the server answers, or exits, for up to 10 seconds.
func (s *Server) ready(exited <-chan struct{}) bool {
	c := s.client()
	defer func() { _ = c.Close() }()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		select {
		case <-exited:
			return false
		default:
		}
		if c.Ping(context.Background()).Err() == nil {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// Pid is the process id of the running server, 0 when it is stopped.
func (s *Server) Pid() int {
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Stop kills the server and waits until it has exited. Stopping a stopped
// server does nothing.
func (s *Server) Stop() {
	if s.cmd != nil {
		_ = s.cmd.Process.Kill()
		<-s.exited
		s.cmd = nil
	}
}

// Restart kills the server and starts it again on the same port and
// configuration, as a crash and a restart by a supervisor would.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.Stop()
	if !s.start(tb) {
		tb.Fatalf("redis-server on %s did not start again", s.Addr())
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
