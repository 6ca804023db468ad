package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gofrs/flock"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/app"
	"github.com/devapi-dev/devapi/internal/console"
	"github.com/devapi-dev/devapi/internal/gctune"
	"github.com/devapi-dev/devapi/internal/logbuf"
	"github.com/devapi-dev/devapi/internal/textlog"
	"github.com/devapi-dev/devapi/internal/tlsca"
	"github.com/devapi-dev/devapi/poolplane"
	"github.com/devapi-dev/devapi/restapi"
	"github.com/devapi-dev/devapi/server"
	"github.com/devapi-dev/devapi/upstashproxy"
)

// Environment variables devapi serve reads. UPSTASH_EMAIL and UPSTASH_API_KEY
// are the names Upstash's own tools use, so one environment serves a client
// and the server it talks to.
const (
	envEmail  = "UPSTASH_EMAIL"
	envAPIKey = "UPSTASH_API_KEY"
	// envPool lists the Redis pool's servers for --plane pool when
	// --pool-file is not given: URLs separated by newlines or spaces.
	envPool = "DEVAPI_POOL"
)

// poolReconcileEvery is --reconcile-every's default for --plane pool,
// where every round applies every password again.
const poolReconcileEvery = time.Minute

// defaultEmail is the default account's email when UPSTASH_EMAIL is unset.
const defaultEmail = "dev@devapi.local"

type serveOptions struct {
	addr           string
	limits         limitFlags
	data           string
	store          storeFlags
	tlsCert        string
	tlsKey         string
	advertisedHost string
	logFormat      string
	plane          string
	ports          string
	redisServer    string
	restAddr       string
	poolFile       string
	reconcileEvery time.Duration
	scriptTime     time.Duration
	scriptMemory   int64
	restLimits     restapi.Limits
	maxBackupSize  int64

	// proxyAddr is --proxy-addr: where the HTTPS proxy listens; empty: no proxy.
	proxyAddr          string
	proxyInterceptOnly bool

	// console is --console: serve the web console at / on --addr.
	console bool

	// noEnvAccount is --no-env-account: leave UPSTASH_EMAIL and
	// UPSTASH_API_KEY out of the default account.
	noEnvAccount bool
}

