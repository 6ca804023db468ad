package server_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"testing"
)

// TestResetAnswerMatchesGet: a reset's answer, the first (which reads the
// port) and a later one (from what the first kept), holds what
// get-database answers for the database, field for field, plus the new
// credentials.
func TestResetAnswerMatchesGet(t *testing.T) {
	s := newStack(t, planeKinds(t)[0], t.TempDir())
	db := s.create("matches-get", false)
	for round := range 2 {
		status, _, reset := s.send(http.MethodPost, "/v2/redis/reset-password/"+db.DatabaseId, "", true)
		if status != http.StatusOK {
			t.Fatalf("reset %d: status %d: %s", round, status, reset)
		}
		status, _, get := s.send(http.MethodGet, "/v2/redis/database/"+db.DatabaseId, "", true)
		if status != http.StatusOK {
			t.Fatalf("get: status %d: %s", status, get)
		}
		var got, want map[string]any
		if err := json.Unmarshal([]byte(reset), &got); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(get), &want); err != nil {
			t.Fatal(err)
		}
		if !maps.EqualFunc(got, want, func(a, b any) bool {
			ab, _ := json.Marshal(a)
			bb, _ := json.Marshal(b)
			return string(ab) == string(bb)
		}) {
			t.Errorf("reset %d answered\n%s\nget-database answers\n%s", round, reset, get)
		}
	}
}
