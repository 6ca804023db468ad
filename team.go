package devapi

import (
	"context"
	"time"
)

// Team is an Upstash team. A team is also an account, whose email is the
// team's id: the databases moved to a team belong to that account, and API
// keys made for it (devapi accounts add-key TEAM_ID) act as the team, as
// Upstash's team API keys do.
type Team struct {
	ID        string
	Name      string
	CopyCC    bool
	CreatedAt time.Time
}

// Roles a team member can have. Every team has one owner, its creator.
const (
	RoleOwner   = "owner"
	RoleAdmin   = "admin"
	RoleDev     = "dev"
	RoleFinance = "finance"
)

// TeamMember is one account's membership of a team.
type TeamMember struct {
	Team  Team
	Email string
	Role  string
}

// TeamStore keeps teams and their members. Implementations are safe for
// concurrent use; a method that returns without error made its change
// durable.
type TeamStore interface {
	// CreateTeam stores a team, its account, and owner as its owner, in one
	// change. ECONFLICT if the id exists; ENOTFOUND if owner has no account.
	CreateTeam(ctx context.Context, t *Team, owner string) error
	// Teams lists the memberships of email, oldest team first.
	Teams(ctx context.Context, email string) ([]*TeamMember, error)
	// TeamMembers lists a team's members, owner first. ENOTFOUND if no team.
	TeamMembers(ctx context.Context, teamID string) ([]*TeamMember, error)
	// AddTeamMember adds an account to a team. ENOTFOUND if the team or the
	// account does not exist; ECONFLICT if it is a member already.
	AddTeamMember(ctx context.Context, teamID, email, role string) (*TeamMember, error)
	// RemoveTeamMember removes a member. ENOTFOUND if not a member.
	RemoveTeamMember(ctx context.Context, teamID, email string) error
	// DeleteTeam removes a team, its members and its account. ECONFLICT if
	// the team still owns databases; ENOTFOUND if no such team.
	DeleteTeam(ctx context.Context, teamID string) error
}
