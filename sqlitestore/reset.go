package sqlitestore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"slices"

	"modernc.org/sqlite"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/schema"
)

// The reset through the driver.
//
// SetCredentials is the store's hot write: reset-password runs it once per
// request. Through database/sql each run paid for a *sql.Stmt bound to the
// transaction (Tx.StmtContext), the conversion of every argument, a
// *sql.Rows, and the conversion of each of the 22 returned columns into its
// destination (convertAssign). The committer runs it instead on the writer's
// driver connection ((*sql.Conn).Raw): statements prepared once on that
// connection, arguments in a slice kept from run to run. Nothing else
// changes: the statements run inside the batch's transaction like any other
// write.
//
// Most of what remains is reading the row back: RETURNING makes SQLite
// collect the row in a temporary table, and the driver copies 22 column
// names, types and values out of C memory on every run. So the connection
// keeps the rows it has written (rowCache), and a reset of a database whose
// row it holds runs the UPDATE alone (setCredentialsUpdate) and answers with
// the kept row, the new credentials and the next generation: exactly the
// row the UPDATE leaves, because nothing else has changed it since. That
// "nothing else" is checked, not assumed: SQLite's data version of the file
// (SQLITE_FCNTL_DATA_VERSION) changes with every commit, the connection's
// own and any other connection's, in this process or another. The rows are
// kept only from one batch to the next when the version at the start of the
// next batch (which holds the write lock from BEGIN IMMEDIATE, so the
// version cannot move during it) is the one read just after the last
// batch's commit; any other write of the committer (UpdateDatabase, ...) or
// a failed batch drops them. A miss is the UPDATE ... RETURNING, whose row
// is kept.
//
// What the rows vouch for, the UPDATE need not check again: a kept row's
// owner is the stored one, so a reset of another owner's database is
// ENOTFOUND without a statement; and an API key that a reset of the owner
// proved (a statement holding its EXISTS changed the row) still exists
// while the rows are kept, since removing it is a write that drops them.
// So a reset of a kept row with no key, or with a proven one, runs
// setCredentialsByRowid: three text arguments and the row's rowid instead
// of six text arguments (modernc binds each through a C copy of it), no
// subquery, and no lookup of the id in its index. The proven keys are
// dropped with the rows. A row's rowid (the table has no INTEGER PRIMARY
// KEY) changes only with a write that drops the rows: VACUUM, or a DELETE
// and INSERT.
//
// The statements belong to the connection they were prepared on and must be
// finalized before that connection closes (SQLite would keep a closed
// connection with a live statement open, file handles and all). database/sql
// closes the writer's connection when it finds it unusable (after an
// interrupted statement, say) and opens another, without telling anyone. So
// the writer's connections are writerConn: the driver's connection, which
// holds the statements and the rows and finalizes the statements in its
// Close. A new connection starts with no rows.

// maxKeptRows bounds the rows a connection keeps: past it they are dropped
// and kept again as resets read them.
const maxKeptRows = 1 << 16

// driverConn is what a connection of modernc.org/sqlite implements and what
// database/sql looks for; writerConn forwards all of it (sqlite.NewConnector
// documents the list). FileControl gives the file's data version.
type driverConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
	sqlite.FileControl
}

// writerConn is a connection of the writer: the driver's, plus the reset's
// statements prepared on it and the rows it keeps. Only the committer's
// goroutine uses the fields, inside (*sql.Conn).Raw, and then Close.
type writerConn struct {
	driverConn
	returning driver.Stmt // setCredentialsQuery; nil until first used
	update    driver.Stmt // setCredentialsUpdate; nil until first used
	byRowid   driver.Stmt // setCredentialsByRowid; nil until first used
	// A reset batch's transaction statements (commit.go); nil until first
	// used.
	begin, commit, rollback driver.Stmt
	args                    [6]driver.NamedValue
	row                     [databaseColumnCount + 1]driver.Value // and the rowid
	rows                    rowCache
}

