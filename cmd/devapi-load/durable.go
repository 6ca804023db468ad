package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The durable baseline: the fixed answer again, acknowledged only once a
// record of the request is on disk. Each request hands a record to one
// committer goroutine, which gathers the records waiting as sqlitestore's
// committer gathers writes, writes them in one pwrite and makes them durable
// with one fdatasync (group commit, as devapi's stores do), then wakes their
// requests. It is about the least a server that acknowledges only what is
// fsynced, batching as devapi does, can do per request on this disk and
// this HTTP stack (holding requests longer for bigger batches pays fewer
// fsyncs, in latency): what is left between it and devapi is devapi's own
// work.

// durableRecord is the size of one request's record: about what a reset
// writes (id, password, two REST tokens).
const durableRecord = 256

// durableRecordBytes is every record's content.
var durableRecordBytes = []byte(fmt.Sprintf("%-*s\n", durableRecord-1, "devapi-load durable baseline record"))

// durableLogSize is the log's preallocated size; records wrap around it, so
// that an fdatasync never has the file's size to write (as SQLite's WAL,
// which is reused from its start after a checkpoint).
const durableLogSize = 4 << 20

// durableLog is the group committer.
type durableLog struct {
	f    *os.File
	reqs chan chan error
	wg   sync.WaitGroup

	commits, writes atomic.Int64 // batches made durable, records in them
}

// GroupCommitStats returns the batches made durable so far and the records
// they held, as sqlitestore's counters of the same name.
func (l *durableLog) GroupCommitStats() (commits, writes int64) {
	return l.commits.Load(), l.writes.Load()
}

// openDurableLog creates the log file at path, preallocated and synced, and
// starts its committer.
func openDurableLog(path string) (*durableLog, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	if _, err := f.WriteAt(make([]byte, durableLogSize), 0); err != nil {
		_ = f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return nil, err
	}
	l := &durableLog{f: f, reqs: make(chan chan error, 1024)}
	l.wg.Go(l.run)
	return l, nil
}

// durableGather is how long a batch waits, at most, for as many records as
// the batch before it held: sqlitestore's gathering wait (gatherWait), so
// that both make batches of about the same size under the same load.
const durableGather = 200 * time.Microsecond

// durableMaxBatch bounds the records of one batch, as sqlitestore's
// maxBatch bounds its writes; a batch always fits in the log.
const durableMaxBatch = 256

// run commits batches until close. Like sqlitestore's committer, it takes
// what is waiting, yields once to the requests about to arrive, then waits
// at most durableGather for the batch to hold as many records as the one
// before.
func (l *durableLog) run() {
	var batch []chan error
	var buf []byte
	var off int64
	expect := 0
	timer := time.NewTimer(durableGather)
	timer.Stop()
	defer timer.Stop()
	for first := range l.reqs {
		batch = append(batch[:0], first)
		batch = l.drain(batch)
		runtime.Gosched()
		batch = l.drain(batch)
		if len(batch) < expect {
			timer.Reset(durableGather)
		gather:
			for len(batch) < expect && len(batch) < durableMaxBatch {
				select {
				case c, ok := <-l.reqs:
					if !ok {
						break gather
					}
					batch = append(batch, c)
				case <-timer.C:
					break gather
				}
			}
			timer.Stop()
		}
		expect = len(batch)
		buf = buf[:0]
		for range batch {
			buf = append(buf, durableRecordBytes...)
		}
		if off+int64(len(buf)) > durableLogSize {
			off = 0
		}
		_, err := l.f.WriteAt(buf, off)
		off += int64(len(buf))
		if err == nil {
			err = syscall.Fdatasync(int(l.f.Fd()))
		}
		l.commits.Add(1)
		l.writes.Add(int64(len(batch)))
		for _, c := range batch {
			c <- err
		}
	}
}

// drain adds to batch the requests waiting now, up to durableMaxBatch.
func (l *durableLog) drain(batch []chan error) []chan error {
	for len(batch) < durableMaxBatch {
		select {
		case c, ok := <-l.reqs:
			if !ok {
				return batch
			}
			batch = append(batch, c)
		default:
			return batch
		}
	}
	return batch
}

// commit writes one record and returns once it is durable.
func (l *durableLog) commit() error {
	c := make(chan error, 1)
	l.reqs <- c
	return <-c
}

// close stops the committer, once no request can call commit any more, and
// closes the file.
func (l *durableLog) close() error {
	close(l.reqs)
	l.wg.Wait()
	return l.f.Close()
}

// durableHandler answers body once the request's record is durable, 500
// when it could not be written, 413 (and no record) when the request's body
// is over maxRequestBody.
func durableHandler(l *durableLog, body []byte, contentType string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !discardBody(w, r) {
			return
		}
		if err := l.commit(); err != nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"error":"the record could not be written"}`)
			return
		}
		w.Header().Set("Content-Type", contentType)
		_, _ = w.Write(body)
	})
}
