package embeddedplane

// Scripts on the embedded plane: EVAL, EVALSHA, their _RO forms and SCRIPT,
// run by devapi on gopher-lua instead of by miniredis.
//
// miniredis runs scripts with gopher-lua's package, base and debug libraries
// open (loadfile, dofile, require, setfenv, print reach the host), under its
// one lock with no time limit (a `while true do end` stops every client of
// the database, its password change, delete and stats) and with no memory
// limit (a few string.rep calls end the process). Here:
//   - A script sees exactly the globals redis-server 7.0 gives one, and no
//     file, module, output or debug function (lua.go).
//   - It runs under a time limit (context deadline on the Lua VM) and can be
//     stopped with SCRIPT KILL; close stops it too.
//   - It runs under a memory limit: builtins that make one big value from
//     small inputs refuse results over the limit before allocating, and a
//     watchdog cancels a script when the process's heap grew past the limit
//     while it ran (an estimate: the heap is shared by every database).
//   - It is atomic the way Redis scripts are: every other command of the
//     database runs between enter and leave, and a script holds that gate
//     alone. Past busyAfter, clients get BUSY instead of waiting.
//   - Each run gets a fresh Lua state, so nothing a script changes outlives
//     it.

import (
	"bufio"
	"bytes"
	"container/list"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/alicebob/miniredis/v2/server"
	lua "github.com/yuin/gopher-lua"
)

// scriptConfig bounds the scripts of one database.
type scriptConfig struct {
	// timeLimit stops a script that runs longer. Default: 5 s.
	timeLimit time.Duration
	// memoryLimit fails a script that allocates more. Default: 256 MiB.
	memoryLimit int64
	// logger receives redis.log lines, rate-limited. Default: discard.
	logger *slog.Logger
	// functions are the database's function libraries (functions.go),
	// which outlive a front. Default: a new, empty set.
	functions *functionLibs
}

const (
	defaultTimeLimit   = 5 * time.Second
	defaultMemoryLimit = 256 << 20

	// defaultBusyAfter is how long a running script makes other clients
	// wait before they get BUSY. Redis's busy-reply-threshold is 5 s, but
	// Redis never stops a script by itself, so its clients may wait for
	// ever; devapi stops scripts at the time limit (5 s by default), so a
	// client that waited 5 s would mostly get its answer just as the script
	// is killed. One second keeps a client from hanging on a runaway script
	// while short scripts still look atomic, as in Redis.
	defaultBusyAfter = time.Second
	// defaultSampleEvery is how often the memory watchdog reads the heap
	// size while a script runs. Reading runtime/metrics does not stop the
	// world.
	defaultSampleEvery = 2 * time.Millisecond

	// Script cache bounds: SCRIPT LOAD and EVAL add to it; past either
	// bound the oldest scripts are dropped (EVALSHA then answers NOSCRIPT,
	// and the client sends the script again, as after a restart).
	maxCachedScripts = 10000
	maxCachedBytes   = 64 << 20

	// logEvery and logBurst rate-limit redis.log: at most logBurst lines a
	// logEvery per database; the lines over it are counted and the count
	// logged with the next line that passes.
	logEvery = time.Second
	logBurst = 10
	// maxLogText caps one redis.log line.
	maxLogText = 512
)

// busyError is Redis's answer to a command sent while a script runs.
const busyError = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or FUNCTION KILL."

// Answers about scripts, Redis's texts where Redis has one.
const (
	msgNoScript       = "NOSCRIPT No matching script. Please use EVAL."
	msgNotBusy        = "NOTBUSY No scripts in execution right now."
	msgKilledByUser   = "ERR Script killed by user with SCRIPT KILL..."
	msgKeysNegative   = "ERR Number of keys can't be negative"
	msgKeysTooMany    = "ERR Number of keys can't be greater than number of args"
	msgNotInteger     = "ERR value is not an integer or out of range"
	msgScriptFlush    = "ERR SCRIPT FLUSH only support SYNC|ASYNC option"
	msgScriptsClosed  = "ERR the database is closing"
	msgScriptTooLarge = "ERR script is larger than the script cache of the embedded plane (64 MiB)"
)

// Why a script was stopped: the cause of its context.
var (
	errKilledByUser = errors.New("killed by SCRIPT KILL")
	errClosing      = errors.New("database closing")
	errOverMemory   = errors.New("over the memory limit")
)

