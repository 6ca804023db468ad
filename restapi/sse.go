package restapi

// Event streams: /subscribe/<channel>[/<channel>...], /psubscribe/<pattern>
// [/<pattern>...] and /monitor, asked for with Accept: text/event-stream (GET
// or POST, with no body or the [] that @upstash/redis sends), answered as
// Upstash answers them: a kept-open text/event-stream of lines
//
//	data: subscribe,<channel>,<count>
//	data: message,<channel>,<message>
//	data: psubscribe,<pattern>,<count>
//	data: pmessage,<pattern>,<channel>,<message>
//	data: "OK"                                  (monitor, then one line per command)
//	data: 1721284005.242090 [0 127.0.0.1:51234] "SET" "k" "v"
//
// each followed by an empty line (so that a browser's EventSource sees one
// event per line too), and a comment line, ": keep-alive", every
// Config.StreamKeepAlive (15 s). A line break inside a
// message continues the event on another "data: " line, as SSE defines it
// (an EventSource joins them with "\n"; @upstash/redis reads each line as an
// event of its own, so it sees the message cut there).
//
// A subscriber is one real Redis subscription: a connection of its own to
// the database, authenticated with the database's password, so messages
// published over TCP, over REST or by another stream's client all arrive. A
// monitor asks the plane (devapi.Monitorer).
//
// Costs are bounded: Limits.MaxDatabaseStreams streams per database; the
// events a stream's client has not taken yet are held in flight, at most
// Limits.MaxStreamBufferBytes; a client that falls further behind, or that
// does not take a write within Config.StreamWriteTimeout, is dropped (its
// stream ends and its subscription with it). A stream ends too when its
// client goes, when its token stops working (a reset password, a deleted
// database: checked at every keep-alive), when the database connection ends,
// and when the server shuts down (EndStreams). Every one of these goes
// through the stream's streamStop, which ends it without waiting on I/O:
// the subscription's socket is closed, a write to the client is cut short.

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/devapi-dev/devapi"
)

// Defaults of the stream settings in Config.
const (
	defaultStreamKeepAlive    = 15 * time.Second
	defaultStreamWriteTimeout = 30 * time.Second
)

// maxStreamBody bounds what a stream request may send as a body: nothing,
// or [].
const maxStreamBody = 1 << 10

// errSlowClient ends a stream whose client fell behind.
var errSlowClient = errors.New("stream client fell behind")

// errStreamStopped ends a stream's work once streamStop.stop was called.
var errStreamStopped = errors.New("stream stopped")

// redisError is an error reply of the database, which is the client's to
// see.
type redisError string

func (e redisError) Error() string { return string(e) }

// streamKind returns "subscribe", "psubscribe" or "monitor" when r asks for
// that event stream, else "".
func streamKind(r *http.Request) string {
	name, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	name = strings.ToLower(name)
	if name != "subscribe" && name != "psubscribe" && name != "monitor" {
		return ""
	}
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "text/event-stream" {
			return name
		}
	}
	return ""
}

// streamEndTimeout bounds how long EndStreams waits for the streams it
// ended. Ending one takes no I/O (stop closes sockets and moves a deadline),
// so a stream still open after it is one whose producer sits in a call that
// ignores its context (a store or plane call): shutdown goes on without it,
// and says so in the log.
const streamEndTimeout = 5 * time.Second

// streamSet is the open streams, so that EndStreams can end them and wait.
type streamSet struct {
	mu       sync.Mutex
	ended    bool
	next     uint64
	open     map[uint64]*streamStop
	idle     chan struct{} // made by end; closed once no stream is open
	deadline time.Time     // when end stops waiting
	reported bool          // streams left behind were logged
}

// add registers a stream; remove unregisters it. ok is false once the set
// has ended.
func (ss *streamSet) add(st *streamStop) (remove func(), ok bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.ended {
		return nil, false
	}
	if ss.open == nil {
		ss.open = map[uint64]*streamStop{}
	}
	ss.next++
	id := ss.next
	ss.open[id] = st
	return func() {
		ss.mu.Lock()
		defer ss.mu.Unlock()
		if _, ok := ss.open[id]; !ok {
			return
		}
		delete(ss.open, id)
		if ss.ended && len(ss.open) == 0 {
			close(ss.idle)
		}
	}, true
}

