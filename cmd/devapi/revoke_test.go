package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Revocation of API keys while devapi serves: the stores cache keys, and
// these tests prove that a key deleted by another process (the CLI, or the
// CLI on the PostgreSQL store that replicas share) is refused by the next
// request, after the key has been used (and so cached) on every server.

const revokeEmail = "revoke@example.com"

// newKey creates an account (unless create is false) or adds a key to it
// through the CLI, and returns the key and its id.
func newKey(t *testing.T, u *cliUser, data, name string, create bool) (key, id string) {
	t.Helper()
	verb := "add-key"
	if create {
		verb = "create"
	}
	out := u.ok("accounts", verb, revokeEmail, "--name", name, "--data", data)
	for line := range strings.Lines(out) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "UPSTASH_API_KEY="); ok {
			key = v
		}
	}
	for line := range strings.Lines(u.ok("accounts", "list", "--data", data)) {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == revokeEmail && f[2] == name {
			id = f[1]
		}
	}
	if key == "" || id == "" {
		t.Fatalf("accounts %s: no key or no key id in\n%s", verb, out)
	}
	return key, id
}

// statusAs answers GET /v2/redis/databases on p with key's credentials.
func statusAs(t *testing.T, p *proc, key string) int {
	t.Helper()
	status, _ := callAs(t, p, key, http.MethodGet, "/v2/redis/databases", "")
	return status
}

// callAs sends method path to p with key's credentials and returns the
// status and the body.
func callAs(t *testing.T, p *proc, key, method, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, p.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(revokeEmail, key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// revokeDB is what the revocation tests read of a database.
type revokeDB struct {
	ID       string `json:"database_id"`
	Password string `json:"password"`
}

// createAs creates a database on p with key and returns it.
func createAs(t *testing.T, p *proc, key, name string) revokeDB {
	t.Helper()
	status, b := callAs(t, p, key, http.MethodPost, "/v2/redis/database",
		`{"name":"`+name+`","platform":"aws","primary_region":"us-east-1","plan":"free"}`)
	var d revokeDB
	if status != http.StatusOK || json.Unmarshal(b, &d) != nil || d.ID == "" {
		t.Fatalf("create database: %d %s", status, b)
	}
	return d
}

// resetAs resets db's password on p with key and returns the status and
// the new password (empty unless 200).
func resetAs(t *testing.T, p *proc, key, id string) (int, string) {
	t.Helper()
	status, b := callAs(t, p, key, http.MethodPost, "/v2/redis/reset-password/"+id, "")
	var d revokeDB
	if status == http.StatusOK {
		if err := json.Unmarshal(b, &d); err != nil || d.Password == "" {
			t.Fatalf("reset-password answer: %s", b)
		}
	}
	return status, d.Password
}

// passwordAs reads db's stored password on p with key.
func passwordAs(t *testing.T, p *proc, key, id string) string {
	t.Helper()
	status, b := callAs(t, p, key, http.MethodGet, "/v2/redis/database/"+id, "")
	var d revokeDB
	if status != http.StatusOK || json.Unmarshal(b, &d) != nil {
		t.Fatalf("get database: %d %s", status, b)
	}
	return d.Password
}

// TestRevokedKeyThroughCLI: `devapi accounts delete-key`, run while serve
// runs on the same SQLite store, makes the next request with that key 401,
// while the account's other key goes on working.
func TestRevokedKeyThroughCLI(t *testing.T) {
	data := t.TempDir()
	p := serve(t, data, "embedded")
	u := &cliUser{t: t}
	key, id := newKey(t, u, data, "revoked", true)
	kept, _ := newKey(t, u, data, "kept", false)
	db := createAs(t, p, kept, "revoke")
	var last string
	for range 3 {
		for _, k := range []string{key, kept} {
			if got := statusAs(t, p, k); got != http.StatusOK {
				t.Fatalf("request with a valid key: %d, want 200", got)
			}
			// reset-password takes its account from the key cache and
			// proves the key in its write: cache it there too.
			status, password := resetAs(t, p, k, db.ID)
			if status != http.StatusOK {
				t.Fatalf("reset-password with a valid key: %d, want 200", status)
			}
			last = password
		}
	}
	u.ok("accounts", "delete-key", revokeEmail, id, "--data", data)
	if status, _ := resetAs(t, p, key, db.ID); status != http.StatusUnauthorized {
		t.Errorf("first reset-password after delete-key: %d, want 401", status)
	}
	if got := passwordAs(t, p, kept, db.ID); got != last {
		t.Errorf("password after a revoked key's reset-password = %q, want it unchanged (%q)", got, last)
	}
	if got := statusAs(t, p, key); got != http.StatusUnauthorized {
		t.Errorf("first request after delete-key: %d, want 401", got)
	}
	if got := statusAs(t, p, kept); got != http.StatusOK {
		t.Errorf("request with the account's other key: %d, want 200", got)
	}
	if status, _ := resetAs(t, p, kept, db.ID); status != http.StatusOK {
		t.Errorf("reset-password with the account's other key: %d, want 200", status)
	}
}

// TestRevokedKeyThroughReplica: two replicas on one PostgreSQL store; a key
// used through both is deleted by another process on the store (the CLI,
// as replica A would); the next request through replica B is 401, and so
// is the next through A.
func TestRevokedKeyThroughReplica(t *testing.T) {
	ps, _, storeURL := replicas(t, 2, 1)
	u := &cliUser{t: t, env: []string{envStore + "=" + storeURL}}
	data := t.TempDir()
	key, id := newKey(t, u, data, "revoked", true)
	kept, _ := newKey(t, u, data, "kept", false)
	db := createAs(t, ps[0], kept, "revoke")
	var last string
	for range 3 {
		for i, p := range ps {
			if got := statusAs(t, p, key); got != http.StatusOK {
				t.Fatalf("replica %d, request with a valid key: %d, want 200", i+1, got)
			}
			status, password := resetAs(t, p, key, db.ID)
			if status != http.StatusOK {
				t.Fatalf("replica %d, reset-password with a valid key: %d, want 200", i+1, status)
			}
			last = password
		}
	}
	u.ok("accounts", "delete-key", revokeEmail, id, "--data", data)
	for _, i := range []int{1, 0} {
		if status, _ := resetAs(t, ps[i], key, db.ID); status != http.StatusUnauthorized {
			t.Errorf("replica %d, first reset-password after delete-key: %d, want 401", i+1, status)
		}
		if got := statusAs(t, ps[i], key); got != http.StatusUnauthorized {
			t.Errorf("replica %d, first request after delete-key: %d, want 401", i+1, got)
		}
	}
	if got := passwordAs(t, ps[1], kept, db.ID); got != last {
		t.Errorf("password after a revoked key's reset-password = %q, want it unchanged (%q)", got, last)
	}
}