// isScriptCommand reports whether cmd (upper case) runs or manages scripts:
// those go to handle instead of miniredis.
func isScriptCommand(cmd string) bool {
	switch cmd {
	case "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "SCRIPT", "FUNCTION", "FCALL", "FCALL_RO":
		return true
	}
	return false
}

// scripts runs the scripts of one database (one miniredis) and keeps its
// gate and script cache.
type scripts struct {
	m   *miniredis.Miniredis
	cfg scriptConfig
	// busyAfter: see defaultBusyAfter.
	busyAfter time.Duration
	// sampleEvery: see defaultSampleEvery. 0 turns the watchdog off.
	sampleEvery time.Duration

	mu sync.Mutex
	// The gate. readers commands run now; queued scripts wait for them;
	// running is true while a script holds the gate, since started.
	readers int
	queued  int
	running bool
	started time.Time
	changed chan struct{} // closed and replaced when the gate changes
	run     *scriptRun    // the running script, nil when none
	closed  bool
	peers   map[*server.Peer]struct{} // peers running redis.call
	cache   scriptCache
	log     logLimiter
}

// scriptRun is a running script, for SCRIPT KILL and close.
type scriptRun struct {
	stop context.CancelCauseFunc
	done chan struct{}
}

// newScripts returns the scripts of the database m serves.
func newScripts(m *miniredis.Miniredis, cfg scriptConfig) *scripts {
	if cfg.timeLimit <= 0 {
		cfg.timeLimit = defaultTimeLimit
	}
	if cfg.memoryLimit <= 0 {
		cfg.memoryLimit = defaultMemoryLimit
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
	}
	if cfg.functions == nil {
		cfg.functions = newFunctionLibs()
	}
	return &scripts{
		m:           m,
		cfg:         cfg,
		busyAfter:   defaultBusyAfter,
		sampleEvery: defaultSampleEvery,
		changed:     make(chan struct{}),
		peers:       map[*server.Peer]struct{}{},
		cache:       newScriptCache(maxCachedScripts, maxCachedBytes),
	}
}

// broadcastLocked wakes everyone waiting on the gate; s.mu is held.
func (s *scripts) broadcastLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// waitLocked returns what to wait on before looking at the gate again, or
// busy when a script has held it longer than busyAfter; s.mu is held.
func (s *scripts) waitLocked() (wait func(), busy bool) {
	ch := s.changed
	if !s.running {
		return func() { <-ch }, false
	}
	left := s.busyAfter - time.Since(s.started)
	if left <= 0 {
		return nil, true
	}
	return func() {
		t := time.NewTimer(left)
		defer t.Stop()
		select {
		case <-ch:
		case <-t.C:
		}
	}, false
}

// enter lets one command of a client through the gate: it waits while a
// script runs or waits to run, and answers busy instead once the running
// script has held the gate longer than busyAfter. leave must be called when
// the command is done.
func (s *scripts) enter(*server.Peer) (leave func(), busy bool) {
	for {
		s.mu.Lock()
		if !s.running && s.queued == 0 {
			s.readers++
			s.mu.Unlock()
			var once sync.Once
			return func() { once.Do(s.leave) }, false
		}
		wait, busy := s.waitLocked()
		s.mu.Unlock()
		if busy {
			return func() {}, true
		}
		wait()
	}
}

func (s *scripts) leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readers--
	if s.readers == 0 && s.queued > 0 {
		s.broadcastLocked()
	}
}

// acquire takes the gate for a script, alone. It answers busy as enter
// does, and closed after close. release gives the gate back.
func (s *scripts) acquire(stop context.CancelCauseFunc) (run *scriptRun, busy, closed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queued++
	defer func() {
		s.queued--
		if s.queued == 0 {
			s.broadcastLocked()
		}
	}()
	for {
		if s.closed {
			return nil, false, true
		}
		if !s.running && s.readers == 0 {
			s.running, s.started = true, time.Now()
			s.run = &scriptRun{stop: stop, done: make(chan struct{})}
			return s.run, false, false
		}
		wait, busy := s.waitLocked()
		if busy {
			return nil, true, false
		}
		s.mu.Unlock()
		wait()
		s.mu.Lock()
	}
}

func (s *scripts) release(run *scriptRun) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running, s.run = false, nil
	close(run.done)
	s.broadcastLocked()
}

