package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/gen"
	"github.com/devapi-dev/devapi/server"
)

// bodyOperation is an operation of the spec that takes a request body.
type bodyOperation struct {
	id, method, path string // path as in the spec, {id} and all
	route            *routers.Route
}

// bodyOperations lists the spec's operations that take a body, by
// operationId, so a fuzz input's operation number means the same operation
// from run to run.
func bodyOperations(tb testing.TB) []bodyOperation {
	tb.Helper()
	doc, err := server.Spec()
	if err != nil {
		tb.Fatal(err)
	}
	var ops []bodyOperation
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.RequestBody != nil {
				ops = append(ops, bodyOperation{id: op.OperationID, method: method, path: path,
					route: &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op}})
			}
		}
	}
	slices.SortFunc(ops, func(a, b bodyOperation) int { return strings.Compare(a.id, b.id) })
	if len(ops) == 0 {
		tb.Fatal("no operation of the spec takes a body")
	}
	return ops
}

// Placeholders a fuzz body may hold, replaced by the stack's fixtures, so
// seeds written once reach the handlers' success paths.
func (s *strictStack) expand(body []byte) []byte {
	r := strings.NewReplacer("$DB", s.db, "$TEAM", s.team, "$MEMBER", memberEmail, "$BACKUP", s.backup, "$ME", strictEmail)
	return []byte(r.Replace(string(body)))
}

// seedBodies are the seed corpus of FuzzManagementBodies, per operation: a
// body that succeeds, and the shapes issue 12 found taken.
var seedBodies = map[string][]string{
	"createDatabase": {
		`{"database_name":"fz","primary_region":"us-east-1","tls":true}`,
		`{"name":"fz","region":"global","primary_region":"us-central1","platform":"gcp","read_regions":[]}`,
		`{"database_name":"fz","primary_region":"eu-west-1","read_regions":["us-east-1"],"plan":"payg","budget":1e400}`,
		`{"database_name":"fz","primary_region":"us-east-1"} trailing`,
		`{"database_name":"a\u0000","primary_region":"us-east-1"}{}`,
	},
	"renameDatabase": {
		`{"name":"renamed"}`,
		`{"name":"ok","NAME":"a\u0000"}`,
		`{"Name":"b"}`,
		`{"name":"\ud83d\ude00 ok"}`,
		`{"name":"\ud800"}`,
		"{\"name\":\"\xff\"}",
		`{"name":null}`,
		`[{"name":"x"}]`,
	},
	"changePlan":       {`{"plan_name":"fixed_1gb","auto_upgrade":true}`, `{"plan_name":"payg","prod_pack_enabled":false}`, `{"plan":"free"}`},
	"changePlanLegacy": {`{"plan":"payg"}`, `{"plan":"pro"}`, `{"plan_name":"fixed_1gb","plan":"free"}`, `{}`},
	"updateBudget":     {`{"budget":100}`, `{"budget":-1}`, `{"budget":9223372036854775808}`, `{"budget":1.5}`},
	"updateRegions":    {`{"read_regions":["us-west-1","eu-west-1"]}`, `{"read_regions":null}`, `{"read_regions":["us-east-1"]}`, `{"read_regions":"x"}`},
	"updateAllowlist":  {`{"allowed_ips":["10.0.0.0/8","::1"]}`, `{"allowed_ips":null}`, `{"allowed_ips":["10.0.0.0/33"]}`, `{"allowed_ips":[1]}`},
	"moveToTeam":       {`{"team_id":"$TEAM","database_id":"$DB"}`, `{"team_id":"nope","database_id":"$DB"}`},
	"createTeam":       {`{"team_name":"fz","copy_cc":true}`, `{"team_name":"","copy_cc":false}`, `{"team_name":"fz"}`, `{"team_name":"fz","Team_Name":"\u0007","copy_cc":true}`},
	"addTeamMember": {
		`{"team_id":"$TEAM","member_email":"$MEMBER","member_role":"admin"}`,
		`{"team_id":"$TEAM","member_email":"$TEAM","member_role":"dev"}`,
		`{"team_id":"$TEAM","member_email":"nobody@example.com","member_role":"finance"}`,
		`{"team_id":"$TEAM","member_email":"$ME","member_role":"owner"}`,
	},
	"deleteTeamMember": {`{"team_id":"$TEAM","member_email":"$MEMBER"}`, `{"team_id":"$TEAM","member_email":"$ME"}`},
	"createBackup":     {`{"name":"fz"}`, `{"name":""}`, `{"name":"` + strings.Repeat("n", 129) + `"}`},
	"restoreBackup":    {`{"backup_id":"$BACKUP"}`, `{"backup_id":"missing"}`},
}

