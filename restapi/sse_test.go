package restapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/restapi"
)

// sseClient is one open event stream, read line by line.
type sseClient struct {
	t      testing.TB
	status int
	header http.Header
	body   string // the answer, when it was not a stream
	lines  chan string
	ended  chan struct{} // closed when the stream's body ended
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// stream opens an event stream: method to path with Accept:
// text/event-stream and body ("" for none).
func (e *env) stream(method, path, token, body string) *sseClient {
	e.t.Helper()
	return openStream(e.t, e.rest, method, path, token, body)
}

func openStream(tb testing.TB, base, method, path, token, body string) *sseClient {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	c := &sseClient{t: tb, status: resp.StatusCode, header: resp.Header, lines: make(chan string, 10000), ended: make(chan struct{}), cancel: cancel}
	tb.Cleanup(c.close)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		c.body = string(b)
		close(c.ended)
		return c
	}
	c.wg.Go(func() {
		defer close(c.ended)
		defer func() { _ = resp.Body.Close() }()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			if sc.Text() != "" {
				c.lines <- sc.Text()
			}
		}
	})
	return c
}

// close ends the stream from the client's side and waits for its reader.
func (c *sseClient) close() {
	c.cancel()
	c.wg.Wait()
}

// next returns the next line that is not a comment, or fails after 10 s.
func (c *sseClient) next() string {
	c.t.Helper()
	for {
		line := c.nextLine()
		if !strings.HasPrefix(line, ":") {
			return line
		}
	}
}

// nextLine returns the next line, comments included.
func (c *sseClient) nextLine() string {
	c.t.Helper()
	select {
	case line := <-c.lines:
		return line
	case <-c.ended:
		select {
		case line := <-c.lines:
			return line
		default:
		}
		c.t.Fatalf("the stream ended (status %d %s)", c.status, c.body)
	case <-time.After(10 * time.Second):
		c.t.Fatal("no line within 10 s")
	}
	return ""
}

// expect checks the next lines.
func (c *sseClient) expect(lines ...string) {
	c.t.Helper()
	for _, want := range lines {
		if got := c.next(); got != want {
			c.t.Fatalf("got line %q, want %q", got, want)
		}
	}
}

// waitEnd waits for the server to end the stream, and fails after 10 s.
func (c *sseClient) waitEnd() {
	c.t.Helper()
	select {
	case <-c.ended:
	case <-time.After(10 * time.Second):
		c.t.Fatal("the stream did not end within 10 s")
	}
}

