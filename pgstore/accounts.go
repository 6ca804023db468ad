package pgstore

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/schema"
)

// CreateAccount adds an account. ECONFLICT if the email exists.
func (s *Store) CreateAccount(ctx context.Context, a *devapi.Account) (err error) {
	defer noSpace(&err)
	_, err = s.pool.Exec(ctx,
		`INSERT INTO accounts (email, created_at) VALUES ($1, $2)`,
		a.Email, schema.Micros(a.CreatedAt))
	switch {
	case isUniqueViolation(err):
		return devapi.Errorf(devapi.ECONFLICT, "account %s already exists", a.Email)
	case err != nil:
		return fmt.Errorf("pgstore: create account: %w", err)
	}
	return nil
}

// Accounts lists every account, oldest first.
func (s *Store) Accounts(ctx context.Context) ([]*devapi.Account, error) {
	rows, err := s.pool.Query(ctx,
		`SELECT email, created_at FROM accounts ORDER BY created_at, email COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list accounts: %w", err)
	}
	defer rows.Close()
	var as []*devapi.Account
	for rows.Next() {
		var a devapi.Account
		var created int64
		if err := rows.Scan(&a.Email, &created); err != nil {
			return nil, fmt.Errorf("pgstore: list accounts: %w", err)
		}
		a.CreatedAt = schema.FromMicros(created)
		as = append(as, &a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: list accounts: %w", err)
	}
	return as, nil
}

// AddAPIKey stores a key for an existing account. ENOTFOUND if the account
// does not exist, ECONFLICT if the hash (or the id) is already stored.
func (s *Store) AddAPIKey(ctx context.Context, k *devapi.APIKey) (err error) {
	defer noSpace(&err)
	_, err = s.pool.Exec(ctx,
		`INSERT INTO api_keys (id, email, name, key_hash, created_at) VALUES ($1, $2, $3, $4, $5)`,
		k.ID, k.Email, k.Name, k.Hash, schema.Micros(k.CreatedAt))
	switch {
	case isForeignKeyViolation(err):
		return devapi.Errorf(devapi.ENOTFOUND, "account %s not found", k.Email)
	case isUniqueViolation(err):
		return devapi.Errorf(devapi.ECONFLICT, "api key already exists")
	case err != nil:
		return fmt.Errorf("pgstore: add api key: %w", err)
	}
	return nil
}

// APIKeys lists an account's keys, oldest first.
func (s *Store) APIKeys(ctx context.Context, email string) ([]*devapi.APIKey, error) {
	rows, err := s.pool.Query(ctx,
		`SELECT id, email, name, key_hash, created_at FROM api_keys
		 WHERE email = $1 ORDER BY created_at, id COLLATE "C"`, email)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list api keys: %w", err)
	}
	defer rows.Close()
	var ks []*devapi.APIKey
	for rows.Next() {
		var k devapi.APIKey
		var created int64
		if err := rows.Scan(&k.ID, &k.Email, &k.Name, &k.Hash, &created); err != nil {
			return nil, fmt.Errorf("pgstore: list api keys: %w", err)
		}
		k.CreatedAt = schema.FromMicros(created)
		ks = append(ks, &k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: list api keys: %w", err)
	}
	return ks, nil
}

// DeleteAPIKey removes one key of an account. ENOTFOUND if no such key.
// The delete and the move of the keys' version (see keys.go) are one
// transaction.
func (s *Store) DeleteAPIKey(ctx context.Context, email, id string) (err error) {
	defer noSpace(&err)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: delete api key: %w", err)
	}
	defer tx.Rollback(ctx) // a no-op after Commit
	res, err := tx.Exec(ctx, `DELETE FROM api_keys WHERE id = $1 AND email = $2`, id, email)
	if err != nil {
		return fmt.Errorf("pgstore: delete api key: %w", err)
	}
	if res.RowsAffected() == 0 {
		return devapi.Errorf(devapi.ENOTFOUND, "api key %s not found", id)
	}
	if err := bumpKeysVersion(ctx, tx); err != nil {
		return fmt.Errorf("pgstore: delete api key: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgstore: delete api key: commit: %w", err)
	}
	return nil
}

// authenticateQuery reads a key's account and, in the same snapshot, the
// version of the keys it is valid for (see keys.go).
const authenticateQuery = `SELECT a.email, a.created_at, (` + keysVersionQuery + `)
	FROM api_keys k JOIN accounts a ON a.email = k.email
	WHERE k.key_hash = $1`

// Authenticate returns the account that owns a key with the given hash and
// email. EUNAUTHORIZED if there is none. It runs on every request: it reads
// the version of the keys (a read shared with concurrent calls, see keys.go)
// and answers from the cache when no key was revoked since the key was
// cached; otherwise one SELECT through the unique index on key_hash. Emails
// are compared in constant time.
func (s *Store) Authenticate(ctx context.Context, email, keyHash string) (*devapi.Account, error) {
	version, err := s.keys.version.Current(ctx)
	if err != nil {
		return nil, err
	}
	if a, ok := s.keys.cache.Get(version, email, keyHash); ok {
		return &a, nil
	}
	var a devapi.Account
	var created int64
	err = s.pool.QueryRow(ctx, authenticateQuery, keyHash).Scan(&a.Email, &created, &version)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, devapi.Errorf(devapi.EUNAUTHORIZED, "wrong email or api key")
	case err != nil:
		return nil, fmt.Errorf("pgstore: authenticate: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(a.Email), []byte(email)) != 1 {
		return nil, devapi.Errorf(devapi.EUNAUTHORIZED, "wrong email or api key")
	}
	a.CreatedAt = schema.FromMicros(created)
	s.keys.cache.Put(version, keyHash, a)
	return &a, nil
}

// CachedAccount implements devapi.Store: the cache's entry, unchecked.
func (s *Store) CachedAccount(email, keyHash string) (*devapi.Account, bool) {
	a, ok := s.keys.cache.Peek(email, keyHash)
	if !ok {
		return nil, false
	}
	return &a, true
}
