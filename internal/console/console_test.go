package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/devapi-dev/devapi/internal/console"
)

func TestSignInAndOut(t *testing.T) {
	st := newStack(t, nil)
	b := st.browser(t)
	if p := b.get("/databases"); p.url != "/signin" {
		t.Fatalf("signed out, /databases landed on %s, want /signin", p.url)
	}
	token := b.signIn(st.email, st.apiKey)
	p := b.get("/databases")
	if p.status != http.StatusOK || !strings.Contains(p.body, st.email) {
		t.Fatalf("signed in, /databases: %d %s", p.status, excerpt(p.body))
	}
	session := sessionCookie(t, b)

	p = b.post("/signout", url.Values{"csrf": {token}})
	if p.status != http.StatusOK || !strings.Contains(p.body, "You are signed out") {
		t.Fatalf("sign-out: %d %s", p.status, excerpt(p.body))
	}
	if p := b.get("/databases"); p.url != "/signin" {
		t.Fatalf("after sign-out, /databases landed on %s", p.url)
	}
	// The session ended on the server, not only in the browser.
	replay := st.browser(t)
	replay.hc.Jar.SetCookies(mustURL(t, st.url), []*http.Cookie{session})
	if p := replay.get("/databases"); p.url != "/signin" {
		t.Fatalf("the signed-out session's cookie still opens /databases (%s)", p.url)
	}
}

func TestSignInRefused(t *testing.T) {
	st := newStack(t, nil)
	b := st.browser(t)
	form := b.get("/signin")
	p := b.post("/signin", url.Values{"csrf": {csrf(t, form)}, "email": {st.email}, "api_key": {"wrong-key-0123456789abcdef0123456789"}})
	if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "refused") {
		t.Fatalf("wrong key: %d %s", p.status, excerpt(p.body))
	}
	if p := b.get("/databases"); p.url != "/signin" {
		t.Fatalf("a refused sign-in opened a session")
	}
}

func TestCSRF(t *testing.T) {
	st := newStack(t, nil)
	b := st.browser(t)
	token := b.signIn(st.email, st.apiKey)
	other := st.browser(t)
	otherToken := other.signIn(st.email, st.apiKey)
	if otherToken == token {
		t.Fatal("two sessions share a CSRF token")
	}
	create := func(tok string) page {
		form := url.Values{"name": {"csrf-db"}, "region": {"us-east-1"}, "tls": {"on"}}
		if tok != "" {
			form.Set("csrf", tok)
		}
		return b.post("/databases", form)
	}
	for name, tok := range map[string]string{"none": "", "wrong": strings.Repeat("ab", 32), "another session's": otherToken} {
		if p := create(tok); p.status != http.StatusForbidden {
			t.Errorf("%s CSRF token: %d, want 403", name, p.status)
		}
	}
	if dbs, err := st.client.ListDatabases(t.Context()); err != nil || len(dbs) != 0 {
		t.Fatalf("after refused forms the account has %d databases (%v), want 0", len(dbs), err)
	}
	if p := create(token); p.status != http.StatusOK || !strings.Contains(p.body, "created") {
		t.Fatalf("with the session's token: %d %s", p.status, excerpt(p.body))
	}
	// Every state-changing route checks the token, before it calls the API.
	db := st.database(t, "guarded")
	team, err := st.client.CreateTeam(t.Context(), "guarded", false)
	if err != nil {
		t.Fatal(err)
	}
	d := "/databases/" + db.ID
	for _, path := range []string{
		"/databases", d + "/rename", d + "/delete", d + "/reset-password", d + "/settings", d + "/plan", d + "/budget",
		d + "/team", d + "/backups", d + "/backups/x/restore", d + "/backups/x/delete", d + "/backups/daily",
		d + "/data/command", d + "/data/add", d + "/key", "/teams", "/teams/" + team.ID + "/members",
		"/teams/" + team.ID + "/members/remove", "/teams/" + team.ID + "/delete", "/signout",
	} {
		if p := b.post(path, url.Values{"csrf": {otherToken}, "name": {"x"}, "confirm": {"guarded"}}); p.status != http.StatusForbidden {
			t.Errorf("POST %s with another session's token: %d, want 403", path, p.status)
		}
	}
	if after, err := st.client.GetDatabase(t.Context(), db.ID, false); err != nil || after.Password != db.Password || after.Name != "guarded" {
		t.Fatalf("refused forms changed the database: %v", err)
	}

	// Sign-out is state-changing too.
	if p := b.post("/signout", nil); p.status != http.StatusForbidden {
		t.Errorf("sign-out without a token: %d, want 403", p.status)
	}
	// The sign-in form carries a token of its own, matched by a cookie.
	fresh := st.browser(t)
	p := fresh.post("/signin", url.Values{"csrf": {strings.Repeat("cd", 32)}, "email": {st.email}, "api_key": {st.apiKey}})
	if p.status != http.StatusForbidden {
		t.Errorf("sign-in without its form's token: %d, want 403", p.status)
	}
}