// tcp is a TCP client of database d, speaking RESP2 (so that it
// authenticates with AUTH, not HELLO).
func tcp(tb testing.TB, d database) *redis.Client {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", d.Port), Password: d.Password, Protocol: 2, MaxRetries: -1})
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// goroutines counts the goroutines running now.
func goroutines(testing.TB) int { return runtime.NumGoroutine() }

// waitFor polls cond every millisecond until it holds, and fails after 10 s.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not within 10 s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestSubscribe: a stream subscribed through the REST API receives what is
// published over TCP and over REST, in Upstash's line format, on every
// plane; so does a pattern subscription; a read-only token may subscribe.
func TestSubscribe(t *testing.T) {
	for _, p := range planes(t) {
		t.Run(p.name, func(t *testing.T) {
			e := newEnv(t, p)
			d := e.create(false)
			rc := tcp(t, d)
			ctx := t.Context()

			s := e.stream("POST", "/subscribe/chat", d.RestToken, "[]")
			s.expect("data: subscribe,chat,1")
			if err := rc.Publish(ctx, "chat", "over tcp").Err(); err != nil {
				t.Fatal(err)
			}
			s.expect("data: message,chat,over tcp")
			e.expect(e.call("POST", "/publish/chat/over%20rest", d.RestToken, ""), 200, `{"result":1}`)
			s.expect("data: message,chat,over rest")
			// A line break continues the event on another data line.
			e.expect(e.call("POST", "/", d.RestToken, `["PUBLISH","chat","one\ntwo"]`), 200, `{"result":1}`)
			s.expect("data: message,chat,one", "data: two")
			if s.header.Get("Cache-Control") != "no-cache" {
				t.Errorf("Cache-Control %q", s.header.Get("Cache-Control"))
			}

			// Several channels, by GET, with a read-only token.
			m := e.stream("GET", "/subscribe/a/b%2Fc", d.ReadOnlyRestToken, "")
			m.expect("data: subscribe,a,1", "data: subscribe,b/c,2")
			if err := rc.Publish(ctx, "b/c", `{"json":true}`).Err(); err != nil {
				t.Fatal(err)
			}
			m.expect(`data: message,b/c,{"json":true}`)
			// The read-only token may not publish.
			if a := e.call("POST", "/publish/a/x", d.ReadOnlyRestToken, ""); a.status != 400 || !strings.Contains(a.body, "NOPERM") {
				t.Errorf("read-only publish: %d %s", a.status, a.body)
			}

			ps := e.stream("POST", "/psubscribe/news.*", d.RestToken, "[]")
			ps.expect("data: psubscribe,news.*,1")
			if err := rc.Publish(ctx, "news.today", "headline").Err(); err != nil {
				t.Fatal(err)
			}
			ps.expect("data: pmessage,news.*,news.today,headline")

			// Two subscribers of chat now, both real subscriptions.
			s2 := e.stream("POST", "/subscribe/chat", d.RestToken, "[]")
			s2.expect("data: subscribe,chat,1")
			if n, err := rc.Publish(ctx, "chat", "both").Result(); err != nil || n != 2 {
				t.Fatalf("PUBLISH reached %d subscribers (%v), want 2", n, err)
			}
			s.expect("data: message,chat,both")
			s2.expect("data: message,chat,both")

			// A closed stream's subscription ends.
			s.close()
			s2.close()
			waitFor(t, "the subscriptions of closed streams end", func() bool {
				n, err := rc.PubSubNumSub(ctx, "chat").Result()
				return err == nil && n["chat"] == 0
			})
			waitFor(t, "closed streams are let go", func() bool {
				_, db := e.server.InFlight(d.ID)
				return db.Streams == 2
			})
		})
	}
}

// TestStreamRequests: what is refused before a stream opens.
func TestStreamRequests(t *testing.T) {
	e := newEnv(t, planes(t)[0])
	d := e.create(false)
	for _, tc := range []struct {
		method, path, token, body string
		status                    int
		want                      string
	}{
		{"POST", "/subscribe", d.RestToken, "", 400, `{"error":"ERR wrong number of arguments for 'subscribe' command"}`},
		{"POST", "/subscribe/c", d.RestToken, `["x"]`, 400, `{"error":"ERR /subscribe takes its arguments in the path and no body (or [])"}`},
		{"POST", "/subscribe/c", "nope", "", 401, `{"error":"WRONGPASS invalid or missing auth token"}`},
		{"POST", "/monitor/x", d.RestToken, "", 400, `{"error":"ERR wrong number of arguments for 'monitor' command"}`},
		{"POST", "/monitor", d.ReadOnlyRestToken, "[]", 400, `{"error":"NOPERM this user has no permissions to run the 'monitor' command"}`},
		{"PUT", "/subscribe/c", d.RestToken, "", 405, `{"error":"ERR method not allowed"}`},
		{"HEAD", "/subscribe/c", d.RestToken, "", 405, ""},
	} {
		s := e.stream(tc.method, tc.path, tc.token, tc.body)
		if s.status != tc.status || s.body != tc.want {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, s.status, s.body, tc.status, tc.want)
		}
	}
	// Without Accept: text/event-stream, SUBSCRIBE is a command REST refuses.
	a := e.call("POST", "/subscribe/c", d.RestToken, "")
	e.expect(a, 400, `{"error":"ERR SUBSCRIBE is not supported as a command in REST API: send /subscribe/\u003cchannel\u003e with Accept: text/event-stream"}`)
}

