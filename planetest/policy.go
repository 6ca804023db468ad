package planetest

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi"
)

// The command policy, checked on a real Redis server: what the
// redis-server and pool planes' ACL must make of devapi.CommandPolicy.

// policyCase is one command a database's user sends for a row of
// devapi.CommandPolicy, and whether the server must refuse it.
type policyCase struct {
	args    []any
	refused bool
	// since is x of the Redis 7.x that knows the subcommand.
	since int
}

// policyExamples are, by row, commands that exercise it: for a refused
// container command, its refused subcommands; for its allowed ones, one
// example each (policySubExamples). Every row must have one.
var policyExamples = map[string][][]any{
	"CONFIG":         {{"CONFIG", "GET", "maxclients"}, {"CONFIG", "SET", "maxmemory", "0"}, {"CONFIG", "RESETSTAT"}},
	"ACL":            {{"ACL", "LIST"}, {"ACL", "SETUSER", "default", "nopass"}, {"ACL", "LOG"}},
	"DEBUG":          {{"DEBUG", "SLEEP", "0"}},
	"MODULE":         {{"MODULE", "LIST"}},
	"SHUTDOWN":       {{"SHUTDOWN", "NOSAVE"}},
	"REPLICAOF":      {{"REPLICAOF", "NO", "ONE"}},
	"SLAVEOF":        {{"SLAVEOF", "NO", "ONE"}},
	"SYNC":           {{"SYNC"}},
	"PSYNC":          {{"PSYNC", "?", "-1"}},
	"REPLCONF":       {{"REPLCONF", "listening-port", "6380"}},
	"FAILOVER":       {{"FAILOVER", "ABORT"}},
	"MIGRATE":        {{"MIGRATE", "127.0.0.1", "1", "k", "0", "100"}},
	"RESTORE-ASKING": {{"RESTORE-ASKING", "k", "0", "x"}},
	"CLIENT": {{"CLIENT", "PAUSE", "30000", "ALL"}, {"CLIENT", "UNPAUSE"}, {"CLIENT", "KILL", "ID", "999999"},
		{"CLIENT", "KILL", "USER", "devapi-admin"}, {"CLIENT", "LIST"}, {"CLIENT", "UNBLOCK", "1"},
		{"CLIENT", "NO-EVICT", "on"}, {"CLIENT", "NO-TOUCH", "on"}},
	"MONITOR":      {{"MONITOR"}},
	"SAVE":         {{"SAVE"}},
	"BGSAVE":       {{"BGSAVE"}},
	"BGREWRITEAOF": {{"BGREWRITEAOF"}},
	"LATENCY":      {{"LATENCY", "DOCTOR"}, {"LATENCY", "RESET"}},
	"SLOWLOG":      {{"SLOWLOG", "GET"}, {"SLOWLOG", "RESET"}},
	"CLUSTER":      {{"CLUSTER", "INFO"}},
	"SWAPDB":       {{"SWAPDB", "0", "1"}},
	"PFDEBUG":      {{"PFDEBUG", "GETREG", "hll"}},
	"PFSELFTEST":   {{"PFSELFTEST"}},

	"FLUSHDB":  {{"FLUSHDB"}},
	"FLUSHALL": {{"FLUSHALL"}},
	"KEYS":     {{"KEYS", "*"}},
	"SORT":     {{"SORT", "list"}},
	"SORT_RO":  {{"SORT_RO", "list"}},
	"INFO":     {{"INFO"}},
	"LASTSAVE": {{"LASTSAVE"}},
	"ROLE":     {{"ROLE"}},
	"RESTORE":  {{"RESTORE", "restored", "0", dumpPlaceholder}},
}

// dumpPlaceholder stands for the DUMP of a key, which only the server makes.
const dumpPlaceholder = "<dump>"

// policySubExamples are the allowed subcommands of refused container
// commands, in an order in which each runs without error on one connection.
var policySubExamples = map[string][]any{
	"ACL|WHOAMI":          {"ACL", "WHOAMI"},
	"CLIENT|SETNAME":      {"CLIENT", "SETNAME", "tenant"},
	"CLIENT|GETNAME":      {"CLIENT", "GETNAME"},
	"CLIENT|ID":           {"CLIENT", "ID"},
	"CLIENT|INFO":         {"CLIENT", "INFO"},
	"CLIENT|TRACKING":     {"CLIENT", "TRACKING", "on", "OPTIN"},
	"CLIENT|TRACKINGINFO": {"CLIENT", "TRACKINGINFO"},
	"CLIENT|REPLY":        {"CLIENT", "REPLY", "ON"},
	"CLIENT|CACHING":      {"CLIENT", "CACHING", "yes"},
	"CLIENT|GETREDIR":     {"CLIENT", "GETREDIR"},
	"CLIENT|SETINFO":      {"CLIENT", "SETINFO", "LIB-NAME", "devapi-test"},
	"CLIENT|HELP":         {"CLIENT", "HELP"},
}

