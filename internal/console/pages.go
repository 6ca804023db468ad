package console

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/devapi-dev/devapi/upstash"
)

// routes registers every page. Paths never collide with the API's /v2 and
// /healthz, which the assembly serves first.
func (c *Console) routes() {
	m := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	m.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))

	m.HandleFunc("GET /signin", c.signInPage)
	m.HandleFunc("POST /signin", c.signIn)
	m.HandleFunc("GET /signin/link", c.signInLink)
	m.Handle("POST /signout", c.authed(c.signOut))

	m.Handle("GET /{$}", c.authed(func(w http.ResponseWriter, r *http.Request, _ *session) {
		http.Redirect(w, r, "/databases", http.StatusSeeOther)
	}))
	m.Handle("GET /databases", c.authed(c.databases))
	m.Handle("POST /databases", c.authed(c.createDatabase))
	m.Handle("GET /databases/{id}", c.authed(c.database))
	m.Handle("POST /databases/{id}/rename", c.authed(c.renameDatabase))
	m.Handle("POST /databases/{id}/delete", c.authed(c.deleteDatabase))
	m.Handle("GET /databases/{id}/reset-password", c.authed(c.resetPasswordPage))
	m.Handle("POST /databases/{id}/reset-password", c.authed(c.resetPassword))
	m.Handle("POST /databases/{id}/settings", c.authed(c.changeSetting))
	m.Handle("POST /databases/{id}/plan", c.authed(c.changePlan))
	m.Handle("POST /databases/{id}/budget", c.authed(c.updateBudget))
	m.Handle("POST /databases/{id}/team", c.authed(c.moveToTeam))

	m.Handle("GET /databases/{id}/backups", c.authed(c.backups))
	m.Handle("POST /databases/{id}/backups", c.authed(c.createBackup))
	m.Handle("GET /databases/{id}/backups/{backup}/restore", c.authed(c.restorePage))
	m.Handle("POST /databases/{id}/backups/{backup}/restore", c.authed(c.restoreBackup))
	m.Handle("POST /databases/{id}/backups/{backup}/delete", c.authed(c.deleteBackup))
	m.Handle("POST /databases/{id}/backups/daily", c.authed(c.dailyBackup))

	m.Handle("GET /databases/{id}/stats", c.authed(c.stats))

	m.Handle("GET /databases/{id}/data", c.authed(c.dataBrowser))
	m.Handle("POST /databases/{id}/data/command", c.authed(c.runCommand))
	m.Handle("POST /databases/{id}/data/add", c.authed(c.addKey))
	m.Handle("GET /databases/{id}/key", c.authed(c.keyPage))
	m.Handle("POST /databases/{id}/key", c.authed(c.editKey))

	m.Handle("GET /teams", c.authed(c.teams))
	m.Handle("POST /teams", c.authed(c.createTeam))
	m.Handle("GET /teams/{id}", c.authed(c.team))
	m.Handle("POST /teams/{id}/members", c.authed(c.addMember))
	m.Handle("POST /teams/{id}/members/remove", c.authed(c.removeMember))
	m.Handle("POST /teams/{id}/delete", c.authed(c.deleteTeam))

	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s, _ := c.session(r)
		c.fail(w, r, s, http.StatusNotFound, "There is no page here.")
	})
	c.mux = m
}

// newClient returns an API client acting as email with apiKey, calling the
// API's handler in process. Retries are off: the person sees each answer.
func (c *Console) newClient(email, apiKey string) (*upstash.Client, error) {
	hc := &http.Client{Transport: handlerTransport{h: c.cfg.API}, Timeout: apiTimeout}
	return upstash.New(email, apiKey, upstash.WithBaseURL("http://devapi-console.invalid"),
		upstash.WithHTTPClient(hc), upstash.WithRetries(0), upstash.WithUserAgent("devapi-console"))
}

// signInPage handles GET /signin: the form, with a CSRF token of its own in
// a cookie until a session exists.
func (c *Console) signInPage(w http.ResponseWriter, r *http.Request) {
	if s, _ := c.session(r); s != nil {
		http.Redirect(w, r, "/databases", http.StatusSeeOther)
		return
	}
	c.showSignIn(w, r, http.StatusOK, "")
}

