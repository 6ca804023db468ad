package console_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/devapi-dev/devapi/server"
	"github.com/devapi-dev/devapi/upstash"
)

var dbLink = regexp.MustCompile(`/databases/([0-9a-f-]{36})`)

// createViaForm creates a database through the console's form and answers
// its id.
func createViaForm(t *testing.T, b *browser, token string, form url.Values) string {
	t.Helper()
	form.Set("csrf", token)
	if form.Get("region") == "" {
		form.Set("region", "us-east-1")
	}
	p := b.post("/databases", form)
	m := dbLink.FindStringSubmatch(p.url)
	if p.status != http.StatusOK || m == nil {
		t.Fatalf("create %s: %d at %s %s", form.Get("name"), p.status, p.url, excerpt(p.body))
	}
	return m[1]
}

func TestDatabasePages(t *testing.T) {
	st := newStack(t, nil)
	b := st.browser(t)
	token := b.signIn(st.email, st.apiKey)
	ctx := t.Context()
	get := func(id string) *upstash.Database {
		t.Helper()
		db, err := st.client.GetDatabase(ctx, id, false)
		if err != nil {
			t.Fatalf("GetDatabase: %v", err)
		}
		return db
	}

	id := createViaForm(t, b, token, url.Values{"name": {"orders"}, "tls": {"on"}, "eviction": {"on"}, "region": {"eu-west-1"}})
	if db := get(id); db.Name != "orders" || !db.TLS || !db.Eviction || db.PrimaryRegion != "eu-west-1" {
		t.Fatalf("created %+v", db)
	}
	p := b.get("/databases")
	if !strings.Contains(p.body, ">orders</a>") || !strings.Contains(p.body, "eu-west-1") {
		t.Error("the list lacks the database")
	}

	post := func(path string, form url.Values) page {
		t.Helper()
		form.Set("csrf", token)
		return b.post("/databases/"+id+path, form)
	}
	post("/rename", url.Values{"name": {"orders-eu"}})
	post("/settings", url.Values{"setting": {"disable-eviction"}})
	post("/settings", url.Values{"setting": {"enable-autoupgrade"}})
	post("/budget", url.Values{"budget": {"75"}})
	if db := get(id); db.Name != "orders-eu" || db.Eviction || !db.AutoUpgrade || db.Budget != 75 {
		t.Fatalf("after rename, settings and budget: %+v", db)
	}
	if p := post("/budget", url.Values{"budget": {"lots"}}); !strings.Contains(p.body, "whole number") {
		t.Errorf("a bad budget: %s", excerpt(p.body))
	}
	if p := post("/settings", url.Values{"setting": {"disable-eviction"}}); !strings.Contains(p.body, `class="flash error"`) {
		t.Errorf("disabling eviction twice shows no API error: %s", excerpt(p.body))
	}
	if p := post("/plan", url.Values{"plan": {"fixed_1gb"}}); strings.Contains(p.body, `class="flash error"`) {
		t.Errorf("change plan: %s", excerpt(p.body))
	}

	plain := createViaForm(t, b, token, url.Values{"name": {"plain"}})
	if get(plain).TLS {
		t.Fatal("created with TLS though the box was unchecked")
	}
	b.post("/databases/"+plain+"/settings", url.Values{"csrf": {token}, "setting": {"enable-tls"}})
	if !get(plain).TLS {
		t.Fatal("enable TLS did not")
	}

	// Reset: the confirmation says what stops working; then the new
	// credentials are on the page, unhidden.
	before := get(id)
	p = b.get("/databases/" + id + "/reset-password")
	for _, want := range []string{"old password stops working", "WRONGPASS", "UPSTASH_REDIS_REST_TOKEN", "read-only token"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the reset confirmation does not say %q", want)
		}
	}
	p = post("/reset-password", url.Values{})
	after := get(id)
	if after.Password == before.Password || after.RestToken == before.RestToken {
		t.Fatal("reset-password kept the credentials")
	}
	if !strings.Contains(p.body, `type="text" value="`+after.Password+`"`) || strings.Contains(p.body, before.Password) {
		t.Fatalf("after reset the page does not show the new password unhidden: %s", excerpt(p.body))
	}

	// Delete asks for the name.
	if p := post("/delete", url.Values{"confirm": {"orders"}}); !strings.Contains(p.body, "Not deleted") {
		t.Errorf("delete with the wrong name: %s", excerpt(p.body))
	}
	get(id)
	p = post("/delete", url.Values{"confirm": {"orders-eu"}})
	if p.url != "/databases" || !strings.Contains(p.body, "deleted") {
		t.Fatalf("delete: %d at %s %s", p.status, p.url, excerpt(p.body))
	}
	if _, err := st.client.GetDatabase(ctx, id, true); err == nil {
		t.Fatal("the database is still there")
	}
}

