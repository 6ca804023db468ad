package devapi_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runAPICheck runs CI's breaking-change check, scripts/api-check.sh, on
// revision against the committed baseline with the acknowledgements in ack.
func runAPICheck(tb testing.TB, revision, ack string) (string, error) {
	tb.Helper()
	cmd := exec.CommandContext(tb.Context(), "bash", "scripts/api-check.sh", "testdata/openapi.baseline.yaml", revision, ack)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// TestAPICheck proves the breaking-change check CI runs: the committed spec
// passes against the baseline with the committed acknowledgements; a spec
// that removes a response field fails it; acknowledging each change it
// reports makes it pass.
func TestAPICheck(t *testing.T) {
	if testing.Short() {
		t.Skip("builds oasdiff (go tool -modfile=go.tools.mod); not in -short")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not on PATH")
	}
	if out, err := runAPICheck(t, "openapi.yaml", "openapi.breaks.md"); err != nil {
		t.Fatalf("openapi.yaml against the baseline: %v\n%s", err, out)
	}

	spec, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// database_name leaves the Database schema that most answers carry.
	broken := strings.Replace(string(spec), "        database_name:\n          type: string\n          example: MyRedis\n", "", 1)
	broken = strings.Replace(broken, "required: [database_id, database_name, region,", "required: [database_id, region,", 1)
	if strings.Contains(broken, "example: MyRedis") || strings.Contains(broken, "[database_id, database_name,") {
		t.Fatal("openapi.yaml's Database schema changed shape: update the edit this test makes")
	}
	dir := t.TempDir()
	revision := filepath.Join(dir, "openapi.yaml")
	if err := os.WriteFile(revision, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	ack := filepath.Join(dir, "breaks.md")
	if err := os.WriteFile(ack, []byte("# nothing acknowledged\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	out, err := runAPICheck(t, revision, ack)
	if err == nil {
		t.Fatalf("a removed response field passed the check:\n%s", out)
	}
	// Each change is one line: "error at FILE, in API METHOD PATH TEXT [ID]. "
	var lines []string
	for line := range strings.Lines(out) {
		_, change, ok := strings.Cut(line, ", in API ")
		if !strings.HasPrefix(line, "error at ") || !ok {
			continue
		}
		change, _, _ = strings.Cut(change, " [")
		lines = append(lines, "- "+change+": removed on purpose by TestAPICheck\n")
	}
	if len(lines) == 0 || !strings.Contains(out, "database_name") {
		t.Fatalf("the check failed without naming database_name:\n%s", out)
	}

	if err := os.WriteFile(ack, []byte(strings.Join(lines[:len(lines)-1], "")), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runAPICheck(t, revision, ack); err == nil {
		t.Fatalf("passed with one of %d changes unacknowledged:\n%s", len(lines), out)
	}
	if err := os.WriteFile(ack, []byte(strings.Join(lines, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runAPICheck(t, revision, ack); err != nil {
		t.Fatalf("every change acknowledged, the check still failed: %v\n%s", err, out)
	}
}
