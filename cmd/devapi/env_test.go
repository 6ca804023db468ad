package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// envChild is a Go program that knows nothing of devapi: it asks
// https://api.upstash.com for the account's databases with
// http.DefaultClient, the way Upstash's Terraform provider does.
const envChild = `package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
)

func main() {
	req, err := http.NewRequest("GET", "https://api.upstash.com/v2/redis/databases", nil)
	if err != nil {
		panic(err)
	}
	req.SetBasicAuth(os.Getenv("UPSTASH_EMAIL"), os.Getenv("UPSTASH_API_KEY"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	b, _ := io.ReadAll(resp.Body)
	fmt.Printf("%d %s", resp.StatusCode, b)
}
`

// buildEnvChild builds envChild and returns its path.
func buildEnvChild(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{"main.go": envChild, "go.mod": "module envchild\n\ngo 1.26\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "envchild")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the child: %v\n%s", err, out)
	}
	return bin
}

// runDevapi runs the devapi binary with args and returns its stdout.
func runDevapi(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// TestEnvReachesDevapiThroughProxy: a process started with nothing but
// what devapi env printed (eval'd by sh), using http.DefaultClient against
// https://api.upstash.com/v2/redis/databases, gets the account's databases
// from devapi serve through its proxy: no root, no hosts file, no
// hand-made certificate.
func TestEnvReachesDevapiThroughProxy(t *testing.T) {
	child := buildEnvChild(t)
	data := t.TempDir()
	if err := os.Chmod(data, 0o700); err != nil {
		t.Fatal(err)
	}
	// The file serve writes when it creates the default account.
	if err := writeCredentialsFile(filepath.Join(data, "credentials"), e2eEmail, e2eKey); err != nil {
		t.Fatal(err)
	}
	p := serveArgs(t, []string{"--data", data, "--plane", "embedded", "--ports", "29000-29999", "--proxy-addr", "127.0.0.1:0"})
	d := p.database("POST", "/redis/database", `{"database_name":"fromenv","primary_region":"us-east-1","tls":false}`)

	env, stderr, err := runDevapi(t, "env", "--data", data)
	if err != nil {
		t.Fatalf("devapi env: %v\n%s", err, stderr)
	}
	rec, err := readServeRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"export UPSTASH_EMAIL='" + e2eEmail + "'",
		"export UPSTASH_API_KEY='" + e2eKey + "'",
		"export DEVAPI_API_URL='" + rec.API + "'",
		"export HTTPS_PROXY='" + rec.Proxy + "'",
		"export NODE_USE_ENV_PROXY='1'",
		"export SSL_CERT_FILE='" + filepath.Join(data, caBundleFile) + "'",
		"export CURL_CA_BUNDLE='" + filepath.Join(data, caBundleFile) + "'",
		"export NODE_EXTRA_CA_CERTS='" + filepath.Join(data, "ca.pem") + "'",
	} {
		if !strings.Contains(env, want+"\n") {
			t.Errorf("devapi env lacks %s:\n%s", want, env)
		}
	}
	info, err := os.Stat(filepath.Join(data, caBundleFile))
	if err != nil || info.Mode().Perm() != 0o644 {
		t.Fatalf("%s: %v %v", caBundleFile, info, err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", `eval "$1" && exec "$2"`, "sh", env, child)
	cmd.Env = []string{} // only what devapi env printed
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v\n%s\n%s", err, errOut.String(), p.log)
	}
	if !strings.HasPrefix(out.String(), "200 ") || !strings.Contains(out.String(), d.ID) {
		t.Fatalf("child got %s", out.String())
	}
}

// TestEnvQuoting: every shell reads back the value devapi env printed,
// whatever characters it holds. fish and PowerShell are tried when
// installed.
func TestEnvQuoting(t *testing.T) {
	values := []string{"plain", "it's", `a "b" $HOME ` + "`id`" + ` \n \\ ; & | > *`, "line\nbreak", "\u2019curly\u2018 quotes", ""}
	shells := []struct {
		name string
		run  func(script string) *exec.Cmd
		read string
	}{
		{shellSh, func(s string) *exec.Cmd { return exec.Command("/bin/sh", "-c", s) }, `printf %s "$DEVAPI_TEST_VALUE"`},
		{shellFish, func(s string) *exec.Cmd { return exec.Command("fish", "-c", s) }, `printf %s "$DEVAPI_TEST_VALUE"`},
		{shellPowerShell, func(s string) *exec.Cmd { return exec.Command("pwsh", "-NoProfile", "-Command", s) }, `[Console]::Out.Write($env:DEVAPI_TEST_VALUE)`},
	}
	for _, sh := range shells {
		t.Run(sh.name, func(t *testing.T) {
			if sh.name != shellSh {
				if _, err := exec.LookPath(sh.run("").Path); err != nil {
					t.Skipf("%s is not installed", sh.name)
				}
			}
			for _, v := range values {
				if sh.name == shellPowerShell && v == "" {
					continue // PowerShell removes a variable set to ''
				}
				out, err := sh.run(shellQuoters[sh.name]("DEVAPI_TEST_VALUE", v) + "\n" + sh.read).Output()
				if err != nil {
					t.Fatalf("%q: %v", v, err)
				}
				if string(out) != v {
					t.Errorf("%s read %q back as %q", sh.name, v, out)
				}
			}
		})
	}
}

// TestEnvErrors: without a running serve devapi env says so; an unknown
// shell is a usage error.
func TestEnvErrors(t *testing.T) {
	data := t.TempDir()
	_, stderr, err := runDevapi(t, "env", "--data", data)
	if err == nil || !strings.Contains(stderr, "no devapi serve runs on") {
		t.Fatalf("%v: %s", err, stderr)
	}
	// A record left by a serve that was killed is not taken for a running one.
	gone := exec.Command("/bin/sh", "-c", "exit 0")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	if err := writeServeRecord(data, serveRecord{API: "http://127.0.0.1:1", PID: gone.Process.Pid}); err != nil {
		t.Fatal(err)
	}
	_, stderr, err = runDevapi(t, "env", "--data", data)
	if err == nil || !strings.Contains(stderr, "no longer runs") {
		t.Fatalf("stale %s: %v: %s", serveRecordFile, err, stderr)
	}
	_, stderr, err = runDevapi(t, "env", "--data", data, "--shell", "csh")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(stderr, "--shell must be") {
		t.Fatalf("%v: %s", err, stderr)
	}
}

// TestCert: devapi cert issues a certificate from the store's CA, the one
// serve hands out in ca.pem, and a TLS server with it is trusted by a
// client that trusts ca.pem and asks for api.upstash.com: the hosts-file
// route.
func TestCert(t *testing.T) {
	data, out := t.TempDir(), filepath.Join(t.TempDir(), "tls")
	if _, stderr, err := runDevapi(t, "cert", "--data", data, "--host", "api.upstash.com", "--out", out); err != nil {
		t.Fatalf("devapi cert: %v\n%s", err, stderr)
	}
	for name, mode := range map[string]os.FileMode{certFile: 0o644, certKey: 0o600, certCAFile: 0o644} {
		info, err := os.Stat(filepath.Join(out, name))
		if err != nil || info.Mode().Perm() != mode {
			t.Fatalf("%s: %v %v", name, info, err)
		}
	}
	p := serve(t, data, "embedded")
	p.stop()
	caPEM, err := os.ReadFile(filepath.Join(data, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	issuedCA, err := os.ReadFile(filepath.Join(out, certCAFile))
	if err != nil || !bytes.Equal(caPEM, issuedCA) {
		t.Fatalf("devapi cert's ca.pem differs from serve's: %v", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.pem holds no certificate")
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(out, certFile), filepath.Join(out, certKey))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	accepted := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			err = c.(*tls.Conn).Handshake()
			_ = c.Close()
		}
		accepted <- err
	}()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: "api.upstash.com"})
	if err != nil {
		t.Fatalf("TLS as api.upstash.com: %v", err)
	}
	_ = conn.Close()
	if err := <-accepted; err != nil {
		t.Fatal(err)
	}
}
