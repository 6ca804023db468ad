package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

// TestVersion builds devapi in this git checkout with -buildvcs=true (the
// module's GOFLAGS turn it off) and checks devapi version and devapi
// --version both print the checkout's revision.
func TestVersion(t *testing.T) {
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("git rev-parse HEAD: %v (CI runs in a git checkout)", err)
		}
		t.Skipf("not a git checkout, or no git: %v", err)
	}
	revision := strings.TrimSpace(string(head))
	bin := filepath.Join(t.TempDir(), "devapi")
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -buildvcs=true: %v\n%s", err, out)
	}
	var outs []string
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, err := exec.Command(bin, args...).Output()
		if err != nil {
			t.Fatalf("devapi %s: %v", args[0], err)
		}
		// Go 1.24 and later also stamp a pseudo-version from the revision.
		if !strings.HasPrefix(string(out), "devapi ") || !strings.Contains(string(out), ", revision "+revision) || strings.Count(string(out), "\n") != 1 {
			t.Errorf("devapi %s printed %q, want devapi VERSION, revision %s", args[0], out, revision)
		}
		outs = append(outs, string(out))
	}
	if outs[0] != outs[1] {
		t.Errorf("devapi version printed %q, devapi --version %q", outs[0], outs[1])
	}

	// The test binary: built without VCS stamps here, it says only (devel).
	if r := (&cliUser{t: t}).run("version"); r.code != 0 || r.stdout != "devapi (devel)\n" && !strings.HasPrefix(r.stdout, "devapi (devel), revision ") {
		t.Errorf("devapi version: exit %d, %q", r.code, r.stdout)
	}
}

// TestDescribeBuild covers what build information may hold.
func TestDescribeBuild(t *testing.T) {
	rev := []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "abc123"}}
	for _, c := range []struct {
		name string
		info *debug.BuildInfo
		want string
	}{
		{"no build information", nil, "(devel)"},
		{"no version, no revision", &debug.BuildInfo{}, "(devel)"},
		{"checkout without vcs stamps", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "(devel)"},
		{"go install module@version", &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, "v1.2.3"},
		{"clean checkout", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: rev}, "(devel), revision abc123"},
		{"changed checkout", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: append(rev, debug.BuildSetting{Key: "vcs.modified", Value: "true"})}, "(devel), revision abc123 (modified)"},
		{"unchanged checkout", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: append(rev, debug.BuildSetting{Key: "vcs.modified", Value: "false"})}, "(devel), revision abc123"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := describeBuild(c.info); got != c.want {
				t.Errorf("describeBuild = %q, want %q", got, c.want)
			}
		})
	}
}
