package sqlitestore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"iter"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/devapi-dev/devapi"
)

// Group commit.
//
// Every commit waits for an fsync of the WAL, which takes a fixed time (a
// few hundred microseconds on an SSD, milliseconds on some disks) however
// little the transaction wrote. One transaction per write would cap writes
// at one per fsync. So the store's writes go to one committer goroutine,
// which runs all the writes that are waiting in ONE transaction, each inside
// its own SAVEPOINT, commits once and only then answers every caller: one
// fsync for the whole batch.
//
// A write that fails rolls back to its savepoint, undoing only itself; the
// others in the batch go on. A failed commit fails every write of the batch
// that had succeeded. No caller hears of success before its change is
// committed, so the durability promise is the same as with one transaction
// per write.
//
// The committer takes the writer connection for each batch through
// s.writer.Conn, like any other user of s.writer, and gives it back after
// the commit, so code that calls s.writer.BeginTx itself still works: it
// waits for the connection between two batches. A batch of resets alone
// (the hot case) then runs its transaction on the driver's connection
// ((*sql.Conn).Raw) with BEGIN IMMEDIATE and COMMIT prepared once (see
// reset.go); any other batch in a database/sql transaction (BeginTx). The
// durability is the same: the writer's synchronous=FULL, and no answer
// before the COMMIT has returned.

// A write that is one statement (writeOne, and writeReset: SetCredentials,
// the hot one, which runs through the driver, see reset.go) runs without a
// savepoint: the statement is atomic by itself, and the savepoint's two
// extra statements cost as much as it. Its outcomes are
// kept apart: a domain error (ENOTFOUND for an UPDATE that matched no row)
// means the statement completed and changed nothing, and the batch goes on;
// any other error may have undone the whole transaction (SQLite rolls back
// on SQLITE_FULL, SQLITE_IOERR, ...), so the batch is given up, and every
// write in it fails with it, as when a commit fails.

// maxBatch bounds the writes of one transaction, so that a steady stream of
// writes still commits (and answers) regularly.
const maxBatch = 256

// The gathering wait.
//
// The commit's cost is mostly per batch (the fsync of the WAL, BEGIN and
// COMMIT), so the CPU a write costs falls as batches grow. Under load, a
// batch taken as soon as the previous one is answered holds only the
// writers that happened to be queued then: with the server's 16
// connections, about 7 of them, while the others, answered a moment ago,
// are on their way back. So, in the spirit of PostgreSQL's commit_delay
// and commit_siblings, a batch that holds fewer writes than the batch
// before it took waits for more, at most gatherWait, once the writes it
// holds have run (so the wait overlaps no work, and counts from the end of
// that work, when its writers are nearer); it stops waiting as soon as it
// holds as many. A lone writer never waits: its previous batch held one
// write. After a burst, one batch waits in vain, and the next expects only
// what that one took. The batch holds the file's write lock meanwhile:
// another process's writer waits up to gatherWait longer (under
// busy_timeout, like any other wait for the lock).
//
// Measured with devapi-load on a busy 2-core machine (load ~3), two
// interleaved pairs, before the batches of resets ran on the driver's
// connection and gathered -> after: at 16 connections 7.3/7.6 -> 11.0/11.2
// writes per commit, server CPU per reset 92/96 -> 80/79 µs (Go client) and
// 83/91 -> 70/78 µs (wrk), 10.8k/10.5k -> 11.9k/11.9k requests/s, p99
// 4.09/4.11 -> 3.64/3.85 ms; at 2 connections 1.1 -> 1.9 writes per commit,
// 283/285 -> 238/220 µs, p99 2.03/1.94 -> 1.62/1.42 ms. On a quieter
// machine 16 connections reached 14.5 writes per commit. 100 µs gathered
// fewer (~12 at 16 connections), 400 µs few more (~15). Waiting before
// BEGIN instead (no lock held) gathered less: ~8.5 at 200 µs.
const gatherWait = 200 * time.Microsecond

// errClosed answers a write made after Close.
var errClosed = errors.New("sqlitestore: store is closed")

// Write states: a write is queued until the committer starts it, unless its
// caller abandons it first. Whoever moves it out of queued decides its fate.
const (
	opQueued int32 = iota
	opStarted
	opAbandoned
)