func TestTeamPages(t *testing.T) {
	st := newStack(t, nil)
	st.newAccount(t, "bob@console.test")
	b := st.browser(t)
	token := b.signIn(st.email, st.apiKey)

	p := b.post("/teams", url.Values{"csrf": {token}, "name": {"platform"}})
	if !strings.Contains(p.body, "<h1>Team platform</h1>") {
		t.Fatalf("create team: %d %s", p.status, excerpt(p.body))
	}
	teamPath := p.url
	teamID := teamPath[strings.LastIndex(teamPath, "/")+1:]
	p = b.post(teamPath+"/members", url.Values{"csrf": {token}, "email": {"bob@console.test"}, "role": {"dev"}})
	if !strings.Contains(p.body, "<td>bob@console.test</td><td>dev</td>") {
		t.Fatalf("add member: %s", excerpt(p.body))
	}
	p = b.post(teamPath+"/members/remove", url.Values{"csrf": {token}, "email": {"bob@console.test"}})
	if strings.Contains(p.body, "<td>bob@console.test</td>") {
		t.Fatalf("remove member: %s", excerpt(p.body))
	}

	id := createViaForm(t, b, token, url.Values{"name": {"shared"}})
	if p := b.get("/databases/" + id); !strings.Contains(p.body, `<option value="`+teamID+`">platform</option>`) {
		t.Fatal("the details page does not offer the team")
	}
	p = b.post("/databases/"+id+"/team", url.Values{"csrf": {token}, "team_id": {teamID}})
	if !strings.Contains(p.body, "moved to the team") || strings.Contains(p.body, ">shared</a>") {
		t.Fatalf("move: %s", excerpt(p.body))
	}
	if db, err := st.app.Store().Database(t.Context(), teamID, id); err != nil || db.Owner != teamID {
		t.Fatalf("after the move the store has %+v (%v), want the team %s as owner", db, err, teamID)
	}

	// A team that owns a database cannot go: the page shows the API's word.
	p = b.post(teamPath+"/delete", url.Values{"csrf": {token}})
	if !strings.Contains(p.body, "The API answered 400") || !strings.Contains(p.body, "still owns") {
		t.Fatalf("delete a team with a database: %s", excerpt(p.body))
	}
	p = b.post("/teams", url.Values{"csrf": {token}, "name": {"short-lived"}})
	p = b.post(p.url+"/delete", url.Values{"csrf": {token}})
	if p.url != "/teams" || !strings.Contains(p.body, "Team deleted.") || strings.Contains(p.body, "short-lived") {
		t.Fatalf("delete an empty team: %d at %s %s", p.status, p.url, excerpt(p.body))
	}
}

func TestNoSecretsInLogs(t *testing.T) {
	st := newStack(t, nil)
	link := st.console.SignInLink(st.email, st.apiKey)
	b := st.browser(t)
	if p := b.get(link); p.url != "/databases" {
		t.Fatalf("link sign-in landed at %s", p.url)
	}
	token := csrf(t, b.get("/databases"))
	id := createViaForm(t, b, token, url.Values{"name": {"logged"}})
	before, err := st.client.GetDatabase(t.Context(), id, false)
	if err != nil {
		t.Fatal(err)
	}
	b.post("/databases/"+id+"/data/add", url.Values{"csrf": {token}, "type": {"string"}, "key": {"k"}, "value": {"value-that-must-not-be-logged"}})
	b.post("/databases/"+id+"/reset-password", url.Values{"csrf": {token}})
	after, err := st.client.GetDatabase(t.Context(), id, false)
	if err != nil {
		t.Fatal(err)
	}
	log := st.log.String()
	if !strings.Contains(log, "/databases/"+id) {
		t.Fatal("the console logged no request")
	}
	secrets := map[string]string{
		"API key": st.apiKey, "link token": strings.TrimPrefix(link, "/signin/link?token="), "CSRF token": token,
		"old password": before.Password, "new password": after.Password, "REST token": after.RestToken,
		"value": "value-that-must-not-be-logged",
	}
	for name, s := range secrets {
		if strings.Contains(log, s) {
			t.Errorf("the log holds the %s", name)
		}
	}
}

