package storetest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/devapi-dev/devapi"
)

// Run runs the conformance suite against the store open returns. open is
// called once per subtest and must return a new, empty store; Run closes it
// when the subtest ends and fails the subtest if Close fails.
//
// Stores must keep times to whole seconds at least.
func Run(t *testing.T, open func(t *testing.T) devapi.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Account", accountTests},
		{"APIKey", apiKeyTests},
		{"Authenticate", authenticateTests},
		{"Database", databaseTests},
		{"SetCredentials", setCredentialsTests},
		{"Setting", settingTests},
		{"Team", teamTests},
		{"Backup", backupTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tt := range g.tests {
				t.Run(tt.name, func(t *testing.T) {
					s := open(t)
					t.Cleanup(func() {
						if err := s.Close(); err != nil {
							t.Errorf("Close: %v", err)
						}
					})
					tt.fn(t, s)
				})
			}
		})
	}
}

type test struct {
	name string
	fn   func(t *testing.T, s devapi.Store)
}

// t0 is the time the suite's fixtures are stamped relative to.
var t0 = time.Date(2025, time.March, 14, 15, 9, 26, 0, time.UTC)

// at returns t0 plus n seconds.
func at(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }

var accountTests = []test{
	{"CreateAndList", func(t *testing.T, s devapi.Store) {
		// Created out of time order: the list must follow created_at.
		mustCreateAccount(t, s, "b@example.com", at(2))
		mustCreateAccount(t, s, "c@example.com", at(3))
		mustCreateAccount(t, s, "a@example.com", at(1))
		got, err := s.Accounts(t.Context())
		if err != nil {
			t.Fatalf("Accounts: %v", err)
		}
		want := []*devapi.Account{
			{Email: "a@example.com", CreatedAt: at(1)},
			{Email: "b@example.com", CreatedAt: at(2)},
			{Email: "c@example.com", CreatedAt: at(3)},
		}
		equalAccounts(t, got, want)
	}},
	{"Empty", func(t *testing.T, s devapi.Store) {
		got, err := s.Accounts(t.Context())
		if err != nil {
			t.Fatalf("Accounts: %v", err)
		}
		if len(got) != 0 {
			t.Errorf("Accounts of an empty store = %d accounts, want 0", len(got))
		}
	}},
	{"Duplicate", func(t *testing.T, s devapi.Store) {
		mustCreateAccount(t, s, "a@example.com", at(1))
		err := s.CreateAccount(t.Context(), &devapi.Account{Email: "a@example.com", CreatedAt: at(2)})
		wantCode(t, err, devapi.ECONFLICT)
		got, err := s.Accounts(t.Context())
		if err != nil {
			t.Fatalf("Accounts: %v", err)
		}
		equalAccounts(t, got, []*devapi.Account{{Email: "a@example.com", CreatedAt: at(1)}})
	}},
}

var apiKeyTests = []test{
	{"AddAndList", func(t *testing.T, s devapi.Store) {
		mustCreateAccount(t, s, "a@example.com", at(0))
		mustCreateAccount(t, s, "b@example.com", at(0))
		k2 := mustAddKey(t, s, "a@example.com", "k2", at(2))
		mustAddKey(t, s, "b@example.com", "kb", at(1))
		k1 := mustAddKey(t, s, "a@example.com", "k1", at(1))
		got, err := s.APIKeys(t.Context(), "a@example.com")
		if err != nil {
			t.Fatalf("APIKeys: %v", err)
		}
		equalKeys(t, got, []*devapi.APIKey{k1, k2})
	}},
	{"DuplicateHash", func(t *testing.T, s devapi.Store) {
		mustCreateAccount(t, s, "a@example.com", at(0))
		mustCreateAccount(t, s, "b@example.com", at(0))
		k := mustAddKey(t, s, "a@example.com", "k1", at(1))
		for _, email := range []string{"a@example.com", "b@example.com"} {
			dup := &devapi.APIKey{ID: "other-" + email, Email: email, Name: "dup", Hash: k.Hash, CreatedAt: at(2)}
			wantCode(t, s.AddAPIKey(t.Context(), dup), devapi.ECONFLICT)
		}
		got, err := s.APIKeys(t.Context(), "b@example.com")
		if err != nil {
			t.Fatalf("APIKeys: %v", err)
		}
		equalKeys(t, got, nil)
	}},
	{"UnknownAccount", func(t *testing.T, s devapi.Store) {
		k := newKey("nobody@example.com", "k", at(1))
		wantCode(t, s.AddAPIKey(t.Context(), k), devapi.ENOTFOUND)
	}},
	{"Delete", func(t *testing.T, s devapi.Store) {
		mustCreateAccount(t, s, "a@example.com", at(0))
		k1 := mustAddKey(t, s, "a@example.com", "k1", at(1))
		k2 := mustAddKey(t, s, "a@example.com", "k2", at(2))
		if err := s.DeleteAPIKey(t.Context(), "a@example.com", k1.ID); err != nil {
			t.Fatalf("DeleteAPIKey: %v", err)
		}
		got, err := s.APIKeys(t.Context(), "a@example.com")
		if err != nil {
			t.Fatalf("APIKeys: %v", err)
		}
		equalKeys(t, got, []*devapi.APIKey{k2})
	}},
	{"DeleteTwice", func(t *testing.T, s devapi.Store) {
		mustCreateAccount(t, s, "a@example.com", at(0))
		k := mustAddKey(t, s, "a@example.com", "k1", at(1))
		if err := s.DeleteAPIKey(t.Context(), "a@example.com", k.ID); err != nil {
			t.Fatalf("DeleteAPIKey: %v", err)
		}
		wantCode(t, s.DeleteAPIKey(t.Context(), "a@example.com", k.ID), devapi.ENOTFOUND)
	}},
	{"DeleteUnknown", func(t *testing.T, s devapi.Store) {
		mustCreateAccount(t, s, "a@example.com", at(0))
		wantCode(t, s.DeleteAPIKey(t.Context(), "a@example.com", "no-such-key"), devapi.ENOTFOUND)
	}},
	{"DeleteOtherAccount", func(t *testing.T, s devapi.Store) {
		mustCreateAccount(t, s, "a@example.com", at(0))
		mustCreateAccount(t, s, "b@example.com", at(0))
		k := mustAddKey(t, s, "a@example.com", "k1", at(1))
		wantCode(t, s.DeleteAPIKey(t.Context(), "b@example.com", k.ID), devapi.ENOTFOUND)
		got, err := s.APIKeys(t.Context(), "a@example.com")
		if err != nil {
			t.Fatalf("APIKeys: %v", err)
		}
		equalKeys(t, got, []*devapi.APIKey{k})
	}},
}

