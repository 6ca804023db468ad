package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"github.com/devapi-dev/devapi/internal/keycache"
)

// Authenticate runs on every request, so its answers are cached
// (keycache), and the cache must never serve a key that another connection,
// or another process, has revoked.
//
// Every change that can revoke a key (DeleteAPIKey, DeleteTeam) moves a
// version of the keys forward in its own transaction: the settings row
// keysVersionName. Reading that row on every request would cost a query
// again. Instead, a dedicated read connection asks SQLite for
// PRAGMA data_version, which reads a counter from the WAL index in shared
// memory (no disk access) and changes whenever any other connection, in
// this process or another, has committed since the connection last asked.
// Only when it has changed is the version row read, on the same connection.
// The group committer writes through another connection, so its commits move
// data_version too: the version row is read about once per committed batch,
// not once per request.
//
// The pragma starts a read transaction, so it sees every commit that
// finished before it ran: a key deleted by `devapi accounts` is refused by
// the next request. Concurrent requests share one look
// (keycache.Reader): each is answered by a look that started after it
// arrived.

// keysVersionName is the settings row that every revocation of a key moves
// forward.
const keysVersionName = "api_keys_version"

// bumpKeysVersion moves the version of the keys forward; call it in the
// transaction of every change that can revoke a key.
func bumpKeysVersion(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx,
		`INSERT INTO settings (name, value) VALUES (?, '1')
		 ON CONFLICT (name) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)`, keysVersionName)
	return err
}

// keysVersionQuery reads the version of the keys, empty while no key was ever
// revoked.
const keysVersionQuery = `SELECT coalesce((SELECT value FROM settings WHERE name = '` + keysVersionName + `'), '')`

// keyWatch tells whether the store's keys may have changed since it last
// looked, and keeps the cache of Authenticate.
type keyWatch struct {
	db      *sql.DB // one query_only connection
	cache   keycache.Cache
	version keycache.Reader // concurrent requests share one look (read)

	mu          sync.Mutex // serializes the connection's use and guards the fields below
	conn        *sql.Conn
	dataVersion *sql.Stmt // PRAGMA data_version on conn
	keysVersion *sql.Stmt // keysVersionQuery on conn
	seen        int64     // data_version at the last look
	last        string    // the keys' version at the last look
	looked      bool      // seen and last were read at least once
}

// newKeyWatch opens the watch's connection to the file abs.
func newKeyWatch(ctx context.Context, abs string) (*keyWatch, error) {
	db, err := sql.Open("sqlite", dsn(abs, readerParams))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	w := &keyWatch{db: db}
	w.version.Read = w.read
	if err := w.open(ctx); err != nil {
		_ = w.close()
		return nil, err
	}
	return w, nil
}

func (w *keyWatch) open(ctx context.Context) error {
	var err error
	if w.conn, err = w.db.Conn(ctx); err != nil {
		return err
	}
	if w.dataVersion, err = w.conn.PrepareContext(ctx, "PRAGMA data_version"); err != nil {
		return err
	}
	w.keysVersion, err = w.conn.PrepareContext(ctx, keysVersionQuery)
	return err
}

// close releases the watch's connection.
func (w *keyWatch) close() error {
	for _, st := range []*sql.Stmt{w.dataVersion, w.keysVersion} {
		if st != nil {
			_ = st.Close()
		}
	}
	if w.conn != nil {
		_ = w.conn.Close()
	}
	return w.db.Close()
}

// read returns the version of the keys as committed now.
//
// Its queries run without ctx's deadline (keycache.Reader's readTimeout):
// a query with a deadline costs two goroutines, database/sql's and the
// driver's, that watch it, which was a third of a look. The connection's
// busy_timeout bounds a wait for a lock the same (five seconds), and an
// interrupt would not end a stalled disk read anyway.
func (w *keyWatch) read(ctx context.Context) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	ctx = context.WithoutCancel(ctx)
	var dv int64
	if err := w.dataVersion.QueryRowContext(ctx).Scan(&dv); err != nil {
		return "", fmt.Errorf("sqlitestore: data version: %w", err)
	}
	if w.looked && dv == w.seen {
		return w.last, nil
	}
	var v string
	if err := w.keysVersion.QueryRowContext(ctx).Scan(&v); err != nil {
		return "", fmt.Errorf("sqlitestore: keys version: %w", err)
	}
	w.seen, w.last, w.looked = dv, v, true
	return v, nil
}
