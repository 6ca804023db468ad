package restapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Batches: a pipeline or a transaction goes to the database a batch at a
// time, and each batch's replies are read (and written into the answer)
// before the next is sent. Neither side then ever holds more than a batch:
// devapi holds no reply, and the database's output buffer one batch's. The
// bytes bound also keeps the two sides from blocking each other: the
// database, blocked writing a large reply to an early command, can still
// have every later command of the batch sitting in the sockets' buffers.
const (
	batchCommands = 1000
	batchBytes    = 32 << 10 // of the commands after a batch's first
)

// unreachable answers a command the database did not answer.
const (
	unreachable     = "ERR database is unreachable"
	unreachableItem = `{"error":"` + unreachable + `"}`
)

// failure is an error answer that replaces a request's whole answer.
type failure struct {
	status int
	msg    string
}

// exchange runs one request's commands on its database, writing the answer
// as the replies arrive.
type exchange struct {
	ctx           context.Context
	pool          *planePool
	cmds          *commands
	readOnlyToken bool
	limit         int64 // Limits.MaxResponseBytes
	e             *encoder

	conn    *planeConn
	unwatch func()
	down    bool     // the database failed; nothing more is sent
	refusal []string // the refusals of the batch being run

	failed int   // commands answered unreachable
	err    error // the first failure of the database, for the log
}

// connect takes a connection from the pool, unless one is held.
func (x *exchange) connect() error {
	if x.conn != nil {
		return nil
	}
	c, err := x.pool.get(x.ctx)
	if err != nil {
		return err
	}
	x.conn, x.unwatch = c, c.watch(x.ctx)
	return nil
}

// release gives the connection back to the pool.
func (x *exchange) release() {
	if x.conn != nil {
		x.unwatch()
		x.pool.put(x.conn)
		x.conn = nil
	}
}

// planeFailed records the database's failure once, and drops the connection.
func (x *exchange) planeFailed(err error) {
	if x.err == nil {
		x.err = err
	}
	x.down = true
	if x.conn != nil {
		x.conn.broken = true
		x.release()
	}
}

// item writes {"error":msg}.
func (x *exchange) item(msg []byte) {
	b64 := x.e.b64
	x.e.b64 = false
	x.e.raw(`{"error":`)
	x.e.str(msg)
	x.e.raw("}")
	x.e.b64 = b64
}

// answerFailure is the error answer for an answer that could not be built:
// too large, or no room in flight for it. ran says what ran nonetheless.
func (x *exchange) answerFailure(err error, ran string) *failure {
	if x.conn != nil {
		x.conn.broken = true // replies may be left unread
	}
	switch {
	case errors.Is(err, errNoRoom):
		return &failure{http.StatusTooManyRequests, "ERR too many requests in flight: no room for this answer now, retry later" + ran}
	case errors.Is(err, errTooDeep):
		return &failure{http.StatusBadRequest, fmt.Sprintf("ERR response too large: a reply nested deeper than %d levels", maxDepth) + ran}
	default:
		return &failure{http.StatusBadRequest, fmt.Sprintf("ERR response too large: the answer passed the limit of %d bytes", x.limit) + ran}
	}
}

// answerError reports whether err is about the answer rather than the
// database.
func answerError(err error) bool {
	return errors.Is(err, errTooLarge) || errors.Is(err, errNoRoom) || errors.Is(err, errTooDeep)
}

// single runs the request's one command: its answer is {"result":...}, or a
// 400 with Redis's error.
func (x *exchange) single() *failure {
	if msg := check(x.cmds, 0, x.readOnlyToken); msg != "" {
		return &failure{http.StatusBadRequest, msg}
	}
	if err := x.connect(); err != nil {
		x.failed = 1
		x.planeFailed(err)
		return &failure{http.StatusBadRequest, unreachable}
	}
	x.conn.writeCommand(x.cmds, 0)
	if err := x.conn.flush(); err != nil {
		x.failed = 1
		x.planeFailed(err)
		return &failure{http.StatusBadRequest, unreachable}
	}
	redisErr, err := x.conn.reply(x.e)
	if err == nil {
		err = x.e.flush()
	}
	switch {
	case err != nil && answerError(err):
		return x.answerFailure(err, "")
	case err != nil:
		x.failed = 1
		x.planeFailed(err)
		return &failure{http.StatusBadRequest, unreachable}
	case redisErr != "":
		return &failure{http.StatusBadRequest, redisErr}
	}
	return nil
}

// batchEnd returns where the batch that starts at command start ends.
func (x *exchange) batchEnd(start int) int {
	end, size := start+1, 0
	for end < x.cmds.len() && end-start < batchCommands {
		lo, hi := x.cmds.command(end)
		for j := lo; j < hi; j++ {
			size += len(x.cmds.arg(j)) + 16 // and its RESP header
		}
		if size > batchBytes {
			break
		}
		end++
	}
	return end
}

// send checks commands start up to end and sends those that may run, unless
// the database failed before.
func (x *exchange) send(start, end int) {
	x.refusal = x.refusal[:0]
	for i := start; i < end; i++ {
		x.refusal = append(x.refusal, check(x.cmds, i, x.readOnlyToken))
	}
	if x.down {
		return
	}
	if err := x.connect(); err != nil {
		x.planeFailed(err)
		return
	}
	for i := start; i < end; i++ {
		if x.refusal[i-start] == "" {
			x.conn.writeCommand(x.cmds, i)
		}
	}
	if err := x.conn.flush(); err != nil {
		x.planeFailed(err)
	}
}