var authenticateTests = []test{
	{"OK", func(t *testing.T, s devapi.Store) {
		mustCreateAccount(t, s, "a@example.com", at(1))
		mustCreateAccount(t, s, "b@example.com", at(2))
		k1 := mustAddKey(t, s, "a@example.com", "k1", at(3))
		k2 := mustAddKey(t, s, "a@example.com", "k2", at(4))
		mustAddKey(t, s, "b@example.com", "kb", at(5))
		for _, k := range []*devapi.APIKey{k1, k2} {
			got, err := s.Authenticate(t.Context(), "a@example.com", k.Hash)
			if err != nil {
				t.Fatalf("Authenticate with key %s: %v", k.Name, err)
			}
			equalAccounts(t, []*devapi.Account{got}, []*devapi.Account{{Email: "a@example.com", CreatedAt: at(1)}})
		}
	}},
	{"WrongKey", func(t *testing.T, s devapi.Store) {
		mustCreateAccount(t, s, "a@example.com", at(1))
		mustAddKey(t, s, "a@example.com", "k1", at(2))
		_, err := s.Authenticate(t.Context(), "a@example.com", devapi.HashAPIKey(devapi.NewAPIKey()))
		wantCode(t, err, devapi.EUNAUTHORIZED)
	}},
	{"WrongEmail", func(t *testing.T, s devapi.Store) {
		mustCreateAccount(t, s, "a@example.com", at(1))
		mustCreateAccount(t, s, "b@example.com", at(1))
		k := mustAddKey(t, s, "a@example.com", "k1", at(2))
		for _, email := range []string{"b@example.com", "nobody@example.com", "A@example.com", ""} {
			_, err := s.Authenticate(t.Context(), email, k.Hash)
			wantCode(t, err, devapi.EUNAUTHORIZED)
		}
	}},
	{"CachedAccount", func(t *testing.T, s devapi.Store) {
		mustCreateAccount(t, s, "a@example.com", at(1))
		k := mustAddKey(t, s, "a@example.com", "k1", at(2))
		if a, ok := s.CachedAccount("a@example.com", k.Hash); ok {
			t.Fatalf("CachedAccount before any Authenticate = %v, want none", a)
		}
		mustAuthenticate(t, s, "a@example.com", k.Hash)
		a, ok := s.CachedAccount("a@example.com", k.Hash)
		if !ok || a.Email != "a@example.com" {
			t.Fatalf("CachedAccount after Authenticate = %v, %v; want a@example.com", a, ok)
		}
		if a, ok := s.CachedAccount("b@example.com", k.Hash); ok {
			t.Errorf("CachedAccount for another email = %v, want none", a)
		}
	}},
	{"DeletedKey", func(t *testing.T, s devapi.Store) {
		mustCreateAccount(t, s, "a@example.com", at(1))
		k := mustAddKey(t, s, "a@example.com", "k1", at(2))
		if _, err := s.Authenticate(t.Context(), "a@example.com", k.Hash); err != nil {
			t.Fatalf("Authenticate before delete: %v", err)
		}
		if err := s.DeleteAPIKey(t.Context(), "a@example.com", k.ID); err != nil {
			t.Fatalf("DeleteAPIKey: %v", err)
		}
		_, err := s.Authenticate(t.Context(), "a@example.com", k.Hash)
		wantCode(t, err, devapi.EUNAUTHORIZED)
	}},
}

