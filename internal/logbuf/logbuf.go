// Package logbuf buffers a log's lines for the file they go to (devapi
// serve's stderr), so that a busy server writes them in one system call
// per batch instead of one per line: at thousands of requests a second,
// the request log's write per line cost more than formatting the line.
//
// Lines reach the file in the order they were written, at most Delay
// after they were written, and at once when a warning or an error is
// logged through Handler, or on Flush and Close.
package logbuf

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// DefaultDelay is how long a line may wait in the buffer when New is given
// no delay.
const DefaultDelay = 100 * time.Millisecond

// maxBuffered is how many bytes wait at most: a write that fills the
// buffer past it writes the buffer out at once.
const maxBuffered = 64 << 10

// Writer is an io.Writer that buffers what is written to it for w. It is
// safe for concurrent use. Close it to write out what is buffered and stop
// its goroutine.
type Writer struct {
	w     io.Writer
	delay time.Duration

	out sync.Mutex // held while writing to w, so that batches keep their order

	mu     sync.Mutex // guards the fields below
	buf    []byte     // what waits
	spare  []byte     // the other buffer, written out meanwhile
	closed bool       // Close was called: writes go straight to w

	pending   chan struct{} // holds a token while buf is not empty
	done      chan struct{} // closed by Close
	closeOnce sync.Once
	flusher   sync.WaitGroup
}

// New returns a Writer for w that writes out what it buffered at most
// delay after it was written (DefaultDelay when delay is not above 0).
func New(w io.Writer, delay time.Duration) *Writer {
	if delay <= 0 {
		delay = DefaultDelay
	}
	b := &Writer{w: w, delay: delay, pending: make(chan struct{}, 1), done: make(chan struct{})}
	b.flusher.Go(b.run)
	return b
}

// run writes out the buffer delay after a line arrives in an empty one,
// until Close.
func (b *Writer) run() {
	t := time.NewTimer(b.delay)
	t.Stop()
	for {
		select {
		case <-b.pending:
		case <-b.done:
			return
		}
		t.Reset(b.delay)
		select {
		case <-t.C:
		case <-b.done:
			t.Stop()
			return
		}
		_ = b.Flush()
	}
}

// Write buffers p, a whole line or more as slog's handlers write them.
// After Close it writes p to the underlying writer at once.
func (b *Writer) Write(p []byte) (int, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		b.out.Lock()
		defer b.out.Unlock()
		return b.w.Write(p)
	}
	if len(b.buf) == 0 {
		select {
		case b.pending <- struct{}{}:
		default:
		}
	}
	b.buf = append(b.buf, p...)
	full := len(b.buf) >= maxBuffered
	b.mu.Unlock()
	if full {
		return len(p), b.Flush()
	}
	return len(p), nil
}

// Flush writes out what is buffered.
func (b *Writer) Flush() error {
	b.out.Lock()
	defer b.out.Unlock()
	return b.flushLocked(false)
}

// flushLocked takes the buffer (and closes the Writer to buffering when
// closing) and writes it out; b.out is held.
func (b *Writer) flushLocked(closing bool) error {
	b.mu.Lock()
	buf := b.buf
	b.buf, b.spare = b.spare[:0], nil
	if closing {
		b.closed = true
	}
	b.mu.Unlock()
	if len(buf) == 0 {
		b.giveBack(buf)
		return nil
	}
	_, err := b.w.Write(buf)
	b.giveBack(buf)
	return err
}

// giveBack keeps buf as the spare buffer, unless it grew large.
func (b *Writer) giveBack(buf []byte) {
	if cap(buf) > 2*maxBuffered {
		return
	}
	b.mu.Lock()
	if b.spare == nil {
		b.spare = buf[:0]
	}
	b.mu.Unlock()
}

// Close writes out what is buffered, stops the Writer's goroutine and
// waits for it. Writes after Close go straight to the underlying writer,
// after what was buffered. Close does not close the underlying writer; a
// second Close does nothing.
func (b *Writer) Close() error {
	var err error
	b.closeOnce.Do(func() {
		close(b.done)
		b.flusher.Wait()
		b.out.Lock()
		defer b.out.Unlock()
		err = b.flushLocked(true)
	})
	return err
}

// Handler wraps h, a handler that writes to b, so that a record at
// slog.LevelWarn or above is written out at once, with every line before
// it.
func (b *Writer) Handler(h slog.Handler) slog.Handler {
	return flushHandler{h, b}
}

type flushHandler struct {
	slog.Handler
	b *Writer
}

func (f flushHandler) Handle(ctx context.Context, r slog.Record) error {
	err := f.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		if ferr := f.b.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (f flushHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return flushHandler{f.Handler.WithAttrs(attrs), f.b}
}

func (f flushHandler) WithGroup(name string) slog.Handler {
	return flushHandler{f.Handler.WithGroup(name), f.b}
}
