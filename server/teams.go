package server

import (
	"context"
	"net/http"

	"github.com/google/uuid"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/gen"
	"github.com/devapi-dev/devapi/internal/genserver"
)

const teamNotFound = "team not found"

// membership returns the caller's membership of a team; ENOTFOUND when the
// caller is not a member, so a team is never revealed to outsiders.
func (s *Server) membership(ctx context.Context, teamID string) (*devapi.TeamMember, error) {
	teams, err := s.store.Teams(ctx, accountFrom(ctx).Email)
	if err != nil {
		return nil, err
	}
	for _, m := range teams {
		if m.Team.ID == teamID {
			return m, nil
		}
	}
	return nil, devapi.Errorf(devapi.ENOTFOUND, "team not found")
}

// manager returns the caller's membership when it may manage members.
func (s *Server) manager(ctx context.Context, teamID string) (*devapi.TeamMember, error) {
	m, err := s.membership(ctx, teamID)
	if err != nil {
		return nil, err
	}
	if m.Role != devapi.RoleOwner && m.Role != devapi.RoleAdmin {
		return nil, devapi.Errorf(devapi.EINVALID, "only the team's owner or an admin can change its members")
	}
	return m, nil
}

// refuseTeamMember refuses (EINVALID) to make the account email a member of
// the team teamID ("" for a team about to be created, whose owner email
// would be) when that account is a team's: a team's API key acts as the
// team, so a team that was a member of another would let every holder of
// its keys administer the other, and a team that was a member of itself
// would be its own manager. A team's account is the one whose email is the
// team's id.
func (s *Server) refuseTeamMember(ctx context.Context, teamID, email string) error {
	if email == teamID {
		return devapi.Errorf(devapi.EINVALID, "a team cannot be a member of itself")
	}
	_, err := s.store.TeamMembers(ctx, email)
	switch devapi.ErrorCode(err) {
	case devapi.ENOTFOUND: // no team has this id: a person's account, or none
		return nil
	case "":
		if teamID == "" {
			return devapi.Errorf(devapi.EINVALID, "a team cannot create a team: its account would be the new team's owner; create it with a personal account's API key")
		}
		return devapi.Errorf(devapi.EINVALID, "%s is a team; a team cannot be a member of a team", email)
	default:
		return err
	}
}

func toTeam(t devapi.Team, role string) gen.Team {
	out := gen.Team{TeamId: t.ID, TeamName: t.Name, CopyCc: t.CopyCC}
	if role != "" {
		out.MemberRole = &role
	}
	return out
}

func toTeamMember(m *devapi.TeamMember) gen.TeamMember {
	return gen.TeamMember{TeamId: m.Team.ID, TeamName: m.Team.Name, MemberEmail: m.Email, MemberRole: m.Role, CopyCc: &m.Team.CopyCC}
}

// ListTeams handles GET /v2/teams.
func (s *Server) ListTeams(ctx context.Context, _ genserver.ListTeamsRequestObject) (genserver.ListTeamsResponseObject, error) {
	teams, err := s.store.Teams(ctx, accountFrom(ctx).Email)
	if err != nil {
		return nil, err
	}
	out := make(genserver.ListTeams200JSONResponse, 0, len(teams))
	for _, m := range teams {
		out = append(out, toTeam(m.Team, m.Role))
	}
	return out, nil
}