// pipeline runs the commands in order, not atomically, and answers one item
// per command. Once the database fails, the commands left are answered
// unreachable without being sent, and the failure is logged once.
func (x *exchange) pipeline() *failure {
	n := x.cmds.len()
	e := x.e
	e.raw("[")
	for start := 0; start < n; {
		end := x.batchEnd(start)
		x.send(start, end)
		for i := start; i < end; i++ {
			if i > 0 {
				e.raw(",")
			}
			switch refusal := x.refusal[i-start]; {
			case refusal != "":
				x.item([]byte(refusal))
			case x.down:
				x.failed++
				e.raw(unreachableItem)
			default:
				redisErr, err := x.conn.reply(e)
				switch {
				case err != nil && answerError(err):
					return x.answerFailure(err, x.ran(i, n, end))
				case err != nil:
					x.planeFailed(err)
					x.failed++
					x.item([]byte(unreachable))
				case redisErr != "":
					x.item([]byte(redisErr))
				}
			}
			if e.out.err != nil {
				return x.answerFailure(e.out.err, x.ran(i, n, end))
			}
		}
		start = end
	}
	e.raw("]")
	if err := e.flush(); err != nil {
		return x.answerFailure(err, x.ran(n-1, n, n))
	}
	return nil
}

// ran says, in a pipeline's error answer, how far it ran: the commands up to
// sent were sent to the database.
func (x *exchange) ran(at, n, sent int) string {
	return fmt.Sprintf(" (at command %d of %d); the first %d commands were sent to the database, the rest were not", at+1, n, sent)
}

// transaction runs the commands in one MULTI/EXEC on one connection. A
// command refused before the transaction, or one Redis refuses to queue,
// fails the transaction as a whole and nothing runs: the queue is checked
// before EXEC and discarded on any error (miniredis would otherwise run the
// rest, where Redis answers EXECABORT). Commands are queued a batch at a
// time, each batch's QUEUED replies read before the next.
func (x *exchange) transaction() *failure {
	n := x.cmds.len()
	for i := range n {
		if msg := check(x.cmds, i, x.readOnlyToken); msg != "" {
			return &failure{http.StatusBadRequest, msg}
		}
	}
	f, err := x.queue()
	if err == nil && f == nil {
		f, err = x.exec()
	}
	if err != nil {
		x.failed = n
		x.planeFailed(err)
		return &failure{http.StatusBadRequest, unreachable}
	}
	return f
}

// queue sends MULTI and the commands, and discards the transaction if Redis
// refuses one. MULTI goes alone first: were it refused, the commands after
// it would run one by one.
func (x *exchange) queue() (*failure, error) {
	if err := x.connect(); err != nil {
		return nil, err
	}
	c := x.conn
	c.writeArgs("MULTI")
	if line, err := c.roundTrip(); err != nil {
		return nil, err
	} else if line[0] == '-' {
		return &failure{http.StatusBadRequest, string(line[1:])}, nil
	}
	queueErr := ""
	for start := 0; start < x.cmds.len() && queueErr == ""; {
		end := x.batchEnd(start)
		for i := start; i < end; i++ {
			c.writeCommand(x.cmds, i)
		}
		if err := c.flush(); err != nil {
			return nil, err
		}
		for range end - start {
			if err := c.deadline(); err != nil {
				return nil, err
			}
			line, err := c.line()
			if err != nil {
				return nil, err
			}
			if line[0] == '-' && queueErr == "" {
				queueErr = string(line[1:])
			}
		}
		start = end
	}
	if queueErr == "" {
		return nil, nil
	}
	c.writeArgs("DISCARD")
	if _, err := c.roundTrip(); err != nil {
		return nil, err
	}
	return &failure{http.StatusBadRequest, "EXECABORT Transaction discarded because of previous errors: " + queueErr}, nil
}

// exec runs the queued transaction and writes EXEC's replies as the items of
// the answer.
func (x *exchange) exec() (*failure, error) {
	c, e := x.conn, x.e
	c.writeArgs("EXEC")
	if err := c.flush(); err != nil {
		return nil, err
	}
	if err := c.deadline(); err != nil {
		return nil, err
	}
	line, err := c.line()
	if err != nil {
		return nil, err
	}
	switch line[0] {
	case '-':
		return &failure{http.StatusBadRequest, string(line[1:])}, nil
	case '*':
	default:
		return nil, c.fail(errors.New("unexpected reply to EXEC"))
	}
	count, ok := parseInt(line[1:])
	if !ok || count < 0 {
		return &failure{http.StatusBadRequest, "EXECABORT Transaction discarded"}, nil
	}
	const ran = "; the transaction ran"
	e.raw("[")
	for i := range count {
		if i > 0 {
			e.raw(",")
		}
		line, err := c.line()
		if err != nil {
			return nil, err
		}
		if line[0] == '-' {
			x.item(line[1:])
		} else {
			e.raw(`{"result":`)
			if err := c.value(e, line, 1); err != nil {
				if answerError(err) {
					return x.answerFailure(err, ran), nil
				}
				return nil, err
			}
			e.raw("}")
		}
		if e.out.err != nil {
			return x.answerFailure(e.out.err, ran), nil
		}
	}
	e.raw("]")
	if err := e.flush(); err != nil {
		return x.answerFailure(err, ran), nil
	}
	return nil, nil
}
