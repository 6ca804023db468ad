package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/devapi-dev/devapi/gen"
	"github.com/devapi-dev/devapi/internal/app"
	"github.com/devapi-dev/devapi/internal/redistest"
	"github.com/devapi-dev/devapi/server"
	"github.com/devapi-dev/devapi/sqlitestore"
)

// Accounts of a strictStack.
const (
	strictEmail = "strict@example.com"
	strictKey   = "strict-api-key-0123456789abcdef0123456789"
	memberEmail = "member@example.com"
	memberKey   = "member-api-key-0123456789abcdef0123456789"
)

// strictStack is a real devapi for the strict-input tests and the fuzz
// targets: the server's Handler over HTTP on 127.0.0.1, a SQLite store in a
// temporary folder, the embedded plane. Its account owns a database, a
// backup of it, and a team of which memberEmail is a dev.
type strictStack struct {
	url    string
	store  *sqlitestore.Store
	hc     *http.Client
	db     string // id of the account's database
	team   string // id of the account's team
	backup string // id of the database's backup
}

func newStrictStack(tb testing.TB) *strictStack {
	tb.Helper()
	lo, hi := redistest.Ports(tb, 100)
	a, err := app.Open(context.Background(), app.Config{
		Dir:   tb.TempDir(),
		Setup: app.Accounts("test", map[string]string{strictEmail: strictKey, memberEmail: memberKey}),
		Server: server.Config{
			Ports: server.PortRange{Min: lo, Max: hi},
			// The rate limits have tests of their own; here they would turn
			// most fuzz inputs into 429s, past the first second's burst.
			AuthFailures:    server.RateLimit{PerSecond: -1},
			AccountRequests: server.RateLimit{PerSecond: -1},
		},
		ManualJobs: true,
	})
	if err != nil {
		tb.Fatal(err)
	}
	a.Start()
	tb.Cleanup(func() { _ = a.Close() })
	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{}}
	tb.Cleanup(hc.CloseIdleConnections)
	s := &strictStack{url: a.APIURL() + "/v2", store: a.Store().(*sqlitestore.Store), hc: hc}

	var db gen.Database
	s.mustJSON(tb, "POST", "/redis/database", `{"database_name":"fixture","primary_region":"us-east-1"}`, &db)
	s.db = db.DatabaseId
	var team gen.Team
	s.mustJSON(tb, "POST", "/team", `{"team_name":"fixture","copy_cc":false}`, &team)
	s.team = team.TeamId
	s.mustJSON(tb, "POST", "/teams/member", fmt.Sprintf(`{"team_id":%q,"member_email":%q,"member_role":"dev"}`, s.team, memberEmail), nil)
	s.mustJSON(tb, "POST", "/redis/create-backup/"+s.db, `{"name":"fixture"}`, nil)
	var backups []gen.Backup
	s.mustJSON(tb, "GET", "/redis/list-backup/"+s.db, "", &backups)
	if len(backups) != 1 {
		tb.Fatalf("fixture backups: %+v", backups)
	}
	s.backup = backups[0].BackupId
	return s
}

// answer is one HTTP answer of a strictStack.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request with the stack account's credentials.
func (s *strictStack) do(tb testing.TB, method, path, body string) answer {
	tb.Helper()
	return s.doAs(tb, strictEmail, strictKey, method, path, []byte(body))
}

