package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEnvAccountWarnsOnce: serve takes UPSTASH_API_KEY into the store for
// good, so the start that adds it logs one WARN naming the key by its
// fingerprint (never the key); a restart with the key already there does
// not warn again; --no-env-account leaves the environment out.
func TestEnvAccountWarnsOnce(t *testing.T) {
	const warning = "registered the API key in $UPSTASH_API_KEY for good"
	data := filepath.Join(t.TempDir(), "data")
	fingerprint := "key_fingerprint=" + keyFingerprint(e2eKey)

	p := serveArgs(t, []string{"--data", data})
	p.stop()
	log := p.log.String()
	if n := strings.Count(log, warning); n != 1 || !strings.Contains(log, "level=WARN msg=\""+warning) {
		t.Errorf("first start: %d warnings %q at WARN, want 1\n%s", n, warning, log)
	}
	if !strings.Contains(log, fingerprint) {
		t.Errorf("first start: no %s in the log\n%s", fingerprint, log)
	}
	if strings.Contains(log, e2eKey) {
		t.Errorf("the log holds the API key itself\n%s", log)
	}

	p = serveArgs(t, []string{"--data", data})
	p.stop()
	if log := p.log.String(); strings.Contains(log, warning) || strings.Contains(log, e2eKey) {
		t.Errorf("restart with the key already stored warned again, or logged the key\n%s", log)
	}

	fresh := filepath.Join(t.TempDir(), "data")
	p = serveArgs(t, []string{"--data", fresh, "--no-env-account"})
	status, _, err := p.call("GET", "/redis/databases", "")
	p.stop()
	if err != nil || status != 401 {
		t.Errorf("--no-env-account: the environment's key answered %d (%v), want 401", status, err)
	}
	if log := p.log.String(); strings.Contains(log, warning) {
		t.Errorf("--no-env-account still registered the environment's key\n%s", log)
	}
	if _, err := os.Stat(filepath.Join(fresh, "credentials")); err != nil {
		t.Errorf("--no-env-account on a new store wrote no credentials file: %v", err)
	}
}
