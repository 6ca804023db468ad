package storetest

import (
	"testing"

	"github.com/devapi-dev/devapi"
)

// RunShared runs the tests that need two handles on one store, as two
// processes or two devapi replicas open it: what one commits, the other must
// see. open is called once per subtest and returns n handles (n is 2) on
// one new, empty store, with separate connections and separate caches; it
// closes them when the subtest ends.
func RunShared(t *testing.T, open func(t *testing.T, n int) []devapi.Store) {
	for _, tt := range sharedTests {
		t.Run(tt.name, func(t *testing.T) {
			handles := open(t, 2)
			if len(handles) != 2 {
				t.Fatalf("open returned %d handles, want 2", len(handles))
			}
			tt.fn(t, handles[0], handles[1])
		})
	}
}

var sharedTests = []struct {
	name string
	fn   func(t *testing.T, a, b devapi.Store)
}{
	// A key that b has authenticated (and may have cached) and that a
	// deletes is refused by b's very next Authenticate.
	{"RevokedKey", func(t *testing.T, a, b devapi.Store) {
		mustCreateAccount(t, a, "a@example.com", at(1))
		k := mustAddKey(t, a, "a@example.com", "k1", at(2))
		kept := mustAddKey(t, a, "a@example.com", "k2", at(3))
		for range 3 {
			mustAuthenticate(t, b, "a@example.com", k.Hash)
			mustAuthenticate(t, b, "a@example.com", kept.Hash)
		}
		if err := a.DeleteAPIKey(t.Context(), "a@example.com", k.ID); err != nil {
			t.Fatalf("DeleteAPIKey: %v", err)
		}
		_, err := b.Authenticate(t.Context(), "a@example.com", k.Hash)
		wantCode(t, err, devapi.EUNAUTHORIZED)
		mustAuthenticate(t, b, "a@example.com", kept.Hash)
		// Unrelated commits of a (here, another key) leave the revocation in force.
		mustAddKey(t, a, "a@example.com", "k3", at(4))
		_, err = b.Authenticate(t.Context(), "a@example.com", k.Hash)
		wantCode(t, err, devapi.EUNAUTHORIZED)
	}},
	// Deleting an account (a team's) revokes its keys, as seen from b.
	{"DeletedAccount", func(t *testing.T, a, b devapi.Store) {
		mustCreateAccount(t, a, "owner@example.com", at(1))
		team := &devapi.Team{ID: "team-1", Name: "t", CreatedAt: at(2)}
		if err := a.CreateTeam(t.Context(), team, "owner@example.com"); err != nil {
			t.Fatalf("CreateTeam: %v", err)
		}
		k := mustAddKey(t, a, "team-1", "k1", at(3))
		mustAuthenticate(t, b, "team-1", k.Hash)
		if err := a.DeleteTeam(t.Context(), "team-1"); err != nil {
			t.Fatalf("DeleteTeam: %v", err)
		}
		_, err := b.Authenticate(t.Context(), "team-1", k.Hash)
		wantCode(t, err, devapi.EUNAUTHORIZED)
	}},
	// A key that b has cached and a deletes proves nothing to b's reset:
	// the write checks the key itself, so b changes nothing.
	{"RevokedKeyReset", func(t *testing.T, a, b devapi.Store) {
		mustCreateAccount(t, a, "a@example.com", at(1))
		k := mustAddKey(t, a, "a@example.com", "k1", at(2))
		d := NewDatabase("db-1", "a@example.com", at(3))
		mustCreateDatabase(t, a, d)
		mustAuthenticate(t, b, "a@example.com", k.Hash)
		if _, err := b.SetCredentialsAsKey(t.Context(), "a@example.com", k.Hash, "db-1", devapi.Credentials{Password: "p2"}); err != nil {
			t.Fatalf("SetCredentialsAsKey before the revocation: %v", err)
		}
		if err := a.DeleteAPIKey(t.Context(), "a@example.com", k.ID); err != nil {
			t.Fatalf("DeleteAPIKey: %v", err)
		}
		_, err := b.SetCredentialsAsKey(t.Context(), "a@example.com", k.Hash, "db-1", devapi.Credentials{Password: "after-revocation"})
		wantCode(t, err, devapi.ENOTFOUND)
		got, err := a.Database(t.Context(), "a@example.com", "db-1")
		if err != nil {
			t.Fatalf("Database: %v", err)
		}
		if got.Password != "p2" {
			t.Errorf("password after a revoked key's reset = %q, want p2", got.Password)
		}
	}},
	// A key cached for one email is not good for another.
	{"CachedKeyOtherEmail", func(t *testing.T, a, b devapi.Store) {
		mustCreateAccount(t, a, "a@example.com", at(1))
		mustCreateAccount(t, a, "b@example.com", at(1))
		k := mustAddKey(t, a, "a@example.com", "k1", at(2))
		mustAuthenticate(t, b, "a@example.com", k.Hash)
		_, err := b.Authenticate(t.Context(), "b@example.com", k.Hash)
		wantCode(t, err, devapi.EUNAUTHORIZED)
	}},
}

func mustAuthenticate(tb testing.TB, s devapi.Store, email, keyHash string) {
	tb.Helper()
	got, err := s.Authenticate(tb.Context(), email, keyHash)
	if err != nil {
		tb.Fatalf("Authenticate %s: %v", email, err)
	}
	if got.Email != email {
		tb.Fatalf("Authenticate %s = account %s", email, got.Email)
	}
}
