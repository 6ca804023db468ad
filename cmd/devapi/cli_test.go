package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
)

// These tests run devapi redis and devapi team, the real binary, against a
// real devapi serve, as a user does.

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ with the current output")

// cliResult is what one run of the CLI printed and its exit code.
type cliResult struct {
	stdout, stderr string
	code           int
}

// cliUser runs the CLI with an environment, as a shell user with
// UPSTASH_EMAIL, UPSTASH_API_KEY and DEVAPI_API_URL exported does.
type cliUser struct {
	t   *testing.T
	env []string
}

// newCLIUser is a user whose environment points at p with the e2e account.
func newCLIUser(t *testing.T, p *proc) *cliUser {
	return &cliUser{t: t, env: []string{
		"UPSTASH_EMAIL=" + e2eEmail,
		"UPSTASH_API_KEY=" + e2eKey,
		"DEVAPI_API_URL=" + p.url,
	}}
}

// with is the same user with some variables changed ("NAME=value") or
// removed ("NAME").
func (u *cliUser) with(changes ...string) *cliUser {
	env := append([]string{}, u.env...)
	for _, ch := range changes {
		name, _, _ := strings.Cut(ch, "=")
		kept := env[:0]
		for _, kv := range env {
			if !strings.HasPrefix(kv, name+"=") {
				kept = append(kept, kv)
			}
		}
		env = kept
		if strings.Contains(ch, "=") {
			env = append(env, ch)
		}
	}
	return &cliUser{t: u.t, env: env}
}

// run runs devapi with args and returns what it printed, whatever the exit
// code.
func (u *cliUser) run(args ...string) cliResult {
	u.t.Helper()
	return u.runCommand(exec.Command(binary, args...))
}

