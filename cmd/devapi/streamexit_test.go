package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// exitBound is how long devapi serve may take to exit on SIGTERM with event
// streams open: its shutdown waits 10 s at most for requests under way, and
// scripts/readme-test.sh kills what still runs 20 s after SIGTERM.
const exitBound = 15 * time.Second

// TestServeExitsWithEventStreams: devapi serve exits on SIGTERM, within
// exitBound and with status 0, whatever a /subscribe stream's client did on
// a TLS database of the embedded plane: went away before the signal, is
// still there, or stopped reading in the middle of a message (a write that
// waits for good). Each case runs on a fresh serve, 20 serves in all.
func TestServeExitsWithEventStreams(t *testing.T) {
	cases := []struct {
		name string
		runs int
		open func(t *testing.T, rest, token string) (drop func())
	}{
		{"client gone", 8, openSSE},
		{"client there", 8, openSSE},
		{"client stalled", 4, stallSSE},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for i := range c.runs {
				p := serve(t, filepath.Join(t.TempDir(), "data"), "embedded")
				d := p.database("POST", "/redis/database", `{"database_name":"streams","primary_region":"us-east-1","tls":true}`)
				drop := c.open(t, p.restURL, d.RestToken)
				if c.name == "client gone" {
					drop()
				}
				_ = p.cmd.Process.Signal(syscall.SIGTERM)
				select {
				case err := <-p.done:
					p.done <- err
					if err != nil {
						t.Fatalf("run %d: exit after SIGTERM: %v\n%s", i, err, p.log)
					}
				case <-time.After(exitBound):
					_ = p.cmd.Process.Signal(syscall.SIGQUIT) // its goroutines, in the log
					<-p.done
					t.Fatalf("run %d: devapi serve still running %s after SIGTERM\n%s", i, exitBound, p.log)
				}
				drop()
			}
		})
	}
}

// openSSE opens /subscribe/chat with net/http and reads its first event;
// drop closes it from the client's side.
func openSSE(t *testing.T, rest, token string) (drop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "POST", rest+"/subscribe/chat", strings.NewReader("[]"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	drop = func() { cancel(); _ = resp.Body.Close() }
	t.Cleanup(drop)
	want := "data: subscribe,chat,1"
	b := make([]byte, len(want))
	if _, err := io.ReadFull(resp.Body, b); err != nil || string(b) != want {
		t.Fatalf("first event: %q, %v (status %d)", b, err, resp.StatusCode)
	}
	return drop
}

// stallSSE opens /subscribe/chat on a connection with a 4 KiB receive
// buffer, publishes a 6 MiB message to it and reads until the message
// begins: the server is then inside a write the client will not take.
func stallSSE(t *testing.T, rest, token string) (drop func()) {
	t.Helper()
	u, err := url.Parse(rest)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	drop = func() { _ = nc.Close() }
	t.Cleanup(drop)
	if err := nc.(*net.TCPConn).SetReadBuffer(4 << 10); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(nc, "POST /subscribe/chat HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nAccept: text/event-stream\r\nContent-Length: 2\r\n\r\n[]", u.Host, token)
	_ = nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	readUntil := func(want string) {
		t.Helper()
		var got []byte
		for !strings.Contains(string(got), want) {
			b := make([]byte, 1)
			if _, err := nc.Read(b); err != nil {
				t.Fatalf("waiting for %q: %v (read %q)", want, err, got)
			}
			got = append(got, b...)
		}
	}
	readUntil("data: subscribe,chat,1")
	// 6 MiB: more than the server's socket takes (4 MiB at most, and the
	// client's 4 KiB), less than a stream's buffer (8 MiB).
	body := `["PUBLISH","chat","` + strings.Repeat("x", 6<<20) + `"]`
	req, err := http.NewRequest("POST", rest, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if string(answer) != `{"result":1}` {
		t.Fatalf("PUBLISH: %d %s", resp.StatusCode, answer)
	}
	readUntil("data: message,chat,xxxx")
	return drop
}
