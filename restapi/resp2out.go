package restapi

// Upstash-Response-Format: resp2, as Upstash documents it: the answer to a
// command (POST /, path-style) or a /pipeline is the database's replies as
// raw RESP2 bytes, one after another, as a TCP client reads them, with
// Content-Type application/octet-stream. A Redis error, and a command devapi
// refuses (the command policy, a read-only token), are RESP error replies
// (-ERR ...\r\n) in a 200 answer, as a TCP client would read them; a pipeline
// command the database could not answer is -ERR database is unreachable.
// What fails the request as a whole (401, 403, 413, 429, a malformed body,
// an unreachable database for a single command, an answer over
// MaxResponseBytes) stays a JSON {"error"} answer, so a client tells them
// apart by Content-Type. /multi-exec answers JSON whatever the header says.
// Combined with Upstash-Encoding: base64 the request is answered 400; a
// format other than json or resp2 too.

import (
	"errors"
	"io"
	"net/http"
	"strings"
)

// responseFormat reads the request's Upstash-Response-Format: true for
// resp2, false for json (the default).
func responseFormat(r *http.Request) (resp2 bool, err error) {
	switch f := strings.TrimSpace(r.Header.Get("Upstash-Response-Format")); {
	case f == "" || strings.EqualFold(f, "json"):
		return false, nil
	case strings.EqualFold(f, "resp2"):
		if strings.EqualFold(r.Header.Get("Upstash-Encoding"), "base64") {
			return false, errors.New("ERR Upstash-Encoding: base64 cannot be combined with Upstash-Response-Format: resp2")
		}
		return true, nil
	}
	return false, errors.New("ERR invalid Upstash-Response-Format: use json or resp2")
}

// rawError writes msg as a RESP error reply.
func (e *encoder) rawError(msg string) {
	e.buf = append(e.buf, '-')
	e.buf = append(e.buf, msg...)
	e.buf = append(e.buf, '\r', '\n')
	e.spill()
}

// singleRESP2 is single, answered in RESP2.
func (x *exchange) singleRESP2() *failure {
	if msg := check(x.cmds, 0, x.readOnlyToken); msg != "" {
		x.e.rawError(msg)
		if err := x.e.flush(); err != nil {
			return x.answerFailure(err, "")
		}
		return nil
	}
	if err := x.connect(); err != nil {
		x.failed = 1
		x.planeFailed(err)
		return &failure{http.StatusBadRequest, unreachable}
	}
	x.conn.writeCommand(x.cmds, 0)
	err := x.conn.flush()
	if err == nil {
		err = x.conn.rawReply(x.e)
	}
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
	}
	return nil
}

// pipelineRESP2 is pipeline, answered in RESP2: the replies back to back.
func (x *exchange) pipelineRESP2() *failure {
	n := x.cmds.len()
	e := x.e
	for start := 0; start < n; {
		end := x.batchEnd(start)
		x.send(start, end)
		for i := start; i < end; i++ {
			switch refusal := x.refusal[i-start]; {
			case refusal != "":
				e.rawError(refusal)
			case x.down:
				x.failed++
				e.rawError(unreachable)
			default:
				err := x.conn.rawReply(e)
				switch {
				case err != nil && answerError(err):
					return x.answerFailure(err, x.ran(i, n, end))
				case err != nil:
					x.planeFailed(err)
					x.failed++
					e.rawError(unreachable)
				}
			}
			if e.out.err != nil {
				return x.answerFailure(e.out.err, x.ran(i, n, end))
			}
		}
		start = end
	}
	if err := e.flush(); err != nil {
		return x.answerFailure(err, x.ran(n-1, n, n))
	}
	return nil
}

// rawReply reads the next reply and writes its bytes to e as they are. The
// reply's deadline is the connection's timeout from now.
func (c *planeConn) rawReply(e *encoder) error {
	if err := c.deadline(); err != nil {
		return err
	}
	line, err := c.line()
	if err != nil {
		return err
	}
	if err := c.rawValue(e, line, 0); err != nil {
		return err
	}
	if e.out.err != nil {
		return c.fail(e.out.err)
	}
	return nil
}

// rawValue writes the value whose first line is line, and the rest of it,
// as it came.
func (c *planeConn) rawValue(e *encoder, line []byte, depth int) error {
	e.buf = append(e.buf, line...)
	e.buf = append(e.buf, '\r', '\n')
	e.spill()
	switch line[0] {
	case '+', '-':
	case ':':
		if _, ok := parseInt(line[1:]); !ok {
			return c.fail(errors.New("malformed integer reply"))
		}
	case '$':
		n, ok := parseInt(line[1:])
		if !ok || n < -1 || n > 1<<40 {
			return c.fail(errors.New("malformed bulk reply"))
		}
		if n == -1 {
			return nil
		}
		if c.bulk == nil {
			c.bulk = make([]byte, 32<<10)
		}
		for left := int(n) + 2; left > 0; {
			m := min(left, len(c.bulk))
			if _, err := io.ReadFull(c.br, c.bulk[:m]); err != nil {
				return c.fail(err)
			}
			e.buf = append(e.buf, c.bulk[:m]...)
			e.spill()
			if e.out.err != nil {
				return c.fail(e.out.err)
			}
			left -= m
		}
	case '*':
		n, ok := parseInt(line[1:])
		if !ok || n < -1 {
			return c.fail(errors.New("malformed array reply"))
		}
		if depth == maxDepth {
			return c.fail(errTooDeep)
		}
		for range max(n, 0) {
			line, err := c.line()
			if err != nil {
				return err
			}
			if err := c.rawValue(e, line, depth+1); err != nil {
				return err
			}
			if e.out.err != nil {
				return c.fail(e.out.err)
			}
		}
	default:
		return c.fail(errors.New("unexpected reply type"))
	}
	return nil
}
