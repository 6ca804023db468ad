// Package redismonitor runs Redis's MONITOR on a database's own server for
// a plane that reaches it as an admin user (redisserverplane, poolplane),
// and passes on the lines of the database's clients only: those of the ACL
// user the database's clients authenticate as, and of the scripts they run.
// devapi's admin connections (password changes, INFO, backups) and an
// operator's are left out.
//
// MONITOR's lines name the client by address, not by user: the addresses of
// the database's user come from CLIENT LIST, asked again (through the
// plane's admin client) whenever a line comes from an address not seen in
// the last answer. A connection that ran a command and closed before that
// CLIENT LIST answered cannot be told: its lines are shown.
//
// Each Run holds one connection to the server while it runs, which counts
// against the server's maxclients.
package redismonitor

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/devapi-dev/devapi"
)

// maxLine bounds one line passed on: a command with a large value is cut,
// ending in "...".
const maxLine = 64 << 10

// Config is where the server is and how to reach it.
type Config struct {
	Addr     string      // host:port
	TLS      *tls.Config // nil: plain TCP
	Username string      // an ACL user that may run MONITOR
	Password string
	// User is the ACL user of the database's clients, whose commands are
	// shown. Default "default".
	User string
	// Clients returns CLIENT LIST's answer, through the plane's admin
	// client.
	Clients func(ctx context.Context) (string, error)
	// DialTimeout bounds the dial, the TLS handshake, AUTH and MONITOR.
	// Default 5 s.
	DialTimeout time.Duration
}

// Run monitors the server: it calls emit with "OK" once MONITOR runs, then
// with each line of the database's clients, without MONITOR's "+", until
// ctx ends (ctx's error), emit fails (its error), or the connection ends or
// cannot be opened (EUNAVAILABLE).
func Run(ctx context.Context, cfg Config, emit func(line string) error) error {
	if cfg.User == "" {
		cfg.User = "default"
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	raw, br, err := start(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return devapi.Errorf(devapi.EUNAVAILABLE, "monitor: %v", err)
	}
	// The TCP socket is closed, under any TLS: a TLS close would first send
	// close_notify, which can wait up to 5 s on a server that does not read.
	defer func() { _ = raw.Close() }()
	stop := context.AfterFunc(ctx, func() { _ = raw.Close() })
	defer stop()
	if err := emit("OK"); err != nil {
		return err
	}
	f := filter{cfg: cfg}
	for {
		line, err := readLine(br)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return devapi.Errorf(devapi.EUNAVAILABLE, "monitor: %v", err)
		}
		if len(line) == 0 || line[0] != '+' {
			continue
		}
		show, err := f.shows(ctx, clientAddr(line[1:]))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return devapi.Errorf(devapi.EUNAVAILABLE, "monitor: client list: %v", err)
		}
		if !show {
			continue
		}
		if err := emit(string(line[1:])); err != nil {
			return err
		}
	}
}

// start dials, authenticates and sends MONITOR. It returns the TCP socket,
// under TLS if any, and a reader of the connection.
func start(ctx context.Context, cfg Config) (net.Conn, *bufio.Reader, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, nil, err
	}
	raw := nc
	if cfg.TLS != nil {
		tc := tls.Client(nc, cfg.TLS)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = nc.Close()
			return nil, nil, err
		}
		nc = tc
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	br := bufio.NewReaderSize(nc, maxLine)
	var cmd bytes.Buffer
	for _, args := range [][]string{{"AUTH", cfg.Username, cfg.Password}, {"MONITOR"}} {
		fmt.Fprintf(&cmd, "*%d\r\n", len(args))
		for _, a := range args {
			fmt.Fprintf(&cmd, "$%d\r\n%s\r\n", len(a), a)
		}
	}
	if _, err := nc.Write(cmd.Bytes()); err != nil {
		_ = nc.Close()
		return nil, nil, err
	}
	for _, what := range []string{"auth", "monitor"} {
		line, err := readLine(br)
		if err == nil && !bytes.Equal(line, []byte("+OK")) {
			err = fmt.Errorf("%s refused", what) // the server's text may quote the password
		}
		if err != nil {
			_ = nc.Close()
			return nil, nil, err
		}
	}
	if err := nc.SetDeadline(time.Time{}); err != nil {
		_ = nc.Close()
		return nil, nil, err
	}
	return raw, br, nil
}

// readLine reads one line without its CRLF; a line over maxLine is cut and
// ends in "...". It is valid until the next read.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		cut := append(append([]byte(nil), line[:min(len(line), maxLine-3)]...), "..."...)
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = br.ReadSlice('\n')
		}
		if err != nil {
			return nil, err
		}
		return cut, nil
	}
	if err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r")), nil
}

// clientAddr is the client of a MONITOR line, `<time> [<db> <client>] ...`:
// an address, "lua", or "unix:<path>".
func clientAddr(line []byte) string {
	_, rest, ok := bytes.Cut(line, []byte(" ["))
	if !ok {
		return ""
	}
	inside, _, ok := bytes.Cut(rest, []byte("] ")) // an IPv6 address holds "]:"
	if !ok {
		return ""
	}
	_, addr, _ := bytes.Cut(inside, []byte(" "))
	return string(addr)
}

// filter tells which clients' lines are shown.
type filter struct {
	cfg   Config
	users map[string]string // address -> ACL user, as of the last CLIENT LIST
}

// shows reports whether the lines of the client at addr are shown: a
// script's, and those of the database's user.
func (f *filter) shows(ctx context.Context, addr string) (bool, error) {
	if addr == "lua" {
		return true, nil
	}
	user, ok := f.users[addr]
	if !ok {
		list, err := f.cfg.Clients(ctx)
		if err != nil {
			return false, err
		}
		f.users = parseClients(list)
		if user, ok = f.users[addr]; !ok {
			return true, nil // gone already: cannot be told
		}
	}
	return user == f.cfg.User, nil
}

// parseClients maps each client of a CLIENT LIST answer to its user.
func parseClients(list string) map[string]string {
	users := map[string]string{}
	for _, line := range strings.Split(list, "\n") {
		var addr, user string
		for _, field := range strings.Fields(line) {
			k, v, _ := strings.Cut(field, "=")
			switch k {
			case "addr":
				addr = v
			case "user":
				user = v
			}
		}
		if addr != "" {
			users[addr] = user
		}
	}
	return users
}
