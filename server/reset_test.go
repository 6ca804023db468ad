package server_test

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/gen"
	"github.com/devapi-dev/devapi/server"
)

// readCounter is the real store, counting the reads and the credential
// writes reset-password makes.
type readCounter struct {
	devapi.Store
	reads, writes atomic.Int64
}

func (s *readCounter) Database(ctx context.Context, owner, id string) (*devapi.Database, error) {
	s.reads.Add(1)
	return s.Store.Database(ctx, owner, id)
}

func (s *readCounter) SetCredentials(ctx context.Context, owner, id string, c devapi.Credentials) (*devapi.Database, error) {
	s.writes.Add(1)
	return s.Store.SetCredentials(ctx, owner, id, c)
}

func (s *readCounter) SetCredentialsAsKey(ctx context.Context, owner, keyHash, id string, c devapi.Credentials) (*devapi.Database, error) {
	s.writes.Add(1)
	return s.Store.SetCredentialsAsKey(ctx, owner, keyHash, id, c)
}

// tokenPort is the port a REST token carries (bytes 1 and 2 of its
// decoded form, see devapi.NewRestTokens).
func tokenPort(t *testing.T, token string) int {
	t.Helper()
	b, err := base64.URLEncoding.DecodeString(token)
	if err != nil || len(b) < 3 {
		t.Fatalf("token %q does not decode: %v", token, err)
	}
	return int(binary.BigEndian.Uint16(b[1:3]))
}

// TestResetPasswordOneStoreWrite: after a database's first reset, a reset
// is one store write and no read, and its tokens carry the database's port.
func TestResetPasswordOneStoreWrite(t *testing.T) {
	var counter *readCounter
	s := newStack(t, planeKinds(t)[0], t.TempDir(), func(c *server.Config) {
		counter = &readCounter{Store: c.Store}
		c.Store = counter
	})
	db := s.create("one-write", false)
	s.reset(db.DatabaseId)
	reads, writes := counter.reads.Load(), counter.writes.Load()
	for range 3 {
		got := s.reset(db.DatabaseId)
		if p := tokenPort(t, got.RestToken); p != int(db.Port) {
			t.Errorf("rest token carries port %d, want %d", p, db.Port)
		}
		if p := tokenPort(t, got.ReadOnlyRestToken); p != int(db.Port) {
			t.Errorf("read-only rest token carries port %d, want %d", p, db.Port)
		}
	}
	if n := counter.reads.Load() - reads; n != 0 {
		t.Errorf("3 resets read the database %d times, want 0", n)
	}
	if n := counter.writes.Load() - writes; n != 3 {
		t.Errorf("3 resets wrote credentials %d times, want 3", n)
	}
}

// TestResetPasswordStalePort: a port remembered from an earlier reset that
// the stored database no longer has (changed here behind the server's back)
// does not reach the tokens: the reset stores tokens for the stored port.
func TestResetPasswordStalePort(t *testing.T) {
	s := newStack(t, planeKinds(t)[0], t.TempDir())
	db := s.create("stale-port", false)
	s.reset(db.DatabaseId)
	const moved = 24999
	if _, err := rawStore(t, s).ExecContext(t.Context(), `UPDATE databases SET port = ? WHERE id = ?`, moved, db.DatabaseId); err != nil {
		t.Fatal(err)
	}
	got := s.reset(db.DatabaseId)
	if p := tokenPort(t, got.RestToken); p != moved {
		t.Errorf("rest token carries port %d, want the stored %d", p, moved)
	}
	stored, err := s.store.Database(t.Context(), email, db.DatabaseId)
	if err != nil {
		t.Fatal(err)
	}
	if stored.RestToken != got.RestToken || tokenPort(t, stored.ReadOnlyRestToken) != moved {
		t.Errorf("stored tokens are not the answer's for port %d", moved)
	}
	// The tokens made again for the stored port keep the reset's password.
	if full, _ := base64.URLEncoding.DecodeString(got.RestToken); !strings.HasSuffix(string(full), got.Password) || stored.Password != got.Password {
		t.Errorf("rest token % x does not carry the password %q", full, got.Password)
	}
}

// TestResetWithRevokedKey: reset-password takes its account from the key
// cache without asking the store, and proves the key in its one write. A
// key removed after it was cached therefore answers 401 and changes
// nothing: for a database it has reset before, for one whose port this
// process has not read yet, and for one that does not exist (401, not 404:
// a removed key learns nothing about the databases).
func TestResetWithRevokedKey(t *testing.T) {
	s := newStack(t, planeKinds(t)[0], t.TempDir())
	const second = "planes-second-key-0123456789abcdef"
	k := &devapi.APIKey{ID: "second", Email: email, Name: "second", Hash: devapi.HashAPIKey(second), CreatedAt: time.Now()}
	if err := s.store.AddAPIKey(t.Context(), k); err != nil {
		t.Fatal(err)
	}
	client, err := gen.NewClientWithResponses(s.app.APIURL()+"/v2", gen.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
		req.SetBasicAuth(email, second)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	used, fresh := s.create("used", false), s.create("fresh", false)
	resp, err := client.ResetPasswordWithResponse(t.Context(), used.DatabaseId)
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("reset with the second key before its removal: %v %d %s", err, resp.StatusCode(), resp.Body)
	}
	if _, ok := s.store.CachedAccount(email, k.Hash); !ok {
		t.Fatal("the second key is not cached after a reset")
	}
	before := map[string]string{used.DatabaseId: s.stored(used.DatabaseId).Password, fresh.DatabaseId: s.stored(fresh.DatabaseId).Password}
	if err := s.store.DeleteAPIKey(t.Context(), email, k.ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{used.DatabaseId, fresh.DatabaseId, "no-such-database"} {
		resp, err := client.ResetPasswordWithResponse(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode() != http.StatusUnauthorized || resp.JSON401 == nil || resp.HTTPResponse.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("reset of %s with a removed key: %d %s, want 401 with WWW-Authenticate", id, resp.StatusCode(), resp.Body)
		}
		if want, ok := before[id]; ok {
			if got := s.stored(id).Password; got != want {
				t.Errorf("%s: password changed by a removed key's reset", id)
			}
		}
		// The refusal asked Authenticate, which dropped the stale entry:
		// the removed key reaches nothing past authentication again (the
		// account's rate limit included).
		if _, ok := s.store.CachedAccount(email, k.Hash); ok {
			t.Errorf("after a refused reset of %s the removed key is still cached", id)
		}
	}
	// The account's own key goes on working.
	s.reset(used.DatabaseId)
}