// CreateTeam handles POST /v2/team. The caller becomes its owner, so a
// team's account cannot create one (see refuseTeamMember).
func (s *Server) CreateTeam(ctx context.Context, req genserver.CreateTeamRequestObject) (genserver.CreateTeamResponseObject, error) {
	if err := s.refuseTeamMember(ctx, "", accountFrom(ctx).Email); err != nil {
		if errorStatus(err) == http.StatusBadRequest {
			return genserver.CreateTeam400JSONResponse{BadRequestJSONResponse: genserver.BadRequestJSONResponse(errorBody(err))}, nil
		}
		return nil, err
	}
	t := &devapi.Team{ID: uuid.NewString(), Name: req.Body.TeamName, CopyCC: req.Body.CopyCc, CreatedAt: s.now().UTC()}
	release, err := s.reserveTeam(ctx, accountFrom(ctx).Email, t.ID)
	if err == nil {
		defer release()
		err = s.store.CreateTeam(ctx, t, accountFrom(ctx).Email)
	}
	switch status, body, err := outcomeOf(err, teamNotFound); status {
	case http.StatusOK:
		return genserver.CreateTeam200JSONResponse(toTeam(*t, devapi.RoleOwner)), nil
	case http.StatusBadRequest:
		return genserver.CreateTeam400JSONResponse{BadRequestJSONResponse: genserver.BadRequestJSONResponse(body)}, nil
	case http.StatusNotFound:
		return genserver.CreateTeam404JSONResponse{NotFoundJSONResponse: genserver.NotFoundJSONResponse(body)}, nil
	default:
		return nil, err
	}
}

// DeleteTeam handles DELETE /v2/team/{id}. Only the owner can delete a team.
func (s *Server) DeleteTeam(ctx context.Context, req genserver.DeleteTeamRequestObject) (genserver.DeleteTeamResponseObject, error) {
	err := func() error {
		m, err := s.membership(ctx, req.Id)
		if err != nil {
			return err
		}
		if m.Role != devapi.RoleOwner {
			return devapi.Errorf(devapi.EINVALID, "only the team's owner can delete it")
		}
		return s.store.DeleteTeam(ctx, req.Id)
	}()
	switch status, body, err := outcomeOf(err, teamNotFound); status {
	case http.StatusOK:
		return genserver.DeleteTeam200JSONResponse(gen.OKOK), nil
	case http.StatusBadRequest:
		return genserver.DeleteTeam400JSONResponse{BadRequestJSONResponse: genserver.BadRequestJSONResponse(body)}, nil
	case http.StatusNotFound:
		return genserver.DeleteTeam404JSONResponse{NotFoundJSONResponse: genserver.NotFoundJSONResponse(body)}, nil
	default:
		return nil, err
	}
}

// GetTeamMembers handles GET /v2/teams/{team_id}.
func (s *Server) GetTeamMembers(ctx context.Context, req genserver.GetTeamMembersRequestObject) (genserver.GetTeamMembersResponseObject, error) {
	var members []*devapi.TeamMember
	_, err := s.membership(ctx, req.TeamId)
	if err == nil {
		members, err = s.store.TeamMembers(ctx, req.TeamId)
	}
	switch status, body, err := outcomeOf(err, teamNotFound); status {
	case http.StatusOK:
		out := make(genserver.GetTeamMembers200JSONResponse, 0, len(members))
		for _, m := range members {
			out = append(out, toTeamMember(m))
		}
		return out, nil
	case http.StatusBadRequest:
		return genserver.GetTeamMembers400JSONResponse{BadRequestJSONResponse: genserver.BadRequestJSONResponse(body)}, nil
	case http.StatusNotFound:
		return genserver.GetTeamMembers404JSONResponse{NotFoundJSONResponse: genserver.NotFoundJSONResponse(body)}, nil
	default:
		return nil, err
	}
}

// AddTeamMember handles POST /v2/teams/member. The member must be an
// account of this devapi, and not a team's (see refuseTeamMember).
//
// An email with no account answers 400 "no account with email ...", unlike
// a known one, so the answer tells whether an email has an account. That is
// kept on purpose: devapi has no invitations (Upstash's console invites an
// email by mail; its API documents nothing for an unknown one), so a 200
// would say a member was added when none was, and the caller's next
// GET /v2/teams/{team_id} would show the difference anyway. Only the team's
// owner and admins get this answer: anyone else gets "team not found" or
// "only the team's owner or an admin ...", whatever the email.
func (s *Server) AddTeamMember(ctx context.Context, req genserver.AddTeamMemberRequestObject) (genserver.AddTeamMemberResponseObject, error) {
	var m *devapi.TeamMember
	_, err := s.manager(ctx, req.Body.TeamId)
	if err == nil {
		err = s.refuseTeamMember(ctx, req.Body.TeamId, req.Body.MemberEmail)
	}
	if err == nil {
		m, err = s.store.AddTeamMember(ctx, req.Body.TeamId, req.Body.MemberEmail, string(req.Body.MemberRole))
		if devapi.ErrorCode(err) == devapi.ENOTFOUND { // the team exists: the account does not
			err = devapi.Errorf(devapi.EINVALID, "no account with email %s", req.Body.MemberEmail)
		}
	}
	switch status, body, err := outcomeOf(err, teamNotFound); status {
	case http.StatusOK:
		return genserver.AddTeamMember200JSONResponse(toTeamMember(m)), nil
	case http.StatusBadRequest:
		return genserver.AddTeamMember400JSONResponse{BadRequestJSONResponse: genserver.BadRequestJSONResponse(body)}, nil
	case http.StatusNotFound:
		return genserver.AddTeamMember404JSONResponse{NotFoundJSONResponse: genserver.NotFoundJSONResponse(body)}, nil
	default:
		return nil, err
	}
}