// rowCache is the rows of databases as the connection last wrote or read
// them, by id, the API keys its resets proved, and the data version of the
// file they match.
type rowCache struct {
	m       map[string]keptRow
	keys    map[string]string // the owner of each proven key, by key hash
	max     int               // rows, and keys, kept at most; past it, put (prove) starts again from none
	version uint32            // the data version after the last commit the rows were kept across
	valid   bool              // version is set
}

// keptRow is a kept row and its rowid.
type keptRow struct {
	d     *devapi.Database
	rowid int64
}

// put keeps d, of the given rowid, as the row of id.
func (r *rowCache) put(id string, d *devapi.Database, rowid int64) {
	if r.m == nil || len(r.m) >= r.max {
		r.m = make(map[string]keptRow)
	}
	r.m[id] = keptRow{d, rowid}
}

// prove keeps keyHash as a key of owner, which a reset's statement found.
func (r *rowCache) prove(owner, keyHash string) {
	if keyHash == "" {
		return
	}
	if r.keys == nil || len(r.keys) >= r.max {
		r.keys = make(map[string]string)
	}
	r.keys[keyHash] = owner
}

// proven reports whether a reset of owner's kept row with keyHash needs no
// key check: none was asked for, or a reset proved keyHash for owner.
func (r *rowCache) proven(owner, keyHash string) bool {
	if keyHash == "" {
		return true
	}
	o, ok := r.keys[keyHash]
	return ok && o == owner
}

// Unwrap returns the driver's connection (sqlite.Limit looks for it).
func (c *writerConn) Unwrap() driver.Conn { return c.driverConn }

// Close finalizes the reset's statements, then closes the connection.
func (c *writerConn) Close() error {
	var errs []error
	for _, st := range []driver.Stmt{c.returning, c.update, c.byRowid, c.begin, c.commit, c.rollback} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	c.returning, c.update, c.byRowid, c.begin, c.commit, c.rollback = nil, nil, nil, nil, nil, nil
	return errors.Join(append(errs, c.driverConn.Close())...)
}

// writerConnector opens writerConn connections.
type writerConnector struct {
	driver.Connector // sqlite.NewConnector's
}

// Connect implements driver.Connector.
func (wc writerConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := wc.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	dc, ok := conn.(driverConn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("sqlitestore: the driver's connection (%T) lacks an interface the store uses", conn)
	}
	return &writerConn{driverConn: dc, rows: rowCache{max: maxKeptRows}}, nil
}

// openWriter opens the writer's pool on dsn, of writerConn connections.
func openWriter(dsn string) (*sql.DB, error) {
	c, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(writerConnector{c}), nil
}

// startRows is called in each batch, inside its transaction, before its
// first reset: it drops the kept rows unless the file is as the last
// committed batch left it.
func (c *writerConn) startRows() {
	v, err := c.FileControlDataVersion("main")
	if err != nil || !c.rows.valid || v != c.rows.version {
		c.dropRows()
	}
}

// commitRows is called after a batch with resets has committed: the rows
// kept so far are the file as it is now.
func (c *writerConn) commitRows() {
	v, err := c.FileControlDataVersion("main")
	if err != nil {
		c.dropRows()
		return
	}
	c.rows.version, c.rows.valid = v, true
}

// dropRows forgets the kept rows: another write may have changed them, or
// the batch that changed them did not commit.
func (c *writerConn) dropRows() {
	clear(c.rows.m)
	clear(c.rows.keys)
	c.rows.valid = false
}

// The transaction of a batch of resets (commit.go) runs on the connection
// too, with BEGIN IMMEDIATE, COMMIT and ROLLBACK prepared once: through
// database/sql each batch paid for a *sql.Tx, and the driver compiled its
// BEGIN and COMMIT anew each time. IMMEDIATE, as the writer's _txlock
// asks of database/sql's transactions: the write lock is taken up front.

// beginBatch starts a transaction of a batch of resets.
func (c *writerConn) beginBatch() error {
	return c.execTx(&c.begin, "BEGIN IMMEDIATE")
}