// writeOp is one queued write.
type writeOp struct {
	ctx   context.Context
	fn    func(ctx context.Context, tx *sql.Tx) error // nil for a reset
	one   bool                                        // fn runs one statement: no savepoint (writeOne)
	reset resetArgs                                   // a reset's arguments and result, when fn is nil
	state atomic.Int32
	err   error         // fn's error, or the batch's; set before done is signalled
	panic any           // what fn panicked with, re-raised in the caller
	done  chan struct{} // buffered (1): the committer sends once, when the write's outcome is set
}

// newWriteOp returns a write for submit.
func newWriteOp(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error, one bool) *writeOp {
	return &writeOp{ctx: ctx, fn: fn, one: one, done: make(chan struct{}, 1)}
}

// resetArgs are the arguments of a reset (setCredentials), run by the
// committer through the driver (see reset.go), and its result.
type resetArgs struct {
	owner, keyHash, id string
	c                  devapi.Credentials
	d                  *devapi.Database // the database as stored by the reset
}

// committer owns the queue of writes and the goroutine that commits them.
type committer struct {
	db *sql.DB

	// The savepoint statements, prepared once (see stmts).
	savepoint, release, rollbackTo *sql.Stmt

	// commit commits a batch's transaction: (*sql.Tx).Commit, and
	// commitResets a batch of resets': (*writerConn).commitBatch; tests
	// of a failing commit replace them.
	commit       func(*sql.Tx) error
	commitResets func(*writerConn) error

	resetOps sync.Pool // *writeOp of resets, for reuse (writeReset)

	mu     sync.RWMutex // held for reading while sending to ops; Close takes it to close ops
	closed bool
	ops    chan *writeOp
	exited chan struct{} // closed when run returns

	// Of the batch being run, for the rows the writer's connection keeps
	// (reset.go): whether a reset has checked them yet, and whether a write
	// other than a reset has run since the last reset. Only run uses them.
	rowsChecked, otherWrote bool

	// held is a write that a batch of resets took from the queue but left
	// for the next batch, which starts with it (drain). Only run uses it.
	held *writeOp

	// batchBuf keeps the slice of batch from one to the next. Only run
	// uses it.
	batchBuf []*writeOp

	// The gathering wait (gather): at most gatherWait, once per batch
	// (gathered), for a batch to hold expect writes, the number the batch
	// before took. timer is gather's. Only run uses expect, gathered and
	// timer.
	gatherWait time.Duration
	expect     int
	gathered   bool
	timer      *time.Timer
	gathers    atomic.Int64 // the waits gather began; for tests

	// commits counts the transactions committed, and writes the writes
	// committed in them: their ratio is the mean batch size. For tests.
	commits, writes atomic.Int64
}

// newCommitter prepares the committer's statements on db and starts it.
func newCommitter(ctx context.Context, db *sql.DB) (*committer, error) {
	c := &committer{
		db: db, ops: make(chan *writeOp, maxBatch), exited: make(chan struct{}),
		commit: (*sql.Tx).Commit, commitResets: (*writerConn).commitBatch,
		gatherWait: gatherWait,
	}
	for _, p := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&c.savepoint, "SAVEPOINT w"},
		{&c.release, "RELEASE w"},
		{&c.rollbackTo, "ROLLBACK TO w"},
	} {
		st, err := db.PrepareContext(ctx, p.query)
		if err != nil {
			_ = c.closeStmts()
			return nil, err
		}
		*p.dst = st
	}
	go c.run()
	return c, nil
}

// closeStmts closes the prepared statements; call it after close.
func (c *committer) closeStmts() error {
	var errs []error
	for _, s := range []*sql.Stmt{c.savepoint, c.release, c.rollbackTo} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	return errors.Join(errs...)
}

// write runs fn inside the committer's next transaction and returns once
// that transaction is committed, or rolled back. fn's error is returned as
// it is; an error of the transaction as a whole (begin, commit) starts with
// "sqlitestore: ". fn must not keep tx, and must use the ctx it is given,
// which is ctx without its cancellation: an interrupted statement would roll
// back the whole batch, not only fn. fn runs on the committer's goroutine,
// so it must not call the store's write methods (it would wait for itself).
//
// If ctx is done before the committer starts fn, write returns ctx's error
// and fn never runs. Once fn has started, write waits for the outcome.
func (c *committer) write(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	return c.submit(ctx, newWriteOp(ctx, fn, false))
}