// FuzzManagementBodies sends request bodies to every operation that takes
// one, through the whole HTTP stack (real handler, SQLite store, embedded
// plane), as the stack's account. Whatever the body: no 5xx, only statuses
// the spec declares for the operation, a JSON body with Content-Type
// application/json that the spec's response schema accepts. Each fuzz
// worker process builds one stack; what an accepted request created is
// removed after it, so the stack stays small.
func FuzzManagementBodies(f *testing.F) {
	s := newStrictStack(f)
	ops := bodyOperations(f)
	for i, op := range ops {
		seeds, ok := seedBodies[op.id]
		if !ok {
			f.Fatalf("no seed body for %s: add some to seedBodies", op.id)
		}
		for _, body := range append(seeds, "", "{}", "null", `{"`, "\x00", "{}{}") {
			f.Add(uint8(i), []byte(body))
		}
	}
	f.Cleanup(func() {
		// tidy kept the fixtures, and only them.
		var dbs []gen.Database
		var teams []gen.Team
		var backups []gen.Backup
		s.mustJSON(f, "GET", "/redis/databases", "", &dbs)
		s.mustJSON(f, "GET", "/teams", "", &teams)
		s.mustJSON(f, "GET", "/redis/list-backup/"+s.db, "", &backups)
		if len(dbs) != 1 || len(teams) != 1 || len(backups) != 1 {
			f.Errorf("after fuzzing: %d databases, %d teams, %d backups; want the one fixture of each", len(dbs), len(teams), len(backups))
		}
	})
	f.Fuzz(func(t *testing.T, pick uint8, body []byte) {
		op := ops[int(pick)%len(ops)]
		path := strings.ReplaceAll(op.path, "{id}", s.db)
		a := s.doAs(t, strictEmail, strictKey, op.method, path, s.expand(body))
		checkAnswer(t, op, path, a)
		s.tidy(t, op.id, a)
	})
}

// responseOptions validate answers as the contract tests do.
var responseOptions = &openapi3filter.Options{
	IncludeResponseStatus: true,
	MultiError:            true,
	AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
}

// checkAnswer fails t unless a is an answer the spec allows for op.
func checkAnswer(t *testing.T, op bodyOperation, path string, a answer) {
	t.Helper()
	if a.status >= 500 {
		t.Fatalf("%s: %d %s", op.id, a.status, a.body)
	}
	if op.route.Operation.Responses.Status(a.status) == nil {
		t.Fatalf("%s: status %d is not declared: %s", op.id, a.status, a.body)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s: %d with Content-Type %q: %s", op.id, a.status, ct, a.body)
	}
	if !json.Valid(a.body) {
		t.Fatalf("%s: %d with a body that is not JSON: %q", op.id, a.status, a.body)
	}
	req, err := http.NewRequest(op.method, "http://devapi"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, Route: op.route, Options: responseOptions},
		Status:                 a.status,
		Header:                 a.header,
		Options:                responseOptions,
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in.SetBodyBytes(a.body)); err != nil {
		t.Fatalf("%s: %d %s: the spec refuses the answer: %v", op.id, a.status, a.body, err)
	}
	if a.status == http.StatusOK {
		var fields map[string]any
		if json.Unmarshal(a.body, &fields) == nil {
			checkNames(t, op.id, fields["database_name"], fields["team_name"])
		}
	}
}

// checkNames fails t unless every name is a string that the spec's name
// pattern accepts: what a request stored must obey the limits its body was
// checked against, whatever door it came in by.
func checkNames(t *testing.T, what string, names ...any) {
	t.Helper()
	for _, n := range names {
		if n == nil {
			continue
		}
		if name, ok := n.(string); !ok || !namePattern(t).MatchString(name) {
			t.Fatalf("%s: stored the name %.100q, which the spec's pattern %s refuses", what, n, namePattern(t))
		}
	}
}

// namePattern is the pattern openapi.yaml puts on every name a request sets.
func namePattern(tb testing.TB) *regexp.Regexp {
	tb.Helper()
	re, err := loadNamePattern()
	if err != nil {
		tb.Fatalf("the spec's name pattern: %v", err)
	}
	return re
}

var loadNamePattern = sync.OnceValues(func() (*regexp.Regexp, error) {
	doc, err := server.Spec()
	if err != nil {
		return nil, err
	}
	return regexp.Compile(doc.Components.Schemas["CreateTeamRequest"].Value.Properties["team_name"].Value.Pattern)
})

