package restapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/restapi"
	"github.com/devapi-dev/devapi/sqlitestore"
)

// kit is the REST API over a real store and plain miniredis databases
// reached over TCP: what the limits are tested on, with no management API
// and no plane in between. Its log goes to a buffer.
type kit struct {
	t      testing.TB
	store  devapi.Store
	server *restapi.Server
	url    string
	logs   *syncBuffer
}

// kitDB is one database of a kit.
type kitDB struct {
	id, password, token, readOnlyToken string
	redis                              *miniredis.Miniredis
}

// newKit starts a REST API configured as cfg says (its Store and Logger are
// set here).
func newKit(tb testing.TB, cfg restapi.Config) *kit {
	tb.Helper()
	ctx := context.Background()
	store, err := sqlitestore.Open(ctx, filepath.Join(tb.TempDir(), "devapi.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = store.Close() })
	if err := store.CreateAccount(ctx, &devapi.Account{Email: email, CreatedAt: time.Now()}); err != nil {
		tb.Fatal(err)
	}
	k := &kit{t: tb, store: store, logs: &syncBuffer{}}
	k.server, k.url = k.serve(cfg)
	return k
}

// serve starts a REST API on the kit's store, configured as cfg says, and
// returns it and its URL; it logs to the kit's buffer.
func (k *kit) serve(cfg restapi.Config) (*restapi.Server, string) {
	k.t.Helper()
	cfg.Store = k.store
	cfg.Logger = slog.New(slog.NewTextHandler(k.logs, nil))
	rest, err := restapi.New(cfg)
	if err != nil {
		k.t.Fatal(err)
	}
	hs := httptest.NewServer(rest.Handler())
	k.t.Cleanup(func() { hs.Close(); _ = rest.Close() })
	return rest, hs.URL
}

// addDB starts a miniredis with a password and stores a database for it.
// When via is given, the REST API dials via(port of the miniredis) instead:
// a proxy in between.
func (k *kit) addDB(name string, via ...func(port int) int) *kitDB {
	k.t.Helper()
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		k.t.Fatal(err)
	}
	k.t.Cleanup(m.Close)
	password := devapi.NewPassword()
	m.RequireAuth(password)
	port, _ := strconv.Atoi(m.Port())
	for _, v := range via {
		port = v(port)
	}
	d := &devapi.Database{
		ID: "db-" + name, Name: name, Owner: email, Platform: "aws", PrimaryRegion: "us-east-1", Plan: devapi.PlanFree,
		State: "active", Endpoint: "127.0.0.1", Port: port, CreatedAt: time.Now(),
		Credentials: devapi.Credentials{Password: password},
	}
	d.RestToken, d.ReadOnlyRestToken = devapi.NewRestTokens(d.ID, port, password)
	if err := k.store.CreateDatabase(context.Background(), d); err != nil {
		k.t.Fatal(err)
	}
	return &kitDB{id: d.ID, password: password, token: d.RestToken, readOnlyToken: d.ReadOnlyRestToken, redis: m}
}

// call sends a request and reads the whole answer.
func (k *kit) call(method, path, token string, body io.Reader, header ...string) answer {
	k.t.Helper()
	req, err := http.NewRequest(method, k.url+path, body)
	if err != nil {
		k.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		k.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func (k *kit) post(path, token, body string, header ...string) answer {
	k.t.Helper()
	return k.call("POST", path, token, strings.NewReader(body), header...)
}

// expect checks an answer's status and body.
func (k *kit) expect(a answer, status int, body string) {
	k.t.Helper()
	if a.status != status || a.body != body {
		k.t.Errorf("got %d %.300s, want %d %.300s", a.status, a.body, status, body)
	}
}

// held is a request whose body the test holds back: the server has it
// admitted, with its bytes in flight, until release.
type held struct {
	w    *io.PipeWriter
	rest string
	done chan answer
	wg   sync.WaitGroup // the request's goroutine and the body's writer
}

// hold sends a request of size bytes (a SET of a value that long, so that
// it runs once released) without sending its body yet; contentLength false
// sends it chunked, with no Content-Length.
func (k *kit) hold(token string, size int, contentLength bool) *held {
	k.t.Helper()
	prefix := `["SET","held","`
	body := prefix + strings.Repeat("x", size-len(prefix)-2) + `"]`
	pr, pw := io.Pipe()
	req, err := http.NewRequest("POST", k.url+"/", pr)
	if err != nil {
		k.t.Fatal(err)
	}
	if contentLength {
		req.ContentLength = int64(len(body))
	}
	req.Header.Set("Authorization", "Bearer "+token)
	h := &held{w: pw, rest: body, done: make(chan answer, 1)}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			h.done <- answer{status: -1, body: err.Error()}
			return
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		h.done <- answer{resp.StatusCode, resp.Header, string(b)}
	}()
	k.t.Cleanup(func() {
		_ = pw.CloseWithError(io.ErrUnexpectedEOF)
		h.wg.Wait()
	})
	return h
}

// release sends the held body and returns the answer.
func (h *held) release(tb testing.TB) answer {
	tb.Helper()
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		_, _ = io.WriteString(h.w, h.rest)
		_ = h.w.Close()
	}()
	select {
	case a := <-h.done:
		return a
	case <-time.After(30 * time.Second):
		tb.Fatal("no answer to a released request within 30 s")
		return answer{}
	}
}

// waitInFlight waits until the REST API holds what want says for database
// id (-1 fields are not checked), and fails after 10 s.
func (k *kit) waitInFlight(id string, total, database restapi.Load) {
	k.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		gotTotal, gotDB := k.server.InFlight(id)
		if (total.Bytes < 0 || gotTotal.Bytes == total.Bytes) && (total.Requests < 0 || gotTotal.Requests == total.Requests) &&
			(database.Bytes < 0 || gotDB.Bytes == database.Bytes) && (database.Requests < 0 || gotDB.Requests == database.Requests) {
			return
		}
		if time.Now().After(deadline) {
			k.t.Fatalf("in flight: total %+v, database %+v; want %+v, %+v", gotTotal, gotDB, total, database)
		}
		time.Sleep(time.Millisecond)
	}
}