// TestMonitor: /monitor shows the commands of its database from TCP and
// REST clients, with AUTH's arguments redacted, and never another
// database's commands, the password, or devapi's own commands.
func TestMonitor(t *testing.T) {
	for _, p := range planes(t) {
		t.Run(p.name, func(t *testing.T) {
			e := newEnv(t, p)
			a, b := e.create(false), e.create(false)
			ctx := t.Context()
			mon := e.stream("POST", "/monitor", a.RestToken, "[]")
			mon.expect(`data: "OK"`)

			ra, rb := tcp(t, a), tcp(t, b)
			if err := ra.Set(ctx, "tcp-key", "tcp-value", 0).Err(); err != nil {
				t.Fatal(err)
			}
			e.expect(e.call("POST", "/", a.RestToken, `["SET","rest-key","rest value"]`), 200, `{"result":"OK"}`)
			if err := rb.Set(ctx, "other-db-key", "x", 0).Err(); err != nil {
				t.Fatal(err)
			}
			e.expect(e.call("POST", "/", b.RestToken, `["SET","other-db-rest","x"]`), 200, `{"result":"OK"}`)
			// devapi's own commands: a password change of another database,
			// the status of this one (INFO, on redis-server).
			e.manage("POST", "/redis/reset-password/"+b.ID, "")
			e.manage("GET", "/redis/database/"+a.ID, "")
			e.expect(e.call("POST", "/", a.RestToken, `["GET","sentinel"]`), 200, `{"result":null}`)

			var lines []string
			for {
				line := mon.next()
				lines = append(lines, line)
				if strings.Contains(line, `"sentinel"`) {
					break
				}
				if len(lines) > 200 {
					t.Fatalf("no sentinel in 200 lines: %q", lines)
				}
			}
			all := strings.Join(lines, "\n")
			for _, want := range []string{`"tcp-key" "tcp-value"`, `"rest-key" "rest value"`, `"(redacted)"`} {
				if !strings.Contains(all, want) {
					t.Errorf("monitor does not show %s:\n%s", want, all)
				}
			}
			for _, never := range []string{"other-db", a.Password, b.Password, "devapi-admin", `"INFO"`, `"ACL"`, `"CONFIG"`, `"CLIENT" "LIST"`} {
				if strings.Contains(strings.ToUpper(all), strings.ToUpper(never)) {
					t.Errorf("monitor shows %q:\n%s", never, all)
				}
			}
			for _, line := range lines {
				if !strings.HasPrefix(line, "data: ") || !strings.Contains(line, " [0 ") {
					t.Errorf("not a MONITOR line: %q", line)
				}
				if strings.Contains(strings.ToUpper(line), `"AUTH"`) && !strings.HasSuffix(line, `"(redacted)" "(redacted)"`) && !strings.HasSuffix(line, `"AUTH" "(redacted)"`) {
					t.Errorf("AUTH not redacted: %q", line)
				}
			}
		})
	}
}

// TestStreamLimit: a database holds at most MaxDatabaseStreams streams at
// once; one more is answered 429, and a closed stream makes room.
func TestStreamLimit(t *testing.T) {
	e := newEnvWith(t, planes(t)[0], restapi.Config{Limits: restapi.Limits{MaxDatabaseStreams: 2}})
	d, other := e.create(false), e.create(false)
	s1 := e.stream("POST", "/subscribe/a", d.RestToken, "[]")
	s1.expect("data: subscribe,a,1")
	m := e.stream("POST", "/monitor", d.RestToken, "[]")
	m.expect(`data: "OK"`)
	s3 := e.stream("POST", "/subscribe/c", d.RestToken, "[]")
	want := `{"error":"ERR too many open streams: this database holds at most 2 at once, retry later"}`
	if s3.status != 429 || s3.body != want || s3.header.Get("Retry-After") != "1" {
		t.Fatalf("third stream: %d %s", s3.status, s3.body)
	}
	// Another database's streams are counted apart, and requests are not
	// streams.
	o := e.stream("POST", "/subscribe/a", other.RestToken, "[]")
	o.expect("data: subscribe,a,1")
	e.expect(e.call("POST", "/", d.RestToken, `["PING"]`), 200, `{"result":"PONG"}`)
	s1.close()
	waitFor(t, "a closed stream makes room", func() bool {
		_, db := e.server.InFlight(d.ID)
		return db.Streams == 1
	})
	s4 := e.stream("POST", "/subscribe/d", d.RestToken, "[]")
	s4.expect("data: subscribe,d,1")
}