func TestCrossAccount(t *testing.T) {
	st := newStack(t, nil)
	db := st.database(t, "alices-db")
	email := "bob@console.test"
	key := st.newAccount(t, email)
	bob := st.browser(t)
	token := bob.signIn(email, key)
	if p := bob.get("/databases"); strings.Contains(p.body, "alices-db") || strings.Contains(p.body, db.ID) {
		t.Error("another account's database is listed")
	}
	for _, path := range []string{"", "data", "stats", "backups", "key?key=k", "reset-password"} {
		p := bob.get("/databases/" + db.ID + "/" + path)
		if path == "" {
			p = bob.get("/databases/" + db.ID)
		}
		if p.status != http.StatusNotFound || strings.Contains(p.body, db.Password) || strings.Contains(p.body, db.RestToken) {
			t.Errorf("GET %s of another account's database: %d", path, p.status)
		}
	}
	for _, path := range []string{"reset-password", "delete", "rename"} {
		bob.post("/databases/"+db.ID+"/"+path, url.Values{"csrf": {token}, "confirm": {"alices-db"}, "name": {"taken"}})
	}
	bob.post("/databases/"+db.ID+"/data/add", url.Values{"csrf": {token}, "type": {"string"}, "key": {"k"}, "value": {"v"}})
	team, err := st.client.CreateTeam(t.Context(), "alices-team", false)
	if err != nil {
		t.Fatal(err)
	}
	if p := bob.get("/teams"); strings.Contains(p.body, "alices-team") {
		t.Error("another account's team is listed")
	}
	if p := bob.get("/teams/" + team.ID); p.status != http.StatusNotFound {
		t.Errorf("another account's team page: %d", p.status)
	}
	bob.post("/teams/"+team.ID+"/members", url.Values{"csrf": {token}, "email": {email}, "role": {"admin"}})
	if members, err := st.client.TeamMembers(t.Context(), team.ID); err != nil || len(members) != 1 {
		t.Errorf("another account's form changed the team's members: %v %v", members, err)
	}
	after, err := st.client.GetDatabase(t.Context(), db.ID, false)
	if err != nil {
		t.Fatalf("the database is gone after another account's forms: %v", err)
	}
	if after.Name != "alices-db" || after.Password != db.Password {
		t.Errorf("another account's forms changed the database: name %q, password changed %v", after.Name, after.Password != db.Password)
	}
	if v := restGet(t, st.restURL, db.RestToken, "k"); v != nil {
		t.Errorf("another account's data form wrote key k: %v", v)
	}
}

func TestSignInLinkOnce(t *testing.T) {
	st := newStack(t, nil)
	link := st.console.SignInLink(st.email, st.apiKey)
	if !strings.HasPrefix(link, "/signin/link?token=") {
		t.Fatalf("link %q", link)
	}
	b := st.browser(t)
	if p := b.get(link); p.status != http.StatusOK || p.url != "/databases" {
		t.Fatalf("first use: %d at %s", p.status, p.url)
	}
	again := st.browser(t)
	if p := again.get(link); p.status != http.StatusForbidden || p.url != "/signin/link" || !strings.Contains(p.body, "used already") {
		t.Fatalf("second use: %d at %s %s", p.status, p.url, excerpt(p.body))
	}
	if p := again.get("/databases"); p.url != "/signin" {
		t.Fatal("a used link signed a second browser in")
	}

	// A link opened in a signed-in browser replaces its session.
	first := sessionCookie(t, b)
	if p := b.get(st.console.SignInLink(st.email, st.apiKey)); p.url != "/databases" {
		t.Fatalf("second link in the same browser: %s", p.url)
	}
	if sessionCookie(t, b).Value == first.Value {
		t.Fatal("a new sign-in kept the session id")
	}
	replay := st.browser(t)
	replay.hc.Jar.SetCookies(mustURL(t, st.url), []*http.Cookie{first})
	if p := replay.get("/databases"); p.url != "/signin" {
		t.Fatal("the replaced session still works")
	}

	late := st.console.SignInLink(st.email, st.apiKey)
	st.clock.Advance(24*time.Hour + time.Second)
	if p := st.browser(t).get(late); p.status != http.StatusForbidden {
		t.Fatalf("expired link: %d, want 403", p.status)
	}
}

