package poolplane

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// ServerSpec is one Redis server of the pool, as ParseServers reads it from
// its URL.
type ServerSpec struct {
	Host     string // host name or IP address, which clients dial too
	Port     int    // default 6379
	TLS      bool   // the URL is rediss://: the server speaks TLS only
	Username string // devapi's admin ACL user on the server; never "default"
	Password string // of Username
}

// Key is the name of the server in the store, which holds no credential:
// "host:port".
func (s ServerSpec) Key() string {
	return net.JoinHostPort(strings.ToLower(s.Host), strconv.Itoa(s.Port))
}

// String is the server's URL with the password replaced by "xxxxx", safe to
// log.
func (s ServerSpec) String() string {
	return s.url().Redacted()
}

// url is the server's URL, password included.
func (s ServerSpec) url() *url.URL {
	scheme := "redis"
	if s.TLS {
		scheme = "rediss"
	}
	return &url.URL{Scheme: scheme, User: url.UserPassword(s.Username, s.Password), Host: net.JoinHostPort(s.Host, strconv.Itoa(s.Port))}
}

// ParseServers reads the pool's servers from text: one URL a line,
// redis://USER:PASSWORD@HOST[:PORT] or rediss://... for a server that
// speaks TLS, with the admin user and its password (percent-encoded where
// a URL needs it). Blank lines and lines starting with # are ignored. The
// port defaults to 6379; a URL may have no path but "/", no query and no
// fragment. The user must not be "default", which devapi manages for the
// database's clients, and no two lines may name the same host and port.
// Errors name the line and, where it parses, the URL with its password
// redacted; never the password.
func ParseServers(text string) ([]ServerSpec, error) {
	var out []ServerSpec
	seen := map[string]int{}
	for i, line := range strings.Split(text, "\n") {
		n := i + 1
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := parseServer(line)
		if err != nil {
			return nil, fmt.Errorf("poolplane: server list line %d: %w", n, err)
		}
		if first, dup := seen[s.Key()]; dup {
			return nil, fmt.Errorf("poolplane: server list line %d: %s is on line %d already", n, s.Key(), first)
		}
		seen[s.Key()] = n
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("poolplane: the server list holds no URL; give one redis://USER:PASSWORD@HOST:PORT a line")
	}
	return out, nil
}

// parseServer reads one URL. Its errors never hold the password: url.Parse's
// do (they quote the URL), so they are not passed on.
func parseServer(raw string) (ServerSpec, error) {
	const form = "redis://USER:PASSWORD@HOST:PORT or rediss://..."
	u, err := url.Parse(raw)
	if err != nil {
		return ServerSpec{}, fmt.Errorf("not a URL (not shown, as it may hold a password); want %s", form)
	}
	if (u.Scheme != "redis" && u.Scheme != "rediss") || u.Opaque != "" {
		return ServerSpec{}, fmt.Errorf("not a redis:// or rediss:// URL (not shown, as it may hold a password); want %s", form)
	}
	// What the errors below show: scheme, user and host, password redacted.
	shown := (&url.URL{Scheme: u.Scheme, User: u.User, Host: u.Host}).Redacted()
	s := ServerSpec{Host: u.Hostname(), Port: 6379, TLS: u.Scheme == "rediss"}
	if u.User != nil {
		s.Username = u.User.Username()
		s.Password, _ = u.User.Password()
	}
	switch {
	case s.Username == "" || s.Password == "":
		return ServerSpec{}, fmt.Errorf("%s: the URL needs devapi's admin user and its password: %s", shown, form)
	case s.Username == "default":
		return ServerSpec{}, fmt.Errorf("%s: the admin user must not be \"default\", which devapi manages for the database's clients; create another ACL user", shown)
	case s.Host == "":
		return ServerSpec{}, fmt.Errorf("%s: the URL has no host", shown)
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return ServerSpec{}, fmt.Errorf("%s: the URL must end at host:port, without a path, query or fragment", shown)
	}
	if p := u.Port(); p != "" {
		port, err := strconv.Atoi(p)
		if err != nil || port < 1 || port > 65535 {
			return ServerSpec{}, fmt.Errorf("%s: port must be 1-65535", shown)
		}
		s.Port = port
	}
	return s, nil
}
