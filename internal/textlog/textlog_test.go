package textlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/devapi-dev/devapi/internal/cputime"
)

// when is a record's time with a monotonic reading and nanoseconds slog
// truncates.
var when = time.Date(2026, 12, 2, 14, 42, 18, 123456789, time.UTC)

// requestRecord is the line server.(*Server).logRequest logs for a reset.
func requestRecord(t time.Time) slog.Record {
	r := slog.NewRecord(t, slog.LevelInfo, "request", 0)
	r.AddAttrs(
		slog.String("request_id", "9f86d081884c7d65"),
		slog.String("method", "POST"),
		slog.String("path", "/v2/redis/reset-password/6a1f6f0e-8a8c-4f3e-9d8a-3c1b2a0f9e7d"),
		slog.Int("status", 200),
		slog.Int("bytes", 912),
		slog.Duration("duration", 123456*time.Nanosecond),
		slog.String("account", "devapi-load@example.com"),
	)
	return r
}

// derivation makes a handler from another, as a logger's With and
// WithGroup do.
type derivation func(slog.Handler) slog.Handler

func withAttrs(as ...slog.Attr) derivation {
	return func(h slog.Handler) slog.Handler { return h.WithAttrs(as) }
}

func withGroup(name string) derivation {
	return func(h slog.Handler) slog.Handler { return h.WithGroup(name) }
}

// requireSame hands each record to slog.NewTextHandler and to NewHandler,
// both given opts and derived by ds, and fails unless they wrote the
// same bytes in the same number of writes.
func requireSame(tb testing.TB, opts *slog.HandlerOptions, ds []derivation, records ...slog.Record) {
	tb.Helper()
	var want, got countingWriter
	hw, hg := slog.Handler(slog.NewTextHandler(&want, opts)), NewHandler(&got, opts)
	for _, d := range ds {
		hw, hg = d(hw), d(hg)
	}
	ctx := context.Background()
	for _, r := range records {
		for _, l := range []slog.Level{slog.LevelDebug, slog.LevelInfo, r.Level, slog.LevelError} {
			if hw.Enabled(ctx, l) != hg.Enabled(ctx, l) {
				tb.Fatalf("Enabled(%v) = %v, slog's %v", l, hg.Enabled(ctx, l), hw.Enabled(ctx, l))
			}
		}
		errW, errG := hw.Handle(ctx, r.Clone()), hg.Handle(ctx, r.Clone())
		if (errW == nil) != (errG == nil) {
			tb.Fatalf("Handle: %v, slog's %v", errG, errW)
		}
	}
	if !bytes.Equal(got.buf.Bytes(), want.buf.Bytes()) {
		tb.Fatalf("wrote\n%q\nslog wrote\n%q", got.buf.Bytes(), want.buf.Bytes())
	}
	if got.writes != want.writes {
		tb.Fatalf("%d writes, slog %d", got.writes, want.writes)
	}
}

type countingWriter struct {
	buf    bytes.Buffer
	writes int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes++
	return w.buf.Write(p)
}

func record(t time.Time, level slog.Level, msg string, as ...slog.Attr) slog.Record {
	r := slog.NewRecord(t, level, msg, 0)
	r.AddAttrs(as...)
	return r
}

// textValue has a MarshalText, which slog's text handler writes.
type textValue string

func (v textValue) MarshalText() ([]byte, error) { return []byte("text:" + v), nil }

// lazy is a LogValuer.
type lazy struct{ v slog.Value }

func (l lazy) LogValue() slog.Value { return l.v }

// strs holds what slog quotes and what it does not.
var strs = []string{
	"", "plain", "with space", "a=b", `say "hi"`, `back\slash`, "tab\there", "nl\n", "nul\x00",
	"del\x7f", "bell\a", "invalid\xff", "cut\xe2\x82", "\ufffd", "é", "日本", "nbsp\u00a0", "em\u2003space",
	"line\u2028sep", "zw\u200bsp", "bom\ufeff", "private\ue000", "emoji🙂", "C1\u0085", "soft\u00adhyphen",
	"-", "=", `"`, "#%&'()*+,-./:;<>?@[]^_`{|}~",
}

