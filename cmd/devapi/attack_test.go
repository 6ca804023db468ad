package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// The attacks of issue 11, made by someone who holds one database's password
// and REST token and nothing else, against the real devapi binary on every
// plane. Each one must be refused, and devapi must keep serving its owner.

// attack is one attempt; run returns what went wrong for the defender, or
// "" when the attack was refused.
type attack struct {
	name   string
	planes []string // "" runs on every plane
	run    func(t *testing.T, a *attacker) string
}

// attacker is what the attacker holds, plus the test's view of devapi.
type attacker struct {
	p     *proc
	plane string
	db    dbAnswer
	c     *redis.Client // with the database's password
	env   string        // a 0600 secrets file of the user running devapi
}

var attacks = []attack{
	{name: "lua reads host files", run: func(t *testing.T, a *attacker) string {
		for _, script := range []string{
			fmt.Sprintf("return loadfile(%q)", a.env),
			fmt.Sprintf("return dofile(%q)", a.env),
			fmt.Sprintf("local f = loadfile(%q); setfenv(f, {}); return f()", a.env),
			fmt.Sprintf("return io.open(%q):read('*a')", a.env),
			"return require('os')",
			"return package.loaded",
			"return module('x')",
			"return getfenv(1)",
			"return os.getenv('UPSTASH_API_KEY')",
			"return debug.getinfo(1)",
		} {
			res, err := a.c.Eval(t.Context(), script, nil).Result()
			if err == nil || !strings.Contains(err.Error(), "nonexistent global variable") {
				return fmt.Sprintf("%s: %v %v, want a nonexistent global error", script, res, err)
			}
			if strings.Contains(fmt.Sprint(res, err), "TOPSECRET") {
				return script + ": the file's content reached the attacker"
			}
		}
		return ""
	}},
	{name: "lua writes devapi's log", run: func(t *testing.T, a *attacker) string {
		err := a.c.Eval(t.Context(), "print('level=ERROR msg=\"forged by a tenant\"')", nil).Err()
		if err == nil {
			return "print ran"
		}
		if strings.Contains(a.p.log.String(), "forged by a tenant") {
			return "the forged line is in devapi's log"
		}
		return ""
	}},
	{name: "lua endless loop", run: func(t *testing.T, a *attacker) string {
		// The loop runs on a connection of its own; meanwhile the owner
		// rotates the password, which must answer.
		loop := make(chan error, 1)
		go func() { loop <- a.c.Eval(t.Context(), "while true do end", nil).Err() }()
		if err := waitBusy(t, a); err != "" {
			return err
		}
		status, body, err := a.p.callWithin(15*time.Second, "POST", "/redis/reset-password/"+a.db.ID, "")
		if err != nil || status != http.StatusOK {
			return fmt.Sprintf("reset-password while a script loops: %v %d %s", err, status, body)
		}
		var fresh dbAnswer
		if err := json.Unmarshal(body, &fresh); err != nil {
			return err.Error()
		}
		select {
		case err := <-loop:
			if err == nil {
				return "the endless script returned without an error"
			}
		case <-time.After(30 * time.Second):
			return "the endless script still runs after 30s"
		}
		a.db = fresh
		a.c = redisClient(t, a.db, fresh.Password)
		if err := a.c.Ping(t.Context()).Err(); err != nil {
			return fmt.Sprintf("PING after the loop: %v", err)
		}
		return ""
	}},
	{name: "lua allocates gigabytes", planes: []string{"embedded"}, run: func(t *testing.T, a *attacker) string {
		before := vmHWM(t, a.p)
		for _, script := range []string{
			"local t = {} for i = 1, 8 do t[i] = string.rep('x', 2^28) end return #t",
			"local s = 'x' for i = 1, 40 do s = s .. s end return #s",
			"local t = {} for i = 1, 1e9 do t[i] = string.rep('y', 1e6) .. i end return #t",
		} {
			if err := a.c.Eval(t.Context(), script, nil).Err(); err == nil {
				return script + ": ran"
			}
		}
		if err := a.c.Ping(t.Context()).Err(); err != nil {
			return fmt.Sprintf("devapi does not answer after the scripts: %v", err)
		}
		grew := vmHWM(t, a.p) - before
		t.Logf("%s: three scripts that allocate without bound: resident peak +%d MiB", a.plane, grew>>20)
		// Twice serve's script memory limit (256 MiB): the budget lets the
		// heap grow by the limit, plus the collector's headroom.
		if grew > 512<<20 {
			return fmt.Sprintf("peak resident memory grew by %d MiB", grew>>20)
		}
		return ""
	}},
	{name: "REST pipeline of 1.1 M commands", run: func(t *testing.T, a *attacker) string {
		var body bytes.Buffer
		body.WriteByte('[')
		n := 0
		for body.Len() < 10<<20-16 {
			if n > 0 {
				body.WriteByte(',')
			}
			body.WriteString(`["PING"]`)
			n++
		}
		body.WriteByte(']')
		size := body.Len()
		resetHWM(t, a.p)
		base := vmRSS(t, a.p)
		lines := strings.Count(a.p.log.String(), "\n")
		req, _ := http.NewRequestWithContext(t.Context(), "POST", a.p.restURL+"/pipeline", &body)
		req.Header.Set("Authorization", "Bearer "+a.db.RestToken)
		resp, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
		if err != nil {
			return err.Error()
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Sprintf("the pipeline answered %d", resp.StatusCode)
		}
		grew := vmHWM(t, a.p) - base
		t.Logf("%s: pipeline of %d commands (%d bytes): %d, resident peak +%d MiB", a.plane, n, size, resp.StatusCode, grew>>20)
		if grew > 200<<20 {
			return fmt.Sprintf("resident memory grew by %d MiB for one %d-command pipeline", grew>>20, n)
		}
		if more := strings.Count(a.p.log.String(), "\n") - lines; more >= 10 {
			return fmt.Sprintf("%d log lines for one request", more)
		}
		return ""
	}},
	{name: "commands before AUTH", run: func(t *testing.T, a *attacker) string {
		for _, cmd := range [][]string{{"HELLO", "3"}, {"CLIENT", "SETNAME", "x"}, {"COMMAND"}, {"GET", "k"}} {
			if got := rawCommand(t, a.db, cmd); !strings.HasPrefix(got, "-NOAUTH") {
				return fmt.Sprintf("%s before AUTH answered %q, want NOAUTH", cmd, got)
			}
		}
		return ""
	}},
	{name: "CLIENT PAUSE blocks revocation", run: func(t *testing.T, a *attacker) string {
		if err := a.c.Do(t.Context(), "CLIENT", "PAUSE", "30000", "ALL").Err(); err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
			return fmt.Sprintf("CLIENT PAUSE: %v, want NOPERM", err)
		}
		status, body, err := a.p.callWithin(15*time.Second, "POST", "/redis/reset-password/"+a.db.ID, "")
		if err != nil || status != http.StatusOK {
			return fmt.Sprintf("reset-password after CLIENT PAUSE: %v %d %s", err, status, body)
		}
		var fresh dbAnswer
		if err := json.Unmarshal(body, &fresh); err != nil {
			return err.Error()
		}
		if err := redisClient(t, a.db, a.db.Password).Ping(t.Context()).Err(); err == nil {
			return "the old password still works after reset-password"
		}
		a.db = fresh
		a.c = redisClient(t, a.db, fresh.Password)
		return ""
	}},
	{name: "MIGRATE into another Redis on the host", run: func(t *testing.T, a *attacker) string {
		victim := miniredis.RunT(t) // a passwordless Redis of some other service
		if err := a.c.Set(t.Context(), "job", "injected", 0).Err(); err != nil {
			return err.Error()
		}
		err := a.c.Do(t.Context(), "MIGRATE", victim.Host(), victim.Port(), "job", "0", "1000", "COPY").Err()
		if err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
			return fmt.Sprintf("MIGRATE: %v, want NOPERM", err)
		}
		if victim.Exists("job") {
			return "the key arrived in the other Redis"
		}
		return ""
	}},
	{name: "CLIENT LIST and KILL", run: func(t *testing.T, a *attacker) string {
		for _, cmd := range [][]any{{"CLIENT", "LIST"}, {"CLIENT", "KILL", "USER", "devapi"}, {"CLIENT", "KILL", "ID", "1"}} {
			if err := a.c.Do(t.Context(), cmd...).Err(); err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
				return fmt.Sprintf("%v: %v, want NOPERM", cmd, err)
			}
		}
		return ""
	}},
}

