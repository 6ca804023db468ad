package restapi

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// The REST API talks RESP2 to the plane itself rather than through go-redis:
// go-redis reads a whole reply into a tree of Go values before anyone can
// look at its size (a KEYS * of a huge database would be held several times
// over, as []any, then as JSON), while this reader writes each reply
// straight into the JSON answer as it arrives and stops as soon as the
// answer would pass its limit.

// poolSize is how many connections the REST API keeps to one database at
// most; a request waits for one while all are busy.
const poolSize = 16

// maxDepth bounds how deeply nested a reply may be (a Lua script can return
// nested tables): reading it is recursive.
const maxDepth = 512

// planePool is the connections to one database, for one password.
type planePool struct {
	addr     string
	tls      *tls.Config // nil for plain TCP
	password string
	timeout  time.Duration // each reply's deadline, and the dial's

	slots chan struct{} // one per connection out of the pool

	mu     sync.Mutex
	idle   []*planeConn
	closed bool
}

func newPlanePool(addr string, tlsConfig *tls.Config, password string, timeout time.Duration) *planePool {
	return &planePool{addr: addr, tls: tlsConfig, password: password, timeout: timeout, slots: make(chan struct{}, poolSize)}
}

// get returns a connection, idle or new, waiting for a free slot until ctx
// ends.
func (p *planePool) get(ctx context.Context) (*planeConn, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p.mu.Lock()
	for len(p.idle) > 0 {
		c := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if c.alive() {
			p.mu.Unlock()
			return c, nil
		}
		_ = c.nc.Close()
	}
	p.mu.Unlock()
	c, err := p.dial(ctx)
	if err != nil {
		<-p.slots
		return nil, err
	}
	return c, nil
}

// put gives c back: to the idle list if it is in a known state, else it is
// closed.
func (p *planePool) put(c *planeConn) {
	defer func() { <-p.slots }()
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.broken || p.closed {
		_ = c.nc.Close()
		return
	}
	p.idle = append(p.idle, c)
}

// close closes the idle connections, and those in use as they come back.
func (p *planePool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, c := range p.idle {
		_ = c.nc.Close()
	}
	p.idle = nil
}

// dial opens a connection and authenticates it as the default user.
func (p *planePool) dial(ctx context.Context) (*planeConn, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, err
	}
	if p.tls != nil {
		tc := tls.Client(nc, p.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = nc.Close()
			return nil, err
		}
		nc = tc
	}
	c := &planeConn{nc: nc, br: bufio.NewReaderSize(nc, 32<<10), bw: bufio.NewWriterSize(nc, 32<<10), timeout: p.timeout}
	stop := c.watch(ctx)
	defer stop()
	c.writeArgs("AUTH", "default", p.password)
	if err := c.flush(); err != nil {
		_ = nc.Close()
		return nil, err
	}
	line, err := c.line()
	switch {
	case err != nil:
	case len(line) > 0 && line[0] == '+':
		return c, nil
	case len(line) > 0 && line[0] == '-':
		err = fmt.Errorf("auth: %s", line[1:])
	default:
		err = errors.New("auth: unexpected reply")
	}
	_ = nc.Close()
	return nil, err
}

// planeConn is one connection to a database.
type planeConn struct {
	nc      net.Conn
	br      *bufio.Reader
	bw      *bufio.Writer
	timeout time.Duration
	// broken is set once the connection is in an unknown state: an I/O
	// error, or a reply left half read. It is closed instead of reused.
	broken bool
	long   []byte // a line longer than br's buffer
	num    []byte // scratch for RESP headers
	bulk   []byte // scratch for bulk strings
}

// aLongTimeAgo is a deadline that has passed: it stops a blocked read or
// write at once.
var aLongTimeAgo = time.Unix(1, 0)

// watch makes the end of ctx stop the connection's I/O (and break it); stop
// ends the watch.
func (c *planeConn) watch(ctx context.Context) (stop func()) {
	s := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(aLongTimeAgo) })
	return func() {
		if !s() {
			c.broken = true // ctx ended; the deadline may have cut I/O
		}
	}
}

// alive reports whether an idle connection is still open with nothing to
// read: the server may have closed it (a restart, a new password).
func (c *planeConn) alive() bool {
	if c.br.Buffered() > 0 {
		return false
	}
	nc := c.nc
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	var b [1]byte
	err = raw.Read(func(fd uintptr) bool {
		n, err := syscall.Read(int(fd), b[:])
		// Nothing to read is what an idle connection should have; EOF or
		// data means it is closed or out of step.
		alive = n <= 0 && (errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK))
		return true
	})
	return err == nil && alive
}

// fail marks the connection broken and returns err.
func (c *planeConn) fail(err error) error {
	c.broken = true
	return err
}

// writeArgs buffers one command.
func (c *planeConn) writeArgs(args ...string) {
	c.header('*', len(args))
	for _, a := range args {
		c.header('$', len(a))
		_, _ = c.bw.WriteString(a)
		_, _ = c.bw.WriteString("\r\n")
	}
}

// writeCommand buffers command i of cmds.
func (c *planeConn) writeCommand(cmds *commands, i int) {
	lo, hi := cmds.command(i)
	c.header('*', hi-lo)
	for j := lo; j < hi; j++ {
		a := cmds.arg(j)
		c.header('$', len(a))
		_, _ = c.bw.Write(a)
		_, _ = c.bw.WriteString("\r\n")
	}
}

