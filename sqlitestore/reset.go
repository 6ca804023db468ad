package sqlitestore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"

	"modernc.org/sqlite"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/schema"
)

// The reset's statement through the driver.
//
// SetCredentials is the store's hot write: reset-password runs it once per
// request. Through database/sql each run pays for a *sql.Stmt bound to the
// transaction (Tx.StmtContext), the conversion of every argument, a
// *sql.Rows, and the conversion of each of the 22 returned columns into its
// destination (convertAssign). The committer runs it instead on the writer's
// driver connection ((*sql.Conn).Raw): a statement prepared once on that
// connection, arguments in a slice kept from run to run, and the row's
// values read straight into a devapi.Database. Nothing else changes: the
// statement runs inside the batch's transaction like any other write.
//
// The statement belongs to the connection it was prepared on and must be
// finalized before that connection closes (SQLite would keep a closed
// connection with a live statement open, file handles and all). database/sql
// closes the writer's connection when it finds it unusable (after an
// interrupted statement, say) and opens another, without telling anyone. So
// the writer's connections are writerConn: the driver's connection, which
// holds the statement and finalizes it in its Close.

// driverConn is what a connection of modernc.org/sqlite implements and what
// database/sql looks for; writerConn forwards all of it (sqlite.NewConnector
// documents the list).
type driverConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// writerConn is a connection of the writer: the driver's, plus the reset's
// statement prepared on it.
type writerConn struct {
	driverConn
	reset resetStmt
}

// Unwrap returns the driver's connection (sqlite.Limit looks for it).
func (c *writerConn) Unwrap() driver.Conn { return c.driverConn }

// Close finalizes the reset's statement, then closes the connection.
func (c *writerConn) Close() error {
	return errors.Join(c.reset.close(), c.driverConn.Close())
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
		return nil, fmt.Errorf("sqlitestore: the driver's connection (%T) lacks an interface database/sql uses", conn)
	}
	return &writerConn{driverConn: dc}, nil
}

// openWriter opens the writer's pool on dsn, of writerConn connections.
func openWriter(dsn string) (*sql.DB, error) {
	c, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(writerConnector{c}), nil
}

// resetStmt is setCredentialsQuery prepared on a writer connection, with
// its arguments and its row kept from run to run. Only the committer's
// goroutine uses it, inside (*sql.Conn).Raw, and then the connection's
// Close.
type resetStmt struct {
	stmt driver.Stmt // nil until the first reset on the connection
	args [6]driver.NamedValue
	row  [databaseColumnCount]driver.Value
}

// databaseColumnCount is the number of schema.DatabaseColumns.
const databaseColumnCount = 22

// run runs op's reset on c, inside the batch's transaction, and leaves the
// database it returns in op.reset.d. Its error is ENOTFOUND if no row
// matched, or the statement's error.
func (c *writerConn) runReset(op *writeOp) error {
	r := &c.reset
	if r.stmt == nil {
		st, err := c.PrepareContext(context.Background(), setCredentialsQuery)
		if err != nil {
			return fmt.Errorf("sqlitestore: prepare set credentials: %w", err)
		}
		r.stmt = st
	}
	q, ok := r.stmt.(driver.StmtQueryContext)
	if !ok {
		return errors.New("sqlitestore: the driver cannot query with a context")
	}
	a := &op.reset
	for i, v := range [...]string{a.c.Password, a.c.RestToken, a.c.ReadOnlyRestToken, a.id, a.owner, a.keyHash} {
		r.args[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	rows, err := q.QueryContext(context.Background(), r.args[:])
	clear(r.args[:]) // let the strings go
	if err != nil {
		return fmt.Errorf("sqlitestore: set credentials: %w", err)
	}
	err = rows.Next(r.row[:])
	switch {
	case errors.Is(err, io.EOF):
		err = devapi.Errorf(devapi.ENOTFOUND, "database %s not found", a.id)
	case err != nil:
		err = fmt.Errorf("sqlitestore: set credentials: %w", err)
	default:
		a.d, err = databaseFromValues(r.row[:])
	}
	clear(r.row[:])
	// Close resets the statement, which ends the UPDATE; its error is the
	// statement's.
	if cerr := rows.Close(); cerr != nil && (err == nil || isDomain(err)) {
		err = fmt.Errorf("sqlitestore: set credentials: %w", cerr)
	}
	return err
}

// isDomain reports whether err is a domain error (devapi.Errorf).
func isDomain(err error) bool {
	var e *devapi.Error
	return errors.As(err, &e)
}

// close finalizes the statement, if prepared.
func (r *resetStmt) close() error {
	if r.stmt == nil {
		return nil
	}
	err := r.stmt.Close()
	r.stmt = nil
	return err
}

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