func (c *Console) showSignIn(w http.ResponseWriter, r *http.Request, status int, msg string) {
	token := randomToken()
	c.setCookie(w, preCookie, token, 0)
	v := view{Title: "Sign in", CSRF: token}
	if msg != "" {
		v.Flash = &flash{Error: status >= 400, Text: msg}
	}
	c.render(w, r, status, "signin", v)
}

// signIn handles POST /signin: the email and API key are checked by calling
// the API with them; they open a session when it accepts them.
func (c *Console) signIn(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		c.formError(w, r, nil, err)
		return
	}
	pre, err := r.Cookie(preCookie)
	if err != nil || !tokensEqual(pre.Value, r.PostForm.Get("csrf")) {
		c.showSignIn(w, r, http.StatusForbidden, "The sign-in form is out of date (CSRF check failed): try again.")
		return
	}
	email, key := strings.TrimSpace(r.PostForm.Get("email")), strings.TrimSpace(r.PostForm.Get("api_key"))
	if email == "" || key == "" {
		c.showSignIn(w, r, http.StatusBadRequest, "Enter the account's email and an API key.")
		return
	}
	c.startSession(w, r, email, key)
}

// signInLink handles GET /signin/link?token=...: a one-time link opens a
// session once.
func (c *Console) signInLink(w http.ResponseWriter, r *http.Request) {
	l, ok := c.takeLink(r.URL.Query().Get("token"))
	if !ok {
		c.showSignIn(w, r, http.StatusForbidden, "This sign-in link was used already or has expired: sign in with an email and API key.")
		return
	}
	c.startSession(w, r, l.email, l.apiKey)
}

// startSession checks the credentials against the API and, when accepted,
// opens a session bound to that account.
func (c *Console) startSession(w http.ResponseWriter, r *http.Request, email, key string) {
	client, err := c.newClient(email, key)
	if err != nil {
		c.showSignIn(w, r, http.StatusBadRequest, "Enter the account's email and an API key.")
		return
	}
	ctx, cancel := context.WithTimeout(withRemoteAddr(r.Context(), r.RemoteAddr), apiTimeout)
	defer cancel()
	if _, err := client.ListTeams(ctx); err != nil {
		if errors.Is(err, upstash.ErrUnauthorized) {
			c.showSignIn(w, r, http.StatusUnauthorized, "The API refused this email and API key.")
			return
		}
		c.showSignIn(w, r, http.StatusBadGateway, c.apiMessage(r, err))
		return
	}
	if _, old := c.session(r); old != "" {
		c.endSession(old) // a sign-in always starts a session of its own
	}
	now := c.now()
	id := c.addSession(&session{email: email, client: client, csrf: randomToken(), created: now, seen: now})
	c.setCookie(w, sessionCookie, id, 0)
	c.setCookie(w, preCookie, "", -1)
	http.Redirect(w, r, "/databases", http.StatusSeeOther)
}

// signOut handles POST /signout.
func (c *Console) signOut(w http.ResponseWriter, r *http.Request, _ *session) {
	if _, id := c.session(r); id != "" {
		c.endSession(id)
	}
	c.setCookie(w, sessionCookie, "", -1)
	c.showSignIn(w, r, http.StatusOK, "You are signed out.")
}

// regions are the primary regions the create form offers (openapi.yaml's
// enum), AWS's first; the platform follows from the region.
var regions = []string{
	"us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-central-1", "eu-west-1", "eu-west-2",
	"sa-east-1", "ap-south-1", "ap-northeast-1", "ap-southeast-1", "ap-southeast-2", "af-south-1",
	"us-central1", "us-east4", "europe-west1", "asia-northeast1",
}

// plans are the plans the details page offers (devapi's Plan* names).
var plans = []string{"free", "payg", "fixed_250mb", "fixed_1gb", "fixed_5gb", "fixed_10gb", "fixed_50gb", "fixed_100gb", "fixed_500gb"}

// platformOf is the platform of a region: GCP's names have no letter-dash
// prefix pattern of AWS (us-central1, europe-west1, ...).
func platformOf(region string) string {
	if slices.Contains([]string{"us-central1", "us-east4", "europe-west1", "asia-northeast1"}, region) {
		return "gcp"
	}
	return "aws"
}