var databaseTests = []test{
	{"RoundTrip", func(t *testing.T, s devapi.Store) {
		mustCreateAccount(t, s, "a@example.com", at(0))
		want := NewDatabase("db-1", "a@example.com", at(1))
		RequireAllFieldsSet(t, want)
		mustCreateDatabase(t, s, want)
		got, err := s.Database(t.Context(), "a@example.com", "db-1")
		if err != nil {
			t.Fatalf("Database: %v", err)
		}
		EqualDatabase(t, got, want)
		list, err := s.Databases(t.Context(), "a@example.com")
		if err != nil {
			t.Fatalf("Databases: %v", err)
		}
		if len(list) != 1 {
			t.Fatalf("Databases = %d databases, want 1", len(list))
		}
		EqualDatabase(t, list[0], want)
	}},
	{"ZeroValues", func(t *testing.T, s devapi.Store) {
		// The other end of the round trip: false, zero and empty fields stay so.
		mustCreateAccount(t, s, "a@example.com", at(0))
		want := &devapi.Database{ID: "db-1", Owner: "a@example.com", CreatedAt: at(1)}
		mustCreateDatabase(t, s, want)
		got, err := s.Database(t.Context(), "a@example.com", "db-1")
		if err != nil {
			t.Fatalf("Database: %v", err)
		}
		EqualDatabase(t, got, want)
	}},
	{"CopiesInAndOut", func(t *testing.T, s devapi.Store) {
		mustCreateAccount(t, s, "a@example.com", at(0))
		d := NewDatabase("db-1", "a@example.com", at(1))
		want := NewDatabase("db-1", "a@example.com", at(1))
		mustCreateDatabase(t, s, d)
		d.ReadRegions[0], d.Name = "changed", "changed"
		got, err := s.Database(t.Context(), "a@example.com", "db-1")
		if err != nil {
			t.Fatalf("Database: %v", err)
		}
		EqualDatabase(t, got, want)
		got.ReadRegions[0], got.Password = "changed", "changed"
		again, err := s.Database(t.Context(), "a@example.com", "db-1")
		if err != nil {
			t.Fatalf("Database: %v", err)
		}
		EqualDatabase(t, again, want)
	}},
	{"Duplicate", func(t *testing.T, s devapi.Store) {
		mustCreateAccount(t, s, "a@example.com", at(0))
		mustCreateAccount(t, s, "b@example.com", at(0))
		want := NewDatabase("db-1", "a@example.com", at(1))
		mustCreateDatabase(t, s, want)
		for _, owner := range []string{"a@example.com", "b@example.com"} {
			dup := NewDatabase("db-1", owner, at(2))
			dup.Name = "dup"
			wantCode(t, s.CreateDatabase(t.Context(), dup), devapi.ECONFLICT)
		}
		got, err := s.Database(t.Context(), "a@example.com", "db-1")
		if err != nil {
			t.Fatalf("Database: %v", err)
		}
		EqualDatabase(t, got, want)
		_, err = s.Database(t.Context(), "b@example.com", "db-1")
		wantCode(t, err, devapi.ENOTFOUND)
	}},
	{"GetUnknown", func(t *testing.T, s devapi.Store) {
		mustCreateAccount(t, s, "a@example.com", at(0))
		_, err := s.Database(t.Context(), "a@example.com", "no-such-db")
		wantCode(t, err, devapi.ENOTFOUND)
	}},
	{"GetOtherOwner", func(t *testing.T, s devapi.Store) {
		mustCreateAccount(t, s, "a@example.com", at(0))
		mustCreateAccount(t, s, "b@example.com", at(0))
		mustCreateDatabase(t, s, NewDatabase("db-1", "a@example.com", at(1)))
		_, err := s.Database(t.Context(), "b@example.com", "db-1")
		wantCode(t, err, devapi.ENOTFOUND)
	}},
	{"ListOwnOldestFirst", func(t *testing.T, s devapi.Store) {
		for _, email := range []string{"a@example.com", "b@example.com", "c@example.com"} {
			mustCreateAccount(t, s, email, at(0))
		}
		// Created out of time order, interleaved with another owner's.
		mustCreateDatabase(t, s, NewDatabase("db-a2", "a@example.com", at(20)))
		mustCreateDatabase(t, s, NewDatabase("db-b1", "b@example.com", at(15)))
		mustCreateDatabase(t, s, NewDatabase("db-a3", "a@example.com", at(30)))
		mustCreateDatabase(t, s, NewDatabase("db-a1", "a@example.com", at(10)))
		for owner, want := range map[string][]string{
			"a@example.com": {"db-a1", "db-a2", "db-a3"},
			"b@example.com": {"db-b1"},
			"c@example.com": nil,
		} {
			list, err := s.Databases(t.Context(), owner)
			if err != nil {
				t.Fatalf("Databases(%s): %v", owner, err)
			}
			var got []string
			for _, d := range list {
				got = append(got, d.ID)
				if d.Owner != owner {
					t.Errorf("Databases(%s) returned %s of %s", owner, d.ID, d.Owner)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("Databases(%s) = %q, want %q", owner, got, want)
			}
		}
	}},
	{"Update", func(t *testing.T, s devapi.Store) {
		mustCreateAccount(t, s, "a@example.com", at(0))
		mustCreateAccount(t, s, "b@example.com", at(0))
		d := NewDatabase("db-1", "a@example.com", at(1))
		mustCreateDatabase(t, s, d)
		got, err := s.UpdateDatabase(t.Context(), "a@example.com", "db-1", func(x *devapi.Database) error {
			x.Name, x.Plan, x.Budget, x.TLS, x.Eviction, x.AutoUpgrade, x.ProdPack = "renamed", devapi.PlanPayg, 99, false, false, false, false
			x.ReadRegions, x.State, x.Owner, x.DailyBackup = []string{"us-west-1"}, "active", "b@example.com", false
			x.AllowedIPs = []string{"192.0.2.1/32"}
			x.Password, x.Port, x.Generation = "ignored", 1, 1000 // not settings: not stored
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := NewDatabase("db-1", "b@example.com", at(1))
		want.Name, want.Plan, want.Budget, want.TLS, want.Eviction, want.AutoUpgrade, want.ProdPack = "renamed", devapi.PlanPayg, 99, false, false, false, false
		want.ReadRegions, want.DailyBackup, want.AllowedIPs = []string{"us-west-1"}, false, []string{"192.0.2.1/32"}
		EqualDatabase(t, got, want)
		if _, err := s.Database(t.Context(), "a@example.com", "db-1"); devapi.ErrorCode(err) != devapi.ENOTFOUND {
			t.Errorf("the old owner still sees the moved database: %v", err)
		}
		stored, err := s.Database(t.Context(), "b@example.com", "db-1")
		if err != nil {
			t.Fatal(err)
		}
		EqualDatabase(t, stored, want)
	}},
	{"UpdateAbortAndErrors", func(t *testing.T, s devapi.Store) {
		mustCreateAccount(t, s, "a@example.com", at(0))
		d := NewDatabase("db-1", "a@example.com", at(1))
		mustCreateDatabase(t, s, d)
		refuse := devapi.Errorf(devapi.EINVALID, "already enabled")
		_, err := s.UpdateDatabase(t.Context(), "a@example.com", "db-1", func(x *devapi.Database) error {
			x.Name = "half-done"
			return refuse
		})
		if err != refuse {
			t.Errorf("change's error came back as %v", err)
		}
		_, err = s.UpdateDatabase(t.Context(), "b@example.com", "db-1", func(*devapi.Database) error { return nil })
		wantCode(t, err, devapi.ENOTFOUND)
		_, err = s.UpdateDatabase(t.Context(), "a@example.com", "db-1", func(x *devapi.Database) error { x.Owner = "nobody@example.com"; return nil })
		wantCode(t, err, devapi.ENOTFOUND)
		stored, err := s.Database(t.Context(), "a@example.com", "db-1")
		if err != nil {
			t.Fatal(err)
		}
		EqualDatabase(t, stored, d)
	}},
	{"ConcurrentUpdatesAllApply", func(t *testing.T, s devapi.Store) {
		mustCreateAccount(t, s, "a@example.com", at(0))
		mustCreateDatabase(t, s, NewDatabase("db-1", "a@example.com", at(1)))
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				if _, err := s.UpdateDatabase(context.Background(), "a@example.com", "db-1", func(x *devapi.Database) error { x.Budget++; return nil }); err != nil {
					t.Errorf("update: %v", err)
				}
			})
		}
		wg.Wait()
		stored, err := s.Database(t.Context(), "a@example.com", "db-1")
		if err != nil || stored.Budget != 360+20 {
			t.Errorf("budget after 20 concurrent increments: %d (%v), want 380", stored.Budget, err)
		}
	}},
	{"ByRestToken", func(t *testing.T, s devapi.Store) {
		mustCreateAccount(t, s, "a@example.com", at(0))
		d := withMintedCredentials(NewDatabase("db-1", "a@example.com", at(1)))
		mustCreateDatabase(t, s, d)
		other := withMintedCredentials(NewDatabase("db-2", "a@example.com", at(2)))
		mustCreateDatabase(t, s, other)
		got, ro, err := s.DatabaseByRestToken(t.Context(), d.RestToken)
		if err != nil || got.ID != "db-1" || ro {
			t.Errorf("full token: %v, read-only %v, %v", got, ro, err)
		}
		got, ro, err = s.DatabaseByRestToken(t.Context(), d.ReadOnlyRestToken)
		if err != nil || got.ID != "db-1" || !ro {
			t.Errorf("read-only token: %v, read-only %v, %v", got, ro, err)
		}
		// Tokens that name db-1 but are not its tokens: one of db-2's
		// secrets under db-1's id, and tokens of a database never stored.
		forged, _ := devapi.NewRestTokens("db-1", d.Port, other.Password)
		missing, missingRO := devapi.NewRestTokens("db-3", d.Port, devapi.NewPassword())
		// Ids a store cannot take as text (PostgreSQL refuses NUL and
		// bytes that are not UTF-8): refused, not an internal error.
		nul, _ := devapi.NewRestTokens("db-\x00", d.Port, devapi.NewPassword())
		notUTF8, _ := devapi.NewRestTokens("db-\xff", d.Port, devapi.NewPassword())
		for _, bad := range []string{"", "nope", d.Password, "rest-token-of-db-1", forged, missing, missingRO, nul, notUTF8} {
			_, _, err := s.DatabaseByRestToken(t.Context(), bad)
			wantCode(t, err, devapi.EUNAUTHORIZED)
		}
		c := devapi.Credentials{Password: devapi.NewPassword()}
		c.RestToken, c.ReadOnlyRestToken = devapi.NewRestTokens("db-1", d.Port, c.Password)
		updated, err := s.SetCredentials(t.Context(), "a@example.com", "db-1", c)
		if err != nil {
			t.Fatal(err)
		}
		for _, old := range []string{d.RestToken, d.ReadOnlyRestToken} {
			_, _, err = s.DatabaseByRestToken(t.Context(), old)
			wantCode(t, err, devapi.EUNAUTHORIZED)
		}
		if got, ro, err := s.DatabaseByRestToken(t.Context(), updated.RestToken); err != nil || got.ID != "db-1" || ro {
			t.Errorf("new token: %v, %v, %v", got, ro, err)
		}
		if got, ro, err := s.DatabaseByRestToken(t.Context(), updated.ReadOnlyRestToken); err != nil || got.ID != "db-1" || !ro {
			t.Errorf("new read-only token: %v, %v, %v", got, ro, err)
		}
		if got, _, err := s.DatabaseByRestToken(t.Context(), other.RestToken); err != nil || got.ID != "db-2" {
			t.Errorf("db-2's token: %v, %v", got, err)
		}
		if err := s.DeleteDatabase(t.Context(), "a@example.com", "db-1"); err != nil {
			t.Fatal(err)
		}
		_, _, err = s.DatabaseByRestToken(t.Context(), updated.RestToken)
		wantCode(t, err, devapi.EUNAUTHORIZED)
	}},
	{"AllDatabasesEveryOwnerOldestFirst", func(t *testing.T, s devapi.Store) {
		mustCreateAccount(t, s, "a@example.com", at(0))
		mustCreateAccount(t, s, "b@example.com", at(0))
		mustCreateDatabase(t, s, NewDatabase("db-a2", "a@example.com", at(20)))
		mustCreateDatabase(t, s, NewDatabase("db-b1", "b@example.com", at(15)))
		mustCreateDatabase(t, s, NewDatabase("db-a1", "a@example.com", at(10)))
		if err := s.DeleteDatabase(t.Context(), "a@example.com", "db-a2"); err != nil {
			t.Fatal(err)
		}
		list, err := s.AllDatabases(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range list {
			got = append(got, d.ID)
		}
		if want := []string{"db-a1", "db-b1"}; !slices.Equal(got, want) {
			t.Errorf("AllDatabases = %q, want %q", got, want)
		}
		EqualDatabase(t, list[0], NewDatabase("db-a1", "a@example.com", at(10)))
	}},
	{"Delete", func(t *testing.T, s devapi.Store) {
		mustCreateAccount(t, s, "a@example.com", at(0))
		mustCreateDatabase(t, s, NewDatabase("db-1", "a@example.com", at(1)))
		keep := NewDatabase("db-2", "a@example.com", at(2))
		mustCreateDatabase(t, s, keep)
		if err := s.DeleteDatabase(t.Context(), "a@example.com", "db-1"); err != nil {
			t.Fatalf("DeleteDatabase: %v", err)
		}
		_, err := s.Database(t.Context(), "a@example.com", "db-1")
		wantCode(t, err, devapi.ENOTFOUND)
		list, err := s.Databases(t.Context(), "a@example.com")
		if err != nil {
			t.Fatalf("Databases: %v", err)
		}
		if len(list) != 1 {
			t.Fatalf("Databases after delete = %d databases, want 1", len(list))
		}
		EqualDatabase(t, list[0], keep)
	}},
	{"DeleteTwice", func(t *testing.T, s devapi.Store) {
		mustCreateAccount(t, s, "a@example.com", at(0))
		mustCreateDatabase(t, s, NewDatabase("db-1", "a@example.com", at(1)))
		if err := s.DeleteDatabase(t.Context(), "a@example.com", "db-1"); err != nil {
			t.Fatalf("DeleteDatabase: %v", err)
		}
		wantCode(t, s.DeleteDatabase(t.Context(), "a@example.com", "db-1"), devapi.ENOTFOUND)
	}},
	{"DeleteOtherOwner", func(t *testing.T, s devapi.Store) {
		mustCreateAccount(t, s, "a@example.com", at(0))
		mustCreateAccount(t, s, "b@example.com", at(0))
		want := NewDatabase("db-1", "a@example.com", at(1))
		mustCreateDatabase(t, s, want)
		wantCode(t, s.DeleteDatabase(t.Context(), "b@example.com", "db-1"), devapi.ENOTFOUND)
		got, err := s.Database(t.Context(), "a@example.com", "db-1")
		if err != nil {
			t.Fatalf("Database after another owner's delete: %v", err)
		}
		EqualDatabase(t, got, want)
	}},
	{"RecreateAfterDelete", func(t *testing.T, s devapi.Store) {
		mustCreateAccount(t, s, "a@example.com", at(0))
		mustCreateDatabase(t, s, NewDatabase("db-1", "a@example.com", at(1)))
		if err := s.DeleteDatabase(t.Context(), "a@example.com", "db-1"); err != nil {
			t.Fatalf("DeleteDatabase: %v", err)
		}
		want := NewDatabase("db-1", "a@example.com", at(2))
		mustCreateDatabase(t, s, want)
		got, err := s.Database(t.Context(), "a@example.com", "db-1")
		if err != nil {
			t.Fatalf("Database: %v", err)
		}
		EqualDatabase(t, got, want)
	}},
}

var setCredentialsTests = []test{
	{"ChangesAllAndBumpsGeneration", func(t *testing.T, s devapi.Store) {
		mustCreateAccount(t, s, "a@example.com", at(0))
		d := NewDatabase("db-1", "a@example.com", at(1))
		mustCreateDatabase(t, s, d)
		c := devapi.Credentials{
			Password:          "new-password",
			RestToken:         "new-rest-token",
			ReadOnlyRestToken: "new-read-only-rest-token",
			Generation:        12345, // ignored
		}
		got, err := s.SetCredentials(t.Context(), "a@example.com", "db-1", c)
		if err != nil {
			t.Fatalf("SetCredentials: %v", err)
		}
		want := *d
		want.Credentials = c
		want.Generation = d.Generation + 1
		EqualDatabase(t, got, &want)
		stored, err := s.Database(t.Context(), "a@example.com", "db-1")
		if err != nil {
			t.Fatalf("Database: %v", err)
		}
		EqualDatabase(t, stored, &want)

		c.Password = "newer-password"
		got, err = s.SetCredentials(t.Context(), "a@example.com", "db-1", c)
		if err != nil {
			t.Fatalf("second SetCredentials: %v", err)
		}
		if got.Generation != d.Generation+2 {
			t.Errorf("generation after two changes = %d, want %d", got.Generation, d.Generation+2)
		}
	}},
	{"OtherOwner", func(t *testing.T, s devapi.Store) {
		mustCreateAccount(t, s, "a@example.com", at(0))
		mustCreateAccount(t, s, "b@example.com", at(0))
		want := NewDatabase("db-1", "a@example.com", at(1))
		mustCreateDatabase(t, s, want)
		_, err := s.SetCredentials(t.Context(), "b@example.com", "db-1", devapi.Credentials{Password: "stolen"})
		wantCode(t, err, devapi.ENOTFOUND)
		got, err := s.Database(t.Context(), "a@example.com", "db-1")
		if err != nil {
			t.Fatalf("Database: %v", err)
		}
		EqualDatabase(t, got, want)
	}},
	{"Unknown", func(t *testing.T, s devapi.Store) {
		mustCreateAccount(t, s, "a@example.com", at(0))
		_, err := s.SetCredentials(t.Context(), "a@example.com", "no-such-db", devapi.Credentials{Password: "x"})
		wantCode(t, err, devapi.ENOTFOUND)
	}},
	{"Concurrent", testConcurrentSetCredentials},
	{"AsKey", func(t *testing.T, s devapi.Store) {
		mustCreateAccount(t, s, "a@example.com", at(0))
		mustCreateAccount(t, s, "b@example.com", at(0))
		ka := mustAddKey(t, s, "a@example.com", "ka", at(1))
		kb := mustAddKey(t, s, "b@example.com", "kb", at(1))
		d := NewDatabase("db-1", "a@example.com", at(2))
		mustCreateDatabase(t, s, d)
		c := devapi.Credentials{Password: "p2", RestToken: "r2", ReadOnlyRestToken: "ro2"}
		got, err := s.SetCredentialsAsKey(t.Context(), "a@example.com", ka.Hash, "db-1", c)
		if err != nil {
			t.Fatalf("SetCredentialsAsKey with the owner's key: %v", err)
		}
		want := *d
		want.Credentials = c
		want.Generation = d.Generation + 1
		EqualDatabase(t, got, &want)

		// Another account's key, an unknown key, no key: nothing changes.
		for _, hash := range []string{kb.Hash, devapi.HashAPIKey("no-such-key"), ""} {
			_, err := s.SetCredentialsAsKey(t.Context(), "a@example.com", hash, "db-1", devapi.Credentials{Password: "stolen"})
			wantCode(t, err, devapi.ENOTFOUND)
		}
		// A removed key changes nothing either.
		if err := s.DeleteAPIKey(t.Context(), "a@example.com", ka.ID); err != nil {
			t.Fatalf("DeleteAPIKey: %v", err)
		}
		_, err = s.SetCredentialsAsKey(t.Context(), "a@example.com", ka.Hash, "db-1", devapi.Credentials{Password: "revoked"})
		wantCode(t, err, devapi.ENOTFOUND)
		stored, err := s.Database(t.Context(), "a@example.com", "db-1")
		if err != nil {
			t.Fatalf("Database: %v", err)
		}
		EqualDatabase(t, stored, &want)
	}},
}

// testConcurrentSetCredentials races 50 changes of one database. Each must
// return the row it wrote, the generations must come out 1..50 above the
// start with none repeated or lost, and the stored row must be the one with
// the highest generation: the change that committed last.
func testConcurrentSetCredentials(t *testing.T, s devapi.Store) {
	const n = 50
	mustCreateAccount(t, s, "a@example.com", at(0))
	d := NewDatabase("db-1", "a@example.com", at(1))
	mustCreateDatabase(t, s, d)

	type result struct {
		sent devapi.Credentials
		got  *devapi.Database
		err  error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range results {
		results[i].sent = devapi.Credentials{
			Password:          fmt.Sprintf("password-%02d", i),
			RestToken:         fmt.Sprintf("rest-token-%02d", i),
			ReadOnlyRestToken: fmt.Sprintf("read-only-rest-token-%02d", i),
		}
		wg.Go(func() {
			r := &results[i]
			r.got, r.err = s.SetCredentials(t.Context(), "a@example.com", "db-1", r.sent)
		})
	}
	wg.Wait()

	byGeneration := make(map[int64]int)
	var last *devapi.Database
	for i, r := range results {
		if r.err != nil {
			t.Errorf("call %d: SetCredentials: %v", i, r.err)
			continue
		}
		g := r.got.Generation
		if r.got.Password != r.sent.Password || r.got.RestToken != r.sent.RestToken ||
			r.got.ReadOnlyRestToken != r.sent.ReadOnlyRestToken {
			t.Errorf("call %d returned credentials %+v, want the ones it sent, %+v", i, r.got.Credentials, r.sent)
		}
		if g <= d.Generation || g > d.Generation+n {
			t.Errorf("call %d returned generation %d, want in (%d, %d]", i, g, d.Generation, d.Generation+n)
		}
		if j, dup := byGeneration[g]; dup {
			t.Errorf("calls %d and %d both returned generation %d", j, i, g)
		}
		byGeneration[g] = i
		if last == nil || g > last.Generation {
			last = r.got
		}
	}
	if t.Failed() {
		return
	}
	stored, err := s.Database(t.Context(), "a@example.com", "db-1")
	if err != nil {
		t.Fatalf("Database: %v", err)
	}
	if stored.Generation != d.Generation+n {
		t.Errorf("stored generation = %d, want %d + %d", stored.Generation, d.Generation, n)
	}
	if stored.Credentials != last.Credentials {
		t.Errorf("stored credentials = %+v, want those of the last commit, %+v", stored.Credentials, last.Credentials)
	}
	EqualDatabase(t, stored, last)
}

// NewDatabase returns a database with every field set to a distinct non-zero
// value, stamped with createdAt. Its generation is 7, not 1, so that a store
// that resets the generation shows.
func NewDatabase(id, owner string, createdAt time.Time) *devapi.Database {
	return &devapi.Database{
		ID:            id,
		Name:          "name-of-" + id,
		Owner:         owner,
		Platform:      "gcp",
		PrimaryRegion: "us-central1",
		ReadRegions:   []string{"europe-west1", "asia-northeast1"},
		AllowedIPs:    []string{"10.0.0.0/8", "2001:db8::/32"},
		Plan:          devapi.PlanFixed1GB,
		Budget:        360,
		TLS:           true,
		Eviction:      true,
		AutoUpgrade:   true,
		ProdPack:      true,
		DailyBackup:   true,
		State:         "active",
		Endpoint:      id + ".example.io",
		Port:          6379,
		CreatedAt:     createdAt,
		Credentials: devapi.Credentials{
			Password:          "password-of-" + id,
			RestToken:         "rest-token-of-" + id,
			ReadOnlyRestToken: "read-only-rest-token-of-" + id,
			Generation:        7,
		},
	}
}

// withMintedCredentials gives d a password and REST tokens as devapi makes
// them (NewPassword, NewRestTokens): DatabaseByRestToken finds only such
// tokens.
func withMintedCredentials(d *devapi.Database) *devapi.Database {
	d.Password = devapi.NewPassword()
	d.RestToken, d.ReadOnlyRestToken = devapi.NewRestTokens(d.ID, d.Port, d.Password)
	return d
}

// RequireAllFieldsSet fails the test if any field of the struct v points to,
// embedded structs included, holds its zero value. It keeps NewDatabase
// honest when Database grows a field.
func RequireAllFieldsSet(tb testing.TB, v any) {
	tb.Helper()
	var walk func(prefix string, rv reflect.Value)
	walk = func(prefix string, rv reflect.Value) {
		for i := range rv.NumField() {
			f, fv := rv.Type().Field(i), rv.Field(i)
			if f.Anonymous && fv.Kind() == reflect.Struct {
				walk(prefix+f.Name+".", fv)
				continue
			}
			if fv.IsZero() || (fv.Kind() == reflect.Slice && fv.Len() == 0) {
				tb.Errorf("field %s%s is not set: the fixture does not cover it", prefix, f.Name)
			}
		}
	}
	walk("", reflect.ValueOf(v).Elem())
}

// EqualDatabase fails the test unless got equals want field by field. Times
// are compared with time.Equal, and a nil ReadRegions or AllowedIPs equals
// an empty one.
func EqualDatabase(tb testing.TB, got, want *devapi.Database) {
	tb.Helper()
	if got == nil {
		tb.Fatalf("database is nil, want %+v", want)
	}
	if !got.CreatedAt.Equal(want.CreatedAt) {
		tb.Errorf("database %s: CreatedAt = %v, want %v", want.ID, got.CreatedAt, want.CreatedAt)
	}
	g, w := *got, *want
	g.CreatedAt, w.CreatedAt = time.Time{}, time.Time{}
	if len(g.ReadRegions) == 0 && len(w.ReadRegions) == 0 {
		g.ReadRegions, w.ReadRegions = nil, nil
	}
	if len(g.AllowedIPs) == 0 && len(w.AllowedIPs) == 0 {
		g.AllowedIPs, w.AllowedIPs = nil, nil
	}
	if !reflect.DeepEqual(g, w) {
		tb.Errorf("database %s differs:\n got %+v\nwant %+v", want.ID, g, w)
	}
}

func equalAccounts(tb testing.TB, got, want []*devapi.Account) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("got %d accounts, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].Email != want[i].Email || !got[i].CreatedAt.Equal(want[i].CreatedAt) {
			tb.Errorf("account %d = %+v, want %+v", i, *got[i], *want[i])
		}
	}
}

