package restapi_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/devapi-dev/devapi/restapi"
)

// memoryChild, set in a child's environment, makes TestHugePipelineMemory
// the server side of the measure.
const memoryChild = "DEVAPI_TEST_REST_MEMORY_CHILD"

// TestHugePipelineMemory: a 10 MB pipeline of 1.1 M ["PING"] (with the
// command cap raised to let it run) is answered with 1.1 M PONG, and adds
// less than 200 MB to the resident memory of the process that serves it:
// its peak (VmHWM, reset before the request) over its resident size before.
// With the default limits the same body is refused 400 as soon as the cap
// is passed. The REST API and its database (a miniredis) run in a child
// process, so that the figures are theirs alone, the client's excluded.
func TestHugePipelineMemory(t *testing.T) {
	if os.Getenv(memoryChild) != "" {
		serveMemoryChild(t)
		return
	}
	if runtime.GOOS != "linux" {
		t.Skip("the measure reads /proc/PID/status, Linux only")
	}
	if testing.Short() {
		t.Skip("-short: a 10 MB pipeline")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHugePipelineMemory$", "-test.count=1")
	cmd.Env = append(os.Environ(), memoryChild+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stdin.Close() // the child stops when its stdin closes
		if err := cmd.Wait(); err != nil {
			t.Errorf("child: %v", err)
		}
	})
	var raised, defaults, token string
	if _, err := fmt.Fscanln(bufio.NewReader(stdout), &raised, &defaults, &token); err != nil {
		t.Fatalf("the child did not say where it serves: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	pid := cmd.Process.Pid

	const n = 1_100_000
	body := "[" + strings.TrimSuffix(strings.Repeat(`["PING"],`, n), ",") + "]"
	want := "[" + strings.TrimSuffix(strings.Repeat(`{"result":"PONG"},`, n), ",") + "]"
	post := func(url, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", url+"/pipeline", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// Warm up: connections, pools, the first allocations.
	if status, _ := post(raised, `[["PING"],["PING"]]`); status != 200 {
		t.Fatalf("warm-up: %d", status)
	}
	measure := func(url string) (status int, answer string, before, peak int64) {
		runtime.GC()
		before = procStatus(t, pid, "VmRSS")
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
			t.Fatalf("reset VmHWM: %v", err)
		}
		start := time.Now()
		status, answer = post(url, body)
		peak = procStatus(t, pid, "VmHWM")
		t.Logf("%s: %d after %v, %d bytes of answer; resident %d MB before, peak %d MB: +%d MB",
			url, status, time.Since(start).Round(time.Millisecond), len(answer), before>>20, peak>>20, (peak-before)>>20)
		return status, answer, before, peak
	}
	status, answer, before, peak := measure(raised)
	if status != 200 || answer != want {
		t.Fatalf("%d PONG answered, %d bytes, status %d; want %d", strings.Count(answer, "PONG"), len(answer), status, n)
	}
	// Under -race too: the race detector's shadow memory counts, and the
	// bound still holds (+124 MB measured, +60 MB without it).
	if peak-before >= 200<<20 {
		t.Errorf("the pipeline added %d MB resident, want < 200 MB", (peak-before)>>20)
	}
	status, answer, before, peak = measure(defaults)
	if status != 400 || !strings.Contains(answer, "too many commands") {
		t.Errorf("default limits: %d %.200s", status, answer)
	}
	if peak-before >= 200<<20 {
		t.Errorf("the refused pipeline added %d MB resident, want < 200 MB", (peak-before)>>20)
	}
}

// serveMemoryChild serves two REST APIs on one database, one with the
// command cap raised above 1.1 M, one with the defaults, prints their URLs
// and the token, and serves until its stdin closes.
func serveMemoryChild(t *testing.T) {
	raised := newKit(t, restapi.Config{Limits: restapi.Limits{MaxCommands: 2_000_000}})
	db := raised.addDB("memory")
	_, defaults := raised.serve(restapi.Config{})
	fmt.Println(raised.url, defaults, db.token)
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// procStatus reads a field of /proc/PID/status, in bytes.
func procStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}