// writeOne is write for an fn that runs exactly one statement and returns
// either that statement's error or a domain error (devapi.Errorf) for a
// statement that completed without changing anything. It runs without a
// savepoint; a non-domain error gives up the whole batch (see above).
func (c *committer) writeOne(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	return c.submit(ctx, newWriteOp(ctx, fn, true))
}

// writeReset runs a reset (setCredentials) as a one-statement write (see
// writeOne) through the driver, and returns the database it stored.
//
// Resets are the store's hot write, so their writeOps are reused (resetOps):
// a write is put back once the committer is done with it, that is unless
// its caller abandoned it in the queue.
func (c *committer) writeReset(ctx context.Context, args resetArgs) (*devapi.Database, error) {
	op, _ := c.resetOps.Get().(*writeOp)
	if op == nil {
		op = newWriteOp(ctx, nil, true)
	}
	op.ctx, op.reset = ctx, args
	op.state.Store(opQueued)
	err := c.submit(ctx, op)
	d := op.reset.d
	if op.state.Load() != opAbandoned {
		*op = writeOp{one: true, done: op.done}
		c.resetOps.Put(op)
	}
	if err != nil {
		return nil, err
	}
	return d, nil
}

// submit queues op and waits for its outcome, as write describes.
func (c *committer) submit(ctx context.Context, op *writeOp) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return errClosed
	}
	select {
	case c.ops <- op:
	case <-ctx.Done():
		c.mu.RUnlock()
		return ctx.Err()
	}
	c.mu.RUnlock()

	select {
	case <-op.done:
	case <-ctx.Done():
		if op.state.CompareAndSwap(opQueued, opAbandoned) {
			return ctx.Err() // the committer will skip it
		}
		<-op.done // started: its outcome is on its way
	}
	if op.panic != nil {
		panic(op.panic)
	}
	return op.err
}

// close stops taking writes, commits those already queued and waits for the
// committer to exit.
func (c *committer) close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.ops)
	}
	c.mu.Unlock()
	<-c.exited
}

// run is the committer goroutine: it takes the first waiting write (or the
// one the last batch left, held), then, once it holds a transaction, every
// write that has queued meanwhile.
func (c *committer) run() {
	defer close(c.exited)
	for {
		first := c.held
		c.held = nil
		if first == nil {
			var ok bool
			if first, ok = <-c.ops; !ok {
				return
			}
		}
		c.batch(first)
	}
}

// batch runs first and whatever else is queued in one transaction, and
// answers them all.
//
// A batch of resets alone, the hot case, runs on the writer's driver
// connection end to end (resetBatch); any other batch in a database/sql
// transaction (txBatch), its resets included. Which one is decided by the
// writes queued once the connection is taken; a write other than a reset
// that queues while a batch of resets runs waits for the next batch.
func (c *committer) batch(first *writeOp) {
	batch := append(c.batchBuf[:0], first)
	defer func() {
		c.expect, c.gathered = len(batch), false
		clear(batch) // let the writes go
		c.batchBuf = batch[:0]
	}()
	conn, err := c.db.Conn(context.Background())
	if err != nil {
		c.finish(batch, fmt.Errorf("sqlitestore: begin: %w", err))
		return
	}
	defer conn.Close()
	c.drain(&batch, false)
	if !slices.ContainsFunc(batch, func(op *writeOp) bool { return op.fn != nil }) {
		// An error returned to Raw is driver.ErrBadConn, for which
		// database/sql closes the connection and opens another.
		_ = conn.Raw(func(dc any) error {
			wc, ok := dc.(*writerConn)
			if !ok {
				c.finish(batch, fmt.Errorf("sqlitestore: the writer's connection is a %T", dc))
				return nil
			}
			return c.resetBatch(wc, &batch)
		})
		return
	}
	c.txBatch(conn, &batch)
}

