package redisserverplane_test

import (
	"testing"
	"time"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/planetest"
)

// TestMonitor: Monitor shows the commands of the database's clients, with
// AUTH redacted, and none of devapi-admin's (a status, a backup, a password
// change), nor another database's (planetest.CheckMonitor); it ends when the
// database is removed.
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
	res := planetest.CheckMonitor(t, p, dbs[0], dbs[1])
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
