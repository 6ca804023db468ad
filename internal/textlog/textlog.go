// Package textlog is a slog handler that writes the bytes
// slog.NewTextHandler writes, for less CPU: devapi serve logs a line per
// request, and slog's TextHandler spent ~3.5 µs on each (its generic
// state machine, a pooled prefix buffer, a dispatch per attribute).
//
// A record whose attributes are all strings, integers, floats, booleans,
// durations or times, logged through a handler without groups, is
// formatted here, by a port of slog's rules; anything else (groups,
// LogValuers, errors and other values of kind Any, ReplaceAttr,
// AddSource) goes to a slog.TextHandler on the same writer.
package textlog

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"
)

// NewHandler returns a handler that writes to w what
// slog.NewTextHandler(w, opts) would, byte for byte, one Write per record,
// never two at once. opts may be nil, as for slog.NewTextHandler.
func NewHandler(w io.Writer, opts *slog.HandlerOptions) slog.Handler {
	if opts == nil {
		opts = &slog.HandlerOptions{}
	}
	if opts.ReplaceAttr != nil || opts.AddSource {
		// Every attribute, the built-in ones too, may be rewritten
		// or added to: slog's own code does it.
		return slog.NewTextHandler(w, opts)
	}
	out := &output{w: w}
	return &handler{slow: slog.NewTextHandler(out, opts), out: out, level: opts.Level, fast: true}
}

// output is what a handler and every handler derived from it share: the
// writer, whose writes it serializes, fast and slow alike, as slog's
// handlers share a mutex; and the text of the last second a time was in.
type output struct {
	mu sync.Mutex
	w  io.Writer

	second atomic.Pointer[second]
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.w.Write(p)
}

// second is one second of one location as appendRFC3339Millis writes a
// time within it, milliseconds "000".
type second struct {
	unix int64
	loc  *time.Location
	text []byte // 2006-01-02T15:04:05.000Z07:00
}

// appendTime appends appendRFC3339Millis(b, t): the text of t's second,
// formatted once for all the lines logged in that second, with t's
// milliseconds put in.
func (o *output) appendTime(b []byte, t time.Time) []byte {
	// Where the milliseconds are after a four-digit year; a longer or
	// negative year moves them, and appendRFC3339Millis drops another
	// digit than the fourth (it drops the 24th byte).
	const millis = len("2006-01-02T15:04:05.")
	unix, loc := t.Unix(), t.Location()
	s := o.second.Load()
	if s == nil || s.unix != unix || s.loc != loc {
		// Truncated to the millisecond, t is in the same second: the
		// date, the clock and the zone's offset are those of the second.
		text := appendRFC3339Millis(nil, time.Unix(unix, 0).In(loc))
		if len(text) < millis+3 || text[millis-1] != '.' || string(text[millis:millis+3]) != "000" {
			return appendRFC3339Millis(b, t) // a year of more or fewer than four digits
		}
		s = &second{unix: unix, loc: loc, text: text}
		o.second.Store(s)
	}
	n := len(b)
	b = append(b, s.text...)
	ms := t.Nanosecond() / int(time.Millisecond)
	b[n+millis] = byte('0' + ms/100)
	b[n+millis+1] = byte('0' + ms/10%10)
	b[n+millis+2] = byte('0' + ms%10)
	return b
}

type handler struct {
	slow  slog.Handler // a slog.TextHandler on out, with the same attributes and groups
	out   *output      // shared by every handler derived from the same NewHandler
	level slog.Leveler // nil: slog.LevelInfo
	attrs []byte       // the attributes of WithAttrs, rendered, each after a space
	fast  bool         // false once WithGroup or an attribute appendAttr cannot render was added
}

func (h *handler) Enabled(_ context.Context, level slog.Level) bool {
	minLevel := slog.LevelInfo
	if h.level != nil {
		minLevel = h.level.Level()
	}
	return level >= minLevel
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	if !h.fast {
		return h.slow.Handle(ctx, r)
	}
	bp := bufPool.Get().(*[]byte)
	b, ok := h.appendRecord((*bp)[:0], r)
	if !ok {
		freeBuf(bp, b)
		return h.slow.Handle(ctx, r)
	}
	_, err := h.out.Write(b)
	freeBuf(bp, b)
	return err
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h // as slog: nothing changes
	}
	h2 := &handler{slow: h.slow.WithAttrs(attrs), out: h.out, level: h.level, fast: h.fast}
	if !h2.fast {
		return h2
	}
	b := h.attrs[:len(h.attrs):len(h.attrs)] // appends copy: h keeps its own
	for _, a := range attrs {
		var ok bool
		if b, ok = h.appendAttr(b, a); !ok {
			return &handler{slow: h2.slow, out: h.out, level: h.level}
		}
	}
	h2.attrs = b
	return h2
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{slow: h.slow.WithGroup(name), out: h.out, level: h.level}
}

