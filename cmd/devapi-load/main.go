// Command devapi-load measures devapi's whole-server throughput, latency and
// cold start on this machine, against a baseline: a plain net/http server
// that answers the same bytes.
//
//	go run ./cmd/devapi-load [-duration 5s] [-conns 2,16] [-pg URL] [-pprof DIR]
//
// Each server runs in a child process (this binary re-executed with the
// hidden -child flag), listening on 127.0.0.1 only. The targets:
//
//   - baseline: net/http answering a captured reset-password answer, with
//     its Content-Type;
//   - durable: the same answer, sent only once a 256-byte record of the
//     request is on disk (one pwrite and one fdatasync per batch of waiting
//     requests, gathered as sqlitestore gathers): about the least a server
//     that acknowledges only what is fsynced, batching as devapi does,
//     spends per request on this machine, so that devapi's figures can be
//     read apart from the disk's;
//   - devapi-sqlite: devapi wired as `devapi serve` with the embedded plane
//     and the SQLite store (WAL, synchronous=FULL) in a temporary folder;
//   - devapi-pg: the same on PostgreSQL, in a database created for the run
//     and dropped after it, when -pg (or DEVAPI_LOAD_PG, or DEVAPI_TEST_PG)
//     names a server.
//
// For each target and each connection count, one goroutine per keep-alive
// connection sends POST /v2/redis/reset-password/{id} back to back, round
// robin over -dbs databases, for -duration or -max-requests, after a
// -warmup. The table gives requests/s, p50 and p99 latency and the ratio to
// the baseline at the same connection count. Then each server is started
// -cold times more, timing exec to the first successful answer.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/server"
)

// options are the harness's flags.
type options struct {
	duration    time.Duration
	warmup      time.Duration
	maxRequests int
	conns       []int
	dbs         int
	pg          string
	pprofDir    string
	cold        int
	ports       string
	wrk         string
}

func main() {
	var o options
	var c childOptions
	var conns string
	pgDefault := os.Getenv("DEVAPI_LOAD_PG")
	if pgDefault == "" {
		pgDefault = os.Getenv("DEVAPI_TEST_PG")
	}
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "measured time of each run (target x connections)")
	flag.DurationVar(&o.warmup, "warmup", 500*time.Millisecond, "unmeasured warm-up before each run")
	flag.IntVar(&o.maxRequests, "max-requests", 300000, "measured requests of each run, at most")
	flag.StringVar(&conns, "conns", "2,16", "comma-separated connection counts")
	flag.IntVar(&o.dbs, "dbs", 16, "databases the resets go round robin over")
	flag.StringVar(&o.pg, "pg", pgDefault, "PostgreSQL URL for the devapi-pg rows (default $DEVAPI_LOAD_PG, else $DEVAPI_TEST_PG); a database is created in it for the run and dropped after")
	flag.StringVar(&o.pprofDir, "pprof", "", "write a CPU profile of each devapi server run to this folder (devapi-<store>-c<conns>.pprof)")
	flag.IntVar(&o.cold, "cold", 5, "cold starts to time per server")
	flag.StringVar(&o.wrk, "wrk", "", "also measure every target with this wrk binary (e.g. -wrk wrk), interleaved with the Go load generator's runs; a second table")
	flag.StringVar(&o.ports, "ports", "20100-20499", "database ports for the devapi servers, on 127.0.0.1 (the default is a range no test of this module uses)")
	// The child mode, for the harness's own use.
	flag.StringVar(&c.kind, "child", "", "internal: serve as a child process (baseline or devapi)")
	flag.StringVar(&c.body, "child-body", "", "internal")
	flag.StringVar(&c.contentType, "child-content-type", "", "internal")
	flag.StringVar(&c.dir, "child-dir", "", "internal")
	flag.StringVar(&c.store, "child-store", "", "internal")
	flag.StringVar(&c.email, "child-email", "", "internal")
	flag.StringVar(&c.key, "child-key", "", "internal")
	flag.StringVar(&c.ports, "child-ports", "", "internal")
	flag.Parse()

	if c.kind != "" {
		if err := runChild(c); err != nil {
			fmt.Fprintln(os.Stderr, "devapi-load child:", err)
			os.Exit(1)
		}
		return
	}
	for f := range strings.SplitSeq(conns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "devapi-load: -conns: %q is not a positive number\n", f)
			os.Exit(2)
		}
		o.conns = append(o.conns, n)
	}
	if o.dbs < 1 || o.cold < 0 || o.maxRequests < 1 || o.duration <= 0 {
		fmt.Fprintln(os.Stderr, "devapi-load: -dbs, -max-requests and -duration must be positive, -cold not negative")
		os.Exit(2)
	}
	if r, err := server.ParsePortRange(o.ports); err != nil || (r.Max-r.Min+1)/2 < o.dbs {
		fmt.Fprintf(os.Stderr, "devapi-load: -ports must be MIN-MAX with room for -dbs databases in each half (one half per devapi server): %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "devapi-load:", err)
		os.Exit(1)
	}
}