// runCommand runs cmd (devapi, or a shell that runs it) in the user's
// environment and returns what it printed, whatever the exit code.
func (u *cliUser) runCommand(cmd *exec.Cmd) cliResult {
	u.t.Helper()
	for _, kv := range os.Environ() { // nothing of the test runner's own Upstash set-up
		if !strings.HasPrefix(kv, "UPSTASH_") && !strings.HasPrefix(kv, envAPIURL+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, u.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		u.t.Fatalf("%s: %v", strings.Join(cmd.Args, " "), err)
	}
	return cliResult{stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
}

// ok runs devapi with args, fails the test unless it succeeded quietly, and
// returns its standard output.
func (u *cliUser) ok(args ...string) string {
	u.t.Helper()
	r := u.run(args...)
	if r.code != 0 || r.stderr != "" {
		u.t.Fatalf("devapi %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// okJSON runs devapi with args and decodes its JSON answer into v.
func (u *cliUser) okJSON(v any, args ...string) string {
	u.t.Helper()
	out := u.ok(args...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		u.t.Fatalf("devapi %s: not JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// okOK runs an action that answers "OK" and checks it printed "OK" as JSON.
func (u *cliUser) okOK(args ...string) {
	u.t.Helper()
	if out := u.ok(args...); out != "\"OK\"\n" {
		u.t.Errorf("devapi %s printed %q, want \"OK\" as JSON", strings.Join(args, " "), out)
	}
}

// fails runs devapi with args and checks the exit code and that standard
// error is exactly one line {"error": "..."}, with nothing on standard
// output. It returns the error message.
func (u *cliUser) fails(code int, args ...string) string {
	u.t.Helper()
	r := u.run(args...)
	if r.code != code {
		u.t.Errorf("devapi %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
	if r.stdout != "" {
		u.t.Errorf("devapi %s: printed on stdout: %s", strings.Join(args, " "), r.stdout)
	}
	return errorLine(u.t, r.stderr)
}

// errorLine checks stderr is one line of JSON {"error": "..."} and returns
// the message.
func errorLine(t *testing.T, stderr string) string {
	t.Helper()
	var e map[string]string
	if strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") || json.Unmarshal([]byte(stderr), &e) != nil || len(e) != 1 || e["error"] == "" {
		t.Errorf("stderr is not one line {\"error\": \"...\"}: %q", stderr)
	}
	return e["error"]
}

// cliDatabase is what the tests read from a database answer.
type cliDatabase struct {
	ID                string   `json:"database_id"`
	Name              string   `json:"database_name"`
	Port              int      `json:"port"`
	Password          *string  `json:"password"`
	RestToken         *string  `json:"rest_token"`
	ReadOnlyRestToken *string  `json:"read_only_rest_token"`
	TLS               bool     `json:"tls"`
	Eviction          bool     `json:"eviction"`
	AutoUpgrade       bool     `json:"auto_upgrade"`
	Budget            int64    `json:"budget"`
	Plan              string   `json:"type"`
	ReadRegions       []string `json:"read_regions"`
	DailyBackup       bool     `json:"daily_backup_enabled"`
}

// TestCLIRedis follows the README: credentials and the API's address in the
// environment, then create, get, reset-password and the errors a user meets.
func TestCLIRedis(t *testing.T) {
	p := serve(t, t.TempDir(), "embedded")
	u := newCLIUser(t, p)
	g := &golden{}

	var db cliDatabase
	out := u.okJSON(&db, "redis", "create", "--name", "orders", "--region", "us-east-1")
	if db.ID == "" || db.Password == nil || *db.Password == "" || db.RestToken == nil || !db.TLS {
		t.Fatalf("create answered %s", out)
	}
	g.known(db.ID, "<DATABASE_ID>")
	g.check(t, "redis-create.json", out)

	var got cliDatabase
	out = u.okJSON(&got, "redis", "get", "--db-id", db.ID)
	if got.ID != db.ID || got.Password == nil || *got.Password != *db.Password {
		t.Errorf("get answered %s", out)
	}
	g.check(t, "redis-get.json", out)

	var hidden cliDatabase
	out = u.okJSON(&hidden, "redis", "get", "--db-id", db.ID, "--hide-credentials")
	if hidden.Password != nil || hidden.RestToken != nil || hidden.ReadOnlyRestToken != nil {
		t.Errorf("get --hide-credentials answered credentials: %s", out)
	}

	var reset cliDatabase
	out = u.okJSON(&reset, "redis", "reset-password", "--db-id", db.ID)
	if reset.ID != db.ID || reset.Password == nil || *reset.Password == "" || *reset.Password == *db.Password {
		t.Errorf("reset-password answered the old password or none: %s", out)
	}
	if reset.RestToken == nil || *reset.RestToken == *db.RestToken {
		t.Errorf("reset-password kept the REST token: %s", out)
	}
	g.check(t, "redis-reset-password.json", out)
	u.okJSON(&got, "redis", "get", "--db-id", db.ID)
	if got.Password == nil || *got.Password != *reset.Password {
		t.Errorf("get after reset-password: password is not the new one")
	}

	t.Run("wrong key", func(t *testing.T) {
		u := u.with("UPSTASH_API_KEY=wrong-key-0123456789")
		u.t = t
		g.checkError(t, "error-unauthorized", u.fails(exitAuth, "redis", "get", "--db-id", db.ID))
		u.fails(exitAuth, "team", "list")
	})
	t.Run("flags before environment", func(t *testing.T) {
		u := u.with()
		u.t = t
		u.fails(exitAuth, "redis", "list", "--api-key", "wrong-key-0123456789")
		u = u.with("UPSTASH_API_KEY=wrong-key-0123456789", "UPSTASH_EMAIL=nobody@example.com", "DEVAPI_API_URL=http://127.0.0.1:1")
		u.ok("redis", "list", "--email", e2eEmail, "--api-key", e2eKey, "--api-url", p.url)
	})
	t.Run("no credentials", func(t *testing.T) {
		u := u.with("UPSTASH_API_KEY")
		u.t = t
		g.checkError(t, "error-no-credentials", u.fails(exitAuth, "redis", "list"))
	})
	t.Run("unknown id", func(t *testing.T) {
		u := u.with()
		u.t = t
		const unknown = "00000000-0000-4000-8000-000000000000"
		g.checkError(t, "error-not-found", u.fails(exitNotFound, "redis", "get", "--db-id", unknown))
		u.fails(exitNotFound, "redis", "reset-password", "--db-id", unknown)
		u.fails(exitNotFound, "redis", "backup", "list", "--db-id", unknown)
		u.fails(exitNotFound, "team", "members", "--team-id", unknown)
	})
	t.Run("API down", func(t *testing.T) {
		u := u.with("DEVAPI_API_URL=http://" + freeAddr(t))
		u.t = t
		u.fails(1, "redis", "delete", "--db-id", db.ID)
	})
	t.Run("table", func(t *testing.T) {
		u := u.with()
		u.t = t
		for _, args := range [][]string{
			{"redis", "list", "--output", "table"},
			{"redis", "get", "--db-id", db.ID, "-o", "table"},
			{"redis", "reset-password", "--db-id", db.ID, "--output=table"},
		} {
			out := u.ok(args...)
			for _, secret := range []string{*reset.Password, *reset.RestToken, "password", "token"} {
				if strings.Contains(out, secret) {
					t.Errorf("devapi %s shows a credential (%q):\n%s", strings.Join(args, " "), secret, out)
				}
			}
		}
		g.check(t, "redis-list.table", u.ok("redis", "list", "--output", "table"))
		g.check(t, "redis-get.table", u.ok("redis", "get", "--db-id", db.ID, "--output", "table"))
		g.check(t, "redis-ok.table", u.ok("redis", "enable-autoupgrade", "--db-id", db.ID, "--output", "table"))
	})

	u.okOK("redis", "delete", "--db-id", db.ID)
	u.fails(exitNotFound, "redis", "get", "--db-id", db.ID)
	g.check(t, "redis-list-empty.json", u.ok("redis", "list"))
}

// TestCLIUsageErrors checks every kind of mistake in a command line exits 2
// and says so as JSON on standard error.
func TestCLIUsageErrors(t *testing.T) {
	u := &cliUser{t: t, env: []string{"UPSTASH_EMAIL=" + e2eEmail, "UPSTASH_API_KEY=" + e2eKey, "DEVAPI_API_URL=http://127.0.0.1:1"}}
	g := &golden{}
	cases := []struct {
		name string
		args []string
	}{
		{"missing required flag", []string{"redis", "get"}},
		{"missing required flags", []string{"redis", "create", "--plan", "payg"}},
		{"missing backup id", []string{"redis", "backup", "restore", "--db-id", "x"}},
		{"missing team flags", []string{"team", "add-member", "--team-id", "t"}},
		{"unknown command", []string{"redis", "nosuch"}},
		{"unknown backup command", []string{"redis", "backup", "nosuch"}},
		{"unknown team command", []string{"team", "nosuch"}},
		{"unknown flag", []string{"redis", "list", "--nosuch"}},
		{"bad flag value", []string{"redis", "update-budget", "--db-id", "x", "--budget", "ten"}},
		{"bad boolean", []string{"redis", "create", "--name", "n", "--region", "us-east-1", "--tls=maybe"}},
		{"argument", []string{"redis", "get", "--db-id", "x", "extra"}},
		{"bad output", []string{"redis", "list", "--output", "yaml"}},
		{"bad api url", []string{"team", "list", "--api-url", "api.upstash.com"}},
	}
	var golden strings.Builder
	for _, c := range cases {
		msg := u.fails(exitUsage, c.args...)
		golden.WriteString(c.name + ": " + msg + "\n")
	}
	g.check(t, "usage-errors.txt", golden.String())

	// devapi itself says it the same way.
	if msg := u.fails(exitUsage, "nosuch"); msg != `unknown command "nosuch" for "devapi" (see devapi --help)` {
		t.Errorf("devapi nosuch: %q", msg)
	}
	// Asking for help is not a mistake, and needs no credentials.
	for _, args := range [][]string{{"redis"}, {"redis", "--help"}, {"team", "add-member", "--help"}, {"redis", "backup"}, {"team"}} {
		if r := (&cliUser{t: t}).run(args...); r.code != 0 || !strings.Contains(r.stdout, "Usage:") {
			t.Errorf("devapi %s: exit %d, stdout %q", strings.Join(args, " "), r.code, r.stdout)
		}
	}
}

// TestCLICompletion checks the shell completion scripts and the completion
// of flag values.
func TestCLICompletion(t *testing.T) {
	u := &cliUser{t: t}
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		if out := u.ok("completion", shell); !strings.Contains(out, "devapi") {
			t.Errorf("completion %s: %q", shell, out)
		}
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"redis", "create", "--plan", ""}, plans},
		{[]string{"redis", "change-plan", "--plan", "fix"}, plans},
		{[]string{"redis", "create", "--platform", ""}, platforms},
		{[]string{"redis", "create", "--region", ""}, regions},
		{[]string{"redis", "stats", "--period", ""}, periods},
		{[]string{"team", "add-member", "--role", ""}, roles},
		{[]string{"team", "list", "--output", ""}, []string{outputJSON, outputTable}},
		{[]string{"redis", ""}, []string{"list", "create", "reset-password", "backup", "move-to-team"}},
		{[]string{"redis", "backup", ""}, []string{"list", "create", "delete", "restore", "enable-daily", "disable-daily"}},
	} {
		r := u.run(append([]string{"__complete"}, c.args...)...)
		if r.code != 0 {
			t.Errorf("__complete %q: exit %d\n%s", c.args, r.code, r.stderr)
		}
		out := r.stdout
		lines := strings.Split(out, "\n")
		for _, w := range c.want {
			found := false
			for _, l := range lines {
				name, _, _ := strings.Cut(l, "\t")
				found = found || name == w
			}
			if !found {
				t.Errorf("__complete %q: no %q in\n%s", c.args, w, out)
			}
		}
	}
}

// TestCLIEveryCommand runs every redis and team command at least once,
// and checks each did what it says through the answers of get and list.
func TestCLIEveryCommand(t *testing.T) {
	data := t.TempDir()
	p := serve(t, data, "embedded")
	u := newCLIUser(t, p)
	g := &golden{}

	var db cliDatabase
	u.okJSON(&db, "redis", "create", "--name", "plain", "--region", "us-east-1", "--read-regions", "us-west-1",
		"--platform", "aws", "--plan", "payg", "--budget", "50", "--eviction", "--tls=false")
	if db.TLS || !db.Eviction || db.Budget != 50 || len(db.ReadRegions) != 1 || db.ReadRegions[0] != "us-west-1" {
		t.Errorf("create with every flag: %+v", db)
	}
	g.known(db.ID, "<DATABASE_ID>")
	get := func() cliDatabase {
		t.Helper()
		var d cliDatabase
		u.okJSON(&d, "redis", "get", "--db-id", db.ID)
		return d
	}

	var renamed cliDatabase
	u.okJSON(&renamed, "redis", "rename", "--db-id", db.ID, "--name", "plainer")
	if renamed.Name != "plainer" {
		t.Errorf("rename answered name %q", renamed.Name)
	}

	var tlsOn cliDatabase
	u.okJSON(&tlsOn, "redis", "enable-tls", "--db-id", db.ID)
	if !tlsOn.TLS {
		t.Errorf("enable-tls answered tls false")
	}

	u.okOK("redis", "disable-eviction", "--db-id", db.ID)
	if get().Eviction {
		t.Errorf("eviction still on")
	}
	u.okOK("redis", "enable-eviction", "--db-id", db.ID)
	if msg := u.fails(1, "redis", "enable-eviction", "--db-id", db.ID); !strings.Contains(msg, "already enabled") {
		t.Errorf("enable-eviction twice: %q", msg)
	}
	u.okOK("redis", "enable-autoupgrade", "--db-id", db.ID)
	if !get().AutoUpgrade {
		t.Errorf("auto-upgrade still off")
	}
	u.okOK("redis", "disable-autoupgrade", "--db-id", db.ID)
	u.okOK("redis", "change-plan", "--db-id", db.ID, "--plan", "fixed_1gb")
	u.okOK("redis", "update-budget", "--db-id", db.ID, "--budget", "120")
	u.okOK("redis", "update-regions", "--db-id", db.ID, "--read-regions", "eu-west-1,us-west-2")
	d := get()
	if d.AutoUpgrade || d.Budget != 120 || strings.Join(d.ReadRegions, ",") != "eu-west-1,us-west-2" || !d.Eviction {
		t.Errorf("after the settings: %+v", d)
	}

	var stats map[string]any
	u.okJSON(&stats, "redis", "stats", "--db-id", db.ID, "--period", "3h")
	if len(stats) == 0 {
		t.Errorf("stats answered an empty object")
	}
	if out := u.ok("redis", "stats", "--db-id", db.ID, "-o", "table"); !strings.HasPrefix(out, "FIELD") {
		t.Errorf("stats table: %s", out)
	}
	u.fails(1, "redis", "stats", "--db-id", db.ID, "--period", "2y")

	// Backups.
	u.okOK("redis", "backup", "create", "--db-id", db.ID, "--name", "first")
	var backups []struct {
		ID   string `json:"backup_id"`
		Name string `json:"name"`
	}
	u.okJSON(&backups, "redis", "backup", "list", "--db-id", db.ID)
	if len(backups) != 1 || backups[0].Name != "first" {
		t.Fatalf("backup list: %+v", backups)
	}
	g.known(backups[0].ID, "<BACKUP_ID>")
	g.check(t, "redis-backup-list.table", u.ok("redis", "backup", "list", "--db-id", db.ID, "-o", "table"))
	u.okOK("redis", "backup", "restore", "--db-id", db.ID, "--backup-id", backups[0].ID)
	u.okOK("redis", "backup", "enable-daily", "--db-id", db.ID)
	if !get().DailyBackup {
		t.Errorf("daily backup still off")
	}
	u.okOK("redis", "backup", "disable-daily", "--db-id", db.ID)
	u.okOK("redis", "backup", "delete", "--db-id", db.ID, "--backup-id", backups[0].ID)
	u.fails(exitNotFound, "redis", "backup", "delete", "--db-id", db.ID, "--backup-id", backups[0].ID)
	g.check(t, "redis-backup-list-empty.json", u.ok("redis", "backup", "list", "--db-id", db.ID))

	// Teams. A member must be an account of this devapi.
	const member = "bob@example.com"
	if out, err := exec.Command(binary, "accounts", "create", member, "--data", data).CombinedOutput(); err != nil {
		t.Fatalf("accounts create: %v\n%s", err, out)
	}
	var team struct {
		ID string `json:"team_id"`
	}
	out := u.okJSON(&team, "team", "create", "--name", "platform", "--copy-cc")
	g.known(team.ID, "<TEAM_ID>")
	g.check(t, "team-create.json", out)
	g.check(t, "team-list.table", u.ok("team", "list", "--output", "table"))
	g.check(t, "team-add-member.json", u.ok("team", "add-member", "--team-id", team.ID, "--member-email", member, "--role", "dev"))
	g.check(t, "team-members.table", u.ok("team", "members", "--team-id", team.ID, "-o", "table"))
	var members []map[string]any
	u.okJSON(&members, "team", "members", "--team-id", team.ID)
	if len(members) != 2 {
		t.Errorf("members: %v", members)
	}
	u.okOK("team", "remove-member", "--team-id", team.ID, "--member-email", member)

	u.okOK("redis", "move-to-team", "--db-id", db.ID, "--team-id", team.ID)
	u.fails(exitNotFound, "redis", "get", "--db-id", db.ID) // the team's now, not the user's
	u.fails(1, "team", "delete", "--team-id", team.ID)      // it owns a database

	var other struct {
		ID string `json:"team_id"`
	}
	u.okJSON(&other, "team", "create", "--name", "short-lived")
	u.okOK("team", "delete", "--team-id", other.ID)
	u.fails(exitNotFound, "team", "delete", "--team-id", other.ID)
	var teams []map[string]any
	u.okJSON(&teams, "team", "list")
	if len(teams) != 1 {
		t.Errorf("teams after delete: %v", teams)
	}
}

// golden compares outputs with testdata/*.golden, after replacing what
// changes from run to run by placeholders; -update rewrites the files.
type golden struct {
	mu    sync.Mutex
	pairs []string // this run's values and their placeholders, for strings.Replacer
}

// known registers a value of this run (an id) to show as placeholder.
func (g *golden) known(value, placeholder string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.pairs = append(g.pairs, value, placeholder)
}

// Values that change from run to run, in JSON ("key": value) and in
// field/value tables (key  value).
var goldenFields = []struct {
	key, value, placeholder string
}{
	{"password", `[^"\s]+`, "<PASSWORD>"},
	{"rest_token", `[^"\s]+`, "<REST_TOKEN>"},
	{"read_only_rest_token", `[^"\s]+`, "<READ_ONLY_REST_TOKEN>"},
	{"cluster_id", `[0-9a-f]{8}`, "<CLUSTER_ID>"},
	{"pool_id", `[0-9a-f]{8}`, "<POOL_ID>"},
	{"port", `[0-9]+`, "<PORT>"},
	{"creation_time", `[0-9]{9,}`, "<TIME>"},
	{"next_daily_backup_time", `[0-9]{9,}`, "<TIME>"},
}

var (
	goldenPatterns = func() []*regexp.Regexp {
		var out []*regexp.Regexp
		for _, f := range goldenFields {
			out = append(out, regexp.MustCompile(`("`+f.key+`": "?|(?m:^)`+f.key+`\s+)`+f.value))
		}
		return out
	}()
	rfc3339 = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)
	uuidRe  = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	portRe  = regexp.MustCompile(`\b29[0-9]{3}\b`) // serve's --ports 29000-29999, in list tables
)

// normalise replaces this run's ids, credentials, ports and times by
// placeholders.
func (g *golden) normalise(s string) string {
	g.mu.Lock()
	s = strings.NewReplacer(g.pairs...).Replace(s)
	g.mu.Unlock()
	for i, re := range goldenPatterns {
		s = re.ReplaceAllString(s, "${1}"+goldenFields[i].placeholder)
	}
	s = rfc3339.ReplaceAllString(s, "<TIME>")
	s = uuidRe.ReplaceAllString(s, "<UUID>")
	return portRe.ReplaceAllString(s, "<PORT>")
}

// check compares got, normalised, with testdata/name.golden. Tables
// (name.table) are aligned again after the placeholders went in.
func (g *golden) check(t testing.TB, name, got string) {
	t.Helper()
	got = g.normalise(got)
	if strings.HasSuffix(name, ".table") {
		got = realign(got)
	}
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", name, path, got, want)
	}
}

// tableGap separates the columns of devapi's tables (tabwriter padding 2).
var tableGap = regexp.MustCompile(`\s{2,}`)

// realign aligns a table's columns again, as devapi's tabwriter does.
func realign(table string) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, line := range strings.SplitAfter(table, "\n") {
		if line != "" {
			fmt.Fprint(tw, tableGap.ReplaceAllString(strings.TrimRight(line, " \n"), "\t")+"\n")
		}
	}
	_ = tw.Flush()
	return b.String()
}

// checkError compares an error message with testdata/name.golden.
func (g *golden) checkError(t testing.TB, name, msg string) {
	t.Helper()
	g.check(t, name+".txt", msg+"\n")
}

// TestCLIOneErrorFormat checks that every command group reports its errors
// the same way, one line {"error": "..."} on standard error and nothing on
// standard output, with the exit codes devapi has always used.
func TestCLIOneErrorFormat(t *testing.T) {
	data := t.TempDir()
	u := &cliUser{t: t, env: []string{"DEVAPI_API_URL=http://127.0.0.1:1"}}
	for _, c := range []struct {
		code int
		args []string
		want string // part of the message
	}{
		{exitUsage, []string{"nosuch"}, `unknown command "nosuch" for "devapi"`},
		{exitUsage, []string{"--nosuch"}, "unknown flag: --nosuch"},
		{exitUsage, []string{"serve", "--log-format", "xml"}, "--log-format must be text or json"},
		{exitUsage, []string{"serve", "extra"}, `unknown command "extra" for "devapi serve"`},
		{exitUsage, []string{"accounts", "create"}, "accepts 1 arg(s), received 0"},
		{exitUsage, []string{"accounts", "nosuch"}, `unknown command "nosuch" for "devapi accounts"`},
		{1, []string{"accounts", "delete-key", "--data", data, "nobody@example.com", "nokey"}, "not found"},
		{exitUsage, []string{"orphans", "purge", "--data", data}, "or pass --all"},
		{exitUsage, []string{"pool", "cert", "--out", data}, "required flag --host not set"},
		{exitUsage, []string{"cert"}, "required flags --host, --out not set"},
		{1, []string{"env", "--data", data}, "no devapi serve runs on"},
		{exitUsage, []string{"redis", "create"}, "required flags --name, --region not set"},
		{exitAuth, []string{"redis", "list"}, "no credentials"},
		{exitUsage, []string{"team", "create"}, "required flag --name not set"},
	} {
		if msg := u.fails(c.code, c.args...); !strings.Contains(msg, c.want) {
			t.Errorf("devapi %s: %q, want it to say %q", strings.Join(c.args, " "), msg, c.want)
		}
	}
}

// TestCLISuggestions checks a mistyped command is answered with cobra's
// suggestions, at every level, as a usage error.
func TestCLISuggestions(t *testing.T) {
	u := &cliUser{t: t}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"redi"}, `unknown command "redi" for "devapi"; did you mean redis? (see devapi --help)`},
		{[]string{"serv"}, `unknown command "serv" for "devapi"; did you mean serve or env or cert? (see devapi --help)`},
		{[]string{"redis", "creat"}, `unknown command "creat" for "devapi redis"; did you mean create? (see devapi redis --help)`},
		{[]string{"redis", "backup", "lst"}, `unknown command "lst" for "devapi redis backup"; did you mean list? (see devapi redis backup --help)`},
		{[]string{"team", "add-membr"}, `unknown command "add-membr" for "devapi team"; did you mean add-member? (see devapi team --help)`},
		{[]string{"accounts", "creat"}, `unknown command "creat" for "devapi accounts"; did you mean create? (see devapi accounts --help)`},
		{[]string{"orphans", "lis"}, `unknown command "lis" for "devapi orphans"; did you mean list? (see devapi orphans --help)`},
		{[]string{"redis", "zzzzzz"}, `unknown command "zzzzzz" for "devapi redis" (see devapi redis --help)`},
	} {
		if msg := u.fails(exitUsage, c.args...); msg != c.want {
			t.Errorf("devapi %s: %q, want %q", strings.Join(c.args, " "), msg, c.want)
		}
	}
}