func TestMatchesSlog(t *testing.T) {
	zones := []*time.Location{time.UTC, time.FixedZone("IST", 5*3600+1800), time.FixedZone("odd", -(3*3600 + 17)), time.FixedZone("", 0)}
	var times []time.Time
	for _, z := range zones {
		times = append(times, when.In(z))
	}
	times = append(times,
		time.Now(), // with a monotonic reading
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 999999999, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 999500000, time.UTC),
		time.Date(12345, 6, 7, 8, 9, 10, 11, time.UTC),
		time.Date(-42, 6, 7, 8, 9, 10, 11, time.UTC),
		time.Date(2262, 4, 12, 0, 0, 0, 0, time.UTC), // past what UnixNano holds
		time.Unix(0, 0).In(time.Local),
		time.Date(0, 12, 31, 23, 59, 59, 999600000, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		when.Add(time.Millisecond),
		when.Add(876543210),
	)
	var strAttrs, valueAttrs []slog.Attr
	for i, s := range strs {
		strAttrs = append(strAttrs, slog.String(s, strs[len(strs)-1-i]))
	}
	valueAttrs = append(valueAttrs,
		slog.Int("int", 0), slog.Int64("min", math.MinInt64), slog.Int64("max", math.MaxInt64), slog.Int("neg", -17),
		slog.Uint64("umax", math.MaxUint64), slog.Uint64("u", 42),
		slog.Float64("f", 1.5), slog.Float64("big", 1e21), slog.Float64("small", 1e-7), slog.Float64("nan", math.NaN()),
		slog.Float64("inf", math.Inf(1)), slog.Float64("-inf", math.Inf(-1)), slog.Float64("negzero", math.Copysign(0, -1)),
		slog.Bool("t", true), slog.Bool("f", false),
		slog.Duration("d0", 0), slog.Duration("ns", 7), slog.Duration("us", 123456), slog.Duration("ms", 1500*time.Millisecond),
		slog.Duration("h", 49*time.Hour+time.Second), slog.Duration("neg", -time.Minute), slog.Duration("min", math.MinInt64),
		slog.Duration("max", math.MaxInt64),
		slog.Time("zero", time.Time{}),
	)
	for i, tm := range times {
		valueAttrs = append(valueAttrs, slog.Time(fmt.Sprint("t", i), tm))
	}
	// Attributes the fast path hands to slog.
	slowAttrs := []slog.Attr{
		{},
		slog.Any("", nil),
		slog.Any("nil", nil),
		slog.Any("err", errors.New("it broke = badly")),
		slog.Any("text", textValue("a b")),
		slog.Any("bytes", []byte("raw \x00 bytes")),
		slog.Any("struct", struct{ A, B int }{1, 2}),
		slog.Any("level", slog.LevelWarn),
		slog.Any("lazy", lazy{slog.StringValue("resolved")}),
		slog.Any("lazyint", lazy{slog.IntValue(3)}),
		slog.Group("g", slog.Int("a", 1), slog.String("b", "two words")),
		slog.Group("", slog.Int("inlined", 1)),
		slog.Group("empty"),
		slog.Any("nilptr", (*textValue)(nil)),
	}

	type tc struct {
		name    string
		opts    *slog.HandlerOptions
		derive  []derivation
		records []slog.Record
	}
	tests := []tc{
		{name: "request", records: []slog.Record{requestRecord(when), requestRecord(time.Now())}},
		{name: "same second", records: []slog.Record{requestRecord(when), requestRecord(when.Add(time.Millisecond)),
			requestRecord(when.Add(-time.Millisecond)), requestRecord(when.In(time.FixedZone("", 3600))), requestRecord(when.Add(876 * time.Millisecond))}},
		{name: "no attrs", records: []slog.Record{record(when, slog.LevelInfo, "hello")}},
		{name: "zero time", records: []slog.Record{record(time.Time{}, slog.LevelInfo, "no time", slog.Int("a", 1))}},
		{name: "empty message", records: []slog.Record{record(when, slog.LevelWarn, "")}},
		{name: "many attrs", records: []slog.Record{record(when, slog.LevelInfo, "m", valueAttrs...)}},
		{name: "strings", records: []slog.Record{record(when, slog.LevelInfo, "s", strAttrs...)}},
		{name: "with attrs", derive: []derivation{withAttrs(slog.String("component", "api"), slog.Int("n", 1)), withAttrs(strAttrs...)},
			records: []slog.Record{record(when, slog.LevelInfo, "x"), requestRecord(when)}},
		{name: "with no attrs", derive: []derivation{withAttrs()}, records: []slog.Record{requestRecord(when)}},
		{name: "with empty group", derive: []derivation{withAttrs(slog.Group("none"))}, records: []slog.Record{requestRecord(when)}},
		{name: "with group", derive: []derivation{withGroup("g")}, records: []slog.Record{requestRecord(when), record(when, slog.LevelInfo, "none")}},
		{name: "with empty-named group", derive: []derivation{withGroup("")}, records: []slog.Record{requestRecord(when)}},
		{name: "attrs in groups", derive: []derivation{withAttrs(slog.Int("top", 1)), withGroup("a b"), withAttrs(slog.String("k", "v")), withGroup("c")},
			records: []slog.Record{requestRecord(when), record(when, slog.LevelInfo, "none")}},
		{name: "with slow attrs", derive: []derivation{withAttrs(slog.Any("err", errors.New("e")))}, records: []slog.Record{requestRecord(when)}},
		{name: "with empty attr", derive: []derivation{withAttrs(slog.Attr{})}, records: []slog.Record{requestRecord(when)}},
		{name: "level option", opts: &slog.HandlerOptions{Level: slog.LevelWarn},
			records: []slog.Record{record(when, slog.LevelWarn, "w"), record(when, slog.LevelError+4, "e")}},
		{name: "level var", opts: &slog.HandlerOptions{Level: new(slog.LevelVar)}, records: []slog.Record{requestRecord(when)}},
		{name: "replace attr", opts: &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}, records: []slog.Record{requestRecord(when)}},
		{name: "add source", opts: &slog.HandlerOptions{AddSource: true}, records: []slog.Record{requestRecord(when)}},
	}
	var levels []slog.Record
	for _, l := range []slog.Level{slog.LevelDebug - 4, slog.LevelDebug, -1, slog.LevelInfo, 2, slog.LevelWarn, 7, slog.LevelError, slog.LevelError + 100, math.MinInt32, math.MaxInt32} {
		levels = append(levels, record(when, l, "lvl"))
	}
	tests = append(tests, tc{name: "levels", records: levels})
	for i, s := range strs {
		tests = append(tests, tc{name: fmt.Sprint("message ", i), records: []slog.Record{record(when, slog.LevelInfo, s, slog.String("v", s))}})
	}
	for _, a := range slowAttrs {
		// Before and after attributes the fast path formats: the line
		// it had begun is dropped.
		tests = append(tests, tc{name: "slow " + a.Key, records: []slog.Record{
			record(when, slog.LevelInfo, "slow", a),
			record(when, slog.LevelInfo, "slow", slog.Int("before", 1), a, slog.Int("after", 2)),
		}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			requireSame(t, tt.opts, tt.derive, tt.records...)
		})
	}
}

