package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/devapi-dev/devapi"
)

type ctxKey struct{}

// requestInfo is what the middlewares learn about a request. The logging
// middleware puts it into the context; authenticate fills in the account.
type requestInfo struct {
	id      string
	account *devapi.Account
	// keyToProve is set when account came from the key cache unchecked
	// (reset-password's hot path): the hash of the caller's API key, which
	// the handler's one store write must prove (SetCredentialsAsKey)
	// before anything is changed or told.
	keyToProve string
	// auth is the request's Basic credentials once basicAuth parsed them.
	auth   basicCredentials
	parsed bool // auth holds the parsed header
}

// basicCredentials are a request's HTTP Basic email and key; ok tells
// that both are there, and not empty.
type basicCredentials struct {
	email, key string
	ok         bool
}

// basicAuth returns r's HTTP Basic credentials, which throttleAuth and
// authenticate both read: it parses the Authorization header the first
// time only, so a request decodes it once. r is the request ri belongs to.
func (ri *requestInfo) basicAuth(r *http.Request) basicCredentials {
	if !ri.parsed {
		email, key, ok := parseBasicAuth(r.Header.Get("Authorization"))
		ri.auth = basicCredentials{email: email, key: key, ok: ok && email != "" && key != ""}
		ri.parsed = true
	}
	return ri.auth
}

// parseBasicAuth parses an Authorization header's value as
// net/http.Request.BasicAuth does ("Basic " in any case, then standard
// base64 of email:key), with one allocation, the string both halves share,
// where BasicAuth makes two: the decoded bytes stay on the stack.
func parseBasicAuth(auth string) (email, key string, ok bool) {
	const prefix = "Basic "
	if len(auth) < len(prefix) || !equalFoldASCII(auth[:len(prefix)], prefix) {
		return "", "", false
	}
	src := auth[len(prefix):]
	var buf [256]byte
	dst := buf[:]
	if n := base64.StdEncoding.DecodedLen(len(src)); n > len(buf) {
		dst = make([]byte, n)
	}
	n, err := base64.StdEncoding.Decode(dst, []byte(src))
	if err != nil {
		return "", "", false
	}
	email, key, ok = strings.Cut(string(dst[:n]), ":")
	if !ok {
		return "", "", false
	}
	return email, key, true
}

