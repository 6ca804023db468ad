package devapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/gen"
	"github.com/devapi-dev/devapi/internal/app"
	"github.com/devapi-dev/devapi/internal/redistest"
	"github.com/devapi-dev/devapi/server"
)

// The contract tests run the real server (SQLite store, real HTTP) and drive
// it through the generated client. Every request and every answer passes
// through a kin-openapi validator built from openapi.yaml, so an answer the
// spec does not declare fails the test that provoked it.

const (
	testEmail = "owner@example.com"
	testKey   = "owner-api-key-0123456789abcdef0123456789abcdef"
	otherMail = "other@example.com"
	otherKey  = "other-api-key-0123456789abcdef0123456789abcdef"
)

// exercised records the operations the local contract tests have called
// with a validated answer, so TestMain can fail when one never was.
var exercised = struct {
	sync.Mutex
	ops map[string]bool
}{ops: map[string]bool{}}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if code == 0 && flag.Lookup("test.run").Value.String() == "" && !testing.Short() {
		if missing := unexercisedOperations(); len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: operations of openapi.yaml no contract test exercised: %s\n", strings.Join(missing, ", "))
			code = 1
		}
	}
	os.Exit(code)
}

func unexercisedOperations() []string {
	doc, err := loadSpec()
	if err != nil {
		return []string{"(openapi.yaml does not load: " + err.Error() + ")"}
	}
	exercised.Lock()
	defer exercised.Unlock()
	var missing []string
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if !exercised.ops[op.OperationID] {
				missing = append(missing, op.OperationID)
			}
		}
	}
	slices.Sort(missing)
	return missing
}

func loadSpec() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile("openapi.yaml")
	if err != nil {
		return nil, err
	}
	return doc, doc.Validate(loader.Context)
}

// contract validates traffic to one API base URL against openapi.yaml.
type contract struct {
	doc    *openapi3.T
	router routers.Router
	record bool // count exercised operations (local servers only)
}

// newContract builds a validator for the API served at base (…/v2).
func newContract(tb testing.TB, base string, record bool) *contract {
	tb.Helper()
	doc, err := loadSpec()
	if err != nil {
		tb.Fatalf("openapi.yaml: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: base}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		tb.Fatalf("router: %v", err)
	}
	return &contract{doc: doc, router: router, record: record}
}

var validationOptions = &openapi3filter.Options{
	IncludeResponseStatus: true,
	MultiError:            true,
	AuthenticationFunc: func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
		if in.SecurityScheme.Type == "http" && in.SecurityScheme.Scheme == "basic" {
			if _, _, ok := in.RequestValidationInput.Request.BasicAuth(); !ok {
				return fmt.Errorf("no HTTP Basic credentials")
			}
		}
		return nil
	},
}

// checkResponse validates an answer to req. Requests that match no
// operation must answer a body of the Error schema. It returns the problems.
func (c *contract) checkResponse(req *http.Request, status int, header http.Header, body []byte, checkRequest bool) error {
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		if status < 400 {
			return fmt.Errorf("%s %s matches no operation but answered %d", req.Method, req.URL.Path, status)
		}
		return c.checkErrorBody(header, body)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: validationOptions}
	if checkRequest {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			return fmt.Errorf("request to %s is invalid: %w", route.Operation.OperationID, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: header, Options: validationOptions}
	if err := openapi3filter.ValidateResponse(context.Background(), out.SetBodyBytes(body)); err != nil {
		return fmt.Errorf("answer of %s (%d) is invalid: %w", route.Operation.OperationID, status, err)
	}
	if c.record {
		exercised.Lock()
		exercised.ops[route.Operation.OperationID] = true
		exercised.Unlock()
	}
	return nil
}

// checkErrorBody validates a JSON body against the Error schema.
func (c *contract) checkErrorBody(header http.Header, body []byte) error {
	if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("error answer has Content-Type %q, want application/json", ct)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("error answer is not JSON: %v: %q", err, body)
	}
	return c.doc.Components.Schemas["Error"].Value.VisitJSON(v)
}

// transport is an http.RoundTripper that validates every request and answer
// it carries, failing tb on any mismatch.
type transport struct {
	tb       testing.TB
	contract *contract
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		reqBody = b
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	check := req.Clone(req.Context())
	check.Body = io.NopCloser(bytes.NewReader(reqBody))
	if err := t.contract.checkResponse(check, resp.StatusCode, resp.Header, body, true); err != nil {
		t.tb.Errorf("contract: %s %s: %v\nbody: %s", req.Method, req.URL.Path, err, body)
	}
	return resp, nil
}

// testServer is a real devapi server on loopback with two accounts.
type testServer struct {
	url      string // …/v2
	server   *server.Server
	store    devapi.Store
	contract *contract
}

func startServer(tb testing.TB) *testServer {
	tb.Helper()
	lo, hi := redistest.Ports(tb, 200)
	a, err := app.Open(context.Background(), app.Config{
		Dir:    tb.TempDir(),
		Setup:  app.Accounts("test", map[string]string{testEmail: testKey, otherMail: otherKey}),
		Server: server.Config{Ports: server.PortRange{Min: lo, Max: hi}},
		// The tests sample stats and take daily backups themselves.
		ManualJobs: true,
	})
	if err != nil {
		tb.Fatalf("start devapi: %v", err)
	}
	a.Start()
	tb.Cleanup(func() { _ = a.Close() })
	base := a.APIURL() + "/v2"
	return &testServer{url: base, server: a.Server(), store: a.Store(), contract: newContract(tb, base, true)}
}

// client returns a generated client for email/key whose traffic is validated.
func (s *testServer) client(tb testing.TB, email, key string) *gen.ClientWithResponses {
	tb.Helper()
	return newClient(tb, s.url, s.contract, email, key)
}

func newClient(tb testing.TB, base string, c *contract, email, key string) *gen.ClientWithResponses {
	tb.Helper()
	cl, err := gen.NewClientWithResponses(base,
		gen.WithHTTPClient(&http.Client{Transport: &transport{tb: tb, contract: c}, Timeout: 30 * time.Second}),
		gen.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.SetBasicAuth(email, key)
			return nil
		}))
	if err != nil {
		tb.Fatalf("client: %v", err)
	}
	return cl
}

func ptr[T any](v T) *T { return &v }

// createDatabase creates a database through the generated client.
func createDatabase(tb testing.TB, cl *gen.ClientWithResponses, name string) gen.Database {
	tb.Helper()
	resp, err := cl.CreateDatabaseWithResponse(context.Background(), gen.CreateDatabaseJSONRequestBody{
		DatabaseName:  ptr(name),
		Platform:      ptr(gen.Aws),
		PrimaryRegion: ptr(gen.CreateDatabaseRequestPrimaryRegionUsEast1),
	})
	if err != nil {
		tb.Fatalf("create: %v", err)
	}
	if resp.JSON200 == nil {
		tb.Fatalf("create: status %d: %s", resp.StatusCode(), resp.Body)
	}
	return *resp.JSON200
}