// nested reports whether c is a peer that runs redis.call for a script.
func (s *scripts) nested(c *server.Peer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.peers[c]
	return ok
}

// close stops a running script and waits for it; scripts sent later answer
// an error. It takes no miniredis lock.
func (s *scripts) close() {
	s.mu.Lock()
	s.closed = true
	run := s.run
	s.broadcastLocked()
	s.mu.Unlock()
	if run != nil {
		run.stop(errClosing)
		<-run.done
	}
}

// kill answers SCRIPT KILL: it stops the running script, if any. Unlike
// Redis, it also stops a script that has written (Redis answers UNKILLABLE
// then): devapi stops scripts at the time limit anyway, so a script's
// writes are not all-or-nothing on the embedded plane.
func (s *scripts) kill(c *server.Peer) {
	s.mu.Lock()
	run := s.run
	s.mu.Unlock()
	if run == nil {
		c.WriteError(msgNotBusy)
		return
	}
	run.stop(errKilledByUser)
	c.WriteOK()
}

// handle serves one scripting command of an authenticated client outside
// MULTI and writes the answer to c.
func (s *scripts) handle(c *server.Peer, cmd string, args []string) {
	switch cmd {
	case "EVAL", "EVAL_RO", "EVALSHA", "EVALSHA_RO":
		s.eval(c, cmd, args)
	case "SCRIPT":
		s.script(c, args)
	default:
		s.functionCommand(c, cmd, args) // FUNCTION, FCALL, FCALL_RO: functions.go
	}
}

func wrongArgs(cmd string) string {
	return fmt.Sprintf("ERR wrong number of arguments for '%s' command", strings.ToLower(cmd))
}

// script serves SCRIPT LOAD, EXISTS, FLUSH and KILL. KILL does not wait for
// the gate; the others wait like any command (BUSY while a script runs).
func (s *scripts) script(c *server.Peer, args []string) {
	if len(args) == 0 {
		c.WriteError(wrongArgs("script"))
		return
	}
	sub := strings.ToUpper(args[0])
	args = args[1:]
	switch sub {
	case "KILL":
		if len(args) != 0 {
			c.WriteError(wrongArgs("script|kill"))
			return
		}
		s.kill(c)
		return
	case "LOAD":
		if len(args) != 1 {
			c.WriteError(wrongArgs("script|load"))
			return
		}
	case "EXISTS":
		if len(args) == 0 {
			c.WriteError(wrongArgs("script|exists"))
			return
		}
	case "FLUSH":
		if len(args) > 1 || (len(args) == 1 && !strings.EqualFold(args[0], "SYNC") && !strings.EqualFold(args[0], "ASYNC")) {
			c.WriteError(msgScriptFlush)
			return
		}
	default:
		c.WriteError(fmt.Sprintf("ERR unknown subcommand '%s'. Try SCRIPT HELP.", sub))
		return
	}
	leave, busy := s.enter(c)
	defer leave()
	if busy {
		c.WriteError(busyError)
		return
	}
	switch sub {
	case "LOAD":
		sha, _, msg := s.load(args[0])
		if msg != "" {
			c.WriteError(msg)
			return
		}
		c.WriteBulk(sha)
	case "EXISTS":
		c.WriteLen(len(args))
		for _, sha := range args {
			if s.cached(sha) != nil {
				c.WriteInt(1)
			} else {
				c.WriteInt(0)
			}
		}
	case "FLUSH":
		s.mu.Lock()
		s.cache.flush()
		s.mu.Unlock()
		c.WriteOK()
	}
}

// cached returns the compiled script of sha, or nil.
func (s *scripts) cached(sha string) *lua.FunctionProto {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cache.get(strings.ToLower(sha))
}

// load compiles src and caches it; msg is the error answer when it does not
// compile or cannot be cached.
func (s *scripts) load(src string) (sha string, proto *lua.FunctionProto, msg string) {
	sha = sha1hex(src)
	if p := s.cached(sha); p != nil {
		return sha, p, ""
	}
	if len(src) > maxCachedBytes {
		return "", nil, msgScriptTooLarge
	}
	proto, err := compileScript(src, scriptChunkName)
	if err != nil {
		return "", nil, "ERR Error compiling script (new function): " + err.Error()
	}
	s.mu.Lock()
	s.cache.put(sha, len(src), proto)
	s.mu.Unlock()
	return sha, proto, ""
}

