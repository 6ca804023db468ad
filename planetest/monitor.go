package planetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi"
)

// PlaneMonitorer is a plane that monitors: what CheckMonitor checks.
type PlaneMonitorer interface {
	devapi.Plane
	devapi.Monitorer
}

// CheckMonitor checks the Monitor of a plane that runs MONITOR on a real
// Redis server as its admin user (the redis-server and pool planes), on
// database a, which p serves with b: after "OK" it shows the commands of
// a's clients, with AUTH redacted, and none of devapi's admin commands (a
// status, a backup, a password change) nor b's. The monitor keeps running
// until the test ends; the returned channel gets Monitor's result when it
// ends before that (a caller that removes a can check how).
func CheckMonitor(t *testing.T, p PlaneMonitorer, a, b devapi.PlaneDatabase) <-chan error {
	t.Helper()
	ctx := t.Context()
	lines := make(chan string, 1000)
	mctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	res := make(chan error, 1)
	wg.Go(func() { res <- p.Monitor(mctx, a.ID, func(l string) error { lines <- l; return nil }) })
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
	if _, err := p.Status(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := devapi.CollectSnapshot(ctx, p, a.ID); err != nil { // SCAN, TYPE, GET... as the admin user
		t.Fatal(err)
	}
	if err := p.SetPassword(ctx, a.ID, a.Password+"-new", a.Generation+1); err != nil {
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
	for _, never := range []string{"other-db", strings.ToLower(a.Password), `"info"`, `"acl"`, `"client"`, `"config"`, `"scan"`, `"type"`, `"ping"`} {
		if strings.Contains(strings.ToLower(all), never) {
			t.Errorf("monitor shows %s:\n%s", never, all)
		}
	}
	return res
}