// tidy undoes what an accepted request changed that would let the stack
// grow or lose its fixtures: a created database, team or backup is deleted,
// a moved database comes back, a removed member is added again.
func (s *strictStack) tidy(t *testing.T, opID string, a answer) {
	t.Helper()
	if a.status != http.StatusOK {
		return
	}
	ctx := context.Background()
	switch opID {
	case "createDatabase":
		var d gen.Database
		if err := json.Unmarshal(a.body, &d); err != nil {
			t.Fatal(err)
		}
		s.mustJSON(t, "DELETE", "/redis/database/"+d.DatabaseId, "", nil)
	case "createTeam":
		var team gen.Team
		if err := json.Unmarshal(a.body, &team); err != nil {
			t.Fatal(err)
		}
		s.mustJSON(t, "DELETE", "/team/"+team.TeamId, "", nil)
	case "createBackup":
		var backups []gen.Backup
		s.mustJSON(t, "GET", "/redis/list-backup/"+s.db, "", &backups)
		for _, b := range backups {
			checkNames(t, "createBackup", b.Name)
			if b.BackupId != s.backup {
				s.mustJSON(t, "DELETE", "/redis/delete-backup/"+s.db+"/"+b.BackupId, "", nil)
			}
		}
	case "moveToTeam":
		if _, err := s.store.UpdateDatabase(ctx, s.team, s.db, func(d *devapi.Database) error {
			d.Owner = strictEmail
			return nil
		}); err != nil {
			t.Fatalf("move the database back: %v", err)
		}
	case "deleteTeamMember":
		if _, err := s.store.AddTeamMember(ctx, s.team, memberEmail, devapi.RoleDev); err != nil && devapi.ErrorCode(err) != devapi.ECONFLICT {
			t.Fatalf("add the member again: %v", err)
		}
	}
}

// FuzzBasicAuth sends any Authorization header to an operation through the
// whole HTTP stack: never a 5xx; 200 exactly when the header carries the
// account's email and key in HTTP Basic; otherwise 401 {"error":
// "Unauthorized"} with WWW-Authenticate.
func FuzzBasicAuth(f *testing.F) {
	s := newStrictStack(f)
	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	for _, h := range []string{
		basic(strictEmail, strictKey),
		"basic " + base64.StdEncoding.EncodeToString([]byte(strictEmail+":"+strictKey)),
		"  " + basic(strictEmail, strictKey) + "\t",
		basic(strictEmail, strictKey+"x"),
		basic(strictEmail, ""),
		basic("", strictKey),
		basic(strictEmail+":"+strictKey, ""),
		basic(strings.ToUpper(strictEmail), strictKey),
		"Basic " + base64.RawStdEncoding.EncodeToString([]byte(strictEmail+":"+strictKey)),
		"Basic " + base64.URLEncoding.EncodeToString([]byte(strictEmail+":"+strictKey+"?>")),
		"Basic", "Basic ", "Basic =", "Basic Og==", "Bearer " + strictKey, "",
		"Basic " + strings.Repeat("QUFB", 2000),
		"Basic " + base64.StdEncoding.EncodeToString([]byte("\x00:\xff")),
	} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, header string) {
		req, err := http.NewRequestWithContext(context.Background(), "GET", s.url+"/redis/databases", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", header)
		resp, err := s.hc.Do(req)
		if err != nil {
			if strings.Contains(err.Error(), "invalid header field value") {
				return // net/http sends no such header; no server sees one
			}
			t.Fatal(err)
		}
		a := readAnswer(t, "GET /redis/databases", resp)
		email, key, ok := basicCredentials(header)
		valid := ok && email == strictEmail && key == strictKey
		switch {
		case a.status == http.StatusOK && valid:
		case a.status == http.StatusUnauthorized && !valid:
			if a.header.Get("Content-Type") != "application/json" || strings.TrimSpace(string(a.body)) != `{"error":"Unauthorized"}` || a.header.Get("WWW-Authenticate") == "" {
				t.Fatalf("%q: 401 %v %s", header, a.header, a.body)
			}
		default:
			t.Fatalf("%q (credentials valid: %v): %d %s", header, valid, a.status, a.body)
		}
	})
}

// basicCredentials decodes an Authorization header as RFC 7617 has it, from
// the header as a server reads it (surrounding spaces and tabs dropped): the
// scheme "Basic" in any case, one space, standard base64 of user:password.
func basicCredentials(header string) (user, password string, ok bool) {
	header = strings.Trim(header, " \t")
	scheme, encoded, found := strings.Cut(header, " ")
	if !found || !asciiEqualFold(scheme, "basic") {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return "", "", false
	}
	return strings.Cut(string(raw), ":")
}

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
