// Package pgstore implements devapi.Store on PostgreSQL with pgx.
//
// It runs the same migrations as sqlitestore (package schema) and has the same
// semantics: times are microseconds since the Unix epoch, booleans 0 or 1,
// read regions a JSON array and backup data base64 text.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/schema"
)

var _ devapi.Store = (*Store)(nil)

// defaultMaxConns is the size of a Store's connection pool unless the URL
// sets pool_max_conns. Mind PostgreSQL's max_connections (default 100) when
// running many replicas.
const defaultMaxConns = 16

// Store is a devapi.Store backed by a PostgreSQL database.
type Store struct {
	pool  *pgxpool.Pool
	keys  *keys        // Authenticate's cache, and the shared reads of the keys' version
	creds *credBatcher // group commit of SetCredentials
}

// Open connects to the PostgreSQL database at url (postgres://...) and
// brings its schema up to date. Concurrent Opens of one database are safe.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("pgstore: open: %w", err)
	}
	// An acknowledged change must survive a crash of the server: whatever
	// the server's or the database's default, devapi's sessions wait for
	// the WAL flush of every commit.
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	if !strings.Contains(url, "pool_max_conns") {
		// pgx's default, 4 on this size of machine, queues concurrent
		// requests behind 4 round trips; PostgreSQL batches the fsyncs of
		// concurrent commits itself, so more connections carry more resets.
		cfg.MaxConns = defaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: open: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: open: %w", err)
	}
	ms, err := schema.Migrations()
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: open: %w", err)
	}
	if err := migrate(ctx, pool, ms); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: open: %w", err)
	}
	s := &Store{pool: pool, keys: &keys{}}
	s.keys.version.Read = s.readKeysVersion
	s.creds = newCredBatcher(s.sendCredentials)
	return s, nil
}

// Close closes the connection pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func isUniqueViolation(err error) bool { return pgCode(err) == "23505" }

func isForeignKeyViolation(err error) bool { return pgCode(err) == "23503" }

// noSpace turns *err into ENOSPACE, wrapping it, when PostgreSQL answered
// disk_full (53100): the server's disk has no room for the change. Every
// method that writes defers it.
func noSpace(err *error) {
	if pgCode(*err) == "53100" {
		*err = fmt.Errorf("%w: %w", devapi.Errorf(devapi.ENOSPACE, "the disk of devapi's store is full: nothing was changed; free disk space and try again"), *err)
	}
}
