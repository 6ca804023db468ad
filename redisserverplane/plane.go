package redisserverplane

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/tlsca"
)

// Config configures a Plane.
type Config struct {
	// Dir holds one folder per database. Required.
	Dir string
	// Binary is the redis-server to run. Default: "redis-server" on PATH.
	Binary string
	// OrphansDir receives the folders of retired databases (Retire), each
	// as <id>-<UTC time>. Default: "orphans" next to Dir.
	OrphansDir string
	devapi.PlaneConfig
}

// Time limits of process management.
const (
	// startTimeout bounds the wait for a new redis-server to answer.
	startTimeout = 15 * time.Second
	// loadTimeout bounds the wait for one that answers LOADING while it
	// reads a large append-only file.
	loadTimeout = 5 * time.Minute
	// stopTimeout bounds each step of a stop: SHUTDOWN, SIGTERM, SIGKILL.
	stopTimeout = 10 * time.Second
	adminUser   = "devapi-admin"
)

// Supervision: a process that dies is started again by the plane's
// supervisor, with the password of the generation the plane holds and its
// append-only file, after a delay that doubles from minRestartDelay up to
// maxRestartDelay while it keeps dying, and starts over once a process has
// run for healthyAfter.
const (
	// superviseEvery is how often the supervisor looks at the processes.
	// Our own children are seen to exit at once (their Wait returned);
	// processes adopted from an earlier devapi are not our children and
	// are polled through /proc every adoptedEvery rounds.
	superviseEvery  = 200 * time.Millisecond
	adoptedEvery    = 5
	minRestartDelay = 100 * time.Millisecond
	maxRestartDelay = 30 * time.Second
	healthyAfter    = time.Minute
)

// childEnv is the whole environment of the redis-server processes: a PATH,
// and nothing of devapi's own (its API key, its store URL). redis-server
// reads no variable.
var childEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}

// Client limits. redis-server counts every connection against maxclients,
// devapi's own among them, and refuses the next with "ERR max number of
// clients reached" before it authenticates: a database's clients could
// otherwise take the slot devapi needs to change their password. So
// maxclients is the database's limit plus adminConns, and the admin client
// holds exactly that many connections open for good (start dials it before
// the probe lets go of its own, and it is never dropped for idling): the
// database's clients get MaxClients, and devapi always has its own.
const (
	// defaultMaxClients is the limit of a database whose MaxClients is 0.
	defaultMaxClients = 10000
	// adminConns is the admin client's pool, held open: the reserve.
	adminConns = 1
)

// Files in a database's folder.
const (
	confFile       = "redis.conf"
	pidFile        = "redis.pid"
	logFile        = "redis.log"
	secretFile     = "admin.secret"
	generationFile = "generation"
	certFile       = "tls.crt"
	keyFile        = "tls.key"
)

// errClosed is what every call on a closed Plane returns.
var errClosed = errors.New("redisserverplane: the plane is closed")

// Plane runs one redis-server per database.
type Plane struct {
	cfg    Config
	binary string
	// rules are the default user's command rules for the binary's Redis
	// version (devapi.ACLRules), after its password and key patterns.
	rules   []string
	certPEM []byte
	keyPEM  []byte
	certDER []byte // the certificate TLS databases serve, which the admin client pins

	mu     sync.Mutex
	dbs    map[string]*instance
	closed bool

	// The supervisor goroutine: stopSupervisor ends it, supervised is
	// closed when it has returned.
	stopSupervisor context.CancelFunc
	supervised     chan struct{}
}

// instance is one database's redis-server. mu orders every change to it.
type instance struct {
	mu         sync.Mutex
	id         string
	dir        string
	spec       devapi.PlaneDatabase
	generation int64 // of the password applied; -1 until Serve applies one
	// running: the plane serves the database and started or adopted its
	// process (which may have died since: see alive).
	running bool
	pid     int
	proc    *os.Process   // bound to the process (a pidfd), safe to signal
	exited  chan struct{} // closed when a process we started exits; nil when adopted
	admin   *redis.Client // devapi-admin on the database's port; nil unless running
	// served: a process was started or adopted for the database and it
	// was not removed since, so one must run: while none does (it died, or
	// a restart failed) the supervisor starts one, and Status says
	// PlaneRestarting.
	served bool
	// Restart back-off: upSince is when the process last started (zero
	// while none runs), delay the last wait between restarts, retryAt when
	// the supervisor tries next (zero: not scheduled).
	upSince time.Time
	delay   time.Duration
	retryAt time.Time
	// gone: removed from the plane (Remove, Retire, Close). Whoever waited
	// for mu looks the id up again.
	gone bool
}

var _ devapi.Plane = (*Plane)(nil)