// databases handles GET /databases.
func (c *Console) databases(w http.ResponseWriter, r *http.Request, s *session) {
	dbs, err := s.client.ListDatabases(r.Context())
	if err != nil {
		c.apiFailed(w, r, s, err, "")
		return
	}
	slices.SortFunc(dbs, func(a, b upstash.Database) int { return strings.Compare(a.Name, b.Name) })
	v := c.page(s, "Databases", "databases")
	v.Data = struct {
		Databases []upstash.Database
		Regions   []string
	}{dbs, regions}
	c.render(w, r, http.StatusOK, "databases", v)
}

// createDatabase handles POST /databases.
func (c *Console) createDatabase(w http.ResponseWriter, r *http.Request, s *session) {
	f := r.PostForm
	region := f.Get("region")
	tls := f.Get("tls") == "on"
	db, err := s.client.CreateDatabase(r.Context(), upstash.CreateDatabaseRequest{
		Name: strings.TrimSpace(f.Get("name")), Platform: platformOf(region), PrimaryRegion: region,
		Eviction: f.Get("eviction") == "on", TLS: &tls,
	})
	if err != nil {
		c.apiFailed(w, r, s, err, "/databases")
		return
	}
	c.done(w, r, s, dbPath(db.ID, ""), "Database "+db.Name+" created.")
}

// dbPath is the console path of database id's page sub ("" for details).
func dbPath(id, sub string) string {
	p := "/databases/" + url.PathEscape(id)
	if sub != "" {
		p += "/" + sub
	}
	return p
}

// details is the data of the database page.
type details struct {
	Reveal      bool // show the secrets at once (right after a reset)
	RedisCLI    string
	RedisURL    string
	RESTURL     string
	Teams       []upstash.Team
	Plans       []string
	DeleteCheck string
}

// database handles GET /databases/{id}: connection details and settings.
func (c *Console) database(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	db, err := s.client.GetDatabase(r.Context(), id, false)
	if err != nil {
		c.apiFailed(w, r, s, err, "")
		return
	}
	teams, err := s.client.ListTeams(r.Context())
	if err != nil {
		c.apiFailed(w, r, s, err, "")
		return
	}
	v := c.page(s, "Database "+db.Name, "databases")
	v.DB, v.Tab = db, "details"
	d := details{RESTURL: c.cfg.RESTURL, Teams: teams, Plans: plans, RedisURL: redisURL(db), RedisCLI: c.redisCLI(db)}
	if v.Flash != nil && strings.HasPrefix(v.Flash.Text, resetDone) {
		d.Reveal = true
	}
	v.Data = d
	c.render(w, r, http.StatusOK, "database", v)
}

// redisURL is the database's connection URL with its password.
func redisURL(db *upstash.Database) string {
	u := url.URL{Scheme: "redis", User: url.UserPassword("default", db.Password), Host: db.Endpoint + ":" + strconv.Itoa(db.Port)}
	if db.TLS {
		u.Scheme = "rediss"
	}
	return u.String()
}