// row is one line of the table.
type row struct {
	target string
	conns  int
	res    loadResult
	stats  childStats // of the server during the measured phase
}

// harness holds what the runs share.
type harness struct {
	o          options
	self       string // this binary
	tmp        string
	email, key string
	log        io.Writer
}

func run(ctx context.Context, o options, stdout, stderr io.Writer) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "devapi-load-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	if o.pprofDir != "" {
		if err := os.MkdirAll(o.pprofDir, 0o755); err != nil {
			return err
		}
	}
	h := &harness{o: o, self: self, tmp: tmp, email: "load@devapi.local", key: devapi.NewAPIKey(), log: stderr}
	fmt.Fprintf(stdout, "devapi-load: %s/%s, %d CPUs, GOMAXPROCS %d, %s; runs of %v (+%v warm-up, at most %d requests), %d databases round robin\n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), o.duration, o.warmup, o.maxRequests, o.dbs)

	ports, _ := server.ParsePortRange(o.ports)
	mid := ports.Min + (ports.Max-ports.Min)/2
	sqlitePorts := fmt.Sprintf("%d-%d", ports.Min, mid)
	pgPorts := fmt.Sprintf("%d-%d", mid+1, ports.Max)

	// devapi on SQLite first: its answer is what the baseline serves.
	sqliteDir := filepath.Join(tmp, "sqlite")
	if err := os.Mkdir(sqliteDir, 0o700); err != nil {
		return err
	}
	dv, err := h.startDevapi(ctx, sqliteDir, "", sqlitePorts)
	if err != nil {
		return fmt.Errorf("devapi-sqlite: %w", err)
	}
	defer dv.stop()
	paths, err := h.createDatabases(ctx, dv.url())
	if err != nil {
		return fmt.Errorf("devapi-sqlite: %w", err)
	}
	body, contentType, err := h.capture(ctx, dv.url()+paths[0])
	if err != nil {
		return fmt.Errorf("devapi-sqlite: capture an answer: %w", err)
	}
	bodyFile := filepath.Join(tmp, "answer.json")
	if err := os.WriteFile(bodyFile, body, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "baseline serves a captured devapi answer: %d bytes, Content-Type %s\n", len(body), contentType)

	base, err := h.startChild(ctx, "-child", "baseline", "-child-body", bodyFile, "-child-content-type", contentType)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	defer base.stop()
	durableDir := filepath.Join(tmp, "durable")
	if err := os.Mkdir(durableDir, 0o700); err != nil {
		return err
	}
	durable, err := h.startChild(ctx, "-child", "durable", "-child-body", bodyFile, "-child-content-type", contentType, "-child-dir", durableDir)
	if err != nil {
		return fmt.Errorf("durable baseline: %w", err)
	}
	defer durable.stop()
	targets := []target{{"baseline", base, paths}, {"durable", durable, paths}, {"devapi-sqlite", dv, paths}}

	pgNote := ""
	if o.pg == "" {
		pgNote = "devapi-pg rows skipped: no PostgreSQL URL; pass -pg postgres://... or set DEVAPI_LOAD_PG (or DEVAPI_TEST_PG; `bash pgstore/ci-start.sh` starts one)"
	} else {
		dbURL, drop, err := createPGDatabase(ctx, o.pg)
		if err != nil {
			return fmt.Errorf("devapi-pg: %w", err)
		}
		defer func() {
			if err := drop(); err != nil {
				fmt.Fprintln(stderr, "devapi-load:", err)
			}
		}()
		dir := filepath.Join(h.tmp, "pg")
		if err := os.Mkdir(dir, 0o700); err != nil {
			return err
		}
		pgc, err := h.startDevapi(ctx, dir, dbURL, pgPorts)
		if err != nil {
			return fmt.Errorf("devapi-pg: %w", err)
		}
		defer pgc.stop() // before the drop: deferred calls run last in, first out
		pgPaths, err := h.createDatabases(ctx, pgc.url())
		if err != nil {
			return fmt.Errorf("devapi-pg: %w", err)
		}
		targets = append(targets, target{"devapi-pg", pgc, pgPaths})
	}

	// Each connection count runs every target back to back, so that the
	// ratios compare runs close in time on a machine whose other load
	// changes.
	var rows []row
	var wrkRows []wrkRow
	for _, n := range o.conns {
		for _, t := range targets {
			rows = append(rows, h.runOne(ctx, t, n))
			if o.wrk != "" {
				r, err := h.runWrk(ctx, t, n)
				if err != nil {
					return fmt.Errorf("%s: %w", t.name, err)
				}
				wrkRows = append(wrkRows, r)
			}
		}
	}
	for _, t := range targets {
		if err := t.c.stop(); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}
	slices.SortStableFunc(rows, func(a, b row) int {
		return slices.IndexFunc(targets, func(t target) bool { return t.name == a.target }) -
			slices.IndexFunc(targets, func(t target) bool { return t.name == b.target })
	})
	if err := ctx.Err(); err != nil {
		return err
	}

	cold, err := h.coldStarts(ctx, bodyFile, contentType)
	if err != nil {
		return fmt.Errorf("cold start: %w", err)
	}

	fmt.Fprintln(stdout)
	printTable(stdout, rows)
	if pgNote != "" {
		fmt.Fprintln(stdout, pgNote)
	}
	if len(wrkRows) > 0 {
		slices.SortStableFunc(wrkRows, func(a, b wrkRow) int {
			return slices.IndexFunc(targets, func(t target) bool { return t.name == a.target }) -
				slices.IndexFunc(targets, func(t target) bool { return t.name == b.target })
		})
		fmt.Fprintln(stdout)
		printWrk(stdout, wrkRows)
	}
	fmt.Fprintln(stdout)
	printCold(stdout, cold)
	if o.pprofDir != "" {
		fmt.Fprintf(stdout, "\nCPU profiles of the devapi servers in %s (go tool pprof -top %s)\n", o.pprofDir, filepath.Join(o.pprofDir, "devapi-sqlite-c16.pprof"))
	}
	return nil
}

