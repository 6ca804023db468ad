package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/devapi-dev/devapi/server"
)

// limitFlags are serve's quotas and rate limits. Each is documented in the
// README ("Quotas and rate limits") with its default and its error.
type limitFlags struct {
	maxDatabases int
	maxTeams     int
	maxBackups   int
	authRate     float64
	authBurst    int
	accountRate  float64
	accountBurst int
}

func (l *limitFlags) register(fs *pflag.FlagSet) {
	fs.IntVar(&l.maxDatabases, "max-databases-per-account", 100, "most databases one account (or team) may own; a create or move-to-team past it answers 400 (0: no cap)")
	fs.IntVar(&l.maxTeams, "max-teams-per-account", 5, "most teams one account may own; a team holds databases of its own, so one person holds at most (1 + this) x --max-databases-per-account (0: no cap)")
	fs.IntVar(&l.maxBackups, "max-backups-per-database", 50, "most backups one database may have; create-backup past it answers 400, a daily backup replaces the oldest daily one (0: no cap)")
	fs.Float64Var(&l.authRate, "auth-failure-rate", 10, "failed logins per second allowed per client address and per email; past the burst every request from that address or for that email answers 429 with Retry-After, even with the right key (0: no limit)")
	fs.IntVar(&l.authBurst, "auth-failure-burst", 20, "failed logins allowed at once per client address and per email, before --auth-failure-rate applies")
	fs.Float64Var(&l.accountRate, "account-rate", 1000, "requests per second allowed per account; past the burst they answer 429 with Retry-After (0: no limit)")
	fs.IntVar(&l.accountBurst, "account-burst", 2000, "requests allowed at once per account, before --account-rate applies")
}

// apply puts the limits into cfg: a flag's 0 (no cap, no limit) is the
// Config's negative value, since the Config's 0 means its default.
func (l *limitFlags) apply(cfg server.Config) (server.Config, error) {
	for _, v := range []struct {
		name string
		bad  bool
		want string
	}{
		{"--max-databases-per-account", l.maxDatabases < 0, "0 or more"},
		{"--max-teams-per-account", l.maxTeams < 0, "0 or more"},
		{"--max-backups-per-database", l.maxBackups < 0, "0 or more"},
		{"--auth-failure-rate", l.authRate < 0, "0 or more"},
		{"--auth-failure-burst", l.authBurst < 1, "1 or more"},
		{"--account-rate", l.accountRate < 0, "0 or more"},
		{"--account-burst", l.accountBurst < 1, "1 or more"},
	} {
		if v.bad {
			return cfg, usageError{fmt.Errorf("%s must be %s", v.name, v.want)}
		}
	}
	orNone := func(v int) int {
		if v == 0 {
			return -1
		}
		return v
	}
	rateOf := func(perSecond float64, burst int) server.RateLimit {
		if perSecond == 0 {
			return server.RateLimit{PerSecond: -1}
		}
		return server.RateLimit{PerSecond: perSecond, Burst: burst}
	}
	cfg.MaxDatabasesPerAccount = orNone(l.maxDatabases)
	cfg.MaxTeamsPerAccount = orNone(l.maxTeams)
	cfg.MaxBackupsPerDatabase = orNone(l.maxBackups)
	cfg.AuthFailures = rateOf(l.authRate, l.authBurst)
	cfg.AccountRequests = rateOf(l.accountRate, l.accountBurst)
	return cfg, nil
}

// minAPIKeyLength is the shortest API key serve takes from its environment
// or credentials file: 32 characters of `openssl rand -hex 32` are 128 bits.
// What devapi makes itself (devapi.NewAPIKey) is 64.
const minAPIKeyLength = 32

// checkAPIKey refuses a key too short to withstand guessing, saying how to
// make a good one.
func checkAPIKey(from, key string) error {
	if len(key) >= minAPIKeyLength {
		return nil
	}
	return usageError{fmt.Errorf("the API key in %s has %d characters; devapi needs at least %d, so that it cannot be guessed: make one with `openssl rand -hex 32`", from, len(key), minAPIKeyLength)}
}
