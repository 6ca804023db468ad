package logbuf

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devapi-dev/devapi/internal/cputime"
)

// file is the underlying writer: it keeps what reaches it and counts the
// writes (the system calls a real file would take).
type file struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (f *file) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes++
	return f.buf.Write(p)
}

func (f *file) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.buf.String()
}

func (f *file) Writes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writes
}

// never is a delay no test waits for.
const never = time.Hour

// TestLinesKeepTheirOrder: lines written from several goroutines reach
// the file whole, each goroutine's in its order, and in one write when
// nothing forces one earlier.
func TestLinesKeepTheirOrder(t *testing.T) {
	var f file
	b := New(&f, never)
	const writers, lines = 8, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range lines {
				fmt.Fprintf(b, "writer=%d line=%d\n", w, i)
			}
		})
	}
	wg.Wait()
	if got := f.String(); got != "" {
		t.Fatalf("lines reached the file before their delay, a flush or Close: %q", got)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	checkLines(t, f.String(), writers, lines)
	if n := f.Writes(); n != 1 {
		t.Errorf("%d lines took %d writes, want 1", writers*lines, n)
	}
}

// checkLines fails unless got holds every writer's lines once, whole and
// in order.
func checkLines(t *testing.T, got string, writers, lines int) {
	t.Helper()
	next := make([]int, writers)
	for line := range strings.Lines(got) {
		var w, i int
		if _, err := fmt.Sscanf(line, "writer=%d line=%d\n", &w, &i); err != nil || w < 0 || w >= writers {
			t.Fatalf("a broken line %q: %v", line, err)
		}
		if i != next[w] {
			t.Fatalf("writer %d: line %d after line %d", w, i, next[w]-1)
		}
		next[w]++
	}
	for w, n := range next {
		if n != lines {
			t.Errorf("writer %d: %d lines reached the file, want %d", w, n, lines)
		}
	}
}

// TestLinesArriveAfterTheDelay: a line reaches the file without a flush,
// once its delay passed.
func TestLinesArriveAfterTheDelay(t *testing.T) {
	var f file
	b := New(&f, 10*time.Millisecond)
	defer func() { _ = b.Close() }()
	for round := range 3 {
		line := fmt.Sprintf("round %d\n", round)
		if _, err := b.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); !strings.HasSuffix(f.String(), line); {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: the line did not reach the file within 10 s of a 10 ms delay: %q", round, f.String())
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// TestWarningsAtOnce: a warning or an error logged through Handler reaches
// the file before the log call returns, after the lines before it; an
// info line waits.
func TestWarningsAtOnce(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			var f file
			b := New(&f, never)
			defer func() { _ = b.Close() }()
			h := slog.Handler(slog.NewTextHandler(b, nil))
			if format == "json" {
				h = slog.NewJSONHandler(b, nil)
			}
			log := slog.New(b.Handler(h)).With("with", "attr").WithGroup("group")
			log.Info("first")
			if got := f.String(); got != "" {
				t.Fatalf("an info line reached the file at once: %q", got)
			}
			log.Warn("second")
			got := f.String()
			if first, second := strings.Index(got, "first"), strings.Index(got, "second"); first < 0 || second < first {
				t.Fatalf("after a warning the file holds %q, want the info line, then the warning", got)
			}
			log.Info("third")
			log.Error("fourth")
			if got := f.String(); !strings.Contains(got, "third") || !strings.Contains(got, "fourth") {
				t.Fatalf("after an error the file holds %q", got)
			}
			if !strings.Contains(f.String(), "with") {
				t.Errorf("With's attributes lost: %q", f.String())
			}
		})
	}
}

// TestCloseWritesOutAndThrough: Close writes out what waits; a line
// written after Close reaches the file at once, after it; a second Close
// does nothing.
func TestCloseWritesOutAndThrough(t *testing.T) {
	var f file
	b := New(&f, never)
	_, _ = b.Write([]byte("before\n"))
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if got := f.String(); got != "before\n" {
		t.Fatalf("after Close the file holds %q", got)
	}
	_, _ = b.Write([]byte("after\n"))
	if got := f.String(); got != "before\nafter\n" {
		t.Fatalf("a line after Close: the file holds %q", got)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if got := f.String(); got != "before\nafter\n" {
		t.Fatalf("after a second Close the file holds %q", got)
	}
}

// TestFullBufferWritesAtOnce: lines past maxBuffered are written out
// without waiting for the delay.
func TestFullBufferWritesAtOnce(t *testing.T) {
	var f file
	b := New(&f, never)
	defer func() { _ = b.Close() }()
	line := strings.Repeat("x", 1023) + "\n"
	for range maxBuffered / len(line) {
		_, _ = b.Write([]byte(line))
	}
	if n := len(f.String()); n != maxBuffered {
		t.Fatalf("after %d bytes the file holds %d, want all of them", maxBuffered, n)
	}
}

// TestConcurrentFlushes: writers, flushes and the delay's own flushes at
// once lose no line and keep each writer's order (run it with -race).
func TestConcurrentFlushes(t *testing.T) {
	var f file
	b := New(&f, time.Millisecond)
	const writers, lines = 4, 500
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range lines {
				fmt.Fprintf(b, "writer=%d line=%d\n", w, i)
				if i%50 == 0 {
					_ = b.Flush()
				}
			}
		})
	}
	wg.Wait()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	checkLines(t, f.String(), writers, lines)
}

// BenchmarkRequestLine measures one request log line as devapi serve
// writes it (slog's TextHandler), straight to a file ("file", a write
// system call per line) and through a Writer ("buffered"), in the
// process's CPU time per line, the kernel's included.
func BenchmarkRequestLine(b *testing.B) {
	for _, buffered := range []bool{false, true} {
		name := "file"
		if buffered {
			name = "buffered"
		}
		b.Run(name, func(b *testing.B) {
			out, err := os.Create(filepath.Join(b.TempDir(), "log"))
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = out.Close() }()
			var w io.Writer = out
			var buf *Writer
			if buffered {
				buf = New(out, 0)
				defer func() { _ = buf.Close() }()
				w = buf
			}
			h := slog.Handler(slog.NewTextHandler(w, nil))
			if buffered {
				h = buf.Handler(h)
			}
			ctx := context.Background()
			b.ReportAllocs()
			cpu0, cpuOK := cputime.Process()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
					r.AddAttrs(slog.String("request_id", "0123456789abcdef"), slog.String("method", "POST"),
						slog.String("path", "/v2/redis/reset-password/2b1f6c1e-9d7a-4c1e-8f51-0c1d2e3f4a5b"),
						slog.Int("status", 200), slog.Int("bytes", 1630), slog.Duration("duration", 123456*time.Nanosecond),
						slog.String("account", "bench@example.com"))
					_ = h.Handle(ctx, r)
				}
			})
			if cpu1, ok := cputime.Process(); cpuOK && ok {
				b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
			}
		})
	}
}