// equalFoldASCII reports whether s and t are equal under ASCII case
// folding, as net/http compares the "Basic " prefix.
func equalFoldASCII(s, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := range len(s) {
		a, b := s[i], t[i]
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}

func info(ctx context.Context) *requestInfo {
	ri, _ := ctx.Value(ctxKey{}).(*requestInfo)
	if ri == nil {
		return &requestInfo{}
	}
	return ri
}

// requestID returns the request id the logging middleware gave the request.
func requestID(ctx context.Context) string { return info(ctx).id }

// accountFrom returns the account the auth middleware authenticated, or nil.
func accountFrom(ctx context.Context) *devapi.Account { return info(ctx).account }

// validRequestID reports whether a caller-supplied X-Request-Id is kept:
// 1 to 64 of [A-Za-z0-9._-]. Anything else is replaced, so logs never carry
// arbitrary input.
func validRequestID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := range len(id) {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// requestIDs hands out request ids: 16 hex digits, distinct for the first
// 2^64 ids of one handler, and unlike those of another handler but by
// chance. An id names a request in the log; it is no secret, so a counter
// does where a read of crypto/rand per request used to.
type requestIDs struct {
	seed uint64
	n    atomic.Uint64
}

func newRequestIDs() *requestIDs {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &requestIDs{seed: binary.LittleEndian.Uint64(b[:])}
}

// next returns a new id: the counter, offset by the seed, through
// splitmix64's finalizer, a bijection, so that ids differ in every digit
// and never repeat until the counter wraps.
func (g *requestIDs) next() string {
	z := g.seed + g.n.Add(1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], z)
	var out [16]byte
	hex.Encode(out[:], b[:])
	return string(out[:])
}

// statusRecorder remembers the status and size of an answer for the log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (r *statusRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// requestContext is a request's context with its requestInfo: what
// context.WithValue makes, as part of the request's one allocation
// (requestState) instead of one of its own.
type requestContext struct {
	context.Context
	ri *requestInfo
}

func (c *requestContext) Value(key any) any {
	if key == (ctxKey{}) {
		return c.ri
	}
	return c.Context.Value(key)
}

// requestState is what logRequests allocates for a request, at once.
type requestState struct {
	ri       requestInfo
	rec      statusRecorder
	ctx      requestContext
	idHeader [1]string // the X-Request-Id header's value
}

// logRequests gives each request an id (X-Request-Id, kept from the caller
// when well-formed), recovers panics as JSON 500s, and logs one line per
// request. It logs no header and no body, so no credential reaches the log.
func (s *Server) logRequests(next http.Handler) http.Handler {
	ids := newRequestIDs()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = ids.next()
		}
		st := &requestState{ri: requestInfo{id: id}, rec: statusRecorder{ResponseWriter: w}, idHeader: [1]string{id}}
		// The key is canonical: no Header.Set, which checks it and
		// allocates the value's slice.
		w.Header()["X-Request-Id"] = st.idHeader[:]
		ri, rec := &st.ri, &st.rec
		st.ctx = requestContext{Context: r.Context(), ri: ri}
		r = r.WithContext(&st.ctx)
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.logger.ErrorContext(r.Context(), "panic", slog.String("request_id", id), slog.String("panic", fmt.Sprint(p)))
				if rec.status == 0 {
					writeJSON(rec, http.StatusInternalServerError, messageBody("internal server error"))
				}
			}
			s.logRequest(r, ri, rec, start)
			// A change went through: a full disk episode is over.
			if r.Method != http.MethodGet && rec.status > 0 && rec.status < 400 && s.diskFull.CompareAndSwap(true, false) {
				s.logger.InfoContext(r.Context(), "the store writes again: its disk has room", slog.String("request_id", id))
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// logRequest writes the request's line: request_id, method, path, status,
// bytes, duration and, once authenticated, account. It builds the line
// only for a logger that takes Info, and hands it to the logger's handler
// itself, as Logger.LogAttrs would, but without the caller's program
// counter, which no handler devapi uses asks for (AddSource) and whose
// stack walk cost a sixth of the line.
func (s *Server) logRequest(r *http.Request, ri *requestInfo, rec *statusRecorder, start time.Time) {
	ctx := r.Context()
	h := s.logger.Handler()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return
	}
	now := time.Now()
	line := slog.NewRecord(now, slog.LevelInfo, "request", 0)
	line.AddAttrs(
		slog.String("request_id", ri.id),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", rec.status),
		slog.Int("bytes", rec.bytes),
		slog.Duration("duration", now.Sub(start)),
	)
	if ri.account != nil {
		line.AddAttrs(slog.String("account", ri.account.Email))
	}
	_ = h.Handle(ctx, line)
}

// authenticate checks HTTP Basic credentials (account email and API key) and
// puts the account into the request context. Strict handlers see no headers,
// so this is the one place that reads them.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := info(r.Context())
		creds := ri.basicAuth(r)
		if !creds.ok {
			s.writeError(w, r, devapi.Errorf(devapi.EUNAUTHORIZED, "Unauthorized"))
			return
		}
		email := creds.email
		hash := devapi.HashAPIKey(creds.key)
		if provesKey(r) {
			// The handler's write proves the key: no look at the store's
			// keys now.
			if acct, ok := s.store.CachedAccount(email, hash); ok {
				ri.account, ri.keyToProve = acct, hash
				next.ServeHTTP(w, r)
				return
			}
		}
		acct, err := s.store.Authenticate(r.Context(), email, hash)
		if err != nil {
			if devapi.ErrorCode(err) == devapi.EUNAUTHORIZED {
				err = devapi.Errorf(devapi.EUNAUTHORIZED, "Unauthorized")
			}
			s.writeError(w, r, err)
			return
		}
		ri.account = acct
		next.ServeHTTP(w, r)
	})
}

// resetPasswordPath starts the path of reset-password.
const resetPasswordPath = apiBase + "/redis/reset-password/"

// provesKey tells whether r is an operation whose handler proves the
// caller's API key in its one store write, so that authenticate may take
// the account from the key cache without asking the store: reset-password,
// the hot path of key rotation.
func provesKey(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, resetPasswordPath)
}

// longOperationTime is how long create-backup and restore-backup may take to
// answer: they stream a whole database, which takes longer than the API
// server's write timeout (30 s) allows for one request once a database
// holds hundreds of megabytes.
const longOperationTime = 10 * time.Minute

// longOperations gives the backup operations, once their caller is
// authenticated, a write deadline of their own instead of the server's.
func (s *Server) longOperations(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(r.URL.Path, apiBase)
		if strings.HasPrefix(p, "/redis/create-backup/") || strings.HasPrefix(p, "/redis/restore-backup/") {
			// A writer that has no deadline to move (a test's recorder)
			// has no timeout to outlive either.
			_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(longOperationTime))
		}
		next.ServeHTTP(w, r)
	})
}
