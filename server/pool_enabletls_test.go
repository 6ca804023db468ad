package server_test

import (
	"strings"
	"testing"

	"github.com/devapi-dev/devapi/gen"
)

// TestPoolRefusedEnableTLSChangesNothing: enable-tls on a database of a
// plain pool server answers 400 (the pool cannot switch a server between
// TLS and plain TCP), and a 400 means nothing changed: the database is
// still a plain one, in the store and in every answer, and the changes that
// follow work.
//
// It fails now: Server.update commits the change to the store before the
// plane's Serve refuses it, and does not undo it. The store then says
// tls=true for a server that speaks plain TCP, GET answers tls=true (clients
// dial rediss:// and fail), every later update of the database (rename,
// change-plan, eviction) answers the same 400 since Serve refuses the stored
// TLS, and Reconcile cannot serve it (logged), so it no longer re-applies
// the password to a pool server that restarted without it.
func TestPoolRefusedEnableTLSChangesNothing(t *testing.T) {
	s := newPoolStack(t, defaultPoolSize)
	ctx := t.Context()
	db := s.create("plain", false) // poolKind's first server is plain
	resp, err := s.client.EnableTlsWithResponse(ctx, db.DatabaseId)
	if err != nil || resp.StatusCode() != 400 || !strings.Contains(string(resp.Body), "plain TCP only") {
		t.Fatalf("enable-tls on a plain pool server: %v %d %s; want 400 saying the server speaks plain TCP only", err, resp.StatusCode(), resp.Body)
	}
	if stored, err := s.store.Database(ctx, email, db.DatabaseId); err != nil || stored.TLS {
		t.Errorf("store after the refused enable-tls: tls=%v (%v), want false", stored != nil && stored.TLS, err)
	}
	if got, err := s.client.GetDatabaseWithResponse(ctx, db.DatabaseId, nil); err != nil || got.JSON200 == nil || got.JSON200.Tls {
		t.Errorf("get after the refused enable-tls: %v, status %d, answered tls=%v; want tls false", err, got.StatusCode(), got.JSON200 != nil && got.JSON200.Tls)
	}
	if rn, err := s.client.RenameDatabaseWithResponse(ctx, db.DatabaseId, gen.RenameDatabaseJSONRequestBody{Name: "renamed"}); err != nil || rn.StatusCode() != 200 {
		t.Errorf("rename after the refused enable-tls: %v %d %s, want 200", err, rn.StatusCode(), rn.Body)
	}
}
