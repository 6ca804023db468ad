package embeddedplane

// Monitor (devapi.Monitorer): the front's hook sees every command of a
// database's clients before miniredis runs it, so it publishes each one, as
// a line of Redis's MONITOR output, to the database's monitors. Left out, as
// redis-server leaves them out: commands before AUTH other than AUTH and
// HELLO, and commands the command policy refuses. Also left out: devapi's own
// commands (they never reach the hook as a client's), and the commands a
// script runs (redis-server shows them as [0 lua]; here the EVAL or FCALL
// shows). A line longer than maxMonitorLine is cut, ending in "...".

import (
	"context"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alicebob/miniredis/v2/server"

	"github.com/devapi-dev/devapi"
)

const (
	// monitorBuffer is the lines a monitor may fall behind by before it is
	// ended.
	monitorBuffer = 1024
	// maxMonitorLine bounds one line: a command with a large value is cut.
	maxMonitorLine = 64 << 10
)

var _ devapi.Monitorer = (*Plane)(nil)

// monitorHub is a front's monitors. The zero value has none.
type monitorHub struct {
	n    atomic.Int32 // monitors registered: the hook's fast path when 0
	mu   sync.Mutex
	subs map[*monitorSub]struct{}
}

// monitorSub is one monitor's queue.
type monitorSub struct {
	lines    chan string
	lost     chan struct{} // closed when the monitor fell behind
	lostOnce sync.Once
}

func (h *monitorHub) add() *monitorSub {
	sub := &monitorSub{lines: make(chan string, monitorBuffer), lost: make(chan struct{})}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs == nil {
		h.subs = map[*monitorSub]struct{}{}
	}
	h.subs[sub] = struct{}{}
	h.n.Add(1)
	return sub
}

func (h *monitorHub) remove(sub *monitorSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, sub)
	h.n.Add(-1)
}

// publish shows a client's command to the monitors; the hook calls it with
// the peer's state, before miniredis runs the command. It never blocks: a
// monitor whose queue is full is ended.
func (h *monitorHub) publish(c *server.Peer, st *peerState, cmd string, args []string) {
	if h.n.Load() == 0 {
		return
	}
	if !st.conn.authed.Load() && cmd != "AUTH" && cmd != "HELLO" {
		return // redis-server answers NOAUTH without running it
	}
	if devapi.CommandRefused(append([]string{cmd}, args...)) != "" {
		return
	}
	line := monitorLine(time.Now(), peerDB(c), st.conn.raw.RemoteAddr().String(), cmd, args)
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs {
		select {
		case sub.lines <- line:
		default:
			sub.lostOnce.Do(func() { close(sub.lost) })
		}
	}
}

// Monitor implements devapi.Monitorer. It ends with EUNAVAILABLE when the
// database moves to another listener or stops.
func (p *Plane) Monitor(ctx context.Context, id string, emit func(line string) error) error {
	d, err := p.get(id)
	if err != nil {
		return err
	}
	d.mu.Lock()
	f := d.front
	d.mu.Unlock()
	if f.stopped() {
		return devapi.Errorf(devapi.EUNAVAILABLE, "database %s is not serving", id)
	}
	sub := f.monitors.add()
	defer f.monitors.remove(sub)
	if err := emit("OK"); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-f.done:
			return devapi.Errorf(devapi.EUNAVAILABLE, "database %s stopped serving", id)
		case <-sub.lost:
			return devapi.Errorf(devapi.EUNAVAILABLE, "the monitor of database %s fell behind", id)
		case line := <-sub.lines:
			if err := emit(line); err != nil {
				return err
			}
		}
	}
}

// monitorLine is one line of MONITOR's output, without "+" and CRLF:
// `<unix time with µs> [<db> <client address>] "CMD" "arg" ...`, with
// passwords redacted as Redis 7 redacts them.
func monitorLine(now time.Time, db int, addr, cmd string, args []string) string {
	b := make([]byte, 0, 64)
	b = strconv.AppendInt(b, now.Unix(), 10)
	b = append(b, '.')
	us := now.Nanosecond() / 1000
	for d := 100000; d > 1 && us < d; d /= 10 {
		b = append(b, '0')
	}
	b = strconv.AppendInt(b, int64(us), 10)
	b = append(b, " ["...)
	b = strconv.AppendInt(b, int64(db), 10)
	b = append(b, ' ')
	b = append(b, addr...)
	b = append(b, ']')
	redact := redacted(cmd, args)
	b = appendRepr(append(b, ' '), cmd)
	for i, a := range args {
		if len(b) > maxMonitorLine {
			break
		}
		if redact[i] {
			a = "(redacted)"
		}
		b = appendRepr(append(b, ' '), a)
	}
	if len(b) > maxMonitorLine {
		b = append(b[:maxMonitorLine-3], "..."...)
	}
	return string(b)
}

// redacted says which of args Redis 7 shows as "(redacted)": AUTH's
// arguments, and HELLO's AUTH username and password.
func redacted(cmd string, args []string) []bool {
	r := make([]bool, len(args))
	switch cmd {
	case "AUTH":
		for i := range r {
			r[i] = true
		}
	case "HELLO":
		for i := 1; i < len(args); i++ {
			switch {
			case equalFold(args[i], "AUTH") && i+2 < len(args):
				r[i+1], r[i+2] = true, true
				i += 2
			case equalFold(args[i], "SETNAME") && i+1 < len(args):
				i++
			}
		}
	}
	return r
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// appendRepr appends s quoted as Redis's sdscatrepr quotes it.
func appendRepr(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s) && len(b) <= maxMonitorLine; i++ {
		switch c := s[i]; c {
		case '\\', '"':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\a':
			b = append(b, '\\', 'a')
		case '\b':
			b = append(b, '\\', 'b')
		default:
			if c >= 0x20 && c < 0x7f {
				b = append(b, c)
			} else {
				b = append(b, '\\', 'x', hex[c>>4], hex[c&0xf])
			}
		}
	}
	return append(b, '"')
}

// peerDB is the logical database c has selected. miniredis keeps it
// unexported in the peer's context; it is read (never written) by
// reflection, on the peer's own goroutine, and is 0 if miniredis changes
// its shape.
func peerDB(c *server.Peer) int {
	v := reflect.ValueOf(c.Ctx)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return 0
	}
	f := v.Elem().FieldByName("selectedDB")
	if !f.IsValid() || !f.CanInt() {
		return 0
	}
	return int(f.Int())
}
