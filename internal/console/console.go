package console

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/devapi-dev/devapi/upstash"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Defaults of Config's zero fields.
const (
	defaultSessionIdle     = time.Hour
	defaultSessionLifetime = 12 * time.Hour
	defaultLinkTTL         = 24 * time.Hour
	// maxBody bounds every request body the console reads (its forms): a
	// string value typed into the data browser fits, a flood does not.
	maxBody = 1 << 20
	// apiTimeout bounds each call the console makes to the API handlers.
	apiTimeout = 30 * time.Second
)

// Config is what New needs. The zero value of each optional field means its
// documented default.
type Config struct {
	// API is the management API's handler, serving /v2/... (required). The
	// console calls it in process, as the signed-in account.
	API http.Handler
	// REST is the REST data API's handler (required). The data browser calls
	// it in process with the database's token.
	REST http.Handler
	// RESTURL is the REST API's URL, shown as UPSTASH_REDIS_REST_URL, such as
	// http://127.0.0.1:8081. Empty: the line is left out.
	RESTURL string
	// CAFile is the path of the CA certificate that signs the databases'
	// certificates, shown in the redis-cli command (--cacert). Empty: left out.
	CAFile string
	// Logger gets one line per request (method, path without query, status)
	// and unexpected errors; never a header, body, credential or key name.
	// Default: discard.
	Logger *slog.Logger
	// Secure marks the cookies Secure: set it when the console is served
	// over TLS. Default false.
	Secure bool
	// SessionIdle ends a session after this long without a request.
	// Default 1 hour.
	SessionIdle time.Duration
	// SessionLifetime ends a session this long after sign-in, however busy.
	// Default 12 hours.
	SessionLifetime time.Duration
	// LinkTTL is how long a SignInLink works (once). Default 24 hours.
	LinkTTL time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Console is the web console. Make one with New; serve Handler.
type Console struct {
	cfg      Config
	logger   *slog.Logger
	pages    map[string]*template.Template
	sessions *sessions
	mux      *http.ServeMux
}

// New returns a Console for cfg. It fails when API or REST is missing or a
// template does not parse.
func New(cfg Config) (*Console, error) {
	if cfg.API == nil || cfg.REST == nil {
		return nil, errors.New("console: the API and REST handlers are required")
	}
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = defaultSessionIdle
	}
	if cfg.SessionLifetime <= 0 {
		cfg.SessionLifetime = defaultSessionLifetime
	}
	if cfg.LinkTTL <= 0 {
		cfg.LinkTTL = defaultLinkTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Console{cfg: cfg, logger: cfg.Logger, sessions: newSessions()}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	var err error
	if c.pages, err = parsePages(); err != nil {
		return nil, err
	}
	c.routes()
	return c, nil
}

func (c *Console) now() time.Time { return c.cfg.Now() }

// Handler returns the console's handler, to mount at "/" next to the API
// (/v2) and health (/healthz), which take precedence.
func (c *Console) Handler() http.Handler {
	return c.logRequests(c.headers(c.mux))
}

// parsePages parses each page template together with the layout.
func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		if n == "templates/layout.html" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", n, err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		pages[name] = t
	}
	return pages, nil
}

// funcs are the templates' helpers. None marks anything safe.
var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"bytes": humanBytes,
	// dict builds a sub-template's data from name, value pairs.
	"dict": func(kv ...any) (map[string]any, error) {
		if len(kv)%2 != 0 {
			return nil, errors.New("dict takes name, value pairs")
		}
		m := make(map[string]any, len(kv)/2)
		for i := 0; i < len(kv); i += 2 {
			name, ok := kv[i].(string)
			if !ok {
				return nil, errors.New("dict names are strings")
			}
			m[name] = kv[i+1]
		}
		return m, nil
	},
	"elementDelete": elementDelete,
	"urlLabel": func(tls bool) string {
		if tls {
			return "rediss:// URL"
		}
		return "redis:// URL"
	},
}

// humanBytes writes n bytes with a binary unit.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// view is what every page template gets.
type view struct {
	Title   string // the page's title, also its heading
	Email   string // the signed-in account; empty on the sign-in page
	CSRF    string // the session's CSRF token, for forms
	Flash   *flash
	Section string // the navigation entry to mark: databases, teams
	DB      *upstash.Database
	Tab     string // the database tab: details, data, stats, backups
	Data    any    // the page's own data
}