// target is a running server and the paths the load goes to.
type target struct {
	name  string
	c     *child
	paths []string
}

// runOne runs the load against one server at n connections.
func (h *harness) runOne(ctx context.Context, t target, n int) row {
	target, c := t.name, t.c
	cfg := loadConfig{
		baseURL: c.url(), paths: t.paths, email: h.email, key: h.key, conns: n,
		warmup: h.o.warmup, duration: h.o.duration, maxRequests: h.o.maxRequests,
	}
	profile := ""
	if h.o.pprofDir != "" && target != "baseline" {
		profile = filepath.Join(h.o.pprofDir, fmt.Sprintf("%s-c%d.pprof", target, n))
	}
	var st childStats
	cfg.measuring = func() func() {
		if profile != "" {
			if err := c.command("cpuprofile " + profile); err != nil {
				fmt.Fprintf(h.log, "%s: cpuprofile: %v\n", target, err)
				profile = ""
			}
		}
		st0, err0 := c.stats()
		return func() {
			st1, err1 := c.stats()
			if err := errors.Join(err0, err1); err != nil {
				fmt.Fprintf(h.log, "%s: server stats: %v\n", target, err)
			} else {
				st = childStats{cpu: st1.cpu - st0.cpu, commits: st1.commits - st0.commits, writes: st1.writes - st0.writes}
			}
			if profile != "" {
				if err := c.command("stopprofile"); err != nil {
					fmt.Fprintf(h.log, "%s: stopprofile: %v\n", target, err)
				}
			}
		}
	}
	res := runLoad(ctx, cfg)
	fmt.Fprintf(h.log, "%-14s %3d conns: %d requests, %.0f/s, %d errors\n", target, n, res.requests, res.perSecond(), res.errors)
	if res.firstErr != nil {
		fmt.Fprintf(h.log, "%-14s %3d conns: first error: %v\n", target, n, res.firstErr)
	}
	return row{target: target, conns: n, res: res, stats: st}
}