// resetBatch runs batch, whose writes are resets, in a transaction of
// wc's own (beginBatch, commitBatch): the resets' statements as in runOne,
// the same outcomes, the same kept rows. It returns driver.ErrBadConn when
// wc could not begin a transaction, so that database/sql gives it up.
func (c *committer) resetBatch(wc *writerConn, batch *[]*writeOp) error {
	if err := wc.beginBatch(); err != nil {
		wc.dropRows()
		c.finish(*batch, fmt.Errorf("sqlitestore: begin: %w", err))
		return driver.ErrBadConn
	}
	wc.startRows()
	var n int64 // resets that succeeded
	for op := range c.started(batch, true) {
		op.err = wc.runReset(op)
		switch {
		case op.err == nil:
			n++
		case !isDomain(op.err):
			// As in txBatch: the transaction is in an unknown state.
			wc.rollbackBatch()
			wc.dropRows()
			c.finish(*batch, fmt.Errorf("sqlitestore: a one-statement write failed: %w", op.err))
			return nil
		}
	}
	if err := c.commitResets(wc); err != nil {
		wc.dropRows()
		c.finish(*batch, fmt.Errorf("sqlitestore: commit: %w", err))
		return nil
	}
	c.commits.Add(1)
	c.writes.Add(n)
	c.finish(*batch, nil)
	wc.commitRows()
	return nil
}

// txBatch runs batch in a database/sql transaction on conn.
func (c *committer) txBatch(conn *sql.Conn, batch *[]*writeOp) {
	tx, err := conn.BeginTx(context.Background(), nil)
	if err != nil {
		c.finish(*batch, fmt.Errorf("sqlitestore: begin: %w", err))
		return
	}
	c.rowsChecked, c.otherWrote = false, false
	var n int64 // writes that succeeded
	for op := range c.started(batch, false) {
		if err := c.runOne(conn, tx, op); err != nil {
			// The transaction is in an unknown state: give it up, and
			// with it the writes of this batch. Queued writes wait for
			// the next.
			_ = tx.Rollback()
			c.withWriterConn(conn, (*writerConn).dropRows)
			c.finish(*batch, err)
			return
		}
		if op.err == nil && op.panic == nil {
			n++
		}
	}
	if err := c.commit(tx); err != nil {
		c.withWriterConn(conn, (*writerConn).dropRows)
		c.finish(*batch, fmt.Errorf("sqlitestore: commit: %w", err))
		return
	}
	c.commits.Add(1)
	c.writes.Add(n)
	c.finish(*batch, nil)
	switch {
	case c.rowsChecked && !c.otherWrote:
		c.withWriterConn(conn, (*writerConn).commitRows)
	case c.rowsChecked:
		c.withWriterConn(conn, (*writerConn).dropRows) // a write after the last reset may have changed them
	}
}

// withWriterConn calls f with the writer's connection under conn. The
// connection is always a writerConn (openWriter); f's work is on kept rows,
// which need no error: a connection that could not be reached keeps none
// that a later batch would trust (startRows checks).
func (c *committer) withWriterConn(conn *sql.Conn, f func(*writerConn)) {
	_ = conn.Raw(func(dc any) error {
		if wc, ok := dc.(*writerConn); ok {
			f(wc)
		}
		return nil
	})
}

// started yields the writes of batch in order, each once its state moved
// from queued to started (a write its caller abandoned is skipped), and
// the writes that join the batch as it runs (next; resetsOnly as there).
func (c *committer) started(batch *[]*writeOp, resetsOnly bool) iter.Seq[*writeOp] {
	return func(yield func(*writeOp) bool) {
		for i := 0; ; i++ {
			op := c.next(batch, i, resetsOnly)
			if op == nil {
				return
			}
			if !op.state.CompareAndSwap(opQueued, opStarted) {
				continue // abandoned by its caller
			}
			if !yield(op) {
				return
			}
		}
	}
}

// next returns the write at index i of batch, the next to run, or nil if
// the batch is complete. Once the writes of batch have all run, the writes
// that queued meanwhile join in (drain; resetsOnly as there).
func (c *committer) next(batch *[]*writeOp, i int, resetsOnly bool) *writeOp {
	if i == len(*batch) {
		c.drain(batch, resetsOnly)
		if i == len(*batch) && c.held == nil {
			// Before paying for the fsync, let the goroutines that are
			// about to queue a write run, then take them too.
			runtime.Gosched()
			c.drain(batch, resetsOnly)
		}
		if i == len(*batch) && c.held == nil {
			c.gather(batch, resetsOnly)
		}
		if i == len(*batch) {
			return nil
		}
	}
	return (*batch)[i]
}

