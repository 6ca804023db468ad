package console

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/devapi-dev/devapi/upstash"
)

// roles are the roles a member can be added with (the owner is the
// creator).
var roles = []string{"dev", "admin", "finance"}

// teams handles GET /teams.
func (c *Console) teams(w http.ResponseWriter, r *http.Request, s *session) {
	list, err := s.client.ListTeams(r.Context())
	if err != nil {
		c.apiFailed(w, r, s, err, "")
		return
	}
	slices.SortFunc(list, func(a, b upstash.Team) int { return strings.Compare(a.Name, b.Name) })
	v := c.page(s, "Teams", "teams")
	v.Data = list
	c.render(w, r, http.StatusOK, "teams", v)
}

// createTeam handles POST /teams.
func (c *Console) createTeam(w http.ResponseWriter, r *http.Request, s *session) {
	t, err := s.client.CreateTeam(r.Context(), strings.TrimSpace(r.PostForm.Get("name")), r.PostForm.Get("copy_cc") == "on")
	if err != nil {
		c.apiFailed(w, r, s, err, "/teams")
		return
	}
	c.done(w, r, s, teamPath(t.ID), "Team "+t.Name+" created.")
}

// teamPath is the console path of team id's page.
func teamPath(id string) string { return "/teams/" + url.PathEscape(id) }

// team handles GET /teams/{id}: its members.
func (c *Console) team(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	list, err := s.client.ListTeams(r.Context())
	if err != nil {
		c.apiFailed(w, r, s, err, "")
		return
	}
	i := slices.IndexFunc(list, func(t upstash.Team) bool { return t.ID == id })
	if i < 0 {
		c.fail(w, r, s, http.StatusNotFound, "You are not a member of such a team.")
		return
	}
	members, err := s.client.TeamMembers(r.Context(), id)
	if err != nil {
		c.apiFailed(w, r, s, err, "")
		return
	}
	v := c.page(s, "Team "+list[i].Name, "teams")
	v.Data = struct {
		Team    upstash.Team
		Members []upstash.TeamMember
		Roles   []string
	}{list[i], members, roles}
	c.render(w, r, http.StatusOK, "team", v)
}

// addMember handles POST /teams/{id}/members.
func (c *Console) addMember(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	email := strings.TrimSpace(r.PostForm.Get("email"))
	if _, err := s.client.AddTeamMember(r.Context(), id, email, r.PostForm.Get("role")); err != nil {
		c.apiFailed(w, r, s, err, teamPath(id))
		return
	}
	c.done(w, r, s, teamPath(id), email+" added.")
}

// removeMember handles POST /teams/{id}/members/remove.
func (c *Console) removeMember(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	email := r.PostForm.Get("email")
	if err := s.client.RemoveTeamMember(r.Context(), id, email); err != nil {
		c.apiFailed(w, r, s, err, teamPath(id))
		return
	}
	c.done(w, r, s, teamPath(id), email+" removed.")
}

// deleteTeam handles POST /teams/{id}/delete.
func (c *Console) deleteTeam(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	if err := s.client.DeleteTeam(r.Context(), id); err != nil {
		c.apiFailed(w, r, s, err, teamPath(id))
		return
	}
	c.done(w, r, s, "/teams", "Team deleted.")
}