// Open returns a Plane. It fails when the redis-server binary is missing,
// or is older than Redis 7.0.
func Open(ctx context.Context, cfg Config) (*Plane, error) {
	if cfg.Dir == "" {
		return nil, errors.New("redisserverplane: Config.Dir is required")
	}
	if cfg.Binary == "" {
		cfg.Binary = "redis-server"
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("redisserverplane: %w", err)
	}
	cfg.Dir = dir
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	binary, err := exec.LookPath(cfg.Binary)
	if err != nil {
		where := "not found on PATH"
		if strings.ContainsRune(cfg.Binary, filepath.Separator) {
			where = "not found or not executable" // a path: LookPath looked at that file only
		}
		return nil, fmt.Errorf("redis-server plane: %q %s; install it (Debian: apt-get install redis-server) or choose --plane embedded", cfg.Binary, where)
	}
	minor, err := redisMinor(ctx, binary)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("redisserverplane: %w", err)
	}
	if cfg.OrphansDir == "" {
		cfg.OrphansDir = filepath.Join(filepath.Dir(cfg.Dir), "orphans")
	}
	p := &Plane{cfg: cfg, binary: binary, rules: devapi.ACLRules(minor), dbs: map[string]*instance{}}
	if cfg.TLS != nil {
		if p.certPEM, p.keyPEM, err = tlsca.ServerPEM(cfg.TLS); err != nil {
			return nil, fmt.Errorf("redisserverplane: %w", err)
		}
		p.certDER = cfg.TLS.Certificates[0].Certificate[0]
	}
	sctx, stop := context.WithCancel(context.Background())
	p.stopSupervisor, p.supervised = stop, make(chan struct{})
	go p.supervise(sctx)
	return p, nil
}