func TestSignInThrottled(t *testing.T) {
	// Failed sign-ins through the console count against the API's own
	// throttle of failed logins: the console adds no way around it.
	st := newStackWith(t, stackOptions{server: func(c *server.Config) { c.AuthFailures = server.RateLimit{PerSecond: 0.001, Burst: 3} }})
	b := st.browser(t)
	var last page
	for range 5 {
		form := b.get("/signin")
		last = b.post("/signin", url.Values{"csrf": {csrf(t, form)}, "email": {st.email}, "api_key": {"not-the-key-0123456789abcdef0123456"}})
	}
	if !strings.Contains(last.body, "The API answered 429") {
		t.Fatalf("the fifth failed sign-in: %d %s", last.status, excerpt(last.body))
	}
}

func TestThrottlePerBrowserAddress(t *testing.T) {
	// The console passes each browser's address on to the API, whose
	// throttle of failed logins is per address: one address guessing keys
	// does not lock out another.
	st := newStackWith(t, stackOptions{server: func(c *server.Config) { c.AuthFailures = server.RateLimit{PerSecond: 0.001, Burst: 3} }})
	h := st.console.Handler()
	signIn := func(addr, email, key string) *httptest.ResponseRecorder {
		pre := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/signin", nil)
		pre.RemoteAddr = addr
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, pre)
		token := csrfField.FindStringSubmatch(rec.Body.String())[1]
		form := url.Values{"csrf": {token}, "email": {email}, "api_key": {key}}
		req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/signin", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.RemoteAddr = addr
		for _, c := range rec.Result().Cookies() {
			req.AddCookie(c)
		}
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	var last *httptest.ResponseRecorder
	for range 5 {
		// Another email: the API also throttles failures per email.
		last = signIn("192.0.2.1:40000", "guess@console.test", "not-the-key-0123456789abcdef0123456")
	}
	if !strings.Contains(last.Body.String(), "The API answered 429") {
		t.Fatalf("the guesser is not throttled: %d", last.Code)
	}
	if rec := signIn("192.0.2.2:40000", st.email, st.apiKey); rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/databases" {
		t.Fatalf("another address with the right key: %d %s", rec.Code, excerpt(rec.Body.String()))
	}
}

func TestTitles(t *testing.T) {
	st := newStack(t, nil)
	db := st.database(t, "shop")
	if err := st.client.CreateBackup(t.Context(), db.ID, "nightly"); err != nil {
		t.Fatal(err)
	}
	backups, err := st.client.ListBackups(t.Context(), db.ID)
	if err != nil || len(backups) != 1 {
		t.Fatalf("backups %v %v", backups, err)
	}
	team, err := st.client.CreateTeam(t.Context(), "ops", false)
	if err != nil {
		t.Fatal(err)
	}
	restSet(t, st.restURL, db.RestToken, "k", "v")
	b := st.browser(t)
	if p := b.get("/signin"); !strings.Contains(p.body, "<title>Sign in · devapi console</title>") {
		t.Error("the sign-in page has no title")
	}
	b.signIn(st.email, st.apiKey)
	d := "/databases/" + db.ID
	for path, title := range map[string]string{
		"/databases":     "Databases",
		d:                "Database shop",
		d + "/data":      "Data of shop",
		d + "/key?key=k": "Key k of shop",
		d + "/stats":     "Stats of shop",
		d + "/backups":   "Backups of shop",
		d + "/backups/" + backups[0].BackupID + "/restore": "Restore nightly into shop",
		d + "/reset-password":                              "Reset the password of shop",
		"/teams":                                           "Teams",
		"/teams/" + team.ID:                                "Team ops",
		"/no/such/page":                                    "Not Found",
	} {
		p := b.get(path)
		if want := "<title>" + title + " · devapi console</title>"; !strings.Contains(p.body, want) {
			t.Errorf("GET %s (%d): no %s", path, p.status, want)
		}
	}
}

