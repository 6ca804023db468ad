package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/schema"
)

// CreateTeam implements devapi.TeamStore: the team's account, the team and
// its owner in one transaction.
func (s *Store) CreateTeam(ctx context.Context, t *devapi.Team, owner string) (err error) {
	defer noSpace(&err)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: create team: %w", err)
	}
	defer tx.Rollback(ctx) // a no-op after Commit
	var one int
	switch err := tx.QueryRow(ctx, `SELECT 1 FROM accounts WHERE email = $1`, owner).Scan(&one); {
	case errors.Is(err, pgx.ErrNoRows):
		return devapi.Errorf(devapi.ENOTFOUND, "account %s not found", owner)
	case err != nil:
		return fmt.Errorf("pgstore: create team: %w", err)
	}
	stmts := []struct {
		query string
		args  []any
	}{
		{`INSERT INTO accounts (email, created_at) VALUES ($1, $2)`, []any{t.ID, schema.Micros(t.CreatedAt)}},
		{`INSERT INTO teams (id, name, copy_cc, created_at) VALUES ($1, $2, $3, $4)`, []any{t.ID, t.Name, schema.Bool(t.CopyCC), schema.Micros(t.CreatedAt)}},
		{`INSERT INTO team_members (team_id, email, role) VALUES ($1, $2, $3)`, []any{t.ID, owner, devapi.RoleOwner}},
	}
	for _, st := range stmts {
		if _, err := tx.Exec(ctx, st.query, st.args...); isUniqueViolation(err) {
			return devapi.Errorf(devapi.ECONFLICT, "team %s already exists", t.ID)
		} else if err != nil {
			return fmt.Errorf("pgstore: create team: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgstore: create team: commit: %w", err)
	}
	return nil
}

const memberColumns = `t.id, t.name, t.copy_cc, t.created_at, m.email, m.role`

func scanMembers(rows pgx.Rows) ([]*devapi.TeamMember, error) {
	defer rows.Close()
	var out []*devapi.TeamMember
	for rows.Next() {
		var m devapi.TeamMember
		var copyCC, created int64
		if err := rows.Scan(&m.Team.ID, &m.Team.Name, &copyCC, &created, &m.Email, &m.Role); err != nil {
			return nil, err
		}
		m.Team.CopyCC, m.Team.CreatedAt = copyCC == 1, schema.FromMicros(created)
		out = append(out, &m)
	}
	return out, rows.Err()
}

// Teams implements devapi.TeamStore.
func (s *Store) Teams(ctx context.Context, email string) ([]*devapi.TeamMember, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+memberColumns+`
		FROM team_members m JOIN teams t ON t.id = m.team_id
		WHERE m.email = $1 ORDER BY t.created_at, t.id COLLATE "C"`, email)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list teams: %w", err)
	}
	ms, err := scanMembers(rows)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list teams: %w", err)
	}
	return ms, nil
}

// TeamMembers implements devapi.TeamStore.
func (s *Store) TeamMembers(ctx context.Context, teamID string) ([]*devapi.TeamMember, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+memberColumns+`
		FROM team_members m JOIN teams t ON t.id = m.team_id
		WHERE t.id = $1 ORDER BY m.role <> 'owner', m.email COLLATE "C"`, teamID)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list team members: %w", err)
	}
	ms, err := scanMembers(rows)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list team members: %w", err)
	}
	if len(ms) == 0 { // every team has its owner
		return nil, devapi.Errorf(devapi.ENOTFOUND, "team %s not found", teamID)
	}
	return ms, nil
}

// AddTeamMember implements devapi.TeamStore.
func (s *Store) AddTeamMember(ctx context.Context, teamID, email, role string) (_ *devapi.TeamMember, err error) {
	defer noSpace(&err)
	_, err = s.pool.Exec(ctx, `INSERT INTO team_members (team_id, email, role) VALUES ($1, $2, $3)`, teamID, email, role)
	switch {
	case isUniqueViolation(err):
		return nil, devapi.Errorf(devapi.ECONFLICT, "%s is already a member of the team", email)
	case isForeignKeyViolation(err):
		return nil, devapi.Errorf(devapi.ENOTFOUND, "no team %s or no account %s", teamID, email)
	case err != nil:
		return nil, fmt.Errorf("pgstore: add team member: %w", err)
	}
	ms, err := s.TeamMembers(ctx, teamID)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if m.Email == email {
			return m, nil
		}
	}
	return nil, fmt.Errorf("pgstore: add team member: %s not found after insert", email)
}

// RemoveTeamMember implements devapi.TeamStore.
func (s *Store) RemoveTeamMember(ctx context.Context, teamID, email string) (err error) {
	defer noSpace(&err)
	res, err := s.pool.Exec(ctx, `DELETE FROM team_members WHERE team_id = $1 AND email = $2`, teamID, email)
	if err != nil {
		return fmt.Errorf("pgstore: remove team member: %w", err)
	}
	if n := res.RowsAffected(); n == 0 {
		return devapi.Errorf(devapi.ENOTFOUND, "%s is not a member of team %s", email, teamID)
	}
	return nil
}

// DeleteTeam implements devapi.TeamStore.
func (s *Store) DeleteTeam(ctx context.Context, teamID string) (err error) {
	defer noSpace(&err)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: delete team: %w", err)
	}
	defer tx.Rollback(ctx) // a no-op after Commit
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM databases WHERE owner = $1`, teamID).Scan(&n); err != nil {
		return fmt.Errorf("pgstore: delete team: %w", err)
	}
	if n > 0 {
		return devapi.Errorf(devapi.ECONFLICT, "team %s still owns %d databases; move or delete them first", teamID, n)
	}
	res, err := tx.Exec(ctx, `DELETE FROM teams WHERE id = $1`, teamID)
	if err != nil {
		return fmt.Errorf("pgstore: delete team: %w", err)
	}
	if n := res.RowsAffected(); n == 0 {
		return devapi.Errorf(devapi.ENOTFOUND, "team %s not found", teamID)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM accounts WHERE email = $1`, teamID); err != nil {
		return fmt.Errorf("pgstore: delete team: %w", err)
	}
	if err := bumpKeysVersion(ctx, tx); err != nil { // the account's keys went with it
		return fmt.Errorf("pgstore: delete team: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgstore: delete team: commit: %w", err)
	}
	return nil
}
