package pgstore

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/devapi-dev/devapi"
)

// TestDiskFullIsENOSPACE: PostgreSQL's disk_full (53100), however wrapped,
// is ENOSPACE and keeps the server's error; other errors pass unchanged.
// (A real full disk on the test server is out of reach: the mapping is
// what is tested.)
func TestDiskFullIsENOSPACE(t *testing.T) {
	pgErr := &pgconn.PgError{Code: "53100", Message: "could not extend file"}
	err := fmt.Errorf("pgstore: create database: %w", pgErr)
	noSpace(&err)
	if devapi.ErrorCode(err) != devapi.ENOSPACE {
		t.Errorf("disk_full: code %q, want ENOSPACE", devapi.ErrorCode(err))
	}
	var got *pgconn.PgError
	if !errors.As(err, &got) || got != pgErr {
		t.Errorf("the server's error is not kept: %v", err)
	}
	other := fmt.Errorf("pgstore: %w", &pgconn.PgError{Code: "23505"})
	before := other
	noSpace(&other)
	if other != before {
		t.Errorf("a unique violation became %v", other)
	}
	var none error
	noSpace(&none)
	if none != nil {
		t.Errorf("nil became %v", none)
	}
}