// redisCLI is a redis-cli command that connects to the database.
func (c *Console) redisCLI(db *upstash.Database) string {
	var b strings.Builder
	b.WriteString("redis-cli")
	if db.TLS {
		b.WriteString(" --tls")
		if c.cfg.CAFile != "" {
			b.WriteString(" --cacert " + shellQuote(c.cfg.CAFile))
		}
	}
	b.WriteString(" -u " + shellQuote(redisURL(db)))
	return b.String()
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@%+=,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// renameDatabase handles POST /databases/{id}/rename.
func (c *Console) renameDatabase(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	db, err := s.client.RenameDatabase(r.Context(), id, strings.TrimSpace(r.PostForm.Get("name")))
	if err != nil {
		c.apiFailed(w, r, s, err, dbPath(id, ""))
		return
	}
	c.done(w, r, s, dbPath(id, ""), "Renamed to "+db.Name+".")
}

// deleteDatabase handles POST /databases/{id}/delete. The person types the
// database's name to confirm.
func (c *Console) deleteDatabase(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	db, err := s.client.GetDatabase(r.Context(), id, true)
	if err != nil {
		c.apiFailed(w, r, s, err, dbPath(id, ""))
		return
	}
	if r.PostForm.Get("confirm") != db.Name {
		c.setFlash(s, true, "Not deleted: type the database's name, "+db.Name+", to confirm.")
		http.Redirect(w, r, dbPath(id, ""), http.StatusSeeOther)
		return
	}
	if err := s.client.DeleteDatabase(r.Context(), id); err != nil {
		c.apiFailed(w, r, s, err, dbPath(id, ""))
		return
	}
	c.done(w, r, s, "/databases", "Database "+db.Name+" deleted.")
}

// resetPasswordPage handles GET /databases/{id}/reset-password: what stops
// working, and the button.
func (c *Console) resetPasswordPage(w http.ResponseWriter, r *http.Request, s *session) {
	db, err := s.client.GetDatabase(r.Context(), r.PathValue("id"), true)
	if err != nil {
		c.apiFailed(w, r, s, err, "")
		return
	}
	v := c.page(s, "Reset the password of "+db.Name, "databases")
	v.DB, v.Tab = db, "details"
	v.Data = c.cfg.RESTURL
	c.render(w, r, http.StatusOK, "reset", v)
}

// resetDone starts the message after a reset; the details page then shows
// the new secrets unhidden.
const resetDone = "Password reset."

// resetPassword handles POST /databases/{id}/reset-password.
func (c *Console) resetPassword(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	if _, err := s.client.ResetPassword(r.Context(), id); err != nil {
		c.apiFailed(w, r, s, err, dbPath(id, ""))
		return
	}
	c.done(w, r, s, dbPath(id, ""), resetDone+" The credentials below are the new ones; the old password and tokens no longer work.")
}

// changeSetting handles POST /databases/{id}/settings: setting names one of
// the API's toggles.
func (c *Console) changeSetting(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	ctx := r.Context()
	var err error
	var msg string
	switch r.PostForm.Get("setting") {
	case "enable-tls":
		_, err = s.client.EnableTLS(ctx, id)
		msg = "TLS enabled."
	case "enable-eviction":
		err, msg = s.client.EnableEviction(ctx, id), "Eviction enabled."
	case "disable-eviction":
		err, msg = s.client.DisableEviction(ctx, id), "Eviction disabled."
	case "enable-autoupgrade":
		err, msg = s.client.EnableAutoUpgrade(ctx, id), "Auto-upgrade enabled."
	case "disable-autoupgrade":
		err, msg = s.client.DisableAutoUpgrade(ctx, id), "Auto-upgrade disabled."
	default:
		c.fail(w, r, s, http.StatusBadRequest, "There is no such setting.")
		return
	}
	if err != nil {
		c.apiFailed(w, r, s, err, dbPath(id, ""))
		return
	}
	c.done(w, r, s, dbPath(id, ""), msg)
}

// changePlan handles POST /databases/{id}/plan.
func (c *Console) changePlan(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	plan := r.PostForm.Get("plan")
	if err := s.client.ChangePlan(r.Context(), id, plan); err != nil {
		c.apiFailed(w, r, s, err, dbPath(id, ""))
		return
	}
	c.done(w, r, s, dbPath(id, ""), "Plan changed to "+plan+".")
}

// updateBudget handles POST /databases/{id}/budget.
func (c *Console) updateBudget(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	budget, err := strconv.ParseInt(strings.TrimSpace(r.PostForm.Get("budget")), 10, 64)
	if err != nil {
		c.setFlash(s, true, "The budget is a whole number of dollars.")
		http.Redirect(w, r, dbPath(id, ""), http.StatusSeeOther)
		return
	}
	if err := s.client.UpdateBudget(r.Context(), id, budget); err != nil {
		c.apiFailed(w, r, s, err, dbPath(id, ""))
		return
	}
	c.done(w, r, s, dbPath(id, ""), "Budget set to $"+strconv.FormatInt(budget, 10)+" a month.")
}

// moveToTeam handles POST /databases/{id}/team.
func (c *Console) moveToTeam(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	if err := s.client.MoveToTeam(r.Context(), id, r.PostForm.Get("team_id")); err != nil {
		c.apiFailed(w, r, s, err, dbPath(id, ""))
		return
	}
	// The team owns the database now: this account's API no longer answers
	// for it, as on Upstash, so the page to return to is the list.
	c.done(w, r, s, "/databases", "Database moved to the team; it is the team's now and no longer listed here.")
}
