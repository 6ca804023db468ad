// Package pgtest gives tests a PostgreSQL database of their own on the server
// named by DEVAPI_TEST_PG. `go test ./...` runs packages in parallel, so
// tests never share a database.
//
// Without DEVAPI_TEST_PG a test that asks for one is skipped with a line
// saying how to run it, or fails when CI=true. pgstore/ci-start.sh starts a
// local PostgreSQL and prints a value for it.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// EnvURL is the environment variable that names the test server: a URL of a
// role that may create databases, such as
// postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable.
const EnvURL = "DEVAPI_TEST_PG"

// AdminURL returns the URL in DEVAPI_TEST_PG, skipping the test (failing it
// under CI=true) when it is unset.
func AdminURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		const msg = EnvURL + " not set: set it to a PostgreSQL URL such as " +
			"postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable (pgstore/ci-start.sh starts one and prints it)"
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return u
}

// NewDatabase creates an empty database for the test, dropped (with every
// connection to it) when the test ends, and returns its URL.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	admin := AdminURL(tb)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	name := "devapi_test_" + hex.EncodeToString(b)

	ctx := context.Background()
	exec := func(sql string) error {
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			return err
		}
		defer func() { _ = conn.Close(ctx) }()
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec("CREATE DATABASE " + name); err != nil {
		tb.Fatalf("create database %s on %s: %v", name, EnvURL, err)
	}
	tb.Cleanup(func() {
		if err := exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			tb.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		tb.Fatalf("parse %s: %v", EnvURL, err)
	}
	u.Path = "/" + name
	return u.String()
}