// TestFastPath: the lines devapi logs are formatted here, not by slog's
// handler, and a record that cannot be is not.
func TestFastPath(t *testing.T) {
	h := NewHandler(io.Discard, nil).(*handler)
	if _, ok := h.appendRecord(nil, requestRecord(when)); !ok {
		t.Error("the request line goes to slog's handler")
	}
	with := h.WithAttrs([]slog.Attr{slog.String("via", "proxy")}).(*handler)
	if _, ok := with.appendRecord(nil, requestRecord(when)); !ok || !with.fast {
		t.Error("a handler with string attributes sends the request line to slog's handler")
	}
	if _, ok := h.appendRecord(nil, record(when, slog.LevelInfo, "x", slog.Any("err", errors.New("e")))); ok {
		t.Error("an error attribute is formatted by the fast path")
	}
	if h.WithGroup("g").(*handler).fast {
		t.Error("a handler with a group takes the fast path")
	}
	if h.WithAttrs([]slog.Attr{slog.Group("g", slog.Int("a", 1))}).(*handler).fast {
		t.Error("a handler with a group attribute takes the fast path")
	}
	if _, ok := NewHandler(io.Discard, &slog.HandlerOptions{AddSource: true}).(*slog.TextHandler); !ok {
		t.Error("AddSource: not slog's handler")
	}
	r := requestRecord(time.Now())
	if allocs := testing.AllocsPerRun(100, func() { _ = h.Handle(context.Background(), r) }); allocs != 0 {
		t.Errorf("%v allocations per request line, want 0", allocs)
	}
}

