package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// wrkRow is one wrk run against one target.
type wrkRow struct {
	target   string
	conns    int
	perSec   float64
	p50, p99 time.Duration
	requests int64
	non2xx   int64
	cpu      time.Duration // the server's, during the run
	elapsed  time.Duration

	commits, writes int64 // the server's group commits during the run, and the writes in them
}

// wrkScript sends POST to paths round robin with Basic credentials.
func wrkScript(paths []string, email, key string) string {
	var b strings.Builder
	b.WriteString("local paths = {")
	for i, p := range paths {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", p)
	}
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(email+":"+key))
	fmt.Fprintf(&b, "}\nlocal headers = {[\"Authorization\"] = %q}\n", auth)
	b.WriteString(`local i = 0
request = function()
  i = i + 1
  return wrk.format("POST", paths[(i % #paths) + 1], headers, "")
end
`)
	return b.String()
}

// runWrk runs wrk (the binary h.o.wrk) against t at n connections for the
// run's duration, with 2 threads, and reads its summary.
func (h *harness) runWrk(ctx context.Context, t target, n int) (wrkRow, error) {
	script := filepath.Join(h.tmp, "wrk-"+t.name+".lua")
	if err := os.WriteFile(script, []byte(wrkScript(t.paths, h.email, h.key)), 0o600); err != nil {
		return wrkRow{}, err
	}
	secs := max(1, int(h.o.duration.Round(time.Second).Seconds()))
	cmd := exec.CommandContext(ctx, h.o.wrk, "-t2", "-c"+strconv.Itoa(n), "-d"+strconv.Itoa(secs)+"s", "--latency", "-s", script, t.c.url())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, h.log
	st0, err0 := t.c.stats()
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	st1, err1 := t.c.stats()
	if err != nil {
		return wrkRow{}, fmt.Errorf("wrk: %w\n%s", err, out.String())
	}
	r, err := parseWrk(&out)
	if err != nil {
		return wrkRow{}, err
	}
	r.target, r.conns, r.elapsed = t.name, n, elapsed
	if err0 == nil && err1 == nil {
		r.cpu = st1.cpu - st0.cpu
		r.commits, r.writes = st1.commits-st0.commits, st1.writes-st0.writes
	}
	fmt.Fprintf(h.log, "%-14s %3d conns (wrk): %.0f/s, %d non-2xx\n", t.name, n, r.perSec, r.non2xx)
	return r, nil
}

// parseWrk reads requests/s, the 50th and 99th latency percentiles, the
// request count and the non-2xx count from wrk --latency's output.
func parseWrk(r io.Reader) (wrkRow, error) {
	var row wrkRow
	var haveRate bool
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "Requests/sec:":
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return row, fmt.Errorf("wrk: %q: %w", sc.Text(), err)
			}
			row.perSec, haveRate = v, true
		case len(f) == 2 && (f[0] == "50%" || f[0] == "99%"):
			d, err := time.ParseDuration(f[1])
			if err != nil {
				return row, fmt.Errorf("wrk: %q: %w", sc.Text(), err)
			}
			if f[0] == "50%" {
				row.p50 = d
			} else {
				row.p99 = d
			}
		case len(f) >= 2 && f[1] == "requests":
			row.requests, _ = strconv.ParseInt(f[0], 10, 64)
		case len(f) == 5 && f[0] == "Non-2xx":
			row.non2xx, _ = strconv.ParseInt(f[4], 10, 64)
		}
	}
	if !haveRate {
		return row, fmt.Errorf("wrk: no Requests/sec in its output")
	}
	return row, sc.Err()
}

func printWrk(w io.Writer, rows []wrkRow) {
	base := map[int]float64{}
	for _, r := range rows {
		if r.target == "baseline" {
			base[r.conns] = r.perSec
		}
	}
	fmt.Fprintln(w, "wrk (2 threads), the same servers:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tconns\trequests\tnon-2xx\treq/s\tp50\tp99\tvs baseline\tserver CPU/req\twrites/commit\t")
	for _, r := range rows {
		ratio, cpuPerReq, batch := "-", "-", "-"
		if b := base[r.conns]; b > 0 {
			ratio = fmt.Sprintf("%.2fx", r.perSec/b)
		}
		if n := r.perSec * r.elapsed.Seconds(); r.cpu > 0 && n > 0 {
			cpuPerReq = fmtDuration(time.Duration(float64(r.cpu) / n))
		}
		if r.commits > 0 {
			batch = fmt.Sprintf("%.1f", float64(r.writes)/float64(r.commits))
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.0f\t%s\t%s\t%s\t%s\t%s\t\n", r.target, r.conns, r.requests, r.non2xx, r.perSec,
			fmtDuration(r.p50), fmtDuration(r.p99), ratio, cpuPerReq, batch)
	}
	_ = tw.Flush()
}
