package poolplane_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/poolplane"
)

// TestMonitor: Monitor shows the commands of the database's clients on its
// pool server, with AUTH redacted, and none of devapi's admin commands (a
// status, a backup, a password change), nor another database's.
func TestMonitor(t *testing.T) {
	needRedisServer(t)
	servers := []poolplane.ServerSpec{startServer(t, nil), startServer(t, nil)}
	p := openPlane(t, servers, nil, openStore(t, t.TempDir()+"/devapi.db"))
	a := servePlaced(t, p, "a", "pw-a")
	b := servePlaced(t, p, "b", "pw-b")
	ctx := t.Context()

	lines := make(chan string, 1000)
	mctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	res := make(chan error, 1)
	wg.Go(func() { res <- p.Monitor(mctx, "a", func(l string) error { lines <- l; return nil }) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	next := func() string {
		t.Helper()
		select {
		case l := <-lines:
			return l
		case err := <-res:
			t.Fatalf("Monitor returned %v", err)
		case <-time.After(10 * time.Second):
			t.Fatal("no monitor line within 10 s")
		}
		return ""
	}
	if l := next(); l != "OK" {
		t.Fatalf("first line %q", l)
	}
	client := func(d devapi.PlaneDatabase) *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", d.Port), Password: d.Password, Protocol: 2, DisableIdentity: true})
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	ca, cb := client(a), client(b)
	if err := ca.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := cb.Set(ctx, "other-db", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Status(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := devapi.CollectSnapshot(ctx, p, "a"); err != nil { // SCAN, TYPE, GET... as the admin user
		t.Fatal(err)
	}
	if err := p.SetPassword(ctx, "a", "pw-a-new", 2); err != nil {
		t.Fatal(err)
	}
	if err := ca.Get(ctx, "sentinel").Err(); err != redis.Nil { // still authenticated
		t.Fatal(err)
	}
	var got []string
	for {
		l := next()
		got = append(got, l)
		if strings.HasSuffix(l, `"get" "sentinel"`) {
			break
		}
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{`"auth" "(redacted)"`, `"set" "k" "v"`} {
		if !strings.Contains(all, want) {
			t.Errorf("monitor does not show %s:\n%s", want, all)
		}
	}
	for _, never := range []string{"other-db", "pw-a", `"info"`, `"acl"`, `"client"`, `"config"`, `"scan"`, `"type"`, `"ping"`} {
		if strings.Contains(strings.ToLower(all), never) {
			t.Errorf("monitor shows %s:\n%s", never, all)
		}
	}
	if err := p.Monitor(ctx, "nope", func(string) error { return nil }); devapi.ErrorCode(err) != devapi.ENOTFOUND {
		t.Errorf("Monitor of a database without a server: %v, want ENOTFOUND", err)
	}
}