func (c *planeConn) header(kind byte, n int) {
	c.num = append(c.num[:0], kind)
	c.num = strconv.AppendInt(c.num, int64(n), 10)
	c.num = append(c.num, '\r', '\n')
	_, _ = c.bw.Write(c.num)
}

// flush sends what is buffered.
func (c *planeConn) flush() error {
	if err := c.nc.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		return c.fail(err)
	}
	if err := c.bw.Flush(); err != nil {
		return c.fail(err)
	}
	return nil
}

// line reads one RESP line, without its CRLF. It is valid until the next
// read.
func (c *planeConn) line() ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		c.long = append(c.long[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = c.br.ReadSlice('\n')
			c.long = append(c.long, line...)
			if len(c.long) > 1<<30 {
				return nil, c.fail(errors.New("reply line too long"))
			}
		}
		line = c.long
	}
	if err != nil {
		return nil, c.fail(err)
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, c.fail(errors.New("malformed reply"))
	}
	return line[:len(line)-2], nil
}

// reply reads the next reply: a Redis error's text, or else the reply
// written to e as an item, {"result":...}. The reply's deadline is the
// connection's timeout from now.
func (c *planeConn) reply(e *encoder) (redisErr string, err error) {
	if err := c.nc.SetReadDeadline(time.Now().Add(c.timeout)); err != nil {
		return "", c.fail(err)
	}
	line, err := c.line()
	if err != nil {
		return "", err
	}
	if line[0] == '-' {
		return string(line[1:]), nil
	}
	e.raw(`{"result":`)
	if err := c.value(e, line, 0); err != nil {
		return "", err
	}
	e.raw("}")
	if e.out.err != nil {
		return "", c.fail(e.out.err)
	}
	return "", nil
}

// value writes the value whose first line is line, reading the rest of it.
func (c *planeConn) value(e *encoder, line []byte, depth int) error {
	switch line[0] {
	case '+':
		e.str(line[1:])
	case '-':
		// An error inside an array (EXEC's, a script's) is a string.
		b64 := e.b64
		e.b64 = false
		e.str(line[1:])
		e.b64 = b64
	case ':':
		if _, ok := parseInt(line[1:]); !ok {
			return c.fail(errors.New("malformed integer reply"))
		}
		e.buf = append(e.buf, line[1:]...)
		e.spill()
	case '$':
		n, ok := parseInt(line[1:])
		if !ok || n < -1 || n > 1<<40 {
			return c.fail(errors.New("malformed bulk reply"))
		}
		if n == -1 {
			e.raw("null")
			return nil
		}
		return c.bulkString(e, int(n))
	case '*':
		n, ok := parseInt(line[1:])
		if !ok || n < -1 {
			return c.fail(errors.New("malformed array reply"))
		}
		if n == -1 {
			e.raw("null")
			return nil
		}
		if depth == maxDepth {
			return c.fail(errTooDeep)
		}
		e.raw("[")
		for i := range int(n) {
			if i > 0 {
				e.raw(",")
			}
			line, err := c.line()
			if err != nil {
				return err
			}
			if err := c.value(e, line, depth+1); err != nil {
				return err
			}
			if e.out.err != nil {
				return c.fail(e.out.err)
			}
		}
		e.raw("]")
	default:
		return c.fail(fmt.Errorf("unexpected reply type %q", line[0]))
	}
	return nil
}

// bulkString writes a bulk string of n bytes, reading it a part at a time:
// one that does not fit in the answer stops after its first parts.
func (c *planeConn) bulkString(e *encoder, n int) error {
	b64 := e.b64
	if b64 && n == 2 {
		if p, err := c.br.Peek(2); err == nil && string(p) == "OK" {
			b64 = false
		}
	}
	if c.bulk == nil {
		c.bulk = make([]byte, 32<<10)
	}
	e.raw(`"`)
	carry := 0
	for left := n; left > 0 || carry > 0; {
		m := min(left, len(c.bulk)-carry)
		if _, err := io.ReadFull(c.br, c.bulk[carry:carry+m]); err != nil {
			return c.fail(err)
		}
		left -= m
		part := c.bulk[:carry+m]
		used := e.stringPart(part, b64, left == 0)
		carry = copy(c.bulk, part[used:])
		if e.out.err != nil {
			return c.fail(e.out.err)
		}
	}
	e.raw(`"`)
	if _, err := c.br.Discard(2); err != nil {
		return c.fail(err)
	}
	return nil
}

// parseInt parses a RESP integer.
func parseInt(b []byte) (int64, bool) {
	n, err := strconv.ParseInt(string(b), 10, 64)
	return n, err == nil
}

// deadline gives the next reply the connection's timeout from now.
func (c *planeConn) deadline() error {
	if err := c.nc.SetReadDeadline(time.Now().Add(c.timeout)); err != nil {
		return c.fail(err)
	}
	return nil
}

// roundTrip sends what is buffered and reads one line of reply.
func (c *planeConn) roundTrip() ([]byte, error) {
	if err := c.flush(); err != nil {
		return nil, err
	}
	if err := c.deadline(); err != nil {
		return nil, err
	}
	return c.line()
}