// createPGDatabase creates a fresh database on the server at adminURL and
// returns its URL and a func that drops it.
func createPGDatabase(ctx context.Context, adminURL string) (string, func() error, error) {
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", nil, fmt.Errorf("-pg: %w", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "devapi_load_" + hex.EncodeToString(b)
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", nil, err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", nil, err
	}
	drop := func() error {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(dctx, adminURL)
		if err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		defer func() { _ = conn.Close(dctx) }()
		if _, err := conn.Exec(dctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		return nil
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}

// createDatabases creates h.o.dbs databases and returns their
// reset-password paths.
func (h *harness) createDatabases(ctx context.Context, base string) ([]string, error) {
	client := newClient()
	defer client.CloseIdleConnections()
	var paths []string
	for i := range h.o.dbs {
		body := fmt.Sprintf(`{"database_name":"load-%d","primary_region":"us-east-1","tls":false}`, i)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v2/redis/database", strings.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(h.email, h.key)
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		var db struct {
			ID string `json:"database_id"`
		}
		err = json.NewDecoder(resp.Body).Decode(&db)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err != nil || db.ID == "" {
			return nil, fmt.Errorf("create database: status %d, %v", resp.StatusCode, err)
		}
		paths = append(paths, "/v2/redis/reset-password/"+db.ID)
	}
	return paths, nil
}

// capture sends one reset-password and returns its answer.
func (h *harness) capture(ctx context.Context, url string) ([]byte, string, error) {
	client := newClient()
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return nil, "", err
	}
	req.SetBasicAuth(h.email, h.key)
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	return body, resp.Header.Get("Content-Type"), nil
}

// child is a server process started by the harness.
type child struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	lines   chan string // the child's stdout, line by line
	addr    string
	started time.Time // just before exec
	stopped bool
	err     error
}

func (c *child) url() string { return "http://" + c.addr }

// startDevapi starts a devapi child with its files in dir, on store ("" for
// SQLite in dir), its databases on ports.
func (h *harness) startDevapi(ctx context.Context, dir, store, ports string) (*child, error) {
	return h.startChild(ctx, "-child", "devapi", "-child-dir", dir, "-child-store", store,
		"-child-email", h.email, "-child-key", h.key, "-child-ports", ports)
}

// startChild execs this binary with args and waits for it to listen.
func (h *harness) startChild(ctx context.Context, args ...string) (*child, error) {
	cmd := exec.CommandContext(ctx, h.self, args...)
	cmd.Stderr = h.log
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, stdin: stdin, lines: make(chan string, 16)}
	c.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
	}()
	line, err := c.readLine(2 * time.Minute)
	if err != nil {
		_ = c.stop()
		return nil, err
	}
	addr, ok := strings.CutPrefix(line, "listening ")
	if !ok || !strings.HasPrefix(addr, loopback+":") {
		_ = c.stop()
		return nil, fmt.Errorf("child said %q, want listening %s:PORT", line, loopback)
	}
	c.addr = addr
	return c, nil
}

func (c *child) readLine(timeout time.Duration) (string, error) {
	select {
	case line, ok := <-c.lines:
		if !ok {
			return "", errors.New("child exited")
		}
		return line, nil
	case <-time.After(timeout):
		return "", errors.New("child did not answer in time")
	}
}

// command sends one command line and waits for "ok".
func (c *child) command(line string) error {
	_, err := c.query(line)
	return err
}

// query sends one command line and returns what follows "ok" in the answer.
func (c *child) query(line string) (string, error) {
	if _, err := io.WriteString(c.stdin, line+"\n"); err != nil {
		return "", err
	}
	got, err := c.readLine(time.Minute)
	if err != nil {
		return "", err
	}
	if got != "ok" && !strings.HasPrefix(got, "ok ") {
		return "", fmt.Errorf("child answered %q to %q", got, line)
	}
	return strings.TrimPrefix(strings.TrimPrefix(got, "ok"), " "), nil
}

// childStats is what the child's stats command answers.
type childStats struct {
	cpu             time.Duration
	commits, writes int64
}

// stats returns the CPU time the child has used so far and its store's
// group-commit counters.
func (c *child) stats() (childStats, error) {
	v, err := c.query("stats")
	if err != nil {
		return childStats{}, err
	}
	var st childStats
	var ns int64
	if _, err := fmt.Sscanf(v, "%d %d %d", &ns, &st.commits, &st.writes); err != nil {
		return childStats{}, fmt.Errorf("stats %q: %w", v, err)
	}
	st.cpu = time.Duration(ns)
	return st, nil
}

// stop closes the child's stdin, which shuts it down, and waits for it; a
// child that does not exit in 15s is killed. Later calls return the first
// call's outcome.
func (c *child) stop() error {
	if c.stopped {
		return c.err
	}
	c.stopped = true
	_ = c.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case c.err = <-done:
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
		c.err = fmt.Errorf("child did not exit in 15s; killed: %v", <-done)
	}
	for range c.lines { // the reader of its stdout ends with it
	}
	return c.err
}

