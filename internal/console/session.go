package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"sync"
	"time"

	"github.com/devapi-dev/devapi/upstash"
)

// Cookie names. The session cookie holds a random id, never a credential.
const (
	sessionCookie = "devapi_session"
	preCookie     = "devapi_signin" // CSRF token of the sign-in form, before a session exists
)

// maxSessions bounds the sessions and links held in memory. Past it, the
// oldest session is dropped (its browser signs in again).
const maxSessions = 10000

// session is a signed-in browser. Its account is fixed at sign-in: every
// call it makes goes through the API with that account's key.
type session struct {
	email   string
	client  *upstash.Client // the API as this account
	csrf    string          // token every state-changing form must carry
	created time.Time
	seen    time.Time // last request
	flash   *flash    // one message for the next page
}

// flash is a message shown once on the next page, after a redirect.
type flash struct {
	Error bool
	Text  string
}

// link is a one-time sign-in link's credentials, until it is used or
// expires.
type link struct {
	email, apiKey string
	expires       time.Time
}

// sessions holds the console's sessions and one-time links in memory.
type sessions struct {
	mu    sync.Mutex
	byID  map[string]*session
	links map[string]link
}

func newSessions() *sessions {
	return &sessions{byID: map[string]*session{}, links: map[string]link{}}
}

// randomToken returns 32 random bytes in hex.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails; see crypto/rand.Read
	return hex.EncodeToString(b)
}

// add stores a new session and returns its id. Expired sessions are pruned
// first, and the oldest is dropped when maxSessions are held.
func (c *Console) addSession(s *session) string {
	id := randomToken()
	c.sessions.mu.Lock()
	defer c.sessions.mu.Unlock()
	now := c.now()
	for k, old := range c.sessions.byID {
		if c.expired(old, now) {
			delete(c.sessions.byID, k)
		}
	}
	if len(c.sessions.byID) >= maxSessions {
		var oldestID string
		var oldest time.Time
		for k, old := range c.sessions.byID {
			if oldestID == "" || old.created.Before(oldest) {
				oldestID, oldest = k, old.created
			}
		}
		delete(c.sessions.byID, oldestID)
	}
	c.sessions.byID[id] = s
	return id
}

// expired reports whether s has ended at now: idle too long, or too old.
func (c *Console) expired(s *session, now time.Time) bool {
	return now.Sub(s.seen) >= c.cfg.SessionIdle || now.Sub(s.created) >= c.cfg.SessionLifetime
}

// session returns the request's live session and its id, or nil. It marks
// the session as seen; an expired one is deleted.
func (c *Console) session(r *http.Request) (*session, string) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil, ""
	}
	c.sessions.mu.Lock()
	defer c.sessions.mu.Unlock()
	s := c.sessions.byID[ck.Value]
	if s == nil {
		return nil, ""
	}
	now := c.now()
	if c.expired(s, now) {
		delete(c.sessions.byID, ck.Value)
		return nil, ""
	}
	s.seen = now
	return s, ck.Value
}

// endSession deletes the session id.
func (c *Console) endSession(id string) {
	c.sessions.mu.Lock()
	delete(c.sessions.byID, id)
	c.sessions.mu.Unlock()
}

// setFlash leaves a message for the session's next page.
func (c *Console) setFlash(s *session, isError bool, text string) {
	c.sessions.mu.Lock()
	s.flash = &flash{Error: isError, Text: text}
	c.sessions.mu.Unlock()
}

// takeFlash returns and clears the session's message.
func (c *Console) takeFlash(s *session) *flash {
	c.sessions.mu.Lock()
	defer c.sessions.mu.Unlock()
	f := s.flash
	s.flash = nil
	return f
}

// SignInLink mints a one-time sign-in link for the account email with
// apiKey, such as "/signin/link?token=...": a path to append to the
// console's base URL. The link signs one browser in, once, within
// Config.LinkTTL; the credentials are held in memory until then. The token
// is the only secret the console ever puts in a URL.
func (c *Console) SignInLink(email, apiKey string) string {
	token := randomToken()
	c.sessions.mu.Lock()
	defer c.sessions.mu.Unlock()
	now := c.now()
	for k, l := range c.sessions.links {
		if !now.Before(l.expires) {
			delete(c.sessions.links, k)
		}
	}
	if len(c.sessions.links) >= maxSessions {
		for k := range c.sessions.links {
			delete(c.sessions.links, k)
			break
		}
	}
	c.sessions.links[token] = link{email: email, apiKey: apiKey, expires: now.Add(c.cfg.LinkTTL)}
	return "/signin/link?token=" + token
}

// takeLink consumes the link token: it answers its credentials once, and
// never again; an expired link answers false.
func (c *Console) takeLink(token string) (link, bool) {
	c.sessions.mu.Lock()
	defer c.sessions.mu.Unlock()
	l, ok := c.sessions.links[token]
	if !ok {
		return link{}, false
	}
	delete(c.sessions.links, token)
	if !c.now().Before(l.expires) {
		return link{}, false
	}
	return l, true
}

// setCookie sets a cookie with the console's attributes: HttpOnly,
// SameSite=Strict, Secure over TLS, for the whole site. maxAge 0 means a
// browser-session cookie; negative deletes it.
func (c *Console) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   c.cfg.Secure,
		SameSite: http.SameSiteStrictMode,
	})
}

// tokensEqual compares two tokens in constant time; empty never matches.
func tokensEqual(a, b string) bool {
	return a != "" && b != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
