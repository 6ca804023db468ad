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
	"context"
	"crypto/subtle"
	"sync"
	"time"

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

// Peek returns the account cached for keyHash and email under whichever
// version the cache holds, without a version to check: the key may have
// been revoked since it was cached. Only for a caller that proves the key
// in its own write (devapi.Store.SetCredentialsAsKey).
func (c *Cache) Peek(email, keyHash string) (a devapi.Account, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
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

// readTimeout bounds one read of the version, which many calls share: it
// runs without the cancellation of the call that started it.
const readTimeout = 5 * time.Second

// Reader shares reads of a store's version of its keys among concurrent
// calls, for stores where a read costs a query: Current is answered by a
// read that started after Current was called, so it sees every change
// committed before the call, and every call waiting meanwhile takes that
// same read's answer. Set Read before the first call.
type Reader struct {
	// Read reads the version; ctx is bounded by readTimeout.
	Read func(ctx context.Context) (string, error)

	mu      sync.Mutex
	running *sharedRead // the read under way, if any
	next    *sharedRead // the read that starts after it, which new calls join
}

// sharedRead is one read of the version; v and err are set before done is
// closed.
type sharedRead struct {
	done chan struct{}
	v    string
	err  error
}

// Current returns the version as read by a call of Read that started after
// Current was called.
func (r *Reader) Current(ctx context.Context) (string, error) {
	r.mu.Lock()
	if rd := r.next; rd != nil { // not started yet: it will see what we must see
		r.mu.Unlock()
		select {
		case <-rd.done:
			return rd.v, rd.err
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	// This call leads the next read: once the running one (which may have
	// started before this call) is done, it runs the read for everyone who
	// joined meanwhile.
	rd := &sharedRead{done: make(chan struct{})}
	r.next = rd
	before := r.running
	r.mu.Unlock()
	if before != nil {
		<-before.done // bounded by readTimeout
	}
	r.mu.Lock()
	r.next, r.running = nil, rd
	r.mu.Unlock()

	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readTimeout)
	rd.v, rd.err = r.Read(qctx)
	cancel()

	r.mu.Lock()
	r.running = nil
	r.mu.Unlock()
	close(rd.done)
	return rd.v, rd.err
}
