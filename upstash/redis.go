package upstash

import (
	"context"
	"fmt"
	"net/http"

	"github.com/devapi-dev/devapi/gen"
)

// ListDatabases lists the account's databases (GET /redis/databases), with
// their credentials. It is retried.
func (c *Client) ListDatabases(ctx context.Context) ([]Database, error) {
	list, err := result(ctx, "list databases",
		func(ctx context.Context) (*http.Response, error) { return c.api.ListDatabases(ctx) },
		gen.ParseListDatabasesResponse,
		func(r *gen.ListDatabasesResponse) *[]gen.Database { return r.JSON200 })
	if err != nil {
		return nil, err
	}
	out := make([]Database, 0, len(*list))
	for _, g := range *list {
		out = append(out, fromGenDatabase(g))
	}
	return out, nil
}

// GetDatabase gets one database (GET /redis/database/{id}). With
// hideCredentials the answer leaves out the password and REST tokens. It is
// retried. ErrNotFound if the account has no database id.
func (c *Client) GetDatabase(ctx context.Context, id string, hideCredentials bool) (*Database, error) {
	params := &gen.GetDatabaseParams{}
	if hideCredentials {
		params.Credentials = ptr("hide")
	}
	return database(ctx, "get database",
		func(ctx context.Context) (*http.Response, error) { return c.api.GetDatabase(ctx, id, params) },
		gen.ParseGetDatabaseResponse,
		func(r *gen.GetDatabaseResponse) *gen.Database { return r.JSON200 })
}

// CreateDatabase creates a global database (POST /redis/database). The
// answer carries its password and REST tokens. ErrBadRequest if the API
// refuses the request.
func (c *Client) CreateDatabase(ctx context.Context, req CreateDatabaseRequest) (*Database, error) {
	body := gen.CreateDatabaseRequest{DatabaseName: &req.Name, Budget: req.Budget, Tls: req.TLS}
	if req.Platform != "" {
		body.Platform = ptr(gen.CreateDatabaseRequestPlatform(req.Platform))
	}
	if req.PrimaryRegion != "" {
		body.PrimaryRegion = ptr(gen.CreateDatabaseRequestPrimaryRegion(req.PrimaryRegion))
	}
	if req.ReadRegions != nil {
		regions := make([]gen.CreateDatabaseRequestReadRegions, 0, len(req.ReadRegions))
		for _, r := range req.ReadRegions {
			regions = append(regions, gen.CreateDatabaseRequestReadRegions(r))
		}
		body.ReadRegions = &regions
	}
	if req.Plan != "" {
		body.Plan = ptr(gen.Plan(req.Plan))
	}
	if req.Eviction {
		body.Eviction = ptr(true)
	}
	return database(ctx, "create database",
		func(ctx context.Context) (*http.Response, error) { return c.api.CreateDatabase(ctx, body) },
		gen.ParseCreateDatabaseResponse,
		func(r *gen.CreateDatabaseResponse) *gen.Database { return r.JSON200 })
}

// DeleteDatabase deletes a database and everything in it
// (DELETE /redis/database/{id}). ErrNotFound if there is no such database.
func (c *Client) DeleteDatabase(ctx context.Context, id string) error {
	return ok(ctx, "delete database", func(ctx context.Context) (*http.Response, error) {
		return c.api.DeleteDatabase(ctx, id)
	})
}

// RenameDatabase renames a database (POST /redis/rename/{id}) and returns it
// as it is after the change.
func (c *Client) RenameDatabase(ctx context.Context, id, name string) (*Database, error) {
	return database(ctx, "rename database",
		func(ctx context.Context) (*http.Response, error) {
			return c.api.RenameDatabase(ctx, id, gen.RenameDatabaseJSONRequestBody{Name: name})
		},
		gen.ParseRenameDatabaseResponse,
		func(r *gen.RenameDatabaseResponse) *gen.Database { return r.JSON200 })
}

// ResetPassword gives a database a new password and new REST tokens
// (POST /redis/reset-password/{id}) and returns the database with them.
// From the answer on, the old password and tokens are refused.
//
// ResetPassword is not idempotent and never retried. If it fails after the
// request went out (a timeout, a broken connection), the reset may have
// been committed anyway: call GetDatabase and use the credentials it
// answers, which are those of the reset that committed last.
func (c *Client) ResetPassword(ctx context.Context, id string) (*Database, error) {
	g, err := result(ctx, "reset password",
		func(ctx context.Context) (*http.Response, error) { return c.api.ResetPassword(ctx, id) },
		gen.ParseResetPasswordResponse,
		func(r *gen.ResetPasswordResponse) *gen.DatabaseWithCredentials { return r.JSON200 })
	if err != nil {
		return nil, err
	}
	d, err := fromGenDatabaseWithCredentials(*g)
	if err != nil {
		return nil, fmt.Errorf("upstash: reset password: decode answer: %w", err)
	}
	return &d, nil
}

// EnableTLS makes a database serve TLS only (POST /redis/enable-tls/{id})
// and returns it as it is after the change. There is no way back.
// ErrAlreadyEnabled if it serves TLS already.
func (c *Client) EnableTLS(ctx context.Context, id string) (*Database, error) {
	return database(ctx, "enable tls",
		func(ctx context.Context) (*http.Response, error) { return c.api.EnableTls(ctx, id) },
		gen.ParseEnableTlsResponse,
		func(r *gen.EnableTlsResponse) *gen.Database { return r.JSON200 })
}