// commitBatch commits the transaction beginBatch started. If the COMMIT
// fails, it rolls the transaction back, as the driver's own Commit does: a
// COMMIT that fails may leave the transaction open.
func (c *writerConn) commitBatch() error {
	if err := c.execTx(&c.commit, "COMMIT"); err != nil {
		c.rollbackBatch()
		return err
	}
	return nil
}

// rollbackBatch rolls back the transaction beginBatch started. Its error
// is dropped: SQLite may have rolled the transaction back already (it does
// on SQLITE_FULL, SQLITE_IOERR, ...), and ROLLBACK then fails with nothing
// to undo; a connection still in a transaction fails its next beginBatch,
// and the committer gives it up then.
func (c *writerConn) rollbackBatch() {
	_ = c.execTx(&c.rollback, "ROLLBACK")
}

// execTx runs the statement *st, preparing it from query on first use.
func (c *writerConn) execTx(st *driver.Stmt, query string) error {
	if *st == nil {
		p, err := c.PrepareContext(context.Background(), query)
		if err != nil {
			return err
		}
		*st = p
	}
	_, err := (*st).(driver.StmtExecContext).ExecContext(context.Background(), nil)
	return err
}

// runReset runs op's reset on c, inside the batch's transaction, and leaves
// the database it stored in op.reset.d. Its error is ENOTFOUND if no row
// matched, or a statement's error.
func (c *writerConn) runReset(op *writeOp) error {
	a := &op.reset
	for i, v := range [...]string{a.c.Password, a.c.RestToken, a.c.ReadOnlyRestToken, a.id, a.owner, a.keyHash} {
		c.args[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	defer clear(c.args[:]) // let the strings go
	k, ok := c.rows.m[a.id]
	kept := k.d
	switch {
	case !ok:
		d, rowid, err := c.resetReturning(a.id)
		if err != nil {
			return err
		}
		c.rows.put(a.id, d, rowid)
		c.rows.prove(a.owner, a.keyHash)
		a.d = detach(d)
		return nil
	case kept.Owner != a.owner:
		return devapi.Errorf(devapi.ENOTFOUND, "database %s not found", a.id)
	case c.rows.proven(a.owner, a.keyHash):
		c.args[3].Value = k.rowid
		if err := c.resetKept(&c.byRowid, setCredentialsByRowid, c.args[:4], a.id); err != nil {
			return err
		}
	default:
		if err := c.resetKept(&c.update, setCredentialsUpdate, c.args[:], a.id); err != nil {
			return err
		}
		c.rows.prove(a.owner, a.keyHash)
	}
	kept.Password, kept.RestToken, kept.ReadOnlyRestToken = a.c.Password, a.c.RestToken, a.c.ReadOnlyRestToken
	kept.Generation++
	a.d = detach(kept)
	return nil
}

// detach returns a copy of a kept row for a caller, who may change it.
func detach(kept *devapi.Database) *devapi.Database {
	d := *kept
	d.ReadRegions, d.AllowedIPs = slices.Clone(kept.ReadRegions), slices.Clone(kept.AllowedIPs)
	return &d
}

// resetKept runs the statement *st (query, prepared on first use) with
// args, the first of c.args: ENOTFOUND if it changed no row.
func (c *writerConn) resetKept(st *driver.Stmt, query string, args []driver.NamedValue, id string) error {
	if *st == nil {
		p, err := c.PrepareContext(context.Background(), query)
		if err != nil {
			return fmt.Errorf("sqlitestore: prepare set credentials: %w", err)
		}
		*st = p
	}
	res, err := (*st).(driver.StmtExecContext).ExecContext(context.Background(), args)
	if err != nil {
		return fmt.Errorf("sqlitestore: set credentials: %w", err)
	}
	n, err := res.RowsAffected()
	switch {
	case err != nil:
		return fmt.Errorf("sqlitestore: set credentials: %w", err)
	case n == 0:
		return devapi.Errorf(devapi.ENOTFOUND, "database %s not found", id)
	}
	return nil
}

// resetReturning runs setCredentialsQuery with c.args and returns the row
// it stored and its rowid: ENOTFOUND if it changed none.
func (c *writerConn) resetReturning(id string) (*devapi.Database, int64, error) {
	if c.returning == nil {
		st, err := c.PrepareContext(context.Background(), setCredentialsQuery)
		if err != nil {
			return nil, 0, fmt.Errorf("sqlitestore: prepare set credentials: %w", err)
		}
		c.returning = st
	}
	rows, err := c.returning.(driver.StmtQueryContext).QueryContext(context.Background(), c.args[:])
	if err != nil {
		return nil, 0, fmt.Errorf("sqlitestore: set credentials: %w", err)
	}
	var d *devapi.Database
	err = rows.Next(c.row[:])
	rowid, isInt := c.row[databaseColumnCount].(int64)
	switch {
	case errors.Is(err, io.EOF):
		err = devapi.Errorf(devapi.ENOTFOUND, "database %s not found", id)
	case err != nil:
		err = fmt.Errorf("sqlitestore: set credentials: %w", err)
	case !isInt:
		err = fmt.Errorf("sqlitestore: database %s: rowid is %T", id, c.row[databaseColumnCount])
	default:
		d, err = databaseFromValues(c.row[:databaseColumnCount])
	}
	clear(c.row[:])
	// Close resets the statement, which ends the UPDATE; its error is the
	// statement's.
	if cerr := rows.Close(); cerr != nil && (err == nil || isDomain(err)) {
		err = fmt.Errorf("sqlitestore: set credentials: %w", cerr)
	}
	if err != nil {
		return nil, 0, err
	}
	return d, rowid, nil
}

// isDomain reports whether err is a domain error (devapi.Errorf).
func isDomain(err error) bool {
	var e *devapi.Error
	return errors.As(err, &e)
}

// databaseColumnCount is the number of schema.DatabaseColumns.
const databaseColumnCount = 22

// databaseFromValues reads a row of schema.DatabaseColumns as the driver
// gives it: TEXT columns as string, INTEGER and BIGINT ones as int64. It
// reads what schema.ScanDatabase reads, without database/sql's conversions.
func databaseFromValues(v []driver.Value) (*devapi.Database, error) {
	if len(v) != databaseColumnCount {
		return nil, fmt.Errorf("sqlitestore: a database row of %d columns, want %d", len(v), databaseColumnCount)
	}
	var (
		d   devapi.Database
		bad = -1 // the first column of an unexpected type
	)
	str := func(i int) string {
		s, ok := v[i].(string)
		if !ok && bad < 0 {
			bad = i
		}
		return s
	}
	num := func(i int) int64 {
		n, ok := v[i].(int64)
		if !ok && bad < 0 {
			bad = i
		}
		return n
	}
	d.ID, d.Owner, d.Name, d.Platform, d.PrimaryRegion = str(0), str(1), str(2), str(3), str(4)
	readRegions := str(5)
	d.Plan, d.Budget = str(6), num(7)
	d.TLS, d.Eviction, d.AutoUpgrade, d.ProdPack = num(8) != 0, num(9) != 0, num(10) != 0, num(11) != 0
	d.State, d.Endpoint, d.Port, d.CreatedAt = str(12), str(13), int(num(14)), schema.FromMicros(num(15))
	d.Password, d.RestToken, d.ReadOnlyRestToken, d.Generation = str(16), str(17), str(18), num(19)
	d.DailyBackup = num(20) != 0
	allowedIPs := str(21)
	if bad >= 0 {
		return nil, fmt.Errorf("sqlitestore: database %s: column %d is %T", d.ID, bad, v[bad])
	}
	var err error
	if d.ReadRegions, err = schema.ParseList(readRegions); err != nil {
		return nil, fmt.Errorf("sqlitestore: database %s: read_regions: %w", d.ID, err)
	}
	if d.AllowedIPs, err = schema.ParseList(allowedIPs); err != nil {
		return nil, fmt.Errorf("sqlitestore: database %s: allowed_ips: %w", d.ID, err)
	}
	return &d, nil
}
