package restapi

import (
	"encoding/base64"
	"errors"
	"github.com/devapi-dev/devapi/internal/jsonesc"
	"io"
)

// Why an answer could not be built. Once one of these happened, every later
// write to the answer fails with it.
var (
	errTooLarge = errors.New("answer over the size limit")
	errNoRoom   = errors.New("no room in flight for the answer")
	errTooDeep  = errors.New("reply nested too deep")
)

// Chunk sizes of an answer: small answers stay small, large ones grow by
// doubling up to maxChunk and never copy what they hold.
const (
	minChunk = 4 << 10
	maxChunk = 1 << 20
)

// answer is a JSON answer being built, held until it is complete so that an
// answer that turns out too large can still be replaced by an error. It
// grows in chunks, never past its limit, and holds every chunk's bytes in
// flight (ticket.reserve) before allocating it.
type answer struct {
	t      *ticket
	limit  int64
	chunks [][]byte
	size   int64
	err    error // errTooLarge or errNoRoom, once hit
}

// write appends p.
func (a *answer) write(p []byte) error {
	if a.err != nil {
		return a.err
	}
	if a.size+int64(len(p)) > a.limit {
		a.err = errTooLarge
		return a.err
	}
	for len(p) > 0 {
		var last []byte
		if n := len(a.chunks); n > 0 {
			last = a.chunks[n-1]
		}
		if len(last) == cap(last) {
			size := int64(minChunk)
			if last != nil {
				size = min(2*int64(cap(last)), maxChunk)
			}
			size = max(min(size, a.limit-a.size), int64(len(p)))
			size = min(size, maxChunk)
			if !a.t.reserve(size) {
				a.err = errNoRoom
				return a.err
			}
			last = make([]byte, 0, size)
			a.chunks = append(a.chunks, last)
		}
		n := min(len(p), cap(last)-len(last))
		a.chunks[len(a.chunks)-1] = append(last, p[:n]...)
		a.size += int64(n)
		p = p[n:]
	}
	return nil
}

// writeTo sends the answer to w.
func (a *answer) writeTo(w io.Writer) error {
	for _, c := range a.chunks {
		if _, err := w.Write(c); err != nil {
			return err
		}
	}
	return nil
}

// encoder writes JSON into an answer, through a buffer of its own.
type encoder struct {
	out *answer
	buf []byte
	b64 bool // Upstash-Encoding: base64: strings but OK are base64-encoded
}

// flushAt is the size at which the encoder's buffer goes to the answer.
const flushAt = 32 << 10

func (e *encoder) raw(s string) {
	e.buf = append(e.buf, s...)
	e.spill()
}

// spill flushes the buffer when it is full, or when it would not fit in the
// answer: the answer's error then tells at once.
func (e *encoder) spill() {
	if len(e.buf) >= flushAt || e.out.size+int64(len(e.buf)) > e.out.limit {
		e.flush()
	}
}

// flush moves the buffer into the answer and reports the answer's error.
func (e *encoder) flush() error {
	err := e.out.write(e.buf)
	e.buf = e.buf[:0]
	return err
}

// stringPart writes part of a string's value, opened and closed by the
// caller with '"'. It returns how much of p it consumed: all of it when
// final, else it leaves what has to wait for the next part (the start of a
// UTF-8 sequence, or bytes past a multiple of 3 for base64).
func (e *encoder) stringPart(p []byte, b64, final bool) int {
	n := len(p)
	if b64 {
		if !final {
			n -= n % 3
		}
		e.buf = base64.StdEncoding.AppendEncode(e.buf, p[:n])
	} else {
		e.buf, n = jsonesc.Append(e.buf, p, final)
	}
	e.spill()
	return n
}

// str writes a whole string value.
func (e *encoder) str(p []byte) {
	e.raw(`"`)
	e.stringPart(p, e.b64 && string(p) != "OK", true)
	e.raw(`"`)
}