// TestWithAttrsLeavesParent: handlers derived from one parent keep their
// own attributes, and the parent its.
func TestWithAttrsLeavesParent(t *testing.T) {
	var b bytes.Buffer
	parent := NewHandler(&b, nil).WithAttrs([]slog.Attr{slog.String("a", "1")})
	left := parent.WithAttrs([]slog.Attr{slog.String("b", "l")})
	right := parent.WithAttrs([]slog.Attr{slog.String("b", "r")})
	for _, h := range []slog.Handler{left, right, parent} {
		_ = h.Handle(context.Background(), record(time.Time{}, slog.LevelInfo, "m"))
	}
	want := "level=INFO msg=m a=1 b=l\nlevel=INFO msg=m a=1 b=r\nlevel=INFO msg=m a=1\n"
	if b.String() != want {
		t.Errorf("wrote\n%s\nwant\n%s", b.String(), want)
	}
}

// exclusiveWriter fails the test when two writes overlap, and keeps each
// write, unguarded, for the race detector to see overlapping writes too.
type exclusiveWriter struct {
	in      atomic.Int32
	overlap atomic.Bool
	writes  []string
}

func (w *exclusiveWriter) Write(p []byte) (int, error) {
	if w.in.Add(1) != 1 {
		w.overlap.Store(true)
	}
	runtime.Gosched() // let another writer in, if it can get in
	w.writes = append(w.writes, string(p))
	w.in.Add(-1)
	return len(p), nil
}

// TestConcurrentWritesAreSerialized: handlers derived from one NewHandler,
// on the fast path and slog's, never write at once, and each line arrives
// whole in one write.
func TestConcurrentWritesAreSerialized(t *testing.T) {
	writers := []struct {
		derive derivation
		record slog.Record
	}{
		{nil, requestRecord(when)},
		{nil, record(when, slog.LevelError, "slow", slog.Any("err", errors.New("boom")))},
		{withAttrs(slog.String("via", "proxy")), requestRecord(when)},
		{withGroup("g"), requestRecord(when)},
		{withAttrs(slog.Any("err", errors.New("e"))), requestRecord(when)},
	}
	var w exclusiveWriter
	root := NewHandler(&w, nil)
	// want counts the lines each writer writes, as slog writes them.
	want := make(map[string]int)
	const lines = 200
	for _, wr := range writers {
		var b countingWriter
		h := slog.Handler(slog.NewTextHandler(&b, nil))
		if wr.derive != nil {
			h = wr.derive(h)
		}
		_ = h.Handle(context.Background(), wr.record)
		want[b.buf.String()] += lines
	}
	var wg sync.WaitGroup
	for _, wr := range writers {
		h := root
		if wr.derive != nil {
			h = wr.derive(root)
		}
		wg.Go(func() {
			for range lines {
				_ = h.Handle(context.Background(), wr.record.Clone())
			}
		})
	}
	wg.Wait()
	if w.overlap.Load() {
		t.Fatal("two writes at once")
	}
	got := make(map[string]int)
	for _, line := range w.writes {
		got[line]++
	}
	if !maps.Equal(got, want) {
		t.Fatalf("wrote (line: times)\n%v\nwant\n%v", got, want)
	}
}

