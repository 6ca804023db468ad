package restapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/embeddedplane"
	"github.com/devapi-dev/devapi/internal/app"
	"github.com/devapi-dev/devapi/internal/redistest"
	"github.com/devapi-dev/devapi/redisserverplane"
	"github.com/devapi-dev/devapi/restapi"
	"github.com/devapi-dev/devapi/server"
)

const (
	email  = "rest@example.com"
	apiKey = "rest-api-key-0123456789abcdef"
)

type plane struct {
	name string
	open func(t *testing.T, dir string, cfg devapi.PlaneConfig) devapi.Plane
}

// planes are the data planes the REST API is tested on; redis-server is
// skipped when missing, except in CI.
func planes(t *testing.T) []plane {
	ps := []plane{{"embedded", func(_ *testing.T, _ string, cfg devapi.PlaneConfig) devapi.Plane { return embeddedplane.New(cfg) }}}
	if !redistest.Installed(t) {
		t.Log("redis-server not installed: testing the REST API on the embedded plane only")
		return ps
	}
	return append(ps, plane{"redis-server", func(t *testing.T, dir string, cfg devapi.PlaneConfig) devapi.Plane {
		p, err := redisserverplane.Open(t.Context(), redisserverplane.Config{Dir: dir, PlaneConfig: cfg})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}})
}

// env is a real devapi: store, plane, management API and REST API.
type env struct {
	t      *testing.T
	api    string // management base …/v2
	rest   string // REST API base
	server *restapi.Server
}

type database struct {
	ID                string `json:"database_id"`
	Port              int    `json:"port"`
	Password          string `json:"password"`
	RestToken         string `json:"rest_token"`
	ReadOnlyRestToken string `json:"read_only_rest_token"`
}

func newEnv(t *testing.T, p plane) *env {
	t.Helper()
	return newEnvWith(t, p, restapi.Config{})
}

