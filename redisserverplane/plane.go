package redisserverplane

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
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
	"github.com/devapi-dev/devapi/tlsca"
)

// Config configures a Plane.
type Config struct {
	// Dir holds one folder per database. Required.
	Dir string
	// Binary is the redis-server to run. Default: "redis-server" on PATH.
	Binary string
	devapi.PlaneConfig
}

// Time limits of process management.
const (
	startTimeout = 15 * time.Second
	stopTimeout  = 10 * time.Second
	adminUser    = "devapi-admin"
)

// Plane runs one redis-server per database.
type Plane struct {
	cfg     Config
	binary  string
	certPEM []byte
	keyPEM  []byte

	mu  sync.Mutex
	dbs map[string]*instance
}

// instance is one database's redis-server. mu orders every change to it.
type instance struct {
	mu         sync.Mutex
	id         string
	dir        string
	spec       devapi.PlaneDatabase
	generation int64
	pid        int
	exited     chan struct{} // closed when a process we started exits; nil when adopted
	admin      *redis.Client
	running    bool
}

var _ devapi.Plane = (*Plane)(nil)

// Open returns a Plane. It fails when the redis-server binary is missing.
func Open(_ context.Context, cfg Config) (*Plane, error) {
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
	var binary string
	binary, err = exec.LookPath(cfg.Binary)
	if err != nil {
		return nil, fmt.Errorf("redis-server plane: %q not found on PATH; install it (Debian: apt-get install redis-server) or choose --plane embedded", cfg.Binary)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("redisserverplane: %w", err)
	}
	p := &Plane{cfg: cfg, binary: binary, dbs: map[string]*instance{}}
	if cfg.TLS != nil {
		if p.certPEM, p.keyPEM, err = tlsca.ServerPEM(cfg.TLS); err != nil {
			return nil, fmt.Errorf("redisserverplane: %w", err)
		}
	}
	return p, nil
}

var validID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,63}$`)

// validPassword keeps passwords safe to write into redis.conf: printable
// ASCII without spaces, quotes or backslashes.
var validPassword = regexp.MustCompile(`^[!#-&(-\[\]-~]{1,512}$`)

func checkPassword(pw string) error {
	if !validPassword.MatchString(pw) {
		return devapi.Errorf(devapi.EINVALID, "password must be printable ASCII without spaces or quotes")
	}
	return nil
}

// instance returns the entry for id, creating it, with its lock held.
func (p *Plane) lock(id string, create bool) (*instance, error) {
	if !validID.MatchString(id) {
		return nil, devapi.Errorf(devapi.EINVALID, "invalid database id %q", id)
	}
	p.mu.Lock()
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
	return in, nil
}

// Serve implements devapi.Plane.
func (p *Plane) Serve(ctx context.Context, d devapi.PlaneDatabase) error {
	if err := checkPassword(d.Password); err != nil {
		return err
	}
	if d.TLS && p.certPEM == nil {
		return fmt.Errorf("redisserverplane: database %s wants TLS but the plane has no certificate", d.ID)
	}
	in, err := p.lock(d.ID, true)
	if err != nil {
		return err
	}
	defer in.mu.Unlock()
	if in.running && (in.spec.Port != d.Port || in.spec.TLS != d.TLS) {
		p.stop(in)
	}
	if d.Generation < in.generation {
		// A stale spec: keep the newer password, take the rest.
		d.Password, d.Generation = in.spec.Password, in.generation
	}
	if !in.running {
		if err := p.start(ctx, in, d); err != nil {
			return err
		}
	} else if in.spec.MaxMemory != d.MaxMemory || in.spec.Eviction != d.Eviction {
		if err := in.admin.ConfigSet(ctx, "maxmemory", strconv.FormatInt(d.MaxMemory, 10)).Err(); err != nil {
			return fmt.Errorf("redisserverplane: set maxmemory of %s: %w", in.id, err)
		}
		if err := in.admin.ConfigSet(ctx, "maxmemory-policy", policy(d.Eviction)).Err(); err != nil {
			return fmt.Errorf("redisserverplane: set maxmemory-policy of %s: %w", in.id, err)
		}
		in.spec.MaxMemory, in.spec.Eviction = d.MaxMemory, d.Eviction
	}
	// After a devapi restart the plane holds no generation (-1): the stored
	// password, which Serve brings, is applied whatever the process had.
	return p.apply(ctx, in, d.Password, d.Generation)
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
	if !in.running {
		return devapi.Errorf(devapi.ENOTFOUND, "database %s is not served", id)
	}
	if generation <= in.generation {
		return nil
	}
	return p.apply(ctx, in, password, generation)
}

// apply makes the running process accept password for new connections, and
// records it in redis.conf and the generation file for the next start.
func (p *Plane) apply(ctx context.Context, in *instance, password string, generation int64) error {
	if err := in.admin.Do(ctx, "ACL", "SETUSER", "default", "resetpass", ">"+password).Err(); err != nil {
		return fmt.Errorf("redisserverplane: set password of %s: %w", in.id, err)
	}
	in.spec.Password, in.spec.Generation, in.generation = password, generation, generation
	secret, err := adminSecret(in.dir)
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(in.dir, "redis.conf"), p.conf(in, secret)); err != nil {
		return err
	}
	return writeFile(filepath.Join(in.dir, "generation"), []byte(strconv.FormatInt(generation, 10)))
}