func equalKeys(tb testing.TB, got, want []*devapi.APIKey) {
	tb.Helper()
	if len(got) != len(want) {
		tb.Fatalf("got %d api keys, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := *got[i], *want[i]
		if !g.CreatedAt.Equal(w.CreatedAt) {
			tb.Errorf("api key %d: CreatedAt = %v, want %v", i, g.CreatedAt, w.CreatedAt)
		}
		g.CreatedAt, w.CreatedAt = time.Time{}, time.Time{}
		if g != w {
			tb.Errorf("api key %d = %+v, want %+v", i, g, w)
		}
	}
}

func wantCode(tb testing.TB, err error, code string) {
	tb.Helper()
	if got := devapi.ErrorCode(err); got != code {
		tb.Errorf("error = %v (code %q), want code %q", err, got, code)
	}
}

func mustCreateAccount(tb testing.TB, s devapi.Store, email string, createdAt time.Time) {
	tb.Helper()
	if err := s.CreateAccount(tb.Context(), &devapi.Account{Email: email, CreatedAt: createdAt}); err != nil {
		tb.Fatalf("CreateAccount(%s): %v", email, err)
	}
}

func newKey(email, name string, createdAt time.Time) *devapi.APIKey {
	return &devapi.APIKey{
		ID:        "key-" + name + "-" + email,
		Email:     email,
		Name:      name,
		Hash:      devapi.HashAPIKey(devapi.NewAPIKey()),
		CreatedAt: createdAt,
	}
}

func mustAddKey(tb testing.TB, s devapi.Store, email, name string, createdAt time.Time) *devapi.APIKey {
	tb.Helper()
	k := newKey(email, name, createdAt)
	if err := s.AddAPIKey(tb.Context(), k); err != nil {
		tb.Fatalf("AddAPIKey(%s, %s): %v", email, name, err)
	}
	return k
}

func mustCreateDatabase(tb testing.TB, s devapi.Store, d *devapi.Database) {
	tb.Helper()
	if err := s.CreateDatabase(tb.Context(), d); err != nil {
		tb.Fatalf("CreateDatabase(%s): %v", d.ID, err)
	}
}

var settingTests = []test{
	{"MissingIsNotFound", func(t *testing.T, s devapi.Store) {
		_, err := s.Setting(t.Context(), "nope")
		wantCode(t, err, devapi.ENOTFOUND)
	}},
	{"InitOnce", func(t *testing.T, s devapi.Store) {
		got, err := s.InitSetting(t.Context(), "ca", []byte("first"))
		if err != nil || string(got) != "first" {
			t.Fatalf("first InitSetting = %q, %v", got, err)
		}
		got, err = s.InitSetting(t.Context(), "ca", []byte("second"))
		if err != nil || string(got) != "first" {
			t.Errorf("second InitSetting = %q, %v; want the first value kept", got, err)
		}
		got, err = s.Setting(t.Context(), "ca")
		if err != nil || string(got) != "first" {
			t.Errorf("Setting = %q, %v", got, err)
		}
	}},
	{"ConcurrentInitAgree", func(t *testing.T, s devapi.Store) {
		const n = 20
		results := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				v, err := s.InitSetting(context.Background(), "k", []byte(fmt.Sprint("value-", i)))
				if err != nil {
					t.Errorf("InitSetting: %v", err)
				}
				results[i] = string(v)
			})
		}
		wg.Wait()
		for _, r := range results {
			if r != results[0] {
				t.Fatalf("concurrent InitSetting answered different values: %q", results)
			}
		}
	}},
}

