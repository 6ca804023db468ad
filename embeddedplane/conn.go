package embeddedplane

// The front door of a database: devapi's own listener in front of miniredis.
//
// miniredis serves the connections it is handed (Server.ServeConn) and runs
// one hook before every command (Server.SetPreHook). Everything a client
// reaches goes through both, so this file owns what miniredis does not do as
// a server:
//   - an accept loop that retries errors (EMFILE) with backoff instead of
//     returning for good, as miniredis's does;
//   - the client limit, and a time limit on connections that do not
//     authenticate;
//   - a check of the RESP framing before miniredis parses it: miniredis
//     allocates a bulk string's announced length at once (16 bytes make it
//     allocate 512 MiB) and panics on an empty array ("*0\r\n" stopped the
//     whole process, before AUTH);
//   - authentication: miniredis's own is off (no RequireUserAuth), because
//     its HELLO reads the password without its lock and its AUTH waits for
//     the data lock a running script holds;
//   - the command policy (devapi.CommandRefused), the MULTI rules for
//     scripts, and the gate that makes clients wait for a running script.

import (
	"bufio"
	"bytes"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/alicebob/miniredis/v2/server"

	"github.com/devapi-dev/devapi"
)

const (
	// defaultMaxClients is the client limit of a database whose
	// PlaneDatabase.MaxClients is 0.
	defaultMaxClients = 10000
	// defaultAuthTimeout closes a connection that has not authenticated in
	// that time. It bounds what bare connects cost: each holds a file
	// descriptor and two goroutines. redis-server has no such timer (its
	// timeout is 0 by default); Upstash drops idle connections.
	defaultAuthTimeout = 10 * time.Second
	// defaultWriteTimeout closes a connection whose client has not taken
	// what devapi writes to it in that time. miniredis writes a reply while
	// it holds the database's lock: a client that asks for a large reply and
	// does not read it would otherwise stall every client of the database
	// (redis-server buffers instead).
	defaultWriteTimeout = 30 * time.Second
	// handshakeTimeout bounds a TLS handshake, which runs in a goroutine of
	// its own so that a slow one does not stall accept.
	handshakeTimeout = 10 * time.Second
	// errorWriteTimeout bounds the write of a last error to a connection
	// that is being closed.
	errorWriteTimeout = time.Second
	// maxRejecting bounds the TLS connections over the client limit that
	// are being told so at once (each needs a handshake); past it they are
	// closed without a word.
	maxRejecting = 64
	// Accept errors are retried after minAcceptDelay, doubling up to
	// maxAcceptDelay, as net/http's Server.Serve does.
	minAcceptDelay = 5 * time.Millisecond
	maxAcceptDelay = time.Second
	// A closed front waits for miniredis to let go of its connections,
	// polling drainPolls times every drainPoll.
	drainPolls = 200
	drainPoll  = 10 * time.Millisecond
)

// RESP framing limits, redis-server's (networking.c): before AUTH a command
// has at most 10 arguments of at most 16 KiB; after, arguments of at most
// proto-max-bulk-len (512 MiB).
const (
	unauthArgs = 10
	unauthBulk = 16 * 1024
	maxArgs    = 1<<31 - 1
	maxBulk    = 512 << 20
	// maxHeaderLine bounds a "*<n>" or "$<n>" line; a number of 20 digits
	// fits.
	maxHeaderLine = 32
)

// Redis's answers.
const (
	msgNoAuth        = "NOAUTH Authentication required."
	msgHelloNoAuth   = "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"
	msgWrongPass     = "WRONGPASS invalid username-password pair or user is disabled."
	msgMaxClients    = "ERR max number of clients reached"
	msgScriptInMulti = "ERR scripts inside MULTI are not supported on the embedded plane; run them outside the transaction"
	msgAuthInMulti   = "ERR AUTH inside MULTI is not supported on the embedded plane"
)

// tagCommand is the first command miniredis reads from every connection:
// conn.Read hands it over before the client's bytes, with the connection's
// id, so that the hook learns which *server.Peer is which connection.
// miniredis never sees it (the hook answers it, silently) and a client
// cannot send it in its place: it is only ever taken as a peer's first
// command.
const tagCommand = "DEVAPI-CONN"