// TestStreamKeepAliveAndReset: an idle stream sends a keep-alive comment
// every StreamKeepAlive, and ends once its token stops working: a reset
// password, a deleted database.
func TestStreamKeepAliveAndReset(t *testing.T) {
	for _, p := range planes(t) {
		t.Run(p.name, func(t *testing.T) {
			e := newEnvWith(t, p, restapi.Config{StreamKeepAlive: 20 * time.Millisecond})
			d := e.create(false)
			s := e.stream("POST", "/subscribe/a", d.RestToken, "[]")
			s.expect("data: subscribe,a,1")
			if line := s.nextLine(); line != ": keep-alive" {
				t.Fatalf("got %q, want a keep-alive", line)
			}
			m := e.stream("POST", "/monitor", d.RestToken, "[]")
			m.expect(`data: "OK"`)
			var r database
			if err := json.Unmarshal(e.manage("POST", "/redis/reset-password/"+d.ID, ""), &r); err != nil {
				t.Fatal(err)
			}
			s.waitEnd()
			m.waitEnd()
			n := e.stream("POST", "/subscribe/a", r.RestToken, "[]")
			n.expect("data: subscribe,a,1")
			e.manage("DELETE", "/redis/database/"+d.ID, "")
			n.waitEnd()
			waitFor(t, "ended streams are let go", func() bool {
				total, _ := e.server.InFlight(d.ID)
				return total.Streams == 0 && total.Bytes == 0
			})
		})
	}
}

// TestEndStreams: EndStreams (the server's shutdown) ends every open stream,
// waits for them, and refuses new ones.
func TestEndStreams(t *testing.T) {
	for _, p := range planes(t) {
		t.Run(p.name, func(t *testing.T) {
			e := newEnv(t, p)
			d := e.create(false)
			rc := tcp(t, d)
			e.expect(e.call("POST", "/", d.RestToken, `["PING"]`), 200, `{"result":"PONG"}`) // the pool's connection
			http.DefaultClient.CloseIdleConnections()
			before := goroutines(t)
			var streams []*sseClient
			for _, path := range []string{"/subscribe/a", "/psubscribe/*", "/monitor"} {
				s := e.stream("POST", path, d.RestToken, "[]")
				s.next()
				streams = append(streams, s)
			}
			e.server.EndStreams()
			total, _ := e.server.InFlight(d.ID)
			if total.Streams != 0 || total.Bytes != 0 {
				t.Errorf("after EndStreams: %+v", total)
			}
			for _, s := range streams {
				s.waitEnd()
			}
			waitFor(t, "the subscriptions end", func() bool {
				n, err := rc.PubSubNumSub(t.Context(), "a").Result()
				pat, err2 := rc.PubSubNumPat(t.Context()).Result()
				return err == nil && err2 == nil && n["a"] == 0 && pat == 0
			})
			for _, s := range streams {
				s.close()
			}
			// Every goroutine a stream started has ended: the handlers',
			// their producers', and the plane's for their connections.
			http.DefaultClient.CloseIdleConnections()
			waitFor(t, fmt.Sprintf("goroutines back to %d", before), func() bool { return goroutines(t) <= before })
			s := e.stream("POST", "/subscribe/a", d.RestToken, "[]")
			if s.status != 503 {
				t.Errorf("a stream after EndStreams: %d %s", s.status, s.body)
			}
		})
	}
}

