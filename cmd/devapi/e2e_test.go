package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi/internal/redistest"
)

// These tests run the real devapi binary, as a user does.

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "devapi-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "devapi")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build devapi:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

const (
	e2eEmail = "e2e@example.com"
	e2eKey   = "e2e-key-0123456789abcdef0123456789abcdef"
)

// syncBuffer collects a process's output while tests read it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// proc is a running devapi serve.
type proc struct {
	t   *testing.T
	cmd *exec.Cmd
	url string // http://127.0.0.1:PORT
	// restURL is the REST data API's root.
	restURL string
	log     *syncBuffer
	done    chan error
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String()
}

// serve starts devapi serve on data with extra environment and waits for
// /healthz.
func serve(t *testing.T, data, plane string, env ...string) *proc {
	t.Helper()
	return serveArgs(t, []string{"--data", data, "--plane", plane, "--ports", "29000-29999"}, env...)
}

// serveArgs starts devapi serve with args (after --addr and --rest-addr)
// and extra environment, and waits for /healthz.
func serveArgs(t *testing.T, args []string, env ...string) *proc {
	t.Helper()
	// Port 0: the kernel picks free ports, which devapi logs. A port picked
	// by the test and freed again could be taken meanwhile by any outgoing
	// connection (they come from the same ephemeral range).
	cmd := exec.Command(binary, append([]string{"serve", "--addr", "127.0.0.1:0", "--rest-addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), append([]string{"UPSTASH_EMAIL=" + e2eEmail, "UPSTASH_API_KEY=" + e2eKey}, env...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: cmd, log: &syncBuffer{}, done: make(chan error, 1)}
	logDone := make(chan struct{})
	serving := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			_, _ = p.log.Write([]byte(line + "\n"))
			if api, rest, ok := servingURLs(line); ok {
				serving <- [2]string{api, rest}
			}
		}
		close(logDone)
	}()
	go func() { <-logDone; p.done <- cmd.Wait() }()
	t.Cleanup(func() { p.stop() })
	deadline := time.Now().Add(20 * time.Second)
	select {
	case urls := <-serving:
		p.url, p.restURL = urls[0], urls[1]
	case err := <-p.done:
		p.done <- err
		t.Fatalf("devapi serve exited: %v\n%s", err, p.log)
	case <-time.After(time.Until(deadline)):
		t.Fatalf("devapi serve did not say where it serves after 20s\n%s", p.log)
	}
	for {
		resp, err := http.Get(p.url + "/healthz")
		if err == nil {
			_ = resp.Body.Close()
			return p
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("devapi serve exited: %v\n%s", err, p.log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("devapi serve not healthy after 20s\n%s", p.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// servingURLs reads the API's root and the REST API's root off devapi's
// "devapi serving" log line: api=http://127.0.0.1:PORT/v2 rest=http://...
func servingURLs(line string) (api, rest string, ok bool) {
	if !strings.Contains(line, `msg="devapi serving"`) {
		return "", "", false
	}
	for _, f := range strings.Fields(line) {
		if v, found := strings.CutPrefix(f, "api="); found {
			api = strings.TrimSuffix(v, "/v2")
		}
		if v, found := strings.CutPrefix(f, "rest="); found {
			rest = v
		}
	}
	return api, rest, api != "" && rest != ""
}

// stop ends the process with SIGTERM, as a user's Ctrl-C does.
func (p *proc) stop() {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// waitExit waits for the process to die on its own (a crash point).
func (p *proc) waitExit() {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		p.t.Fatalf("devapi did not die at its crash point\n%s", p.log)
	}
}

type dbAnswer struct {
	ID       string `json:"database_id"`
	Endpoint string `json:"endpoint"`
	Port     int    `json:"port"`
	TLS      bool   `json:"tls"`
	Password string `json:"password"`
	// RestToken is the REST data API's token.
	RestToken string `json:"rest_token"`
}

func (p *proc) call(method, path, body string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(context.Background(), method, p.url+"/v2"+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.SetBasicAuth(e2eEmail, e2eKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func (p *proc) database(method, path, body string) dbAnswer {
	p.t.Helper()
	status, b, err := p.call(method, path, body)
	if err != nil || status != 200 {
		p.t.Fatalf("%s %s: %v %d %s", method, path, err, status, b)
	}
	var d dbAnswer
	if err := json.Unmarshal(b, &d); err != nil {
		p.t.Fatal(err)
	}
	return d
}

func redisClient(t *testing.T, d dbAnswer, password string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("%s:%d", d.Endpoint, d.Port), Username: "default", Password: password, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func planes(t *testing.T) []string {
	if !redistest.Installed(t) {
		t.Log("redis-server not installed: testing the embedded plane only")
		return []string{"embedded"}
	}
	return []string{"embedded", "redis-server"}
}

// TestCrashDuringReset kills devapi at each step of a reset and checks,
// after a restart on the same data folder, the invariant: the password the
// plane accepts is the stored one, which is the last committed reset's.
func TestCrashDuringReset(t *testing.T) {
	points := []struct {
		name   string
		stored bool // whether the reset reached the store before the crash
	}{
		{"reset-before-store", false},
		{"reset-after-store", true},
		{"reset-after-plane", true},
		{"reset-before-answer", true},
	}
	for _, plane := range planes(t) {
		for _, point := range points {
			t.Run(plane+"/"+point.name, func(t *testing.T) {
				data := t.TempDir()
				p := serve(t, data, plane, envCrash+"="+point.name)
				db := p.database("POST", "/redis/database", `{"database_name":"crash","primary_region":"us-east-1","tls":false}`)
				if err := redisClient(t, db, db.Password).Set(t.Context(), "k", "v", 0).Err(); err != nil {
					t.Fatal(err)
				}
				if status, body, err := p.call("POST", "/redis/reset-password/"+db.ID, ""); err == nil {
					t.Fatalf("reset answered %d %s; devapi should have died at %s", status, body, point.name)
				}
				p.waitExit()

				p = serve(t, data, plane)
				got := p.database("GET", "/redis/database/"+db.ID, "")
				if got.Port != db.Port {
					t.Errorf("port %d after restart, was %d", got.Port, db.Port)
				}
				if changed := got.Password != db.Password; changed != point.stored {
					t.Errorf("stored password changed = %v, want %v", changed, point.stored)
				}
				c := redisClient(t, got, got.Password)
				if err := c.Ping(t.Context()).Err(); err != nil {
					t.Errorf("the plane refuses the stored password: %v", err)
				}
				if point.stored {
					if err := redisClient(t, got, db.Password).Ping(t.Context()).Err(); err == nil {
						t.Errorf("the plane still accepts the password of before the stored reset")
					}
				}
				if plane == "redis-server" {
					if v, err := c.Get(t.Context(), "k").Result(); err != nil || v != "v" {
						t.Errorf("key after crash and restart: %q, %v", v, err)
					}
				}
				// And a reset now works end to end.
				after := p.database("POST", "/redis/reset-password/"+db.ID, "")
				if err := redisClient(t, got, after.Password).Ping(t.Context()).Err(); err != nil {
					t.Errorf("reset after restart: new password refused: %v", err)
				}
			})
		}
	}
}

func TestServeOwnsItsDataFolder(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	p := serve(t, data, "embedded")

	info, err := os.Stat(data)
	if err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("data folder mode %v (%v), want 0700", info.Mode().Perm(), err)
	}
	for _, name := range []string{"devapi.db", "devapi.lock"} {
		if info, err := os.Stat(filepath.Join(data, name)); err != nil || info.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %v (%v), want no access for others", name, info.Mode().Perm(), err)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "ca.pem")); err != nil {
		t.Errorf("no CA file: %v", err)
	}

	second := exec.Command(binary, "serve", "--addr", freeAddr(t), "--rest-addr", freeAddr(t), "--data", data)
	out, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "in use by another devapi serve") {
		t.Errorf("second serve on the same folder: %v\n%s", err, out)
	}
	p.stop()
	if err := p.cmd.ProcessState.ExitCode(); err != 0 {
		t.Errorf("exit code after SIGTERM: %d\n%s", err, p.log)
	}
	if strings.Contains(p.log.String(), e2eKey) {
		t.Errorf("the log contains the API key")
	}
}

func TestDefaultAccountWrittenToCredentialsFile(t *testing.T) {
	data := t.TempDir()
	addr := freeAddr(t)
	cmd := exec.Command(binary, "serve", "--addr", addr, "--rest-addr", freeAddr(t), "--data", data, "--ports", "29000-29999")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "UPSTASH_") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	var log syncBuffer
	cmd.Stderr = &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	path := filepath.Join(data, "credentials")
	deadline := time.Now().Add(20 * time.Second)
	for {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			_ = resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not healthy")
		}
		time.Sleep(50 * time.Millisecond)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v, mode %v", err, info.Mode().Perm())
	}
	email, key, err := readCredentialsFile(path)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/v2/redis/databases", nil)
	req.SetBasicAuth(email, key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("the credentials file's account: %v %v", err, resp.Status)
	}
	_ = resp.Body.Close()
	if !strings.Contains(log.String(), path) {
		t.Errorf("the log does not name the credentials file")
	}
	if strings.Contains(log.String(), key) {
		t.Errorf("the log contains the API key")
	}
}