func newServeCommand(getenv func(string) string) *cobra.Command {
	var o serveOptions
	c := &cobra.Command{
		Use:   "serve",
		Short: "Serve the Upstash Developer API on this machine",
		Long: `Serve the Upstash Developer API under /v2, so that a request to
https://api.upstash.com/v2/PATH works as http://ADDR/v2/PATH. The web
console is at http://ADDR/ (--console=false leaves it out).

The default account comes from UPSTASH_EMAIL and UPSTASH_API_KEY, unless
--no-env-account; a key added from there is logged at WARN by its fingerprint.
When they are unset, devapi creates an account and an API key on first start and writes
them to the file "credentials" in the data folder (mode 0600).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("reconcile-every") && o.plane == "pool" {
				o.reconcileEvery = poolReconcileEvery
			}
			return runServe(cmd.Context(), o, getenv, cmd.ErrOrStderr())
		},
	}
	f := c.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:8080", "address to listen on")
	f.StringVar(&o.data, "data", defaultDataDir(getenv), "folder for devapi's files (created 0700)")
	o.store.register(f)
	o.limits.register(f)
	f.StringVar(&o.tlsCert, "tls-cert", "", "serve HTTPS with this PEM certificate (needs --tls-key)")
	f.StringVar(&o.tlsKey, "tls-key", "", "PEM private key for --tls-cert")
	f.StringVar(&o.advertisedHost, "advertised-host", "127.0.0.1", "host name put into each database's endpoint")
	f.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&o.plane, "plane", "embedded", "data plane: embedded (in-process Redis, data in memory), redis-server (one redis-server process per database, data on disk) or pool (a Redis server of its own per database, out of the running servers listed by --pool-file or $"+envPool+"; what replicas on one PostgreSQL store use)")
	f.StringVar(&o.poolFile, "pool-file", "", "for --plane pool: file listing the pool's Redis servers, one redis:// or rediss:// URL with admin credentials a line (default: $"+envPool+"); keep it mode 0600")
	f.DurationVar(&o.reconcileEvery, "reconcile-every", 10*time.Second, "how often to check every database against the store and repair what differs: a database that is not served, or a password the plane did not take (a reset answered 503). With --plane pool every password is applied again, and the default is "+poolReconcileEvery.String()+" (0: only at start)")
	f.StringVar(&o.ports, "ports", "16380-17379", "range of TCP ports for databases (keep below 32768)")
	f.StringVar(&o.restAddr, "rest-addr", "127.0.0.1:8081", "address of the REST data API (UPSTASH_REDIS_REST_URL for every database; the token picks the database)")
	f.StringVar(&o.proxyAddr, "proxy-addr", getenv(envProxyAddr), "serve an HTTPS proxy here (HTTPS_PROXY for unchanged tools) that answers api.upstash.com with this API and tunnels other hosts (default $"+envProxyAddr+"; off when empty)")
	f.BoolVar(&o.proxyInterceptOnly, "proxy-intercept-only", false, "the proxy refuses (403) every host it does not answer itself, instead of tunnelling it")
	f.BoolVar(&o.console, "console", true, "serve the web console at / on --addr, beside the API at /v2: sign in with an account's email and API key")
	f.BoolVar(&o.noEnvAccount, "no-env-account", false, "do not take the default account from $"+envEmail+" and $"+envAPIKey+" (a shell may hold another service's credentials): use the data folder's credentials file")
	f.StringVar(&o.redisServer, "redis-server", "redis-server", "the redis-server binary, for --plane redis-server")
	f.DurationVar(&o.scriptTime, "script-time-limit", 5*time.Second, "for --plane embedded: stop a Lua script (EVAL) that runs longer, with an error; other clients of its database get BUSY meanwhile")
	f.Int64Var(&o.scriptMemory, "script-memory-limit", 256<<20, "for --plane embedded: fail a Lua script that allocates more bytes than this (or than its plan's memory, when less)")
	f.Int64Var(&o.maxBackupSize, "max-backup-size", 0, "most bytes of keys and values a backup may hold, when less than the plan's disk limit (0: the plan's limit); create-backup of a bigger database answers 400, its daily backup is skipped")
	// The REST API's limits: 0 means its default, which shrinks to fit
	// the other limits given.
	rd := restapi.DefaultLimits()
	f.Int64Var(&o.restLimits.MaxBodyBytes, "rest-max-body", 0, fmt.Sprintf("REST API: largest request body in bytes, counted on the wire; 413 past it (0: %d, Upstash's 10 MB)", rd.MaxBodyBytes))
	f.IntVar(&o.restLimits.MaxCommands, "rest-max-commands", 0, fmt.Sprintf("REST API: most commands in one /pipeline or /multi-exec; 400 past it, and none runs (0: %d)", rd.MaxCommands))
	f.Int64Var(&o.restLimits.MaxResponseBytes, "rest-max-response", 0, fmt.Sprintf("REST API: largest JSON answer in bytes; an error answer past it (0: %d)", rd.MaxResponseBytes))
	f.Int64Var(&o.restLimits.MaxInFlightBytes, "rest-max-inflight", 0, fmt.Sprintf("REST API: bytes of request bodies and answers held at once over every database; 429 past it (0: %d)", rd.MaxInFlightBytes))
	f.Int64Var(&o.restLimits.MaxDatabaseInFlightBytes, "rest-max-inflight-db", 0, fmt.Sprintf("REST API: bytes of request bodies and answers held at once for one database; 429 past it (0: %d)", rd.MaxDatabaseInFlightBytes))
	f.IntVar(&o.restLimits.MaxDatabaseRequests, "rest-max-requests-db", 0, fmt.Sprintf("REST API: requests one database serves at once; 429 past it (0: %d)", rd.MaxDatabaseRequests))
	f.IntVar(&o.restLimits.MaxDatabaseStreams, "rest-max-streams-db", 0, fmt.Sprintf("REST API: event streams (/subscribe, /psubscribe, /monitor) one database holds open at once; 429 past it (0: %d)", rd.MaxDatabaseStreams))
	f.Int64Var(&o.restLimits.MaxStreamBufferBytes, "rest-max-stream-buffer", 0, fmt.Sprintf("REST API: bytes of events one stream holds for a client that has not taken them; a client further behind is dropped (0: %d)", rd.MaxStreamBufferBytes))
	return c
}

func runServe(ctx context.Context, o serveOptions, getenv func(string) string, stderr interface{ Write([]byte) (int, error) }) error {
	// The log's lines are buffered: a write per request line cost more
	// than the line. They reach stderr at most 100 ms later, warnings and
	// errors (with what came before them) at once, and the rest on return.
	logOut := logbuf.New(stderr, 0)
	defer func() { _ = logOut.Close() }()
	// The collector waits for 64 MiB of new heap while the heap is small,
	// instead of running every few MiB (internal/gctune); GOGC in the
	// environment overrides it.
	defer gctune.Start(gctune.DefaultHeadroom)()
	var handler slog.Handler
	switch o.logFormat {
	case "text":
		// slog's text format, formatted for less CPU (internal/textlog).
		handler = textlog.NewHandler(logOut, nil)
	case "json":
		handler = slog.NewJSONHandler(logOut, nil)
	default:
		return usageError{fmt.Errorf("--log-format must be text or json, not %q", o.logFormat)}
	}
	// Requests that came through the proxy are logged with via=proxy.
	handler = logOut.Handler(upstashproxy.LogHandler(handler))
	if o.proxyInterceptOnly && o.proxyAddr == "" {
		return usageError{errors.New("--proxy-intercept-only goes with --proxy-addr")}
	}
	if err := o.restLimits.Check(); err != nil {
		return usageError{fmt.Errorf("--rest-max-*: %w", err)}
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return usageError{errors.New("--tls-cert and --tls-key go together")}
	}
	ports, err := server.ParsePortRange(o.ports)
	if err != nil {
		return usageError{fmt.Errorf("--ports: %w", err)}
	}
	if o.scriptTime <= 0 || o.scriptMemory <= 0 {
		return usageError{errors.New("--script-time-limit and --script-memory-limit must be above 0")}
	}
	if o.maxBackupSize < 0 {
		return usageError{errors.New("--max-backup-size must be 0 (the plan's limit) or more")}
	}
	storeURL, err := o.store.resolve(getenv)
	if err != nil {
		return err
	}
	if o.plane != "embedded" && o.plane != "redis-server" && o.plane != "pool" {
		return usageError{fmt.Errorf("--plane must be embedded, redis-server or pool, not %q", o.plane)}
	}
	var poolServers []poolplane.ServerSpec
	if o.plane == "pool" {
		if poolServers, err = readPool(o.poolFile, getenv); err != nil {
			return err
		}
	} else if o.poolFile != "" {
		return usageError{errors.New("--pool-file goes with --plane pool")}
	}
	if isShared(storeURL) && o.plane != "pool" {
		return usageError{fmt.Errorf("a PostgreSQL store is shared by devapi replicas, and --plane %s would start a Redis of its own for every database in each replica: use --plane pool", o.plane)}
	}
	logger := slog.New(handler)
	// go-redis reports dial failures through a process-wide logger of its
	// own; send them to devapi's log, in its format.
	redis.SetLogger(redisLogger{logger})

	// Nothing is written before every listener is bound and the plane's
	// binary is found: a start that fails on a port in use, a bad address or
	// a missing redis-server leaves no data folder, store, account or
	// credentials file behind. app.Open binds the listeners before it calls
	// OpenStore, which creates the data folder, and writes ca.pem and the
	// default account (Setup) only once the plane is ready.
	var tlsConfig *tls.Config
	if o.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return fmt.Errorf("load --tls-cert/--tls-key: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if o.plane == app.RedisServer {
		if o.redisServer, err = findRedisServer(o.redisServer); err != nil {
			return err
		}
	}
	crash := crashHook(getenv, logger)
	if armed := crash; armed != nil {
		// The log reaches stderr before a crash point kills the process.
		crash = func(point string) { _ = logOut.Flush(); armed(point) }
	}
	serverConfig, err := o.limits.apply(server.Config{
		Ports:          ports,
		MaxBackupBytes: o.maxBackupSize,
		Crash:          crash,
	})
	if err != nil {
		return err
	}
	var storeName, acctEmail, acctKey string
	caFile := filepath.Join(o.data, "ca.pem")
	// A data folder this start creates is removed again if the start fails
	// (a plane that cannot start, a store that does not open): a failed
	// first start leaves nothing behind.
	_, statErr := os.Stat(o.data)
	newDataDir := errors.Is(statErr, fs.ErrNotExist)
	a, err := app.Open(ctx, app.Config{
		APIAddr:   o.addr,
		RESTAddr:  o.restAddr,
		ProxyAddr: o.proxyAddr,
		TLS:       tlsConfig,
		Dir:       o.data,
		OpenStore: func(ctx context.Context) (devapi.Store, func(), error) {
			store, name, release, err := openDataFolder(ctx, o.data, storeURL)
			storeName = name
			return store, release, err
		},
		CAFile: caFile,
		Setup: func(ctx context.Context, store devapi.Store) (err error) {
			acctEmail, acctKey, err = ensureDefaultAccount(ctx, store, o.data, !o.noEnvAccount, getenv, logger)
			return err
		},
		Plane: app.PlaneConfig{
			Kind:              o.plane,
			RedisServer:       o.redisServer,
			OrphansDir:        filepath.Join(o.data, orphansDir),
			Pool:              poolServers,
			ScriptTimeLimit:   o.scriptTime,
			ScriptMemoryLimit: o.scriptMemory,
		},
		AdvertisedHost: o.advertisedHost,
		Server:         serverConfig,
		REST:           restapi.Config{Limits: o.restLimits},
		Proxy: func(ca *tlsca.CA, ln net.Listener, api, rest http.Handler) (*upstashproxy.Proxy, error) {
			return newProxy(o, ca, ln, api, rest, logger)
		},
		ReconcileEvery: o.reconcileEvery,
		Logger:         logger,
	})
	if err != nil {
		if newDataDir {
			_ = os.RemoveAll(o.data)
		}
		return listenFlagError(err)
	}
	consoleURL, signIn := "", ""
	if o.console {
		c, err := mountConsole(a, caFile, tlsConfig != nil, logger)
		if err != nil {
			return errors.Join(err, a.Close())
		}
		consoleURL = a.APIURL() + "/"
		if acctKey != "" {
			signIn = a.APIURL() + c.SignInLink(acctEmail, acctKey)
		}
	}
	record := serveRecord{API: a.APIURL(), REST: a.RESTURL(), Proxy: a.ProxyURL(), PID: os.Getpid()}
	if err := writeServeRecord(o.data, record); err != nil {
		return errors.Join(err, a.Close())
	}
	defer func() { _ = os.Remove(filepath.Join(o.data, serveRecordFile)) }()
	if err := setCredentialsAPIURL(filepath.Join(o.data, "credentials"), record.API); err != nil {
		return errors.Join(err, a.Close())
	}
	if signIn != "" {
		// The one place a secret goes to the log: a link that signs one
		// browser in as the default account, once, within a day.
		logger.Info("console: open this link to sign in as the default account (works once, for 24 hours)", "email", acctEmail, "link", signIn)
	}
	logger.Info("devapi serving", "api", record.API+"/v2", "rest", record.REST, "proxy", record.Proxy,
		"console", consoleURL, "data", o.data, "store", storeName, "plane", o.plane, "ca", caFile)
	_ = logOut.Flush() // whoever waits for the start sees it at once
	return a.Run(ctx)
}

// mountConsole serves the web console at / beside the API (--console). It
// calls the API and the REST API in process.
func mountConsole(a *app.App, caFile string, secure bool, logger *slog.Logger) (*console.Console, error) {
	c, err := console.New(console.Config{API: a.Server().Handler(), REST: a.REST().Handler(),
		RESTURL: a.RESTURL(), CAFile: caFile, Logger: logger, Secure: secure})
	if err != nil {
		return nil, err
	}
	return c, a.Mount("/", c.Handler())
}

// openDataFolder creates and locks the data folder and the SQLite store
// file, and opens the store. The release unlocks both, once the store is
// closed.
func openDataFolder(ctx context.Context, data, storeURL string) (_ devapi.Store, storeName string, _ func(), err error) {
	var undo []func()
	release := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	defer func() {
		if err != nil {
			release()
		}
	}()
	// Everything devapi writes is for its owner only.
	syscall.Umask(0o077)
	if err := makeDataDir(data); err != nil {
		return nil, "", nil, err
	}
	lock := flock.New(filepath.Join(data, "devapi.lock"))
	locked, err := lock.TryLock()
	if err != nil {
		return nil, "", nil, fmt.Errorf("lock data folder: %w", err)
	}
	if !locked {
		return nil, "", nil, fmt.Errorf("data folder %s is in use by another devapi serve; stop it or pass another --data", data)
	}
	undo = append(undo, func() { _ = lock.Unlock() })
	unlockStore, err := lockSQLiteStore(storeURL, data)
	if err != nil {
		return nil, "", nil, err
	}
	undo = append(undo, unlockStore)
	store, storeName, err := openStore(ctx, storeURL, data)
	if err != nil {
		return nil, "", nil, fmt.Errorf("open store: %w", err)
	}
	return store, storeName, release, nil
}

// listenFlags names the flag of each of app's listeners.
var listenFlags = map[string]string{"api": "--addr", "rest": "--rest-addr", "proxy": "--proxy-addr"}

// listenFlagError turns a listener's bind error into one that names its
// flag and, for a port in use, the likely cause. Other errors pass as they
// are.
func listenFlagError(err error) error {
	var le *app.ListenError
	if !errors.As(err, &le) {
		return err
	}
	flag := listenFlags[le.Listener]
	if errors.Is(le.Err, syscall.EADDRINUSE) {
		return fmt.Errorf("%s %s: address already in use; is devapi already running? choose another with %s", flag, le.Addr, flag)
	}
	return fmt.Errorf("%s %s: %w; choose another with %s", flag, le.Addr, le.Err, flag)
}

// findRedisServer finds the redis-server binary of --redis-server: a name
// without a slash is looked up on PATH, a path is checked as it is. It
// returns the binary's path.
func findRedisServer(name string) (string, error) {
	path, err := exec.LookPath(name)
	switch {
	case err == nil:
		return path, nil
	case strings.ContainsRune(name, filepath.Separator) || strings.Contains(name, "/"):
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("--redis-server %s: not found; install redis-server (Debian: apt-get install redis-server), pass its path, or choose --plane embedded", name)
		}
		return "", fmt.Errorf("--redis-server %s: %w; pass the path of an executable redis-server, or choose --plane embedded", name, errors.Unwrap(err))
	default:
		return "", fmt.Errorf("--redis-server %s: not found on PATH; install redis-server (Debian: apt-get install redis-server), pass its path, or choose --plane embedded", name)
	}
}

// writeFileAtomic replaces path with data through a rename, so readers never
// see half a file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// envCrash names a reset step (server.CrashReset*) at which devapi kills
// itself. For crash tests only; unset in normal runs.
const envCrash = "DEVAPI_TEST_CRASH_AT"

// envJitter names a reset step and a duration, "POINT:DURATION", at which
// devapi pauses for a random time up to DURATION: it widens the windows in
// which concurrent resets overtake each other. For tests only.
const envJitter = "DEVAPI_TEST_JITTER"

// crashHook returns the server's Crash hook: nil unless envCrash or
// envJitter is set.
func crashHook(getenv func(string) string, logger *slog.Logger) func(string) {
	at := getenv(envCrash)
	jitterAt, jitterFor, _ := strings.Cut(getenv(envJitter), ":")
	jitter, _ := time.ParseDuration(jitterFor)
	if at == "" && jitter <= 0 {
		return nil
	}
	if at != "" {
		logger.Warn("crash point armed: devapi will kill itself there", "point", at)
	}
	if jitter > 0 {
		logger.Warn("jitter armed: devapi will pause there", "point", jitterAt, "up_to", jitter)
	}
	return func(point string) {
		if point == at {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
		if point == jitterAt && jitter > 0 {
			time.Sleep(rand.N(jitter))
		}
	}
}

// ensureDefaultAccount sets up the account clients use by default: the one
// in UPSTASH_EMAIL/UPSTASH_API_KEY, else the one in the data folder's
// credentials file, else (on a store with no account yet) a new one written
// to that file. It answers the default account's email and key, or none
// when accounts are managed with devapi accounts.
//
// With useEnv false (--no-env-account) the environment is not read. A key
// from the environment that the store did not hold yet is added to the
// account for good, so serve says so once, at WARN, with the key's
// fingerprint (never the key): a shell that still holds another service's
// credentials shows up in the log.
func ensureDefaultAccount(ctx context.Context, store devapi.Store, dataDir string, useEnv bool, getenv func(string) string, logger *slog.Logger) (email, key string, err error) {
	now := time.Now().UTC()
	email, key = getenv(envEmail), getenv(envAPIKey)
	if !useEnv {
		email, key = "", ""
	}
	switch {
	case email != "" && key != "":
		if err := checkAPIKey("$"+envAPIKey, key); err != nil {
			return "", "", err
		}
		added, err := devapi.EnsureAPIKey(ctx, store, email, key, envAPIKey, now)
		if err != nil {
			return "", "", fmt.Errorf("default account from %s: %w", envEmail, err)
		}
		if added {
			logger.Warn("registered the API key in $"+envAPIKey+" for good: it opens this devapi until removed with devapi accounts delete-key; pass --no-env-account to leave the environment out",
				"email", email, "key_fingerprint", keyFingerprint(key))
			return email, key, nil
		}
		logger.Info("default account from the environment", "email", email, "key_fingerprint", keyFingerprint(key))
		return email, key, nil
	case email != "" || key != "":
		return "", "", usageError{fmt.Errorf("set both %s and %s, or neither (or pass --no-env-account)", envEmail, envAPIKey)}
	}

	path := filepath.Join(dataDir, "credentials")
	email, key, err = readCredentialsFile(path)
	switch {
	case err == nil:
		if err := checkAPIKey(path, key); err != nil {
			return "", "", err
		}
		if _, err := devapi.EnsureAPIKey(ctx, store, email, key, "credentials file", now); err != nil {
			return "", "", fmt.Errorf("default account from %s: %w", path, err)
		}
		logger.Info("default account from the credentials file", "email", email, "credentials", path)
		return email, key, nil
	case !errors.Is(err, os.ErrNotExist):
		return "", "", err
	}
	accounts, err := store.Accounts(ctx)
	if err != nil {
		return "", "", err
	}
	if len(accounts) > 0 {
		return "", "", nil // accounts are managed with devapi accounts
	}
	email, key = defaultEmail, devapi.NewAPIKey()
	if _, err := devapi.EnsureAPIKey(ctx, store, email, key, "credentials file", now); err != nil {
		return "", "", err
	}
	if err := writeCredentialsFile(path, email, key); err != nil {
		return "", "", err
	}
	logger.Info("created the default account; its API key is in the credentials file", "email", email, "credentials", path)
	return email, key, nil
}

// keyFingerprint names an API key in logs without revealing it: the first
// 12 hex digits of its SHA-256.
func keyFingerprint(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(sum[:6])
}

// writeCredentialsFile writes an account's email and key as a 0600 file of
// environment assignments, so `set -a; . FILE` sets up a client.
func writeCredentialsFile(path, email, key string) error {
	content := fmt.Sprintf("# devapi default account. Use it with: set -a; . %s; set +a\n%s=%s\n%s=%s\n", path, envEmail, email, envAPIKey, key)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write credentials file: %w", err)
	}
	if _, err := f.WriteString(content); err != nil {
		_ = f.Close()
		return fmt.Errorf("write credentials file: %w", err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("write credentials file: %w", err)
	}
	return f.Close()
}

// readCredentialsFile reads what writeCredentialsFile wrote.
func readCredentialsFile(path string) (email, key string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", "", err
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		switch {
		case !ok:
		case name == envEmail:
			email = value
		case name == envAPIKey:
			key = value
		}
	}
	if err := sc.Err(); err != nil {
		return "", "", fmt.Errorf("read %s: %w", path, err)
	}
	if email == "" || key == "" {
		return "", "", fmt.Errorf("%s must set %s and %s", path, envEmail, envAPIKey)
	}
	return email, key, nil
}

// readPool reads the Redis pool's servers from --pool-file, else from
// DEVAPI_POOL. The URLs carry admin passwords, so they never come from the
// command line.
func readPool(file string, getenv func(string) string) ([]poolplane.ServerSpec, error) {
	var text, from string
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--pool-file: %w", err)
		}
		text, from = string(b), "--pool-file "+file
	} else {
		text, from = strings.Join(strings.Fields(getenv(envPool)), "\n"), "$"+envPool
		if text == "" {
			return nil, usageError{fmt.Errorf("--plane pool needs Redis servers: list their URLs in --pool-file or $%s", envPool)}
		}
	}
	servers, err := poolplane.ParseServers(text)
	if err != nil {
		return nil, usageError{fmt.Errorf("%s: %w", from, err)}
	}
	return servers, nil
}

// redisLogger passes go-redis's messages to devapi's log as warnings.
type redisLogger struct{ logger *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.logger.WarnContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
}
