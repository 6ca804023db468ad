package poolplane_test

import (
	"testing"

	"github.com/devapi-dev/devapi/pgstore"
	"github.com/devapi-dev/devapi/pgstore/pgtest"
	"github.com/devapi-dev/devapi/poolplane"
)

// openPG opens a pgstore on u, closed when the test ends.
func openPG(tb testing.TB, u string) *pgstore.Store {
	tb.Helper()
	s, err := pgstore.Open(tb.Context(), u)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// TestReplicasOnPostgreSQL is TestReplicasEndOnNewestPassword with the
// store of a real multi-replica deployment: two pgstore handles on one
// PostgreSQL database, each a replica's own connections, and three
// replicas.
func TestReplicasOnPostgreSQL(t *testing.T) {
	needRedisServer(t)
	u := pgtest.NewDatabase(t)
	servers := []poolplane.ServerSpec{startServer(t, nil)}
	replicas := []*poolplane.Plane{
		openPlane(t, servers, nil, openPG(t, u)),
		openPlane(t, servers, nil, openPG(t, u)),
		openPlane(t, servers, nil, openPG(t, u)),
	}
	checkNewestWins(t, replicas, servers[0])
}
