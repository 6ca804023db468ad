package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/schema"
)

// CreateTeam implements devapi.TeamStore: the team's account, the team and
// its owner in one write, all or nothing.
func (s *Store) CreateTeam(ctx context.Context, t *devapi.Team, owner string) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return createTeam(ctx, tx, t, owner)
	})
}

func createTeam(ctx context.Context, tx *sql.Tx, t *devapi.Team, owner string) error {
	var one int
	switch err := tx.QueryRowContext(ctx, `SELECT 1 FROM accounts WHERE email = ?`, owner).Scan(&one); {
	case errors.Is(err, sql.ErrNoRows):
		return devapi.Errorf(devapi.ENOTFOUND, "account %s not found", owner)
	case err != nil:
		return fmt.Errorf("sqlitestore: create team: %w", err)
	}
	stmts := []struct {
		query string
		args  []any
	}{
		{`INSERT INTO accounts (email, created_at) VALUES (?, ?)`, []any{t.ID, schema.Micros(t.CreatedAt)}},
		{`INSERT INTO teams (id, name, copy_cc, created_at) VALUES (?, ?, ?, ?)`, []any{t.ID, t.Name, schema.Bool(t.CopyCC), schema.Micros(t.CreatedAt)}},
		{`INSERT INTO team_members (team_id, email, role) VALUES (?, ?, ?)`, []any{t.ID, owner, devapi.RoleOwner}},
	}
	for _, st := range stmts {
		if _, err := tx.ExecContext(ctx, st.query, st.args...); isUniqueViolation(err) {
			return devapi.Errorf(devapi.ECONFLICT, "team %s already exists", t.ID)
		} else if err != nil {
			return fmt.Errorf("sqlitestore: create team: %w", err)
		}
	}
	return nil
}

const memberColumns = `t.id, t.name, t.copy_cc, t.created_at, m.email, m.role`

func scanMembers(rows *sql.Rows) ([]*devapi.TeamMember, error) {
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
	rows, err := s.reader.QueryContext(ctx, `SELECT `+memberColumns+`
		FROM team_members m JOIN teams t ON t.id = m.team_id
		WHERE m.email = ? ORDER BY t.created_at, t.id`, email)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list teams: %w", err)
	}
	ms, err := scanMembers(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list teams: %w", err)
	}
	return ms, nil
}

// TeamMembers implements devapi.TeamStore.
func (s *Store) TeamMembers(ctx context.Context, teamID string) ([]*devapi.TeamMember, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+memberColumns+`
		FROM team_members m JOIN teams t ON t.id = m.team_id
		WHERE t.id = ? ORDER BY m.role <> 'owner', m.email`, teamID)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list team members: %w", err)
	}
	ms, err := scanMembers(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list team members: %w", err)
	}
	if len(ms) == 0 { // every team has its owner
		return nil, devapi.Errorf(devapi.ENOTFOUND, "team %s not found", teamID)
	}
	return ms, nil
}

// AddTeamMember implements devapi.TeamStore.
func (s *Store) AddTeamMember(ctx context.Context, teamID, email, role string) (*devapi.TeamMember, error) {
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO team_members (team_id, email, role) VALUES (?, ?, ?)`, teamID, email, role)
		switch {
		case isUniqueViolation(err):
			return devapi.Errorf(devapi.ECONFLICT, "%s is already a member of the team", email)
		case isForeignKeyViolation(err):
			return devapi.Errorf(devapi.ENOTFOUND, "no team %s or no account %s", teamID, email)
		case err != nil:
			return fmt.Errorf("sqlitestore: add team member: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
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
	return nil, fmt.Errorf("sqlitestore: add team member: %s not found after insert", email)
}

// RemoveTeamMember implements devapi.TeamStore.
func (s *Store) RemoveTeamMember(ctx context.Context, teamID, email string) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		n, err := execCount(ctx, tx, `DELETE FROM team_members WHERE team_id = ? AND email = ?`, teamID, email)
		if err != nil {
			return fmt.Errorf("sqlitestore: remove team member: %w", err)
		}
		if n == 0 {
			return devapi.Errorf(devapi.ENOTFOUND, "%s is not a member of team %s", email, teamID)
		}
		return nil
	})
}

// DeleteTeam implements devapi.TeamStore.
func (s *Store) DeleteTeam(ctx context.Context, teamID string) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return deleteTeam(ctx, tx, teamID)
	})
}

func deleteTeam(ctx context.Context, tx *sql.Tx, teamID string) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM databases WHERE owner = ?`, teamID).Scan(&n); err != nil {
		return fmt.Errorf("sqlitestore: delete team: %w", err)
	}
	if n > 0 {
		return devapi.Errorf(devapi.ECONFLICT, "team %s still owns %d databases; move or delete them first", teamID, n)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM teams WHERE id = ?`, teamID)
	if err != nil {
		return fmt.Errorf("sqlitestore: delete team: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err != nil {
			return fmt.Errorf("sqlitestore: delete team: %w", err)
		}
		return devapi.Errorf(devapi.ENOTFOUND, "team %s not found", teamID)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM accounts WHERE email = ?`, teamID); err != nil {
		return fmt.Errorf("sqlitestore: delete team: %w", err)
	}
	if err := bumpKeysVersion(ctx, tx); err != nil { // the account's keys went with it
		return fmt.Errorf("sqlitestore: delete team: %w", err)
	}
	return nil
}
