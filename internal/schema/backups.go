package schema

import (
	"encoding/base64"
	"io"
	"time"
)

// ChunkSize is the most bytes of backup content one row of backup_chunks
// holds, before base64: large enough that a backup of hundreds of MB takes
// hundreds of rows, small enough that a row costs little memory.
const ChunkSize = 1 << 20

// StaleBackupAge is how old an incomplete backup (complete = 0) must be
// before the next backup of its database removes it: one whose writer
// crashed. A backup being written is never that old.
const StaleBackupAge = 24 * time.Hour

// ChunkWriter cuts backup content into rows of backup_chunks: Write
// collects ChunkSize bytes and hands each full chunk, in base64, to put;
// Close hands over the rest. Close always puts at least one chunk, so that
// a complete backup has rows even when its content is empty. Its two
// buffers are reused from chunk to chunk: a backup makes no garbage here.
type ChunkWriter struct {
	put  func(seq int64, data []byte) error
	buf  []byte
	b64  []byte
	seq  int64
	size int64
	err  error // the first error of put: every later call returns it
}

// NewChunkWriter returns a ChunkWriter that stores chunks with put, seq
// 0, 1, 2, ...; data, base64 text, is only valid until put returns.
func NewChunkWriter(put func(seq int64, data []byte) error) *ChunkWriter {
	return &ChunkWriter{put: put, buf: make([]byte, 0, ChunkSize), b64: make([]byte, 0, base64.StdEncoding.EncodedLen(ChunkSize))}
}

// Write implements io.Writer.
func (w *ChunkWriter) Write(p []byte) (int, error) {
	n := 0
	for w.err == nil && len(p) > 0 {
		c := copy(w.buf[len(w.buf):cap(w.buf)], p)
		w.buf, p, n = w.buf[:len(w.buf)+c], p[c:], n+c
		if len(w.buf) == cap(w.buf) {
			w.flush()
		}
	}
	return n, w.err
}

// flush puts the buffered chunk.
func (w *ChunkWriter) flush() {
	w.b64 = base64.StdEncoding.AppendEncode(w.b64[:0], w.buf)
	w.err = w.put(w.seq, w.b64)
	w.size += int64(len(w.buf))
	w.seq++
	w.buf = w.buf[:0]
}

// Close puts what is buffered, or an empty chunk if nothing was ever put.
func (w *ChunkWriter) Close() error {
	if w.err == nil && (len(w.buf) > 0 || w.seq == 0) {
		w.flush()
	}
	return w.err
}

// Size returns the bytes written.
func (w *ChunkWriter) Size() int64 { return w.size + int64(len(w.buf)) }

// ChunkReader reads backup content back from its rows: next returns the
// base64 data of the next row, and ok false after the last.
type ChunkReader struct {
	next func() (data []byte, ok bool, err error)
	buf  []byte // decoded, not yet read
	dec  []byte // buf's array, reused
	err  error
}

// NewChunkReader returns an io.Reader over the rows next returns. The
// data next returns may be reused by it once next is called again.
func NewChunkReader(next func() (data []byte, ok bool, err error)) *ChunkReader {
	return &ChunkReader{next: next}
}

// Read implements io.Reader.
func (r *ChunkReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 && r.err == nil {
		data, ok, err := r.next()
		switch {
		case err != nil:
			r.err = err
		case !ok:
			r.err = io.EOF
		default:
			r.dec = r.dec[:0]
			r.dec, r.err = base64.StdEncoding.AppendDecode(r.dec, data)
			r.buf = r.dec
		}
	}
	if len(r.buf) == 0 {
		return 0, r.err
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}
