package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/devapi-dev/devapi/server"
)

// lockedBuffer is a log's output, written and read from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// send makes one API request as the stack's account (or as nobody) with
// the given X-Request-Id (none when empty), and returns the status, the
// answer's X-Request-Id and its body.
func (s *stack) send(method, path, requestID string, auth bool) (int, string, string) {
	s.t.Helper()
	req, err := http.NewRequestWithContext(s.t.Context(), method, s.app.APIURL()+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	if requestID != "" {
		req.Header.Set("X-Request-Id", requestID)
	}
	if auth {
		req.SetBasicAuth(email, apiKey)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var body bytes.Buffer
	if _, err := body.ReadFrom(resp.Body); err != nil {
		s.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("X-Request-Id"), body.String()
}

// TestRequestLogLines checks the request log in both formats serve
// offers: one line per request, message "request", with its id (the
// caller's when well-formed, the one the answer carries), method, path,
// status, bytes, duration and, once authenticated, the account, and no
// credential.
func TestRequestLogLines(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			var out lockedBuffer
			handler := slog.Handler(slog.NewTextHandler(&out, nil))
			if format == "json" {
				handler = slog.NewJSONHandler(&out, nil)
			}
			s := newStack(t, planeKinds(t)[0], t.TempDir(), func(c *server.Config) { c.Logger = slog.New(handler) })
			db := s.create("logged", false)
			resetPath := "/v2/redis/reset-password/" + db.DatabaseId
			type sent struct {
				method, path, requestID string
				auth                    bool
				keepsID                 bool // the caller's id is the logged one
				status                  int
			}
			requests := []sent{
				{http.MethodPost, resetPath, "caller.id_1-A", true, true, http.StatusOK},
				{http.MethodPost, resetPath, "", true, false, http.StatusOK},
				{http.MethodGet, "/v2/redis/database/" + db.DatabaseId, "bad id", true, false, http.StatusOK},
				{http.MethodGet, "/v2/redis/databases", strings.Repeat("x", 65), true, false, http.StatusOK},
				{http.MethodGet, "/v2/redis/databases", "", false, false, http.StatusUnauthorized},
				{http.MethodGet, "/healthz", "id-café", false, false, http.StatusOK},
			}
			type answered struct {
				requestID, body string
			}
			var answers []answered
			for _, r := range requests {
				status, id, body := s.send(r.method, r.path, r.requestID, r.auth)
				if status != r.status {
					t.Fatalf("%s %s: status %d, want %d: %s", r.method, r.path, status, r.status, body)
				}
				if r.keepsID && id != r.requestID {
					t.Errorf("%s %s: X-Request-Id %q, want the caller's %q", r.method, r.path, id, r.requestID)
				}
				if !r.keepsID && !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(id) {
					t.Errorf("%s %s with X-Request-Id %q: answered id %q, want 16 hex digits of devapi's", r.method, r.path, r.requestID, id)
				}
				answers = append(answers, answered{id, body})
			}
			s.stop() // nothing logs after this
			log := out.String()
			var lines []map[string]string
			for line := range strings.Lines(log) {
				fields := map[string]string{}
				if format == "json" {
					var m map[string]any
					if err := json.Unmarshal([]byte(line), &m); err != nil {
						t.Fatalf("log line %q: %v", line, err)
					}
					for k, v := range m {
						b, _ := json.Marshal(v)
						fields[k] = strings.Trim(string(b), `"`)
					}
				} else {
					for f := range strings.FieldsSeq(line) {
						k, v, _ := strings.Cut(f, "=")
						fields[k] = v
					}
				}
				if fields["msg"] == "request" {
					lines = append(lines, fields)
				}
			}
			// The create's line comes first.
			if len(lines) != 1+len(requests) {
				t.Fatalf("%d request lines for %d requests:\n%s", len(lines), 1+len(requests), log)
			}
			for i, r := range requests {
				got := lines[1+i]
				wantAccount := ""
				if r.auth {
					wantAccount = email
				}
				for k, want := range map[string]string{
					"level": "INFO", "request_id": answers[i].requestID, "method": r.method, "path": r.path,
					"status": strconv.Itoa(r.status), "bytes": strconv.Itoa(len(answers[i].body)), "account": wantAccount,
				} {
					if got[k] != want {
						t.Errorf("line %d (%s %s): %s=%q, want %q", i, r.method, r.path, k, got[k], want)
					}
				}
				if got["time"] == "" || got["duration"] == "" {
					t.Errorf("line %d: no time or duration: %v", i, got)
				}
				if wantFields := 9 + min(1, len(wantAccount)); len(got) != wantFields {
					t.Errorf("line %d: %d fields %v, want time, level, msg, request_id, method, path, status, bytes, duration (and account)", i, len(got), got)
				}
			}
			var reset struct {
				Password  string `json:"password"`
				RestToken string `json:"rest_token"`
			}
			if err := json.Unmarshal([]byte(answers[0].body), &reset); err != nil || reset.Password == "" {
				t.Fatalf("reset answer %q: %v", answers[0].body, err)
			}
			for _, secret := range []string{apiKey, reset.Password, reset.RestToken} {
				if strings.Contains(log, secret) {
					t.Errorf("the log holds a secret (%q):\n%s", secret, log)
				}
			}
		})
	}
}

// infoOff is a log handler that takes warnings and errors only, and counts
// the records it is handed anyway.
type infoOff struct {
	slog.Handler
	handled atomic.Int64
}

func (h *infoOff) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h *infoOff) Handle(ctx context.Context, r slog.Record) error {
	h.handled.Add(1)
	return nil
}

// TestRequestLogSkipsADisabledLogger: a logger that does not take Info is
// handed no request line (none is built for it).
func TestRequestLogSkipsADisabledLogger(t *testing.T) {
	h := &infoOff{Handler: slog.DiscardHandler}
	s := newStack(t, planeKinds(t)[0], t.TempDir(), func(c *server.Config) { c.Logger = slog.New(h) })
	db := s.create("quiet", false)
	before := h.handled.Load()
	s.reset(db.DatabaseId)
	if n := h.handled.Load() - before; n != 0 {
		t.Errorf("a reset handed %d records to a handler disabled for Info, want 0", n)
	}
}