// EnableEviction makes a database evict keys when full
// (POST /redis/enable-eviction/{id}). ErrAlreadyEnabled if it does already.
func (c *Client) EnableEviction(ctx context.Context, id string) error {
	return ok(ctx, "enable eviction", func(ctx context.Context) (*http.Response, error) {
		return c.api.EnableEviction(ctx, id)
	})
}

// DisableEviction makes a database refuse writes when full
// (POST /redis/disable-eviction/{id}). ErrAlreadyDisabled if it does already.
func (c *Client) DisableEviction(ctx context.Context, id string) error {
	return ok(ctx, "disable eviction", func(ctx context.Context) (*http.Response, error) {
		return c.api.DisableEviction(ctx, id)
	})
}

// EnableAutoUpgrade lets a database's plan grow with its usage
// (POST /redis/enable-autoupgrade/{id}). ErrAlreadyEnabled if it does already.
func (c *Client) EnableAutoUpgrade(ctx context.Context, id string) error {
	return ok(ctx, "enable auto upgrade", func(ctx context.Context) (*http.Response, error) {
		return c.api.EnableAutoUpgrade(ctx, id)
	})
}

// DisableAutoUpgrade keeps a database's plan as it is
// (POST /redis/disable-autoupgrade/{id}). ErrAlreadyDisabled if it does already.
func (c *Client) DisableAutoUpgrade(ctx context.Context, id string) error {
	return ok(ctx, "disable auto upgrade", func(ctx context.Context) (*http.Response, error) {
		return c.api.DisableAutoUpgrade(ctx, id)
	})
}

// ChangePlan moves a database to plan: free, payg, fixed_250mb, fixed_1gb,
// fixed_5gb, fixed_10gb, fixed_50gb, fixed_100gb or fixed_500gb
// (POST /redis/{id}/change-plan).
func (c *Client) ChangePlan(ctx context.Context, id, plan string) error {
	return ok(ctx, "change plan", func(ctx context.Context) (*http.Response, error) {
		return c.api.ChangePlan(ctx, id, gen.ChangePlanJSONRequestBody{PlanName: gen.Plan(plan)})
	})
}

// UpdateBudget sets a database's monthly budget, in dollars
// (PATCH /redis/update-budget/{id}).
func (c *Client) UpdateBudget(ctx context.Context, id string, budget int64) error {
	return ok(ctx, "update budget", func(ctx context.Context) (*http.Response, error) {
		return c.api.UpdateBudget(ctx, id, gen.UpdateBudgetJSONRequestBody{Budget: budget})
	})
}

// UpdateRegions replaces a database's read regions
// (POST /redis/update-regions/{id}).
func (c *Client) UpdateRegions(ctx context.Context, id string, regions []string) error {
	body := gen.UpdateRegionsJSONRequestBody{ReadRegions: make([]gen.ReadRegion, 0, len(regions))}
	for _, r := range regions {
		body.ReadRegions = append(body.ReadRegions, gen.ReadRegion(r))
	}
	return ok(ctx, "update regions", func(ctx context.Context) (*http.Response, error) {
		return c.api.UpdateRegions(ctx, id, body)
	})
}

// MoveToTeam gives a database to a team the account belongs to
// (POST /redis/move-to-team). The account no longer sees it as its own.
func (c *Client) MoveToTeam(ctx context.Context, databaseID, teamID string) error {
	return ok(ctx, "move to team", func(ctx context.Context) (*http.Response, error) {
		return c.api.MoveToTeam(ctx, gen.MoveToTeamJSONRequestBody{DatabaseId: databaseID, TeamId: teamID})
	})
}

// Stats returns a database's usage over period: 1h, 3h, 12h, 1d, 3d or 7d;
// "" means the server's default (GET /redis/stats/{id}). It is retried.
func (c *Client) Stats(ctx context.Context, id, period string) (*Stats, error) {
	params := &gen.GetDatabaseStatsParams{}
	if period != "" {
		params.Period = ptr(gen.GetDatabaseStatsParamsPeriod(period))
	}
	const op = "stats"
	g, err := result(ctx, op,
		func(ctx context.Context) (*http.Response, error) { return c.api.GetDatabaseStats(ctx, id, params) },
		gen.ParseGetDatabaseStatsResponse,
		func(r *gen.GetDatabaseStatsResponse) *gen.DatabaseStats { return r.JSON200 })
	if err != nil {
		return nil, err
	}
	s, err := fromGenStats(*g)
	if err != nil {
		return nil, fmt.Errorf("upstash: %s: decode answer: %w", op, err)
	}
	return &s, nil
}

// database runs an operation whose answer is a database.
func database[R any](ctx context.Context, op string, do func(context.Context) (*http.Response, error), parse func(*http.Response) (*R, error), pick func(*R) *gen.Database) (*Database, error) {
	g, err := result(ctx, op, do, parse, pick)
	if err != nil {
		return nil, err
	}
	d := fromGenDatabase(*g)
	return &d, nil
}