func TestLifecycle(t *testing.T) {
	s := startServer(t)
	cl := s.client(t, testEmail, testKey)
	ctx := t.Context()

	create, err := cl.CreateDatabaseWithResponse(ctx, gen.CreateDatabaseJSONRequestBody{
		DatabaseName:  ptr("orders"),
		Platform:      ptr(gen.Aws),
		PrimaryRegion: ptr(gen.CreateDatabaseRequestPrimaryRegionEuWest1),
		ReadRegions:   &[]gen.CreateDatabaseRequestReadRegions{gen.CreateDatabaseRequestReadRegionsUsEast1},
		Plan:          ptr(gen.Fixed1gb),
		Budget:        ptr(int64(50)),
		Eviction:      ptr(true),
	})
	if err != nil || create.JSON200 == nil {
		t.Fatalf("create: %v, status %d: %s", err, create.StatusCode(), create.Body)
	}
	db := *create.JSON200
	if db.DatabaseName != "orders" || db.State != "active" || !db.Tls || db.Region != "global" {
		t.Errorf("create answered name %q state %q tls %v region %q", db.DatabaseName, db.State, db.Tls, db.Region)
	}
	if *db.PrimaryRegion != "eu-west-1" || !slices.Equal(*db.ReadRegions, []string{"us-east-1"}) || *db.Type != "paid" || *db.Budget != 50 || !*db.Eviction {
		t.Errorf("create did not keep the request: %+v", db)
	}
	if db.Password == nil || len(*db.Password) != 32 || db.RestToken == nil || db.ReadOnlyRestToken == nil {
		t.Fatalf("create answered no credentials: %s", create.Body)
	}
	if got := *db.UserEmail; got != testEmail {
		t.Errorf("user_email = %q, want %q", got, testEmail)
	}

	get, err := cl.GetDatabaseWithResponse(ctx, db.DatabaseId, nil)
	if err != nil || get.JSON200 == nil {
		t.Fatalf("get: %v, status %d", err, get.StatusCode())
	}
	if *get.JSON200.Password != *db.Password {
		t.Errorf("get password differs from create's")
	}
	hidden, err := cl.GetDatabaseWithResponse(ctx, db.DatabaseId, &gen.GetDatabaseParams{Credentials: ptr("hide")})
	if err != nil || hidden.JSON200 == nil {
		t.Fatalf("get hide: %v, status %d", err, hidden.StatusCode())
	}
	if hidden.JSON200.Password != nil || hidden.JSON200.RestToken != nil || hidden.JSON200.ReadOnlyRestToken != nil {
		t.Errorf("credentials=hide still answers credentials: %s", hidden.Body)
	}

	// Two resets: each answers new credentials, and GET shows the last.
	seen := map[string]bool{*db.Password: true, *db.RestToken: true, *db.ReadOnlyRestToken: true}
	var last gen.DatabaseWithCredentials
	for i := range 2 {
		reset, err := cl.ResetPasswordWithResponse(ctx, db.DatabaseId)
		if err != nil || reset.JSON200 == nil {
			t.Fatalf("reset %d: %v, status %d: %s", i, err, reset.StatusCode(), reset.Body)
		}
		last = *reset.JSON200
		for _, v := range []string{last.Password, last.RestToken, last.ReadOnlyRestToken} {
			if seen[v] {
				t.Errorf("reset %d answered a credential seen before", i)
			}
			seen[v] = true
		}
		if last.DatabaseId != db.DatabaseId || last.DatabaseName != "orders" || last.Port != db.Port {
			t.Errorf("reset %d changed more than the credentials: %s", i, reset.Body)
		}
	}
	get, err = cl.GetDatabaseWithResponse(ctx, db.DatabaseId, nil)
	if err != nil || get.JSON200 == nil {
		t.Fatalf("get after reset: %v", err)
	}
	if *get.JSON200.Password != last.Password || *get.JSON200.RestToken != last.RestToken || *get.JSON200.ReadOnlyRestToken != last.ReadOnlyRestToken {
		t.Errorf("get after two resets does not show the last reset's credentials")
	}

	second := createDatabase(t, cl, "sessions")
	list, err := cl.ListDatabasesWithResponse(ctx)
	if err != nil || list.JSON200 == nil {
		t.Fatalf("list: %v", err)
	}
	var ids []string
	for _, d := range *list.JSON200 {
		ids = append(ids, d.DatabaseId)
	}
	if !slices.Equal(ids, []string{db.DatabaseId, second.DatabaseId}) {
		t.Errorf("list = %v, want [%s %s]", ids, db.DatabaseId, second.DatabaseId)
	}

	del, err := cl.DeleteDatabaseWithResponse(ctx, db.DatabaseId)
	if err != nil || del.JSON200 == nil || *del.JSON200 != "OK" {
		t.Fatalf("delete: %v, status %d: %s", err, del.StatusCode(), del.Body)
	}
	get, err = cl.GetDatabaseWithResponse(ctx, db.DatabaseId, nil)
	if err != nil || get.JSON404 == nil {
		t.Fatalf("get after delete: %v, status %d", err, get.StatusCode())
	}
	del, err = cl.DeleteDatabaseWithResponse(ctx, db.DatabaseId)
	if err != nil || del.JSON404 == nil {
		t.Fatalf("second delete: %v, status %d", err, del.StatusCode())
	}
	reset, err := cl.ResetPasswordWithResponse(ctx, db.DatabaseId)
	if err != nil || reset.JSON404 == nil {
		t.Fatalf("reset after delete: %v, status %d", err, reset.StatusCode())
	}
}

func TestCreateAcceptsWhatRealClientsSend(t *testing.T) {
	s := startServer(t)
	for _, tc := range []struct {
		name, body string
		wantName   string
		wantTLS    bool
	}{
		{"terraform", `{"database_name":"tf","region":"global","primary_region":"us-east-1","tls":true,"consistent":false,"multizone":false,"eviction":false,"auto_upgrade":false,"prod_pack_enabled":false,"budget":20}`, "tf", true},
		{"legacy name and global region", `{"name":"mcp","region":"global","primary_region":"us-east-1","read_regions":["us-west-1"]}`, "mcp", true},
		{"platform omitted", `{"database_name":"cli","primary_region":"eu-central-1"}`, "cli", true},
		{"gcp", `{"database_name":"g","platform":"gcp","primary_region":"us-central1"}`, "g", true},
		{"tls off", `{"database_name":"plain","platform":"aws","primary_region":"us-east-1","tls":false}`, "plain", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := s.raw(t, "POST", "/redis/database", tc.body, testEmail, testKey)
			if status != http.StatusOK {
				t.Fatalf("status %d: %s", status, body)
			}
			var db gen.Database
			if err := json.Unmarshal(body, &db); err != nil {
				t.Fatal(err)
			}
			if db.DatabaseName != tc.wantName || db.Tls != tc.wantTLS {
				t.Errorf("name %q tls %v, want %q %v", db.DatabaseName, db.Tls, tc.wantName, tc.wantTLS)
			}
		})
	}
}

// raw sends a request the generated client cannot (or would not) send and
// validates the answer. The request itself is not validated: many are wrong
// on purpose.
func (s *testServer) raw(tb testing.TB, method, path, body, email, key string) (int, []byte) {
	tb.Helper()
	return s.rawRequest(tb, method, path, strings.NewReader(body), email, key, "application/json")
}

