package embeddedplane

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devapi-dev/devapi"
)

// monitorOf runs p.Monitor on id until the test ends; its lines arrive on
// the channel, and its result on the other once it returns.
func monitorOf(t *testing.T, p *Plane, id string, emit func(string) error) (<-chan string, <-chan error) {
	t.Helper()
	lines := make(chan string, 4096)
	if emit == nil {
		emit = func(line string) error { lines <- line; return nil }
	}
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Go(func() { res <- p.Monitor(ctx, id, emit) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	return lines, res
}

func nextLine(t *testing.T, lines <-chan string) string {
	t.Helper()
	select {
	case l := <-lines:
		return l
	case <-time.After(testTimeout):
		t.Fatal("no monitor line")
		return ""
	}
}

// TestMonitor: a monitor shows its database's commands from authenticated
// clients in MONITOR's format, with the selected database and the client's
// address, AUTH's and HELLO's passwords redacted; not what is sent before
// AUTH, not refused commands, not another database's.
func TestMonitor(t *testing.T) {
	p, _ := newTestPlane(t)
	a := serve(t, p, nil)
	b := serve(t, p, func(d *devapi.PlaneDatabase) { d.ID = "other" })
	lines, _ := monitorOf(t, p, "db", nil)
	if l := nextLine(t, lines); l != "OK" {
		t.Fatalf("first line %q, want OK", l)
	}
	c := dial(t, a.Port, nil)
	if got := c.do("GET", "before-auth"); !strings.HasPrefix(got, "-NOAUTH") {
		t.Fatalf("GET before AUTH: %q", got)
	}
	c.do("AUTH", "wrong")
	c.do("HELLO", "2", "AUTH", "default", "pw", "SETNAME", "app")
	c.do("SELECT", "2")
	c.do("SET", "k", "line\nbreak \"quoted\" \x01")
	c.do("CONFIG", "GET", "*")
	o := login(t, b.Port, nil)
	o.do("SET", "other-db-key", "x")
	c.do("PING")

	var got []string
	for {
		l := nextLine(t, lines)
		got = append(got, l)
		if strings.HasSuffix(l, `"PING"`) {
			break
		}
	}
	format := regexp.MustCompile(`^\d{10}\.\d{6} \[\d+ 127\.0\.0\.1:\d+\] "`)
	var rest []string
	for _, l := range got {
		if !format.MatchString(l) {
			t.Errorf("not a MONITOR line: %q", l)
		}
		_, after, _ := strings.Cut(l, "] ")
		db := l[strings.Index(l, "[")+1 : strings.Index(l, " 127")]
		rest = append(rest, db+" "+after)
	}
	want := []string{
		`0 "AUTH" "(redacted)"`,
		`0 "HELLO" "2" "AUTH" "(redacted)" "(redacted)" "SETNAME" "app"`,
		`0 "SELECT" "2"`,
		`2 "SET" "k" "line\nbreak \"quoted\" \x01"`,
		`2 "PING"`,
	}
	if strings.Join(rest, "\n") != strings.Join(want, "\n") {
		t.Errorf("monitor lines:\n%s\nwant:\n%s", strings.Join(rest, "\n"), strings.Join(want, "\n"))
	}
}

// TestMonitorFallsBehind: a monitor that does not take its lines is ended
// once it falls monitorBuffer lines behind; the database's clients are never
// held up by it.
func TestMonitorFallsBehind(t *testing.T) {
	p, _ := newTestPlane(t)
	a := serve(t, p, nil)
	release := make(chan struct{})
	var once sync.Once
	started := make(chan struct{})
	_, res := monitorOf(t, p, "db", func(string) error {
		once.Do(func() { close(started) })
		<-release
		return nil
	})
	<-started // blocked in its first emit, "OK"
	c := login(t, a.Port, nil)
	for range monitorBuffer + 10 {
		c.send("PING")
	}
	for range monitorBuffer + 10 {
		if got := c.read(); got != "+PONG" {
			t.Fatalf("PING = %q", got)
		}
	}
	close(release)
	select {
	case err := <-res:
		if devapi.ErrorCode(err) != devapi.EUNAVAILABLE || !strings.Contains(err.Error(), "fell behind") {
			t.Errorf("Monitor returned %v, want EUNAVAILABLE fell behind", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("a monitor that fell behind did not end")
	}
}

// TestMonitorEnds: a monitor ends when its database goes; one of a database
// the plane does not serve is ENOTFOUND.
func TestMonitorEnds(t *testing.T) {
	p, _ := newTestPlane(t)
	serve(t, p, nil)
	lines, res := monitorOf(t, p, "db", nil)
	nextLine(t, lines)
	if err := p.Remove(t.Context(), "db"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-res:
		if devapi.ErrorCode(err) != devapi.EUNAVAILABLE {
			t.Errorf("Monitor of a removed database returned %v, want EUNAVAILABLE", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("the monitor of a removed database did not end")
	}
	if err := p.Monitor(t.Context(), "db", func(string) error { return nil }); devapi.ErrorCode(err) != devapi.ENOTFOUND {
		t.Errorf("Monitor of a database not served: %v, want ENOTFOUND", err)
	}
}

// TestMonitorLineBounded: a command with a large value makes a line of at
// most maxMonitorLine bytes, ending in "...".
func TestMonitorLineBounded(t *testing.T) {
	l := monitorLine(time.Unix(1721284005, 242090000), 0, "127.0.0.1:1", "SET", []string{"k", strings.Repeat("\x00", 1<<20)})
	if len(l) != maxMonitorLine || !strings.HasSuffix(l, "...") || !strings.HasPrefix(l, `1721284005.242090 [0 127.0.0.1:1] "SET" "k" "\x00`) {
		t.Errorf("line of %d bytes: %.80q ... %q", len(l), l, l[len(l)-10:])
	}
	if l := monitorLine(time.Unix(5, 7000), 3, "a", "GET", []string{"k"}); l != `5.000007 [3 a] "GET" "k"` {
		t.Errorf("got %q", l)
	}
}

// BenchmarkMonitorLine: what each command costs the hook while a monitor
// is open (none while no monitor is: one atomic load).
func BenchmarkMonitorLine(b *testing.B) {
	now := time.Now()
	args := []string{"key:12345", strings.Repeat("v", 100)}
	b.ReportAllocs()
	for b.Loop() {
		_ = monitorLine(now, 0, "127.0.0.1:51234", "SET", args)
	}
}
