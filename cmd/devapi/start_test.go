package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFailedStartLeavesNoState starts the real devapi serve in ways that
// must fail, and checks each failure says what it checked and leaves no
// data folder behind: no store, no account, no credentials file.
func TestFailedStartLeavesNoState(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = taken.Close() }()
	busy := taken.Addr().String()
	cert := filepath.Join(t.TempDir(), "missing.pem")
	notProgram := filepath.Join(t.TempDir(), "redis-server")
	if err := os.WriteFile(notProgram, []byte("not a program"), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name string
		args []string
		want string // the whole message, or its start when it ends in "..."
	}{
		{"addr in use", []string{"--addr", busy},
			"--addr " + busy + ": address already in use; is devapi already running? choose another with --addr"},
		{"rest-addr in use", []string{"--rest-addr", busy},
			"--rest-addr " + busy + ": address already in use; is devapi already running? choose another with --rest-addr"},
		{"proxy-addr in use", []string{"--proxy-addr", busy},
			"--proxy-addr " + busy + ": address already in use; is devapi already running? choose another with --proxy-addr"},
		{"addr nonsense", []string{"--addr", "nonsense"},
			"--addr nonsense: address nonsense: missing port in address; choose another with --addr"},
		{"redis-server path missing", []string{"--plane", "redis-server", "--redis-server", "/nonexistent/redis-server"},
			"--redis-server /nonexistent/redis-server: not found; install redis-server (Debian: apt-get install redis-server), pass its path, or choose --plane embedded"},
		{"redis-server not on PATH", []string{"--plane", "redis-server", "--redis-server", "devapi-no-such-redis-server"},
			"--redis-server devapi-no-such-redis-server: not found on PATH; install redis-server (Debian: apt-get install redis-server), pass its path, or choose --plane embedded"},
		{"redis-server not executable", []string{"--plane", "redis-server", "--redis-server", notProgram},
			"--redis-server " + notProgram + ": permission denied; pass the path of an executable redis-server, or choose --plane embedded"},
		{"tls cert missing", []string{"--tls-cert", cert, "--tls-key", cert}, "load --tls-cert/--tls-key: ..."},
	} {
		t.Run(c.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			args := append([]string{"serve", "--data", data, "--addr", "127.0.0.1:0", "--rest-addr", "127.0.0.1:0"}, c.args...)
			u := &cliUser{t: t}
			msg := u.fails(1, args...)
			if prefix, ok := strings.CutSuffix(c.want, "..."); ok && !strings.HasPrefix(msg, prefix) || !ok && msg != c.want {
				t.Errorf("devapi serve %s: %q, want %q", strings.Join(c.args, " "), msg, c.want)
			}
			if _, err := os.Stat(data); !os.IsNotExist(err) {
				entries, _ := os.ReadDir(data)
				t.Errorf("devapi serve %s left its data folder (%v): %v", strings.Join(c.args, " "), err, entries)
			}
		})
	}
}

// TestFailedPlaneWritesNoCredentials starts devapi serve with a
// --redis-server that is a program but not redis-server: the plane fails
// after the store opened, and devapi must not have written the default
// account's credentials file or ca.pem by then.
func TestFailedPlaneWritesNoCredentials(t *testing.T) {
	notRedis := filepath.Join(t.TempDir(), "redis-server")
	if err := os.WriteFile(notRedis, []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "data")
	msg := (&cliUser{t: t}).fails(1, "serve", "--data", data, "--addr", "127.0.0.1:0", "--rest-addr", "127.0.0.1:0",
		"--plane", "redis-server", "--redis-server", notRedis)
	if !strings.Contains(msg, notRedis+" --version") {
		t.Errorf("error %q does not say what was checked (%s --version)", msg, notRedis)
	}
	for _, name := range []string{"credentials", "ca.pem"} {
		if _, err := os.Stat(filepath.Join(data, name)); !os.IsNotExist(err) {
			t.Errorf("a failed plane left %s behind (%v)", name, err)
		}
	}
}