func TestBackupPages(t *testing.T) {
	st := newStack(t, nil)
	b := st.browser(t)
	token := b.signIn(st.email, st.apiKey)
	id := createViaForm(t, b, token, url.Values{"name": {"kept"}})
	db, err := st.client.GetDatabase(t.Context(), id, false)
	if err != nil {
		t.Fatal(err)
	}
	base := "/databases/" + id + "/backups"
	post := func(path string, form url.Values) page {
		t.Helper()
		form.Set("csrf", token)
		p := b.post(base+path, form)
		if strings.Contains(p.body, `class="flash error"`) {
			t.Fatalf("POST %s: %s", path, excerpt(p.body))
		}
		return p
	}
	post("/daily", url.Values{"daily": {"on"}})
	if db, _ := st.client.GetDatabase(t.Context(), id, true); !db.DailyBackupEnabled {
		t.Fatal("daily backups not on")
	}
	post("/daily", url.Values{"daily": {"off"}})
	if db, _ := st.client.GetDatabase(t.Context(), id, true); db.DailyBackupEnabled {
		t.Fatal("daily backups not off")
	}

	restSet(t, st.restURL, db.RestToken, "k", "before")
	p := post("", url.Values{"name": {"first"}})
	if !strings.Contains(p.body, "<td>first</td>") {
		t.Fatalf("the list lacks the new backup: %s", excerpt(p.body))
	}
	list, err := st.client.ListBackups(t.Context(), id)
	if err != nil || len(list) != 1 {
		t.Fatalf("backups %v %v", list, err)
	}
	restSet(t, st.restURL, db.RestToken, "k", "after")
	confirm := b.get(base + "/" + list[0].BackupID + "/restore")
	if !strings.Contains(confirm.body, "replaces every key") {
		t.Fatalf("restore confirmation: %s", excerpt(confirm.body))
	}
	post("/"+list[0].BackupID+"/restore", url.Values{})
	if got := restGet(t, st.restURL, db.RestToken, "k"); got != "before" {
		t.Fatalf("after restore k = %v", got)
	}
	post("/"+list[0].BackupID+"/delete", url.Values{})
	if list, _ := st.client.ListBackups(t.Context(), id); len(list) != 0 {
		t.Fatalf("after delete: %v", list)
	}
	if p := b.get(base + "/no-such-backup/restore"); p.status != http.StatusNotFound {
		t.Errorf("restore page of an unknown backup: %d", p.status)
	}
}

func TestStatsPeriods(t *testing.T) {
	st := newStack(t, nil)
	db := st.database(t, "measured")
	for i := range 3 {
		restSet(t, st.restURL, db.RestToken, "k"+strconv.Itoa(i), "v")
		if err := st.app.Server().SampleStats(t.Context()); err != nil {
			t.Fatal(err)
		}
		st.apiClock.Advance(time.Minute)
	}
	b := st.browser(t)
	b.signIn(st.email, st.apiKey)
	for period, want := range map[string]string{"3h": "3h", "7d": "7d", "": "1h", "bogus": "1h"} {
		p := b.get("/databases/" + db.ID + "/stats?period=" + period)
		if !strings.Contains(p.body, `aria-current="page">`+want+`</a>`) {
			t.Errorf("period %q: %s is not the current one", period, want)
		}
		if strings.Count(p.body, `<polyline class="line" points="`) != 3 {
			t.Errorf("period %q: not three charts drawn", period)
		}
		if !strings.Contains(p.body, "Keyspace <span class=\"hint\">(keys): latest 3, max 3</span>") {
			t.Errorf("period %q: the keyspace chart does not end at 3 keys: %s", period, excerpt(p.body))
		}
	}
}