// doAs sends a request with the given credentials and reads the answer.
func (s *strictStack) doAs(tb testing.TB, email, key, method, path string, body []byte) answer {
	tb.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, s.url+path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	req.SetBasicAuth(email, key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	return readAnswer(tb, method+" "+path, resp)
}

// readAnswer reads and closes the answer to what.
func readAnswer(tb testing.TB, what string, resp *http.Response) answer {
	tb.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s: read the answer: %v", what, err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

// mustJSON sends a request that must answer 200 and decodes the answer into
// out, unless out is nil.
func (s *strictStack) mustJSON(tb testing.TB, method, path, body string, out any) {
	tb.Helper()
	a := s.do(tb, method, path, body)
	if a.status != http.StatusOK {
		tb.Fatalf("%s %s %.200s: %d %s", method, path, body, a.status, a.body)
	}
	if out != nil {
		if err := json.Unmarshal(a.body, out); err != nil {
			tb.Fatalf("%s %s: %v in %s", method, path, err, a.body)
		}
	}
}

// state is everything a management request can change, as the API shows it
// to the stack's account and to the member.
func (s *strictStack) state(tb testing.TB) string {
	tb.Helper()
	var b strings.Builder
	for _, path := range []string{"/redis/databases", "/teams", "/teams/" + s.team, "/redis/list-backup/" + s.db} {
		a := s.do(tb, "GET", path, "")
		fmt.Fprintf(&b, "%s: %d %s\n", path, a.status, a.body)
	}
	a := s.doAs(tb, memberEmail, memberKey, "GET", "/teams", nil)
	fmt.Fprintf(&b, "member's teams: %d %s\n", a.status, a.body)
	return b.String()
}

// errorText decodes an error answer of the business shape, a bare JSON
// string.
func errorText(tb testing.TB, a answer) string {
	tb.Helper()
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		tb.Errorf("Content-Type %q, want application/json", ct)
	}
	var msg string
	if err := json.Unmarshal(a.body, &msg); err != nil {
		tb.Errorf("error answer %s is not a JSON string: %v", a.body, err)
	}
	return msg
}

// TestStrictBodiesRefused sends bodies that issue 12 found accepted with 200:
// each is now a 400 with a JSON error that says what is wrong, and changes
// nothing.
func TestStrictBodiesRefused(t *testing.T) {
	s := newStrictStack(t)
	createDB := `{"database_name":"x","primary_region":"us-east-1"}`
	huge := strings.Repeat("a", 1<<20-64) // a 1 MiB name, just under the body cap
	for _, tc := range []struct {
		name, method, path, body, want string
	}{
		{"create: trailing garbage", "POST", "/redis/database", createDB + ` trailing`, "exactly one JSON document"},
		{"create: two documents", "POST", "/redis/database", createDB + createDB, "exactly one JSON document"},
		{"create: two documents on two lines", "POST", "/redis/database", createDB + "\n" + createDB, "exactly one JSON document"},
		{"create: trailing bracket", "POST", "/redis/database", createDB + `}`, "exactly one JSON document"},
		{"create: invalid UTF-8", "POST", "/redis/database", `{"database_name":"caf` + "\xe9" + `","primary_region":"us-east-1"}`, "not valid UTF-8"},
		{"create: NUL in name", "POST", "/redis/database", `{"database_name":"a\u0000b","primary_region":"us-east-1"}`, "database_name: must not contain control characters"},
		{"create: NUL in legacy name", "POST", "/redis/database", `{"name":"a\u0000","primary_region":"us-east-1"}`, "name: must not contain control characters"},
		{"create: 129 characters", "POST", "/redis/database", `{"database_name":"` + strings.Repeat("é", 129) + `","primary_region":"us-east-1"}`, "at most 128 characters"},
		{"create: 1 MiB name", "POST", "/redis/database", `{"database_name":"` + huge + `","primary_region":"us-east-1"}`, "at most 128 characters"},
		{"rename: trailing garbage", "POST", "/redis/rename/" + s.db, `{"name":"x"} trailing`, "exactly one JSON document"},
		{"rename: two documents", "POST", "/redis/rename/" + s.db, `{"name":"x"}{"name":"y"}`, "exactly one JSON document"},
		{"rename: invalid UTF-8", "POST", "/redis/rename/" + s.db, "{\"name\":\"\xff\xfe\"}", "not valid UTF-8"},
		{"rename: lone surrogate", "POST", "/redis/rename/" + s.db, `{"name":"\ud800"}`, "unpaired UTF-16 surrogate"},
		{"rename: reversed surrogates", "POST", "/redis/rename/" + s.db, `{"name":"\udc00\ud800"}`, "unpaired UTF-16 surrogate"},
		{"rename: NUL", "POST", "/redis/rename/" + s.db, `{"name":"\u0000"}`, "must not contain control characters"},
		{"rename: newline", "POST", "/redis/rename/" + s.db, `{"name":"a\nb"}`, "must not contain control characters"},
		{"rename: DEL", "POST", "/redis/rename/" + s.db, `{"name":"a\u007f"}`, "must not contain control characters"},
		{"rename: C1 control", "POST", "/redis/rename/" + s.db, `{"name":"a\u0085"}`, "must not contain control characters"},
		{"rename: 1 MiB name", "POST", "/redis/rename/" + s.db, `{"name":"` + huge + `"}`, "name: must be at most 128 characters long"},
		{"backup: NUL in name", "POST", "/redis/create-backup/" + s.db, `{"name":"b\u0000"}`, "must not contain control characters"},
		{"backup: 129 characters", "POST", "/redis/create-backup/" + s.db, `{"name":"` + strings.Repeat("b", 129) + `"}`, "at most 128 characters"},
		{"backup: two documents", "POST", "/redis/create-backup/" + s.db, `{"name":"b"} {"name":"c"}`, "exactly one JSON document"},
		{"team: NUL in name", "POST", "/team", `{"team_name":"t\u0000","copy_cc":false}`, "team_name: must not contain control characters"},
		{"team: 1 MiB name", "POST", "/team", `{"team_name":"` + huge + `","copy_cc":false}`, "at most 128 characters"},
		{"team: trailing garbage", "POST", "/team", `{"team_name":"t","copy_cc":false}garbage`, "exactly one JSON document"},
		{"add member: two documents", "POST", "/teams/member", fmt.Sprintf(`{"team_id":%q,"member_email":"x@example.com","member_role":"dev"}[]`, s.team), "exactly one JSON document"},
		{"remove member: trailing garbage", "DELETE", "/teams/member", fmt.Sprintf(`{"team_id":%q,"member_email":%q} x`, s.team, memberEmail), "exactly one JSON document"},
		{"move to team: invalid UTF-8", "POST", "/redis/move-to-team", fmt.Sprintf("{\"team_id\":%q,\"database_id\":%q,\"x\":\"\xc0\"}", s.team, s.db), "not valid UTF-8"},
		{"create: a name field in capitals", "POST", "/redis/database", `{"DATABASE_NAME":"x\u0000y","primary_region":"us-east-1"}`, `"DATABASE_NAME" is not a field: did you mean "database_name"?`},
		{"create: a name field with a long s", "POST", "/redis/database", `{"databa\u017fe_name":"` + huge + `","primary_region":"us-east-1"}`, `did you mean "database_name"?`},
		{"rename: a second name field in capitals", "POST", "/redis/rename/" + s.db, `{"name":"ok","Name":"` + huge + `"}`, `"Name" is not a field`},
		{"team: a second name field in capitals", "POST", "/team", `{"team_name":"ok","TEAM_NAME":"a\u0000b","copy_cc":false}`, `did you mean "team_name"?`},
		{"budget: trailing number", "PATCH", "/redis/update-budget/" + s.db, `{"budget":10} 11`, "exactly one JSON document"},
		{"restore: trailing garbage", "POST", "/redis/restore-backup/" + s.db, fmt.Sprintf(`{"backup_id":%q}?`, s.backup), "exactly one JSON document"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := s.state(t)
			a := s.do(t, tc.method, tc.path, tc.body)
			if a.status != http.StatusBadRequest {
				t.Fatalf("%d %.300s, want 400", a.status, a.body)
			}
			if msg := errorText(t, a); !strings.Contains(msg, tc.want) {
				t.Errorf("error %q, want it to say %q", msg, tc.want)
			}
			if after := s.state(t); after != before {
				t.Errorf("a refused request changed the state:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// TestStrictBodiesAccepted: the limits refuse no more than they say. Names
// count runes, so 128 characters of any script pass, four-byte ones
// included; white space around the one document is fine; an escaped
// surrogate pair is a character.
func TestStrictBodiesAccepted(t *testing.T) {
	s := newStrictStack(t)
	for _, tc := range []struct {
		name, body, want string
	}{
		{"128 ASCII characters", `{"name":"` + strings.Repeat("a", 128) + `"}`, strings.Repeat("a", 128)},
		{"128 two-byte characters", `{"name":"` + strings.Repeat("é", 128) + `"}`, strings.Repeat("é", 128)},
		{"128 four-byte characters", `{"name":"` + strings.Repeat("😀", 128) + `"}`, strings.Repeat("😀", 128)},
		{"escaped surrogate pair", `{"name":"smile \ud83d\ude00"}`, "smile 😀"},
		{"escaped backslash before u", `{"name":"a\\ud800"}`, `a\ud800`},
		{"white space around", " \r\n\t{\"name\":\"spaced\"}\n\n", "spaced"},
		{"spaces inside", `{"name":"a b c"}`, "a b c"},
		{"an unknown field", `{"name":"extra","names":["x"],"nom":1}`, "extra"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got gen.Database
			s.mustJSON(t, "POST", "/redis/rename/"+s.db, tc.body, &got)
			if got.DatabaseName != tc.want {
				t.Errorf("renamed to %q, want %q", got.DatabaseName, tc.want)
			}
		})
	}
}
