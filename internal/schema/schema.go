// Package schema holds the versioned SQL migrations every store runs, one
// set for SQLite and PostgreSQL alike, and reads them.
//
// A migration is a file migrations/NNNN_description.sql, applied once, in
// version order, inside its own transaction together with the row of
// schema_migrations that records it. The SQL is written to run unchanged on
// both engines: TEXT, INTEGER and BIGINT columns, standard constraints, no
// engine-specific clauses (see 0001_init.sql).
package schema

import (
	"cmp"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Files are the migrations, embedded: migrations/*.sql.
//
//go:embed migrations/*.sql
var Files embed.FS

// ErrTooNew is what a store's Open returns when the database was migrated by
// a newer devapi than this one: its schema has versions this binary does not
// know, so it refuses to touch it.
var ErrTooNew = errors.New("database schema is newer than this binary")

// CreateTable creates the table that records which migrations ran. It lives
// outside the numbered files because a runner needs it before it can read
// any version.
const CreateTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    applied_at BIGINT NOT NULL
)`

// Migration is one file of migrations/.
type Migration struct {
	Version int
	Name    string // file name, for error messages
	SQL     string
}

// Migrations returns the embedded migrations, sorted by version.
func Migrations() ([]Migration, error) { return Load(Files) }

// Load reads migrations/*.sql from fsys, sorted by version. The versions
// must run 1, 2, 3, ... without gaps or duplicates, so that a recorded
// version says exactly which files have been applied.
func Load(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	ms := make([]Migration, 0, len(names))
	for _, name := range names {
		base := path.Base(name)
		prefix, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(prefix)
		if !ok || err != nil || v <= 0 || len(prefix) != 4 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql with NNNN >= 0001", base)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: base, SQL: string(b)})
	}
	slices.SortFunc(ms, func(a, b Migration) int { return cmp.Compare(a.Version, b.Version) })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %s: version %d, want %d (versions must be 1, 2, 3, ... without gaps or duplicates)", m.Name, m.Version, i+1)
		}
	}
	return ms, nil
}

// CheckVersion refuses, with ErrTooNew, a database at a schema version
// newer than latest, the last version this binary knows.
func CheckVersion(current, latest int) error {
	if current > latest {
		return fmt.Errorf("%w: the database is at schema version %d, this devapi knows versions up to %d; use a newer devapi",
			ErrTooNew, current, latest)
	}
	return nil
}
