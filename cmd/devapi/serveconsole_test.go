package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strings"
	"testing"
)

// TestServeConsole: devapi serve answers the web console at / beside the
// API, and --console=false leaves it out (the API's JSON 404 answers /).
func TestServeConsole(t *testing.T) {
	get := func(url string) (int, string, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	p := serveArgs(t, []string{"--data", t.TempDir()})
	if status, ct, body := get(p.url + "/"); status != http.StatusOK || !strings.HasPrefix(ct, "text/html") {
		t.Errorf("GET / with the console: %d %s %.200s, want the console's page", status, ct, body)
	}
	if status, _, body := get(p.url + "/healthz"); status != http.StatusOK || !strings.Contains(body, "ok") {
		t.Errorf("GET /healthz beside the console: %d %s", status, body)
	}
	if status, _, _ := get(p.url + "/v2/redis/databases"); status != http.StatusUnauthorized {
		t.Errorf("GET /v2/redis/databases without credentials beside the console: %d, want 401", status)
	}
	// The sign-in link serve prints signs a browser in as the default
	// account, once.
	m := regexp.MustCompile(`link="?(http://[^"\s]+)`).FindStringSubmatch(p.log.String())
	if m == nil {
		t.Fatalf("serve printed no sign-in link\n%s", p.log)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	resp, err := browser.Get(m[1])
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), e2eEmail) {
		t.Errorf("following the sign-in link: %d %.300s, want a page of %s", resp.StatusCode, b, e2eEmail)
	}
	p.stop()
	if !strings.Contains(p.log.String(), "console="+p.url+"/") {
		t.Errorf("the serving line does not name the console's URL\n%s", p.log)
	}
	if strings.Contains(p.log.String(), e2eKey) {
		t.Errorf("the log holds the API key\n%s", p.log)
	}

	p = serveArgs(t, []string{"--data", t.TempDir(), "--console=false"})
	if status, ct, body := get(p.url + "/"); status != http.StatusNotFound || !strings.Contains(ct, "json") {
		t.Errorf("GET / with --console=false: %d %s %.200s, want the API's JSON 404", status, ct, body)
	}
}