// FuzzTextHandlerMatchesSlog feeds the same records to NewHandler and to
// slog.NewTextHandler and requires the same bytes.
func FuzzTextHandlerMatchesSlog(f *testing.F) {
	for i, s := range strs {
		f.Add(s, strs[(i+1)%len(strs)], strs[(i+7)%len(strs)], int64(i)-3, uint64(i)<<60, float64(i)/3, i%2 == 0,
			int64(i)*123456789, when.UnixNano()+int64(i)*999_999, int32(i*1800-7*3600), int64(i*3-4), uint8(i*37))
	}
	f.Add("request", "path", "/v2/redis/reset-password/x", int64(200), uint64(912), 0.0, true, int64(123456), int64(0), int32(0), int64(0), uint8(0))
	f.Add("", "", "", int64(math.MinInt64), uint64(math.MaxUint64), math.Inf(-1), false, int64(math.MinInt64), int64(math.MaxInt64), int32(-86399), int64(math.MinInt64), uint8(255))
	f.Fuzz(func(t *testing.T, msg, key, s string, i int64, u uint64, fl float64, bl bool, d, tn int64, offset int32, level int64, shape uint8) {
		zone := time.FixedZone(s, int(offset%(26*3600)))
		tm := time.Unix(0, tn).In(zone)
		rt := tm
		if shape&1 != 0 {
			rt = time.Time{}
		}
		attrs := []slog.Attr{
			slog.String(key, s), slog.Int64(s, i), slog.Uint64("u", u), slog.Float64("f", fl), slog.Bool(msg, bl),
			slog.Duration("d", time.Duration(d)), slog.Time("t", tm), slog.String(key+"="+s, msg),
		}
		if shape&2 != 0 {
			attrs = attrs[:shape>>5] // fewer than slog.Record's inline five, or more
		}
		if shape&4 != 0 {
			attrs = append(attrs, slog.Any(key, s)) // kind String: fast
		}
		if shape&8 != 0 {
			attrs = append(attrs, slog.Any(key, []byte(s))) // slog's
		}
		var ds []derivation
		if shape&16 != 0 {
			ds = append(ds, withAttrs(slog.String(s, key), slog.Int("n", int(i))))
		}
		if shape&32 != 0 {
			ds = append(ds, withGroup(key))
		}
		if shape&64 != 0 {
			ds = append(ds, withAttrs(slog.Duration(msg, time.Duration(i))))
		}
		r := record(rt, slog.Level(level), msg, attrs...)
		requireSame(t, nil, ds, r, requestRecord(tm))
	})
}

// BenchmarkRequestLine formats the request line with slog's TextHandler
// and with this package's. cpu-ns/op is the process's CPU time per line,
// which other processes on a busy machine inflate less than ns/op.
func BenchmarkRequestLine(b *testing.B) {
	for _, bc := range []struct {
		name string
		h    slog.Handler
	}{
		{"slog", slog.NewTextHandler(io.Discard, nil)},
		{"textlog", NewHandler(io.Discard, nil)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			r := requestRecord(time.Now())
			b.ReportAllocs()
			cpu0, cpuOK := cputime.Process()
			for b.Loop() {
				_ = bc.h.Handle(ctx, r)
			}
			if cpu1, ok := cputime.Process(); ok && cpuOK {
				b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
			}
		})
	}
}