func sha1hex(s string) string {
	h := sha1.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// eval serves EVAL, EVALSHA and their read-only forms.
func (s *scripts) eval(c *server.Peer, cmd string, args []string) {
	if len(args) < 2 {
		c.WriteError(wrongArgs(cmd))
		return
	}
	if subscribed(c) {
		c.WriteError(fmt.Sprintf("ERR Can't execute '%s': only (P)SUBSCRIBE / (P)UNSUBSCRIBE / PING / QUIT are allowed in this context", strings.ToLower(cmd)))
		return
	}
	n, err := strconv.Atoi(args[1])
	switch {
	case err != nil:
		c.WriteError(msgNotInteger)
		return
	case n < 0:
		c.WriteError(msgKeysNegative)
		return
	case n > len(args)-2:
		c.WriteError(msgKeysTooMany)
		return
	}
	keys, argv := args[2:2+n], args[2+n:]
	var (
		sha   string
		proto *lua.FunctionProto
	)
	if cmd == "EVAL" || cmd == "EVAL_RO" {
		var msg string
		sha, proto, msg = s.load(args[0])
		if msg != "" {
			c.WriteError(msg)
			return
		}
	} else {
		sha = strings.ToLower(args[0])
		if proto = s.cached(sha); proto == nil {
			c.WriteError(msgNoScript)
			return
		}
	}
	readOnly := strings.HasSuffix(cmd, "_RO")
	s.runGated(c, func(ctx context.Context, _ context.CancelCauseFunc, heap *heapBudget) reply {
		return s.execute(ctx, heap, c, sha, proto, keys, argv, readOnly)
	})
}

// runGated runs one script or function for c, EVAL's and FCALL's common
// part: it takes the gate (answering c itself when the plane is closing or
// another script holds the gate past busyAfter), runs body under the time
// limit and the memory watchdog (stop ends body's ctx with a cause), gives
// the gate back, returns memory to the system after a big run, and writes
// body's answer with the gate open.
func (s *scripts) runGated(c *server.Peer, body func(ctx context.Context, stop context.CancelCauseFunc, heap *heapBudget) reply) {
	parent, stop := context.WithCancelCause(context.Background())
	defer stop(nil)
	run, busy, closed := s.acquire(stop)
	switch {
	case closed:
		c.WriteError(msgScriptsClosed)
		return
	case busy:
		c.WriteError(busyError)
		return
	}
	goal := heapGoal()
	rep := s.limited(parent, stop, body)
	s.release(run)
	if errors.Is(context.Cause(parent), errOverMemory) || heapGoal() > goal+bigScriptHeap {
		// A collection during the script saw its values live and set the
		// collector's next goal from them: the process could grow by that
		// much garbage again, whoever allocates, before collecting. Collect
		// now, and give the memory back.
		debug.FreeOSMemory()
	}
	// The answer is written with the gate open: a client that reads slowly
	// holds up only itself.
	rep.write(c)
}

// limited runs body with the gate held, under the time limit and the
// memory budget (sampled by a watchdog), both of which end body's ctx with
// their cause.
func (s *scripts) limited(parent context.Context, stop context.CancelCauseFunc, body func(ctx context.Context, stop context.CancelCauseFunc, heap *heapBudget) reply) reply {
	ctx, cancel := context.WithTimeoutCause(parent, s.cfg.timeLimit, context.DeadlineExceeded)
	defer cancel()
	heap := newHeapBudget(s.cfg.memoryLimit, stop)
	defer s.watching(heap)()
	return body(ctx, stop, heap)
}

// watching starts heap's watchdog (unless sampleEvery is 0) and returns
// the function that stops it and waits for it.
func (s *scripts) watching(heap *heapBudget) (stop func()) {
	if s.sampleEvery <= 0 {
		return func() {}
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() { heap.watch(s.sampleEvery, done) })
	return func() {
		close(done)
		wg.Wait()
	}
}

// execute runs one script under runGated and returns its answer.
func (s *scripts) execute(ctx context.Context, heap *heapBudget, c *server.Peer, sha string, proto *lua.FunctionProto, keys, argv []string, readOnly bool) reply {
	env := newScriptEnv(s, c, sha, readOnly, heap)
	defer env.close()
	L := env.L
	L.SetContext(ctx)
	L.SetGlobal("KEYS", stringsTable(L, keys))
	L.SetGlobal("ARGV", stringsTable(L, argv))
	env.protect()

	fn := L.NewFunctionFromProto(proto)
	L.Push(fn)
	err := L.PCall(0, 1, nil)
	if cause := context.Cause(ctx); cause != nil {
		return errorReply(s.stopped(cause), sha, errLine(err))
	}
	if err != nil {
		return scriptError(err, sha)
	}
	rep, msg := toReply(L.Get(-1), 0)
	if msg != "" {
		return errorReply(msg, sha, 0)
	}
	return rep
}

// stopped is the answer for a script stopped for cause.
func (s *scripts) stopped(cause error) string {
	switch {
	case errors.Is(cause, errKilledByUser):
		return msgKilledByUser
	case errors.Is(cause, errClosing):
		return "ERR Script killed: the database is closing"
	case errors.Is(cause, errOverMemory):
		return fmt.Sprintf("ERR Script killed by memory limit: the heap grew by more than %s while it ran", bytesText(s.cfg.memoryLimit))
	default:
		return fmt.Sprintf("ERR Script killed by time limit: it ran longer than %s", s.cfg.timeLimit)
	}
}

// bytesText writes n bytes for people: 64 MiB, 1.5 GiB, 1000 bytes.
func bytesText(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// heapBudget is one run's memory limit: the process's live heap when the
// run started plus the limit. The heap is the whole process's, so this is
// an estimate: other databases' work in the meantime counts too. A
// watchdog samples it while the script runs (watch), and builtins that
// make one big value ask it first (fits), since a value made between two
// samples could take the heap past the limit by its whole size.
type heapBudget struct {
	base, limit uint64
	stop        context.CancelCauseFunc
}

// bigValue is the size from which a builtin asks the budget before making
// a value: reading the heap's size costs about a microsecond, copying a
// MiB a hundred.
const bigValue = 1 << 20

// newHeapBudget starts a budget from the live heap of the last collection,
// or the heap's size now when that is less (values live then were freed
// since, and counting them would let the run grow by as much more).
func newHeapBudget(limit int64, stop context.CancelCauseFunc) *heapBudget {
	sample := []metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
	}
	metrics.Read(sample)
	return &heapBudget{base: min(heapValue(sample[0]), heapValue(sample[1])), limit: uint64(limit), stop: stop}
}

// fits reports whether a value of n more bytes keeps the heap within the
// budget. When the heap with n is past it, it collects garbage and looks
// at the live heap; if that with n is past it too, it stops the run and
// reports false. Called by the script's goroutine.
func (b *heapBudget) fits(n uint64) bool {
	sample := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/gc/heap/live:bytes"},
	}
	metrics.Read(sample[:1])
	if heapValue(sample[0])+n <= b.base+b.limit {
		return true
	}
	runtime.GC()
	metrics.Read(sample[1:])
	if heapValue(sample[1])+n <= b.base+b.limit {
		return true
	}
	b.stop(errOverMemory)
	return false
}