// newEnvWith is newEnv with the REST API configured as cfg says (internal/app
// sets its Store and RootCAs).
func newEnvWith(t *testing.T, p plane, cfg restapi.Config) *env {
	t.Helper()
	dir := t.TempDir()
	lo, hi := redistest.Ports(t, 100)
	a, err := app.Open(context.Background(), app.Config{
		Dir:   dir,
		Setup: app.Accounts("test", map[string]string{email: apiKey}),
		Plane: app.PlaneConfig{Open: func(_ context.Context, env app.PlaneEnv) (devapi.Plane, error) {
			return p.open(t, filepath.Join(dir, "redis"), env.Config), nil
		}},
		Server:     server.Config{Ports: server.PortRange{Min: lo, Max: hi}},
		REST:       cfg,
		ManualJobs: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	a.Start()
	t.Cleanup(func() { _ = a.Close() })
	return &env{t: t, api: a.APIURL() + "/v2", rest: a.RESTURL(), server: a.REST()}
}

func (e *env) manage(method, path, body string) []byte {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.api+path, strings.NewReader(body))
	req.SetBasicAuth(email, apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		e.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return b
}

func (e *env) create(tlsOn bool) database {
	e.t.Helper()
	var d database
	b := e.manage("POST", "/redis/database", fmt.Sprintf(`{"database_name":"rest","primary_region":"us-east-1","tls":%v}`, tlsOn))
	if err := json.Unmarshal(b, &d); err != nil {
		e.t.Fatal(err)
	}
	return d
}

// answer is one REST answer.
type answer struct {
	status int
	header http.Header
	body   string
}

// call sends a REST request with a bearer token ("" for none).
func (e *env) call(method, path, token, body string, header ...string) answer {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.rest+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func (e *env) expect(a answer, status int, body string) {
	e.t.Helper()
	if a.status != status || a.body != body {
		e.t.Errorf("got %d %s, want %d %s", a.status, a.body, status, body)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		e.t.Errorf("Content-Type %q", ct)
	}
	if a.header.Get("upstash-sync-token") == "" {
		e.t.Errorf("no upstash-sync-token header")
	}
}

func TestProtocol(t *testing.T) {
	for _, p := range planes(t) {
		t.Run(p.name, func(t *testing.T) {
			e := newEnv(t, p)
			for _, tlsOn := range []bool{true, false} {
				d := e.create(tlsOn)
				tok := d.RestToken
				t.Run(fmt.Sprintf("tls=%v", tlsOn), func(t *testing.T) {
					e.t = t
					e.expect(e.call("POST", "/", tok, `["SET","k","v"]`), 200, `{"result":"OK"}`)
					e.expect(e.call("GET", "/get/k", tok, ""), 200, `{"result":"v"}`)
					e.expect(e.call("POST", "/", tok, `["GET","missing"]`), 200, `{"result":null}`)
					e.expect(e.call("POST", "/", tok, `["INCRBY","n",5]`), 200, `{"result":5}`)
					// A POST body is the last argument; query parameters are appended.
					e.expect(e.call("POST", "/set/doc", tok, `{"a": "b c"}`), 200, `{"result":"OK"}`)
					e.expect(e.call("GET", "/get/doc", tok, ""), 200, `{"result":"{\"a\": \"b c\"}"}`)
					e.expect(e.call("GET", "/set/ttl/x?EX=100", tok, ""), 200, `{"result":"OK"}`)
					if a := e.call("GET", "/ttl/ttl", tok, ""); a.body != `{"result":100}` && a.body != `{"result":99}` {
						t.Errorf("TTL after ?EX=100: %s", a.body)
					}
					e.expect(e.call("GET", "/set/"+`sp%20ace/v%2Fw`, tok, ""), 200, `{"result":"OK"}`)
					e.expect(e.call("GET", "/get/sp%20ace", tok, ""), 200, `{"result":"v/w"}`)
					// Doubles stay strings, as in RESP2.
					e.expect(e.call("POST", "/", tok, `["ZADD","z","1.5","m"]`), 200, `{"result":1}`)
					e.expect(e.call("POST", "/", tok, `["ZSCORE","z","m"]`), 200, `{"result":"1.5"}`)
					e.expect(e.call("POST", "/", tok, `["HSET","h","f","v"]`), 200, `{"result":1}`)
					e.expect(e.call("POST", "/", tok, `["HGETALL","h"]`), 200, `{"result":["f","v"]}`)
					// Token in the query string.
					e.expect(e.call("GET", "/get/k?_token="+tok, "", ""), 200, `{"result":"v"}`)
					// A failing command is a 400 with Redis's error.
					e.expect(e.call("POST", "/", tok, `["INCR","k"]`), 400, `{"error":"ERR value is not an integer or out of range"}`)
					if a := e.call("POST", "/", tok, `["SET","k"`); a.status != 400 || !strings.Contains(a.body, `"error"`) {
						t.Errorf("malformed body: %d %s", a.status, a.body)
					}
					e.expect(e.call("PUT", "/", tok, `["GET","k"]`), 405, `{"error":"ERR method not allowed"}`)
				})
			}
		})
	}
}

func TestPipelineAndTransaction(t *testing.T) {
	for _, p := range planes(t) {
		t.Run(p.name, func(t *testing.T) {
			e := newEnv(t, p)
			tok := e.create(false).RestToken
			e.expect(e.call("POST", "/pipeline", tok, `[["SET","k1","v"],["SETEX","k2",13,"z"],["INCR","k1"],["GET","k1"],["GET","nope"]]`), 200,
				`[{"result":"OK"},{"result":"OK"},{"error":"ERR value is not an integer or out of range"},{"result":"v"},{"result":null}]`)
			e.expect(e.call("POST", "/multi-exec", tok, `[["SET","c","1"],["INCR","c"],["INCR","k1"]]`), 200,
				`[{"result":"OK"},{"result":2},{"error":"ERR value is not an integer or out of range"}]`)
			// A transaction Redis refuses to run fails as a whole, and runs nothing.
			a := e.call("POST", "/multi-exec", tok, `[["SET","c","9"],["NOSUCHCOMMAND"]]`)
			if a.status != 400 || !strings.HasPrefix(a.body, `{"error":"EXECABORT`) {
				t.Errorf("aborted transaction: %d %s", a.status, a.body)
			}
			e.expect(e.call("GET", "/get/c", tok, ""), 200, `{"result":"2"}`)
			e.expect(e.call("GET", "/pipeline", tok, ""), 405, `{"error":"ERR /pipeline takes POST"}`)
		})
	}
}

func TestBase64Encoding(t *testing.T) {
	e := newEnv(t, planes(t)[0])
	tok := e.create(false).RestToken
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	h := []string{"Upstash-Encoding", "base64"}
	e.expect(e.call("POST", "/", tok, `["SET","k","héllo"]`, h...), 200, `{"result":"OK"}`)
	e.expect(e.call("POST", "/", tok, `["GET","k"]`, h...), 200, `{"result":"`+b64("héllo")+`"}`)
	e.expect(e.call("POST", "/", tok, `["INCR","n"]`, h...), 200, `{"result":1}`)
	e.expect(e.call("POST", "/", tok, `["GET","none"]`, h...), 200, `{"result":null}`)
	e.expect(e.call("POST", "/", tok, `["RPUSH","l","a","b"]`, h...), 200, `{"result":2}`)
	e.expect(e.call("POST", "/", tok, `["LRANGE","l",0,-1]`, h...), 200, `{"result":["`+b64("a")+`","`+b64("b")+`"]}`)
	e.expect(e.call("POST", "/", tok, `["INCR","k"]`, h...), 400, `{"error":"ERR value is not an integer or out of range"}`)
	e.expect(e.call("POST", "/pipeline", tok, `[["GET","k"],["SET","x","y"]]`, h...), 200, `[{"result":"`+b64("héllo")+`"},{"result":"OK"}]`)
}

func TestAuthAndReadOnly(t *testing.T) {
	for _, p := range planes(t) {
		t.Run(p.name, func(t *testing.T) {
			e := newEnv(t, p)
			d := e.create(true)
			const unauthorized = `{"error":"WRONGPASS invalid or missing auth token"}`
			e.expect(e.call("POST", "/", "", `["GET","k"]`), 401, unauthorized)
			e.expect(e.call("POST", "/", "not-a-token", `["GET","k"]`), 401, unauthorized)
			e.expect(e.call("POST", "/", d.Password, `["GET","k"]`), 401, unauthorized)
			e.expect(e.call("POST", "/", d.RestToken, `["SET","k","v"]`), 200, `{"result":"OK"}`)

			ro := d.ReadOnlyRestToken
			e.expect(e.call("POST", "/", ro, `["GET","k"]`), 200, `{"result":"v"}`)
			e.expect(e.call("GET", "/exists/k", ro, ""), 200, `{"result":1}`)
			for _, cmd := range []string{`["SET","k","w"]`, `["DEL","k"]`, `["KEYS","*"]`, `["SCAN","0"]`, `["EVAL","return 1","0"]`, `["FLUSHALL"]`} {
				a := e.call("POST", "/", ro, cmd)
				if a.status != 400 || !strings.Contains(a.body, "NOPERM") {
					t.Errorf("read-only token ran %s: %d %s", cmd, a.status, a.body)
				}
			}
			// Reads added since Redis 7 (and RedisJSON's) are reads for the
			// token too; a plane without them answers unknown command.
			for _, cmd := range []string{`["BITFIELD_RO","k","GET","u8","0"]`, `["HTTL","h","FIELDS","1","f"]`, `["HPTTL","h","FIELDS","1","f"]`, `["JSON.RESP","j"]`, `["JSON.ARRINDEX","j","$","1"]`} {
				if a := e.call("POST", "/", ro, cmd); strings.Contains(a.body, "NOPERM") {
					t.Errorf("read-only token refused the read %s: %d %s", cmd, a.status, a.body)
				}
			}
			e.expect(e.call("POST", "/pipeline", ro, `[["GET","k"],["SET","k","w"]]`), 200,
				`[{"result":"v"},{"error":"NOPERM this user has no permissions to run the 'set' command"}]`)
			if a := e.call("POST", "/multi-exec", ro, `[["GET","k"],["SET","k","w"]]`); a.status != 400 || !strings.Contains(a.body, "NOPERM") {
				t.Errorf("read-only transaction with a write: %d %s", a.status, a.body)
			}
			e.expect(e.call("POST", "/", d.RestToken, `["GET","k"]`), 200, `{"result":"v"}`)

			// Blocking commands and WATCH are refused.
			for _, cmd := range []string{`["BLPOP","l","1"]`, `["WATCH","k"]`, `["XREAD","BLOCK","100","STREAMS","s","$"]`, `["SUBSCRIBE","c"]`, `["SELECT","1"]`} {
				if a := e.call("POST", "/", d.RestToken, cmd); a.status != 400 || !strings.HasPrefix(a.body, `{"error":"ERR`) {
					t.Errorf("%s: %d %s", cmd, a.status, a.body)
				}
			}
		})
	}
}

func TestRotationAndDeleteRevokeTokens(t *testing.T) {
	for _, p := range planes(t) {
		t.Run(p.name, func(t *testing.T) {
			e := newEnv(t, p)
			d := e.create(true)
			e.expect(e.call("POST", "/", d.RestToken, `["SET","k","v"]`), 200, `{"result":"OK"}`)
			var r database
			if err := json.Unmarshal(e.manage("POST", "/redis/reset-password/"+d.ID, ""), &r); err != nil {
				t.Fatal(err)
			}
			const unauthorized = `{"error":"WRONGPASS invalid or missing auth token"}`
			e.expect(e.call("POST", "/", d.RestToken, `["GET","k"]`), 401, unauthorized)
			e.expect(e.call("POST", "/", d.ReadOnlyRestToken, `["GET","k"]`), 401, unauthorized)
			e.expect(e.call("POST", "/", r.RestToken, `["GET","k"]`), 200, `{"result":"v"}`)
			e.expect(e.call("POST", "/", r.ReadOnlyRestToken, `["GET","k"]`), 200, `{"result":"v"}`)
			e.manage("DELETE", "/redis/database/"+d.ID, "")
			e.expect(e.call("POST", "/", r.RestToken, `["GET","k"]`), 401, unauthorized)
		})
	}
}

// TestIPAllowlist: a database whose allowlist (set through the management
// API's update-allowlist) does not hold the client's address refuses its REST
// requests with 403 before running anything; one that holds it, or an
// empty list, lets them in.
func TestIPAllowlist(t *testing.T) {
	e := newEnv(t, planes(t)[0])
	d := e.create(false)
	const refused = `{"error":"ERR client address is not in the database's IP allowlist"}`
	e.manage("POST", "/redis/update-allowlist/"+d.ID, `{"allowed_ips":["10.0.0.0/8","2001:db8::/32"]}`)
	for _, token := range []string{d.RestToken, d.ReadOnlyRestToken} {
		e.expect(e.call("POST", "/", token, `["SET","k","v"]`), 403, refused)
		e.expect(e.call("POST", "/pipeline", token, `[["SET","k","v"]]`), 403, refused)
		e.expect(e.call("GET", "/set/k/v", token, ""), 403, refused)
	}
	e.expect(e.call("POST", "/", "not-a-token", `["GET","k"]`), 401, `{"error":"WRONGPASS invalid or missing auth token"}`)
	e.manage("POST", "/redis/update-allowlist/"+d.ID, `{"allowed_ips":["10.0.0.0/8","127.0.0.0/8"]}`)
	e.expect(e.call("POST", "/", d.RestToken, `["GET","k"]`), 200, `{"result":null}`) // nothing refused ran
	e.expect(e.call("POST", "/", d.RestToken, `["SET","k","v"]`), 200, `{"result":"OK"}`)
	e.manage("POST", "/redis/update-allowlist/"+d.ID, `{"allowed_ips":["127.0.0.2"]}`)
	e.expect(e.call("POST", "/", d.RestToken, `["GET","k"]`), 403, refused)
	e.manage("POST", "/redis/update-allowlist/"+d.ID, `{"allowed_ips":null}`)
	e.expect(e.call("POST", "/", d.RestToken, `["GET","k"]`), 200, `{"result":"v"}`)
}

func TestRequestSizeLimit(t *testing.T) {
	e := newEnv(t, planes(t)[0])
	tok := e.create(false).RestToken
	big := `["SET","k","` + strings.Repeat("x", restapi.MaxBodyBytes) + `"]`
	e.expect(e.call("POST", "/", tok, big), 413, `{"error":"ERR max request size exceeded. Limit: 10485760 bytes"}`)
	e.expect(e.call("POST", "/", tok, `["SET","k","`+strings.Repeat("x", 1<<20)+`"]`), 200, `{"result":"OK"}`)
}

// TestIdlePoolsClose: the connection pool of a database no request used for
// IdleTimeout is closed (a deleted database's, say), and a request after
// that opens a new one.
func TestIdlePoolsClose(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	e := newEnvWith(t, planes(t)[0], restapi.Config{IdleTimeout: time.Minute, Now: clock})
	a, b := e.create(false), e.create(false)
	for _, d := range []database{a, b} {
		e.expect(e.call("POST", "/set/k/v", d.RestToken, ""), 200, `{"result":"OK"}`)
	}
	if n := e.server.OpenPools(); n != 2 {
		t.Fatalf("%d pools open after requests to 2 databases", n)
	}
	advance(30 * time.Second)
	e.expect(e.call("GET", "/get/k", a.RestToken, ""), 200, `{"result":"v"}`)
	if n := e.server.OpenPools(); n != 2 {
		t.Errorf("%d pools open before b was idle for a minute, want 2", n)
	}
	advance(40 * time.Second) // b idle 70 s, a 40 s
	e.expect(e.call("GET", "/get/k", a.RestToken, ""), 200, `{"result":"v"}`)
	if n := e.server.OpenPools(); n != 1 {
		t.Errorf("%d pools open after b was idle for 70 s, want 1", n)
	}
	e.expect(e.call("GET", "/get/k", b.RestToken, ""), 200, `{"result":"v"}`)
	if n := e.server.OpenPools(); n != 2 {
		t.Errorf("%d pools open after b's next request, want 2", n)
	}
}
