package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/schema"
)

// CreateDatabase stores a new database. ECONFLICT if the id exists, ENOTFOUND
// if its owner has no account. A nil ReadRegions is stored, and read back, as
// an empty list.
func (s *Store) CreateDatabase(ctx context.Context, d *devapi.Database) error {
	regions := d.ReadRegions
	if regions == nil {
		regions = []string{}
	}
	readRegions, err := json.Marshal(regions)
	if err != nil {
		return fmt.Errorf("sqlitestore: create database: %w", err)
	}
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO databases (`+schema.DatabaseColumns+`)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			d.ID, d.Owner, d.Name, d.Platform, d.PrimaryRegion, string(readRegions), d.Plan, d.Budget,
			schema.Bool(d.TLS), schema.Bool(d.Eviction), schema.Bool(d.AutoUpgrade), schema.Bool(d.ProdPack),
			d.State, d.Endpoint, d.Port, schema.Micros(d.CreatedAt),
			d.Password, d.RestToken, d.ReadOnlyRestToken, d.Generation, schema.Bool(d.DailyBackup), schema.List(d.AllowedIPs))
		switch {
		case isUniqueViolation(err):
			return devapi.Errorf(devapi.ECONFLICT, "database %s already exists", d.ID)
		case isForeignKeyViolation(err):
			return devapi.Errorf(devapi.ENOTFOUND, "account %s not found", d.Owner)
		case err != nil:
			return fmt.Errorf("sqlitestore: create database: %w", err)
		}
		return nil
	})
}

const databaseQuery = `SELECT ` + schema.DatabaseColumns + ` FROM databases WHERE id = ? AND owner = ?`

// Database returns one database of owner. ENOTFOUND if it does not exist or
// belongs to another account.
func (s *Store) Database(ctx context.Context, owner, id string) (*devapi.Database, error) {
	d, err := schema.ScanDatabase(s.stmts.database.QueryRowContext(ctx, id, owner))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, devapi.Errorf(devapi.ENOTFOUND, "database %s not found", id)
	case err != nil:
		return nil, fmt.Errorf("sqlitestore: get database: %w", err)
	}
	return d, nil
}

// Databases lists owner's databases, oldest first (ties by id).
func (s *Store) Databases(ctx context.Context, owner string) ([]*devapi.Database, error) {
	return s.listDatabases(ctx,
		`SELECT `+schema.DatabaseColumns+` FROM databases WHERE owner = ? ORDER BY created_at, id`, owner)
}

// DatabaseByRestToken returns the database whose full or read-only REST
// token is token. EUNAUTHORIZED if none. The token carries its database's
// id (devapi.RestTokenDatabaseID): the row is read by its id and the token
// compared with the stored ones in constant time, so no index of tokens is
// kept up to date by every reset.
func (s *Store) DatabaseByRestToken(ctx context.Context, token string) (*devapi.Database, bool, error) {
	id, ok := devapi.RestTokenDatabaseID(token)
	if !ok {
		return nil, false, devapi.Errorf(devapi.EUNAUTHORIZED, "invalid or missing auth token")
	}
	row := s.reader.QueryRowContext(ctx,
		`SELECT `+schema.DatabaseColumns+` FROM databases WHERE id = ?`, id)
	d, err := schema.ScanDatabase(row)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, false, devapi.Errorf(devapi.EUNAUTHORIZED, "invalid or missing auth token")
	case err != nil:
		return nil, false, fmt.Errorf("sqlitestore: database by token: %w", err)
	}
	readOnly, ok := devapi.MatchRestToken(d, token)
	if !ok {
		return nil, false, devapi.Errorf(devapi.EUNAUTHORIZED, "invalid or missing auth token")
	}
	return d, readOnly, nil
}

// AllDatabases lists every account's databases, oldest first (ties by id).
func (s *Store) AllDatabases(ctx context.Context) ([]*devapi.Database, error) {
	return s.listDatabases(ctx, `SELECT `+schema.DatabaseColumns+` FROM databases ORDER BY created_at, id`)
}

func (s *Store) listDatabases(ctx context.Context, query string, args ...any) ([]*devapi.Database, error) {
	rows, err := s.reader.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list databases: %w", err)
	}
	defer rows.Close()
	var ds []*devapi.Database
	for rows.Next() {
		d, err := schema.ScanDatabase(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlitestore: list databases: %w", err)
		}
		ds = append(ds, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: list databases: %w", err)
	}
	return ds, nil
}

// DeleteDatabase removes one database of owner. ENOTFOUND as Database.
func (s *Store) DeleteDatabase(ctx context.Context, owner, id string) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		n, err := execCount(ctx, tx, `DELETE FROM databases WHERE id = ? AND owner = ?`, id, owner)
		if err != nil {
			return fmt.Errorf("sqlitestore: delete database: %w", err)
		}
		if n == 0 {
			return devapi.Errorf(devapi.ENOTFOUND, "database %s not found", id)
		}
		return nil
	})
}

