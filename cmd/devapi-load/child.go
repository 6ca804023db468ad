package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/app"
	"github.com/devapi-dev/devapi/internal/cputime"
	"github.com/devapi-dev/devapi/internal/gctune"
	"github.com/devapi-dev/devapi/internal/logbuf"
	"github.com/devapi-dev/devapi/internal/textlog"
	"github.com/devapi-dev/devapi/pgstore"
	"github.com/devapi-dev/devapi/server"
)

// The child side: the harness binary re-executed with -child, so that every
// server under test runs in a fresh process of its own, with its own CPU
// profile, apart from the load generator.
//
// Protocol, one line each way: the child prints "listening ADDR" once it
// accepts connections. It then reads commands from stdin:
//
//	cpuprofile PATH   start a CPU profile into PATH; answers "ok"
//	stopprofile       stop and flush it; answers "ok"
//	stats             answers "ok NS COMMITS WRITES": the CPU time (user +
//	                  system) the process has used so far, in nanoseconds,
//	                  and the group-commit counters of the SQLite store or
//	                  of the durable baseline's log (0 0 for the others)
//	quit, or EOF      shut down and exit
//
// EOF on stdin means the parent is gone, so a child never outlives it.

// childOptions are the hidden flags of the child mode.
type childOptions struct {
	kind        string // "baseline", "durable" or "devapi"
	body        string // baseline, durable: file holding the answer to serve
	contentType string // baseline, durable: its Content-Type
	dir         string // devapi, durable: data folder (the SQLite file or the durable log goes here)
	store       string // devapi: a postgres:// URL, or "" for SQLite in dir
	email, key  string // devapi: the account the load uses
	ports       string // devapi: database ports, MIN-MAX
}

// loopback is the only address the harness ever listens on.
const loopback = "127.0.0.1"

func runChild(o childOptions) error {
	var addr string
	var failed <-chan error
	var committer any // what the stats command asks for group-commit counters
	switch o.kind {
	case "baseline":
		body, err := os.ReadFile(o.body)
		if err != nil {
			return err
		}
		b, err := startBaseline(baselineHandler(body, o.contentType))
		if err != nil {
			return err
		}
		defer func() { _ = b.close() }()
		addr, failed = b.ln.Addr().String(), b.failed
	case "durable":
		body, err := os.ReadFile(o.body)
		if err != nil {
			return err
		}
		l, err := openDurableLog(filepath.Join(o.dir, "durable.log"))
		if err != nil {
			return err
		}
		defer func() { _ = l.close() }()
		b, err := startBaseline(durableHandler(l, body, o.contentType))
		if err != nil {
			return err
		}
		defer func() { _ = b.close() }() // before the log closes: no request waits on it
		addr, failed, committer = b.ln.Addr().String(), b.failed, l
	case "devapi":
		// Logged as serve logs (cmd/devapi/serve.go): a text line per
		// request through logbuf, into a file of the run's folder, so the
		// figures include the request log.
		f, err := os.OpenFile(filepath.Join(o.dir, "devapi.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		defer func() { _ = f.Close() }()
		logOut := logbuf.New(f, 0)
		defer func() { _ = logOut.Close() }()
		defer gctune.Start(gctune.DefaultHeadroom)() // as serve does
		a, err := startDevapi(context.Background(), o, logOut)
		if err != nil {
			return err
		}
		defer func() { _ = a.Close() }()
		addr, failed, committer = strings.TrimPrefix(a.APIURL(), "http://"), a.Failed(), a.Store()
	default:
		return fmt.Errorf("-child must be baseline, durable or devapi, not %q", o.kind)
	}
	fmt.Printf("listening %s\n", addr)

	// stdin in non-blocking mode, so that closing it ends a read under way
	// and the reader below can be waited for on every return.
	_ = syscall.SetNonblock(syscall.Stdin, true)
	stdin := os.NewFile(uintptr(syscall.Stdin), "stdin")
	cmds := make(chan string)
	var reader sync.WaitGroup
	reader.Go(func() {
		defer close(cmds)
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			cmds <- sc.Text()
		}
	})
	defer func() {
		_ = stdin.Close() // ends the reader's read under way
		for range cmds {  // and a send
		}
		reader.Wait()
	}()
	var profile *os.File
	stopProfile := func() {
		if profile != nil {
			pprof.StopCPUProfile()
			_ = profile.Close()
			profile = nil
		}
	}
	defer stopProfile()
loop:
	for {
		select {
		case err := <-failed:
			return fmt.Errorf("serve: %w", err)
		case cmd, ok := <-cmds:
			if !ok {
				break loop
			}
			verb, arg, _ := strings.Cut(cmd, " ")
			switch verb {
			case "cpuprofile":
				stopProfile()
				f, err := os.Create(arg)
				if err != nil {
					return err
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					_ = f.Close()
					return err
				}
				profile = f
				fmt.Println("ok")
			case "stopprofile":
				stopProfile()
				fmt.Println("ok")
			case "stats":
				var commits, writes int64
				if gs, ok := committer.(interface{ GroupCommitStats() (int64, int64) }); ok {
					commits, writes = gs.GroupCommitStats()
				}
				fmt.Printf("ok %d %d %d\n", cpuTime(), commits, writes)
			case "quit":
				break loop
			default:
				return fmt.Errorf("unknown command %q", cmd)
			}
		}
	}
	return nil
}

// baseline is the baseline's HTTP server.
type baseline struct {
	hs     *http.Server
	ln     net.Listener
	failed chan error
	wg     sync.WaitGroup
}

// startBaseline serves handler on a free port of loopback, with the
// timeouts of devapi serve.
func startBaseline(handler http.Handler) (*baseline, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(loopback, "0"))
	if err != nil {
		return nil, err
	}
	b := &baseline{ln: ln, failed: make(chan error, 1), hs: &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}}
	b.wg.Go(func() {
		if err := b.hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			b.failed <- err
		}
	})
	return b, nil
}

