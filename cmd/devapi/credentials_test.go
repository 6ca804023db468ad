package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCredentialsFileTargetsServe: a shell that sources serve's credentials
// file talks to that serve, whatever Upstash credentials and URLs it held
// before, and the file follows serve to a new address on the next start.
func TestCredentialsFileTargetsServe(t *testing.T) {
	data := t.TempDir()
	path := filepath.Join(data, "credentials")
	p := serveArgs(t, []string{"--data", data, "--no-env-account"})

	// A shell that still holds another service's credentials and URLs,
	// among them an app's UPSTASH_API_URL, which devapi does not read.
	elsewhere := []string{
		"UPSTASH_EMAIL=prod@example.com",
		"UPSTASH_API_KEY=prod-key-0123456789abcdef0123456789abcdef",
		"UPSTASH_API_URL=http://127.0.0.1:1",
		envAPIURL + "=http://127.0.0.1:1",
	}
	r := runSourced(t, path, elsewhere, "redis", "list", "--verbose")
	if r.code != 0 || r.stdout != "[]\n" {
		t.Fatalf("after sourcing the credentials file: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if want := "devapi: API " + p.url + "/v2 (from $" + envAPIURL + ")"; !strings.Contains(r.stderr, want) {
		t.Errorf("--verbose said %q, want it to contain %q", r.stderr, want)
	}

	// The next start on another address rewrites the URL, and only that.
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p.stop()
	p2 := serveArgs(t, []string{"--data", data, "--no-env-account"})
	if p2.url == p.url {
		t.Skipf("the kernel gave serve the same port twice (%s)", p.url)
	}
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Replace(string(before), p.url, p2.url, 1); string(after) != want {
		t.Errorf("credentials file after a restart on %s:\n%s\nwant:\n%s", p2.url, after, want)
	}
	if r := runSourced(t, path, elsewhere, "redis", "list"); r.code != 0 || r.stdout != "[]\n" {
		t.Fatalf("after a restart: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
}

// runSourced runs devapi with args in a shell that holds env and then
// sources the credentials file at path, as the file's first line says.
func runSourced(t *testing.T, path string, env []string, args ...string) cliResult {
	t.Helper()
	u := &cliUser{t: t, env: append([]string{"DEVAPI_CREDENTIALS=" + path, "DEVAPI_BINARY=" + binary}, env...)}
	script := `set -a; . "$DEVAPI_CREDENTIALS"; set +a; exec "$DEVAPI_BINARY" "$@"`
	return u.runCommand(exec.Command("sh", append([]string{"-c", script, "sh"}, args...)...))
}

// TestVerboseDefaultAPI: with no --api-url and no DEVAPI_API_URL the CLI
// says, before it sends anything, that it talks to Upstash itself, and an
// UPSTASH_API_URL does not change that.
func TestVerboseDefaultAPI(t *testing.T) {
	u := &cliUser{t: t, env: []string{"UPSTASH_API_URL=http://127.0.0.1:1"}}
	r := u.run("redis", "list", "--verbose")
	if r.code != exitAuth {
		t.Fatalf("exit %d, want %d (no credentials, no request)\nstderr: %s", r.code, exitAuth, r.stderr)
	}
	if want := "devapi: API " + defaultAPIURL + "/v2 (from the default, Upstash itself"; !strings.HasPrefix(r.stderr, want) {
		t.Errorf("--verbose said %q, want it to start with %q", r.stderr, want)
	}
	if r := u.run("redis", "list"); strings.Contains(r.stderr, "devapi: API") {
		t.Errorf("without --verbose the CLI named its API: %q", r.stderr)
	}
}

// TestSetCredentialsAPIURL: the URL line is added or replaced (once, however
// often it was there), the other lines are kept, and a missing file stays
// missing.
func TestSetCredentialsAPIURL(t *testing.T) {
	const url = "http://127.0.0.1:9999"
	for _, tc := range []struct{ name, before, want string }{
		{"added", "# c\nUPSTASH_EMAIL=a@b\nUPSTASH_API_KEY=k\n", "# c\nUPSTASH_EMAIL=a@b\nUPSTASH_API_KEY=k\n" + envAPIURL + "=" + url + "\n"},
		{"replaced", "UPSTASH_EMAIL=a@b\n" + envAPIURL + "=http://old\nUPSTASH_API_KEY=k\n", "UPSTASH_EMAIL=a@b\n" + envAPIURL + "=" + url + "\nUPSTASH_API_KEY=k\n"},
		{"duplicates", envAPIURL + "=x\n" + envAPIURL + "=y\n", envAPIURL + "=" + url + "\n"},
		{"no final newline", "UPSTASH_EMAIL=a@b", "UPSTASH_EMAIL=a@b\n" + envAPIURL + "=" + url + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "credentials")
			if err := os.WriteFile(path, []byte(tc.before), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := setCredentialsAPIURL(path, url); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if info.Mode().Perm() != 0o600 {
				t.Errorf("mode after the rewrite: %v, want 0600", info.Mode().Perm())
			}
		})
	}
	missing := filepath.Join(t.TempDir(), "credentials")
	if err := setCredentialsAPIURL(missing, url); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("a missing credentials file was created: %v", err)
	}
}
