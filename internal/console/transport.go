package console

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
)

// maxAnswer bounds what one in-process answer may hold in memory. The
// management API's answers are small; the REST API bounds its own answers
// (restapi.Limits), and the data browser asks for pages, not whole values.
const maxAnswer = 16 << 20

// errAnswerTooLarge is returned for an answer over maxAnswer.
var errAnswerTooLarge = errors.New("answer too large")

// remoteAddrKey carries the browser's address to the in-process request, so
// the API's per-address limits and the REST API's IP allowlist see the
// person who asked, not the console.
type remoteAddrKey struct{}

// withRemoteAddr returns ctx carrying the browser's address addr.
func withRemoteAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, remoteAddrKey{}, addr)
}

// handlerTransport is an http.RoundTripper that answers each request by
// calling a handler in process: the console is an HTTP client of the very
// handler the API serves, without a socket in between.
type handlerTransport struct {
	h http.Handler
}

// RoundTrip serves req with the handler and returns its answer.
func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	in := req.Clone(req.Context())
	in.RequestURI = req.URL.RequestURI()
	in.Host = req.URL.Host
	in.RemoteAddr = "127.0.0.1:0"
	if addr, ok := req.Context().Value(remoteAddrKey{}).(string); ok && addr != "" {
		in.RemoteAddr = addr
	}
	if in.Body == nil {
		in.Body = http.NoBody
	}
	rec := &recorder{header: http.Header{}}
	t.h.ServeHTTP(rec, in)
	if req.Body != nil {
		_ = req.Body.Close()
	}
	if rec.overflow {
		return nil, errAnswerTooLarge
	}
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return &http.Response{
		Status:        http.StatusText(rec.status),
		StatusCode:    rec.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        rec.header,
		Body:          io.NopCloser(&rec.body),
		ContentLength: int64(rec.body.Len()),
		Request:       req,
	}, nil
}

// recorder is the http.ResponseWriter of an in-process request: it keeps the
// answer, up to maxAnswer bytes.
type recorder struct {
	header   http.Header
	status   int
	body     bytes.Buffer
	overflow bool
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.body.Len()+len(b) > maxAnswer {
		r.overflow = true
		return 0, errAnswerTooLarge
	}
	return r.body.Write(b)
}

// Flush is a no-op: the answer is read when the handler returns.
func (r *recorder) Flush() {}