// TestSlowStreamClient: a client that reads nothing is dropped once its
// events pass MaxStreamBufferBytes or a write waits StreamWriteTimeout; the
// events it had not taken never hold more than the buffer in flight, and
// its subscription ends.
func TestSlowStreamClient(t *testing.T) {
	const buffer = 256 << 10
	e := newEnvWith(t, planes(t)[0], restapi.Config{Limits: restapi.Limits{MaxStreamBufferBytes: buffer}, StreamWriteTimeout: time.Second})
	d := e.create(false)
	rc := tcp(t, d)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", e.rest+"/subscribe/flood", strings.NewReader("[]"))
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+d.RestToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }() // never read
	msg := strings.Repeat("x", 16<<10)
	published, maxHeld := 0, int64(0)
	for ; published < 20000; published++ {
		_, db := e.server.InFlight(d.ID)
		maxHeld = max(maxHeld, db.Bytes)
		if db.Streams == 0 {
			break
		}
		if err := rc.Publish(ctx, "flood", msg).Err(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("dropped after %d messages of 16 KiB; at most %d bytes held in flight", published, maxHeld)
	if published == 20000 {
		t.Fatal("a client that reads nothing was not dropped after 20000 messages of 16 KiB")
	}
	if maxHeld > buffer {
		t.Errorf("held %d bytes for the stream, over its buffer of %d", maxHeld, buffer)
	}
	waitFor(t, "the dropped stream's subscription ends", func() bool {
		n, err := rc.PubSubNumSub(ctx, "flood").Result()
		return err == nil && n["flood"] == 0
	})
	total, _ := e.server.InFlight(d.ID)
	if total.Bytes != 0 || total.Streams != 0 {
		t.Errorf("after the drop: %+v", total)
	}
}

// TestStreamLimitsCheck: a stream buffer must fit in a database's room in
// flight; the defaults fit.
func TestStreamLimitsCheck(t *testing.T) {
	if err := (restapi.Limits{MaxDatabaseInFlightBytes: 32 << 20, MaxStreamBufferBytes: 64 << 20}).Check(); err == nil {
		t.Error("a stream buffer larger than the database's room in flight was accepted")
	}
	if err := (restapi.Limits{MaxDatabaseStreams: -1}).Check(); err == nil {
		t.Error("a negative stream limit was accepted")
	}
	if err := (restapi.Limits{MaxInFlightBytes: 4 << 20}).Check(); err != nil {
		t.Errorf("small in-flight room: the default stream buffer does not shrink to fit: %v", err)
	}
	d := restapi.DefaultLimits()
	if d.MaxDatabaseStreams != 100 || d.MaxStreamBufferBytes != 8<<20 {
		t.Errorf("defaults %d streams, %d bytes", d.MaxDatabaseStreams, d.MaxStreamBufferBytes)
	}
}

// TestStreamOutlivesServerTimeouts: a stream stays open past the HTTP
// server's ReadTimeout and WriteTimeout (devapi serve sets both), since it
// lifts the first and moves the second with every write.
func TestStreamOutlivesServerTimeouts(t *testing.T) {
	k := newKit(t, restapi.Config{})
	db := k.addDB("a")
	rest, err := restapi.New(restapi.Config{Store: k.store, StreamKeepAlive: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(rest.Handler())
	hs.Config.ReadTimeout, hs.Config.WriteTimeout = 300*time.Millisecond, 300*time.Millisecond
	hs.Start()
	t.Cleanup(func() { hs.Close(); _ = rest.Close() })
	s := openStream(t, hs.URL, "POST", "/subscribe/c", db.token, "[]")
	s.expect("data: subscribe,c,1")
	start := time.Now()
	for time.Since(start) < time.Second {
		if line := s.nextLine(); line != ": keep-alive" {
			t.Fatalf("got %q, want a keep-alive", line)
		}
	}
	db.redis.Publish("c", "still here")
	s.expect("data: message,c,still here")
}

// TestStreamsOfTLSDatabase: a database that speaks TLS only is subscribed
// to, and monitored, over TLS.
func TestStreamsOfTLSDatabase(t *testing.T) {
	for _, p := range planes(t) {
		t.Run(p.name, func(t *testing.T) {
			e := newEnv(t, p)
			d := e.create(true)
			s := e.stream("POST", "/subscribe/c", d.RestToken, "[]")
			s.expect("data: subscribe,c,1")
			m := e.stream("POST", "/monitor", d.RestToken, "[]")
			m.expect(`data: "OK"`)
			e.expect(e.call("POST", "/publish/c/tls", d.RestToken, ""), 200, `{"result":1}`)
			s.expect("data: message,c,tls")
			for {
				if line := m.next(); strings.HasSuffix(line, `"PUBLISH" "c" "tls"`) || strings.HasSuffix(line, `"publish" "c" "tls"`) {
					break
				}
			}
		})
	}
}

// stalledStream opens /subscribe/<channel> with a client that reads the
// stream's first event and then only what readUntil asks for, through a
// receive buffer of 4 KiB: what the server writes to it stays in the
// server's socket, and a large write waits for good. It returns the
// client's connection.
func stalledStream(tb testing.TB, base, token, channel string) net.Conn {
	tb.Helper()
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatal(err)
	}
	nc, err := net.Dial("tcp", u.Host)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = nc.Close() })
	if err := nc.(*net.TCPConn).SetReadBuffer(4 << 10); err != nil {
		tb.Fatal(err)
	}
	fmt.Fprintf(nc, "POST /subscribe/%s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nAccept: text/event-stream\r\nContent-Length: 2\r\n\r\n[]", channel, u.Host, token)
	readUntil(tb, nc, "data: subscribe,"+channel+",1")
	return nc
}