// close shuts the server down and waits for it.
func (b *baseline) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := b.hs.Shutdown(ctx)
	b.wg.Wait()
	return err
}

// cpuTime returns the CPU time, user and system, this process has used
// (zero where it cannot be read).
func cpuTime() time.Duration {
	d, _ := cputime.Process()
	return d
}

// baselineHandler answers every request with body: the least an HTTP server
// can do for the same answer.
func baselineHandler(body []byte, contentType string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !discardBody(w, r) {
			return
		}
		w.Header().Set("Content-Type", contentType)
		_, _ = w.Write(body)
	})
}

// maxRequestBody bounds what the baseline servers read of a request's body
// (a reset-password request has none); devapi bounds its own.
const maxRequestBody = 64 << 10

// discardBody reads r's body, at most maxRequestBody, and throws it away.
// A longer body is answered 413 in JSON, and discardBody returns false.
func discardBody(w http.ResponseWriter, r *http.Request) bool {
	if _, err := io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, maxRequestBody)); err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		_, _ = io.WriteString(w, `{"error":"the request body is too large"}`)
		return false
	}
	return true
}

// startDevapi starts devapi through internal/app, as `devapi serve` does
// with the embedded plane, serving on a free port of loopback.
func startDevapi(ctx context.Context, o childOptions, logOut *logbuf.Writer) (*app.App, error) {
	ports, err := server.ParsePortRange(o.ports)
	if err != nil {
		return nil, fmt.Errorf("-child-ports: %w", err)
	}
	cfg := app.Config{
		Dir:    o.dir,
		Logger: slog.New(logOut.Handler(textlog.NewHandler(logOut, nil))),
		Setup:  app.Accounts("devapi-load", map[string]string{o.email: o.key}),
		Server: server.Config{Ports: ports,
			// The harness measures throughput: no per-account rate limit.
			AccountRequests: server.RateLimit{PerSecond: -1}},
	}
	if o.store != "" {
		cfg.OpenStore = func(ctx context.Context) (devapi.Store, func(), error) {
			s, err := pgstore.Open(ctx, o.store)
			return s, nil, err
		}
	}
	a, err := app.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	a.Start()
	return a, nil
}