// policySince are the commands newer than Redis 7.0, by the minor version
// of 7 they came in.
var policySince = map[string]int{"CLIENT|NO-TOUCH": 2, "CLIENT|SETINFO": 2}

// policyCases lists a case for every row of devapi.CommandPolicy, refused
// rows and their refused subcommands first, in table order. A row without
// an example fails the test: a new row must be tested.
func policyCases(t *testing.T) []policyCase {
	t.Helper()
	var cases []policyCase
	for _, r := range devapi.CommandPolicy {
		examples, ok := policyExamples[r.Command]
		if !ok {
			t.Errorf("no example for the policy row %s: add one to policyExamples", r.Command)
			continue
		}
		for _, args := range examples {
			name := r.Command
			if r.Subcommands != nil {
				name += "|" + strings.ToUpper(args[1].(string))
			}
			cases = append(cases, policyCase{args: args, refused: !r.Allowed, since: policySince[name]})
		}
		for _, sub := range r.Subcommands {
			name := r.Command + "|" + sub
			args, ok := policySubExamples[name]
			if !ok {
				t.Errorf("no example for the allowed subcommand %s: add one to policySubExamples", name)
				continue
			}
			cases = append(cases, policyCase{args: args, since: policySince[name]})
		}
	}
	return cases
}

// IsNoPerm reports whether err is Redis's refusal of a command by ACL.
func IsNoPerm(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOPERM ")
}

// isProtected reports whether err is redis-server's refusal of DEBUG or
// MODULE while enable-debug-command or enable-module-command is off (the
// default), which Redis checks before the ACL.
func isProtected(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "ERR ") && strings.Contains(err.Error(), "command not allowed")
}

// redisMinor is x of the Redis 7.x that c talks to, from INFO server.
func redisMinor(t *testing.T, c *redis.Client) int {
	t.Helper()
	info, err := c.Info(t.Context(), "server").Result()
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`redis_version:(\d+)\.(\d+)`).FindStringSubmatch(info)
	if m == nil {
		t.Fatalf("INFO server without redis_version: %q", info)
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	aclMinor, err := devapi.ACLMinor(major, minor)
	if err != nil {
		t.Fatal(err)
	}
	return aclMinor
}

// CheckCommandPolicy runs every case of policyCases as a client of the database
// with c, on one connection: refused ones must answer NOPERM naming the
// command, the others must run. Only NOPERM refusals count: an ACL that
// let a refused command through fails here whatever the command then does.
func CheckCommandPolicy(t *testing.T, c *redis.Client) {
	t.Helper()
	ctx := t.Context()
	minor := redisMinor(t, c)
	if err := c.RPush(ctx, "list", "3", "1", "2").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	dump, err := c.Dump(ctx, "k").Result()
	if err != nil {
		t.Fatal(err)
	}
	conn := c.Conn()
	defer func() { _ = conn.Close() }()
	ran := 0
	for _, pc := range policyCases(t) {
		if pc.since > minor {
			continue
		}
		args := slices.Clone(pc.args)
		for i, a := range args {
			if a == dumpPlaceholder {
				args[i] = dump
			}
		}
		err := conn.Do(ctx, args...).Err()
		shown := strings.ToLower(pc.args[0].(string))
		switch {
		case pc.refused && isProtected(err) && (shown == "debug" || shown == "module"):
		case pc.refused && !IsNoPerm(err):
			t.Errorf("%v: %v, want NOPERM", pc.args, err)
		case pc.refused && !strings.Contains(err.Error(), "'"+shown):
			t.Errorf("%v: %v, want it to name %s", pc.args, err, shown)
		case !pc.refused && err != nil:
			t.Errorf("%v: %v, want it to run", pc.args, err)
		}
		ran++
	}
	if ran < len(devapi.CommandPolicy) {
		t.Errorf("%d commands tried for %d policy rows", ran, len(devapi.CommandPolicy))
	}
	// The connection works after all that: nothing stalled or dropped it.
	if err := conn.Ping(ctx).Err(); err != nil {
		t.Errorf("PING after the policy commands: %v", err)
	}
}