// errFraming ends a connection whose client broke the RESP framing.
var errFraming = errors.New("embeddedplane: protocol error")

// frontConfig is what a front needs from its database.
type frontConfig struct {
	id          string        // the database's, for logs
	tls         *tls.Config   // nil: plain TCP
	maxClients  int           // 0: defaultMaxClients
	allowedIPs  []string      // PlaneDatabase.AllowedIPs; empty: every address
	authTimeout time.Duration // 0: defaultAuthTimeout
	// writeTimeout: 0 means defaultWriteTimeout.
	writeTimeout time.Duration
	password     func() string // the password AUTH compares with now; "" lets nobody in
	logger       *slog.Logger
	scripts      scriptConfig
}

// front serves one database on one listener. A database has one front at a
// time; moving it to another port or TLS setting closes the front and opens
// another on the same miniredis.
type front struct {
	cfg     frontConfig
	m       *miniredis.Miniredis
	srv     *server.Server
	scripts *scripts
	ln      net.Listener
	done    chan struct{}  // closed by close: ends the accept loop's backoff
	wg      sync.WaitGroup // the accept loop, TLS handshakes and rejections

	maxClients atomic.Int64
	allowedIPs atomic.Pointer[[]string] // the IP allowlist new connections must pass
	accepted   atomic.Int64             // connections admitted since the front opened
	monitors   monitorHub               // the database's monitors (monitor.go)

	mu        sync.Mutex
	closed    bool
	nextID    uint64
	conns     map[uint64]*conn            // admitted and not yet closed by miniredis
	peers     map[*server.Peer]*peerState // by miniredis's peer
	rejecting map[net.Conn]bool           // TLS connections being told the limit
}

// peerState is what the hook knows of one peer. Only the goroutine that
// serves the peer touches it.
type peerState struct {
	conn *conn
	// multi is set by MULTI and cleared by EXEC and DISCARD.
	multi bool
	// passing lets the next command through the hook: the hook dispatches
	// commands itself, inside the script gate, and sees them again then.
	passing bool
}

// openFront serves m on ln: it installs the hook and starts accepting.
// miniredis must be started already (its start installs a hook of its own).
func openFront(m *miniredis.Miniredis, ln net.Listener, cfg frontConfig) *front {
	if cfg.authTimeout <= 0 {
		cfg.authTimeout = defaultAuthTimeout
	}
	if cfg.writeTimeout <= 0 {
		cfg.writeTimeout = defaultWriteTimeout
	}
	f := &front{
		cfg:       cfg,
		m:         m,
		srv:       m.Server(),
		scripts:   newScripts(m, cfg.scripts),
		ln:        ln,
		done:      make(chan struct{}),
		conns:     map[uint64]*conn{},
		peers:     map[*server.Peer]*peerState{},
		rejecting: map[net.Conn]bool{},
	}
	f.setMaxClients(cfg.maxClients)
	f.setAllowedIPs(cfg.allowedIPs)
	f.srv.SetPreHook(f.hook)
	f.wg.Go(f.accept)
	return f
}

// setMaxClients changes the client limit for connections accepted from now.
func (f *front) setMaxClients(n int) {
	if n <= 0 {
		n = defaultMaxClients
	}
	f.maxClients.Store(int64(n))
}

// setAllowedIPs changes the IP allowlist for connections accepted from now.
func (f *front) setAllowedIPs(list []string) {
	list = slices.Clone(list)
	f.allowedIPs.Store(&list)
}

