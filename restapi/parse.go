package restapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// commands are a request's commands in three flat slices instead of a
// [][]string: a pipeline of a million ["PING"] costs a few bytes per command,
// not a slice header, a string header and an allocation per argument.
type commands struct {
	data  []byte   // every argument's bytes, back to back
	ends  []uint32 // ends[j] is where argument j ends in data
	first []uint32 // first[i] is the index of command i's first argument
}

// len is the number of commands.
func (c *commands) len() int { return len(c.first) }

// command returns the indexes of command i's arguments: lo up to hi.
func (c *commands) command(i int) (lo, hi int) {
	lo, hi = int(c.first[i]), len(c.ends)
	if i+1 < len(c.first) {
		hi = int(c.first[i+1])
	}
	return lo, hi
}

// arg returns argument j; it aliases the command's storage.
func (c *commands) arg(j int) []byte {
	start := uint32(0)
	if j > 0 {
		start = c.ends[j-1]
	}
	return c.data[start:c.ends[j]]
}

// begin starts a new command.
func (c *commands) begin() { c.first = append(c.first, uint32(len(c.ends))) }

// add appends an argument to the last command.
func (c *commands) add(a string) {
	c.data = append(c.data, a...)
	c.ends = append(c.ends, uint32(len(c.data)))
}

// requestError is a request the REST API refuses before running anything.
type requestError struct {
	status int
	msg    string
}

func (e *requestError) Error() string { return e.msg }

var (
	errNotCommand  = &requestError{http.StatusBadRequest, "ERR failed to parse command: the body must be a JSON array like [\"SET\",\"key\",\"value\"]"}
	errNotCommands = &requestError{http.StatusBadRequest, "ERR failed to parse commands: the body must be a JSON array of command arrays"}
	errCannotRead  = &requestError{http.StatusBadRequest, "ERR cannot read request body"}
)

// bodyError is the requestError for an error reading a body: 413 past the
// size limit, 400 otherwise.
func bodyError(err error, limit int64, otherwise *requestError) *requestError {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooLarge(limit)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return otherwise
	}
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		return otherwise
	}
	return errCannotRead
}

// tooLarge is Upstash's answer to a body over the limit.
func tooLarge(limit int64) *requestError {
	return &requestError{http.StatusRequestEntityTooLarge, fmt.Sprintf("ERR max request size exceeded. Limit: %d bytes", limit)}
}

// parseCommands reads a JSON array of command arrays from r, one token at a
// time, into cmds; more than max commands is an error, and the rest of the
// body is not read.
func parseCommands(r io.Reader, limit int64, max int, cmds *commands) error {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if err := expectDelim(dec, '[', limit, errNotCommands); err != nil {
		return err
	}
	for dec.More() {
		if cmds.len() == max {
			return &requestError{http.StatusBadRequest, fmt.Sprintf("ERR too many commands: at most %d in one request, this one has more", max)}
		}
		if err := parseArray(dec, limit, cmds, errNotCommands); err != nil {
			return err
		}
	}
	if err := expectDelim(dec, ']', limit, errNotCommands); err != nil {
		return err
	}
	if cmds.len() == 0 {
		return errNotCommands
	}
	return expectEnd(dec, limit, errNotCommands)
}

// parseCommand reads one JSON array command from r into cmds.
func parseCommand(r io.Reader, limit int64, cmds *commands) error {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if err := parseArray(dec, limit, cmds, errNotCommand); err != nil {
		return err
	}
	return expectEnd(dec, limit, errNotCommand)
}

// parseArray reads one command: a non-empty array of strings, numbers and
// booleans (a null is an empty string, as encoding/json made it before).
func parseArray(dec *json.Decoder, limit int64, cmds *commands, malformed *requestError) error {
	if err := expectDelim(dec, '[', limit, malformed); err != nil {
		return err
	}
	if !dec.More() {
		return errNotCommand
	}
	cmds.begin()
	n := 0
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return bodyError(err, limit, malformed)
		}
		switch v := tok.(type) {
		case string:
			cmds.add(v)
		case json.Number:
			cmds.add(string(v))
		case bool:
			if v {
				cmds.add("true")
			} else {
				cmds.add("false")
			}
		case nil:
			cmds.add("")
		default:
			return &requestError{http.StatusBadRequest, fmt.Sprintf("ERR failed to parse command: argument %d of command %d is not a string, a number or a boolean", n+1, cmds.len())}
		}
		n++
	}
	return expectDelim(dec, ']', limit, malformed)
}

func expectDelim(dec *json.Decoder, want json.Delim, limit int64, malformed *requestError) error {
	tok, err := dec.Token()
	if err != nil {
		return bodyError(err, limit, malformed)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return malformed
	}
	return nil
}

// expectEnd makes sure nothing but white space follows the JSON value.
func expectEnd(dec *json.Decoder, limit int64, malformed *requestError) error {
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return bodyError(err, limit, malformed)
		}
		return malformed
	}
	return nil
}

// pathCommand reads a path-style command: /set/k/v?EX=100 with an optional
// POST body as the last argument.
func pathCommand(r *http.Request, body []byte, cmds *commands) error {
	cmds.begin()
	for _, seg := range strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/") {
		a, err := url.PathUnescape(seg)
		if err != nil {
			return &requestError{http.StatusBadRequest, fmt.Sprintf("ERR failed to parse path segment %q", seg)}
		}
		cmds.add(a)
	}
	if len(body) > 0 {
		cmds.data = append(cmds.data, body...)
		cmds.ends = append(cmds.ends, uint32(len(cmds.data)))
	}
	for _, kv := range strings.Split(r.URL.RawQuery, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		k, err1 := url.QueryUnescape(k)
		v, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return &requestError{http.StatusBadRequest, "ERR failed to parse query parameters"}
		}
		if k == "_token" {
			continue
		}
		cmds.add(k)
		if v != "" {
			cmds.add(v)
		}
	}
	return nil
}