// watch is the memory watchdog of one run: every `every` it reads the
// process's heap; when it grew past the budget, it collects garbage and
// looks at the live heap, and stops the script if that grew past it too.
func (b *heapBudget) watch(every time.Duration, done <-chan struct{}) {
	sample := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/gc/heap/live:bytes"},
	}
	next := b.base + b.limit
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		metrics.Read(sample[:1])
		if heapValue(sample[0]) < next {
			continue
		}
		runtime.GC()
		metrics.Read(sample[1:])
		live := heapValue(sample[1])
		if live > b.base+b.limit {
			b.stop(errOverMemory)
			return
		}
		next = max(b.base+b.limit, live+b.limit/4)
	}
}

// bigScriptHeap is how far a script may raise the collector's heap goal
// before run collects after it.
const bigScriptHeap = 64 << 20

// heapGoal is the heap size at which the next collection starts.
func heapGoal() uint64 {
	sample := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	metrics.Read(sample)
	return heapValue(sample[0])
}

func heapValue(s metrics.Sample) uint64 {
	if s.Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s.Value.Uint64()
}

// stringsTable returns a Lua array of ss.
func stringsTable(L *lua.LState, ss []string) *lua.LTable {
	t := L.CreateTable(len(ss), 0)
	for i, v := range ss {
		t.RawSetInt(i+1, lua.LString(v))
	}
	return t
}