// accept admits connections until the front closes. Go raises the soft
// RLIMIT_NOFILE to the hard limit (less one) when the process starts
// (syscall's init, Go 1.19+), so devapi has every descriptor the system
// gives it; running out (EMFILE) is still possible, and is retried with
// backoff, never ending the loop while the front is open.
func (f *front) accept() {
	var delay time.Duration
	for {
		raw, err := f.ln.Accept()
		if err != nil {
			select {
			case <-f.done:
				return
			default:
			}
			if delay == 0 {
				delay = minAcceptDelay
				f.cfg.logger.Warn("embeddedplane: accept failed, retrying with backoff", "database", f.cfg.id, "error", err)
			} else {
				delay = min(2*delay, maxAcceptDelay)
			}
			t := time.NewTimer(delay)
			select {
			case <-f.done:
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		if delay != 0 {
			f.cfg.logger.Info("embeddedplane: accepting again", "database", f.cfg.id)
			delay = 0
		}
		f.admit(raw)
	}
}

// admit takes a new connection, or refuses it past the client limit.
func (f *front) admit(raw net.Conn) {
	authDeadline := time.Now().Add(f.cfg.authTimeout)
	if !devapi.AllowedFrom(*f.allowedIPs.Load(), raw.RemoteAddr().String()) {
		// Outside the database's IP allowlist: closed before a byte is
		// read or written, as a firewall would.
		_ = raw.Close()
		return
	}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		_ = raw.Close()
		return
	}
	if int64(len(f.conns)) >= f.maxClients.Load() {
		f.mu.Unlock()
		f.reject(raw)
		return
	}
	f.nextID++
	c := &conn{Conn: raw, raw: raw, front: f, id: f.nextID}
	id := strconv.FormatUint(c.id, 10)
	c.tag = fmt.Appendf(nil, "*2\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(tagCommand), tagCommand, len(id), id)
	var tc *tls.Conn
	if f.cfg.tls != nil {
		tc = tls.Server(raw, f.cfg.tls)
		c.Conn = tc
	}
	f.conns[c.id] = c
	f.mu.Unlock()
	f.accepted.Add(1)
	_ = raw.SetReadDeadline(authDeadline)
	if tc == nil {
		f.srv.ServeConn(c)
		return
	}
	f.wg.Go(func() {
		deadline := time.Now().Add(handshakeTimeout)
		if authDeadline.Before(deadline) {
			deadline = authDeadline
		}
		_ = raw.SetDeadline(deadline)
		if err := tc.Handshake(); err != nil {
			_ = raw.Close()
			c.release()
			return
		}
		_ = raw.SetWriteDeadline(time.Time{})
		_ = raw.SetReadDeadline(authDeadline)
		f.srv.ServeConn(c)
	})
}

// reject tells a connection over the client limit so, as redis-server does,
// and closes it.
func (f *front) reject(raw net.Conn) {
	tell := func(w net.Conn) {
		_ = w.SetWriteDeadline(time.Now().Add(errorWriteTimeout))
		_, _ = io.WriteString(w, "-"+msgMaxClients+"\r\n")
	}
	if f.cfg.tls == nil {
		tell(raw) // a new socket's send buffer is empty: this does not block
		_ = raw.Close()
		return
	}
	f.mu.Lock()
	if f.closed || len(f.rejecting) >= maxRejecting {
		f.mu.Unlock()
		_ = raw.Close()
		return
	}
	f.rejecting[raw] = true
	f.mu.Unlock()
	f.wg.Go(func() {
		tc := tls.Server(raw, f.cfg.tls)
		_ = raw.SetDeadline(time.Now().Add(handshakeTimeout))
		if tc.Handshake() == nil {
			tell(tc)
		}
		_ = raw.Close()
		f.mu.Lock()
		delete(f.rejecting, raw)
		f.mu.Unlock()
	})
}

// close stops accepting, closes every connection, stops a running script and
// waits for the goroutines the front started. It takes no miniredis lock.
// miniredis's own goroutines end when it sees the connections closed; drain
// waits for them.
func (f *front) close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	close(f.done)
	_ = f.ln.Close()
	for _, c := range f.conns {
		_ = c.raw.Close() // the raw connection: a TLS close_notify could wait on the client
	}
	for raw := range f.rejecting {
		_ = raw.Close()
	}
	f.mu.Unlock()
	f.scripts.close()
	f.wg.Wait()
}

// stopped reports whether the front was closed.
func (f *front) stopped() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// open returns the number of connections open now.
func (f *front) open() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.conns)
}

// drain waits, a bounded time, until miniredis has let go of every
// connection of the closed front. A command blocked on a closed connection
// (BLPOP) only looks again when miniredis's data changes: poke makes it.
func (f *front) drain(poke func()) {
	for range drainPolls {
		if f.open() == 0 {
			return
		}
		poke()
		time.Sleep(drainPoll)
	}
}

// wake makes miniredis look again at every blocked command, as any write
// does: a PING on a peer of devapi's own.
func (f *front) wake() {
	np := server.NewPeer(bufio.NewWriter(io.Discard))
	f.internal(np, []string{"PING"})
}

