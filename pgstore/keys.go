package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/devapi-dev/devapi/internal/keycache"
)

// Authenticate runs on every request, so its answers are cached
// (keycache), and the cache must never serve a key that another replica has
// revoked.
//
// Every change that can revoke a key (DeleteAPIKey, DeleteTeam) moves a
// version of the keys forward in its own transaction: the settings row
// keysVersionName. Authenticate trusts the cache only under the version it
// reads from PostgreSQL after the call began, so a revocation that another
// replica committed before the request arrived is always seen.
//
// LISTEN/NOTIFY alone could not promise that: a notification reaches the
// other replicas some time after the revoking commit returns, and the
// client's next request may be faster. So the version is read on every
// call, but the reads are shared: a call waits for the next
// read that starts after it, and every call waiting meanwhile takes the
// same answer (keycache.Reader). Under load that is one small SELECT per round trip for all
// concurrent requests, instead of a key lookup per request.

// keysVersionName is the settings row that every revocation of a key moves
// forward.
const keysVersionName = "api_keys_version"

// bumpKeysVersion moves the version of the keys forward; call it in the
// transaction of every change that can revoke a key.
func bumpKeysVersion(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx,
		`INSERT INTO settings (name, value) VALUES ($1, '1')
		 ON CONFLICT (name) DO UPDATE SET value = (settings.value::bigint + 1)::text`, keysVersionName)
	return err
}

// keysVersionQuery reads the version of the keys, empty while no key was
// ever revoked.
const keysVersionQuery = `SELECT coalesce((SELECT value FROM settings WHERE name = '` + keysVersionName + `'), '')`

// readKeysVersion is the version Reader's query.
func (s *Store) readKeysVersion(ctx context.Context) (string, error) {
	var v string
	if err := s.pool.QueryRow(ctx, keysVersionQuery).Scan(&v); err != nil {
		return "", fmt.Errorf("pgstore: keys version: %w", err)
	}
	return v, nil
}

// keys is the state of Authenticate.
type keys struct {
	cache   keycache.Cache
	version keycache.Reader
}
