package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/devapi-dev/devapi"
)

var _ devapi.PoolStore = (*Store)(nil)

// AssignPoolServer implements devapi.PoolStore: it reads the taken servers
// and inserts the first free one in one write of the store (see write), so
// concurrent callers, of this process or another on the same file, see
// each other's assignments.
func (s *Store) AssignPoolServer(ctx context.Context, id string, servers []string) (string, error) {
	var assigned string
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT server FROM pool_assignments WHERE database_id = ?`, id).Scan(&assigned)
		if !errors.Is(err, sql.ErrNoRows) {
			return err // held already, or a failure
		}
		taken, err := takenServers(ctx, tx)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(servers, func(server string) bool { return !taken[server] })
		if i < 0 {
			return devapi.Errorf(devapi.ECONFLICT, "every pool server is taken (%d of %d)", len(taken), len(servers))
		}
		assigned = servers[i]
		_, err = tx.ExecContext(ctx, `INSERT INTO pool_assignments (database_id, server, generation) VALUES (?, ?, -1)`, id, assigned)
		return err
	})
	switch {
	case devapi.ErrorCode(err) == devapi.ECONFLICT:
		return "", err
	case err != nil:
		return "", fmt.Errorf("sqlitestore: assign pool server: %w", err)
	}
	return assigned, nil
}

// takenServers returns the set of servers some database holds.
func takenServers(ctx context.Context, tx *sql.Tx) (map[string]bool, error) {
	rows, err := tx.QueryContext(ctx, `SELECT server FROM pool_assignments`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	taken := map[string]bool{}
	for rows.Next() {
		var server string
		if err := rows.Scan(&server); err != nil {
			return nil, err
		}
		taken[server] = true
	}
	return taken, rows.Err()
}

// PoolAssignments implements devapi.PoolStore.
func (s *Store) PoolAssignments(ctx context.Context) (map[string]devapi.PoolAssignment, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT database_id, server, generation FROM pool_assignments`)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: pool assignments: %w", err)
	}
	defer rows.Close()
	out := map[string]devapi.PoolAssignment{}
	for rows.Next() {
		var id string
		var a devapi.PoolAssignment
		if err := rows.Scan(&id, &a.Server, &a.Generation); err != nil {
			return nil, fmt.Errorf("sqlitestore: pool assignments: %w", err)
		}
		out[id] = a
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: pool assignments: %w", err)
	}
	return out, nil
}

// ApplyPoolGeneration implements devapi.PoolStore. It holds a BEGIN
// IMMEDIATE transaction, and so the write lock of the whole file, across
// apply: calls for one id run one after another, and so does every other
// write to the store meanwhile. Writers of other processes on the file wait
// up to the busy timeout (5s), so apply must be quick.
func (s *Store) ApplyPoolGeneration(ctx context.Context, id string, generation int64, apply func(ctx context.Context) error) (bool, error) {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("sqlitestore: apply pool generation: %w", err)
	}
	defer tx.Rollback() // a no-op after Commit

	var recorded int64
	err = tx.QueryRowContext(ctx, `SELECT generation FROM pool_assignments WHERE database_id = ?`, id).Scan(&recorded)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, devapi.Errorf(devapi.ENOTFOUND, "database %s holds no pool server", id)
	case err != nil:
		return false, fmt.Errorf("sqlitestore: apply pool generation: %w", err)
	}
	if generation < recorded {
		return false, nil
	}
	if err := apply(ctx); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx,
		`UPDATE pool_assignments SET generation = ? WHERE database_id = ?`, generation, id); err != nil {
		return false, noSpace(fmt.Errorf("sqlitestore: apply pool generation: %w", err))
	}
	if err := tx.Commit(); err != nil {
		return false, noSpace(fmt.Errorf("sqlitestore: apply pool generation: commit: %w", err))
	}
	return true, nil
}

// ReleasePoolServer implements devapi.PoolStore.
func (s *Store) ReleasePoolServer(ctx context.Context, id string) error {
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM pool_assignments WHERE database_id = ?`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: release pool server: %w", err)
	}
	return nil
}