// end refuses new streams, stops the open ones and waits until their
// handlers have returned, at most streamEndTimeout from its first call. It
// returns how many are still open, and whether that is news (the first
// call that gives up).
func (ss *streamSet) end() (left int, first bool) {
	ss.mu.Lock()
	if !ss.ended {
		ss.ended = true
		ss.idle = make(chan struct{})
		ss.deadline = time.Now().Add(streamEndTimeout)
		if len(ss.open) == 0 {
			close(ss.idle)
		}
	}
	stops := make([]*streamStop, 0, len(ss.open))
	for _, st := range ss.open {
		stops = append(stops, st)
	}
	idle, deadline := ss.idle, ss.deadline
	ss.mu.Unlock()
	for _, st := range stops {
		st.stop()
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-idle:
		return 0, false
	case <-timer.C:
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	first = !ss.reported
	ss.reported = true
	return len(ss.open), first
}

// streamStop ends one stream from outside its goroutines, with no I/O of
// its own: it cancels the stream's context, closes the stream's connection
// to the database, and cuts short a write to its client under way.
//
// A context alone does not do it: its end reaches a subscription's reader
// through a callback that closes the connection, and closing a TLS
// connection first sends close_notify (taking the connection's write lock,
// waiting up to 5 s for the write); a write to a client that does not read
// waits for its deadline (StreamWriteTimeout, 30 s). The handler calls stop
// itself when it leaves, so that every way out goes through here.
type streamStop struct {
	cancel context.CancelFunc

	mu       sync.Mutex
	stopped  bool
	upstream net.Conn                 // the subscription's TCP connection, once dialed
	client   *http.ResponseController // while the handler writes events
}

// stop ends the stream; later calls do nothing more.
func (st *streamStop) stop() {
	st.cancel()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.stopped {
		return
	}
	st.stopped = true
	if st.upstream != nil {
		// The TCP connection under TLS: nothing is sent, and its reader
		// returns at once.
		_ = st.upstream.Close()
	}
	if st.client != nil {
		// Held under mu: the handler cannot have given the connection
		// back to net/http (for a next request) meanwhile.
		_ = st.client.SetWriteDeadline(aLongTimeAgo)
	}
}

// attach hands over the subscription's TCP connection, for stop to close.
// It is false when the stream was stopped already: the caller closes it.
func (st *streamStop) attach(upstream net.Conn) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.stopped {
		return false
	}
	st.upstream = upstream
	return true
}

// writing sets (or, nil, takes back) the client connection a write of the
// handler's may be under way on.
func (st *streamStop) writing(rc *http.ResponseController) {
	st.mu.Lock()
	st.client = rc
	st.mu.Unlock()
}

// writeDeadline moves the deadline of the next write to the client, and is
// false once the stream is stopped: the handler writes nothing more.
func (st *streamStop) writeDeadline(d time.Time) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.stopped {
		return false
	}
	_ = st.client.SetWriteDeadline(d)
	return true
}

// EndStreams ends every open event stream and refuses new ones (503), and
// returns once their handlers have returned, or after streamEndTimeout (5 s)
// with those left logged. http.Server.Shutdown waits for handlers, which a
// stream's never does on its own: register EndStreams with
// RegisterOnShutdown. Close calls it too.
func (s *Server) EndStreams() {
	if left, first := s.streams.end(); left > 0 && first {
		s.logger.Error("rest: event streams did not end in time; shutting down without them", "streams", left, "waited", streamEndTimeout)
	}
}

// eventQueue holds the events of one stream that its client has not taken
// yet, in flight (ticket.reserve), at most limit bytes.
type eventQueue struct {
	t      *ticket
	limit  int64
	notify chan struct{} // a token when events are waiting

	mu     sync.Mutex
	events [][]byte
	size   int64
}