func (s *testServer) rawRequest(tb testing.TB, method, path string, body io.Reader, email, key, contentType string) (int, []byte) {
	tb.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, s.url+path, body)
	if err != nil {
		tb.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if email != "" || key != "" {
		req.SetBasicAuth(email, key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	check, _ := http.NewRequest(method, s.url+path, nil)
	check.Header = req.Header
	if err := s.contract.checkResponse(check, resp.StatusCode, resp.Header, b, false); err != nil {
		tb.Errorf("contract: %s %s: %v\nbody: %s", method, path, err, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		tb.Errorf("%s %s: Content-Type %q, want application/json", method, path, ct)
	}
	return resp.StatusCode, b
}

func TestBadRequests(t *testing.T) {
	s := startServer(t)
	owner := s.client(t, testEmail, testKey)
	mine := createDatabase(t, owner, "mine")
	theirs := createDatabase(t, s.client(t, otherMail, otherKey), "theirs")
	big := `{"database_name":"` + strings.Repeat("x", 2<<20) + `","primary_region":"us-east-1"}`

	for _, tc := range []struct {
		name         string
		method, path string
		body         string
		email, key   string
		wantStatus   int
		wantMessage  string // when set, the error text must be exactly this
	}{
		{"no credentials", "GET", "/redis/databases", "", "", "", 401, "Unauthorized"},
		{"wrong key", "GET", "/redis/databases", "", testEmail, otherKey, 401, "Unauthorized"},
		{"key of another email", "GET", "/redis/databases", "", otherMail, testKey, 401, "Unauthorized"},
		{"unknown email", "GET", "/redis/databases", "", "nobody@example.com", testKey, 401, "Unauthorized"},
		{"wrong credentials on reset", "POST", "/redis/reset-password/" + mine.DatabaseId, "", testEmail, "nope", 401, "Unauthorized"},
		{"unknown id", "GET", "/redis/database/no-such-id", "", testEmail, testKey, 404, "database not found"},
		{"unknown id reset", "POST", "/redis/reset-password/no-such-id", "", testEmail, testKey, 404, "database not found"},
		{"another account's id get", "GET", "/redis/database/" + theirs.DatabaseId, "", testEmail, testKey, 404, "database not found"},
		{"another account's id reset", "POST", "/redis/reset-password/" + theirs.DatabaseId, "", testEmail, testKey, 404, "database not found"},
		{"another account's id delete", "DELETE", "/redis/database/" + theirs.DatabaseId, "", testEmail, testKey, 404, "database not found"},
		{"malformed JSON", "POST", "/redis/database", `{"database_name":`, testEmail, testKey, 400, "request body is not valid JSON"},
		{"body of the wrong type", "POST", "/redis/database", `["x"]`, testEmail, testKey, 400, ""},
		{"missing name", "POST", "/redis/database", `{"platform":"aws","primary_region":"us-east-1"}`, testEmail, testKey, 400, "database_name is required"},
		{"missing primary region", "POST", "/redis/database", `{"database_name":"x"}`, testEmail, testKey, 400, "primary_region is required"},
		{"unknown region", "POST", "/redis/database", `{"database_name":"x","primary_region":"mars-1"}`, testEmail, testKey, 400, ""},
		{"region of another platform", "POST", "/redis/database", `{"database_name":"x","platform":"gcp","primary_region":"us-east-1"}`, testEmail, testKey, 400, ""},
		{"read region equals primary", "POST", "/redis/database", `{"database_name":"x","primary_region":"us-east-1","read_regions":["us-east-1"]}`, testEmail, testKey, 400, ""},
		{"name of the wrong type", "POST", "/redis/database", `{"database_name":7,"primary_region":"us-east-1"}`, testEmail, testKey, 400, ""},
		{"regional create", "POST", "/redis/database", `{"name":"old","region":"eu-west-1","tls":true}`, testEmail, testKey, 400, "regional db creation is deprecated"},
		{"empty create body", "POST", "/redis/database", ``, testEmail, testKey, 400, ""},
		{"null create body", "POST", "/redis/database", `null`, testEmail, testKey, 400, ""},
		{"oversized body", "POST", "/redis/database", big, testEmail, testKey, 413, ""},
		{"bad credentials parameter", "GET", "/redis/database/" + mine.DatabaseId + "?credentials=maybe", "", testEmail, testKey, 400, ""},
		{"unknown path", "GET", "/redis/no-such-thing", "", testEmail, testKey, 404, ""},
		{"unknown path outside v2", "GET", "/../v3/redis/databases", "", testEmail, testKey, 404, ""},
		{"wrong method", "PUT", "/redis/database/" + mine.DatabaseId, "", testEmail, testKey, 405, ""},
		{"wrong method on list", "DELETE", "/redis/databases", "", testEmail, testKey, 405, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := s.raw(t, tc.method, tc.path, tc.body, tc.email, tc.key)
			if status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", status, tc.wantStatus, body)
			}
			msg := errorText(t, body)
			if tc.wantMessage != "" && msg != tc.wantMessage {
				t.Errorf("message %q, want %q", msg, tc.wantMessage)
			}
			if msg == "" || strings.Contains(msg, "sqlite") || strings.Contains(msg, "goroutine") {
				t.Errorf("message %q is empty or leaks internals", msg)
			}
		})
	}

	// None of it changed anything: both databases are still there with the
	// credentials they were created with.
	for _, tc := range []struct {
		db         gen.Database
		email, key string
	}{{mine, testEmail, testKey}, {theirs, otherMail, otherKey}} {
		status, body := s.raw(t, "GET", "/redis/database/"+tc.db.DatabaseId, "", tc.email, tc.key)
		var got gen.Database
		if err := json.Unmarshal(body, &got); status != 200 || err != nil {
			t.Fatalf("get %s: %d %v", tc.db.DatabaseName, status, err)
		}
		if *got.Password != *tc.db.Password || *got.RestToken != *tc.db.RestToken {
			t.Errorf("%s: credentials changed by refused requests", tc.db.DatabaseName)
		}
	}
	status, body := s.raw(t, "GET", "/redis/databases", "", testEmail, testKey)
	var list []gen.Database
	if err := json.Unmarshal(body, &list); status != 200 || err != nil || len(list) != 1 {
		t.Errorf("list after refused creates: %d databases (%v): %s", len(list), err, body)
	}
}

// errorText returns the message of an Error body of either shape.
func errorText(tb testing.TB, body []byte) string {
	tb.Helper()
	var e gen.Error
	if err := json.Unmarshal(body, &e); err != nil {
		tb.Fatalf("not an Error: %v: %s", err, body)
	}
	if m, err := e.AsErrorMessage(); err == nil {
		return m
	}
	o, err := e.AsErrorObject()
	if err != nil {
		tb.Fatalf("neither Error shape: %s", body)
	}
	return o.Error
}

func TestBodiesWhereNoneIsTaken(t *testing.T) {
	s := startServer(t)
	db := createDatabase(t, s.client(t, testEmail, testKey), "bodies")
	for _, body := range []string{"", "{}", "null"} {
		status, b := s.raw(t, "POST", "/redis/reset-password/"+db.DatabaseId, body, testEmail, testKey)
		if status != 200 {
			t.Errorf("reset-password with body %q: %d %s", body, status, b)
		}
	}
	status, b := s.rawRequest(t, "POST", "/redis/database", strings.NewReader(`{"database_name":"curl","primary_region":"us-east-1"}`), testEmail, testKey, "application/x-www-form-urlencoded")
	if status != 200 {
		t.Errorf("create as curl -d sends it: %d %s", status, b)
	}
	// Upstash's Terraform provider toggles prod_pack with the body null.
	for _, path := range []string{"/redis/enable-prodpack/", "/redis/disable-prodpack/"} {
		if status, b := s.raw(t, "POST", path+db.DatabaseId, "null", testEmail, testKey); status != 200 || strings.TrimSpace(string(b)) != `"OK"` {
			t.Errorf("%s with body null: %d %s", path, status, b)
		}
	}
}

func TestOverlappingResetsEndWithOneReset(t *testing.T) {
	s := startServer(t)
	cl := s.client(t, testEmail, testKey)
	db := createDatabase(t, cl, "race")
	const n = 20
	answers := make([]gen.DatabaseWithCredentials, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			resp, err := cl.ResetPasswordWithResponse(context.Background(), db.DatabaseId)
			if err != nil || resp.JSON200 == nil {
				t.Errorf("reset: %v", err)
				return
			}
			answers[i] = *resp.JSON200
		})
	}
	wg.Wait()
	get, err := cl.GetDatabaseWithResponse(t.Context(), db.DatabaseId, nil)
	if err != nil || get.JSON200 == nil {
		t.Fatalf("get: %v", err)
	}
	final := get.JSON200
	matches := 0
	for _, a := range answers {
		if a.Password == *final.Password {
			matches++
			if a.RestToken != *final.RestToken || a.ReadOnlyRestToken != *final.ReadOnlyRestToken {
				t.Errorf("stored password is one reset's, its tokens another's")
			}
		}
	}
	if matches != 1 {
		t.Errorf("stored password matches %d of the answered resets, want exactly 1", matches)
	}
}

// TestRecordedResponseValidates checks the real answer recorded on Upstash's
// reset-password docs page against the spec.
func TestRecordedResponseValidates(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("testdata", "reset-password-response.json"))
	if err != nil {
		t.Fatal(err)
	}
	c := newContract(t, "https://api.upstash.com/v2", false)
	if err := c.validateAnswer("POST", "/redis/reset-password/96ad0856-03b1-4ee7-9666-e81abd0349e1", 200, body); err != nil {
		t.Errorf("the recorded reset-password answer does not validate: %v", err)
	}
	var db gen.DatabaseWithCredentials
	if err := json.Unmarshal(body, &db); err != nil {
		t.Errorf("the generated type does not decode it: %v", err)
	}
	if db.Port != 30143 || db.Password != "49665a1710f3434d8be008aab50f38d2" {
		t.Errorf("decoded port %d password %q", db.Port, db.Password)
	}
}

// validateAnswer validates a recorded answer to method path.
func (c *contract) validateAnswer(method, path string, status int, body []byte) error {
	req, err := http.NewRequest(method, c.doc.Servers[0].URL+path, nil)
	if err != nil {
		return err
	}
	req.SetBasicAuth("a@example.com", "k")
	header := http.Header{"Content-Type": {"application/json"}}
	return c.checkResponse(req, status, header, body, true)
}

// TestValidatorRejectsBrokenAnswers proves the contract tests can fail: the
// same validator refuses answers that break the spec.
func TestValidatorRejectsBrokenAnswers(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("testdata", "reset-password-response.json"))
	if err != nil {
		t.Fatal(err)
	}
	c := newContract(t, "https://api.upstash.com/v2", false)
	const path = "/redis/reset-password/96ad0856-03b1-4ee7-9666-e81abd0349e1"
	mutate := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(good, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	for _, tc := range []struct {
		name   string
		status int
		body   []byte
	}{
		{"password missing", 200, mutate(func(m map[string]any) { delete(m, "password") })},
		{"rest_token missing", 200, mutate(func(m map[string]any) { delete(m, "rest_token") })},
		{"port as a string", 200, mutate(func(m map[string]any) { m["port"] = "30143" })},
		{"database_id missing", 200, mutate(func(m map[string]any) { delete(m, "database_id") })},
		{"tls as a string", 200, mutate(func(m map[string]any) { m["tls"] = "true" })},
		{"undeclared status", 418, good},
		{"error of neither shape", 404, []byte(`{"message":"gone"}`)},
		{"not JSON", 200, []byte(`OK`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := c.validateAnswer("POST", path, tc.status, tc.body); err == nil {
				t.Errorf("validator accepted a broken answer")
			}
		})
	}
	if err := c.validateAnswer("POST", path, 200, good); err != nil {
		t.Errorf("validator refused the good answer: %v", err)
	}
}

