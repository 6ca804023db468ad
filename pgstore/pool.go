package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/devapi-dev/devapi"
)

var _ devapi.PoolStore = (*Store)(nil)

// AssignPoolServer implements devapi.PoolStore without a lock: it inserts
// the first server it sees free with ON CONFLICT DO NOTHING, and when a
// concurrent caller, of any process, took that server (or assigned id)
// first, the UNIQUE constraints make the insert a no-op and it looks again.
func (s *Store) AssignPoolServer(ctx context.Context, id string, servers []string) (_ string, err error) {
	defer noSpace(&err)
	for {
		var held string
		err := s.pool.QueryRow(ctx, `SELECT server FROM pool_assignments WHERE database_id = $1`, id).Scan(&held)
		switch {
		case err == nil:
			return held, nil
		case !errors.Is(err, pgx.ErrNoRows):
			return "", fmt.Errorf("pgstore: assign pool server: %w", err)
		}
		rows, err := s.pool.Query(ctx, `SELECT server FROM pool_assignments`)
		if err != nil {
			return "", fmt.Errorf("pgstore: assign pool server: %w", err)
		}
		takenList, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return "", fmt.Errorf("pgstore: assign pool server: %w", err)
		}
		taken := make(map[string]bool, len(takenList))
		for _, server := range takenList {
			taken[server] = true
		}
		free := ""
		for _, server := range servers {
			if !taken[server] {
				free = server
				break
			}
		}
		if free == "" {
			return "", devapi.Errorf(devapi.ECONFLICT, "every pool server is taken (%d of %d)", len(taken), len(servers))
		}
		tag, err := s.pool.Exec(ctx,
			`INSERT INTO pool_assignments (database_id, server, generation) VALUES ($1, $2, -1) ON CONFLICT DO NOTHING`, id, free)
		if err != nil {
			return "", fmt.Errorf("pgstore: assign pool server: %w", err)
		}
		if tag.RowsAffected() == 1 {
			return free, nil
		}
		// Lost a race for free or for id: every loss is another caller's
		// committed row, so this ends.
	}
}

// PoolAssignments implements devapi.PoolStore.
func (s *Store) PoolAssignments(ctx context.Context) (map[string]devapi.PoolAssignment, error) {
	rows, err := s.pool.Query(ctx, `SELECT database_id, server, generation FROM pool_assignments`)
	if err != nil {
		return nil, fmt.Errorf("pgstore: pool assignments: %w", err)
	}
	defer rows.Close()
	out := map[string]devapi.PoolAssignment{}
	for rows.Next() {
		var id string
		var a devapi.PoolAssignment
		if err := rows.Scan(&id, &a.Server, &a.Generation); err != nil {
			return nil, fmt.Errorf("pgstore: pool assignments: %w", err)
		}
		out[id] = a
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: pool assignments: %w", err)
	}
	return out, nil
}

// ApplyPoolGeneration implements devapi.PoolStore with SELECT ... FOR
// UPDATE: the row lock is held across apply and the UPDATE of the
// generation, until COMMIT, so calls for one id from any process run one
// after another, and calls for other ids do not wait. A caller that waits
// holds a connection of the pool meanwhile.
func (s *Store) ApplyPoolGeneration(ctx context.Context, id string, generation int64, apply func(ctx context.Context) error) (_ bool, err error) {
	defer noSpace(&err)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("pgstore: apply pool generation: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }() // a no-op after Commit

	var recorded int64
	err = tx.QueryRow(ctx, `SELECT generation FROM pool_assignments WHERE database_id = $1 FOR UPDATE`, id).Scan(&recorded)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return false, devapi.Errorf(devapi.ENOTFOUND, "database %s holds no pool server", id)
	case err != nil:
		return false, fmt.Errorf("pgstore: apply pool generation: %w", err)
	}
	if generation < recorded {
		return false, nil
	}
	if err := apply(ctx); err != nil {
		return false, err
	}
	if _, err := tx.Exec(ctx, `UPDATE pool_assignments SET generation = $1 WHERE database_id = $2`, generation, id); err != nil {
		return false, fmt.Errorf("pgstore: apply pool generation: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("pgstore: apply pool generation: commit: %w", err)
	}
	return true, nil
}

// ReleasePoolServer implements devapi.PoolStore. It waits for an
// ApplyPoolGeneration of id that holds the row lock.
func (s *Store) ReleasePoolServer(ctx context.Context, id string) (err error) {
	defer noSpace(&err)
	if _, err := s.pool.Exec(ctx, `DELETE FROM pool_assignments WHERE database_id = $1`, id); err != nil {
		return fmt.Errorf("pgstore: release pool server: %w", err)
	}
	return nil
}
