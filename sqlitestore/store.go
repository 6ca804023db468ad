package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/schema"
)

var _ devapi.Store = (*Store)(nil)

// Store is a devapi.Store kept in one SQLite file. It is safe for concurrent
// use, and for use alongside other processes that open the same file.
type Store struct {
	writer    *sql.DB // one connection; every transaction is BEGIN IMMEDIATE
	reader    *sql.DB // a pool of query_only connections
	committer *committer
	stmts     stmts
	keys      *keyWatch // Authenticate's cache, and what tells it a key was revoked
}

// stmts are the statements every request runs, prepared once (the reset's
// own statement is the committer's: reset.go). modernc.org/sqlite compiles a statement each time it is
// run otherwise, and compiling these costs more than running them.
// database/sql prepares a *sql.Stmt on each connection of its pool the first
// time it is used there, and keeps it.
type stmts struct {
	authenticate *sql.Stmt // reader
	database     *sql.Stmt // reader
}

// prepare prepares the statements of stmts.
func (s *Store) prepare(ctx context.Context) error {
	for _, p := range []struct {
		db    *sql.DB
		dst   **sql.Stmt
		query string
	}{
		{s.reader, &s.stmts.authenticate, authenticateQuery},
		{s.reader, &s.stmts.database, databaseQuery},
	} {
		st, err := p.db.PrepareContext(ctx, p.query)
		if err != nil {
			return err
		}
		*p.dst = st
	}
	return nil
}

func (st stmts) close() error {
	var errs []error
	for _, s := range []*sql.Stmt{st.authenticate, st.database} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	return errors.Join(errs...)
}

// Connection settings shared by the writer and the readers. busy_timeout is
// applied first by the driver, so the others wait for locks too.
const commonPragmas = "_pragma=busy_timeout(5000)&_pragma=foreign_keys(ON)"

// writerParams make every commit durable before it returns: WAL with
// synchronous=FULL fsyncs the WAL on each commit; fullfsync adds F_FULLFSYNC
// where the OS has it (macOS) and is ignored elsewhere. _txlock=immediate makes
// BeginTx issue BEGIN IMMEDIATE, which takes the write lock up front, so a
// transaction never fails half-way because another writer got there first.
const writerParams = commonPragmas +
	"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=fullfsync(ON)&_txlock=immediate"

// readerParams: the journal mode is a property of the file, set by the writer.
const readerParams = commonPragmas + "&_pragma=query_only(ON)"

// Open opens the SQLite database at path, creating the file with mode 0600 if
// it does not exist (an existing file keeps its mode), brings its schema up to
// date and returns the store. A database whose schema is newer than this
// binary knows is refused with an error that wraps ErrSchemaTooNew.
func Open(ctx context.Context, path string) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	if err := createFile(abs); err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}

	writer, err := openWriter(dsn(abs, writerParams))
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	if err := setUp(ctx, writer); err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}

	reader, err := sql.Open("sqlite", dsn(abs, readerParams))
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	reader.SetMaxOpenConns(n)
	reader.SetMaxIdleConns(n)
	if err := reader.PingContext(ctx); err != nil {
		reader.Close()
		writer.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	c, err := newCommitter(ctx, writer)
	if err != nil {
		reader.Close()
		writer.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	s := &Store{writer: writer, reader: reader, committer: c}
	if s.keys, err = newKeyWatch(ctx, abs); err != nil {
		c.close()
		_ = c.closeStmts()
		reader.Close()
		writer.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	if err := s.prepare(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	return s, nil
}

// setUp checks that the writer got the durability it asked for, which SQLite
// would otherwise drop silently (a file system without WAL support keeps the
// old journal mode), and runs the migrations.
func setUp(ctx context.Context, writer *sql.DB) error {
	var mode string
	if err := writer.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal_mode is %q, want wal (does the file system support WAL?)", mode)
	}
	var sync int
	if err := writer.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		return err
	}
	if sync != 2 {
		return fmt.Errorf("synchronous is %d, want 2 (FULL)", sync)
	}
	ms, err := schema.Migrations()
	if err != nil {
		return err
	}
	return migrate(ctx, writer, ms)
}

// createFile creates the database file with mode 0600 unless it exists, and
// makes its directory entry durable. SQLite syncs the directory for the WAL
// it creates, but not for a main file that already exists when it opens it.
func createFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be opened for syncing there
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// dsn returns the driver's name for the file at the absolute path abs: a
// SQLite URI, with the characters a URI path cannot hold escaped, followed by
// the driver's parameters.
func dsn(abs, params string) string {
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // a Windows drive letter: file:/C:/...
	}
	p = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(p)
	return "file:" + p + "?" + params
}

// Close commits the writes already queued, refuses new ones, and closes the
// store's connections. The last connection to the file checkpoints the WAL
// into the main file.
func (s *Store) Close() error {
	s.committer.close()
	if err := errors.Join(s.stmts.close(), s.committer.closeStmts(), s.keys.close(), s.reader.Close(), s.writer.Close()); err != nil {
		return fmt.Errorf("sqlitestore: close: %w", err)
	}
	return nil
}

// sqliteCode returns the extended SQLite result code of err, or 0.
func sqliteCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

// GroupCommitStats reports how many transactions the group committer has
// committed since Open, and how many successful writes they held:
// writes/commits is the mean batch size.
func (s *Store) GroupCommitStats() (commits, writes int64) {
	return s.committer.commits.Load(), s.committer.writes.Load()
}

// write runs fn in the group committer's next transaction, inside a
// savepoint of its own, and returns when that transaction has committed:
// fn's error as it is, or an error of the whole transaction. See commit.go.
// A full disk is ENOSPACE (noSpace).
func (s *Store) write(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	return noSpace(s.committer.write(ctx, fn))
}

// writeOne is write for an fn of one statement, run without a savepoint
// (see commit.go).
func (s *Store) writeOne(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	return noSpace(s.committer.writeOne(ctx, fn))
}

// noSpace returns err as ENOSPACE, wrapping it, when SQLite found the disk
// full (SQLITE_FULL: the file system has no room, or the database reached
// its max_page_count); any other err as it is.
func noSpace(err error) error {
	if sqliteCode(err)&0xff == sqlite3.SQLITE_FULL {
		return fmt.Errorf("%w: %w", devapi.Errorf(devapi.ENOSPACE, "the disk of devapi's store is full: nothing was changed; free disk space and try again"), err)
	}
	return err
}

// execCount runs a statement in tx and returns how many rows it changed.
func execCount(ctx context.Context, tx *sql.Tx, query string, args ...any) (int64, error) {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func isUniqueViolation(err error) bool {
	switch sqliteCode(err) {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return true
	}
	return false
}

func isForeignKeyViolation(err error) bool {
	return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}
