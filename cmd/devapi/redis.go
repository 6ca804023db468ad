package main

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/devapi-dev/devapi/upstash"
)

// Values the API knows, for shell completion of flag values. The server
// checks them; the CLI does not.
var (
	plans     = []string{"free", "payg", "fixed_250mb", "fixed_1gb", "fixed_5gb", "fixed_10gb", "fixed_50gb", "fixed_100gb", "fixed_500gb"}
	platforms = []string{"aws", "gcp"}
	periods   = []string{"1h", "3h", "12h", "1d", "3d", "7d"}
	regions   = []string{
		"us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-central-1", "eu-west-1", "eu-west-2",
		"sa-east-1", "ap-south-1", "ap-northeast-1", "ap-southeast-1", "ap-southeast-2", "af-south-1",
		"us-central1", "us-east4", "europe-west1", "asia-northeast1",
	}
	readRegions = regions[:13] // the AWS regions
	roles       = []string{"admin", "dev", "finance"}
)

// Table columns of lists.
var (
	databaseColumns = []column{
		{"DATABASE ID", "database_id"}, {"NAME", "database_name"}, {"PLAN", "type"}, {"PRIMARY REGION", "primary_region"},
		{"READ REGIONS", "read_regions"}, {"ENDPOINT", "endpoint"}, {"PORT", "port"}, {"TLS", "tls"}, {"STATE", "state"},
	}
	backupColumns = []column{
		{"BACKUP ID", "backup_id"}, {"NAME", "name"}, {"STATE", "state"}, {"SIZE", "backup_size"}, {"CREATED", "creation_time"},
	}
)

func newRedisCommand(getenv func(string) string) *cobra.Command {
	c, o := newAPICommand("redis", "Manage Redis databases through the Developer API",
		`Manage Redis databases through the Upstash Developer API: devapi serve's, or
Upstash's own with --api-url https://api.upstash.com (the default).

Credentials come from --email and --api-key, else UPSTASH_EMAIL and
UPSTASH_API_KEY; the API from --api-url, else DEVAPI_API_URL (which serve's
credentials file and devapi env set), else Upstash's; --verbose says which
and from where on standard error. Answers are printed as JSON on standard
output (--output table for a table without passwords or tokens); errors as
{"error": "..."} on standard error, with exit code 2 for a usage error, 3 for
missing or refused credentials, 4 for an unknown database, backup or team,
and 1 otherwise.`, getenv)

	var dbID string
	withDB := func(cmd *cobra.Command) *cobra.Command {
		cmd.Flags().StringVar(&dbID, "db-id", "", "the database's id")
		required(cmd, "db-id")
		return cmd
	}
	// dbAction is an action on one database that answers "OK".
	dbAction := func(use, short string, call func(c *upstash.Client, ctx context.Context, id string) error) *cobra.Command {
		return withDB(o.action(use, short, func(ctx context.Context, c *upstash.Client) (answer, error) {
			return ok(call(c, ctx, dbID))
		}))
	}

	list := o.action("list", "List the databases", func(ctx context.Context, c *upstash.Client) (answer, error) {
		dbs, err := c.ListDatabases(ctx)
		return answer{dbs, listView(databaseColumns)}, err
	})

	var hide bool
	get := withDB(o.action("get", "Show a database", func(ctx context.Context, c *upstash.Client) (answer, error) {
		db, err := c.GetDatabase(ctx, dbID, hide)
		return answer{db, objectView}, err
	}))
	get.Flags().BoolVar(&hide, "hide-credentials", false, "leave the password and REST tokens out of the answer")

	var req upstash.CreateDatabaseRequest
	var budget int64
	var tls bool
	create := o.action("create", "Create a database", func(ctx context.Context, c *upstash.Client) (answer, error) {
		db, err := c.CreateDatabase(ctx, req)
		return answer{db, objectView}, err
	})
	f := create.Flags()
	f.StringVar(&req.Name, "name", "", "the database's name")
	f.StringVar(&req.PrimaryRegion, "region", "", "primary region, such as us-east-1 (aws) or us-central1 (gcp)")
	f.StringSliceVar(&req.ReadRegions, "read-regions", nil, "read regions, comma-separated")
	f.StringVar(&req.Platform, "platform", "", "cloud platform: aws or gcp (default aws)")
	f.StringVar(&req.Plan, "plan", "", "plan (default payg): "+strings.Join(plans, ", "))
	f.Int64Var(&budget, "budget", 0, "monthly budget in dollars (default 20)")
	f.BoolVar(&req.Eviction, "eviction", false, "evict keys when memory is full")
	f.BoolVar(&tls, "tls", true, "serve TLS; --tls=false for plain TCP")
	required(create, "name", "region")
	create.PreRunE = func(cmd *cobra.Command, _ []string) error {
		if cmd.Flags().Changed("budget") {
			req.Budget = &budget
		}
		if cmd.Flags().Changed("tls") {
			req.TLS = &tls
		}
		return nil
	}
	_ = create.RegisterFlagCompletionFunc("region", fixedCompletion(regions...))
	_ = create.RegisterFlagCompletionFunc("read-regions", fixedCompletion(readRegions...))
	_ = create.RegisterFlagCompletionFunc("platform", fixedCompletion(platforms...))
	_ = create.RegisterFlagCompletionFunc("plan", fixedCompletion(plans...))

	del := dbAction("delete", "Delete a database", (*upstash.Client).DeleteDatabase)

	var name string
	rename := withDB(o.action("rename", "Rename a database", func(ctx context.Context, c *upstash.Client) (answer, error) {
		db, err := c.RenameDatabase(ctx, dbID, name)
		return answer{db, objectView}, err
	}))
	rename.Flags().StringVar(&name, "name", "", "the new name")
	required(rename, "name")

	resetPassword := withDB(o.action("reset-password", "Give a database a new password and new REST tokens", func(ctx context.Context, c *upstash.Client) (answer, error) {
		db, err := c.ResetPassword(ctx, dbID)
		return answer{db, objectView}, err
	}))

	var period string
	stats := withDB(o.action("stats", "Show a database's usage statistics", func(ctx context.Context, c *upstash.Client) (answer, error) {
		s, err := c.Stats(ctx, dbID, period)
		return answer{s, objectView}, err
	}))
	stats.Flags().StringVar(&period, "period", "1h", "time window: "+strings.Join(periods, ", "))
	_ = stats.RegisterFlagCompletionFunc("period", fixedCompletion(periods...))

	enableTLS := withDB(o.action("enable-tls", "Turn TLS on (it cannot be turned off)", func(ctx context.Context, c *upstash.Client) (answer, error) {
		db, err := c.EnableTLS(ctx, dbID)
		return answer{db, objectView}, err
	}))

	var plan string
	changePlan := withDB(o.action("change-plan", "Change a database's plan", func(ctx context.Context, c *upstash.Client) (answer, error) {
		return ok(c.ChangePlan(ctx, dbID, plan))
	}))
	changePlan.Flags().StringVar(&plan, "plan", "", "the new plan: "+strings.Join(plans, ", "))
	required(changePlan, "plan")
	_ = changePlan.RegisterFlagCompletionFunc("plan", fixedCompletion(plans...))

	var newBudget int64
	updateBudget := withDB(o.action("update-budget", "Set a database's monthly budget", func(ctx context.Context, c *upstash.Client) (answer, error) {
		return ok(c.UpdateBudget(ctx, dbID, newBudget))
	}))
	updateBudget.Flags().Int64Var(&newBudget, "budget", 0, "monthly budget in dollars")
	required(updateBudget, "budget")

	var newReadRegions []string
	updateRegions := withDB(o.action("update-regions", "Replace a database's read regions", func(ctx context.Context, c *upstash.Client) (answer, error) {
		return ok(c.UpdateRegions(ctx, dbID, newReadRegions))
	}))
	updateRegions.Flags().StringSliceVar(&newReadRegions, "read-regions", nil, `read regions, comma-separated; "" for none`)
	required(updateRegions, "read-regions")
	_ = updateRegions.RegisterFlagCompletionFunc("read-regions", fixedCompletion(readRegions...))

	var teamID string
	moveToTeam := withDB(o.action("move-to-team", "Give a database to a team", func(ctx context.Context, c *upstash.Client) (answer, error) {
		return ok(c.MoveToTeam(ctx, dbID, teamID))
	}))
	moveToTeam.Flags().StringVar(&teamID, "team-id", "", "the team's id")
	required(moveToTeam, "team-id")

	c.AddCommand(list, get, create, del, rename, resetPassword, stats, enableTLS,
		dbAction("enable-eviction", "Evict keys when memory is full", (*upstash.Client).EnableEviction),
		dbAction("disable-eviction", "Refuse writes when memory is full", (*upstash.Client).DisableEviction),
		dbAction("enable-autoupgrade", "Upgrade the plan automatically", (*upstash.Client).EnableAutoUpgrade),
		dbAction("disable-autoupgrade", "Stop upgrading the plan automatically", (*upstash.Client).DisableAutoUpgrade),
		changePlan, updateBudget, updateRegions, moveToTeam,
		newBackupCommand(o, withDB, &dbID),
	)
	return c
}