// internal dispatches args on np, a peer of devapi's own or of the
// script sandbox's, past the hook.
func (f *front) internal(np *server.Peer, args []string) {
	f.mu.Lock()
	f.peers[np] = &peerState{passing: true}
	f.mu.Unlock()
	f.dispatch(np, args)
	f.mu.Lock()
	delete(f.peers, np)
	f.mu.Unlock()
}

// dispatch runs a command in miniredis. A panic in miniredis ends the
// command with an error instead of the process: argsRefused keeps out the
// arguments known to cause one, this catches the others. miniredis's
// withTx does not unlock on a panic: when the panic struck inside it, its
// lock is given back, or the database would answer nothing again.
func (f *front) dispatch(c *server.Peer, args []string) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if bytes.Contains(debug.Stack(), []byte("github.com/alicebob/miniredis/v2.withTx(")) {
			// Held, it is the panicking command's: give it back. Free
			// (the panic struck before withTx locked), TryLock took it:
			// give that back.
			f.m.TryLock()
			f.m.Unlock()
		}
		f.cfg.logger.Error("embeddedplane: a command failed inside miniredis", "database", f.cfg.id, "command", args[0], "panic", fmt.Sprint(r))
		c.WriteError("ERR internal error")
	}()
	f.srv.Dispatch(c, args)
}

// hook runs before miniredis sees a command; it returns true when it has
// answered the command itself.
func (f *front) hook(c *server.Peer, cmd string, args ...string) bool {
	f.mu.Lock()
	st := f.peers[c]
	f.mu.Unlock()
	if st != nil && st.passing {
		return false
	}
	if f.scripts.nested(c) {
		// redis.call from a script: the sandbox applied the policy; the
		// arguments miniredis does not survive are refused here.
		if msg := argsRefused(cmd, args); msg != "" {
			c.WriteError(msg)
			return true
		}
		f.internal(c, append([]string{cmd}, args...))
		return true
	}
	if st == nil {
		f.bind(c, cmd, args)
		return true
	}
	f.monitors.publish(c, st, cmd, args)
	switch cmd {
	case "AUTH":
		if st.multi {
			f.refuse(c, st, msgAuthInMulti)
			return true
		}
		f.auth(c, st, args)
		return true
	case "HELLO":
		return f.hello(c, st, args)
	case "QUIT":
		return false
	}
	if !st.conn.authed.Load() {
		c.WriteError(msgNoAuth)
		return true
	}
	if msg := devapi.CommandRefused(append([]string{cmd}, args...)); msg != "" {
		f.refuse(c, st, msg)
		return true
	}
	if msg := argsRefused(cmd, args); msg != "" {
		f.refuse(c, st, msg)
		return true
	}
	if isScriptCommand(cmd) {
		if st.multi {
			f.refuse(c, st, msgScriptInMulti)
			return true
		}
		f.scripts.handle(c, cmd, args)
		return true
	}
	leave, busy := f.scripts.enter(c)
	if busy {
		f.refuse(c, st, busyError)
		return true
	}
	if blocks(cmd, args) {
		// It must not hold the gate while it waits: a script waiting for
		// the gate would stall the database.
		leave()
	} else {
		defer leave()
	}
	st.passing = true
	f.dispatch(c, append([]string{cmd}, args...))
	st.passing = false
	if len(args) == 0 {
		switch cmd {
		case "MULTI":
			st.multi = true
		case "EXEC", "DISCARD":
			st.multi = false
		}
	}
	return true
}

// bind takes a peer's first command, which is always the tag conn.Read hands
// over, and ties the peer to its connection. A peer without one is refused.
func (f *front) bind(c *server.Peer, cmd string, args []string) {
	if cmd == tagCommand && len(args) == 1 {
		id, err := strconv.ParseUint(args[0], 10, 64)
		f.mu.Lock()
		cn := f.conns[id]
		if err == nil && cn != nil && !cn.bound {
			cn.bound = true
			f.peers[c] = &peerState{conn: cn}
			f.mu.Unlock()
			c.OnDisconnect(func() {
				f.mu.Lock()
				delete(f.peers, c)
				f.mu.Unlock()
			})
			return
		}
		f.mu.Unlock()
	}
	c.WriteError(msgNoAuth)
}

