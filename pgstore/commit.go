package pgstore

import (
	"cmp"
	"context"
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
// There is no committer goroutine: a caller whose reset is queued sends
// every queued reset as a batch when a batch may start (mayStart), and
// otherwise waits for its answer. With no batch in flight a batch starts at
// once, so a lone reset costs one round trip. With batches in flight, a new
// one starts only once it would hold at least as many resets as those in
// flight (and at most maxInFlight run at once): two callers at a time still
// go in parallel, batches of one each, while under load the resets settle
// into about two large batches in flight, one filling while the other
// commits. PostgreSQL pays about as much CPU for a transaction (its commit,
// the round trip) as for several resets in it, and on a small machine it
// shares the cores with devapi: starting a batch whenever a turn was free
// made batches of about 3 at 16 connections; this rule makes them about 8
// and halves PostgreSQL's CPU per reset (BenchmarkSetCredentials).
//
// A batch is one statement (setCredentialsQuery) for all its resets of
// different databases, so PostgreSQL parses, plans and runs one statement
// per batch, not one per reset. Its row locks are taken in id order, as
// every batch does, so concurrent batches (of this replica or another)
// cannot deadlock on each other. Resets of one database in one batch apply
// in arrival order, each moving the generation forward. A statement that
// fails (a full disk, a lost connection) fails the whole batch: every reset
// in it answers the error and none is stored.

// maxInFlight bounds the batches sent at once.
const maxInFlight = 4

// maxBatch bounds the resets of one batch.
const maxBatch = 128

// batchTimeout bounds one batch, from taking a connection to its commit.
const batchTimeout = 30 * time.Second

// setCredentialsQuery is the one statement of a batch's resets, each of a
// different database: $1..$6 are arrays of the resets' database ids,
// owners, API key hashes (empty for none), passwords, REST tokens and
// read-only REST tokens, element i of each for reset i. PostgreSQL parses,
// plans and runs it once for the batch, instead of once per reset.
//
// locked takes the row locks, in id order (LockRows above the Sort), of the
// databases that exist with that owner and, when a key is given, whose owner
// still has that key: a key removed before the statement ran makes its
// reset change nothing. The UPDATE then changes exactly those rows, which
// the statement holds already. The lock order is the same for every batch
// of every replica, so concurrent batches cannot deadlock, whatever join
// the planner chooses for the UPDATE. RETURNING hands back each row as
// stored; a reset whose row is not among them found no database, or no
// key.
const setCredentialsQuery = `WITH v AS MATERIALIZED (
	  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
	    AS v(v_id, v_owner, v_key, v_password, v_rest_token, v_read_only_rest_token)
	), locked AS MATERIALIZED (
	  SELECT d.id FROM databases d JOIN v ON d.id = v.v_id AND d.owner = v.v_owner
	  WHERE v.v_key = '' OR EXISTS (SELECT 1 FROM api_keys k WHERE k.key_hash = v.v_key AND k.email = d.owner)
	  ORDER BY d.id FOR NO KEY UPDATE OF d
	)
	UPDATE databases
	SET password = v_password, rest_token = v_rest_token, read_only_rest_token = v_read_only_rest_token, generation = generation + 1
	FROM v
	WHERE databases.id = v.v_id AND databases.id IN (SELECT id FROM locked)
	RETURNING ` + schema.DatabaseColumns // v's columns are named v_* so that these are the table's

// setOneCredentialsQuery is setCredentialsQuery for one reset, cheaper for
// PostgreSQL (and devapi) than the array form when a batch holds one reset
// of a database, as every batch does under light load: the owner is in the
// WHERE, and so is the caller's API key when one is given ($6, empty for
// none).
const setOneCredentialsQuery = `UPDATE databases
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

	taken bool          // in a batch; under credBatcher.mu
	lead  chan struct{} // wakes the caller to look whether a batch may start (buffered, 1)
}

// credBatcher groups concurrent SetCredentials calls into batches.
type credBatcher struct {
	send func(ctx context.Context, ops []*credOp) error // runs one batch

	mu             sync.Mutex
	pending        []*credOp // queued, oldest first
	inFlight       int       // batches sent and not yet answered
	inFlightResets int       // the resets in them

	// batches counts the batches sent, and resets the resets in them:
	// their ratio is the mean batch size. For tests.
	batches, resets atomic.Int64
}

func newCredBatcher(send func(context.Context, []*credOp) error) *credBatcher {
	return &credBatcher{send: send}
}

// mayStart says whether a batch may be sent now: something is queued,
// fewer than maxInFlight batches are in flight, and the batch would hold at
// least as many resets as those in flight (any, when none is). b.mu is held.
func (b *credBatcher) mayStart() bool {
	return len(b.pending) > 0 && b.inFlight < maxInFlight && len(b.pending) >= b.inFlightResets
}

// do queues op and returns once a committed batch has answered it, or with
// ctx's error if ctx ends before any batch took it.
//
// Whoever finds that a batch may start sends it: the caller who queues a
// reset, or the caller of the oldest queued reset, woken (op.lead) when a
// batch ends. Other callers just wait for their answer.
func (b *credBatcher) do(ctx context.Context, op *credOp) error {
	b.mu.Lock()
	b.pending = append(b.pending, op)
	for !op.taken {
		if b.mayStart() {
			b.runBatch(ctx)
			continue
		}
		b.mu.Unlock()
		select {
		case <-op.done:
			return op.err
		case <-op.lead: // a batch ended: look again
		case <-ctx.Done():
			b.mu.Lock()
			if op.taken {
				b.mu.Unlock()
				<-op.done // sent: its outcome is on its way
				return op.err
			}
			b.pending = slices.DeleteFunc(b.pending, func(o *credOp) bool { return o == op })
			b.wakeOldest() // in case op was the oldest
			b.mu.Unlock()
			return ctx.Err() // never sent
		}
		b.mu.Lock()
	}
	b.mu.Unlock()
	<-op.done
	return op.err
}

// GroupCommitStats reports how many batches of resets have been sent since
// Open, and how many resets they held: resets/batches is the mean batch
// size. Each batch is one PostgreSQL transaction. sqlitestore's counters of
// the same name count every write; these count resets only.
func (s *Store) GroupCommitStats() (batches, resets int64) {
	return s.creds.batches.Load(), s.creds.resets.Load()
}

// wakeOldest tells the caller of the oldest queued reset to look whether a
// batch may start; b.mu is held.
func (b *credBatcher) wakeOldest() {
	if len(b.pending) > 0 {
		select {
		case b.pending[0].lead <- struct{}{}:
		default: // woken already
		}
	}
}

// runBatch sends what is queued, up to maxBatch, as one batch and answers
// every reset in it. b.mu is held on entry and on return, not while the
// batch runs.
func (b *credBatcher) runBatch(ctx context.Context) {
	n := min(len(b.pending), maxBatch)
	batch := slices.Clone(b.pending[:n])
	b.pending = slices.Delete(b.pending, 0, n)
	for _, op := range batch {
		op.taken = true
	}
	b.inFlight++
	b.inFlightResets += n
	b.mu.Unlock()
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
	b.mu.Lock()
	b.inFlight--
	b.inFlightResets -= n
	b.wakeOldest()
}

// sendCredentials runs ops as one pipelined implicit transaction and sets
// each op's outcome. It returns an error of the batch as a whole, which
// replaces every op's outcome.
//
// Resets of different databases share one statement (setCredentialsQuery).
// UPDATE ... FROM changes a row once per statement, so the second reset of
// a database in the batch goes into a second statement, the third into a
// third, and so on: statement k holds the k-th reset of each database, in
// arrival order, and each moves the generation again. Statement k locks a
// subset of the rows that statement 1 locked, so the lock order holds.
func (s *Store) sendCredentials(ctx context.Context, ops []*credOp) (err error) {
	defer noSpace(&err)
	// Stable: the resets of one database stay in arrival order.
	slices.SortStableFunc(ops, func(a, b *credOp) int { return cmp.Compare(a.id, b.id) })
	var rounds [][]*credOp
	k := 0 // op is the k-th reset of its database, from 0
	for i, op := range ops {
		if i > 0 && ops[i-1].id == op.id {
			k++
		} else {
			k = 0
		}
		if k == len(rounds) {
			rounds = append(rounds, make([]*credOp, 0, len(ops)))
		}
		rounds[k] = append(rounds[k], op)
	}
	batch := &pgx.Batch{}
	for _, round := range rounds {
		if len(round) == 1 {
			op := round[0]
			batch.Queue(setOneCredentialsQuery, op.c.Password, op.c.RestToken, op.c.ReadOnlyRestToken, op.id, op.owner, op.keyHash)
			continue
		}
		ids, owners, keys := make([]string, len(round)), make([]string, len(round)), make([]string, len(round))
		passwords, rest, readOnly := make([]string, len(round)), make([]string, len(round)), make([]string, len(round))
		for i, op := range round {
			ids[i], owners[i], keys[i] = op.id, op.owner, op.keyHash
			passwords[i], rest[i], readOnly[i] = op.c.Password, op.c.RestToken, op.c.ReadOnlyRestToken
		}
		batch.Queue(setCredentialsQuery, ids, owners, keys, passwords, rest, readOnly)
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: set credentials: %w", err)
	}
	defer conn.Release()
	results := conn.SendBatch(ctx, batch)
	for _, round := range rounds {
		if err := scanRound(results, round); err != nil {
			_ = results.Close()
			return fmt.Errorf("pgstore: set credentials: %w", err)
		}
	}
	// Close reads up to the batch's ReadyForQuery: the commit's outcome.
	if err := results.Close(); err != nil {
		return fmt.Errorf("pgstore: set credentials: commit: %w", err)
	}
	return nil
}

// scanRound reads the rows of one statement of a batch: each op whose
// database is among them gets its row, every other op ENOTFOUND (no such
// database of its owner, or no such key). round is sorted by id and holds
// each id once; rows come in any order and are matched to ops by id.
func scanRound(results pgx.BatchResults, round []*credOp) error {
	rows, err := results.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		d, err := schema.ScanDatabase(rows)
		if err != nil {
			return err
		}
		i, found := slices.BinarySearchFunc(round, d.ID, func(op *credOp, id string) int { return cmp.Compare(op.id, id) })
		if !found || round[i].d != nil {
			return fmt.Errorf("database %s returned but not asked for", d.ID)
		}
		round[i].d = d
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, op := range round {
		if op.d == nil {
			op.err = devapi.Errorf(devapi.ENOTFOUND, "database %s not found", op.id)
		}
	}
	return nil
}
