package devapi

import (
	"fmt"
	"slices"
	"strings"
)

// The command policy: what a database's users may run. One table serves every
// door: the REST API checks it before a command reaches the plane, the
// embedded plane checks it before miniredis sees a command (over TCP and from
// scripts), and on redis-server and pool servers it is the default user's ACL
// (deny by category, re-allow by name: ACLRules).
//
// It follows what Upstash and managed Redis services (ElastiCache,
// Memorystore) refuse: everything in Redis's @dangerous category but what is
// re-allowed on purpose below, because it reaches past the database (the
// server's configuration, its users, replication, other clients, files on the
// host, other servers) or can stall the server for everyone.

// CommandRule is one row of the policy table.
type CommandRule struct {
	// Command is the command's name, upper case.
	Command string
	// Allowed is true for a @dangerous command re-allowed on purpose.
	Allowed bool
	// Container is true for a command Redis 7 splits into subcommands
	// (CONFIG GET, CLIENT KILL): Redis's NOPERM names the subcommand then,
	// 'config|get'.
	Container bool
	// Subcommands, for a refused container command (CLIENT, ACL), are the
	// subcommands that stay allowed, upper case.
	Subcommands []string
	// Why says what the command would let a database's user do, or why it
	// is re-allowed.
	Why string
}

// CommandPolicy is the table, in the order the README shows it. Refused
// commands come first.
var CommandPolicy = []CommandRule{
	{Command: "CONFIG", Container: true, Why: "reads or changes the server's configuration (files, persistence, limits)"},
	{Command: "ACL", Container: true, Subcommands: []string{"WHOAMI"}, Why: "reads or changes the server's users, including devapi's own"},
	{Command: "DEBUG", Why: "crashes, stalls or reloads the server"},
	{Command: "MODULE", Container: true, Why: "loads code from the host into the server"},
	{Command: "SHUTDOWN", Why: "stops the server"},
	{Command: "REPLICAOF", Why: "turns the server into a replica of another, dropping its data"},
	{Command: "SLAVEOF", Why: "old name of REPLICAOF"},
	{Command: "SYNC", Why: "replication stream: the whole dataset and every write"},
	{Command: "PSYNC", Why: "replication stream: the whole dataset and every write"},
	{Command: "REPLCONF", Why: "replication handshake"},
	{Command: "FAILOVER", Why: "hands the server's role to a replica"},
	{Command: "MIGRATE", Why: "writes keys into any other Redis the host can reach"},
	{Command: "RESTORE-ASKING", Why: "cluster-only RESTORE"},
	{Command: "CLIENT", Container: true, Subcommands: []string{"SETNAME", "GETNAME", "ID", "INFO", "TRACKING", "TRACKINGINFO", "REPLY", "CACHING", "GETREDIR", "SETINFO", "HELP"},
		Why: "PAUSE, UNPAUSE, KILL, LIST, UNBLOCK, NO-EVICT and NO-TOUCH stall, see or cut other clients, devapi's among them; what clients send on connect stays"},
	{Command: "MONITOR", Why: "every command of every client, devapi's password changes among them"},
	{Command: "SAVE", Why: "blocks the server while it writes to the host's disk"},
	{Command: "BGSAVE", Why: "forks the server and writes to the host's disk"},
	{Command: "BGREWRITEAOF", Why: "forks the server and rewrites its files"},
	{Command: "LATENCY", Container: true, Why: "server-wide diagnostics, kept across tenants"},
	{Command: "SLOWLOG", Container: true, Why: "server-wide log of commands with their arguments, kept across tenants"},
	{Command: "CLUSTER", Container: true, Why: "cluster administration"},
	{Command: "SWAPDB", Why: "server-wide logical database swap (refused by Upstash)"},
	{Command: "PFDEBUG", Why: "internal HyperLogLog debugging"},
	{Command: "PFSELFTEST", Why: "internal self-test that stalls the server"},

	{Command: "FLUSHDB", Allowed: true, Why: "empties the database's own keys"},
	{Command: "FLUSHALL", Allowed: true, Why: "empties the database's own keys"},
	{Command: "KEYS", Allowed: true, Why: "lists the database's own keys (Upstash serves it)"},
	{Command: "SORT", Allowed: true, Why: "works on the database's own keys"},
	{Command: "SORT_RO", Allowed: true, Why: "works on the database's own keys"},
	{Command: "INFO", Allowed: true, Why: "server statistics clients read (Upstash serves it)"},
	{Command: "LASTSAVE", Allowed: true, Why: "a timestamp"},
	{Command: "ROLE", Allowed: true, Why: "says the server is a master"},
	{Command: "RESTORE", Allowed: true, Why: "writes a key of the database's own from DUMP"},
}

