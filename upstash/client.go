package upstash

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/devapi-dev/devapi/gen"
)

// defaultBaseURL is where Upstash serves the Developer API (under /v2).
const defaultBaseURL = "https://api.upstash.com"

// modulePath is this module's path, to find its version in the build info.
const modulePath = "github.com/devapi-dev/devapi"

// Client calls the Upstash Developer API with one account's credentials.
// Make one with New; the zero value is not usable.
// A Client is safe for concurrent use.
type Client struct {
	api *gen.ClientWithResponses
}

// Option configures a Client made by New.
type Option func(*config)

// config is what the options set. The zero value of each field means its
// documented default.
type config struct {
	baseURL   string       // default defaultBaseURL
	http      *http.Client // default: a client of its own, 30 s timeout
	retries   int          // default 3
	retriesOK bool         // retries was set
	userAgent string       // default "devapi-go/<version>"
}

// WithBaseURL sets the root of the API's host, such as
// "https://api.upstash.com" (the default) or "http://127.0.0.1:8080" for
// devapi. The client adds "/v2"; a trailing slash or an "/v2" already there
// is accepted.
func WithBaseURL(root string) Option {
	return func(c *config) { c.baseURL = root }
}

// WithHTTPClient sets the HTTP client requests go through. The default is a
// client of the Client's own with a 30 second timeout (never
// http.DefaultClient). A nil client keeps the default.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) { c.http = hc }
}

// WithRetries sets how many times a read (a GET operation) is retried after
// a 429, 502, 503 or 504 answer or a network error. The default is 3;
// 0 turns retries off. Calls that change something are never retried.
func WithRetries(n int) Option {
	return func(c *config) { c.retries, c.retriesOK = max(n, 0), true }
}

// WithUserAgent sets the User-Agent header of every request. The default is
// "devapi-go/<version>"; an empty string keeps the default.
func WithUserAgent(s string) Option {
	return func(c *config) { c.userAgent = s }
}

// New returns a Client that authenticates as email with apiKey (HTTP Basic,
// as Upstash does).
func New(email, apiKey string, opts ...Option) (*Client, error) {
	if email == "" || apiKey == "" {
		return nil, errors.New("upstash: email and API key are required")
	}
	cfg := config{}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.baseURL == "" {
		cfg.baseURL = defaultBaseURL
	}
	if cfg.http == nil {
		cfg.http = &http.Client{Timeout: 30 * time.Second}
	}
	if !cfg.retriesOK {
		cfg.retries = 3
	}
	if cfg.userAgent == "" {
		cfg.userAgent = "devapi-go/" + version()
	}
	base, err := apiBase(cfg.baseURL)
	if err != nil {
		return nil, err
	}
	api, err := gen.NewClientWithResponses(base,
		gen.WithHTTPClient(&retrier{client: cfg.http, retries: cfg.retries}),
		gen.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.SetBasicAuth(email, apiKey)
			req.Header.Set("User-Agent", cfg.userAgent)
			req.Header.Set("Accept", "application/json")
			return nil
		}))
	if err != nil {
		return nil, fmt.Errorf("upstash: %w", err)
	}
	return &Client{api: api}, nil
}

// apiBase turns a host root into the API's base URL, root + "/v2/".
func apiBase(root string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(root))
	if err != nil {
		return "", fmt.Errorf("upstash: base URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("upstash: base URL %q: want http(s)://HOST[:PORT]", root)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("upstash: base URL %q: want no query or fragment", root)
	}
	p := strings.TrimRight(u.Path, "/")
	p = strings.TrimSuffix(p, "/v2")
	u.Path, u.RawPath = strings.TrimRight(p, "/")+"/v2/", ""
	return u.String(), nil
}

// version is this module's version as built into the binary, "devel" when
// unknown (a build inside the module itself, or without module support).
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	v := ""
	if info.Main.Path == modulePath {
		v = info.Main.Version
	}
	for _, d := range info.Deps {
		if d.Path == modulePath {
			v = d.Version
		}
	}
	if v == "" || v == "(devel)" {
		return "devel"
	}
	return v
}

// maxErrorBody caps how much of an error answer is read.
const maxErrorBody = 64 << 10

// send runs one operation: it wraps a network error, turns an answer other
// than 2xx into an *APIError, and returns a successful answer unread.
func send(ctx context.Context, op string, do func(context.Context) (*http.Response, error)) (*http.Response, error) {
	resp, err := do(ctx)
	if err != nil {
		return nil, fmt.Errorf("upstash: %s: %w", op, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer func() { _ = resp.Body.Close() }()
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		if err != nil {
			return nil, fmt.Errorf("upstash: %s: read %d answer: %w", op, resp.StatusCode, err)
		}
		return nil, fmt.Errorf("upstash: %s: %w", op, newAPIError(resp.StatusCode, body))
	}
	return resp, nil
}

// result runs an operation whose answer is a JSON document: parse is the
// generated parser, pick returns its 200 value.
func result[R, T any](ctx context.Context, op string, do func(context.Context) (*http.Response, error), parse func(*http.Response) (*R, error), pick func(*R) *T) (*T, error) {
	resp, err := send(ctx, op, do)
	if err != nil {
		return nil, err
	}
	r, err := parse(resp) // reads and closes the body
	if err != nil {
		return nil, fmt.Errorf("upstash: %s: decode answer: %w", op, err)
	}
	v := pick(r)
	if v == nil {
		return nil, fmt.Errorf("upstash: %s: unexpected answer: status %d, content type %q", op, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return v, nil
}

// ok runs an operation whose answer is the JSON string "OK".
func ok(ctx context.Context, op string, do func(context.Context) (*http.Response, error)) error {
	resp, err := send(ctx, op, do)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	_ = resp.Body.Close()
	return nil
}

func ptr[T any](v T) *T { return &v }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