// readUntil reads nc byte by byte until what it read holds want, and fails
// after 10 s.
func readUntil(tb testing.TB, nc net.Conn, want string) {
	tb.Helper()
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var got []byte
	for !strings.Contains(string(got), want) {
		b := make([]byte, 1)
		if _, err := nc.Read(b); err != nil {
			tb.Fatalf("waiting for %q: %v (read %q)", want, err, got)
		}
		got = append(got, b...)
	}
}

// endStreams runs EndStreams and fails when it has not returned within
// 30 s: shutdown hangs.
func endStreams(tb testing.TB, s *restapi.Server) {
	tb.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.EndStreams()
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		buf := make([]byte, 1<<20)
		tb.Fatalf("EndStreams did not return within 30 s\n%s", buf[:runtime.Stack(buf, true)])
	}
}

// TestEndStreamsCutsAStalledWrite: EndStreams ends a stream whose handler is
// in the middle of a write its client does not take (StreamWriteTimeout is
// an hour here), on a TLS database.
func TestEndStreamsCutsAStalledWrite(t *testing.T) {
	e := newEnvWith(t, planes(t)[0], restapi.Config{StreamWriteTimeout: time.Hour})
	d := e.create(true)
	nc := stalledStream(t, e.rest, d.RestToken, "c")
	// 6 MiB: more than the server's send buffer (4 MiB at most) and the
	// client's 4 KiB take, less than the stream's buffer (8 MiB).
	const size = 6 << 20
	e.expect(e.call("POST", "/", d.RestToken, `["PUBLISH","c","`+strings.Repeat("x", size)+`"]`), 200, `{"result":1}`)
	readUntil(t, nc, "data: message,c,xxxx") // the handler is inside the write
	endStreams(t, e.server)
	if total, _ := e.server.InFlight(d.ID); total.Streams != 0 || total.Bytes != 0 {
		t.Errorf("after EndStreams: %+v", total)
	}
}

// stuckMonitor is a plane whose monitor sits until released, whatever its
// context says: a producer EndStreams cannot end.
type stuckMonitor struct {
	devapi.Plane
	release chan struct{}
}

func (m stuckMonitor) Monitor(_ context.Context, _ string, emit func(string) error) error {
	if err := emit("OK"); err != nil {
		return err
	}
	<-m.release
	return nil
}

// TestEndStreamsIsBounded: EndStreams returns, and logs it, when a stream
// does not end (its producer ignores its context); the stream ends once the
// producer returns.
func TestEndStreamsIsBounded(t *testing.T) {
	m := stuckMonitor{release: make(chan struct{})}
	k := newKit(t, restapi.Config{Monitor: m})
	db := k.addDB("a")
	s := openStream(t, k.url, "POST", "/monitor", db.token, "[]")
	s.expect(`data: "OK"`)
	endStreams(t, k.server)
	if !strings.Contains(k.logs.String(), "event streams did not end in time") || !strings.Contains(k.logs.String(), "streams=1") {
		t.Errorf("no log line for the stream left behind:\n%s", k.logs)
	}
	close(m.release)
	s.waitEnd()
	waitFor(t, "the stream is let go", func() bool {
		total, _ := k.server.InFlight(db.id)
		return total.Streams == 0
	})
}
