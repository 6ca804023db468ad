package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestFailedStartRemovesItsDataFolder: a first start whose plane cannot
// start (a --redis-server that is a program but not redis-server) fails
// after the data folder and the store were made, and removes them again;
// a data folder that was there before is kept.
func TestFailedStartRemovesItsDataFolder(t *testing.T) {
	notRedis := filepath.Join(t.TempDir(), "redis-server")
	if err := os.WriteFile(notRedis, []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	args := func(data string) []string {
		return []string{"serve", "--data", data, "--addr", "127.0.0.1:0", "--rest-addr", "127.0.0.1:0",
			"--plane", "redis-server", "--redis-server", notRedis}
	}
	data := filepath.Join(t.TempDir(), "data")
	(&cliUser{t: t}).fails(1, args(data)...)
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		entries, _ := os.ReadDir(data)
		t.Errorf("a failed first start left its data folder (%v): %v", err, entries)
	}

	kept := t.TempDir()
	mine := filepath.Join(kept, "mine")
	if err := os.WriteFile(mine, []byte("the user's"), 0o600); err != nil {
		t.Fatal(err)
	}
	(&cliUser{t: t}).fails(1, args(kept)...)
	if _, err := os.Stat(mine); err != nil {
		t.Errorf("a failed start on a data folder that was there removed what it held: %v", err)
	}
}