// TestLive runs the read-only part of the contract against a live API:
// Upstash itself or a devapi serve process. Opt in with DEVAPI_LIVE=1,
// UPSTASH_EMAIL and UPSTASH_API_KEY; DEVAPI_LIVE_URL is the host root
// (default https://api.upstash.com). Reset-password runs only on the database
// named in DEVAPI_LIVE_DB, since it changes that database's credentials.
func TestLive(t *testing.T) {
	email, key := os.Getenv("UPSTASH_EMAIL"), os.Getenv("UPSTASH_API_KEY")
	if os.Getenv("DEVAPI_LIVE") != "1" || email == "" || key == "" {
		t.Skip("live contract test skipped: set DEVAPI_LIVE=1, UPSTASH_EMAIL and UPSTASH_API_KEY to run it (DEVAPI_LIVE_URL, DEVAPI_LIVE_DB optional)")
	}
	root := strings.TrimSuffix(os.Getenv("DEVAPI_LIVE_URL"), "/")
	if root == "" {
		root = "https://api.upstash.com"
	}
	base := root + "/v2"
	c := newContract(t, base, false)
	cl := newClient(t, base, c, email, key)
	ctx := t.Context()

	list, err := cl.ListDatabasesWithResponse(ctx)
	if err != nil || list.JSON200 == nil {
		t.Fatalf("list: %v, status %d: %s", err, list.StatusCode(), list.Body)
	}
	t.Logf("live %s: %d databases", root, len(*list.JSON200))
	for _, d := range *list.JSON200 {
		for _, params := range []*gen.GetDatabaseParams{nil, {Credentials: ptr("hide")}} {
			get, err := cl.GetDatabaseWithResponse(ctx, d.DatabaseId, params)
			if err != nil || get.JSON200 == nil {
				t.Errorf("get %s: %v, status %d", d.DatabaseId, err, get.StatusCode())
			}
		}
	}
	bad := newClient(t, base, c, email, key+"-wrong")
	if resp, err := bad.ListDatabasesWithResponse(ctx); err != nil || resp.StatusCode() != http.StatusUnauthorized {
		t.Errorf("wrong key: %v, status %d, want 401", err, resp.StatusCode())
	}

	id := os.Getenv("DEVAPI_LIVE_DB")
	if id == "" {
		t.Log("reset-password not run live: set DEVAPI_LIVE_DB to a database id whose credentials may change")
		return
	}
	before, err := cl.GetDatabaseWithResponse(ctx, id, nil)
	if err != nil || before.JSON200 == nil {
		t.Fatalf("get %s: %v, status %d", id, err, before.StatusCode())
	}
	reset, err := cl.ResetPasswordWithResponse(ctx, id)
	if err != nil || reset.JSON200 == nil {
		t.Fatalf("reset %s: %v, status %d: %s", id, err, reset.StatusCode(), reset.Body)
	}
	if before.JSON200.Password != nil && reset.JSON200.Password == *before.JSON200.Password {
		t.Errorf("live reset-password kept the old password")
	}
	after, err := cl.GetDatabaseWithResponse(ctx, id, nil)
	if err != nil || after.JSON200 == nil || after.JSON200.Password == nil || *after.JSON200.Password != reset.JSON200.Password {
		t.Errorf("get after live reset does not show the new password")
	}
}

// BenchmarkValidateResponse measures one validation of the recorded
// reset-password answer, the unit of work of every contract check.
func BenchmarkValidateResponse(b *testing.B) {
	body, err := os.ReadFile(filepath.Join("testdata", "reset-password-response.json"))
	if err != nil {
		b.Fatal(err)
	}
	c := newContract(b, "https://api.upstash.com/v2", false)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.validateAnswer("POST", "/redis/reset-password/96ad0856-03b1-4ee7-9666-e81abd0349e1", 200, body); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSettingsOperations(t *testing.T) {
	s := startServer(t)
	cl := s.client(t, testEmail, testKey)
	ctx := t.Context()
	resp, err := cl.CreateDatabaseWithResponse(ctx, gen.CreateDatabaseJSONRequestBody{
		DatabaseName: ptr("settings"), PrimaryRegion: ptr(gen.CreateDatabaseRequestPrimaryRegionUsEast1), Tls: ptr(false),
	})
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("create: %v", err)
	}
	id := resp.JSON200.DatabaseId
	get := func() gen.Database {
		t.Helper()
		g, err := cl.GetDatabaseWithResponse(ctx, id, nil)
		if err != nil || g.JSON200 == nil {
			t.Fatalf("get: %v", err)
		}
		return *g.JSON200
	}
	wantError := func(status int, body []byte, want int, text string) {
		t.Helper()
		if status != want || !strings.Contains(string(body), text) {
			t.Errorf("got %d %s, want %d with %q", status, body, want, text)
		}
	}

	rename, err := cl.RenameDatabaseWithResponse(ctx, id, gen.RenameDatabaseJSONRequestBody{Name: "renamed"})
	if err != nil || rename.JSON200 == nil || rename.JSON200.DatabaseName != "renamed" || get().DatabaseName != "renamed" {
		t.Errorf("rename: %v %s", err, rename.Body)
	}

	tlsOn, err := cl.EnableTlsWithResponse(ctx, id)
	if err != nil || tlsOn.JSON200 == nil || !tlsOn.JSON200.Tls || !get().Tls {
		t.Errorf("enable-tls: %v %s", err, tlsOn.Body)
	}
	tlsOn, _ = cl.EnableTlsWithResponse(ctx, id)
	wantError(tlsOn.StatusCode(), tlsOn.Body, 400, "already enabled")

	for _, step := range []struct {
		name string
		call func() (int, []byte, error)
		want int
		text string
		get  func(gen.Database) bool
	}{
		{"enable eviction", func() (int, []byte, error) {
			r, err := cl.EnableEvictionWithResponse(ctx, id)
			return r.StatusCode(), r.Body, err
		}, 200, `"OK"`, func(d gen.Database) bool { return *d.Eviction }},
		{"enable eviction again", func() (int, []byte, error) {
			r, err := cl.EnableEvictionWithResponse(ctx, id)
			return r.StatusCode(), r.Body, err
		}, 400, "already enabled", func(d gen.Database) bool { return *d.Eviction }},
		{"disable eviction", func() (int, []byte, error) {
			r, err := cl.DisableEvictionWithResponse(ctx, id)
			return r.StatusCode(), r.Body, err
		}, 200, `"OK"`, func(d gen.Database) bool { return !*d.Eviction }},
		{"disable eviction again", func() (int, []byte, error) {
			r, err := cl.DisableEvictionWithResponse(ctx, id)
			return r.StatusCode(), r.Body, err
		}, 400, "already disabled", func(d gen.Database) bool { return !*d.Eviction }},
		{"enable auto upgrade", func() (int, []byte, error) {
			r, err := cl.EnableAutoUpgradeWithResponse(ctx, id)
			return r.StatusCode(), r.Body, err
		}, 200, `"OK"`, func(d gen.Database) bool { return *d.AutoUpgrade }},
		{"enable auto upgrade again", func() (int, []byte, error) {
			r, err := cl.EnableAutoUpgradeWithResponse(ctx, id)
			return r.StatusCode(), r.Body, err
		}, 400, "already enabled", func(d gen.Database) bool { return *d.AutoUpgrade }},
		{"disable auto upgrade", func() (int, []byte, error) {
			r, err := cl.DisableAutoUpgradeWithResponse(ctx, id)
			return r.StatusCode(), r.Body, err
		}, 200, `"OK"`, func(d gen.Database) bool { return !*d.AutoUpgrade }},
		{"disable auto upgrade again", func() (int, []byte, error) {
			r, err := cl.DisableAutoUpgradeWithResponse(ctx, id)
			return r.StatusCode(), r.Body, err
		}, 400, "already disabled", func(d gen.Database) bool { return !*d.AutoUpgrade }},
		{"enable prod pack", func() (int, []byte, error) {
			r, err := cl.EnableProdPackWithResponse(ctx, id)
			return r.StatusCode(), r.Body, err
		}, 200, `"OK"`, func(d gen.Database) bool { return *d.ProdPackEnabled }},
		{"enable prod pack again", func() (int, []byte, error) {
			r, err := cl.EnableProdPackWithResponse(ctx, id)
			return r.StatusCode(), r.Body, err
		}, 400, "already enabled", func(d gen.Database) bool { return *d.ProdPackEnabled }},
		{"disable prod pack", func() (int, []byte, error) {
			r, err := cl.DisableProdPackWithResponse(ctx, id)
			return r.StatusCode(), r.Body, err
		}, 200, `"OK"`, func(d gen.Database) bool { return !*d.ProdPackEnabled }},
		{"disable prod pack again", func() (int, []byte, error) {
			r, err := cl.DisableProdPackWithResponse(ctx, id)
			return r.StatusCode(), r.Body, err
		}, 400, "already disabled", func(d gen.Database) bool { return !*d.ProdPackEnabled }},
		{"change plan", func() (int, []byte, error) {
			r, err := cl.ChangePlanWithResponse(ctx, id, gen.ChangePlanJSONRequestBody{PlanName: gen.Fixed250mb, AutoUpgrade: ptr(true)})
			return r.StatusCode(), r.Body, err
		}, 200, `"OK"`, func(d gen.Database) bool {
			return *d.Type == "paid" && *d.DbMemoryThreshold == 250<<20 && *d.AutoUpgrade
		}},
		{"update budget", func() (int, []byte, error) {
			r, err := cl.UpdateBudgetWithResponse(ctx, id, gen.UpdateBudgetJSONRequestBody{Budget: 360})
			return r.StatusCode(), r.Body, err
		}, 200, `"OK"`, func(d gen.Database) bool { return *d.Budget == 360 }},
		{"update regions", func() (int, []byte, error) {
			r, err := cl.UpdateRegionsWithResponse(ctx, id, gen.UpdateRegionsJSONRequestBody{ReadRegions: []gen.ReadRegion{gen.ReadRegionEuWest1, gen.ReadRegionUsWest2}})
			return r.StatusCode(), r.Body, err
		}, 200, `"OK"`, func(d gen.Database) bool { return slices.Equal(*d.ReadRegions, []string{"eu-west-1", "us-west-2"}) }},
		{"update regions with the primary", func() (int, []byte, error) {
			r, err := cl.UpdateRegionsWithResponse(ctx, id, gen.UpdateRegionsJSONRequestBody{ReadRegions: []gen.ReadRegion{gen.ReadRegionUsEast1}})
			return r.StatusCode(), r.Body, err
		}, 400, "primary region", func(d gen.Database) bool { return slices.Equal(*d.ReadRegions, []string{"eu-west-1", "us-west-2"}) }},
		{"remove every read region with null, as Terraform does", func() (int, []byte, error) {
			status, body := s.raw(t, "POST", "/redis/update-regions/"+id, `{"read_regions":null}`, testEmail, testKey)
			return status, body, nil
		}, 200, `"OK"`, func(d gen.Database) bool { return d.ReadRegions == nil || len(*d.ReadRegions) == 0 }},
	} {
		status, body, err := step.call()
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		wantError(status, body, step.want, step.text)
		if !step.get(get()) {
			t.Errorf("%s: GET does not show the expected state", step.name)
		}
	}

	// Every one of them on an unknown id or another account's database: 404.
	theirs := createDatabase(t, s.client(t, otherMail, otherKey), "theirs")
	for _, target := range []string{"no-such-id", theirs.DatabaseId} {
		for _, tc := range []struct{ method, path, body string }{
			{"POST", "/redis/rename/" + target, `{"name":"x"}`},
			{"POST", "/redis/enable-tls/" + target, ``},
			{"POST", "/redis/enable-eviction/" + target, ``},
			{"POST", "/redis/disable-eviction/" + target, ``},
			{"POST", "/redis/enable-autoupgrade/" + target, ``},
			{"POST", "/redis/disable-autoupgrade/" + target, ``},
			{"POST", "/redis/enable-prodpack/" + target, `null`},
			{"POST", "/redis/disable-prodpack/" + target, `null`},
			{"POST", "/redis/" + target + "/change-plan", `{"plan_name":"payg"}`},
			{"PATCH", "/redis/update-budget/" + target, `{"budget":1}`},
			{"POST", "/redis/update-regions/" + target, `{"read_regions":[]}`},
		} {
			if status, body := s.raw(t, tc.method, tc.path, tc.body, testEmail, testKey); status != 404 {
				t.Errorf("%s %s: %d %s, want 404", tc.method, tc.path, status, body)
			}
		}
	}
	// Bodies the spec refuses.
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/redis/rename/" + id, `{}`},
		{"POST", "/redis/rename/" + id, `{"name":""}`},
		{"POST", "/redis/" + id + "/change-plan", `{"plan_name":"platinum"}`},
		{"POST", "/redis/" + id + "/change-plan", `{"plan":"payg"}`},
		{"PATCH", "/redis/update-budget/" + id, `{"budget":-1}`},
		{"PATCH", "/redis/update-budget/" + id, `{"budget":"10"}`},
		{"POST", "/redis/update-regions/" + id, `{"read_regions":["mars-1"]}`},
		{"POST", "/redis/update-regions/" + id, `{}`},
	} {
		if status, body := s.raw(t, tc.method, tc.path, tc.body, testEmail, testKey); status != 400 {
			t.Errorf("%s %s %s: %d %s, want 400", tc.method, tc.path, tc.body, status, body)
		}
	}
	if got := get(); got.DatabaseName != "renamed" || *got.Budget != 360 || *got.Type != "paid" {
		t.Errorf("refused requests changed the database: %+v", got)
	}
}

