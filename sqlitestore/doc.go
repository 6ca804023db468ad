// Package sqlitestore implements devapi.Store in a single SQLite file, through
// modernc.org/sqlite: SQLite translated to pure Go, so there is no cgo and
// `go run` works on a machine with no C toolchain.
//
// # Durability
//
// When a method that changes something returns without error, the change is
// on disk: it survives the process being killed and the operating system
// crashing or losing power. The file is in WAL mode with synchronous=FULL, so
// every commit waits for the write-ahead log to be fsynced (on macOS with
// F_FULLFSYNC, which also flushes the drive's cache). Open checks that these
// settings took effect and fails if they did not, as on a file system without
// WAL support. A brand-new file is created with mode 0600, since it holds
// database passwords, and its directory is synced; SQLite gives the WAL and
// shared-memory files the same mode as the database file.
//
// # Concurrency
//
// Writes go through one connection whose transactions begin with BEGIN
// IMMEDIATE, taking the write lock before they read anything; reads go
// through a separate pool of query_only connections and, in WAL mode, never
// wait for writers.
//
// Writes are group-committed: one goroutine runs every write that is waiting
// in a single transaction, each of several statements inside a SAVEPOINT of
// its own so that a write that fails undoes only itself (a one-statement
// write is atomic by itself and needs none), commits once (one fsync for all
// of them), and only then answers each caller. A batch smaller than the one
// before it waits, at most 200 µs and once, inside its transaction, for the
// writers on their way back; a lone writer never waits (commit.go). Under concurrent writes this turns many
// fsyncs into one without weakening the promise above. A caller whose context
// ends before its write has started gets the context's error and its write
// never runs; once started, a write is waited for. Other processes may use the same file at the same time
// (the devapi accounts command does, while the server runs): every
// connection waits up to five seconds (busy_timeout) for another's lock
// before it gives up with an error.
//
// SetCredentials, the write of every reset-password, runs through the
// driver on the writer's connection; a batch of resets alone runs there end
// to end (BEGIN IMMEDIATE and COMMIT prepared once, no database/sql
// transaction). The connection keeps the rows it has written:
// while SQLite's data version of the file shows that nothing else has
// written since, a reset runs its UPDATE alone, by rowid (the kept row vouches
// for the owner, and for an API key a reset of the owner proved), and
// answers with the kept row (reset.go explains the checks).
//
// # Schema
//
// The schema lives in numbered files in package schema (schema/migrations),
// embedded in the binary and applied in order by Open, each in its own transaction, and
// recorded in the schema_migrations table. Reopening applies only the files
// that are new. Open refuses a database whose recorded version is newer than
// the binary knows, with an error that wraps ErrSchemaTooNew. The SQL sticks
// to what SQLite and PostgreSQL share: pgstore applies the same files.
//
// Times are kept to the microsecond, stored as integers since the Unix epoch,
// and come back in UTC. Booleans are stored as 0 or 1, a database's read
// regions as a JSON array.
package sqlitestore
