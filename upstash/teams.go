package upstash

import (
	"context"
	"net/http"

	"github.com/devapi-dev/devapi/gen"
)

// ListTeams lists the teams the account belongs to, with its role in each
// (GET /teams). It is retried.
func (c *Client) ListTeams(ctx context.Context) ([]Team, error) {
	list, err := result(ctx, "list teams",
		func(ctx context.Context) (*http.Response, error) { return c.api.ListTeams(ctx) },
		gen.ParseListTeamsResponse,
		func(r *gen.ListTeamsResponse) *[]gen.Team { return r.JSON200 })
	if err != nil {
		return nil, err
	}
	out := make([]Team, 0, len(*list))
	for _, g := range *list {
		out = append(out, fromGenTeam(g))
	}
	return out, nil
}

// CreateTeam creates a team whose owner is the account (POST /team).
// copyCC asks for the account's credit card to be copied to the team.
func (c *Client) CreateTeam(ctx context.Context, name string, copyCC bool) (*Team, error) {
	g, err := result(ctx, "create team",
		func(ctx context.Context) (*http.Response, error) {
			return c.api.CreateTeam(ctx, gen.CreateTeamJSONRequestBody{TeamName: name, CopyCc: copyCC})
		},
		gen.ParseCreateTeamResponse,
		func(r *gen.CreateTeamResponse) *gen.Team { return r.JSON200 })
	if err != nil {
		return nil, err
	}
	t := fromGenTeam(*g)
	return &t, nil
}

// DeleteTeam deletes a team (DELETE /team/{id}); only its owner may.
// ErrNotFound if the account is not a member of the team.
func (c *Client) DeleteTeam(ctx context.Context, id string) error {
	return ok(ctx, "delete team", func(ctx context.Context) (*http.Response, error) {
		return c.api.DeleteTeam(ctx, id)
	})
}

// TeamMembers lists a team's members (GET /teams/{team_id}). It is retried.
// ErrNotFound if the account is not a member of the team.
func (c *Client) TeamMembers(ctx context.Context, teamID string) ([]TeamMember, error) {
	list, err := result(ctx, "team members",
		func(ctx context.Context) (*http.Response, error) { return c.api.GetTeamMembers(ctx, teamID) },
		gen.ParseGetTeamMembersResponse,
		func(r *gen.GetTeamMembersResponse) *[]gen.TeamMember { return r.JSON200 })
	if err != nil {
		return nil, err
	}
	out := make([]TeamMember, 0, len(*list))
	for _, g := range *list {
		out = append(out, fromGenTeamMember(g))
	}
	return out, nil
}

// AddTeamMember adds the account email to a team with role: admin, dev or
// finance (POST /teams/member). Only the team's owner or an admin may.
func (c *Client) AddTeamMember(ctx context.Context, teamID, email, role string) (*TeamMember, error) {
	g, err := result(ctx, "add team member",
		func(ctx context.Context) (*http.Response, error) {
			return c.api.AddTeamMember(ctx, gen.AddTeamMemberJSONRequestBody{
				TeamId: teamID, MemberEmail: email, MemberRole: gen.AddTeamMemberRequestMemberRole(role),
			})
		},
		gen.ParseAddTeamMemberResponse,
		func(r *gen.AddTeamMemberResponse) *gen.TeamMember { return r.JSON200 })
	if err != nil {
		return nil, err
	}
	m := fromGenTeamMember(*g)
	return &m, nil
}

// RemoveTeamMember removes the account email from a team
// (DELETE /teams/member). The owner cannot be removed.
func (c *Client) RemoveTeamMember(ctx context.Context, teamID, email string) error {
	return ok(ctx, "remove team member", func(ctx context.Context) (*http.Response, error) {
		return c.api.DeleteTeamMember(ctx, gen.DeleteTeamMemberJSONRequestBody{TeamId: teamID, MemberEmail: email})
	})
}