// render writes page with v, status 200 unless status is given.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, page string, v view) {
	t := c.pages[page]
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		c.logger.ErrorContext(r.Context(), "console: render", slog.String("page", page), slog.String("error", err.Error()))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fail renders the error page with status and a message for the person.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *session, status int, msg string) {
	v := view{Title: http.StatusText(status), Data: msg}
	if s != nil {
		v.Email, v.CSRF = s.email, s.csrf
	}
	c.render(w, r, status, "error", v)
}

// headers sets the security headers of every answer and bounds the body.
func (c *Console) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
			"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer") // the one-time link's token never leaves in a Referer
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store") // pages hold credentials
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		}
		next.ServeHTTP(w, r)
	})
}

// statusWriter remembers an answer's status for the log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// logRequests logs one line per request: method, path (never the query,
// which carries the one-time link's token and key names), status.
func (c *Console) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		start := time.Now()
		next.ServeHTTP(sw, r)
		c.logger.LogAttrs(r.Context(), slog.LevelInfo, "console",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", sw.status), slog.Duration("duration", time.Since(start)))
	})
}

// authed wraps a page that needs a session: without one, a GET goes to the
// sign-in page and anything else is refused. A request that is not a GET or
// HEAD must carry the session's CSRF token in the form field "csrf".
func (c *Console) authed(h func(http.ResponseWriter, *http.Request, *session)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := c.session(r)
		if s == nil {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, "/signin", http.StatusSeeOther)
				return
			}
			c.fail(w, r, nil, http.StatusForbidden, "Your session has ended: sign in again.")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if err := r.ParseForm(); err != nil {
				c.formError(w, r, s, err)
				return
			}
			if !tokensEqual(r.PostForm.Get("csrf"), s.csrf) {
				c.fail(w, r, s, http.StatusForbidden, "This form is out of date or did not come from this console (CSRF check failed): reload the page and try again.")
				return
			}
		}
		ctx, cancel := context.WithTimeout(withRemoteAddr(r.Context(), r.RemoteAddr), apiTimeout)
		defer cancel()
		h(w, r.WithContext(ctx), s)
	})
}

// formError answers a form that could not be read: too large, or malformed.
func (c *Console) formError(w http.ResponseWriter, r *http.Request, s *session, err error) {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		c.fail(w, r, s, http.StatusRequestEntityTooLarge, fmt.Sprintf("The form is larger than the console takes (%d bytes).", maxBody))
		return
	}
	c.fail(w, r, s, http.StatusBadRequest, "The form could not be read.")
}

// apiMessage turns an error of an API call into a sentence for the page:
// the API's own message for an answer, a fixed one otherwise (logged).
func (c *Console) apiMessage(r *http.Request, err error) string {
	if apiErr, ok := errors.AsType[*upstash.APIError](err); ok {
		return fmt.Sprintf("The API answered %d: %s", apiErr.StatusCode, apiErr.Message)
	}
	if errors.Is(err, errAnswerTooLarge) {
		return fmt.Sprintf("The answer is larger than the console shows (%d MiB).", maxAnswer>>20)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "The API did not answer in time."
	}
	c.logger.ErrorContext(r.Context(), "console: api call", slog.String("error", err.Error()))
	return "The API could not be reached."
}

// apiFailed handles an API call's error on a page: a refused key (the key
// was deleted, or the account) ends the session; anything else is shown.
// back is where a state-changing request returns to, with the message.
func (c *Console) apiFailed(w http.ResponseWriter, r *http.Request, s *session, err error, back string) {
	if errors.Is(err, upstash.ErrUnauthorized) {
		if _, id := c.session(r); id != "" {
			c.endSession(id)
		}
		c.fail(w, r, nil, http.StatusUnauthorized, "The API refused this account's key: sign in again.")
		return
	}
	msg := c.apiMessage(r, err)
	if back != "" && r.Method == http.MethodPost {
		c.setFlash(s, true, msg)
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	status := http.StatusBadGateway
	if errors.Is(err, upstash.ErrNotFound) {
		status = http.StatusNotFound
	} else if apiErr, ok := errors.AsType[*upstash.APIError](err); ok && apiErr.StatusCode < 500 {
		status = apiErr.StatusCode
	}
	c.fail(w, r, s, status, msg)
}

// done leaves a success message and sends the browser to back.
func (c *Console) done(w http.ResponseWriter, r *http.Request, s *session, back, msg string) {
	c.setFlash(s, false, msg)
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// page fills the common parts of a view for a signed-in page.
func (c *Console) page(s *session, title, section string) view {
	return view{Title: title, Email: s.email, CSRF: s.csrf, Flash: c.takeFlash(s), Section: section}
}
