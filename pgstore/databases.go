package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/schema"
)

// CreateDatabase stores a new database. ECONFLICT if the id exists, ENOTFOUND
// if its owner has no account. A nil ReadRegions is stored, and read back, as
// an empty list.
func (s *Store) CreateDatabase(ctx context.Context, d *devapi.Database) (err error) {
	defer noSpace(&err)
	regions := d.ReadRegions
	if regions == nil {
		regions = []string{}
	}
	readRegions, err := json.Marshal(regions)
	if err != nil {
		return fmt.Errorf("pgstore: create database: %w", err)
	}
	_, err = s.pool.Exec(ctx,
		`INSERT INTO databases (`+schema.DatabaseColumns+`)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)`,
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
		return fmt.Errorf("pgstore: create database: %w", err)
	}
	return nil
}

// Database returns one database of owner. ENOTFOUND if it does not exist or
// belongs to another account.
func (s *Store) Database(ctx context.Context, owner, id string) (*devapi.Database, error) {
	row := s.pool.QueryRow(ctx,
		`SELECT `+schema.DatabaseColumns+` FROM databases WHERE id = $1 AND owner = $2`, id, owner)
	d, err := schema.ScanDatabase(row)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, devapi.Errorf(devapi.ENOTFOUND, "database %s not found", id)
	case err != nil:
		return nil, fmt.Errorf("pgstore: get database: %w", err)
	}
	return d, nil
}

// Databases lists owner's databases, oldest first (ties by id).
func (s *Store) Databases(ctx context.Context, owner string) ([]*devapi.Database, error) {
	return s.listDatabases(ctx,
		`SELECT `+schema.DatabaseColumns+` FROM databases WHERE owner = $1 ORDER BY created_at, id COLLATE "C"`, owner)
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
	row := s.pool.QueryRow(ctx,
		`SELECT `+schema.DatabaseColumns+` FROM databases WHERE id = $1`, id)
	d, err := schema.ScanDatabase(row)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, false, devapi.Errorf(devapi.EUNAUTHORIZED, "invalid or missing auth token")
	case err != nil:
		return nil, false, fmt.Errorf("pgstore: database by token: %w", err)
	}
	readOnly, ok := devapi.MatchRestToken(d, token)
	if !ok {
		return nil, false, devapi.Errorf(devapi.EUNAUTHORIZED, "invalid or missing auth token")
	}
	return d, readOnly, nil
}

// AllDatabases lists every account's databases, oldest first (ties by id).
func (s *Store) AllDatabases(ctx context.Context) ([]*devapi.Database, error) {
	return s.listDatabases(ctx, `SELECT `+schema.DatabaseColumns+` FROM databases ORDER BY created_at, id COLLATE "C"`)
}

func (s *Store) listDatabases(ctx context.Context, query string, args ...any) ([]*devapi.Database, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list databases: %w", err)
	}
	defer rows.Close()
	var ds []*devapi.Database
	for rows.Next() {
		d, err := schema.ScanDatabase(rows)
		if err != nil {
			return nil, fmt.Errorf("pgstore: list databases: %w", err)
		}
		ds = append(ds, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: list databases: %w", err)
	}
	return ds, nil
}

// DeleteDatabase removes one database of owner. ENOTFOUND as Database.
func (s *Store) DeleteDatabase(ctx context.Context, owner, id string) (err error) {
	defer noSpace(&err)
	res, err := s.pool.Exec(ctx,
		`DELETE FROM databases WHERE id = $1 AND owner = $2`, id, owner)
	if err != nil {
		return fmt.Errorf("pgstore: delete database: %w", err)
	}
	n := res.RowsAffected()
	if n == 0 {
		return devapi.Errorf(devapi.ENOTFOUND, "database %s not found", id)
	}
	return nil
}

// SetCredentials replaces a database's password and tokens in one atomic
// change, moves its generation one forward, and returns the database as
// stored after the change. c.Generation is ignored. ENOTFOUND as Database.
//
// It is one UPDATE ... RETURNING, sent and committed with the resets
// waiting at the same time (see commit.go): the row lock makes overlapping
// calls apply one after another, each gets the row it wrote, and the one
// that commits last wins.
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
	op := &credOp{owner: owner, keyHash: keyHash, id: id, c: c, done: make(chan struct{}), lead: make(chan struct{}, 1)}
	if err := s.creds.do(ctx, op); err != nil {
		return nil, err
	}
	return op.d, nil
}

// UpdateDatabase implements devapi.Store: SELECT, change, UPDATE in one
// transaction that reads the row FOR UPDATE, so concurrent updates apply one
// after another.
func (s *Store) UpdateDatabase(ctx context.Context, owner, id string, change func(*devapi.Database) error) (_ *devapi.Database, err error) {
	defer noSpace(&err)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("pgstore: update database: %w", err)
	}
	defer tx.Rollback(ctx) // a no-op after Commit
	d, err := schema.ScanDatabase(tx.QueryRow(ctx,
		`SELECT `+schema.DatabaseColumns+` FROM databases WHERE id = $1 AND owner = $2 FOR UPDATE`, id, owner))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, devapi.Errorf(devapi.ENOTFOUND, "database %s not found", id)
	case err != nil:
		return nil, fmt.Errorf("pgstore: update database: %w", err)
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
		return nil, fmt.Errorf("pgstore: update database: %w", err)
	}
	row := tx.QueryRow(ctx,
		`UPDATE databases
		 SET name = $1, owner = $2, plan = $3, budget = $4, tls = $5, eviction = $6, auto_upgrade = $7, prod_pack = $8, read_regions = $9, state = $10, daily_backup = $11, allowed_ips = $12
		 WHERE id = $13 AND owner = $14
		 RETURNING `+schema.DatabaseColumns,
		d.Name, d.Owner, d.Plan, d.Budget, schema.Bool(d.TLS), schema.Bool(d.Eviction), schema.Bool(d.AutoUpgrade), schema.Bool(d.ProdPack),
		string(readRegions), d.State, schema.Bool(d.DailyBackup), schema.List(d.AllowedIPs), id, owner)
	updated, err := schema.ScanDatabase(row)
	switch {
	case isForeignKeyViolation(err):
		return nil, devapi.Errorf(devapi.ENOTFOUND, "account %s not found", d.Owner)
	case err != nil:
		return nil, fmt.Errorf("pgstore: update database: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("pgstore: update database: commit: %w", err)
	}
	return updated, nil
}