// policy indexes CommandPolicy by command name.
var policy = func() map[string]*CommandRule {
	m := make(map[string]*CommandRule, len(CommandPolicy))
	for i := range CommandPolicy {
		m[CommandPolicy[i].Command] = &CommandPolicy[i]
	}
	return m
}()

// CommandRefused reports whether a database's user may not run args (a
// command and its arguments, as sent), with the error Redis answers then:
// "NOPERM this user has no permissions to run the 'client|kill' command". It
// returns "" for an allowed command, and for an empty one.
func CommandRefused(args []string) string {
	if len(args) == 0 {
		return ""
	}
	name := strings.ToUpper(args[0])
	r, ok := policy[name]
	if !ok || r.Allowed {
		return ""
	}
	shown := strings.ToLower(name)
	if r.Container {
		if len(args) < 2 {
			// Redis answers the arity error before the ACL check.
			return ""
		}
		sub := strings.ToUpper(args[1])
		if slices.Contains(r.Subcommands, sub) {
			return ""
		}
		shown += "|" + strings.ToLower(sub)
	}
	return NoPermission(shown)
}

// NoPermission is Redis's answer to a command a user may not run; command is
// lower case, "name" or "name|subcommand".
func NoPermission(command string) string {
	return fmt.Sprintf("NOPERM this user has no permissions to run the '%s' command", command)
}

// sinceRedis are subcommands newer than Redis 7.0, by the minor version of
// 7 they came in; an ACL rule naming a subcommand the server does not know
// is an error there.
var sinceRedis = map[string]int{"CLIENT|SETINFO": 2, "CLIENT|NO-TOUCH": 2}

// ACLMinor returns what ACLRules takes for a Redis major.minor server: the
// minor for 7.x, 99 for a newer major (it knows every 7.x subcommand), and
// an error before Redis 7.0, whose ACL has no subcommand rules.
func ACLMinor(major, minor int) (int, error) {
	switch {
	case major < 7:
		//lint:ignore ST1005 Redis is a name, and names keep their capital
		return 0, fmt.Errorf("Redis %d.%d is older than 7.0, which devapi's ACL rules need", major, minor)
	case major > 7:
		return 99, nil
	}
	return minor, nil
}

// ACLRules returns the ACL SETUSER rules that give a user of a Redis 7.x
// server (minor is x) CommandPolicy, after the key and channel rules:
// +@all -@dangerous, then every refused command denied by name (those
// outside @dangerous too), then the re-allowed ones. Redis 7.0 or newer.
func ACLRules(minor int) []string {
	rules := []string{"+@all", "-@dangerous"}
	known := func(cmd, sub string) bool {
		since, ok := sinceRedis[cmd+"|"+sub]
		return !ok || minor >= since
	}
	for _, r := range CommandPolicy {
		name := strings.ToLower(r.Command)
		switch {
		case r.Allowed:
			rules = append(rules, "+"+name)
		default:
			rules = append(rules, "-"+name)
			for _, sub := range r.Subcommands {
				if known(r.Command, sub) {
					rules = append(rules, "+"+name+"|"+strings.ToLower(sub))
				}
			}
		}
	}
	return rules
}