// push queues ev, or returns errSlowClient when it does not fit.
func (q *eventQueue) push(ev []byte) error {
	n := int64(len(ev))
	q.mu.Lock()
	if q.size+n > q.limit || !q.t.reserve(n) {
		q.mu.Unlock()
		return errSlowClient
	}
	q.events = append(q.events, ev)
	q.size += n
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
	return nil
}

// take returns the waiting events, joined, and their size. They still
// count against the queue's limit, and stay held in flight, until the
// caller, having written them, gives them back with written.
func (q *eventQueue) take() ([]byte, int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.events) == 0 {
		return nil, 0
	}
	b := bytes.Join(q.events, nil)
	q.events = nil
	return b, int64(len(b))
}

// written gives back n bytes take returned.
func (q *eventQueue) written(n int64) {
	q.mu.Lock()
	q.size -= n
	q.mu.Unlock()
	q.t.release(n)
}

// stream serves an event stream of kind; the token, the allowlist and the
// method were checked.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, d *devapi.Database, readOnlyToken bool, kind string) outcome {
	if r.Method == http.MethodHead {
		// An answer without a body: the stream would run unseen.
		w.Header().Set("Allow", "GET, POST")
		return outcome{status: writeError(w, http.StatusMethodNotAllowed, "ERR /"+kind+" takes GET or POST")}
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxStreamBody))
	if t := bytes.TrimSpace(b); err != nil || (len(t) > 0 && !bytes.Equal(t, []byte("[]"))) {
		return outcome{status: writeError(w, http.StatusBadRequest, "ERR /"+kind+" takes its arguments in the path and no body (or [])")}
	}
	args, err := streamArgs(r)
	if err != nil {
		return outcome{status: writeError(w, http.StatusBadRequest, err.Error())}
	}
	switch {
	case kind == "monitor" && len(args) > 0:
		return outcome{status: writeError(w, http.StatusBadRequest, "ERR wrong number of arguments for 'monitor' command")}
	case kind == "monitor" && readOnlyToken:
		return outcome{status: writeError(w, http.StatusBadRequest, devapi.NoPermission("monitor"))}
	case kind == "monitor" && s.cfg.Monitor == nil:
		return outcome{status: writeError(w, http.StatusBadRequest, "ERR MONITOR is not supported by this data plane")}
	case kind != "monitor" && len(args) == 0:
		return outcome{status: writeError(w, http.StatusBadRequest, fmt.Sprintf("ERR wrong number of arguments for '%s' command", kind))}
	}
	t := s.admit.enterStream(d.ID)
	if t == nil {
		return outcome{status: writeBusy(w, fmt.Sprintf("ERR too many open streams: this database holds at most %d at once, retry later", s.cfg.Limits.MaxDatabaseStreams))}
	}
	ctx, cancel := context.WithCancel(r.Context())
	st := &streamStop{cancel: cancel}
	remove, ok := s.streams.add(st)
	if !ok {
		cancel()
		t.done()
		return outcome{status: writeError(w, http.StatusServiceUnavailable, "ERR the server is shutting down")}
	}
	// Last, after the producer has returned: the stream's room is given
	// back, then it leaves the set, so that once EndStreams returns no
	// stream holds any.
	defer func() {
		t.done()
		remove()
	}()
	q := &eventQueue{t: t, limit: s.cfg.Limits.MaxStreamBufferBytes, notify: make(chan struct{}, 1)}

	var run func(context.Context) error
	if kind == "monitor" {
		run = func(ctx context.Context) error { return s.monitor(ctx, d.ID, q) }
	} else {
		run = func(ctx context.Context) error { return s.subscribe(ctx, d, kind, args, q, st) }
	}
	var (
		wg     sync.WaitGroup
		runErr error
		ended  = make(chan struct{})
	)
	wg.Go(func() {
		defer close(ended)
		runErr = run(ctx)
	})
	defer wg.Wait()
	defer st.stop() // every way out: the producer returns at once

	// Answer 200 once the subscription (or monitor) is in place, so that
	// what is published after the client sees the first line reaches it.
	timer := time.NewTimer(s.cfg.PlaneTimeout)
	defer timer.Stop()
	select {
	case <-q.notify:
	case <-ended:
		if len(q.events) == 0 {
			return s.streamFailed(w, runErr)
		}
	case <-timer.C:
		return outcome{status: writeError(w, http.StatusBadRequest, unreachable), failed: 1, err: errors.New("stream did not start in time")}
	case <-ctx.Done():
		return outcome{status: 499, err: ctx.Err()}
	}

	// net/http lifts the read deadline itself once the body is read (its
	// background read, which ends the context when the client goes, never
	// times out); the write deadline moves with every write.
	rc := http.NewResponseController(w)
	st.writing(rc)
	defer st.writing(nil) // before st.stop: a stream that ends by itself ends its answer cleanly
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	out := outcome{status: http.StatusOK}
	write := func(p []byte) error {
		if !st.writeDeadline(time.Now().Add(s.cfg.StreamWriteTimeout)) {
			return errStreamStopped
		}
		if _, err := w.Write(p); err != nil {
			return err
		}
		return rc.Flush()
	}
	flush := func() error {
		b, n := q.take()
		defer q.written(n)
		if len(b) == 0 {
			return nil
		}
		return write(b)
	}
	token := requestToken(r)
	tick := time.NewTicker(s.cfg.StreamKeepAlive)
	defer tick.Stop()
	for {
		if err := flush(); err != nil {
			return out // the client went, or does not read
		}
		select {
		case <-q.notify:
		case <-tick.C:
			if _, _, err := s.cfg.Store.DatabaseByRestToken(ctx, token); devapi.ErrorCode(err) == devapi.EUNAUTHORIZED {
				return out // reset password, deleted database
			}
			if err := write([]byte(": keep-alive\n\n")); err != nil {
				return out
			}
		case <-ended:
			if !errors.Is(runErr, errSlowClient) {
				_ = flush()
			}
			if runErr != nil && ctx.Err() == nil && !errors.Is(runErr, errSlowClient) {
				out.err = runErr
			}
			return out
		case <-ctx.Done():
			return out
		}
	}
}