// newBackupCommand is devapi redis backup; withDB adds --db-id, read into
// dbID.
func newBackupCommand(o *apiOptions, withDB func(*cobra.Command) *cobra.Command, dbID *string) *cobra.Command {
	c := newGroup("backup", "Manage a database's backups")

	list := withDB(o.action("list", "List a database's backups", func(ctx context.Context, c *upstash.Client) (answer, error) {
		b, err := c.ListBackups(ctx, *dbID)
		return answer{b, listView(backupColumns)}, err
	}))

	var name string
	create := withDB(o.action("create", "Back a database up", func(ctx context.Context, c *upstash.Client) (answer, error) {
		return ok(c.CreateBackup(ctx, *dbID, name))
	}))
	create.Flags().StringVar(&name, "name", "", "the backup's name")
	required(create, "name")

	var backupID string
	withBackup := func(cmd *cobra.Command) *cobra.Command {
		cmd.Flags().StringVar(&backupID, "backup-id", "", "the backup's id")
		required(cmd, "backup-id")
		return withDB(cmd)
	}
	del := withBackup(o.action("delete", "Delete a backup", func(ctx context.Context, c *upstash.Client) (answer, error) {
		return ok(c.DeleteBackup(ctx, *dbID, backupID))
	}))
	restore := withBackup(o.action("restore", "Replace a database's keys with a backup's", func(ctx context.Context, c *upstash.Client) (answer, error) {
		return ok(c.RestoreBackup(ctx, *dbID, backupID))
	}))

	enableDaily := withDB(o.action("enable-daily", "Back a database up every day", func(ctx context.Context, c *upstash.Client) (answer, error) {
		return ok(c.EnableDailyBackup(ctx, *dbID))
	}))
	disableDaily := withDB(o.action("disable-daily", "Stop the daily backups", func(ctx context.Context, c *upstash.Client) (answer, error) {
		return ok(c.DisableDailyBackup(ctx, *dbID))
	}))

	c.AddCommand(list, create, del, restore, enableDaily, disableDaily)
	return c
}
