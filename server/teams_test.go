package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/gen"
)

// addMember is add-member's body.
func addMember(team, email, role string) []byte {
	return fmt.Appendf(nil, `{"team_id":%q,"member_email":%q,"member_role":%q}`, team, email, role)
}

// newAccount adds an account with an API key to the stack's store.
func (s *strictStack) newAccount(tb testing.TB, email string) (key string) {
	tb.Helper()
	key = devapi.NewAPIKey()
	if _, err := devapi.EnsureAPIKey(context.Background(), s.store, email, key, "test", time.Now()); err != nil {
		tb.Fatal(err)
	}
	return key
}

// TestTeamAddedToAnotherTeamRefused: a team's account added as a member of
// another team would let every holder of the team's API keys administer the
// other team (issue 12, item 8). Refused with 400, nothing changed.
func TestTeamAddedToAnotherTeamRefused(t *testing.T) {
	s := newStrictStack(t)
	var other gen.Team
	s.mustJSON(t, "POST", "/team", `{"team_name":"other","copy_cc":false}`, &other)
	for _, role := range []string{"dev", "admin", "finance"} {
		before := s.state(t)
		a := s.doAs(t, strictEmail, strictKey, "POST", "/teams/member", addMember(s.team, other.TeamId, role))
		if a.status != http.StatusBadRequest {
			t.Fatalf("%s: %d %s, want 400", role, a.status, a.body)
		}
		if msg := errorText(t, a); !strings.Contains(msg, "a team cannot be a member of a team") {
			t.Errorf("%s: error %q", role, msg)
		}
		if after := s.state(t); after != before {
			t.Errorf("%s: a refused add changed the state:\nbefore %s\nafter  %s", role, before, after)
		}
	}
	// The other team's account, with a key of its own, has no team.
	key := s.newAccount(t, other.TeamId)
	if a := s.doAs(t, other.TeamId, key, "GET", "/teams", nil); a.status != http.StatusOK || string(a.body) != "[]\n" {
		t.Errorf("the other team's account lists teams: %d %s", a.status, a.body)
	}
}

// TestTeamAddedToItselfRefused: a team that was a member of itself would be
// its own manager (issue 12, item 8). Refused with 400, nothing changed.
func TestTeamAddedToItselfRefused(t *testing.T) {
	s := newStrictStack(t)
	before := s.state(t)
	a := s.doAs(t, strictEmail, strictKey, "POST", "/teams/member", addMember(s.team, s.team, "admin"))
	if a.status != http.StatusBadRequest {
		t.Fatalf("%d %s, want 400", a.status, a.body)
	}
	if msg := errorText(t, a); !strings.Contains(msg, "a team cannot be a member of itself") {
		t.Errorf("error %q", msg)
	}
	if after := s.state(t); after != before {
		t.Errorf("a refused add changed the state:\nbefore %s\nafter  %s", before, after)
	}
}

// TestTeamAccountCannotCreateTeam: a team's API key that created a team
// would make the team the new one's owner, a member by another door.
func TestTeamAccountCannotCreateTeam(t *testing.T) {
	s := newStrictStack(t)
	key := s.newAccount(t, s.team)
	a := s.doAs(t, s.team, key, "POST", "/team", []byte(`{"team_name":"nested","copy_cc":false}`))
	if a.status != http.StatusBadRequest {
		t.Fatalf("%d %s, want 400", a.status, a.body)
	}
	if msg := errorText(t, a); !strings.Contains(msg, "a team cannot create a team") {
		t.Errorf("error %q", msg)
	}
	if a := s.doAs(t, s.team, key, "GET", "/teams", nil); a.status != http.StatusOK || string(a.body) != "[]\n" {
		t.Errorf("the team's account has teams: %d %s", a.status, a.body)
	}
	// A person's account still can.
	s.mustJSON(t, "POST", "/team", `{"team_name":"flat","copy_cc":false}`, nil)
}

// TestAddMemberUnknownVersusKnownEmail pins the decision documented on
// Server.AddTeamMember: the team's owner or admin learns whether an email
// has an account (a 200 would claim a member devapi cannot add); nobody else
// does, since every other caller gets one answer whatever the email.
func TestAddMemberUnknownVersusKnownEmail(t *testing.T) {
	s := newStrictStack(t)
	const known, unknown = "known@example.com", "unknown@example.com"
	s.newAccount(t, known)
	outsider := "outsider@example.com"
	outsiderKey := s.newAccount(t, outsider)

	// The owner: known is added, unknown is named.
	if a := s.doAs(t, strictEmail, strictKey, "POST", "/teams/member", addMember(s.team, known, "dev")); a.status != http.StatusOK {
		t.Errorf("owner adds a known email: %d %s", a.status, a.body)
	}
	a := s.doAs(t, strictEmail, strictKey, "POST", "/teams/member", addMember(s.team, unknown, "dev"))
	if msg := errorText(t, a); a.status != http.StatusBadRequest || !strings.Contains(msg, "no account with email "+unknown) {
		t.Errorf("owner adds an unknown email: %d %s", a.status, a.body)
	}

	// A dev member and an outsider: the same answer for both emails.
	for _, who := range []struct{ email, key string }{{memberEmail, memberKey}, {outsider, outsiderKey}} {
		const other = "other@example.com"
		s.newAccount(t, other+"."+who.email) // a second known email, never added
		k := s.doAs(t, who.email, who.key, "POST", "/teams/member", addMember(s.team, other+"."+who.email, "dev"))
		u := s.doAs(t, who.email, who.key, "POST", "/teams/member", addMember(s.team, unknown, "dev"))
		if k.status == http.StatusOK || k.status != u.status || string(k.body) != string(u.body) {
			t.Errorf("%s: known email %d %s, unknown %d %s: want one refusal for both", who.email, k.status, k.body, u.status, u.body)
		}
	}
}