// syncBuffer is a log sink safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// cutProxy forwards connections to a Redis, and cuts every connection
// (both ways) once it has passed cut bytes of replies to the client; or,
// with a stall channel, holds the replies there until the channel closes.
type cutProxy struct {
	ln    net.Listener
	to    string
	cut   int
	stall <-chan struct{}
	port  int
	cuts  atomic.Int64 // connections cut so far
	wg    sync.WaitGroup
	mu    sync.Mutex
	open  []net.Conn
}

// startCutProxy starts a proxy to 127.0.0.1:port.
func startCutProxy(tb testing.TB, port, cut int, stall ...<-chan struct{}) *cutProxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &cutProxy{ln: ln, to: fmt.Sprintf("127.0.0.1:%d", port), cut: cut, port: ln.Addr().(*net.TCPAddr).Port}
	if len(stall) > 0 {
		p.stall = stall[0]
	}
	p.wg.Add(1)
	go p.accept()
	tb.Cleanup(func() {
		_ = ln.Close()
		p.mu.Lock()
		for _, c := range p.open {
			_ = c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *cutProxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.to)
		if err != nil {
			_ = client.Close()
			continue
		}
		p.mu.Lock()
		p.open = append(p.open, client, server)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			_, _ = io.Copy(server, client)
			_ = server.Close()
		}()
		go func() {
			defer p.wg.Done()
			_, _ = io.CopyN(client, server, int64(p.cut))
			if p.stall != nil {
				<-p.stall
				_, _ = io.Copy(client, server)
			}
			_ = client.Close()
			_ = server.Close()
			p.cuts.Add(1)
		}()
	}
}

// waitLogLines waits until the kit's log holds at least n lines and
// returns it: a request's line is written after its answer is sent, so a
// client can read the answer before the line is there.
func (k *kit) waitLogLines(n int) string {
	k.t.Helper()
	waitFor(k.t, fmt.Sprintf("%d log lines", n), func() bool { return strings.Count(k.logs.String(), "\n") >= n })
	return k.logs.String()
}