// streamFailed answers a stream that ended before its first event.
func (s *Server) streamFailed(w http.ResponseWriter, err error) outcome {
	var re redisError
	switch {
	case errors.As(err, &re):
		return outcome{status: writeError(w, http.StatusBadRequest, string(re))}
	case errors.Is(err, errSlowClient):
		return outcome{status: writeError(w, http.StatusBadRequest, fmt.Sprintf("ERR response too large: an event passed the limit of %d bytes", s.cfg.Limits.MaxStreamBufferBytes))}
	case devapi.ErrorCode(err) == devapi.ENOTFOUND || devapi.ErrorCode(err) == devapi.EUNAVAILABLE:
		return outcome{status: writeError(w, http.StatusBadRequest, unreachable)}
	}
	return outcome{status: writeError(w, http.StatusBadRequest, unreachable), failed: 1, err: err}
}

// streamArgs are the path segments after the first: channels or patterns.
func streamArgs(r *http.Request) ([]string, error) {
	segs := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")[1:]
	args := make([]string, 0, len(segs))
	for _, seg := range segs {
		if seg == "" {
			continue
		}
		a, err := url.PathUnescape(seg)
		if err != nil {
			return nil, fmt.Errorf("ERR failed to parse path segment %q", seg)
		}
		args = append(args, a)
	}
	return args, nil
}

// subscribe runs kind (SUBSCRIBE or PSUBSCRIBE) on a connection of its own
// and queues what the database pushes, until st stops it or the connection
// ends.
func (s *Server) subscribe(ctx context.Context, d *devapi.Database, kind string, channels []string, q *eventQueue, st *streamStop) error {
	c, err := s.pool(d).dial(ctx)
	if err != nil {
		return err
	}
	// The TCP connection is closed, under TLS too: a subscription is
	// dropped, not ended politely, so nothing is written (close_notify could
	// wait on the database).
	raw := c.nc
	if tc, ok := raw.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	defer func() { _ = raw.Close() }()
	if !st.attach(raw) {
		return errStreamStopped
	}
	c.writeArgs(append([]string{strings.ToUpper(kind)}, channels...)...)
	if err := c.flush(); err != nil {
		return err
	}
	if err := c.nc.SetReadDeadline(time.Time{}); err != nil {
		return err
	}
	for {
		ev, err := readPush(c, q.limit)
		if err != nil {
			return err
		}
		if err := q.push(ev); err != nil {
			return err
		}
	}
}

