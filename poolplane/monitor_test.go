package poolplane_test

import (
	"testing"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/planetest"
	"github.com/devapi-dev/devapi/poolplane"
)

// TestMonitor: Monitor shows the commands of the database's clients on its
// pool server, with AUTH redacted, and none of devapi's admin commands (a
// status, a backup, a password change), nor another database's
// (planetest.CheckMonitor); a database without a server is ENOTFOUND.
func TestMonitor(t *testing.T) {
	needRedisServer(t)
	servers := []poolplane.ServerSpec{startServer(t, nil), startServer(t, nil)}
	p := openPlane(t, servers, nil, openStore(t, t.TempDir()+"/devapi.db"))
	a := servePlaced(t, p, "a", "pw-a")
	b := servePlaced(t, p, "b", "pw-b")
	planetest.CheckMonitor(t, p, a, b)
	if err := p.Monitor(t.Context(), "nope", func(string) error { return nil }); devapi.ErrorCode(err) != devapi.ENOTFOUND {
		t.Errorf("Monitor of a database without a server: %v, want ENOTFOUND", err)
	}
}