// refuse answers msg; inside MULTI it also makes EXEC answer EXECABORT, as
// redis-server does for a command it rejects while queueing.
func (f *front) refuse(c *server.Peer, st *peerState, msg string) {
	c.WriteError(msg)
	if st.multi && c.Ctx != nil {
		// An EVAL without arguments fails miniredis's arity check, which
		// marks the transaction of the peer's context dirty; np shares c's
		// context and discards the error.
		np := server.NewPeer(bufio.NewWriter(io.Discard))
		np.Ctx = c.Ctx
		f.internal(np, []string{"EVAL"})
	}
}

// auth answers AUTH [username] password as redis-server does. A failed AUTH
// leaves an authenticated connection authenticated.
func (f *front) auth(c *server.Peer, st *peerState, args []string) {
	switch len(args) {
	case 0:
		c.WriteError("ERR wrong number of arguments for 'auth' command")
	case 1, 2:
		user, password := "default", args[0]
		if len(args) == 2 {
			user, password = args[0], args[1]
		}
		if !f.valid(user, password) {
			c.WriteError(msgWrongPass)
			return
		}
		st.conn.authenticate()
		c.WriteOK()
	default:
		c.WriteError("ERR syntax error")
	}
}

// hello checks HELLO in redis-server's order (protocol version, options,
// AUTH's credentials, then whether the connection is authenticated) and
// answers the errors; it returns false when miniredis should answer.
func (f *front) hello(c *server.Peer, st *peerState, args []string) bool {
	if len(args) > 0 {
		v, err := strconv.ParseInt(args[0], 10, 64)
		if err != nil {
			c.WriteError("ERR Protocol version is not an integer or out of range")
			return true
		}
		if v < 2 || v > 3 {
			c.WriteError("NOPROTO unsupported protocol version")
			return true
		}
	}
	var user, password string
	withAuth := false
	for i := 1; i < len(args); i++ {
		more := len(args) - 1 - i
		switch opt := strings.ToUpper(args[i]); {
		case opt == "AUTH" && more >= 2:
			user, password, withAuth = args[i+1], args[i+2], true
			i += 2
		case opt == "SETNAME" && more >= 1:
			i++
		default:
			c.WriteError(fmt.Sprintf("ERR Syntax error in HELLO option '%s'", args[i]))
			return true
		}
	}
	if withAuth {
		if !f.valid(user, password) {
			c.WriteError(msgWrongPass)
			return true
		}
		st.conn.authenticate()
	}
	if !st.conn.authed.Load() {
		c.WriteError(msgHelloNoAuth)
		return true
	}
	// miniredis has no password: it takes HELLO's AUTH default ... as given.
	return false
}

// valid reports whether user and password are the database's. An empty
// password lets nobody in.
func (f *front) valid(user, password string) bool {
	want := f.cfg.password()
	ok := subtle.ConstantTimeCompare([]byte(password), []byte(want)) == 1
	return ok && want != "" && user == "default"
}

// blocks reports whether a command waits for other clients (a blocking pop,
// XREAD ... BLOCK, WAIT) or turns the connection into a subscriber.
func blocks(cmd string, args []string) bool {
	switch cmd {
	case "BLPOP", "BRPOP", "BRPOPLPUSH", "BLMOVE", "BLMPOP", "BZPOPMIN", "BZPOPMAX", "BZMPOP", "WAIT", "WAITAOF",
		"SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE":
		return true
	case "XREAD", "XREADGROUP":
		// XREAD [COUNT n] [BLOCK ms] STREAMS ...; XREADGROUP GROUP g c
		// [COUNT n] [BLOCK ms] [NOACK] STREAMS ...
		for i := 0; i < len(args); i++ {
			switch strings.ToUpper(args[i]) {
			case "BLOCK":
				return true
			case "STREAMS":
				return false
			case "COUNT":
				i++
			case "GROUP":
				i += 2
			}
		}
	}
	return false
}

// conn is one client connection as miniredis sees it: the tag first, then
// the client's bytes once their framing is checked. Close, by miniredis
// when it is done with the connection, releases its place under the client
// limit.
type conn struct {
	net.Conn          // what miniredis reads and writes: raw, or TLS over raw
	raw      net.Conn // the TCP connection
	front    *front
	id       uint64
	tag      []byte  // what is left of the tag command; read by miniredis's reader only
	framing  framing // miniredis's reader only
	authed   atomic.Bool
	bound    bool // under front.mu
	once     sync.Once
}