// maxPushItems bounds the items of one push: a pmessage has 4.
const maxPushItems = 8

// readPush reads one push of a subscribed connection (subscribe, message,
// pmessage, ...) and returns it as an event, its items joined by commas:
// "data: message,<channel>,<message>\n\n". An event over limit bytes is
// errSlowClient; an error reply is a redisError.
func readPush(c *planeConn, limit int64) ([]byte, error) {
	line, err := c.line()
	if err != nil {
		return nil, err
	}
	switch line[0] {
	case '-':
		return nil, redisError(line[1:])
	case '*':
	default:
		return nil, c.fail(fmt.Errorf("unexpected reply type %q on a subscribed connection", line[0]))
	}
	n, ok := parseInt(line[1:])
	if !ok || n < 1 || n > maxPushItems {
		return nil, c.fail(errors.New("malformed push"))
	}
	ev := []byte("data: ")
	var enc sseEncoder
	for i := range int(n) {
		if i > 0 {
			ev = append(ev, ',')
		}
		line, err := c.line()
		if err != nil {
			return nil, err
		}
		switch line[0] {
		case ':', '+':
			ev = enc.append(ev, line[1:])
		case '$':
			size, ok := parseInt(line[1:])
			if !ok || size < -1 {
				return nil, c.fail(errors.New("malformed bulk reply"))
			}
			if size == -1 {
				continue
			}
			if int64(len(ev))+size > limit {
				return nil, errSlowClient
			}
			if c.bulk == nil {
				c.bulk = make([]byte, 32<<10)
			}
			for left := int(size); left > 0; {
				m := min(left, len(c.bulk))
				if _, err := io.ReadFull(c.br, c.bulk[:m]); err != nil {
					return nil, c.fail(err)
				}
				ev = enc.append(ev, c.bulk[:m])
				left -= m
			}
			if _, err := c.br.Discard(2); err != nil {
				return nil, c.fail(err)
			}
		default:
			return nil, c.fail(fmt.Errorf("unexpected reply type %q in a push", line[0]))
		}
		if int64(len(ev)) > limit {
			return nil, errSlowClient
		}
	}
	return append(ev, '\n', '\n'), nil
}

// sseEncoder writes an event's data: a line break (CRLF, LF or CR, as SSE
// reads them) continues the data on a new "data: " line.
type sseEncoder struct {
	cr bool // the last byte written was a CR: a LF right after it is part of the same break
}

func (e *sseEncoder) append(dst, p []byte) []byte {
	for _, b := range p {
		switch {
		case b == '\n' && e.cr:
			e.cr = false
		case b == '\n' || b == '\r':
			dst = append(dst, "\ndata: "...)
			e.cr = b == '\r'
		default:
			dst = append(dst, b)
			e.cr = false
		}
	}
	return dst
}

// sseEvent is line as one event.
func sseEvent(line string) []byte {
	var enc sseEncoder
	ev := enc.append([]byte("data: "), []byte(line))
	return append(ev, '\n', '\n')
}

// monitor runs the plane's monitor of database id and queues its lines: its
// first, the "OK" MONITOR answers, as `data: "OK"`, as Upstash sends it.
func (s *Server) monitor(ctx context.Context, id string, q *eventQueue) error {
	first := true
	return s.cfg.Monitor.Monitor(ctx, id, func(line string) error {
		if first {
			first = false
			return q.push([]byte("data: \"OK\"\n\n"))
		}
		if int64(len(line)) > q.limit {
			return errSlowClient
		}
		return q.push(sseEvent(line))
	})
}