// gather waits, at most gatherWait, until batch holds as many writes as the
// batch before it took (expect): those writers were answered at its end
// and, under load, are about to write again. It waits once per batch, when
// the writes already there have run; a lone writer, whose batches hold one
// write, never waits. resetsOnly is drain's.
func (c *committer) gather(batch *[]*writeOp, resetsOnly bool) {
	if c.gathered || len(*batch) >= c.expect || c.gatherWait <= 0 {
		return
	}
	c.gathered = true
	if c.timer == nil {
		c.timer = time.NewTimer(c.gatherWait)
	} else {
		c.timer.Reset(c.gatherWait)
	}
	defer c.timer.Stop()
	c.gathers.Add(1)
	for len(*batch) < c.expect && len(*batch) < maxBatch {
		select {
		case op, ok := <-c.ops:
			if !ok {
				return
			}
			if resetsOnly && op.fn != nil {
				c.held = op
				return
			}
			*batch = append(*batch, op)
		case <-c.timer.C:
			return
		}
	}
}

// drain adds to batch the writes waiting in the queue, up to maxBatch. With
// resetsOnly it stops at a write that is not a reset and keeps it in held,
// for the next batch.
func (c *committer) drain(batch *[]*writeOp, resetsOnly bool) {
	for len(*batch) < maxBatch && c.held == nil {
		select {
		case op, ok := <-c.ops:
			if !ok {
				return
			}
			if resetsOnly && op.fn != nil {
				c.held = op
				return
			}
			*batch = append(*batch, op)
		default:
			return
		}
	}
}

// finish answers every write of batch. batchErr, if not nil, is the error
// of the transaction as a whole: it replaces the outcome of every write that
// had succeeded or had not started.
func (c *committer) finish(batch []*writeOp, batchErr error) {
	for _, op := range batch {
		switch op.state.Load() {
		case opAbandoned:
			continue // its caller has gone; nothing waits on done
		case opQueued:
			if !op.state.CompareAndSwap(opQueued, opStarted) {
				continue // abandoned just now
			}
			op.err = batchErr
		case opStarted:
			if batchErr != nil && op.err == nil && op.panic == nil {
				op.err = batchErr
			}
		}
		op.done <- struct{}{}
	}
}

// runOne runs op inside its own savepoint, and rolls back to it if op
// fails. It returns an error only if the transaction itself is broken (the
// savepoint could not be set, released or rolled back to, or a
// one-statement write failed other than with a domain error); op's own
// outcome is left in op.
func (c *committer) runOne(conn *sql.Conn, tx *sql.Tx, op *writeOp) error {
	if op.one {
		if op.fn == nil {
			op.err = conn.Raw(func(dc any) error {
				wc, ok := dc.(*writerConn)
				if !ok {
					return fmt.Errorf("sqlitestore: the writer's connection is a %T", dc)
				}
				if !c.rowsChecked {
					wc.startRows()
					c.rowsChecked = true
				}
				if c.otherWrote {
					wc.dropRows()
					c.otherWrote = false
				}
				return wc.runReset(op)
			})
		} else {
			c.otherWrote = true
			op.panic, op.err = call(context.WithoutCancel(op.ctx), tx, op.fn)
		}
		if op.panic != nil || (op.err != nil && !isDomain(op.err)) {
			return fmt.Errorf("sqlitestore: a one-statement write failed: %w", op.err)
		}
		return nil
	}
	c.otherWrote = true
	ctx := context.WithoutCancel(op.ctx)
	if _, err := tx.StmtContext(ctx, c.savepoint).ExecContext(ctx); err != nil {
		return fmt.Errorf("sqlitestore: savepoint: %w", err)
	}
	op.panic, op.err = call(ctx, tx, op.fn)
	if op.err != nil || op.panic != nil {
		if _, err := tx.StmtContext(ctx, c.rollbackTo).ExecContext(ctx); err != nil {
			return fmt.Errorf("sqlitestore: rollback to savepoint: %w (after %w)", err, op.err)
		}
	}
	if _, err := tx.StmtContext(ctx, c.release).ExecContext(ctx); err != nil {
		return fmt.Errorf("sqlitestore: release savepoint: %w", err)
	}
	return nil
}

// call runs fn, turning a panic into a value for the caller to re-raise, so
// that a panicking change function fails its own request, as it would
// without the committer, rather than the process.
func call(ctx context.Context, tx *sql.Tx, fn func(context.Context, *sql.Tx) error) (panicked any, err error) {
	defer func() {
		if p := recover(); p != nil {
			panicked = p
			if err == nil {
				err = fmt.Errorf("panic: %v", p)
			}
		}
	}()
	return nil, fn(ctx, tx)
}