// conf is the redis.conf of in.
func (p *Plane) conf(in *instance, secret string) []byte {
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# Written by devapi. Holds passwords: keep it 0600.")
	w("bind %s", p.cfg.Host)
	w("protected-mode no")
	if in.spec.TLS {
		w("port 0")
		w("tls-port %d", in.spec.Port)
		w("tls-cert-file %s", filepath.Join(in.dir, "tls.crt"))
		w("tls-key-file %s", filepath.Join(in.dir, "tls.key"))
		w("tls-auth-clients no")
	} else {
		w("port %d", in.spec.Port)
	}
	w("daemonize no")
	w("pidfile %s", filepath.Join(in.dir, "redis.pid"))
	w("logfile %s", filepath.Join(in.dir, "redis.log"))
	w("dir %s", in.dir)
	w("maxmemory %d", in.spec.MaxMemory)
	w("maxmemory-policy %s", policy(in.spec.Eviction))
	w("appendonly yes")
	w("appendfsync everysec")
	w(`save ""`)
	w("user default reset on >%s ~* &* +@all -acl -config -shutdown -debug -module -replicaof -slaveof -monitor -failover -sync -psync", in.spec.Password)
	w("user %s reset on >%s ~* &* +@all", adminUser, secret)
	return b.Bytes()
}

// policy is the maxmemory-policy for a database's eviction setting.
func policy(eviction bool) string {
	if eviction {
		return "allkeys-lru"
	}
	return "noeviction"
}

// start runs (or adopts) the redis-server of in with spec d.
func (p *Plane) start(ctx context.Context, in *instance, d devapi.PlaneDatabase) error {
	if err := os.MkdirAll(in.dir, 0o700); err != nil {
		return fmt.Errorf("redisserverplane: %w", err)
	}
	secret, err := adminSecret(in.dir)
	if err != nil {
		return err
	}
	in.spec = d
	in.admin = p.adminClient(d, secret)
	confPath := filepath.Join(in.dir, "redis.conf")

	// A process left by a killed devapi: adopt it if it is ours and answers
	// on the expected port, else make sure it is gone.
	if pid := readPid(in.dir); pid > 0 && ownProcess(pid, in.dir) {
		if in.admin.Ping(ctx).Err() == nil {
			in.pid, in.exited, in.running = pid, nil, true
			// It may run with older settings than d's.
			if err := in.admin.ConfigSet(ctx, "maxmemory", strconv.FormatInt(d.MaxMemory, 10)).Err(); err != nil {
				return fmt.Errorf("redisserverplane: set maxmemory of %s: %w", in.id, err)
			}
			return in.admin.ConfigSet(ctx, "maxmemory-policy", policy(d.Eviction)).Err()
		}
		killAndWait(pid)
	}
	if d.TLS {
		if err := writeFile(filepath.Join(in.dir, "tls.crt"), p.certPEM); err != nil {
			return err
		}
		if err := writeFile(filepath.Join(in.dir, "tls.key"), p.keyPEM); err != nil {
			return err
		}
	}
	if err := writeFile(confPath, p.conf(in, secret)); err != nil {
		return err
	}
	cmd := exec.Command(p.binary, confPath)
	cmd.Dir = in.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redisserverplane: start redis-server for %s: %w", in.id, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(startTimeout)
	for {
		err := in.admin.Ping(ctx).Err()
		if err == nil {
			break
		}
		select {
		case <-exited:
			return fmt.Errorf("redisserverplane: redis-server for %s exited at start: %s", in.id, logTail(in.dir))
		default:
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("redisserverplane: redis-server for %s did not answer within %s: %s", in.id, startTimeout, logTail(in.dir))
		}
		time.Sleep(20 * time.Millisecond)
	}
	in.pid, in.exited, in.running = cmd.Process.Pid, exited, true
	return nil
}

// adminClient connects as devapi's ACL user. For TLS databases it trusts
// exactly the certificate the plane serves.
func (p *Plane) adminClient(d devapi.PlaneDatabase, secret string) *redis.Client {
	opt := &redis.Options{
		Addr:         net.JoinHostPort(p.cfg.Host, strconv.Itoa(d.Port)),
		Username:     adminUser,
		Password:     secret,
		PoolSize:     1,
		MaxRetries:   -1,
		DialTimeout:  2 * time.Second,
		ReadTimeout:  5 * time.Second,
		WriteTimeout: 5 * time.Second,
	}
	if d.TLS {
		own := p.cfg.TLS.Certificates[0].Certificate[0]
		opt.TLSConfig = &tls.Config{
			MinVersion:         tls.VersionTLS12,
			InsecureSkipVerify: true, // replaced by the pin below
			VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
				if len(raw) == 0 || !bytes.Equal(raw[0], own) {
					return errors.New("redisserverplane: the server does not present devapi's certificate")
				}
				return nil
			},
		}
	}
	return redis.NewClient(opt)
}

