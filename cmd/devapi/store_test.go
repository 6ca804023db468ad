package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devapi-dev/devapi/pgstore/pgtest"
)

// TestStorePasswordNeverOnCommandLine: a store URL with a password is
// refused on the command line, where ps shows it, and the refusal does not
// repeat the password.
func TestStorePasswordNeverOnCommandLine(t *testing.T) {
	u := &cliUser{t: t}
	const secret = "s3cret-pw"
	for _, args := range [][]string{
		{"serve", "--data", t.TempDir(), "--store", "postgres://devapi:" + secret + "@127.0.0.1:1/devapi", "--plane", "pool"},
		{"accounts", "list", "--data", t.TempDir(), "--store", "postgres://devapi:" + secret + "@127.0.0.1:1/devapi"},
	} {
		r := u.run(args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, envStore) {
			t.Errorf("devapi %s: exit %d, stderr %q; want exit 2 pointing to %s", args[0], r.code, r.stderr, envStore)
		}
		if strings.Contains(r.stdout+r.stderr, secret) {
			t.Errorf("devapi %s repeats the password: %s", args[0], r.stderr)
		}
	}
}

// TestSharedStoreRefusesLocalPlanes: replicas on one PostgreSQL would each
// start a Redis for every database with a process-local plane.
func TestSharedStoreRefusesLocalPlanes(t *testing.T) {
	for _, plane := range []string{"embedded", "redis-server"} {
		u := &cliUser{t: t, env: []string{envStore + "=postgres://devapi:pw@127.0.0.1:1/devapi"}}
		r := u.run("serve", "--data", t.TempDir(), "--addr", freeAddr(t), "--rest-addr", freeAddr(t), "--plane", plane)
		if r.code != exitUsage || !strings.Contains(r.stderr, "--plane pool") {
			t.Errorf("--plane %s on PostgreSQL: exit %d, stderr %q; want exit 2 naming --plane pool", plane, r.code, r.stderr)
		}
	}
}

// TestAccountsOnPostgres runs the accounts commands on a real PostgreSQL,
// with the URL from a file and from the environment.
func TestAccountsOnPostgres(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	file := filepath.Join(t.TempDir(), "store-url")
	if err := os.WriteFile(file, []byte("# devapi's store\n\n"+dbURL+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	u := &cliUser{t: t}
	key := u.ok("accounts", "create", "pg@example.com", "--data", t.TempDir(), "--store-file", file)
	if strings.TrimSpace(key) == "" {
		t.Fatal("accounts create printed no key")
	}
	env := &cliUser{t: t, env: []string{envStore + "=" + dbURL}}
	if out := env.ok("accounts", "list", "--data", t.TempDir()); !strings.Contains(out, "pg@example.com") {
		t.Errorf("accounts list from %s does not show the account made through --store-file:\n%s", envStore, out)
	}

	// A wrong password is reported without the password.
	wrong := strings.Replace(dbURL, "postgres:postgres@", "postgres:wrong-pw-123@", 1)
	if wrong == dbURL {
		t.Skip("the test server's URL has no postgres:postgres credentials to alter")
	}
	r := (&cliUser{t: t, env: []string{envStore + "=" + wrong}}).run("accounts", "list", "--data", t.TempDir())
	if r.code == 0 || strings.Contains(r.stdout+r.stderr, "wrong-pw-123") {
		t.Errorf("wrong password: exit %d, output %q; want a failure that does not repeat the password", r.code, r.stdout+r.stderr)
	}
}
