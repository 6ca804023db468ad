package devapi

import (
	"context"
	"time"
)

// Database is one Redis database and what its owner knows about it.
type Database struct {
	ID            string
	Name          string
	Owner         string // email of the owning account
	Platform      string // "aws" or "gcp"
	PrimaryRegion string
	ReadRegions   []string
	AllowedIPs    []string // CIDRs allowed to connect; empty: every address
	Plan          string   // one of the Plan* constants
	Budget        int64    // monthly budget in dollars
	TLS           bool
	Eviction      bool
	AutoUpgrade   bool
	ProdPack      bool
	DailyBackup   bool   // take a backup every day
	State         string // "active"
	Endpoint      string // host name clients dial
	Port          int
	CreatedAt     time.Time

	Credentials
}

// Credentials are what reset-password replaces. Generation counts the
// credential changes of a database: it only moves forward, so whoever applies
// credentials elsewhere can tell the newest from a stale one.
type Credentials struct {
	Password          string
	RestToken         string
	ReadOnlyRestToken string
	Generation        int64
}

// Account is an Upstash account: an email that owns databases and API keys.
type Account struct {
	Email     string
	CreatedAt time.Time
}

// APIKey is one API key of an account. Only a hash of the key is stored.
type APIKey struct {
	ID        string
	Email     string
	Name      string
	Hash      string // HashAPIKey of the key
	CreatedAt time.Time
}

// Store keeps accounts and databases. Implementations are safe for concurrent
// use, and a method that returns without error has made its change durable.
// Every method that writes (here, in TeamStore, BackupStore and PoolStore)
// returns ENOSPACE, having changed nothing, when the disk it writes to is
// full.
type Store interface {
	TeamStore
	BackupStore

	// CreateAccount adds an account. ECONFLICT if the email exists.
	CreateAccount(ctx context.Context, a *Account) error
	// Accounts lists every account, oldest first.
	Accounts(ctx context.Context) ([]*Account, error)
	// AddAPIKey stores a key for an existing account. ENOTFOUND if the
	// account does not exist, ECONFLICT if the hash is already stored.
	AddAPIKey(ctx context.Context, k *APIKey) error
	// APIKeys lists an account's keys, oldest first.
	APIKeys(ctx context.Context, email string) ([]*APIKey, error)
	// DeleteAPIKey removes one key of an account. ENOTFOUND if no such key.
	DeleteAPIKey(ctx context.Context, email, id string) error
	// Authenticate returns the account that owns a key with the given hash
	// and email. EUNAUTHORIZED if there is none. It may answer from a cache,
	// but a key that DeleteAPIKey or DeleteTeam removed, through this or any
	// other handle on the same store (another process, another replica), is
	// refused by every call made after the removal returned.
	Authenticate(ctx context.Context, email, keyHash string) (*Account, error)
	// CachedAccount returns the account Authenticate last accepted for
	// keyHash and email, without asking whether the key still exists: it
	// may have been removed since. It is only for a caller whose one change
	// proves the key itself (SetCredentialsAsKey), so that the hot path of
	// a reset asks the store one thing. ok is false when nothing is cached.
	CachedAccount(email, keyHash string) (a *Account, ok bool)

	// CreateDatabase stores a new database. ECONFLICT if the id exists,
	// ENOTFOUND if its owner has no account.
	CreateDatabase(ctx context.Context, d *Database) error
	// Database returns one database of owner. ENOTFOUND if it does not exist
	// or belongs to another account.
	Database(ctx context.Context, owner, id string) (*Database, error)
	// Databases lists owner's databases, oldest first.
	Databases(ctx context.Context, owner string) ([]*Database, error)
	// DeleteDatabase removes one database of owner. ENOTFOUND as Database.
	DeleteDatabase(ctx context.Context, owner, id string) error
	// AllDatabases lists every account's databases, oldest first: what
	// start-up reconciliation serves, and the ports already taken.
	AllDatabases(ctx context.Context) ([]*Database, error)
	// UpdateDatabase changes one database of owner in one atomic
	// read-modify-write: it calls change with the stored database and stores
	// what change leaves in its settings (Name, Owner, Plan, Budget, TLS,
	// Eviction, AutoUpgrade, ProdPack, DailyBackup, ReadRegions, AllowedIPs, State). ID, Port,
	// CreatedAt, credentials and generation are not changed by it. An error
	// from change aborts the update and is returned as is. ENOTFOUND as
	// Database; ENOTFOUND also when a new Owner has no account.
	UpdateDatabase(ctx context.Context, owner, id string, change func(*Database) error) (*Database, error)
	// DatabaseByRestToken returns the database a REST token belongs to, and
	// whether it is the read-only token. EUNAUTHORIZED if no database has it.
	// Tokens are the ones NewRestTokens makes: the store finds the database
	// by the id the token carries (RestTokenDatabaseID); a token of any
	// other shape belongs to no database.
	DatabaseByRestToken(ctx context.Context, token string) (d *Database, readOnly bool, err error)
	// SetCredentials replaces a database's password and tokens in one atomic
	// change, moves its generation one forward, and returns the database as
	// stored after the change. c.Generation is ignored. ENOTFOUND as Database.
	SetCredentials(ctx context.Context, owner, id string, c Credentials) (*Database, error)
	// SetCredentialsAsKey is SetCredentials on behalf of the API key whose
	// hash is keyHash: the write happens only if that key still belongs to
	// owner, and the key is looked up in the same statement as the write, so
	// a key removed before the call (through any handle on the store: another
	// process, another replica) changes nothing. ENOTFOUND when the database
	// or the key is missing; Authenticate tells which.
	SetCredentialsAsKey(ctx context.Context, owner, keyHash, id string, c Credentials) (*Database, error)

	// Setting returns the value stored under name. ENOTFOUND if none is.
	Setting(ctx context.Context, name string) ([]byte, error)
	// InitSetting stores value under name unless a value is stored there
	// already, and returns the value stored in the end: of concurrent
	// callers, exactly one value wins and all get it.
	InitSetting(ctx context.Context, name string, value []byte) ([]byte, error)

	// Close releases the store's resources.
	Close() error
}