var teamTests = []test{
	{"Lifecycle", func(t *testing.T, s devapi.Store) {
		ctx := t.Context()
		mustCreateAccount(t, s, "owner@example.com", at(0))
		mustCreateAccount(t, s, "dev@example.com", at(0))
		team := &devapi.Team{ID: "team-1", Name: "Platform", CopyCC: true, CreatedAt: at(5)}
		if err := s.CreateTeam(ctx, team, "owner@example.com"); err != nil {
			t.Fatal(err)
		}
		wantCode(t, s.CreateTeam(ctx, team, "owner@example.com"), devapi.ECONFLICT)
		wantCode(t, s.CreateTeam(ctx, &devapi.Team{ID: "team-2", Name: "x", CreatedAt: at(6)}, "nobody@example.com"), devapi.ENOTFOUND)
		// The team is an account: it can own databases.
		mustCreateDatabase(t, s, NewDatabase("db-team", "team-1", at(7)))

		m, err := s.AddTeamMember(ctx, "team-1", "dev@example.com", devapi.RoleDev)
		if err != nil || m.Role != devapi.RoleDev || m.Team.Name != "Platform" || !m.Team.CopyCC {
			t.Fatalf("add member: %+v, %v", m, err)
		}
		_, err = s.AddTeamMember(ctx, "team-1", "dev@example.com", devapi.RoleAdmin)
		wantCode(t, err, devapi.ECONFLICT)
		_, err = s.AddTeamMember(ctx, "team-1", "nobody@example.com", devapi.RoleDev)
		wantCode(t, err, devapi.ENOTFOUND)
		_, err = s.AddTeamMember(ctx, "no-team", "dev@example.com", devapi.RoleDev)
		wantCode(t, err, devapi.ENOTFOUND)

		members, err := s.TeamMembers(ctx, "team-1")
		if err != nil || len(members) != 2 || members[0].Email != "owner@example.com" || members[0].Role != devapi.RoleOwner {
			t.Errorf("members: %+v, %v", members, err)
		}
		_, err = s.TeamMembers(ctx, "no-team")
		wantCode(t, err, devapi.ENOTFOUND)
		teams, err := s.Teams(ctx, "dev@example.com")
		if err != nil || len(teams) != 1 || teams[0].Team.ID != "team-1" || !teams[0].Team.CreatedAt.Equal(at(5)) {
			t.Errorf("teams of dev: %+v, %v", teams, err)
		}

		if err := s.RemoveTeamMember(ctx, "team-1", "dev@example.com"); err != nil {
			t.Fatal(err)
		}
		wantCode(t, s.RemoveTeamMember(ctx, "team-1", "dev@example.com"), devapi.ENOTFOUND)
		if teams, _ := s.Teams(ctx, "dev@example.com"); len(teams) != 0 {
			t.Errorf("teams after removal: %+v", teams)
		}

		wantCode(t, s.DeleteTeam(ctx, "team-1"), devapi.ECONFLICT)
		if err := s.DeleteDatabase(ctx, "team-1", "db-team"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteTeam(ctx, "team-1"); err != nil {
			t.Fatal(err)
		}
		wantCode(t, s.DeleteTeam(ctx, "team-1"), devapi.ENOTFOUND)
		if teams, _ := s.Teams(ctx, "owner@example.com"); len(teams) != 0 {
			t.Errorf("teams after delete: %+v", teams)
		}
		_, err = s.Authenticate(ctx, "team-1", "anything")
		wantCode(t, err, devapi.EUNAUTHORIZED)
	}},
}