// appendRecord appends r's line as slog's TextHandler writes it, with the
// newline, or reports false for a record it cannot render.
func (h *handler) appendRecord(b []byte, r slog.Record) ([]byte, bool) {
	// slog's commonHandler.handle, without ReplaceAttr and AddSource.
	if !r.Time.IsZero() {
		b = append(b, "time="...)
		b = h.out.appendTime(b, r.Time.Round(0))
		b = append(b, ' ')
	}
	b = append(b, "level="...)
	b = appendString(b, levelString(r.Level))
	b = append(b, " msg="...)
	b = appendString(b, r.Message)
	b = append(b, h.attrs...)
	ok := true
	r.Attrs(func(a slog.Attr) bool {
		b, ok = h.appendAttr(b, a)
		return ok
	})
	return append(b, '\n'), ok
}

// appendAttr appends a space and a's key=value, or reports false for an
// attribute it does not render: one whose value is of kind Any (which
// holds the empty Attr slog skips), Group or LogValuer.
func (h *handler) appendAttr(b []byte, a slog.Attr) ([]byte, bool) {
	// slog's appendTextValue and Value.append.
	switch v := a.Value; v.Kind() {
	case slog.KindString:
		b = appendString(appendKey(b, a.Key), v.String())
	case slog.KindInt64:
		b = strconv.AppendInt(appendKey(b, a.Key), v.Int64(), 10)
	case slog.KindUint64:
		b = strconv.AppendUint(appendKey(b, a.Key), v.Uint64(), 10)
	case slog.KindFloat64:
		b = strconv.AppendFloat(appendKey(b, a.Key), v.Float64(), 'g', -1, 64)
	case slog.KindBool:
		b = strconv.AppendBool(appendKey(b, a.Key), v.Bool())
	case slog.KindDuration:
		// String is inlined: its text stays on the stack.
		b = append(appendKey(b, a.Key), v.Duration().String()...)
	case slog.KindTime:
		b = h.out.appendTime(appendKey(b, a.Key), v.Time())
	default:
		return b, false
	}
	return b, true
}

// appendKey appends a space, key and '='.
func appendKey(b []byte, key string) []byte {
	b = append(b, ' ')
	b = appendString(b, key)
	return append(b, '=')
}

// levelString is l.String(), without building the common ones.
func levelString(l slog.Level) string {
	switch l {
	case slog.LevelDebug:
		return "DEBUG"
	case slog.LevelInfo:
		return "INFO"
	case slog.LevelWarn:
		return "WARN"
	case slog.LevelError:
		return "ERROR"
	}
	return l.String()
}

// appendString appends s, quoted when slog's text handler quotes it.
func appendString(b []byte, s string) []byte {
	if needsQuoting(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

// quoteASCII marks the ASCII bytes that make slog quote a string: the
// control characters, space, '"' and '=' (slog's needsQuoting: anything
// but a backslash that JSON escapes, and space and '='). DEL is not one.
var quoteASCII = func() (q [utf8.RuneSelf]bool) {
	for c := range q {
		q[c] = c < 0x20 || c == ' ' || c == '"' || c == '='
	}
	return q
}()

// needsQuoting is slog's: s is empty, or holds a byte of quoteASCII,
// invalid UTF-8 (or U+FFFD itself), a Unicode space or a rune that is not
// printable.
func needsQuoting(s string) bool {
	if len(s) < 8 {
		return len(s) == 0 || needsQuotingFrom(s, 0)
	}
	// Eight bytes at a time, the last eight for the rest, while they are
	// printable ASCII but for space, '"' and '='; slog's loop decides
	// from the first word that may not be.
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for i := 0; i < len(s); i += 8 {
		w := s[min(i, len(s)-8):][:8]
		x := uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
			uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
		// A byte's high bit is set in some term for (at least) a byte
		// below 0x21 (control or space), '"', '=' or a byte from 0x80:
		// "Determine if a word has a byte less than n" and "... has a
		// zero byte" (Sean Anderson, Bit Twiddling Hacks), exact for
		// a word without such a byte.
		quote, equals := x^('"'*ones), x^('='*ones)
		if ((x-0x21*ones)&^x|(quote-ones)&^quote|(equals-ones)&^equals|x)&highs != 0 {
			return needsQuotingFrom(s, i)
		}
	}
	return false
}

// needsQuotingFrom is slog's needsQuoting for s[i:], i at a rune's start.
func needsQuotingFrom(s string, i int) bool {
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if quoteASCII[c] {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}

// appendRFC3339Millis is slog's: RFC 3339 with exactly three digits of
// milliseconds, truncated.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	// Format according to time.RFC3339Nano since it is highly optimized,
	// but truncate it to use millisecond resolution.
	// Unfortunately, that format trims trailing 0s, so add 1/10 millisecond
	// to guarantee that there are exactly 4 digits after the period.
	const prefixLen = len("2006-01-02T15:04:05.000")
	n := len(b)
	t = t.Truncate(time.Millisecond).Add(time.Millisecond / 10)
	b = t.AppendFormat(b, time.RFC3339Nano)
	b = append(b[:n+prefixLen], b[n+prefixLen+1:]...) // drop the 4th digit
	return b
}

// bufPool holds the buffers lines are formatted in, as slog's does.
var bufPool = sync.Pool{New: func() any {
	b := make([]byte, 0, 1024)
	return &b
}}

// freeBuf returns b, the grown *bp, to the pool, unless it grew large.
func freeBuf(bp *[]byte, b []byte) {
	const maxBufferSize = 16 << 10
	if cap(b) > maxBufferSize {
		return
	}
	*bp = b[:0]
	bufPool.Put(bp)
}
