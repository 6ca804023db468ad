package redisserverplane_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/planetest"
)

// TestMonitor: Monitor shows the commands of the database's clients, with
// AUTH redacted, and none of devapi-admin's (a status, a backup, a password
// change), nor another database's; it ends when the database is removed.
func TestMonitor(t *testing.T) {
	needRedisServer(t)
	p := open(t, t.TempDir(), devapi.PlaneConfig{})
	ctx := t.Context()
	var dbs []devapi.PlaneDatabase
	for _, id := range []string{"a", "b"} {
		d := devapi.PlaneDatabase{ID: id, Port: planetest.FreePort(t), Password: "pw-" + id, Generation: 1}
		if err := p.Serve(ctx, d); err != nil {
			t.Fatal(err)
		}
		dbs = append(dbs, d)
	}
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
	ca, cb := client(dbs[0]), client(dbs[1])
	if err := ca.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := cb.Set(ctx, "other-db", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Status(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := devapi.CollectSnapshot(ctx, p, "a"); err != nil {
		t.Fatal(err)
	}
	if err := p.SetPassword(ctx, "a", "pw-a-new", 2); err != nil {
		t.Fatal(err)
	}
	if err := ca.Get(ctx, "sentinel").Err(); err != redis.Nil {
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
	if err := p.Remove(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-res:
		if devapi.ErrorCode(err) != devapi.EUNAVAILABLE {
			t.Errorf("Monitor of a removed database returned %v, want EUNAVAILABLE", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the monitor of a removed database did not end")
	}
	if err := p.Monitor(ctx, "a", func(string) error { return nil }); devapi.ErrorCode(err) != devapi.ENOTFOUND {
		t.Errorf("Monitor of a database not served: %v, want ENOTFOUND", err)
	}
}
