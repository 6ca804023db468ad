package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
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
	"github.com/devapi-dev/devapi/embeddedplane"
	"github.com/devapi-dev/devapi/internal/tlsca"
	"github.com/devapi-dev/devapi/pgstore"
	"github.com/devapi-dev/devapi/restapi"
	"github.com/devapi-dev/devapi/server"
	"github.com/devapi-dev/devapi/sqlitestore"
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
//	                  and the SQLite store's group-commit counters (0 0
//	                  for other stores)
//	quit, or EOF      shut down and exit
//
// EOF on stdin means the parent is gone, so a child never outlives it.

// childOptions are the hidden flags of the child mode.
type childOptions struct {
	kind        string // "baseline" or "devapi"
	body        string // baseline: file holding the answer to serve
	contentType string // baseline: its Content-Type
	dir         string // devapi: data folder (the SQLite file goes here)
	store       string // devapi: a postgres:// URL, or "" for SQLite in dir
	email, key  string // devapi: the account the load uses
	ports       string // devapi: database ports, MIN-MAX
}

// loopback is the only address the harness ever listens on.
const loopback = "127.0.0.1"

func runChild(o childOptions) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var handler http.Handler
	var store devapi.Store // devapi only
	var cleanup []func() error
	defer func() {
		for i := len(cleanup) - 1; i >= 0; i-- {
			_ = cleanup[i]()
		}
	}()
	switch o.kind {
	case "baseline":
		body, err := os.ReadFile(o.body)
		if err != nil {
			return err
		}
		handler = baselineHandler(body, o.contentType)
	case "devapi":
		h, s, closers, err := startDevapi(ctx, o)
		store = s
		cleanup = append(cleanup, closers...)
		if err != nil {
			return err
		}
		handler = h
	default:
		return fmt.Errorf("-child must be baseline or devapi, not %q", o.kind)
	}

	// The timeouts of devapi serve.
	hs := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(loopback, "0"))
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	fmt.Printf("listening %s\n", ln.Addr())

	cmds := make(chan string)
	go func() {
		defer close(cmds)
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			cmds <- sc.Text()
		}
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
		case err := <-errc:
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
				if gs, ok := store.(interface{ GroupCommitStats() (int64, int64) }); ok {
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
	shutdownCtx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	return hs.Shutdown(shutdownCtx)
}

// cpuTime returns the CPU time, user and system, this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// baselineHandler answers every request with body: the least an HTTP server
// can do for the same answer.
func baselineHandler(body []byte, contentType string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", contentType)
		_, _ = w.Write(body)
	})
}

// startDevapi wires devapi as `devapi serve` does with the embedded plane
// (store, account, CA, plane, server, reconcile, background jobs, REST API),
// and returns the management API's handler and the store. The closers undo
// it in reverse.
func startDevapi(ctx context.Context, o childOptions) (http.Handler, devapi.Store, []func() error, error) {
	var closers []func() error
	now := time.Now().UTC()
	ports, err := parsePorts(o.ports)
	if err != nil {
		return nil, nil, nil, err
	}
	var store devapi.Store
	if o.store == "" {
		s, err := sqlitestore.Open(ctx, filepath.Join(o.dir, "devapi.db"))
		if err != nil {
			return nil, nil, nil, err
		}
		store = s
	} else {
		s, err := pgstore.Open(ctx, o.store)
		if err != nil {
			return nil, nil, nil, err
		}
		store = s
	}
	closers = append(closers, store.Close)
	if _, err := devapi.EnsureAPIKey(ctx, store, o.email, o.key, "devapi-load", now); err != nil {
		return nil, nil, closers, err
	}
	ca, err := tlsca.Load(ctx, store, now)
	if err != nil {
		return nil, nil, closers, err
	}
	tlsConfig, err := ca.ServerConfig([]string{loopback, "localhost"}, now)
	if err != nil {
		return nil, nil, closers, err
	}
	plane := embeddedplane.New(devapi.PlaneConfig{Host: loopback, TLS: tlsConfig})
	closers = append(closers, plane.Close)
	srv, err := server.New(server.Config{Store: store, Plane: plane, Ports: ports, AdvertisedHost: loopback,
		// The harness measures throughput: no per-account rate limit.
		AccountRequests: server.RateLimit{PerSecond: -1}})
	if err != nil {
		return nil, nil, closers, err
	}
	if err := srv.Reconcile(ctx); err != nil {
		return nil, nil, closers, err
	}
	bg, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { srv.RunStats(bg) })
	wg.Go(func() { srv.RunDailyBackups(bg) })
	closers = append(closers, func() error { stop(); wg.Wait(); return nil })

	rest, err := restapi.New(restapi.Config{Store: store, PlaneHost: loopback, RootCAs: ca.Pool()})
	if err != nil {
		return nil, nil, closers, err
	}
	closers = append(closers, rest.Close)
	restLn, err := net.Listen("tcp", net.JoinHostPort(loopback, "0"))
	if err != nil {
		return nil, nil, closers, err
	}
	restServer := &http.Server{Handler: rest.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = restServer.Serve(restLn) }()
	closers = append(closers, restServer.Close)
	return srv.Handler(), store, closers, nil
}

// parsePorts reads "MIN-MAX".
func parsePorts(s string) (server.PortRange, error) {
	var r server.PortRange
	if _, err := fmt.Sscanf(s, "%d-%d", &r.Min, &r.Max); err != nil || r.Min < 1 || r.Max > 65535 || r.Min > r.Max {
		return r, errors.New("-ports must be MIN-MAX, like 20100-20499")
	}
	return r, nil
}
