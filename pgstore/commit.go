package pgstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/schema"
)

// Group commit of SetCredentials.
//
// Each commit waits for PostgreSQL to flush its WAL (synchronous_commit is
// on), and costs the server a transaction; one transaction per reset caps
// resets at what the server and its disk can commit one by one. So resets
// that wait at the same time are sent together: the UPDATEs of a batch go
// in one pipelined round trip (pgx.Batch), which PostgreSQL runs as one
// implicit transaction, committed at the batch's end with one WAL flush.
// No caller hears of its reset before the whole batch is committed: the
// answers are handed out only after the batch's final ReadyForQuery.
//
// There is no committer goroutine. At most maxInFlight batches run at once;
// a reset that finds them all running queues, and whichever caller gets the
// next turn sends every queued reset in its batch. So a lone reset costs one
// round trip, as before, and under load batches grow by themselves.
//
// The UPDATEs of a batch take their row locks in id order, as every batch
// does, so concurrent batches (of this replica or another) cannot deadlock
// on each other. Resets of one database in one batch apply in arrival
// order, each moving the generation forward. A statement that fails (a full
// disk, a lost connection) fails the whole batch: every reset in it answers
// the error and none is stored.

// maxInFlight bounds the batches sent at once.
const maxInFlight = 4

// maxBatch bounds the resets of one batch.
const maxBatch = 128

// batchTimeout bounds one batch, from taking a connection to its commit.
const batchTimeout = 30 * time.Second

// setCredentialsQuery is the one statement of a reset: the owner is in the
// WHERE, and so is the caller's API key when one is given ($6, empty for
// none): a key removed before the statement ran makes it change nothing.
// RETURNING hands back the row as stored.
const setCredentialsQuery = `UPDATE databases
	SET password = $1, rest_token = $2, read_only_rest_token = $3, generation = generation + 1
	WHERE id = $4 AND owner = $5
	  AND ($6 = '' OR EXISTS (SELECT 1 FROM api_keys WHERE key_hash = $6 AND email = databases.owner))
	RETURNING ` + schema.DatabaseColumns

// credOp is one queued SetCredentials; d and err are set before done is
// closed.
type credOp struct {
	owner, id string
	keyHash   string // the caller's API key, proved in the statement; empty for none
	c         devapi.Credentials
	d         *devapi.Database
	err       error
	done      chan struct{}
}

// credBatcher groups concurrent SetCredentials calls into batches.
type credBatcher struct {
	send func(ctx context.Context, ops []*credOp) error // runs one batch

	turns chan struct{} // one token per batch in flight

	mu      sync.Mutex
	pending []*credOp

	// batches counts the batches sent, and resets the resets in them:
	// their ratio is the mean batch size. For tests.
	batches, resets atomic.Int64
}

func newCredBatcher(send func(context.Context, []*credOp) error) *credBatcher {
	return &credBatcher{send: send, turns: make(chan struct{}, maxInFlight)}
}

// do queues op and returns once a committed batch has answered it, or with
// ctx's error if ctx ends before any batch took it.
func (b *credBatcher) do(ctx context.Context, op *credOp) error {
	b.mu.Lock()
	b.pending = append(b.pending, op)
	b.mu.Unlock()
	for {
		select {
		case <-op.done:
			return op.err
		case <-ctx.Done():
			b.mu.Lock()
			i := slices.Index(b.pending, op)
			if i >= 0 {
				b.pending = slices.Delete(b.pending, i, i+1)
			}
			b.mu.Unlock()
			if i >= 0 {
				return ctx.Err() // never sent
			}
			<-op.done // sent: its outcome is on its way
			return op.err
		case b.turns <- struct{}{}:
			b.runTurn(ctx)
			b.mu.Lock()
			queued := slices.Contains(b.pending, op)
			b.mu.Unlock()
			if !queued { // sent, in this turn's batch or another's
				<-op.done
				return op.err
			}
		}
	}
}

// runTurn sends whatever is queued as one batch, then gives the turn back.
func (b *credBatcher) runTurn(ctx context.Context) {
	defer func() { <-b.turns }()
	b.mu.Lock()
	n := min(len(b.pending), maxBatch)
	batch := slices.Clone(b.pending[:n])
	b.pending = slices.Delete(b.pending, 0, n)
	b.mu.Unlock()
	if n == 0 {
		return // another turn took ours
	}
	// Once sent, a batch is finished whatever the caller who sends it does,
	// within batchTimeout: every caller in it waits for it.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), batchTimeout)
	err := b.send(sctx, batch)
	cancel()
	b.batches.Add(1)
	b.resets.Add(int64(n))
	for _, op := range batch {
		if err != nil {
			op.d, op.err = nil, err
		}
		close(op.done)
	}
}

// sendCredentials runs ops as one pipelined implicit transaction and sets
// each op's outcome. It returns an error of the batch as a whole, which
// replaces every op's outcome.
func (s *Store) sendCredentials(ctx context.Context, ops []*credOp) (err error) {
	defer noSpace(&err)
	slices.SortStableFunc(ops, func(a, b *credOp) int { return cmp.Compare(a.id, b.id) })
	batch := &pgx.Batch{}
	for _, op := range ops {
		batch.Queue(setCredentialsQuery, op.c.Password, op.c.RestToken, op.c.ReadOnlyRestToken, op.id, op.owner, op.keyHash)
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: set credentials: %w", err)
	}
	defer conn.Release()
	results := conn.SendBatch(ctx, batch)
	for _, op := range ops {
		op.d, op.err = schema.ScanDatabase(results.QueryRow())
		switch {
		case errors.Is(op.err, pgx.ErrNoRows):
			op.d, op.err = nil, devapi.Errorf(devapi.ENOTFOUND, "database %s not found", op.id)
		case op.err != nil:
			_ = results.Close()
			return fmt.Errorf("pgstore: set credentials: %w", op.err)
		}
	}
	// Close reads up to the batch's ReadyForQuery: the commit's outcome.
	if err := results.Close(); err != nil {
		return fmt.Errorf("pgstore: set credentials: commit: %w", err)
	}
	return nil
}
