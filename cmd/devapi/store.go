package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/sqlitestore"
)

// defaultDataDir is where devapi keeps its files unless --data says
// otherwise: $XDG_DATA_HOME/devapi, or ~/.local/share/devapi.
func defaultDataDir(getenv func(string) string) string {
	if d := getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "devapi")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "devapi")
	}
	return ".devapi"
}

// makeDataDir creates the data folder, readable by its owner only.
func makeDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data folder: %w", err)
	}
	return nil
}

// openStore opens the store named by rawURL; an empty URL means the embedded
// SQLite file devapi.db in the data folder. Accepted forms: sqlite:PATH,
// sqlite:///ABS/PATH, file:PATH, or a plain file path.
func openStore(ctx context.Context, rawURL, dataDir string) (devapi.Store, string, error) {
	if rawURL == "" {
		path := filepath.Join(dataDir, "devapi.db")
		s, err := sqlitestore.Open(ctx, path)
		return s, "sqlite:" + path, err
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" || len(u.Scheme) == 1 { // "C:" is a path
		s, err := sqlitestore.Open(ctx, rawURL)
		return s, "sqlite:" + rawURL, err
	}
	switch u.Scheme {
	case "sqlite", "sqlite3", "file":
		path := u.Opaque
		if path == "" {
			path = u.Path
		}
		if path == "" {
			return nil, "", usageError{fmt.Errorf("--store %s names no file", redactURL(u))}
		}
		s, err := sqlitestore.Open(ctx, path)
		return s, "sqlite:" + path, err
	default:
		return nil, "", usageError{fmt.Errorf("--store: unsupported store %q (supported: sqlite:PATH)", u.Scheme+":")}
	}
}

// redactURL shows a store URL without its password.
func redactURL(u *url.URL) string {
	return strings.TrimSpace(u.Redacted())
}