var validID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,63}$`)

// checkPassword accepts any password redis.conf can hold, which through
// quote is any non-empty one.
func checkPassword(pw string) error {
	if pw == "" || len(pw) > 1024 {
		return devapi.Errorf(devapi.EINVALID, "password must be 1 to 1024 bytes")
	}
	return nil
}

// lock returns the entry for id, creating it if create, with its lock held.
func (p *Plane) lock(id string, create bool) (*instance, error) {
	if !validID.MatchString(id) {
		return nil, devapi.Errorf(devapi.EINVALID, "invalid database id %q", id)
	}
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, errClosed
		}
		in, ok := p.dbs[id]
		if !ok {
			if !create {
				p.mu.Unlock()
				return nil, devapi.Errorf(devapi.ENOTFOUND, "database %s is not served", id)
			}
			in = &instance{id: id, dir: filepath.Join(p.cfg.Dir, id), generation: -1}
			p.dbs[id] = in
		}
		p.mu.Unlock()
		in.mu.Lock()
		if !in.gone {
			return in, nil
		}
		in.mu.Unlock() // removed while we waited: look again
	}
}

// Serve implements devapi.Plane.
func (p *Plane) Serve(ctx context.Context, d devapi.PlaneDatabase) error {
	if err := checkPassword(d.Password); err != nil {
		return err
	}
	if d.Port < 1 || d.Port > 65535 {
		return devapi.Errorf(devapi.EINVALID, "port %d is not 1-65535", d.Port)
	}
	if d.TLS && p.certPEM == nil {
		return fmt.Errorf("redisserverplane: database %s wants TLS but the plane has no certificate", d.ID)
	}
	in, err := p.lock(d.ID, true)
	if err != nil {
		return err
	}
	defer in.mu.Unlock()
	// A process that died, or listens other than d says, starts again.
	if in.running && (!in.alive() || in.spec.Port != d.Port || in.spec.TLS != d.TLS) {
		if err := p.stop(in); err != nil {
			return err
		}
	}
	if d.Generation < in.generation {
		// A stale spec: keep the newer password, take the rest.
		d.Password, d.Generation = in.spec.Password, in.generation
	}
	if !in.running {
		if err := p.start(ctx, in, d); err != nil {
			return err
		}
	} else if in.spec.MaxMemory != d.MaxMemory || in.spec.Eviction != d.Eviction || in.spec.MaxClients != d.MaxClients {
		if err := p.setLimits(ctx, in.admin, d); err != nil {
			return fmt.Errorf("redisserverplane: %s: %w", in.id, err)
		}
		in.spec.MaxMemory, in.spec.Eviction, in.spec.MaxClients = d.MaxMemory, d.Eviction, d.MaxClients
	}
	// After a devapi restart the plane holds no generation (-1): the stored
	// password, which Serve brings, is applied whatever the process had.
	return p.apply(ctx, in, d.Password, d.Generation)
}

// setLimits applies d's memory cap, eviction and client limit to a running
// process. A process whose open-file limit cannot hold that many clients
// gets as many as it can, as redis-server does at start, and a warning is
// logged.
func (p *Plane) setLimits(ctx context.Context, admin *redis.Client, d devapi.PlaneDatabase) error {
	if err := admin.ConfigSet(ctx, "maxmemory", strconv.FormatInt(d.MaxMemory, 10)).Err(); err != nil {
		return fmt.Errorf("set maxmemory: %w", err)
	}
	if err := admin.ConfigSet(ctx, "maxmemory-policy", policy(d.Eviction)).Err(); err != nil {
		return fmt.Errorf("set maxmemory-policy: %w", err)
	}
	err := admin.ConfigSet(ctx, "maxclients", strconv.Itoa(maxClients(d))).Err()
	m := fewerClients.FindStringSubmatch(fmt.Sprint(err))
	if m != nil {
		p.cfg.Logger.WarnContext(ctx, "the database's client limit is more than its redis-server's open-file limit holds; lowered",
			slog.String("database_id", d.ID), slog.Int("max_clients", maxClients(d)), slog.String("lowered_to", m[1]))
		err = admin.ConfigSet(ctx, "maxclients", m[1]).Err()
	}
	if err != nil {
		return fmt.Errorf("set maxclients: %w", err)
	}
	return nil
}

// fewerClients is redis-server's refusal of a maxclients its open-file
// limit cannot hold, with the most it can.
var fewerClients = regexp.MustCompile(`not able to handle the specified number of clients, try with (\d+)`)

// adminDo runs args as devapi-admin. A server running a script of the
// database's past busy-reply-threshold answers BUSY to everything else: the
// script is killed (SCRIPT KILL, FUNCTION KILL) and args run once more, so
// a looping script cannot stop a password change or a stop. A script that
// has written cannot be killed (only SHUTDOWN NOSAVE ends it, losing its
// writes): args then fail with BUSY.
func adminDo(ctx context.Context, admin *redis.Client, args ...any) error {
	err := admin.Do(ctx, args...).Err()
	if !isBusy(err) {
		return err
	}
	_ = admin.Do(ctx, "SCRIPT", "KILL").Err()   // NOTBUSY when a function runs
	_ = admin.Do(ctx, "FUNCTION", "KILL").Err() // NOTBUSY when a script runs
	// The script stops at its next instruction check, after SCRIPT KILL
	// has answered.
	for deadline := time.Now().Add(killWait); isBusy(err) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		err = admin.Do(ctx, args...).Err()
	}
	return err
}

// killWait bounds the wait for a killed script to end.
const killWait = 2 * time.Second

// isBusy reports whether err is a server's answer while a script runs.
func isBusy(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "BUSY ")
}

// anys is ss as arguments of a command.
func anys(ss []string) []any {
	args := make([]any, len(ss))
	for i, s := range ss {
		args[i] = s
	}
	return args
}

// SetPassword implements devapi.Plane.
func (p *Plane) SetPassword(ctx context.Context, id, password string, generation int64) error {
	if err := checkPassword(password); err != nil {
		return err
	}
	in, err := p.lock(id, false)
	if err != nil {
		return err
	}
	defer in.mu.Unlock()
	if !in.running && !in.served {
		return devapi.Errorf(devapi.ENOTFOUND, "database %s is not served", id)
	}
	if generation <= in.generation {
		return nil
	}
	if !in.running || !in.alive() {
		// The process died: start it again now, on the new password,
		// whatever the supervisor's back-off.
		spec := in.spec
		spec.Password, spec.Generation = password, generation
		if err := p.stop(in); err != nil {
			return err
		}
		if err := p.start(ctx, in, spec); err != nil {
			return err
		}
	}
	return p.apply(ctx, in, password, generation)
}

// apply makes the running process accept password for new connections, and
// records it in redis.conf and the generation file for the next start. It
// sets the whole of the default user, so a process started by an older
// devapi gets today's command rules too.
func (p *Plane) apply(ctx context.Context, in *instance, password string, generation int64) error {
	args := append([]any{"ACL", "SETUSER", "default", "reset", "on", ">" + password, "~*", "&*"}, anys(p.rules)...)
	if err := adminDo(ctx, in.admin, args...); err != nil {
		return fmt.Errorf("redisserverplane: set password of %s: %w", in.id, err)
	}
	in.spec.Password, in.spec.Generation, in.generation = password, generation, generation
	secret, err := adminSecret(in.dir)
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(in.dir, confFile), p.conf(in, secret)); err != nil {
		return err
	}
	return writeFile(filepath.Join(in.dir, generationFile), []byte(strconv.FormatInt(generation, 10)+"\n"))
}

// conf is the redis.conf of in. Every value that is a path or a secret is
// quoted, so spaces or quotes in it cannot change the configuration.
func (p *Plane) conf(in *instance, secret string) []byte {
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	path := func(name string) string { return quote(filepath.Join(in.dir, name)) }
	w("# Written by devapi, which rewrites it: changes here are lost.")
	w("# Holds passwords: keep it 0600.")
	w("bind %s", quote(p.cfg.Host))
	w("protected-mode no") // every connection must authenticate anyway
	if in.spec.TLS {
		w("port 0")
		w("tls-port %d", in.spec.Port)
		w("tls-cert-file %s", path(certFile))
		w("tls-key-file %s", path(keyFile))
		w("tls-auth-clients no")
	} else {
		w("port %d", in.spec.Port)
	}
	w("daemonize no")
	w("pidfile %s", path(pidFile))
	w("logfile %s", path(logFile))
	w("dir %s", quote(in.dir))
	// ps shows which database a process serves (Redis's default title
	// drops the configuration file's path).
	w(`proc-title-template "{title} {config-file} {listen-addr}"`)
	w("maxmemory %d", in.spec.MaxMemory)
	w("maxmemory-policy %s", policy(in.spec.Eviction))
	w("maxclients %d", maxClients(in.spec))
	w("appendonly yes")
	w("appendfsync everysec")
	w(`save ""`)
	w("user default reset on %s ~* &* %s", quote(">"+in.spec.Password), strings.Join(p.rules, " "))
	w("user %s reset on %s ~* &* +@all", adminUser, quote(">"+secret))
	return b.Bytes()
}

// quote makes s one argument of a redis.conf line: in double quotes, with
// every byte but printable ASCII other than quotes and backslash written
// \xHH, which redis-server reads back as that byte.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := range len(s) {
		c := s[i]
		if c > ' ' && c < 0x7f && c != '"' && c != '\'' && c != '\\' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// maxClients is the maxclients of d's process: its limit and the admin
// client's reserve.
func maxClients(d devapi.PlaneDatabase) int {
	if d.MaxClients <= 0 {
		return defaultMaxClients + adminConns
	}
	return d.MaxClients + adminConns
}

// policy is the maxmemory-policy for a database's eviction setting.
func policy(eviction bool) string {
	if eviction {
		return "allkeys-lru"
	}
	return "noeviction"
}

// start adopts the redis-server of in left by an earlier devapi, or runs a
// new one, as d says. On success in is running with an admin client.
func (p *Plane) start(ctx context.Context, in *instance, d devapi.PlaneDatabase) error {
	if err := os.MkdirAll(in.dir, 0o700); err != nil {
		return fmt.Errorf("redisserverplane: %w", err)
	}
	if err := os.Chmod(in.dir, 0o700); err != nil {
		return fmt.Errorf("redisserverplane: %w", err)
	}
	secret, err := adminSecret(in.dir)
	if err != nil {
		return err
	}
	in.spec = d
	adopted, err := p.adopt(ctx, in, secret)
	if adopted || err != nil {
		return err
	}
	if d.TLS {
		if err := writeFile(filepath.Join(in.dir, certFile), p.certPEM); err != nil {
			return err
		}
		if err := writeFile(filepath.Join(in.dir, keyFile), p.keyPEM); err != nil {
			return err
		}
	}
	confPath := filepath.Join(in.dir, confFile)
	if err := writeFile(confPath, p.conf(in, secret)); err != nil {
		return err
	}
	// The log takes what redis-server prints before it opens its logfile
	// (configuration errors) too.
	logPath := filepath.Join(in.dir, logFile)
	logOut, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("redisserverplane: %w", err)
	}
	logStart, _ := logOut.Seek(0, io.SeekEnd)
	cmd := exec.Command(p.binary, confPath) // the password stays in the 0600 file
	cmd.Dir = in.dir
	cmd.Env = childEnv
	cmd.Stdout, cmd.Stderr = logOut, logOut
	// Its own process group: a Ctrl-C on devapi's terminal does not reach
	// it, devapi stops it with SHUTDOWN.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	_ = logOut.Close()
	if err != nil {
		return fmt.Errorf("redisserverplane: start redis-server for %s: %w", in.id, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	// Short timeouts while it starts: what listens may not be our process
	// (a port another program holds and never answers on), and ours may exit.
	probeOpt := p.adminOptions(d, secret, nil)
	probeOpt.DialTimeout, probeOpt.ReadTimeout, probeOpt.WriteTimeout = 500*time.Millisecond, 500*time.Millisecond, 500*time.Millisecond
	probe := redis.NewClient(probeOpt)
	defer func() { _ = probe.Close() }()
	failed := func(why string) error {
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("redisserverplane: redis-server for %s %s; its log: %s", in.id, why, logTail(logPath, logStart, d.Password, secret))
	}
	deadline := time.Now().Add(startTimeout)
	for loading := false; ; {
		err := probe.Ping(ctx).Err()
		if err == nil {
			break
		}
		select {
		case <-exited:
			return failed("exited at start")
		default:
		}
		if redis.IsLoadingError(err) && !loading {
			loading, deadline = true, time.Now().Add(loadTimeout) // it reads its AOF
		}
		if ctx.Err() != nil {
			return failed(fmt.Sprintf("was stopped: %v", ctx.Err()))
		}
		if time.Now().After(deadline) {
			return failed(fmt.Sprintf("did not answer in time (%v)", err))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The admin client takes its connection while the probe still holds
	// one: a client of the database that connects meanwhile cannot take
	// the slot the probe leaves.
	in.admin = p.adminClient(d, secret, nil)
	if err := in.admin.Ping(ctx).Err(); err != nil {
		_ = in.admin.Close()
		in.admin = nil
		return failed(fmt.Sprintf("did not answer devapi's admin connection (%v)", err))
	}
	in.pid, in.proc, in.exited, in.running = cmd.Process.Pid, cmd.Process, exited, true
	in.started()
	return nil
}

// started records that in's process runs, started or adopted.
func (in *instance) started() {
	in.served, in.upSince, in.retryAt = true, time.Now(), time.Time{}
}

// adopt takes over the process a killed devapi left running for in, if its
// pidfile names one of ours that answers devapi-admin where in.spec says. A
// process of ours that does not answer is stopped.
func (p *Plane) adopt(ctx context.Context, in *instance, secret string) (bool, error) {
	pid := readPid(in.dir)
	if pid <= 0 || !p.ownProcess(pid, in.dir) {
		return false, nil // none, stale or not ours: nothing to adopt, nothing to stop
	}
	d := in.spec
	// It may serve the certificate an earlier devapi issued (devapi issues
	// one at every start): trust that one too, it is in the 0600 folder.
	var served []byte
	if d.TLS {
		if b, err := os.ReadFile(filepath.Join(in.dir, certFile)); err == nil {
			if block, _ := pem.Decode(b); block != nil {
				served = block.Bytes
			}
		}
	}
	admin := p.adminClient(d, secret, served)
	if err := admin.Ping(ctx).Err(); err != nil {
		_ = admin.Close()
		if ctx.Err() != nil {
			return false, ctx.Err() // no answer because the caller gave up
		}
		if err := terminate(pid); err != nil {
			return false, fmt.Errorf("redisserverplane: stop the unanswering redis-server %d of %s: %w", pid, in.id, err)
		}
		return false, nil
	}
	proc, err := os.FindProcess(pid) // a pidfd: signals cannot reach a reused pid
	if err != nil {
		_ = admin.Close()
		return false, fmt.Errorf("redisserverplane: %w", err)
	}
	in.admin, in.pid, in.proc, in.exited, in.running = admin, pid, proc, nil, true
	in.started()
	if d.TLS && !bytes.Equal(served, p.certDER) {
		// Serve this plane's certificate: CONFIG SET of the same files
		// reloads them, without a restart.
		if err := writeFile(filepath.Join(in.dir, certFile), p.certPEM); err != nil {
			return true, err
		}
		if err := writeFile(filepath.Join(in.dir, keyFile), p.keyPEM); err != nil {
			return true, err
		}
		err := admin.ConfigSet(ctx, "tls-cert-file", filepath.Join(in.dir, certFile)).Err()
		if err == nil {
			err = admin.ConfigSet(ctx, "tls-key-file", filepath.Join(in.dir, keyFile)).Err()
		}
		if err != nil {
			return true, fmt.Errorf("redisserverplane: reload the certificate of %s: %w", in.id, err)
		}
		_ = admin.Close()
		in.admin = p.adminClient(d, secret, nil)
	}
	// It may run with older settings than d's.
	if err := p.setLimits(ctx, in.admin, d); err != nil {
		return true, fmt.Errorf("redisserverplane: %s: %w", in.id, err)
	}
	return true, nil
}

// adminClient connects as devapi's ACL user. For TLS databases it trusts
// exactly the certificate the plane serves, and also, if not nil, the one
// given.
func (p *Plane) adminClient(d devapi.PlaneDatabase, secret string, alsoTrust []byte) *redis.Client {
	return redis.NewClient(p.adminOptions(d, secret, alsoTrust))
}

// adminOptions are the options of adminClient.
func (p *Plane) adminOptions(d devapi.PlaneDatabase, secret string, alsoTrust []byte) *redis.Options {
	opt := &redis.Options{
		Addr:     net.JoinHostPort(p.cfg.Host, strconv.Itoa(d.Port)),
		Username: adminUser,
		Password: secret,
		// adminConns connections, held open for good once dialled (see
		// adminConns; start and adopt dial it); Status subtracts them.
		// Not MinIdleConns: it would redial in the background, and log,
		// after every SHUTDOWN.
		PoolSize:        adminConns,
		ConnMaxIdleTime: -1,
		MaxRetries:      -1,
		DialTimeout:     2 * time.Second,
		// A caller's deadline (the server's PlaneTimeout) bounds a read
		// too, so a stopped or wedged process fails a call in time.
		ContextTimeoutEnabled: true,
		// Longer than busy-reply-threshold (5 s): a server busy with a
		// script answers BUSY (see adminDo) before the read times out,
		// which would drop the connection (see adminConns).
		ReadTimeout:  10 * time.Second,
		WriteTimeout: 5 * time.Second,
	}
	if d.TLS {
		own := p.certDER
		opt.TLSConfig = &tls.Config{
			MinVersion:         tls.VersionTLS12,
			InsecureSkipVerify: true, // replaced by the pin below
			VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
				if len(raw) > 0 && (bytes.Equal(raw[0], own) || (alsoTrust != nil && bytes.Equal(raw[0], alsoTrust))) {
					return nil
				}
				return errors.New("redisserverplane: the server does not present devapi's certificate")
			},
		}
	}
	return opt
}

// alive reports whether in's process still runs.
func (in *instance) alive() bool {
	if in.exited != nil {
		select {
		case <-in.exited:
			return false
		default:
			return true
		}
	}
	return alive(in.pid)
}

// waitExit waits up to limit for in's process to end.
func (in *instance) waitExit(limit time.Duration) bool {
	if in.exited != nil {
		t := time.NewTimer(limit)
		defer t.Stop()
		select {
		case <-in.exited:
			return true
		case <-t.C:
			return false
		}
	}
	return waitGone(in.pid, limit)
}

// stop shuts in's process down and waits until it has exited, which frees
// its port: SHUTDOWN (which flushes the AOF), then SIGTERM, then SIGKILL,
// each given stopTimeout. It leaves in not running.
func (p *Plane) stop(in *instance) error {
	if !in.running {
		return nil
	}
	defer func() {
		_ = in.admin.Close()
		if in.exited == nil {
			_ = in.proc.Release()
		}
		in.admin, in.proc, in.exited, in.running = nil, nil, nil, false
	}()
	if !in.alive() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	_ = adminDo(ctx, in.admin, "SHUTDOWN") // the connection closes: an error is expected
	if in.waitExit(stopTimeout) {
		return nil
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		_ = in.proc.Signal(sig)
		if in.waitExit(stopTimeout) {
			return nil
		}
	}
	return fmt.Errorf("redisserverplane: redis-server %d of %s outlived SIGKILL", in.pid, in.id)
}

// Remove implements devapi.Plane.
func (p *Plane) Remove(_ context.Context, id string) error {
	in, err := p.lock(id, true)
	if err != nil {
		return err
	}
	defer in.mu.Unlock()
	if err := p.stop(in); err != nil {
		return err
	}
	// A process the plane never adopted (the store dropped the database
	// while devapi was down).
	if pid := readPid(in.dir); pid > 0 && p.ownProcess(pid, in.dir) {
		if err := terminate(pid); err != nil {
			return fmt.Errorf("redisserverplane: stop redis-server %d of %s: %w", pid, id, err)
		}
	}
	if err := os.RemoveAll(in.dir); err != nil {
		return fmt.Errorf("redisserverplane: remove %s: %w", id, err)
	}
	in.gone = true
	p.mu.Lock()
	if p.dbs[id] == in {
		delete(p.dbs, id)
	}
	p.mu.Unlock()
	return nil
}

// Status implements devapi.Plane. A served database whose process died
// reports PlaneRestarting until the supervisor (or a Serve or SetPassword)
// has started it again. ENOTFOUND for a database whose first start failed.
func (p *Plane) Status(ctx context.Context, id string) (devapi.PlaneStatus, error) {
	in, err := p.lock(id, false)
	if err != nil {
		return devapi.PlaneStatus{}, err
	}
	defer in.mu.Unlock()
	st := devapi.PlaneStatus{State: devapi.PlaneRestarting, Generation: in.generation, Addr: net.JoinHostPort(p.cfg.Host, strconv.Itoa(in.spec.Port))}
	switch {
	case !in.running && !in.served:
		return devapi.PlaneStatus{}, devapi.Errorf(devapi.ENOTFOUND, "database %s is not served", id)
	case !in.running, !in.alive():
		return st, nil
	}
	st.State = devapi.PlaneRunning
	info, err := in.admin.Info(ctx, "clients", "stats", "keyspace").Result()
	if err != nil && in.waitExit(time.Second) {
		st.State = devapi.PlaneRestarting // it died as we asked
		return st, nil
	}
	if err != nil {
		return devapi.PlaneStatus{}, fmt.Errorf("redisserverplane: status of %s: %w", id, err)
	}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		name, value, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(value, 10, 64)
		switch {
		case name == "connected_clients":
			st.Connections = max(n-adminConns, 0) // not devapi's admin connections
		case name == "total_connections_received":
			st.TotalConnections = n
		case name == "total_commands_processed":
			st.Commands = n
		case strings.HasPrefix(name, "db"): // db0:keys=3,expires=0,avg_ttl=0
			keys, _, _ := strings.Cut(strings.TrimPrefix(value, "keys="), ",")
			k, _ := strconv.ParseInt(keys, 10, 64)
			st.Keys += k
		}
	}
	return st, nil
}

// Retire implements devapi.Retirer: it stops the database's process (one
// a killed devapi left too) and moves its folder, append-only file and
// all, to OrphansDir as <id>-<UTC time>, whose path it returns.
func (p *Plane) Retire(_ context.Context, id string) (string, error) {
	in, err := p.lock(id, true)
	if err != nil {
		return "", err
	}
	defer in.mu.Unlock()
	forget := func() {
		in.gone = true
		p.mu.Lock()
		if p.dbs[id] == in {
			delete(p.dbs, id)
		}
		p.mu.Unlock()
	}
	if err := p.stop(in); err != nil {
		return "", err
	}
	if pid := readPid(in.dir); pid > 0 && p.ownProcess(pid, in.dir) {
		if err := terminate(pid); err != nil {
			return "", fmt.Errorf("redisserverplane: stop redis-server %d of %s: %w", pid, id, err)
		}
	}
	if _, err := os.Stat(in.dir); errors.Is(err, os.ErrNotExist) {
		forget()
		return "", nil
	}
	if err := os.MkdirAll(p.cfg.OrphansDir, 0o700); err != nil {
		return "", fmt.Errorf("redisserverplane: retire %s: %w", id, err)
	}
	base := filepath.Join(p.cfg.OrphansDir, id+"-"+time.Now().UTC().Format(OrphanTimeFormat))
	dst := base
	for n := 2; ; n++ {
		err := os.Rename(in.dir, dst)
		if err == nil {
			break
		}
		// A retire of the same id in the same second: a name of its own.
		if _, serr := os.Stat(dst); serr != nil || n > 100 {
			return "", fmt.Errorf("redisserverplane: retire %s: %w", id, err)
		}
		dst = fmt.Sprintf("%s.%d", base, n)
	}
	forget()
	return dst, nil
}

// OrphanTimeFormat is the time in the name of a retired database's folder,
// <id>-<time>, in UTC.
const OrphanTimeFormat = "20060102T150405Z"

// Databases implements devapi.Plane: every database folder under Dir.
func (p *Plane) Databases(context.Context) ([]string, error) {
	entries, err := os.ReadDir(p.cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("redisserverplane: %w", err)
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() && validID.MatchString(e.Name()) {
			ids = append(ids, e.Name())
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// Close stops every process the plane runs, with SHUTDOWN, which flushes the
// AOF, and waits for them to exit; their data stays for the next Open.
// Every later call on the plane fails.
func (p *Plane) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	ins := make([]*instance, 0, len(p.dbs))
	for _, in := range p.dbs {
		ins = append(ins, in)
	}
	p.dbs = map[string]*instance{}
	p.mu.Unlock()
	// The supervisor first, so that it starts nothing the stops below
	// have stopped.
	p.stopSupervisor()
	<-p.supervised
	errs := make([]error, len(ins))
	var wg sync.WaitGroup
	for i, in := range ins {
		wg.Go(func() {
			in.mu.Lock()
			defer in.mu.Unlock()
			errs[i] = p.stop(in)
			in.gone = true
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// supervise starts again, until ctx ends, the processes of served
// databases that died, with back-off (see schedule). A database whose lock
// is held is left for the next round: whoever holds it (Serve,
// SetPassword) starts a dead process itself.
func (p *Plane) supervise(ctx context.Context) {
	defer close(p.supervised)
	t := time.NewTicker(superviseEvery)
	defer t.Stop()
	var ins []*instance
	for round := 1; ; round++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ins = ins[:0]
		p.mu.Lock()
		for _, in := range p.dbs {
			ins = append(ins, in)
		}
		p.mu.Unlock()
		for _, in := range ins {
			if ctx.Err() != nil {
				return
			}
			if !in.mu.TryLock() {
				continue
			}
			if !in.gone {
				p.heal(ctx, in, round%adoptedEvery == 0)
			}
			in.mu.Unlock()
		}
		clear(ins) // keep no instance alive past its removal
	}
}

// heal notices that in's process died, and starts a new one once its
// back-off has passed; in.mu is held. Each death, restart and failed
// restart is logged at WARN.
func (p *Plane) heal(ctx context.Context, in *instance, pollAdopted bool) {
	log := p.cfg.Logger
	if in.running {
		if (in.exited == nil && !pollAdopted) || in.alive() {
			return
		}
		pid := in.pid
		_ = p.stop(in) // it is gone: this lets go of its admin client
		in.schedule(time.Now())
		log.WarnContext(ctx, "the redis-server of a database died; restarting it",
			slog.String("database_id", in.id), slog.Int("pid", pid), slog.Duration("in", in.delay))
		return
	}
	if !in.served {
		return // its first start failed: the next Serve tries
	}
	if in.retryAt.IsZero() {
		in.schedule(time.Now()) // a restart by Serve or SetPassword failed
	}
	if time.Now().Before(in.retryAt) {
		return
	}
	if err := p.start(ctx, in, in.spec); err != nil {
		if ctx.Err() != nil {
			return // the plane is closing
		}
		in.schedule(time.Now())
		log.WarnContext(ctx, "cannot restart the redis-server of a database; trying again",
			slog.String("database_id", in.id), slog.Duration("in", in.delay), slog.Any("err", err))
		return
	}
	log.WarnContext(ctx, "restarted the redis-server of a database",
		slog.String("database_id", in.id), slog.Int("pid", in.pid), slog.Int64("generation", in.generation))
}

// schedule sets when the supervisor next starts in's process: after a
// delay that doubles from minRestartDelay to maxRestartDelay, back to the
// start when the last process ran for healthyAfter.
func (in *instance) schedule(now time.Time) {
	if !in.upSince.IsZero() && now.Sub(in.upSince) >= healthyAfter {
		in.delay = 0
	}
	in.upSince = time.Time{}
	in.delay = min(max(2*in.delay, minRestartDelay), maxRestartDelay)
	in.retryAt = now.Add(in.delay)
}

// adminSecret returns the folder's admin secret, creating it once.
func adminSecret(dir string) (string, error) {
	path := filepath.Join(dir, secretFile)
	if b, err := os.ReadFile(path); err == nil && len(bytes.TrimSpace(b)) > 0 {
		return string(bytes.TrimSpace(b)), nil
	}
	raw := make([]byte, 24)
	_, _ = rand.Read(raw) // never fails
	secret := hex.EncodeToString(raw)
	if err := writeFile(path, []byte(secret)); err != nil {
		return "", err
	}
	return secret, nil
}

// writeFile replaces path with data, mode 0600, through a rename, so a
// crash leaves the old file or the new one.
func writeFile(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("redisserverplane: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o600) // a leftover tmp file may have had another mode
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("redisserverplane: %w", err)
	}
	return nil
}

func readPid(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, pidFile))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// ownProcess reports whether pid is a live redis-server of the database
// folder dir. redis-server rewrites its process title, so /proc/PID/cmdline
// holds what proc-title-template says, not what it was started with; the
// folder is told by the process's working directory instead (redis-server
// changes to its `dir`), and the program by its executable.
func (p *Plane) ownProcess(pid int, dir string) bool {
	if !alive(pid) {
		return false // gone, or a zombie, which holds no port
	}
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	if err != nil || cwd != dir {
		return false
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return false
	}
	exe = strings.TrimSuffix(exe, " (deleted)") // its binary was upgraded since
	if strings.Contains(filepath.Base(exe), "redis") {
		return true // Debian's redis-server is a link to redis-check-rdb
	}
	binary, err := filepath.EvalSymlinks(p.binary)
	return err == nil && exe == binary
}

// terminate ends pid, a process that is not our child: SIGTERM, on which
// redis-server shuts down as on SHUTDOWN, then SIGKILL if it lingers.
func terminate(pid int) error {
	proc, err := os.FindProcess(pid) // a pidfd: signals cannot reach a reused pid
	if err != nil {
		return err
	}
	defer func() { _ = proc.Release() }()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		if err := proc.Signal(sig); errors.Is(err, os.ErrProcessDone) {
			return nil
		}
		if waitGone(pid, stopTimeout) {
			return nil
		}
	}
	return fmt.Errorf("process %d outlived SIGKILL", pid)
}

// waitGone waits up to limit until pid no longer runs (gone or a zombie).
func waitGone(pid int, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if !alive(pid) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return !alive(pid)
}

// alive reports whether pid runs and is not a zombie.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, ok := strings.Cut(string(stat), ") ")
	return ok && !strings.HasPrefix(rest, "Z")
}

// logTail is the end of what redis-server logged since offset from, for
// error messages. Redis logs no password, but it quotes a configuration
// line it cannot read: such lines, and any secret, are blanked out.
func logTail(path string, from int64, secrets ...string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log)"
	}
	if from > 0 && from <= int64(len(b)) {
		b = b[from:]
	}
	text := strings.TrimSpace(string(b))
	if text == "" {
		return "(empty)"
	}
	lines := strings.Split(text, "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	for i, l := range lines {
		if strings.HasPrefix(l, ">>>") || strings.Contains(l, "user ") {
			lines[i] = "[a configuration line, not shown]"
			continue
		}
		for _, s := range secrets {
			if s != "" {
				l = strings.ReplaceAll(l, s, "[secret]")
			}
		}
		lines[i] = l
	}
	return strings.Join(lines, " | ")
}