func TestTeamsAndMoveToTeam(t *testing.T) {
	s := startServer(t)
	owner := s.client(t, testEmail, testKey)
	other := s.client(t, otherMail, otherKey)
	ctx := t.Context()

	created, err := owner.CreateTeamWithResponse(ctx, gen.CreateTeamJSONRequestBody{TeamName: "platform", CopyCc: false})
	if err != nil || created.JSON200 == nil {
		t.Fatalf("create team: %v %s", err, created.Body)
	}
	team := created.JSON200.TeamId
	list, err := owner.ListTeamsWithResponse(ctx)
	if err != nil || list.JSON200 == nil || len(*list.JSON200) != 1 || *(*list.JSON200)[0].MemberRole != "owner" {
		t.Fatalf("list teams: %v %s", err, list.Body)
	}
	// Outsiders see nothing.
	if r, _ := other.GetTeamMembersWithResponse(ctx, team); r.JSON404 == nil {
		t.Errorf("an outsider reads the members: %d %s", r.StatusCode(), r.Body)
	}
	if r, _ := other.ListTeamsWithResponse(ctx); r.JSON200 == nil || len(*r.JSON200) != 0 {
		t.Errorf("an outsider lists the team: %s", r.Body)
	}

	added, err := owner.AddTeamMemberWithResponse(ctx, gen.AddTeamMemberJSONRequestBody{TeamId: team, MemberEmail: otherMail, MemberRole: gen.Dev})
	if err != nil || added.JSON200 == nil || added.JSON200.MemberRole != "dev" {
		t.Fatalf("add member: %v %s", err, added.Body)
	}
	again, _ := owner.AddTeamMemberWithResponse(ctx, gen.AddTeamMemberJSONRequestBody{TeamId: team, MemberEmail: otherMail, MemberRole: gen.Admin})
	if again.JSON400 == nil {
		t.Errorf("adding a member twice: %d %s", again.StatusCode(), again.Body)
	}
	unknown, _ := owner.AddTeamMemberWithResponse(ctx, gen.AddTeamMemberJSONRequestBody{TeamId: team, MemberEmail: "nobody@example.com", MemberRole: gen.Dev})
	if unknown.JSON400 == nil || !strings.Contains(string(unknown.Body), "no account") {
		t.Errorf("adding an unknown account: %d %s", unknown.StatusCode(), unknown.Body)
	}
	// A dev cannot manage members.
	if r, _ := other.AddTeamMemberWithResponse(ctx, gen.AddTeamMemberJSONRequestBody{TeamId: team, MemberEmail: testEmail, MemberRole: gen.Admin}); r.JSON400 == nil {
		t.Errorf("a dev added a member: %d %s", r.StatusCode(), r.Body)
	}
	members, err := other.GetTeamMembersWithResponse(ctx, team)
	if err != nil || members.JSON200 == nil || len(*members.JSON200) != 2 || (*members.JSON200)[0].MemberEmail != testEmail {
		t.Fatalf("members: %v %s", err, members.Body)
	}

	// Move a database: the team's account owns it, the user no longer does.
	db := createDatabase(t, owner, "moving")
	moved, err := owner.MoveToTeamWithResponse(ctx, gen.MoveToTeamJSONRequestBody{TeamId: team, DatabaseId: db.DatabaseId})
	if err != nil || moved.JSON200 == nil {
		t.Fatalf("move: %v %s", err, moved.Body)
	}
	if r, _ := owner.GetDatabaseWithResponse(ctx, db.DatabaseId, nil); r.JSON404 == nil {
		t.Errorf("the user still sees the moved database: %d", r.StatusCode())
	}
	teamStored, err := s.store.Database(ctx, team, db.DatabaseId)
	if err != nil || teamStored.Owner != team {
		t.Errorf("the team does not own the database: %v", err)
	}
	for _, tc := range []struct {
		name string
		cl   *gen.ClientWithResponses
		body gen.MoveToTeamJSONRequestBody
		want int
	}{
		{"moved already", owner, gen.MoveToTeamJSONRequestBody{TeamId: team, DatabaseId: db.DatabaseId}, 404},
		{"unknown team", owner, gen.MoveToTeamJSONRequestBody{TeamId: "no-team", DatabaseId: createDatabase(t, owner, "stay").DatabaseId}, 404},
		{"another's database", other, gen.MoveToTeamJSONRequestBody{TeamId: team, DatabaseId: createDatabase(t, owner, "mine").DatabaseId}, 404},
	} {
		r, err := tc.cl.MoveToTeamWithResponse(ctx, tc.body)
		if err != nil || r.StatusCode() != tc.want {
			t.Errorf("%s: %v %d %s", tc.name, err, r.StatusCode(), r.Body)
		}
	}

	// A team that owns a database cannot be deleted; a dev cannot delete it.
	if r, _ := other.DeleteTeamWithResponse(ctx, team); r.JSON400 == nil {
		t.Errorf("a dev deleted the team: %d %s", r.StatusCode(), r.Body)
	}
	if r, _ := owner.DeleteTeamWithResponse(ctx, team); r.JSON400 == nil || !strings.Contains(string(r.Body), "databases") {
		t.Errorf("deleting a team with a database: %d %s", r.StatusCode(), r.Body)
	}
	if err := s.store.DeleteDatabase(ctx, team, db.DatabaseId); err != nil {
		t.Fatal(err)
	}

	// Members: the owner stays; others can be removed once.
	if r, _ := owner.DeleteTeamMemberWithResponse(ctx, gen.DeleteTeamMemberJSONRequestBody{TeamId: team, MemberEmail: testEmail}); r.JSON400 == nil {
		t.Errorf("removed the owner: %d %s", r.StatusCode(), r.Body)
	}
	if r, _ := owner.DeleteTeamMemberWithResponse(ctx, gen.DeleteTeamMemberJSONRequestBody{TeamId: team, MemberEmail: otherMail}); r.JSON200 == nil {
		t.Errorf("remove member: %d %s", r.StatusCode(), r.Body)
	}
	if r, _ := owner.DeleteTeamMemberWithResponse(ctx, gen.DeleteTeamMemberJSONRequestBody{TeamId: team, MemberEmail: otherMail}); r.JSON400 == nil {
		t.Errorf("remove a non-member: %d %s", r.StatusCode(), r.Body)
	}
	if r, _ := owner.DeleteTeamWithResponse(ctx, team); r.JSON200 == nil {
		t.Errorf("delete team: %d %s", r.StatusCode(), r.Body)
	}
	if r, _ := owner.DeleteTeamWithResponse(ctx, team); r.JSON404 == nil {
		t.Errorf("delete a deleted team: %d %s", r.StatusCode(), r.Body)
	}
	// Bodies the spec refuses.
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/team", `{"team_name":"x"}`},
		{"POST", "/teams/member", `{"team_id":"x","member_email":"a@b","member_role":"owner"}`},
		{"DELETE", "/teams/member", `{}`},
		{"POST", "/redis/move-to-team", `{"team_id":"x"}`},
	} {
		if status, body := s.raw(t, tc.method, tc.path, tc.body, testEmail, testKey); status != 400 {
			t.Errorf("%s %s %s: %d %s", tc.method, tc.path, tc.body, status, body)
		}
	}
	if status, _ := s.raw(t, "GET", "/teams/"+team, "", testEmail, testKey); status != 404 {
		t.Errorf("members of a deleted team: %d", status)
	}
}