// stop shuts in's process down (SHUTDOWN flushes the AOF) and waits for it.
func (p *Plane) stop(in *instance) {
	if !in.running {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	_ = in.admin.Shutdown(ctx).Err() // the connection closes: an error is expected
	_ = in.admin.Close()
	if in.exited != nil {
		select {
		case <-in.exited:
		case <-time.After(stopTimeout):
			_ = syscall.Kill(in.pid, syscall.SIGKILL)
			<-in.exited
		}
	} else {
		waitGone(in.pid, stopTimeout)
	}
	in.running = false
}

// Remove implements devapi.Plane.
func (p *Plane) Remove(_ context.Context, id string) error {
	in, err := p.lock(id, true)
	if err != nil {
		return err
	}
	defer in.mu.Unlock()
	p.stop(in)
	// A process we never adopted (the store dropped it before a restart).
	if pid := readPid(in.dir); pid > 0 && ownProcess(pid, in.dir) {
		killAndWait(pid)
	}
	if err := os.RemoveAll(in.dir); err != nil {
		return fmt.Errorf("redisserverplane: remove %s: %w", id, err)
	}
	p.mu.Lock()
	delete(p.dbs, id)
	p.mu.Unlock()
	return nil
}

// Status implements devapi.Plane.
func (p *Plane) Status(ctx context.Context, id string) (devapi.PlaneStatus, error) {
	in, err := p.lock(id, false)
	if err != nil {
		return devapi.PlaneStatus{}, err
	}
	defer in.mu.Unlock()
	if !in.running {
		return devapi.PlaneStatus{}, devapi.Errorf(devapi.ENOTFOUND, "database %s is not served", id)
	}
	info, err := in.admin.Info(ctx, "clients", "stats", "keyspace").Result()
	if err != nil {
		return devapi.PlaneStatus{}, fmt.Errorf("redisserverplane: status of %s: %w", id, err)
	}
	st := devapi.PlaneStatus{State: devapi.PlaneRunning, Generation: in.generation, Addr: in.admin.Options().Addr}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		name, value, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(value, 10, 64)
		switch {
		case name == "connected_clients":
			st.Connections = n - 1 // devapi's own admin connection
		case name == "total_connections_received":
			st.TotalConnections = n
		case name == "total_commands_processed":
			st.Commands = n
		case strings.HasPrefix(name, "db"):
			keys, _, _ := strings.Cut(strings.TrimPrefix(value, "keys="), ",")
			k, _ := strconv.ParseInt(keys, 10, 64)
			st.Keys += k
		}
	}
	return st, nil
}

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

// Close stops every process the plane runs; their data stays.
func (p *Plane) Close() error {
	p.mu.Lock()
	ins := make([]*instance, 0, len(p.dbs))
	for _, in := range p.dbs {
		ins = append(ins, in)
	}
	p.dbs = map[string]*instance{}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, in := range ins {
		wg.Go(func() {
			in.mu.Lock()
			defer in.mu.Unlock()
			p.stop(in)
		})
	}
	wg.Wait()
	return nil
}

// adminSecret returns the folder's admin secret, creating it once.
func adminSecret(dir string) (string, error) {
	path := filepath.Join(dir, "admin.secret")
	if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	raw := make([]byte, 24)
	_, _ = rand.Read(raw)
	secret := hex.EncodeToString(raw)
	if err := writeFile(path, []byte(secret)); err != nil {
		return "", err
	}
	return secret, nil
}

// writeFile replaces path with data, mode 0600, through a rename.
func writeFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("redisserverplane: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("redisserverplane: %w", err)
	}
	return nil
}

func readPid(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, "redis.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// ownProcess reports whether pid is a live redis-server of the database
// folder dir. redis-server rewrites its process title, so the folder is told
// by the process's working directory (redis-server changes to its `dir`).
func ownProcess(pid int, dir string) bool {
	if !alive(pid) {
		return false // gone, or a zombie, which holds no port
	}
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	if err != nil {
		return false
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return false
	}
	abs, err := filepath.Abs(dir)
	return err == nil && cwd == abs && strings.Contains(filepath.Base(exe), "redis")
}

// killAndWait ends pid: SIGTERM, then SIGKILL if it lingers.
func killAndWait(pid int) {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	if !waitGone(pid, stopTimeout) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		waitGone(pid, stopTimeout)
	}
}

// waitGone waits until pid no longer runs (gone or a zombie).
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

func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, ok := strings.Cut(string(stat), ") ")
	return ok && !strings.HasPrefix(rest, "Z")
}

// logTail is the end of a database's redis.log, for error messages.
func logTail(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "redis.log"))
	if err != nil {
		return "(no log)"
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, " | ")
}