// setCredentialsUpdate is the one statement of a reset. The owner is in
// the WHERE, and so is the caller's API key when one is given (the sixth
// argument; empty for none): a key removed before the statement ran makes
// it change nothing.
const setCredentialsUpdate = `UPDATE databases
	SET password = ?, rest_token = ?, read_only_rest_token = ?, generation = generation + 1
	WHERE id = ? AND owner = ?
	  AND (?6 = '' OR EXISTS (SELECT 1 FROM api_keys WHERE key_hash = ?6 AND email = databases.owner))`

// setCredentialsByRowid is setCredentialsUpdate for a row the writer's
// connection keeps, whose owner and key it has checked (reset.go), found
// by its rowid: the first three arguments and the rowid.
const setCredentialsByRowid = `UPDATE databases
	SET password = ?, rest_token = ?, read_only_rest_token = ?, generation = generation + 1
	WHERE rowid = ?`

// setCredentialsQuery is setCredentialsUpdate returning the row it wrote,
// and its rowid, for a database whose row the writer's connection does not
// keep (reset.go).
const setCredentialsQuery = setCredentialsUpdate + `
	RETURNING ` + schema.DatabaseColumns + `, rowid`

// SetCredentials replaces a database's password and tokens in one atomic
// change, moves its generation one forward, and returns the database as
// stored after the change. c.Generation is ignored. ENOTFOUND as Database.
//
// It is one UPDATE, a one-statement write of the group committer (no
// savepoint), run through the driver (reset.go): UPDATE ... RETURNING, or
// the UPDATE alone when the writer's connection keeps the row and knows
// nothing else has changed it. Either way the row it returns is the row it
// wrote, so of overlapping calls each gets a consistent database and the
// one that commits last wins. It returns once the transaction holding the
// write has committed; a commit error is the call's error.
func (s *Store) SetCredentials(ctx context.Context, owner, id string, c devapi.Credentials) (*devapi.Database, error) {
	return s.setCredentials(ctx, owner, "", id, c)
}

// SetCredentialsAsKey implements devapi.Store: SetCredentials with the
// key's existence in the statement's WHERE.
func (s *Store) SetCredentialsAsKey(ctx context.Context, owner, keyHash, id string, c devapi.Credentials) (*devapi.Database, error) {
	if keyHash == "" {
		return nil, devapi.Errorf(devapi.ENOTFOUND, "database %s not found", id)
	}
	return s.setCredentials(ctx, owner, keyHash, id, c)
}

func (s *Store) setCredentials(ctx context.Context, owner, keyHash, id string, c devapi.Credentials) (*devapi.Database, error) {
	d, err := s.committer.writeReset(ctx, resetArgs{owner: owner, keyHash: keyHash, id: id, c: c})
	if err != nil {
		return nil, noSpace(err)
	}
	return d, nil
}

// UpdateDatabase implements devapi.Store: SELECT, change, UPDATE as one
// write of the group committer, so concurrent updates apply one after
// another. change runs on the committer's goroutine while it holds the
// write lock: it must be quick and must not call the store's write methods
// (that would wait for itself).
func (s *Store) UpdateDatabase(ctx context.Context, owner, id string, change func(*devapi.Database) error) (*devapi.Database, error) {
	var updated *devapi.Database
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		updated, err = updateDatabase(ctx, tx, owner, id, change)
		return err
	})
	if err != nil {
		return nil, err
	}
	return updated, nil
}

func updateDatabase(ctx context.Context, tx *sql.Tx, owner, id string, change func(*devapi.Database) error) (*devapi.Database, error) {
	d, err := schema.ScanDatabase(tx.QueryRowContext(ctx,
		`SELECT `+schema.DatabaseColumns+` FROM databases WHERE id = ? AND owner = ?`, id, owner))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, devapi.Errorf(devapi.ENOTFOUND, "database %s not found", id)
	case err != nil:
		return nil, fmt.Errorf("sqlitestore: update database: %w", err)
	}
	if err := change(d); err != nil {
		return nil, err
	}
	regions := d.ReadRegions
	if regions == nil {
		regions = []string{}
	}
	readRegions, err := json.Marshal(regions)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: update database: %w", err)
	}
	row := tx.QueryRowContext(ctx,
		`UPDATE databases
		 SET name = ?, owner = ?, plan = ?, budget = ?, tls = ?, eviction = ?, auto_upgrade = ?, prod_pack = ?, read_regions = ?, state = ?, daily_backup = ?, allowed_ips = ?
		 WHERE id = ? AND owner = ?
		 RETURNING `+schema.DatabaseColumns,
		d.Name, d.Owner, d.Plan, d.Budget, schema.Bool(d.TLS), schema.Bool(d.Eviction), schema.Bool(d.AutoUpgrade), schema.Bool(d.ProdPack),
		string(readRegions), d.State, schema.Bool(d.DailyBackup), schema.List(d.AllowedIPs), id, owner)
	updated, err := schema.ScanDatabase(row)
	switch {
	case isForeignKeyViolation(err):
		return nil, devapi.Errorf(devapi.ENOTFOUND, "account %s not found", d.Owner)
	case err != nil:
		return nil, fmt.Errorf("sqlitestore: update database: %w", err)
	}
	return updated, nil
}