// subscribed reports whether c is in RESP2 subscribe mode, where Redis
// refuses EVAL. miniredis keeps that in its per-connection state, which it
// does not export; a miniredis without the field is taken as not
// subscribed.
func subscribed(c *server.Peer) bool {
	if c.Resp3 || c.Ctx == nil {
		return false
	}
	v := reflect.ValueOf(c.Ctx)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return false
	}
	f := v.Elem().FieldByName("subscriber")
	return f.IsValid() && f.Kind() == reflect.Pointer && !f.IsNil()
}

// copyCtx returns a copy of a peer's miniredis state, for the peer that
// runs a script's redis.call: it starts authenticated and in the caller's
// selected database, and a SELECT in the script changes only the copy, as
// in Redis.
func copyCtx(ctx any) any {
	v := reflect.ValueOf(ctx)
	if !v.IsValid() || v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return ctx
	}
	cp := reflect.New(v.Elem().Type())
	cp.Elem().Set(v.Elem())
	return cp.Interface()
}

// dispatch runs one command for a script on a peer of its own and returns
// miniredis's answer, parsed.
func (s *scripts) dispatch(caller *server.Peer, ctx any, args []string) (any, error) {
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	np := server.NewPeer(w)
	np.Ctx = ctx
	s.mu.Lock()
	s.peers[np] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.peers, np)
		s.mu.Unlock()
	}()
	s.m.Server().Dispatch(np, args)
	if err := w.Flush(); err != nil {
		return nil, err
	}
	return server.ParseReply(bufio.NewReader(&buf))
}

// logLimiter rate-limits redis.log: logBurst lines per logEvery.
type logLimiter struct {
	window  time.Time
	n       int
	dropped int
}

// allow reports whether a line may be logged now, and how many were dropped
// before it; s.mu is held.
func (l *logLimiter) allow(now time.Time) (ok bool, dropped int) {
	if now.Sub(l.window) >= logEvery {
		l.window, l.n = now, 0
	}
	if l.n >= logBurst {
		l.dropped++
		return false, 0
	}
	l.n++
	dropped, l.dropped = l.dropped, 0
	return true, dropped
}

// logLine writes one redis.log line. The script's text is an attribute,
// quoted by the handler, never the message, so it cannot forge lines.
func (s *scripts) logLine(level int, text string) {
	s.mu.Lock()
	ok, dropped := s.log.allow(time.Now())
	s.mu.Unlock()
	if !ok {
		return
	}
	if len(text) > maxLogText {
		text = text[:maxLogText]
	}
	lvl := slog.LevelDebug
	switch level {
	case 2:
		lvl = slog.LevelInfo
	case 3:
		lvl = slog.LevelWarn
	}
	attrs := []any{slog.String("text", text)}
	if dropped > 0 {
		attrs = append(attrs, slog.Int("dropped", dropped))
	}
	s.cfg.logger.Log(context.Background(), lvl, "script log", attrs...)
}

// scriptCache holds compiled scripts by SHA1, oldest first, within a count
// and a size of their sources.
type scriptCache struct {
	maxCount int
	maxBytes int
	bytes    int
	byID     map[string]*list.Element
	order    *list.List // of *cachedScript, oldest at the front
}

type cachedScript struct {
	sha   string
	size  int
	proto *lua.FunctionProto
}

func newScriptCache(maxCount, maxBytes int) scriptCache {
	return scriptCache{maxCount: maxCount, maxBytes: maxBytes, byID: map[string]*list.Element{}, order: list.New()}
}

func (c *scriptCache) get(sha string) *lua.FunctionProto {
	if e, ok := c.byID[sha]; ok {
		return e.Value.(*cachedScript).proto
	}
	return nil
}

func (c *scriptCache) put(sha string, size int, proto *lua.FunctionProto) {
	if _, ok := c.byID[sha]; ok {
		return
	}
	for c.order.Len() > 0 && (c.order.Len() >= c.maxCount || c.bytes+size > c.maxBytes) {
		old := c.order.Remove(c.order.Front()).(*cachedScript)
		delete(c.byID, old.sha)
		c.bytes -= old.size
	}
	c.byID[sha] = c.order.PushBack(&cachedScript{sha: sha, size: size, proto: proto})
	c.bytes += size
}

func (c *scriptCache) flush() {
	c.byID = map[string]*list.Element{}
	c.order.Init()
	c.bytes = 0
}
