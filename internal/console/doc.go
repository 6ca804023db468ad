// Package console is devapi's web console: server-rendered pages, from
// templates and files embedded in the binary, for what the Developer API and
// the REST data API do (databases, connection details, reset-password,
// settings, a data browser, stats, backups and teams).
//
// The console is a client, not a second implementation. Every page calls the
// management API's handler in process (the upstash SDK over an http.Client
// whose transport calls the handler) with the signed-in account's email and
// API key as Basic auth, so it gets the API's answers, checks and refusals;
// the data browser calls the REST API's handler with the database's token,
// so it gets the REST API's refusals and limits.
//
// Sign-in takes an email and an API key, checked by calling the API with
// them. A session lives in memory on the server (the browser holds a random
// id in an HttpOnly, SameSite=Strict cookie, Secure over TLS) and ends when
// signed out, after Config.SessionIdle without a request, or
// Config.SessionLifetime after sign-in. Every form that changes something
// carries the session's CSRF token. A one-time sign-in link
// (Console.SignInLink) signs a browser in once, within Config.LinkTTL.
//
// Wiring, in one call from the assembly that serves the API (internal/app),
// once it has the API's and the REST API's handlers:
//
//	c, err := console.New(console.Config{API: srv.Handler(), REST: rest.Handler(),
//		RESTURL: restURL, CAFile: caPath, Logger: logger, Secure: servedOverTLS})
//	// mount c.Handler() at "/" beside the API (/v2 and /healthz stay the API's)
//	link := baseURL + c.SignInLink(email, apiKey) // print once at start, for the default account
package console