// coldResult holds cold-start times, exec to first 200.
type coldResult struct {
	baseline, devapi []time.Duration
}

// coldStarts starts each server h.o.cold times, alternating, and times from
// exec to the first successful answer: GET / for the baseline, an
// authenticated GET /v2/redis/databases for devapi on a fresh SQLite file.
func (h *harness) coldStarts(ctx context.Context, bodyFile, contentType string) (coldResult, error) {
	var r coldResult
	for i := range h.o.cold {
		d, err := h.coldStart(ctx, "/", "", "-child", "baseline", "-child-body", bodyFile, "-child-content-type", contentType)
		if err != nil {
			return r, fmt.Errorf("baseline: %w", err)
		}
		r.baseline = append(r.baseline, d)

		dir := filepath.Join(h.tmp, fmt.Sprintf("cold-%d", i))
		if err := os.Mkdir(dir, 0o700); err != nil {
			return r, err
		}
		d, err = h.coldStart(ctx, "/v2/redis/databases", "auth", "-child", "devapi", "-child-dir", dir,
			"-child-email", h.email, "-child-key", h.key, "-child-ports", h.o.ports)
		_ = os.RemoveAll(dir)
		if err != nil {
			return r, fmt.Errorf("devapi: %w", err)
		}
		r.devapi = append(r.devapi, d)
	}
	return r, nil
}

func (h *harness) coldStart(ctx context.Context, path, auth string, args ...string) (time.Duration, error) {
	c, err := h.startChild(ctx, args...)
	if err != nil {
		return 0, err
	}
	defer c.stop()
	client := newClient()
	defer client.CloseIdleConnections()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url()+path, nil)
		if err != nil {
			return 0, err
		}
		if auth != "" {
			req.SetBasicAuth(h.email, h.key)
		}
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				d := time.Since(c.started)
				return d, c.stop()
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if time.Since(c.started) > time.Minute {
			return 0, fmt.Errorf("no answer in a minute: %w", err)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

func printTable(w io.Writer, rows []row) {
	base := map[int]float64{}
	for _, r := range rows {
		if r.target == "baseline" {
			base[r.conns] = r.res.perSecond()
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tconns\trequests\terrors\treq/s\tp50\tp99\tvs baseline\tserver CPU/req\tserver cores\twrites/commit\t")
	for _, r := range rows {
		ratio := "-"
		if b := base[r.conns]; b > 0 {
			ratio = fmt.Sprintf("%.2fx", r.res.perSecond()/b)
		}
		cpuPerReq, cores, batch := "-", "-", "-"
		if cpu := r.stats.cpu; cpu > 0 && r.res.requests > 0 {
			cpuPerReq = fmtDuration(cpu / time.Duration(r.res.requests))
			cores = fmt.Sprintf("%.2f", cpu.Seconds()/r.res.elapsed.Seconds())
		}
		if r.stats.commits > 0 {
			batch = fmt.Sprintf("%.1f", float64(r.stats.writes)/float64(r.stats.commits))
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.target, r.conns, r.res.requests, r.res.errors, r.res.perSecond(),
			fmtDuration(percentile(r.res.latency, 50)), fmtDuration(percentile(r.res.latency, 99)), ratio, cpuPerReq, cores, batch)
	}
	_ = tw.Flush()
}

func printCold(w io.Writer, r coldResult) {
	if len(r.baseline) == 0 {
		return
	}
	stats := func(ds []time.Duration) (median, lo, hi time.Duration) {
		s := slices.Sorted(slices.Values(ds))
		return percentile(s, 50), s[0], s[len(s)-1]
	}
	bm, bl, bh := stats(r.baseline)
	dm, dl, dh := stats(r.devapi)
	fmt.Fprintf(w, "cold start, exec to first 200 (%d runs each; devapi on a fresh SQLite file)\n", len(r.baseline))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tmedian\tmin\tmax\t")
	fmt.Fprintf(tw, "baseline\t%s\t%s\t%s\t\n", fmtDuration(bm), fmtDuration(bl), fmtDuration(bh))
	fmt.Fprintf(tw, "devapi\t%s\t%s\t%s\t\n", fmtDuration(dm), fmtDuration(dl), fmtDuration(dh))
	_ = tw.Flush()
}

// fmtDuration prints d with three significant figures or so.
func fmtDuration(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	}
}
