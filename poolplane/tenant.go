package poolplane

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi"
)

// What one database is allowed on its pool server, and what its hand-over
// to the next one leaves: nothing.

// Client limits. A server counts every connection against maxclients, the
// admin connections of devapi's replicas among them, and refuses the next
// with "ERR max number of clients reached" before it authenticates: a
// database's clients could otherwise take the slots devapi needs to change
// their password. So Serve sets maxclients to the database's limit plus
// the connections of every other user open then (the admin connections of
// every replica, an operator's), and the admin client of each replica holds
// its adminConns connections open for good (Serve dials the missing ones,
// none is dropped for idling): the database's clients get MaxClients, and
// every replica keeps its own.
const (
	// defaultMaxClients is the limit of a database whose MaxClients is 0.
	defaultMaxClients = 10000
	// adminConns is the admin client's pool per server.
	adminConns = 4
)

// errTooOld is a server older than Redis 7.0.
var errTooOld = errors.New("devapi needs Redis 7.0 or newer (its ACL rules)")

// versionRE finds the version in INFO server. Valkey reports the Redis
// version it is compatible with here.
var versionRE = regexp.MustCompile(`(?m)^redis_version:(\d+)\.(\d+)\.`)

// rules returns the default user's command rules for the server's Redis
// version, which INFO server tells: devapi.ACLRules names subcommands only
// the versions that know them. errTooOld before Redis 7.0.
func (srv *server) rules(ctx context.Context) ([]any, error) {
	var info string
	err := srv.unbusy(ctx, func() (err error) {
		info, err = srv.admin.Info(ctx, "server").Result()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read the version of %s: %w", srv.spec.Key(), err)
	}
	m := versionRE.FindStringSubmatch(info)
	if m == nil {
		return nil, fmt.Errorf("%s does not say which Redis it is (no redis_version in INFO server)", srv.spec.Key())
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	aclMinor, err := devapi.ACLMinor(major, minor)
	if err != nil {
		return nil, fmt.Errorf("%s is Redis %d.%d: %w", srv.spec.Key(), major, minor, errTooOld)
	}
	rules := devapi.ACLRules(aclMinor)
	args := make([]any, len(rules))
	for i, r := range rules {
		args[i] = r
	}
	return args, nil
}

// setMaxClients sets the server's maxclients to limit (0: the default)
// plus the connections of other users than `default` open now, after the
// admin client has opened all its own. A server whose open-file limit
// cannot hold that many gets as many as it can, as redis-server does at
// start, and a warning goes to logger.
func (srv *server) setMaxClients(ctx context.Context, limit int, logger *slog.Logger) error {
	if limit <= 0 {
		limit = defaultMaxClients
	}
	srv.hold(ctx)
	others := 0
	err := srv.eachClient(ctx, func(c map[string]string) {
		if c["user"] != "default" {
			others++
		}
	})
	if err != nil {
		return err
	}
	// The admin connections this replica could not open count too.
	others += max(adminConns-int(srv.admin.PoolStats().TotalConns), 0)
	err = srv.admin.ConfigSet(ctx, "maxclients", strconv.Itoa(limit+others)).Err()
	if m := fewerClients.FindStringSubmatch(fmt.Sprint(err)); m != nil {
		logger.WarnContext(ctx, "the database's client limit is more than its pool server's open-file limit holds; lowered",
			slog.String("server", srv.spec.Key()), slog.Int("max_clients", limit+others), slog.String("lowered_to", m[1]))
		err = srv.admin.ConfigSet(ctx, "maxclients", m[1]).Err()
	}
	if err != nil {
		return fmt.Errorf("set maxclients on %s: %w", srv.spec.Key(), err)
	}
	return nil
}

// fewerClients is a server's refusal of a maxclients its open-file limit
// cannot hold, with the most it can.
var fewerClients = regexp.MustCompile(`not able to handle the specified number of clients, try with (\d+)`)

// hold opens the admin connections the client does not have, so that it
// holds adminConns (which it never drops for idling). Best effort: a slot
// it cannot get is counted as open by setMaxClients.
func (srv *server) hold(ctx context.Context) {
	st := srv.admin.PoolStats()
	missing := adminConns - int(st.TotalConns)
	if missing <= 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	// Taking the idle ones first makes the pool dial the missing ones.
	conns := make([]*redis.Conn, 0, int(st.IdleConns)+missing)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for range cap(conns) {
		c := srv.admin.Conn()
		conns = append(conns, c)
		if c.Ping(ctx).Err() != nil {
			return
		}
	}
}

// eachClient calls f with the fields of every client CLIENT LIST shows.
func (srv *server) eachClient(ctx context.Context, f func(map[string]string)) error {
	list, err := srv.admin.ClientList(ctx).Result()
	if err != nil {
		return fmt.Errorf("CLIENT LIST on %s: %w", srv.spec.Key(), err)
	}
	sc := bufio.NewScanner(strings.NewReader(list))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		fields := map[string]string{}
		for _, kv := range strings.Fields(sc.Text()) {
			k, v, _ := strings.Cut(kv, "=")
			fields[k] = v
		}
		f(fields)
	}
	return sc.Err()
}

// wipe leaves nothing of a database on the server for the next one: it
// turns `default` off (its open connections can run nothing more, no new
// one authenticates) and disconnects every client of it, subscribers and
// named ones included; then it deletes the keys of every logical database,
// the functions and the script cache, and resets the slowlog (which holds
// commands with their arguments), the latency history, the ACL log and
// the statistics INFO shows; and checks that none of it is left.
func (srv *server) wipe(ctx context.Context) error {
	for _, args := range [][]any{
		{"ACL", "SETUSER", "default", "reset", "off"},
		{"CLIENT", "KILL", "USER", "default"},
	} {
		if err := srv.do(ctx, args...); err != nil {
			return fmt.Errorf("%s on %s: %w", strings.Join(strs(args), " "), srv.spec.Key(), err)
		}
	}
	before, err := srv.admin.SlowLogGet(ctx, 1).Result()
	if err != nil {
		return fmt.Errorf("SLOWLOG GET on %s: %w", srv.spec.Key(), err)
	}
	lastSlow := int64(-1)
	if len(before) > 0 {
		lastSlow = before[0].ID
	}
	for _, args := range [][]any{
		{"FLUSHALL", "ASYNC"}, // the keys are gone at once, their memory freed in the background
		{"FUNCTION", "FLUSH", "ASYNC"},
		{"SCRIPT", "FLUSH", "ASYNC"},
		{"SLOWLOG", "RESET"},
		{"LATENCY", "RESET"},
		{"ACL", "LOG", "RESET"},
		{"CONFIG", "RESETSTAT"},
	} {
		if err := srv.do(ctx, args...); err != nil {
			return fmt.Errorf("%s on %s: %w", strings.Join(strs(args), " "), srv.spec.Key(), err)
		}
	}
	if err := srv.saveACL(ctx); err != nil {
		return err
	}
	if srv.beforeCheck != nil {
		srv.beforeCheck(ctx)
	}
	return srv.checkWiped(ctx, lastSlow)
}

// checkWiped reports what wipe left on the server, as an error: keys in
// any logical database (INFO keyspace lists every one that has some),
// functions, cached scripts, slowlog entries from before it (lastSlow is
// the newest one then; its own commands may be logged after), clients of
// `default` with a name or a subscription.
func (srv *server) checkWiped(ctx context.Context, lastSlow int64) error {
	info, err := srv.admin.Info(ctx, "keyspace", "memory").Result()
	if err != nil {
		return fmt.Errorf("INFO on %s: %w", srv.spec.Key(), err)
	}
	var left []string
	for line := range strings.Lines(info) {
		name, value, _ := strings.Cut(strings.TrimSpace(line), ":")
		switch {
		case strings.HasPrefix(name, "db"):
			left = append(left, "keys in "+name)
		case name == "number_of_cached_scripts" && value != "0":
			left = append(left, value+" cached scripts")
		}
	}
	libs, err := srv.admin.FunctionList(ctx, redis.FunctionListQuery{}).Result()
	if err != nil {
		return fmt.Errorf("FUNCTION LIST on %s: %w", srv.spec.Key(), err)
	}
	if len(libs) > 0 {
		left = append(left, fmt.Sprintf("%d function libraries", len(libs)))
	}
	slow, err := srv.admin.SlowLogGet(ctx, -1).Result()
	if err != nil {
		return fmt.Errorf("SLOWLOG GET on %s: %w", srv.spec.Key(), err)
	}
	for _, e := range slow {
		if e.ID <= lastSlow {
			left = append(left, "slowlog entries")
			break
		}
	}
	err = srv.eachClient(ctx, func(c map[string]string) {
		if c["user"] == "default" && (c["name"] != "" || nonZero(c["sub"]) || nonZero(c["psub"]) || nonZero(c["ssub"])) {
			left = append(left, "client "+c["id"]+" of default")
		}
	})
	if err != nil {
		return err
	}
	if len(left) > 0 {
		return fmt.Errorf("%s still holds the previous database's %s", srv.spec.Key(), strings.Join(left, ", "))
	}
	return nil
}

// do runs args as the admin user. A server running a script of the
// database's past its busy-reply-threshold (default 5 s, less than the
// admin client's read timeout) answers BUSY to everything else: the script
// is killed (SCRIPT KILL, FUNCTION KILL) and args run once more, so a
// looping script cannot stop a password change or a Remove. A script that
// has written cannot be killed (only SHUTDOWN NOSAVE ends it, losing the
// server's data): args then fail with BUSY.
func (srv *server) do(ctx context.Context, args ...any) error {
	return srv.unbusy(ctx, func() error { return srv.admin.Do(ctx, args...).Err() })
}

// unbusy calls f, and again after killing the script when f fails with
// BUSY (see do). The script stops at its next instruction check, after
// SCRIPT KILL has answered: f is tried until it ends, for up to
// killWait.
func (srv *server) unbusy(ctx context.Context, f func() error) error {
	err := f()
	if !isBusy(err) {
		return err
	}
	_ = srv.admin.Do(ctx, "SCRIPT", "KILL").Err()   // NOTBUSY when a function runs
	_ = srv.admin.Do(ctx, "FUNCTION", "KILL").Err() // NOTBUSY when a script runs
	for deadline := time.Now().Add(killWait); isBusy(err) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		err = f()
	}
	return err
}

// killWait bounds the wait for a killed script to end.
const killWait = 2 * time.Second

// isBusy reports whether err is a server's answer while a script runs.
func isBusy(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "BUSY ")
}

// nonZero reports whether a count of CLIENT LIST is set and not 0.
func nonZero(n string) bool {
	return n != "" && n != "0"
}

// strs is args as text, for errors.
func strs(args []any) []string {
	s := make([]string, len(args))
	for i, a := range args {
		s[i] = fmt.Sprint(a)
	}
	return s
}
