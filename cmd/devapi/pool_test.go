package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi/internal/redistest"
	"github.com/devapi-dev/devapi/pgstore/pgtest"
)

// poolAdmin is the ACL user devapi manages the pool's servers as.
const (
	poolAdmin       = "devapi-admin"
	poolAdminSecret = "pool-admin-secret-0123456789"
)

// startRedisPool starts n redis-server processes on 127.0.0.1, each with the
// ACL user poolAdmin and no way in for `default` until devapi sets its
// password, and writes their URLs to a 0600 file for --pool-file. It
// returns the file and the URLs. The servers stop when the test ends. With
// tlsDir (what devapi pool cert wrote) they speak TLS only, as rediss://.
func startRedisPool(t *testing.T, n int, tlsDir string) (file string, urls []string) {
	t.Helper()
	bin := redistest.Binary(t)
	dir := t.TempDir()
	lo, hi := redistest.Ports(t, n)
	for i := range n {
		port := poolPort(t, lo, hi)
		conf := filepath.Join(dir, fmt.Sprintf("redis-%d.conf", i))
		lines := []string{
			"bind 127.0.0.1",
			"port " + strconv.Itoa(port),
			`save ""`,
			"appendonly no",
			"dir " + dir,
			"user default off",
			"user " + poolAdmin + " on >" + poolAdminSecret + " ~* &* +@all",
		}
		scheme := "redis"
		if tlsDir != "" {
			scheme = "rediss"
			lines[1] = "port 0"
			lines = append(lines, "tls-port "+strconv.Itoa(port),
				"tls-cert-file "+filepath.Join(tlsDir, poolCertFile),
				"tls-key-file "+filepath.Join(tlsDir, poolKeyFile),
				"tls-ca-cert-file "+filepath.Join(tlsDir, poolCAFile),
				"tls-auth-clients no")
		}
		if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, conf)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		u := fmt.Sprintf("%s://%s:%s@127.0.0.1:%d", scheme, poolAdmin, poolAdminSecret, port)
		waitRedis(t, u, tlsDir)
		urls = append(urls, u)
	}
	file = filepath.Join(dir, "pool")
	if err := os.WriteFile(file, []byte("# the test's Redis pool\n"+strings.Join(urls, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return file, urls
}

// poolPort returns a port of lo-hi, a range the test claimed, that nothing
// listens on now.
func poolPort(t *testing.T, lo, hi int) int {
	t.Helper()
	for port := lo; port <= hi; port++ {
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			_ = ln.Close()
			return port
		}
	}
	t.Fatalf("no free port in %d-%d", lo, hi)
	return 0
}

// waitRedis waits until the Redis at rawURL answers PING.
func waitRedis(t *testing.T, rawURL, tlsDir string) {
	t.Helper()
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	if tlsDir != "" {
		opt.TLSConfig.RootCAs = caPool(t, filepath.Join(tlsDir, poolCAFile))
	}
	c := redis.NewClient(opt)
	defer func() { _ = c.Close() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server at %s does not answer: %v", opt.Addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// caPool reads a PEM CA certificate into a pool.
func caPool(t *testing.T, file string) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(b) {
		t.Fatalf("%s holds no certificate", file)
	}
	return roots
}

// TestPoolTLS: a pool server with a certificate from devapi pool cert,
// listed as rediss://, serves TLS databases that clients reach with the CA
// file of any replica's data folder, over TCP and through the REST API.
func TestPoolTLS(t *testing.T) {
	storeURL := pgtest.NewDatabase(t)
	tlsDir := filepath.Join(t.TempDir(), "tls")
	u := &cliUser{t: t, env: []string{envStore + "=" + storeURL}}
	u.ok("pool", "cert", "--host", "127.0.0.1", "--host", "localhost", "--out", tlsDir, "--data", t.TempDir())
	if info, err := os.Stat(filepath.Join(tlsDir, poolKeyFile)); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v, %v; want mode 0600", info, err)
	}
	poolFile, _ := startRedisPool(t, 1, tlsDir)
	data := t.TempDir()
	p := serveArgs(t, []string{"--data", data, "--plane", "pool", "--pool-file", poolFile}, envStore+"="+storeURL)
	db := p.database("POST", "/redis/database", `{"database_name":"tls","primary_region":"us-east-1"}`)
	if !db.TLS {
		t.Fatalf("a database on a rediss:// server says tls=false")
	}
	dial := func(password string) *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("%s:%d", db.Endpoint, db.Port), Username: "default", Password: password,
			MaxRetries: -1, TLSConfig: &tls.Config{RootCAs: caPool(t, filepath.Join(data, "ca.pem")), MinVersion: tls.VersionTLS12}})
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	if err := dial(db.Password).Set(t.Context(), "k", "v", 0).Err(); err != nil {
		t.Fatalf("TLS with the replica's ca.pem: %v", err)
	}
	after := p.database("POST", "/redis/reset-password/"+db.ID, "")
	if err := dial(db.Password).Ping(t.Context()).Err(); err == nil {
		t.Error("the old password still works after reset-password")
	}
	if v, err := dial(after.Password).Get(t.Context(), "k").Result(); err != nil || v != "v" {
		t.Errorf("new password over TLS: %q, %v", v, err)
	}
	if status := restCall(t, p, after.RestToken); status != 200 {
		t.Errorf("REST API over the TLS pool server: %d", status)
	}
}

// TestPoolUsageErrors: what is wrong with a pool's configuration is a usage
// error (exit 2) that says what, and never repeats an admin password.
func TestPoolUsageErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const secret = "pool-secret-xyz"
	cases := []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"no servers", []string{"--plane", "pool"}, nil, "--pool-file"},
		{"empty file", []string{"--plane", "pool", "--pool-file", write("empty", "# nothing\n")}, nil, "--pool-file"},
		{"default user", []string{"--plane", "pool", "--pool-file", write("default", "redis://default:"+secret+"@127.0.0.1:6379\n")}, nil, "default"},
		{"bad scheme", nil, []string{envPool + "=http://admin:" + secret + "@127.0.0.1:6379"}, "redis"},
		{"file without pool", []string{"--plane", "embedded", "--pool-file", write("x", "redis://a:b@127.0.0.1:1\n")}, nil, "--plane pool"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0", "--rest-addr", "127.0.0.1:0"}, c.args...)
			if c.env != nil {
				args = append(args, "--plane", "pool")
			}
			r := (&cliUser{t: t, env: c.env}).run(args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 mentioning %q", r.code, r.stderr, c.want)
			}
			if strings.Contains(r.stdout+r.stderr, secret) {
				t.Errorf("the error repeats the admin password: %s", r.stderr)
			}
		})
	}
}