// TestChangePlanOlderPath: POST /redis/change-plan/{id}, the path Upstash's
// CLI 1.0.2 calls with {"plan": ...}, changes the plan as the current path
// does; plan_name is taken too; the CLI's pro and paid, which name no size,
// are refused and change nothing.
func TestChangePlanOlderPath(t *testing.T) {
	s := startServer(t)
	cl := s.client(t, testEmail, testKey)
	ctx := t.Context()
	id := createDatabase(t, cl, "older-path").DatabaseId
	get := func() gen.Database {
		t.Helper()
		g, err := cl.GetDatabaseWithResponse(ctx, id, nil)
		if err != nil || g.JSON200 == nil {
			t.Fatalf("get: %v", err)
		}
		return *g.JSON200
	}
	//lint:ignore SA1019 changePlanLegacy is deprecated in the spec and still served: its contract is tested
	type legacyBody = gen.ChangePlanLegacyJSONRequestBody
	for _, step := range []struct {
		name string
		body legacyBody
		want func(gen.Database) bool
	}{
		{"plan free, as the CLI sends it", legacyBody{Plan: ptr("free")},
			func(d gen.Database) bool { return *d.Type == "free" }},
		{"plan payg, as the CLI sends it", legacyBody{Plan: ptr("payg")},
			func(d gen.Database) bool { return *d.Type == "payg" }},
		{"plan_name, as upstream's spec had it", legacyBody{PlanName: ptr(gen.Fixed1gb), AutoUpgrade: ptr(true), ProdPackEnabled: ptr(true)},
			func(d gen.Database) bool {
				return *d.Type == "paid" && *d.DbMemoryThreshold == 1<<30 && *d.AutoUpgrade && *d.ProdPackEnabled
			}},
	} {
		r, err := cl.ChangePlanLegacyWithResponse(ctx, id, step.body)
		if err != nil || r.StatusCode() != 200 || strings.TrimSpace(string(r.Body)) != `"OK"` {
			t.Fatalf("%s: %v %d %s", step.name, err, r.StatusCode(), r.Body)
		}
		if !step.want(get()) {
			d := get()
			t.Errorf("%s: GET shows type %s, memory %d, auto upgrade %t, prod pack %t", step.name, *d.Type, *d.DbMemoryThreshold, *d.AutoUpgrade, *d.ProdPackEnabled)
		}
	}
	// The CLI's pro and paid name no size; bodies naming no plan or two.
	for _, tc := range []struct{ body, text string }{
		{`{"plan":"pro"}`, "names no size"},
		{`{"plan":"paid"}`, "names no size"},
		{`{"plan":"platinum"}`, "plan"},
		{`{}`, "plan_name is required"},
		{`{"plan":"free","plan_name":"payg"}`, "not both"},
		{`{"plan_name":"pro"}`, "plan_name"},
	} {
		status, body := s.raw(t, "POST", "/redis/change-plan/"+id, tc.body, testEmail, testKey)
		if status != 400 || !strings.Contains(errorText(t, body), tc.text) {
			t.Errorf("%s: %d %s, want 400 with %q", tc.body, status, body, tc.text)
		}
	}
	if d := get(); *d.Type != "paid" || *d.DbMemoryThreshold != 1<<30 {
		t.Errorf("refused requests changed the plan: type %s, memory %d", *d.Type, *d.DbMemoryThreshold)
	}
	theirs := createDatabase(t, s.client(t, otherMail, otherKey), "theirs")
	for _, target := range []string{"no-such-id", theirs.DatabaseId} {
		if status, body := s.raw(t, "POST", "/redis/change-plan/"+target, `{"plan":"free"}`, testEmail, testKey); status != 404 {
			t.Errorf("change-plan of %s: %d %s, want 404", target, status, body)
		}
	}
}

