package poolplane_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/devapi-dev/devapi/pgstore"
	"github.com/devapi-dev/devapi/poolplane"
)

// pgDatabase creates a PostgreSQL database of its own for the test, on the
// server DEVAPI_TEST_PG names, dropped when the test ends, and returns its
// URL. Without DEVAPI_TEST_PG the test is skipped, or fails under CI=true.
func pgDatabase(tb testing.TB) string {
	tb.Helper()
	admin := os.Getenv("DEVAPI_TEST_PG")
	if admin == "" {
		const msg = "DEVAPI_TEST_PG not set: the pool plane test on PostgreSQL needs it (pgstore/ci-start.sh prints a URL)"
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	name := "devapi_pool_test_" + hex.EncodeToString(b)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		tb.Fatalf("connect to DEVAPI_TEST_PG: %v", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("create database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			tb.Errorf("connect to drop %s: %v", name, err)
			return
		}
		defer func() { _ = conn.Close(ctx) }()
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		tb.Fatalf("parse DEVAPI_TEST_PG: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

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
	u := pgDatabase(t)
	servers := []poolplane.ServerSpec{startServer(t, nil)}
	replicas := []*poolplane.Plane{
		openPlane(t, servers, nil, openPG(t, u)),
		openPlane(t, servers, nil, openPG(t, u)),
		openPlane(t, servers, nil, openPG(t, u)),
	}
	checkNewestWins(t, replicas, servers[0])
}
