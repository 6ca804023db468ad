package main

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/devapi-dev/devapi/upstash"
)

// Table columns of lists.
var (
	teamColumns = []column{
		{"TEAM ID", "team_id"}, {"NAME", "team_name"}, {"ROLE", "member_role"}, {"COPY CC", "copy_cc"},
	}
	memberColumns = []column{
		{"MEMBER EMAIL", "member_email"}, {"ROLE", "member_role"}, {"TEAM ID", "team_id"}, {"TEAM NAME", "team_name"},
	}
)

func newTeamCommand(getenv func(string) string) *cobra.Command {
	c, o := newAPICommand("team", "Manage teams and their members through the Developer API",
		`Manage teams and their members through the Upstash Developer API. Credentials,
--api-url, --output and exit codes are as for devapi redis.

A member's email is --member-email, as in Upstash's CLI: --email is the
caller's own account.`, getenv)

	list := o.action("list", "List your teams and your role in each", func(ctx context.Context, c *upstash.Client) (answer, error) {
		teams, err := c.ListTeams(ctx)
		return answer{teams, listView(teamColumns)}, err
	})

	var name string
	var copyCC bool
	create := o.action("create", "Create a team, with you as its owner", func(ctx context.Context, c *upstash.Client) (answer, error) {
		t, err := c.CreateTeam(ctx, name, copyCC)
		return answer{t, objectView}, err
	})
	create.Flags().StringVar(&name, "name", "", "the team's name")
	create.Flags().BoolVar(&copyCC, "copy-cc", false, "copy your credit card to the team")
	required(create, "name")

	var teamID string
	withTeam := func(cmd *cobra.Command) *cobra.Command {
		cmd.Flags().StringVar(&teamID, "team-id", "", "the team's id")
		required(cmd, "team-id")
		return cmd
	}

	del := withTeam(o.action("delete", "Delete a team (it must own no databases)", func(ctx context.Context, c *upstash.Client) (answer, error) {
		return ok(c.DeleteTeam(ctx, teamID))
	}))

	members := withTeam(o.action("members", "List a team's members", func(ctx context.Context, c *upstash.Client) (answer, error) {
		m, err := c.TeamMembers(ctx, teamID)
		return answer{m, listView(memberColumns)}, err
	}))

	var memberEmail, role string
	withMember := func(cmd *cobra.Command) *cobra.Command {
		cmd.Flags().StringVar(&memberEmail, "member-email", "", "the member's account email")
		required(cmd, "member-email")
		return withTeam(cmd)
	}
	addMember := withMember(o.action("add-member", "Add an account to a team", func(ctx context.Context, c *upstash.Client) (answer, error) {
		m, err := c.AddTeamMember(ctx, teamID, memberEmail, role)
		return answer{m, objectView}, err
	}))
	addMember.Flags().StringVar(&role, "role", "", "the member's role: "+strings.Join(roles, ", "))
	required(addMember, "role")
	_ = addMember.RegisterFlagCompletionFunc("role", fixedCompletion(roles...))

	removeMember := withMember(o.action("remove-member", "Remove a member from a team", func(ctx context.Context, c *upstash.Client) (answer, error) {
		return ok(c.RemoveTeamMember(ctx, teamID, memberEmail))
	}))

	c.AddCommand(list, create, del, members, addMember, removeMember)
	return c
}
