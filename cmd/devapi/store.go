package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/gofrs/flock"
	"github.com/spf13/pflag"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/pgstore"
	"github.com/devapi-dev/devapi/sqlitestore"
)

// envStore holds the store URL when neither --store nor --store-file is
// given. A PostgreSQL URL with a password belongs here or in a file, never on
// the command line, which ps shows to every user of the machine.
const envStore = "DEVAPI_STORE"

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

// makeDataDir creates the data folder, for its owner only (0700). A folder
// that exists is made 0700 too; one that other users may write to is
// refused instead: any of them could have replaced what devapi trusts in it
// (ca.pem, which clients trust, the credentials file, a database's
// redis.conf), so its owner must check it first.
func makeDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data folder: %w", err)
	}
	info, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	perm := info.Mode().Perm()
	if perm&0o022 != 0 {
		return fmt.Errorf("data folder %s is writable by other users (mode %04o): one of them could have replaced the files devapi trusts there (ca.pem, credentials); check them, then chmod 700 %s", dir, perm, dir)
	}
	if perm != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("data folder: %w", err)
		}
	}
	return nil
}

// storeFlags say where the store is: --store, --store-file or DEVAPI_STORE.
type storeFlags struct {
	url  string
	file string
}

func (f *storeFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.url, "store", "", "store URL: sqlite:PATH or postgres://USER@HOST/DB (default: $"+envStore+", else the SQLite file devapi.db in --data); a password never goes here: use $"+envStore+", --store-file, PGPASSWORD or ~/.pgpass")
	fs.StringVar(&f.file, "store-file", "", "file holding the store URL (first line that is not blank or a # comment); keep it mode 0600")
}

// resolve returns the store URL the flags and environment name: "" for the
// default SQLite file.
func (f *storeFlags) resolve(getenv func(string) string) (string, error) {
	switch {
	case f.url != "" && f.file != "":
		return "", usageError{errors.New("--store and --store-file go one at a time")}
	case f.file != "":
		return readURLFile(f.file)
	case f.url != "":
		if u, err := url.Parse(f.url); err == nil && u.User != nil {
			if _, set := u.User.Password(); set {
				return "", usageError{fmt.Errorf("--store %s carries a password, which ps shows to anyone on this machine: put the URL in $%s or in a file named by --store-file", redactURL(u), envStore)}
			}
		}
		return f.url, nil
	}
	return getenv(envStore), nil
}

// readURLFile reads the first line of path that is not blank or a comment.
func readURLFile(path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("--store-file: %w", err)
	}
	defer func() { _ = fh.Close() }()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			return line, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("--store-file %s: %w", path, err)
	}
	return "", usageError{fmt.Errorf("--store-file %s holds no URL", path)}
}

// openStore opens the store named by rawURL; an empty URL means the embedded
// SQLite file devapi.db in the data folder. Accepted forms: sqlite:PATH,
// sqlite:///ABS/PATH, file:PATH, a plain file path, or postgres://... (also
// postgresql://). The name it returns is safe to log: it holds no password.
func openStore(ctx context.Context, rawURL, dataDir string) (devapi.Store, string, error) {
	path, isSQLite, err := sqlitePath(rawURL, dataDir)
	if err != nil {
		return nil, "", err
	}
	if isSQLite {
		s, err := sqlitestore.Open(ctx, path)
		return s, "sqlite:" + path, err
	}
	u, _ := url.Parse(rawURL) // sqlitePath parsed it
	s, err := pgstore.Open(ctx, rawURL)
	if err != nil {
		return nil, "", err
	}
	return s, redactURL(u), nil
}

// sqlitePath returns the file of the SQLite store rawURL names (see
// openStore), or false for a PostgreSQL URL.
func sqlitePath(rawURL, dataDir string) (string, bool, error) {
	if rawURL == "" {
		return filepath.Join(dataDir, "devapi.db"), true, nil
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" || len(u.Scheme) == 1 { // "C:" is a path
		if strings.Contains(rawURL, "://") {
			// Not a path but a URL that does not parse; url's error would
			// quote it, password and all.
			return "", false, usageError{errors.New("the store URL does not parse as a URL")}
		}
		return rawURL, true, nil
	}
	switch u.Scheme {
	case "sqlite", "sqlite3", "file":
		path := u.Opaque
		if path == "" {
			path = u.Path
		}
		if path == "" {
			return "", false, usageError{fmt.Errorf("store %s names no file", redactURL(u))}
		}
		return path, true, nil
	case "postgres", "postgresql":
		return "", false, nil
	default:
		return "", false, usageError{fmt.Errorf("unsupported store %q (supported: sqlite:PATH, postgres://...)", u.Scheme+":")}
	}
}

// lockSQLiteStore takes the lock file next to the SQLite store rawURL names
// (<file>.lock), so that one devapi serve at a time runs on a store file,
// whatever --data each was given: a second one would answer from the same
// store with planes of its own. It returns the unlock, a no-op for a
// PostgreSQL store, which replicas share by design.
func lockSQLiteStore(rawURL, dataDir string) (func(), error) {
	path, isSQLite, err := sqlitePath(rawURL, dataDir)
	if err != nil || !isSQLite {
		return func() {}, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("lock the store: %w", err)
	}
	lock := flock.New(abs + ".lock")
	locked, err := lock.TryLock()
	if err != nil {
		return nil, fmt.Errorf("lock the store: %w", err)
	}
	if !locked {
		return nil, fmt.Errorf("store %s is in use by another devapi serve (it holds %s.lock); stop it, or give this one a store of its own (--store)", abs, abs)
	}
	return func() { _ = lock.Unlock() }, nil
}

// isShared reports whether a store URL names a store that several devapi
// processes can share: a PostgreSQL server.
func isShared(rawURL string) bool {
	u, err := url.Parse(rawURL)
	return err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql")
}

// redactURL shows a store URL without its password.
func redactURL(u *url.URL) string {
	return strings.TrimSpace(u.Redacted())
}
