// Package keycache is the API-key cache the stores put in front of
// Authenticate: key hash -> account, valid for one version of the store's
// keys.
//
// A store keeps a version of its keys that every change which can revoke a
// key (deleting a key, deleting an account) moves forward in the same
// transaction, and checks that version on every Authenticate before it
// trusts the cache (how it does so cheaply is the store's business: see
// sqlitestore and pgstore). An entry is only ever served under the version
// it was read with: when the version moves, the whole cache is dropped, and
// an entry read under another version than the current one is not kept. So
// a revoked key is never accepted once the store has committed its
// revocation, whichever process committed it.
package keycache

import (
	"crypto/subtle"
	"sync"

	"github.com/devapi-dev/devapi"
)

// maxEntries bounds the cache. Only keys that authenticated are cached, so
// it holds at most the store's keys; past the bound it starts over.
const maxEntries = 10000

// Cache maps key hashes to accounts for one version of a store's keys. The
// zero value is an empty cache; it is safe for concurrent use.
type Cache struct {
	mu      sync.Mutex
	version string
	entries map[string]devapi.Account
}

// Get returns the account cached for keyHash, if any, after adopting
// version, the store's current version of its keys: a version other than
// the one the cache holds empties it. ok is false when nothing is cached,
// or when what is cached has another email than email (compared in
// constant time): the caller asks the store.
func (c *Cache) Get(version, email, keyHash string) (a devapi.Account, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if version != c.version {
		c.version = version
		clear(c.entries)
		return devapi.Account{}, false
	}
	a, ok = c.entries[keyHash]
	if !ok || subtle.ConstantTimeCompare([]byte(a.Email), []byte(email)) != 1 {
		return devapi.Account{}, false
	}
	return a, true
}

// Put caches a for keyHash, read from the store under version. It keeps
// nothing when version is not the cache's: a key read under an older
// version may be revoked in the current one.
func (c *Cache) Put(version, keyHash string, a devapi.Account) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if version != c.version {
		return
	}
	if c.entries == nil || len(c.entries) >= maxEntries {
		c.entries = make(map[string]devapi.Account)
	}
	c.entries[keyHash] = a
}

// Len returns the number of cached keys. For tests.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