// Read implements net.Conn.
func (c *conn) Read(p []byte) (int, error) {
	if len(c.tag) > 0 {
		n := copy(p, c.tag)
		c.tag = c.tag[n:]
		return n, nil
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		if msg := c.framing.check(p[:n], c.authed.Load()); msg != "" {
			_ = c.Conn.SetWriteDeadline(time.Now().Add(errorWriteTimeout))
			_, _ = io.WriteString(c.Conn, "-ERR "+msg+"\r\n")
			return 0, errFraming
		}
	}
	return n, err
}

// Write implements net.Conn. A write that the client does not take in time
// closes the connection: miniredis's reader ends, and the command that
// wrote, holding the database's lock, writes no further.
func (c *conn) Write(p []byte) (int, error) {
	_ = c.raw.SetWriteDeadline(time.Now().Add(c.front.cfg.writeTimeout))
	n, err := c.Conn.Write(p)
	if err != nil {
		_ = c.raw.Close()
	}
	return n, err
}

// Close implements net.Conn.
func (c *conn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}

// release gives back the connection's place under the client limit.
func (c *conn) release() {
	c.once.Do(func() {
		c.front.mu.Lock()
		delete(c.front.conns, c.id)
		c.front.mu.Unlock()
	})
}

// authenticate marks the connection authenticated and lifts the deadline on
// its reads.
func (c *conn) authenticate() {
	if !c.authed.Swap(true) {
		_ = c.raw.SetReadDeadline(time.Time{})
	}
}

// framing follows the RESP framing of what a client sends and reports what
// redis-server would refuse, before miniredis reads it. It looks at the
// bytes as miniredis's reader pulls them, which can be ahead of the
// commands run: a client that sends a command over the limits before AUTH
// may not send it right behind AUTH before AUTH's reply arrived (client
// libraries wait for it).
type framing struct {
	kind byte   // '*' or '$' while a header line is read; 0 between headers
	line []byte // that header line so far
	args int64  // bulk strings still to come in the current command
	skip int64  // bytes still to come of the current bulk string, CRLF included
}

// check takes the next bytes from the client; it returns redis-server's
// protocol error, or "" when they are fine so far.
func (s *framing) check(b []byte, authed bool) string {
	for len(b) > 0 {
		switch {
		case s.skip > 0:
			n := min(s.skip, int64(len(b)))
			s.skip -= n
			b = b[n:]
		case s.kind == 0:
			want := byte('*')
			if s.args > 0 {
				want = '$'
			}
			if b[0] != want {
				return fmt.Sprintf("Protocol error: expected '%c', got '%c'", want, b[0])
			}
			s.kind, s.line, b = b[0], s.line[:0], b[1:]
		default:
			part, rest, complete := bytes.Cut(b, []byte{'\n'})
			if len(s.line)+len(part) > maxHeaderLine {
				if s.kind == '*' {
					return "Protocol error: too big mbulk count string"
				}
				return "Protocol error: too big bulk count string"
			}
			s.line = append(s.line, part...)
			if !complete {
				return ""
			}
			b = rest
			if msg := s.header(authed); msg != "" {
				return msg
			}
		}
	}
	return ""
}

// header checks a complete header line.
func (s *framing) header(authed bool) string {
	kind := s.kind
	s.kind = 0
	digits, crlf := bytes.CutSuffix(s.line, []byte{'\r'})
	n, err := strconv.ParseInt(string(digits), 10, 64)
	valid := crlf && err == nil
	if kind == '*' {
		switch {
		case !valid || n <= 0 || n > maxArgs:
			// Redis ignores "*0" and "*-1"; miniredis panics on them.
			return "Protocol error: invalid multibulk length"
		case n > unauthArgs && !authed:
			return "Protocol error: unauthenticated multibulk length"
		}
		s.args = n
		return ""
	}
	switch {
	case !valid || n < 0 || n > maxBulk:
		return "Protocol error: invalid bulk length"
	case n > unauthBulk && !authed:
		return "Protocol error: unauthenticated bulk length"
	}
	s.args--
	s.skip = n + 2
	return ""
}