func TestSessionExpiry(t *testing.T) {
	st := newStack(t, func(c *console.Config) { c.SessionIdle = time.Hour; c.SessionLifetime = 3 * time.Hour })
	b := st.browser(t)
	b.signIn(st.email, st.apiKey)
	st.clock.Advance(59 * time.Minute)
	if p := b.get("/databases"); p.url != "/databases" {
		t.Fatal("the session ended before its idle time")
	}
	st.clock.Advance(time.Hour)
	if p := b.get("/databases"); p.url != "/signin" {
		t.Fatal("the session outlived its idle time")
	}

	b = st.browser(t)
	b.signIn(st.email, st.apiKey)
	for range 5 { // busy, never idle: 5 x 40 min passes the 3 h lifetime
		st.clock.Advance(40 * time.Minute)
		b.get("/databases")
	}
	if p := b.get("/databases"); p.url != "/signin" {
		t.Fatal("a busy session outlived its lifetime")
	}
}

func TestHeadersAndCookies(t *testing.T) {
	for _, secure := range []bool{false, true} {
		st := newStack(t, func(c *console.Config) { c.Secure = secure })
		b := st.browser(t)
		p := b.get("/signin")
		if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("Content-Security-Policy %q", csp)
		}
		if got := p.header.Get("X-Frame-Options"); got != "DENY" {
			t.Errorf("X-Frame-Options %q", got)
		}
		if got := p.header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("Cache-Control %q", got)
		}
		form := url.Values{"csrf": {csrf(t, p)}, "email": {st.email}, "api_key": {st.apiKey}}
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, st.url+"/signin", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, c := range b.hc.Jar.Cookies(mustURL(t, st.url)) {
			req.AddCookie(c)
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var found bool
		for _, c := range resp.Cookies() {
			if c.Name != "devapi_session" {
				continue
			}
			found = true
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure != secure || c.Path != "/" {
				t.Errorf("Secure=%v: session cookie %+v", secure, c)
			}
			if strings.Contains(c.Value, st.apiKey) {
				t.Error("the session cookie holds the API key")
			}
		}
		if !found {
			t.Errorf("Secure=%v: no session cookie set (%d)", secure, resp.StatusCode)
		}
	}
}

func TestBodyLimit(t *testing.T) {
	st := newStack(t, nil)
	b := st.browser(t)
	token := b.signIn(st.email, st.apiKey)
	p := b.post("/databases", url.Values{"csrf": {token}, "name": {strings.Repeat("x", 2<<20)}, "region": {"us-east-1"}})
	if p.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("a 2 MiB form: %d, want 413", p.status)
	}
	if dbs, _ := st.client.ListDatabases(t.Context()); len(dbs) != 0 {
		t.Fatal("an oversized form created a database")
	}
}

func TestAPIErrorShown(t *testing.T) {
	st := newStack(t, nil)
	b := st.browser(t)
	token := b.signIn(st.email, st.apiKey)
	p := b.post("/databases", url.Values{"csrf": {token}, "name": {""}, "region": {"us-east-1"}})
	if p.url != "/databases" || !strings.Contains(p.body, `class="flash error"`) || !strings.Contains(p.body, "The API answered 400") {
		t.Fatalf("a refused create: %d at %s %s", p.status, p.url, excerpt(p.body))
	}
	if p := b.get("/databases/no-such-id"); p.status != http.StatusNotFound || !strings.Contains(p.body, "The API answered 404") {
		t.Fatalf("unknown database: %d %s", p.status, excerpt(p.body))
	}
}

func mustURL(tb testing.TB, raw string) *url.URL {
	tb.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

func sessionCookie(tb testing.TB, b *browser) *http.Cookie {
	tb.Helper()
	for _, c := range b.hc.Jar.Cookies(mustURL(tb, b.base)) {
		if c.Name == "devapi_session" {
			return c
		}
	}
	tb.Fatal("no session cookie")
	return nil
}

func TestRevokedKeyEndsSession(t *testing.T) {
	// A session holds no power of its own: when its API key is deleted, the
	// API refuses the next page's call and the console ends the session.
	st := newStack(t, nil)
	b := st.browser(t)
	b.signIn(st.email, st.apiKey)
	keys, err := st.app.Store().APIKeys(t.Context(), st.email)
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys %v %v", keys, err)
	}
	if err := st.app.Store().DeleteAPIKey(t.Context(), st.email, keys[0].ID); err != nil {
		t.Fatal(err)
	}
	if p := b.get("/databases"); p.status != http.StatusUnauthorized || !strings.Contains(p.body, "sign in again") {
		t.Fatalf("after the key was deleted: %d %s", p.status, excerpt(p.body))
	}
	if p := b.get("/teams"); p.url != "/signin" {
		t.Fatalf("the session outlived its key: %s", p.url)
	}
}
