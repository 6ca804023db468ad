package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// setCredentialsAPIURL makes the credentials file at path set envAPIURL to
// apiURL, the API of the serve that just started, so that a shell that
// sources the file (set -a; . FILE) sends the file's key to this devapi and
// nowhere else, whatever it held before. serve calls it on every start, as
// the address may differ from the last one. The other lines are kept; a
// missing file (the account came from the environment) is left missing.
func setCredentialsAPIURL(path, apiURL string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read credentials file: %w", err)
	}
	want := envAPIURL + "=" + apiURL
	var lines []string
	found := false
	for line := range strings.Lines(string(b)) {
		line = strings.TrimRight(line, "\n")
		if name, _, ok := strings.Cut(strings.TrimSpace(line), "="); ok && name == envAPIURL {
			if found {
				continue
			}
			line, found = want, true
		}
		lines = append(lines, line)
	}
	if !found {
		lines = append(lines, want)
	}
	updated := strings.Join(lines, "\n") + "\n"
	if updated == string(b) {
		return nil
	}
	if err := writeFileAtomic(path, []byte(updated), 0o600); err != nil {
		return fmt.Errorf("write credentials file: %w", err)
	}
	return nil
}