// TestUpdateAllowlist: update-allowlist, which Upstash's Terraform provider
// calls for ip_allowlist, stores the list as sent and GET shows it as
// allowed_ip_ranges; null empties it; an entry that is not a CIDR or an
// address is refused, named, and changes nothing.
func TestUpdateAllowlist(t *testing.T) {
	s := startServer(t)
	cl := s.client(t, testEmail, testKey)
	ctx := t.Context()
	id := createDatabase(t, cl, "allowlist").DatabaseId
	shown := func() []string {
		t.Helper()
		g, err := cl.GetDatabaseWithResponse(ctx, id, nil)
		if err != nil || g.JSON200 == nil || g.JSON200.AllowedIpRanges == nil {
			t.Fatalf("get: %v", err)
		}
		return *g.JSON200.AllowedIpRanges
	}
	if got := shown(); len(got) != 0 {
		t.Errorf("a new database's allowlist is %q, want empty", got)
	}
	list := []string{"10.0.0.0/8", "2001:db8::/32", "192.0.2.7", "203.0.113.9/24"}
	r, err := cl.UpdateAllowlistWithResponse(ctx, id, gen.UpdateAllowlistJSONRequestBody{AllowedIps: list})
	if err != nil || r.StatusCode() != 200 || strings.TrimSpace(string(r.Body)) != `"OK"` {
		t.Fatalf("update-allowlist: %v %d %s", err, r.StatusCode(), r.Body)
	}
	if got := shown(); !slices.Equal(got, list) {
		t.Errorf("allowed_ip_ranges = %q, want %q as sent", got, list)
	}
	for _, tc := range []struct{ body, text string }{
		{`{"allowed_ips":["10.0.0.0/8","10.0.0.0/33"]}`, `"10.0.0.0/33"`},
		{`{"allowed_ips":["example.com"]}`, `"example.com"`},
		{`{"allowed_ips":[""]}`, `""`},
		{`{"allowed_ips":"10.0.0.0/8"}`, "allowed_ips"},
		{`{"allowed_ips":["` + strings.Repeat("1", 65) + `"]}`, "allowed_ips"},
		{`{"allowed_ips":[` + strings.TrimSuffix(strings.Repeat(`"10.0.0.1",`, 257), ",") + `]}`, "allowed_ips"},
		{`{}`, "allowed_ips"},
	} {
		status, body := s.raw(t, "POST", "/redis/update-allowlist/"+id, tc.body, testEmail, testKey)
		if status != 400 || !strings.Contains(errorText(t, body), tc.text) {
			t.Errorf("%.60s: %d %s, want 400 naming %s", tc.body, status, body, tc.text)
		}
	}
	if got := shown(); !slices.Equal(got, list) {
		t.Errorf("refused requests changed the allowlist to %q", got)
	}
	if status, body := s.raw(t, "POST", "/redis/update-allowlist/"+id, `{"allowed_ips":null}`, testEmail, testKey); status != 200 {
		t.Errorf("allowed_ips null: %d %s", status, body)
	}
	if got := shown(); len(got) != 0 {
		t.Errorf("after null the allowlist is %q, want empty", got)
	}
	theirs := createDatabase(t, s.client(t, otherMail, otherKey), "theirs")
	for _, target := range []string{"no-such-id", theirs.DatabaseId} {
		if status, body := s.raw(t, "POST", "/redis/update-allowlist/"+target, `{"allowed_ips":[]}`, testEmail, testKey); status != 404 {
			t.Errorf("update-allowlist of %s: %d %s, want 404", target, status, body)
		}
	}
}

func TestDatabaseStats(t *testing.T) {
	s := startServer(t)
	cl := s.client(t, testEmail, testKey)
	ctx := t.Context()
	resp, err := cl.CreateDatabaseWithResponse(ctx, gen.CreateDatabaseJSONRequestBody{
		DatabaseName: ptr("stats"), PrimaryRegion: ptr(gen.CreateDatabaseRequestPrimaryRegionUsEast1), Tls: ptr(false),
	})
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("create: %v", err)
	}
	db := *resp.JSON200
	rc := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("%s:%d", db.Endpoint, db.Port), Password: *db.Password})
	defer func() { _ = rc.Close() }()
	if err := s.server.SampleStats(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := rc.Set(ctx, fmt.Sprint("k", i), "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.server.SampleStats(ctx); err != nil {
		t.Fatal(err)
	}
	for _, period := range []*gen.GetDatabaseStatsParams{nil, {Period: ptr(gen.N7d)}} {
		st, err := cl.GetDatabaseStatsWithResponse(ctx, db.DatabaseId, period)
		if err != nil || st.JSON200 == nil {
			t.Fatalf("stats: %v %s", err, st.Body)
		}
		got := st.JSON200
		if len(*got.Keyspace) != 2 || (*got.Keyspace)[0].Y != 0 || (*got.Keyspace)[1].Y != 5 {
			t.Errorf("keyspace %+v, want 0 then 5", *got.Keyspace)
		}
		if len(*got.ConnectionCount) != 2 || (*got.ConnectionCount)[1].Y < 1 {
			t.Errorf("connection_count %+v, want the open client counted", *got.ConnectionCount)
		}
		if *got.DailyNetCommands < 5 || *got.TotalMonthlyRequests != *got.DailyNetCommands || len(*got.Throughput) != 1 {
			t.Errorf("commands: daily %d, total %d, throughput %v", *got.DailyNetCommands, *got.TotalMonthlyRequests, *got.Throughput)
		}
		if got.CurrentStorage != nil || got.DailyReadRequests != nil || got.TotalMonthlyBilling != nil {
			t.Errorf("stats report numbers devapi does not measure: %s", st.Body)
		}
		checkEveryUpstreamSeries(t, st.Body)
	}
	if status, body := s.raw(t, "GET", "/redis/stats/"+db.DatabaseId+"?period=2w", "", testEmail, testKey); status != 400 {
		t.Errorf("period=2w: %d %s", status, body)
	}
	for _, id := range []string{"no-such-id", createDatabase(t, s.client(t, otherMail, otherKey), "theirs").DatabaseId} {
		if status, body := s.raw(t, "GET", "/redis/stats/"+id, "", testEmail, testKey); status != 404 {
			t.Errorf("stats of %s: %d %s", id, status, body)
		}
	}
}

// measuredSeries are the stats lists devapi fills; every other list of
// Upstash's stats answer is there and empty.
var measuredSeries = map[string]bool{"connection_count": true, "keyspace": true, "throughput": true}

// checkEveryUpstreamSeries checks that a stats answer carries every list
// Upstash's DatabaseStats has (Upstash's MCP server fails with "Invalid
// stat_type provided" on a missing one, e.g. diskusage or
// read_latency_mean), each a JSON array, empty where devapi measures nothing.
func checkEveryUpstreamSeries(tb testing.TB, body []byte) {
	tb.Helper()
	var got map[string]json.RawMessage
	if err := json.Unmarshal(body, &got); err != nil {
		tb.Fatalf("stats: %v", err)
	}
	up := componentSchema(loadSpecFile(tb, upstreamSpecFile), "DatabaseStats")
	if up == nil {
		tb.Fatal("upstream spec has no DatabaseStats")
	}
	lists := 0
	for name, prop := range up.Properties {
		if prop.Value == nil || !prop.Value.Type.Is("array") {
			continue
		}
		lists++
		var list []json.RawMessage
		if raw, ok := got[name]; !ok {
			tb.Errorf("stats answer lacks %s", name)
		} else if err := json.Unmarshal(raw, &list); err != nil || list == nil {
			tb.Errorf("stats %s is %s, want a list", name, raw)
		} else if !measuredSeries[name] && len(list) != 0 {
			tb.Errorf("stats %s is %s, but devapi does not measure it", name, raw)
		}
	}
	if lists < 15 {
		tb.Errorf("upstream DatabaseStats has only %d lists", lists)
	}
}

