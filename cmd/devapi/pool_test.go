package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// poolAdmin is the ACL user devapi manages the pool's servers as.
const (
	poolAdmin       = "devapi-admin"
	poolAdminSecret = "pool-admin-secret-0123456789"
)

// startRedisPool starts n redis-server processes on 127.0.0.1, each with the
// ACL user poolAdmin and no way in for `default` until devapi sets its
// password, and writes their URLs to a 0600 file for --pool-file. It
// returns the file and the URLs. The servers stop when the test ends.
func startRedisPool(t *testing.T, n int) (file string, urls []string) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not installed, and CI=true requires the pool tests to run")
		}
		t.Skip("redis-server not installed: skipping the Redis pool tests")
	}
	dir := t.TempDir()
	for i := range n {
		port := poolPort(t)
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
		if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, conf)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		u := fmt.Sprintf("redis://%s:%s@127.0.0.1:%d", poolAdmin, poolAdminSecret, port)
		waitRedis(t, u)
		urls = append(urls, u)
	}
	file = filepath.Join(dir, "pool")
	if err := os.WriteFile(file, []byte("# the test's Redis pool\n"+strings.Join(urls, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return file, urls
}

// Pool servers listen on ports of 32500-32767: below the kernel's ephemeral
// range (32768 up), so that no port freeAddr hands out collides with them,
// and apart from the other packages' test ranges.
const (
	poolPortMin = 32500
	poolPortMax = 32767
)

var nextPoolPort atomic.Int32

// poolPort returns a port of the pool range that nothing listens on now.
func poolPort(t *testing.T) int {
	t.Helper()
	for range poolPortMax - poolPortMin + 1 {
		port := poolPortMin + int(nextPoolPort.Add(1)-1)%(poolPortMax-poolPortMin+1)
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			_ = ln.Close()
			return port
		}
	}
	t.Fatalf("no free port in %d-%d", poolPortMin, poolPortMax)
	return 0
}

// waitRedis waits until the Redis at rawURL answers PING.
func waitRedis(t *testing.T, rawURL string) {
	t.Helper()
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		t.Fatal(err)
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
