package devapitest_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"log"
	"net"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi/devapitest"
	"github.com/devapi-dev/devapi/upstash"
)

// TestRotateExample is a user's test, written only against the exported
// API: it starts a server, rotates a database's password through the SDK and
// connects to the database with go-redis.
func TestRotateExample(t *testing.T) {
	s := devapitest.NewServer(t)
	ctx := t.Context()

	db, err := s.Client.CreateDatabase(ctx, upstash.CreateDatabaseRequest{Name: "cache", PrimaryRegion: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	connect := func(password string) *redis.Client {
		rdb := redis.NewClient(&redis.Options{
			Addr:      net.JoinHostPort(db.Endpoint, strconv.Itoa(db.Port)),
			Password:  password,
			TLSConfig: &tls.Config{RootCAs: s.CAPool, ServerName: db.Endpoint},
		})
		t.Cleanup(func() { _ = rdb.Close() })
		return rdb
	}
	if err := connect(db.Password).Set(ctx, "greeting", "hello", 0).Err(); err != nil {
		t.Fatal(err)
	}

	rotated, err := s.Client.ResetPassword(ctx, db.ID)
	if err != nil {
		t.Fatal(err)
	}

	if err := connect(db.Password).Ping(ctx).Err(); !redis.IsAuthError(err) {
		t.Fatalf("old password: got %v, want it refused", err)
	}
	got, err := connect(rotated.Password).Get(ctx, "greeting").Result()
	if err != nil || got != "hello" {
		t.Fatalf("new password: GET = %q, %v; want hello", got, err)
	}
}

// Start runs a server outside a test, for examples and programs; Close
// stops it and removes its files.
func ExampleStart() {
	s, err := devapitest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = s.Close() }()

	db, err := s.Client.CreateDatabase(context.Background(), upstash.CreateDatabaseRequest{Name: "orders", PrimaryRegion: "us-east-1"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(db.Name, db.State, db.TLS)
	// Output: orders active true
}