// TestAttacksWithOneDatabaseSecret runs every attack on every plane against
// the real binary and counts them for the README.
func TestAttacksWithOneDatabaseSecret(t *testing.T) {
	tried, refused := 0, 0
	for _, plane := range planes(t) {
		t.Run(plane, func(t *testing.T) {
			p := serveArgs(t, []string{"--data", t.TempDir(), "--plane", plane, "--ports", "29000-29999", "--script-time-limit", "1s",
				// Past the default command cap, so the whole pipeline runs
				// and its memory is what is measured.
				"--rest-max-commands", "2000000"})
			db := p.database("POST", "/redis/database", `{"database_name":"target","primary_region":"us-east-1","tls":false}`)
			env := filepath.Join(t.TempDir(), ".env")
			if err := os.WriteFile(env, []byte("UPSTASH_API_KEY=\"TOPSECRET\"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			a := &attacker{p: p, plane: plane, db: db, c: redisClient(t, db, db.Password), env: env}
			for _, at := range attacks {
				if len(at.planes) > 0 && !slices.Contains(at.planes, plane) {
					continue
				}
				tried++
				if msg := at.run(t, a); msg != "" {
					t.Errorf("%s: %s", at.name, msg)
					continue
				}
				refused++
			}
			if strings.Contains(p.log.String(), "TOPSECRET") {
				t.Error("the secrets file's content is in devapi's log")
			}
		})
	}
	t.Logf("attacks tried: %d, refused: %d", tried, refused)
}

// waitBusy waits until the database answers BUSY or blocks (a script runs).
func waitBusy(t *testing.T, a *attacker) string {
	probe := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("%s:%d", a.db.Endpoint, a.db.Port), Username: "default", Password: a.db.Password, MaxRetries: -1, ReadTimeout: 200 * time.Millisecond})
	defer func() { _ = probe.Close() }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		err := probe.Ping(t.Context()).Err()
		if err != nil && (strings.HasPrefix(err.Error(), "BUSY") || isTimeout(err)) {
			return ""
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "the looping script never made the database busy"
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// rawCommand sends one command on a fresh connection without AUTH and
// returns the first line of the answer.
func rawCommand(t *testing.T, d dbAnswer, args []string) string {
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(d.Endpoint, strconv.Itoa(d.Port)), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(conn).ReadString('\n')
	return strings.TrimSpace(line)
}

// callWithin is call with a deadline on the whole exchange.
func (p *proc) callWithin(d time.Duration, method, path, body string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(context.Background(), method, p.url+"/v2"+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.SetBasicAuth(e2eEmail, e2eKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: d}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// procStatus reads one "kB" field of /proc/PID/status, in bytes.
func procStatus(t *testing.T, p *proc, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/PID/status", field)
	return 0
}

func vmHWM(t *testing.T, p *proc) int64 { return procStatus(t, p, "VmHWM") }
func vmRSS(t *testing.T, p *proc) int64 { return procStatus(t, p, "VmRSS") }

// resetHWM makes the kernel forget the process's peak resident size, so
// VmHWM measures from now.
func resetHWM(t *testing.T, p *proc) {
	t.Helper()
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p.cmd.Process.Pid), []byte("5"), 0); err != nil {
		t.Fatalf("reset the peak resident size: %v", err)
	}
}
