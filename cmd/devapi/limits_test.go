package main

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/devapi-dev/devapi/server"
)

// TestServeRefusesAShortAPIKey: an API key of fewer than 32 characters from
// the environment or the credentials file stops serve at start, with a
// message that says how to make a good one and does not repeat the key.
func TestServeRefusesAShortAPIKey(t *testing.T) {
	const short = "sixteen-chars-ok"
	r := serveRefused(t, []string{"UPSTASH_EMAIL=short@example.com", "UPSTASH_API_KEY=" + short})
	if r.code != exitUsage || !strings.Contains(r.stderr, "openssl rand -hex 32") || !strings.Contains(r.stderr, "UPSTASH_API_KEY") {
		t.Errorf("serve with a 16-character key: exit %d, stderr %q; want exit 2 saying how to make a key", r.code, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, short) {
		t.Errorf("the refusal repeats the key: %s", r.stderr)
	}
	if err := checkAPIKey("x", strings.Repeat("k", minAPIKeyLength)); err != nil {
		t.Errorf("a %d-character key: %v", minAPIKeyLength, err)
	}
	if err := checkAPIKey("x", strings.Repeat("k", minAPIKeyLength-1)); err == nil {
		t.Errorf("a %d-character key was taken", minAPIKeyLength-1)
	}
}

// TestServeLimitFlags: the quota and rate-limit flags are in serve --help
// with their defaults, reach server.Config (0 meaning no limit), and
// negative values are usage errors.
func TestServeLimitFlags(t *testing.T) {
	u := &cliUser{t: t}
	help := u.ok("serve", "--help")
	for _, want := range []string{
		"--max-databases-per-account int", "(default 100)",
		"--max-teams-per-account int", "(default 5)",
		"--max-backups-per-database int", "(default 50)",
		"--auth-failure-rate float", "(default 10)", "--auth-failure-burst int", "(default 20)",
		"--account-rate float", "(default 1000)", "--account-burst int", "(default 2000)",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("serve --help lacks %q", want)
		}
	}

	l := limitFlags{maxDatabases: 100, maxTeams: 0, maxBackups: 7, authRate: 10, authBurst: 20, accountRate: 0, accountBurst: 1}
	cfg, err := l.apply(server.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxDatabasesPerAccount != 100 || cfg.MaxTeamsPerAccount != -1 || cfg.MaxBackupsPerDatabase != 7 ||
		cfg.AuthFailures != (server.RateLimit{PerSecond: 10, Burst: 20}) || cfg.AccountRequests.PerSecond >= 0 {
		t.Errorf("apply: %+v", cfg)
	}
	for _, args := range [][]string{
		{"--max-databases-per-account", "-1"},
		{"--auth-failure-burst", "0"},
		{"--account-rate", "-5"},
	} {
		r := serveRefused(t, nil, args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, args[0]) {
			t.Errorf("serve %s: exit %d, stderr %q; want exit 2 naming the flag", strings.Join(args, " "), r.code, r.stderr)
		}
	}
}

// TestServeQuotaEndToEnd: the real binary with --max-databases-per-account
// 1 refuses a second database with 400 and the limit in its text.
func TestServeQuotaEndToEnd(t *testing.T) {
	p := serveArgs(t, []string{"--data", t.TempDir(), "--ports", "29000-29999", "--max-databases-per-account", "1"})
	u := newCLIUser(t, p)
	u.ok("redis", "create", "--name", "first", "--region", "us-east-1")
	r := u.run("redis", "create", "--name", "second", "--region", "us-east-1")
	if r.code == 0 || !strings.Contains(r.stderr, "database limit reached: an account may have at most 1 databases") {
		t.Errorf("second create: exit %d, stderr %q; want the database limit", r.code, r.stderr)
	}
}

// serveRefused runs devapi serve with env and args, expecting it to refuse
// to start: a serve still running after 20 seconds is killed, and its exit
// code is then not a usage error's.
func serveRefused(t *testing.T, env []string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append([]string{"serve", "--data", t.TempDir(), "--addr", freeAddr(t), "--rest-addr", freeAddr(t)}, args...)...)
	cmd.Env = append([]string{"HOME=" + t.TempDir(), "PATH=/usr/bin:/bin"}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	_ = cmd.Run()
	return cliResult{stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
}
