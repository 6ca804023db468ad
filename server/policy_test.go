package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/devapi-dev/devapi"
)

// policySamples is a command line for every row of devapi.CommandPolicy,
// each one harmless when refused and quick when allowed.
var policySamples = map[string][]string{
	"CONFIG":         {"CONFIG", "GET", "maxmemory"},
	"ACL":            {"ACL", "LIST"},
	"DEBUG":          {"DEBUG", "SLEEP", "0"},
	"MODULE":         {"MODULE", "LIST"},
	"SHUTDOWN":       {"SHUTDOWN", "NOSAVE"},
	"REPLICAOF":      {"REPLICAOF", "NO", "ONE"},
	"SLAVEOF":        {"SLAVEOF", "NO", "ONE"},
	"SYNC":           {"SYNC"},
	"PSYNC":          {"PSYNC", "?", "-1"},
	"REPLCONF":       {"REPLCONF", "listening-port", "1"},
	"FAILOVER":       {"FAILOVER", "ABORT"},
	"MIGRATE":        {"MIGRATE", "127.0.0.1", "1", "policy:key", "0", "100"},
	"RESTORE-ASKING": {"RESTORE-ASKING", "policy:restored", "0", "x"},
	"CLIENT":         {"CLIENT", "PAUSE", "30000", "ALL"},
	"MONITOR":        {"MONITOR"},
	"SAVE":           {"SAVE"},
	"BGSAVE":         {"BGSAVE"},
	"BGREWRITEAOF":   {"BGREWRITEAOF"},
	"LATENCY":        {"LATENCY", "LATEST"},
	"SLOWLOG":        {"SLOWLOG", "GET"},
	"CLUSTER":        {"CLUSTER", "INFO"},
	"SWAPDB":         {"SWAPDB", "0", "1"},
	"PFDEBUG":        {"PFDEBUG", "GETREG", "policy:hll"},
	"PFSELFTEST":     {"PFSELFTEST"},

	"FLUSHDB":  {"FLUSHDB"},
	"FLUSHALL": {"FLUSHALL"},
	"KEYS":     {"KEYS", "*"},
	"SORT":     {"SORT", "policy:list"},
	"SORT_RO":  {"SORT_RO", "policy:list"},
	"INFO":     {"INFO", "server"},
	"LASTSAVE": {"LASTSAVE"},
	"ROLE":     {"ROLE"},
	"RESTORE":  {"RESTORE", "policy:restored", "0", "not-a-dump"},
}

// moreRefused are refused subcommands of rows whose sample shows another.
var moreRefused = [][]string{
	{"CLIENT", "KILL", "ID", "999999"},
	{"CLIENT", "LIST"},
	{"CLIENT", "UNPAUSE"},
	{"CLIENT", "NO-EVICT", "on"},
	{"CLIENT", "UNBLOCK", "1"},
	{"ACL", "SETUSER", "default", "nopass"},
	{"ACL", "GETUSER", "default"},
}

// moreAllowed are subcommands a refused row keeps for its users.
var moreAllowed = [][]string{
	{"CLIENT", "SETNAME", "policy"},
	{"CLIENT", "GETNAME"},
	{"CLIENT", "ID"},
	{"ACL", "WHOAMI"},
}

// TestCommandPolicyOnEveryPlane runs every row of the command policy on every
// plane through every door a database's user has: TCP with the password,
// a Lua script, and the REST API with the database's token. Refused rows
// answer Redis's NOPERM (from a script: NOPERM or Redis's "not allowed from
// script"); allowed rows never answer NOPERM.
func TestCommandPolicyOnEveryPlane(t *testing.T) {
	for _, r := range devapi.CommandPolicy {
		if policySamples[r.Command] == nil {
			t.Fatalf("no sample command line for policy row %s: add one to policySamples", r.Command)
		}
	}
	for _, kind := range planeKinds(t) {
		t.Run(kind.name, func(t *testing.T) {
			s := newStack(t, kind, t.TempDir())
			ctx := t.Context()
			db := s.create("policy", false)
			c := s.connect(db, *db.Password)
			if err := c.RPush(ctx, "policy:list", "3", "1", "2").Err(); err != nil {
				t.Fatal(err)
			}
			token := deref(db.RestToken)

			type row struct {
				args    []string
				refused bool
			}
			var rows []row
			for _, r := range devapi.CommandPolicy {
				rows = append(rows, row{policySamples[r.Command], !r.Allowed})
			}
			for _, a := range moreRefused {
				rows = append(rows, row{a, true})
			}
			for _, a := range moreAllowed {
				rows = append(rows, row{a, false})
			}
			for _, r := range rows {
				name := strings.Join(r.args, " ")
				want := devapi.CommandRefused(r.args)
				if (want != "") != r.refused {
					t.Fatalf("%s: devapi.CommandRefused = %q, the table says refused=%v", name, want, r.refused)
				}

				// TCP, with the database's password. redis-server checks
				// enable-debug-command before the ACL, and says so.
				err := c.Do(ctx, toArgs(r.args)...).Err()
				switch {
				case r.refused && err != nil && r.args[0] == "DEBUG" && strings.HasPrefix(err.Error(), "ERR DEBUG command not allowed"):
				case r.refused && (err == nil || err.Error() != want):
					t.Errorf("TCP %s: %v, want %q", name, err, want)
				case !r.refused && err != nil && strings.HasPrefix(err.Error(), "NOPERM"):
					t.Errorf("TCP %s: %v, want it allowed", name, err)
				}

				// A script calling the command.
				err = c.Eval(ctx, "return redis.call(unpack(ARGV))", nil, toArgs(r.args)...).Err()
				if r.refused && !scriptRefused(err, want) {
					t.Errorf("script %s: %v, want %q or Redis's refusal of the command in a script", name, err, want)
				}
				if !r.refused && err != nil && strings.Contains(err.Error(), "NOPERM") {
					t.Errorf("script %s: %v, want it allowed", name, err)
				}

				// REST, with the database's token.
				status, msg := restCommand(t, s.app.RESTURL(), token, r.args)
				switch {
				case r.refused && (status != http.StatusBadRequest || msg != want):
					t.Errorf("REST %s: %d %q, want 400 %q", name, status, msg, want)
				case !r.refused && strings.HasPrefix(msg, "NOPERM"):
					t.Errorf("REST %s: %d %q, want it allowed", name, status, msg)
				}
			}
			// The database still serves its owner: nothing above stopped,
			// paused or reconfigured it.
			if err := s.connect(db, *db.Password).Ping(ctx).Err(); err != nil {
				t.Fatalf("PING after the policy rows: %v", err)
			}
			if reset := s.reset(db.DatabaseId); s.connect(db, reset.Password).Ping(ctx).Err() != nil {
				t.Fatal("the new password does not work after the policy rows")
			}
		})
	}
}

// scriptRefused reports whether err is a refusal of a command called from a
// script: the NOPERM of TCP, or Redis 7.0's own texts for a command a script
// may not run at all or its user may not run.
func scriptRefused(err error, want string) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, want) || strings.Contains(msg, "not allowed from script") ||
		strings.Contains(msg, "The user executing the script can't run this command") ||
		strings.Contains(msg, "ERR DEBUG command not allowed")
}

// restCommand sends args to the REST API and returns the status and the
// error text ("" on success).
func restCommand(t *testing.T, url, token string, args []string) (int, string) {
	t.Helper()
	body, _ := json.Marshal(args)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Error string `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out.Error
}

func toArgs(args []string) []any {
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = a
	}
	return out
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