// DeleteTeamMember handles DELETE /v2/teams/member.
func (s *Server) DeleteTeamMember(ctx context.Context, req genserver.DeleteTeamMemberRequestObject) (genserver.DeleteTeamMemberResponseObject, error) {
	err := func() error {
		if _, err := s.manager(ctx, req.Body.TeamId); err != nil {
			return err
		}
		members, err := s.store.TeamMembers(ctx, req.Body.TeamId)
		if err != nil {
			return err
		}
		for _, m := range members {
			if m.Email == req.Body.MemberEmail && m.Role == devapi.RoleOwner {
				return devapi.Errorf(devapi.EINVALID, "the team's owner cannot be removed")
			}
		}
		if err := s.store.RemoveTeamMember(ctx, req.Body.TeamId, req.Body.MemberEmail); devapi.ErrorCode(err) == devapi.ENOTFOUND {
			return devapi.Errorf(devapi.EINVALID, "%s is not a member of the team", req.Body.MemberEmail)
		} else if err != nil {
			return err
		}
		return nil
	}()
	switch status, body, err := outcomeOf(err, teamNotFound); status {
	case http.StatusOK:
		return genserver.DeleteTeamMember200JSONResponse(gen.OKOK), nil
	case http.StatusBadRequest:
		return genserver.DeleteTeamMember400JSONResponse{BadRequestJSONResponse: genserver.BadRequestJSONResponse(body)}, nil
	case http.StatusNotFound:
		return genserver.DeleteTeamMember404JSONResponse{NotFoundJSONResponse: genserver.NotFoundJSONResponse(body)}, nil
	default:
		return nil, err
	}
}

// MoveToTeam handles POST /v2/redis/move-to-team: the database becomes the
// team account's. Members of any role but finance can move their databases.
func (s *Server) MoveToTeam(ctx context.Context, req genserver.MoveToTeamRequestObject) (genserver.MoveToTeamResponseObject, error) {
	notFound := "database not found"
	err := func() error {
		m, err := s.membership(ctx, req.Body.TeamId)
		if err != nil {
			notFound = teamNotFound
			return err
		}
		if m.Role == devapi.RoleFinance {
			return devapi.Errorf(devapi.EINVALID, "finance members cannot move databases")
		}
		release, err := s.reserveDatabase(ctx, req.Body.TeamId, req.Body.DatabaseId)
		if err != nil {
			return err
		}
		defer release()
		_, err = s.store.UpdateDatabase(ctx, accountFrom(ctx).Email, req.Body.DatabaseId, func(d *devapi.Database) error {
			d.Owner = req.Body.TeamId
			return nil
		})
		return err
	}()
	switch status, body, err := outcomeOf(err, notFound); status {
	case http.StatusOK:
		return genserver.MoveToTeam200JSONResponse(gen.OKOK), nil
	case http.StatusBadRequest:
		return genserver.MoveToTeam400JSONResponse{BadRequestJSONResponse: genserver.BadRequestJSONResponse(body)}, nil
	case http.StatusNotFound:
		return genserver.MoveToTeam404JSONResponse{NotFoundJSONResponse: genserver.NotFoundJSONResponse(body)}, nil
	default:
		return nil, err
	}
}
