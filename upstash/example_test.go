package upstash_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi/devapitest"
	"github.com/devapi-dev/devapi/upstash"
)

// New makes a client for Upstash itself, or for a devapi serve on this
// machine.
func ExampleNew() {
	// Upstash: the credentials Upstash's own tools read.
	c, err := upstash.New(os.Getenv("UPSTASH_EMAIL"), os.Getenv("UPSTASH_API_KEY"))
	if err != nil {
		log.Fatal(err)
	}

	// devapi serve: the same client, aimed at http://127.0.0.1:8080.
	c, err = upstash.New(os.Getenv("UPSTASH_EMAIL"), os.Getenv("UPSTASH_API_KEY"),
		upstash.WithBaseURL("http://127.0.0.1:8080"),
		upstash.WithUserAgent("my-tool/1.0"))
	if err != nil {
		log.Fatal(err)
	}

	dbs, err := c.ListDatabases(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	for _, db := range dbs {
		fmt.Println(db.Name, db.Endpoint, db.Port)
	}
}

// Rotate a database's password, then reconnect with go-redis. Connections
// opened after the answer need the new password; the old one is refused.
func ExampleClient_ResetPassword() {
	// An in-process devapi; against Upstash, make the client with upstash.New.
	s, err := devapitest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	ctx := context.Background()
	c := s.Client

	db, err := c.CreateDatabase(ctx, upstash.CreateDatabaseRequest{Name: "sessions", PrimaryRegion: "us-east-1"})
	if err != nil {
		log.Fatal(err)
	}
	connect := func(password string) *redis.Client {
		return redis.NewClient(&redis.Options{
			Addr:     net.JoinHostPort(db.Endpoint, strconv.Itoa(db.Port)),
			Password: password,
			// Databases speak TLS; devapi's CA signs their certificates (on
			// Upstash, leave RootCAs nil).
			TLSConfig: &tls.Config{RootCAs: s.CAPool, ServerName: db.Endpoint, MinVersion: tls.VersionTLS12},
		})
	}
	before := connect(db.Password)
	defer func() { _ = before.Close() }()
	if err := before.Set(ctx, "session:1", "alice", 0).Err(); err != nil {
		log.Fatal(err)
	}

	rotated, err := c.ResetPassword(ctx, db.ID)
	if err != nil {
		// Not retried: if this timed out, the reset may have happened. Ask
		// c.GetDatabase for the password that is in force.
		log.Fatal(err)
	}

	stale := connect(db.Password)
	defer func() { _ = stale.Close() }()
	fmt.Println("old password refused:", redis.IsAuthError(stale.Ping(ctx).Err()))

	fresh := connect(rotated.Password)
	defer func() { _ = fresh.Close() }()
	v, err := fresh.Get(ctx, "session:1").Result()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("session:1 =", v)
	// Output:
	// old password refused: true
	// session:1 = alice
}

// Rotate a database's password, then reconnect through the REST API
// (UPSTASH_REDIS_REST_URL): the REST tokens change with the password.
func ExampleClient_ResetPassword_rest() {
	s, err := devapitest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	ctx := context.Background()
	c := s.Client

	db, err := c.CreateDatabase(ctx, upstash.CreateDatabaseRequest{Name: "greetings", PrimaryRegion: "us-east-1"})
	if err != nil {
		log.Fatal(err)
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	// rest sends one command as a JSON array, as @upstash/redis does.
	rest := func(token string, command ...string) string {
		body, _ := json.Marshal(command)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.RestURL, bytes.NewReader(body))
		if err != nil {
			log.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := hc.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		answer, _ := io.ReadAll(resp.Body)
		return fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(answer))
	}

	fmt.Println("set:", rest(db.RestToken, "SET", "greeting", "hello"))
	rotated, err := c.ResetPassword(ctx, db.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("old token:", rest(db.RestToken, "GET", "greeting"))
	fmt.Println("new token:", rest(rotated.RestToken, "GET", "greeting"))
	// Output:
	// set: 200 {"result":"OK"}
	// old token: 401 {"error":"WRONGPASS invalid or missing auth token"}
	// new token: 200 {"result":"hello"}
}

// Errors are matched with errors.Is; errors.As gives the status and the
// API's message.
func ExampleAPIError() {
	s, err := devapitest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	ctx := context.Background()

	_, err = s.Client.GetDatabase(ctx, "no-such-id", false)
	fmt.Println("not found:", errors.Is(err, upstash.ErrNotFound))
	var apiErr *upstash.APIError
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.StatusCode, apiErr.Message)
	}

	db, err := s.Client.CreateDatabase(ctx, upstash.CreateDatabaseRequest{Name: "cache", PrimaryRegion: "us-east-1", Eviction: true})
	if err != nil {
		log.Fatal(err)
	}
	err = s.Client.EnableEviction(ctx, db.ID)
	fmt.Println("already enabled:", errors.Is(err, upstash.ErrAlreadyEnabled))
	fmt.Println(err)

	wrong, err := upstash.New(s.Email, "not-the-key", upstash.WithBaseURL(s.URL))
	if err != nil {
		log.Fatal(err)
	}
	_, err = wrong.ListDatabases(ctx)
	fmt.Println("unauthorized:", errors.Is(err, upstash.ErrUnauthorized))
	// Output:
	// not found: true
	// 404 database not found
	// already enabled: true
	// upstash: enable eviction: 400 bad request: eviction already enabled
	// unauthorized: true
}
