package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
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

// validRequestID is what a caller-supplied X-Request-Id must look like to be
// kept; anything else is replaced, so logs never carry arbitrary input.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
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

// logRequests gives each request an id (X-Request-Id, kept from the caller
// when well-formed), recovers panics as JSON 500s, and logs one line per
// request. It logs no header and no body, so no credential reaches the log.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.now()
		id := r.Header.Get("X-Request-Id")
		if !validRequestID.MatchString(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		// One allocation for what the request carries along.
		st := &struct {
			ri  requestInfo
			rec statusRecorder
		}{requestInfo{id: id}, statusRecorder{ResponseWriter: w}}
		ri, rec := &st.ri, &st.rec
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, ri))
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
			// Room for the account too, so that adding it does not move
			// the attributes to the heap.
			var room [7]slog.Attr
			attrs := append(room[:0],
				slog.String("request_id", id),
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", rec.status),
				slog.Int("bytes", rec.bytes),
				slog.Duration("duration", time.Since(start)),
			)
			if ri.account != nil {
				attrs = append(attrs, slog.String("account", ri.account.Email))
			}
			s.logger.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
			// A change went through: a full disk episode is over.
			if r.Method != http.MethodGet && rec.status > 0 && rec.status < 400 && s.diskFull.CompareAndSwap(true, false) {
				s.logger.InfoContext(r.Context(), "the store writes again: its disk has room", slog.String("request_id", id))
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// authenticate checks HTTP Basic credentials (account email and API key) and
// puts the account into the request context. Strict handlers see no headers,
// so this is the one place that reads them.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		email, key, ok := r.BasicAuth()
		if !ok || email == "" || key == "" {
			s.writeError(w, r, devapi.Errorf(devapi.EUNAUTHORIZED, "Unauthorized"))
			return
		}
		hash := devapi.HashAPIKey(key)
		if provesKey(r) {
			// The handler's write proves the key: no look at the store's
			// keys now.
			if acct, ok := s.store.CachedAccount(email, hash); ok {
				ri := info(r.Context())
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
		info(r.Context()).account = acct
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