// TestCLIRequiredFlagsInHelp checks --help marks the flags a command
// requires, and only those.
func TestCLIRequiredFlagsInHelp(t *testing.T) {
	u := &cliUser{t: t}
	for _, c := range []struct {
		args     []string
		required []string
		optional []string
	}{
		{[]string{"redis", "create"}, []string{"--name", "--region"}, []string{"--plan", "--tls", "--budget"}},
		{[]string{"redis", "get"}, []string{"--db-id"}, []string{"--hide-credentials"}},
		{[]string{"redis", "backup", "restore"}, []string{"--db-id", "--backup-id"}, nil},
		{[]string{"team", "add-member"}, []string{"--team-id", "--member-email", "--role"}, []string{"--email"}},
		{[]string{"cert"}, []string{"--host", "--out"}, []string{"--data"}},
		{[]string{"pool", "cert"}, []string{"--host", "--out"}, []string{"--data"}},
	} {
		out := u.ok(append(c.args, "--help")...)
		for _, names := range [][]string{c.required, c.optional} {
			for _, name := range names {
				line := ""
				for l := range strings.SplitSeq(out, "\n") {
					if strings.Contains(l, " "+name+" ") {
						line = l
					}
				}
				want := slices.Contains(c.required, name)
				if line == "" || strings.HasSuffix(line, "(required)") != want {
					t.Errorf("devapi %s --help: %s marked required: %v, want %v\n%s", strings.Join(c.args, " "), name, !want, want, line)
				}
			}
		}
	}
}