func TestBackups(t *testing.T) {
	s := startServer(t)
	cl := s.client(t, testEmail, testKey)
	ctx := t.Context()
	resp, err := cl.CreateDatabaseWithResponse(ctx, gen.CreateDatabaseJSONRequestBody{
		DatabaseName: ptr("backed-up"), PrimaryRegion: ptr(gen.CreateDatabaseRequestPrimaryRegionUsEast1), Tls: ptr(false),
	})
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("create: %v", err)
	}
	db := *resp.JSON200
	rc := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("%s:%d", db.Endpoint, db.Port), Password: *db.Password})
	defer func() { _ = rc.Close() }()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(rc.Set(ctx, "s", "string", time.Hour).Err())
	must(rc.RPush(ctx, "l", "a", "b").Err())
	must(rc.HSet(ctx, "h", "f", "v").Err())
	must(rc.ZAdd(ctx, "z", redis.Z{Score: 1.5, Member: "m"}).Err())
	must(rc.SAdd(ctx, "set", "x").Err())
	must(rc.Set(ctx, "bin", "\x00\xff\xfe", 0).Err())

	if r, err := cl.CreateBackupWithResponse(ctx, db.DatabaseId, gen.CreateBackupJSONRequestBody{Name: "before"}); err != nil || r.JSON200 == nil {
		t.Fatalf("create backup: %v %s", err, r.Body)
	}
	list, err := cl.ListBackupWithResponse(ctx, db.DatabaseId)
	if err != nil || list.JSON200 == nil || len(*list.JSON200) != 1 {
		t.Fatalf("list: %v %s", err, list.Body)
	}
	backup := (*list.JSON200)[0]
	if backup.Name != "before" || backup.State != "completed" || *backup.DailyBackup != "false" || *backup.BackupSize <= 0 {
		t.Errorf("backup %+v", backup)
	}

	must(rc.FlushAll(ctx).Err())
	must(rc.Set(ctx, "later", "x", 0).Err())
	if r, err := cl.RestoreBackupWithResponse(ctx, db.DatabaseId, gen.RestoreBackupJSONRequestBody{BackupId: backup.BackupId}); err != nil || r.JSON200 == nil {
		t.Fatalf("restore: %v %s", err, r.Body)
	}
	if v := rc.Get(ctx, "s").Val(); v != "string" {
		t.Errorf("string after restore: %q", v)
	}
	if ttl := rc.TTL(ctx, "s").Val(); ttl <= 0 || ttl > time.Hour {
		t.Errorf("TTL after restore: %v", ttl)
	}
	if v := rc.LRange(ctx, "l", 0, -1).Val(); !slices.Equal(v, []string{"a", "b"}) {
		t.Errorf("list after restore: %v", v)
	}
	if v := rc.HGet(ctx, "h", "f").Val(); v != "v" {
		t.Errorf("hash after restore: %q", v)
	}
	if v := rc.ZScore(ctx, "z", "m").Val(); v != 1.5 {
		t.Errorf("zset after restore: %v", v)
	}
	if v := rc.Get(ctx, "bin").Val(); v != "\x00\xff\xfe" {
		t.Errorf("binary value after restore: %q", v)
	}
	if !rc.SIsMember(ctx, "set", "x").Val() || rc.Exists(ctx, "later").Val() != 0 {
		t.Errorf("set or later key wrong after restore")
	}

	// Errors: unknown backup, another account's database.
	theirs := createDatabase(t, s.client(t, otherMail, otherKey), "theirs")
	for _, tc := range []struct {
		method, path, body string
		want               int
		text               string
	}{
		{"POST", "/redis/restore-backup/" + db.DatabaseId, `{"backup_id":"nope"}`, 404, "backup not found"},
		{"DELETE", "/redis/delete-backup/" + db.DatabaseId + "/nope", ``, 404, "backup not found"},
		{"POST", "/redis/restore-backup/" + theirs.DatabaseId, `{"backup_id":"` + backup.BackupId + `"}`, 404, "database not found"},
		{"GET", "/redis/list-backup/" + theirs.DatabaseId, ``, 404, "database not found"},
		{"POST", "/redis/create-backup/" + theirs.DatabaseId, `{"name":"x"}`, 404, "database not found"},
		{"DELETE", "/redis/delete-backup/" + theirs.DatabaseId + "/" + backup.BackupId, ``, 404, "database not found"},
		{"PATCH", "/redis/enable-dailybackup/no-such-id", ``, 404, "database not found"},
		{"PATCH", "/redis/disable-dailybackup/no-such-id", ``, 404, "database not found"},
		{"POST", "/redis/create-backup/" + db.DatabaseId, `{}`, 400, "name"},
		{"POST", "/redis/restore-backup/" + db.DatabaseId, `{}`, 400, "backup_id"},
	} {
		status, body := s.raw(t, tc.method, tc.path, tc.body, testEmail, testKey)
		if status != tc.want || !strings.Contains(string(body), tc.text) {
			t.Errorf("%s %s: %d %s, want %d %q", tc.method, tc.path, status, body, tc.want, tc.text)
		}
	}

	// Daily backups: a toggle, and the schedule takes one a day.
	if r, _ := cl.DisableDailyBackupWithResponse(ctx, db.DatabaseId); r.JSON400 == nil || !strings.Contains(string(r.Body), "already disabled") {
		t.Errorf("disable when off: %d %s", r.StatusCode(), r.Body)
	}
	if r, _ := cl.EnableDailyBackupWithResponse(ctx, db.DatabaseId); r.JSON200 == nil {
		t.Fatalf("enable daily: %d %s", r.StatusCode(), r.Body)
	}
	if r, _ := cl.EnableDailyBackupWithResponse(ctx, db.DatabaseId); r.JSON400 == nil || !strings.Contains(string(r.Body), "already enabled") {
		t.Errorf("enable when on: %d %s", r.StatusCode(), r.Body)
	}
	if g, _ := cl.GetDatabaseWithResponse(ctx, db.DatabaseId, nil); g.JSON200 == nil || !*g.JSON200.DailyBackupEnabled {
		t.Errorf("daily_backup_enabled not shown")
	}
	for range 2 {
		must(s.server.TakeDailyBackups(ctx))
	}
	list, _ = cl.ListBackupWithResponse(ctx, db.DatabaseId)
	if n := len(*list.JSON200); n != 2 || *(*list.JSON200)[1].DailyBackup != "true" {
		t.Errorf("after two daily runs: %d backups: %s", n, list.Body)
	}
	if r, _ := cl.DisableDailyBackupWithResponse(ctx, db.DatabaseId); r.JSON200 == nil {
		t.Errorf("disable daily: %d %s", r.StatusCode(), r.Body)
	}
	if r, err := cl.DeleteBackupWithResponse(ctx, db.DatabaseId, backup.BackupId); err != nil || r.JSON200 == nil {
		t.Errorf("delete backup: %v %s", err, r.Body)
	}
	if list, _ = cl.ListBackupWithResponse(ctx, db.DatabaseId); len(*list.JSON200) != 1 {
		t.Errorf("after delete: %s", list.Body)
	}
}

// TestEveryOperationRefusesWithoutCredentials sends every operation of
// openapi.yaml without credentials (401), and every operation that takes a
// body an oversized one (413), validating each answer.
func TestEveryOperationRefusesWithoutCredentials(t *testing.T) {
	s := startServer(t)
	doc, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	big := `{"name":"` + strings.Repeat("x", 2<<20) + `"}`
	n := 0
	for path, item := range doc.Paths.Map() {
		concrete := strings.NewReplacer("{id}", "some-id", "{backup_id}", "some-backup", "{team_id}", "some-team").Replace(path)
		for method, op := range item.Operations() {
			n++
			if status, body := s.raw(t, method, concrete, "", "", ""); status != 401 {
				t.Errorf("%s (%s %s) without credentials: %d %s", op.OperationID, method, concrete, status, body)
			}
			if op.RequestBody != nil {
				if status, body := s.raw(t, method, concrete, big, testEmail, testKey); status != 413 {
					t.Errorf("%s (%s %s) with a 2 MiB body: %d %.100s", op.OperationID, method, concrete, status, body)
				}
			}
		}
	}
	if n != 32 { // 26 Redis operations and 6 Teams operations
		t.Errorf("only %d operations in openapi.yaml", n)
	}
}

// TestTooManyRequests produces 429s on a real server through the generated
// client, validated against the spec like every answer: failed logins past
// the default budget (burst 20) answer 429 with Retry-After and
// {"error": ...}, and so does the right key meanwhile, on any operation. It
// also proves the validator refuses a 429 without Retry-After.
func TestTooManyRequests(t *testing.T) {
	s := startServer(t)
	ctx := t.Context()
	guesser := s.client(t, testEmail, "wrong-key-0123456789abcdef0123456789abcdef")
	var limited *gen.ListDatabasesResponse
	for i := 0; i < 100 && limited == nil; i++ {
		resp, err := guesser.ListDatabasesWithResponse(ctx)
		switch {
		case err != nil:
			t.Fatal(err)
		case resp.StatusCode() == http.StatusTooManyRequests:
			limited = resp
		case resp.StatusCode() != http.StatusUnauthorized:
			t.Fatalf("failed login %d: %d %s", i, resp.StatusCode(), resp.Body)
		}
	}
	if limited == nil {
		t.Fatal("100 failed logins never answered 429")
	}
	if limited.HTTPResponse.Header.Get("Retry-After") == "" || errorText(t, limited.Body) == "" {
		t.Errorf("429 without Retry-After or error text: %v %s", limited.HTTPResponse.Header, limited.Body)
	}
	owner := s.client(t, testEmail, testKey)
	create, err := owner.CreateDatabaseWithResponse(ctx, gen.CreateDatabaseJSONRequestBody{DatabaseName: ptr("x"), PrimaryRegion: ptr(gen.CreateDatabaseRequestPrimaryRegionUsEast1)})
	if err != nil || create.StatusCode() != http.StatusTooManyRequests {
		t.Fatalf("the right key while throttled: %v, %d %s", err, create.StatusCode(), create.Body)
	}

	c := newContract(t, "https://api.upstash.com/v2", false)
	req, err := http.NewRequest("GET", "https://api.upstash.com/v2/redis/databases", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("a@example.com", "k")
	body := []byte(`{"error":"rate limit exceeded: retry later"}`)
	if err := c.checkResponse(req, 429, http.Header{"Content-Type": {"application/json"}}, body, false); err == nil {
		t.Error("validator accepted a 429 without Retry-After")
	}
	if err := c.checkResponse(req, 429, http.Header{"Content-Type": {"application/json"}, "Retry-After": {"1"}}, body, false); err != nil {
		t.Errorf("validator refused a good 429: %v", err)
	}
}
