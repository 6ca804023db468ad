package embeddedplane

// Reaching into miniredis, for the commands the embedded plane adds to it or
// replaces in it (extensions.go).
//
// A command registered in miniredis gets the client's *server.Peer and its
// arguments, nothing else: miniredis keeps the connection's state (selected
// database, MULTI queue) and its data behind unexported names, and its
// exported Go API takes miniredis's lock on every call, so a command built
// from several calls would not be atomic. Here an added command runs like
// one of miniredis's own:
//   - run takes miniredis's lock once for the whole command (or, inside
//     MULTI, queues the command as miniredis's withTx does, and EXEC runs it
//     under EXEC's lock), so no other client sees a half-done command;
//   - under that lock the command runs miniredis's own handlers (txn.call)
//     on a peer of its own whose state says "nested", which is how
//     miniredis's handlers know the lock is held (they take it otherwise);
//   - it reads and writes the maps miniredis keeps per database (txn.db)
//     where no command does what is needed (hash-field TTLs in
//     milliseconds).
//
// Everything here depends on miniredis v2.40.0's unexported names
// (connCtx.selectedDB/transaction/nested, Server.cmds, cmdMeta.handler,
// Miniredis.dbs/lastTick and RedisDB's maps). newInside runs when a
// database starts, so an upgrade that renames one fails every test of this
// package; the calls below never guess, they panic, and a panic in a
// command is answered "ERR internal error" by the front door.

import (
	"bufio"
	"bytes"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/alicebob/miniredis/v2"
	"github.com/alicebob/miniredis/v2/server"
)

// inside gives the added commands of one database (one miniredis) what
// miniredis does not export.
type inside struct {
	m *miniredis.Miniredis
	// originals are the handlers, as they were when inside was made, of
	// the commands extensions.go replaces: a replacement calls the handler
	// it replaces. Other commands are looked up in table when called, so a
	// database keeps no copy of miniredis's command table per family.
	originals map[string]server.Cmd
	table     reflect.Value // the server's map[string]*cmdMeta
	// ctxType is miniredis's per-connection state, *connCtx.
	ctxType reflect.Type
}

// newInside reads m's handlers; m's server must be started and serve no
// client yet.
func newInside(m *miniredis.Miniredis) *inside {
	in := &inside{m: m, originals: map[string]server.Cmd{}, table: reflect.ValueOf(m.Server()).Elem().FieldByName("cmds")}
	for name := range replaced {
		if h, ok := in.lookup(name); ok {
			in.originals[name] = h
		}
	}
	// miniredis makes a peer's state on its first command.
	np := server.NewPeer(bufio.NewWriter(&bytes.Buffer{}))
	echo, _ := in.handler("ECHO")
	echo(np, "ECHO", []string{""})
	in.ctxType = reflect.TypeOf(np.Ctx)
	return in
}

// handler returns the handler of an upper-case command name: miniredis's
// own for a replaced command, whatever the server runs for the others.
func (in *inside) handler(name string) (server.Cmd, bool) {
	if h, ok := in.originals[name]; ok {
		return h, true
	}
	return in.lookup(name)
}

// lookup reads the server's handler of name. The table is written only
// while a database starts, before it serves a client.
func (in *inside) lookup(name string) (server.Cmd, bool) {
	meta := in.table.MapIndex(reflect.ValueOf(name))
	if !meta.IsValid() {
		return nil, false
	}
	return exposed(meta.Elem().FieldByName("handler")).Interface().(server.Cmd), true
}

// replaceCommand makes srv run cmd for name, a command miniredis has.
func replaceCommand(srv *server.Server, name string, cmd server.Cmd) error {
	meta := reflect.ValueOf(srv).Elem().FieldByName("cmds").MapIndex(reflect.ValueOf(name))
	if !meta.IsValid() {
		return fmt.Errorf("miniredis has no command %s to replace", name)
	}
	exposed(meta.Elem().FieldByName("handler")).Set(reflect.ValueOf(cmd))
	return nil
}

// exposed returns v, an addressable unexported field, as a value that may
// be read and set.
func exposed(v reflect.Value) reflect.Value {
	return reflect.NewAt(v.Type(), unsafe.Pointer(v.UnsafeAddr())).Elem()
}

// ctxField returns field name of a peer's miniredis state, or an invalid
// Value when the peer has none yet.
func ctxField(ctx any, name string) reflect.Value {
	v := reflect.ValueOf(ctx)
	if !v.IsValid() || v.IsNil() {
		return reflect.Value{}
	}
	return exposed(v.Elem().FieldByName(name))
}

// selectedDB is the logical database a peer has selected.
func selectedDB(ctx any) int {
	if f := ctxField(ctx, "selectedDB"); f.IsValid() {
		return int(f.Int())
	}
	return 0
}

// txn is one run of an added command: miniredis's lock is held.
type txn struct {
	in   *inside
	peer *server.Peer // the client's, for the answer
	dbi  int
	ctx  any // a nested state for miniredis's handlers
	// ticked: a handler ran in this run, so miniredis has expired what
	// was due (each tick walks every key; one a command is enough).
	ticked bool
}

// run runs fn as one command for the client c: with miniredis's lock held,
// or queued when c is inside MULTI (EXEC then runs it under its lock; its
// answer goes into EXEC's array). fn writes its answer to x.peer.
func (in *inside) run(c *server.Peer, fn func(x *txn)) {
	if tx := ctxField(c.Ctx, "transaction"); tx.IsValid() && !tx.IsNil() {
		queued := reflect.MakeFunc(tx.Type().Elem(), func(args []reflect.Value) []reflect.Value {
			peer := args[0].Interface().(*server.Peer)
			fn(in.txn(peer, args[1].Interface()))
			return nil
		})
		tx.Set(reflect.Append(tx, queued))
		c.WriteInline("QUEUED")
		return
	}
	in.m.Lock()
	defer in.m.Unlock()
	fn(in.txn(c, c.Ctx))
}

// txn returns the run of a command for peer, whose miniredis state is ctx.
func (in *inside) txn(peer *server.Peer, ctx any) *txn {
	nested := reflect.New(in.ctxType.Elem())
	dbi := selectedDB(ctx)
	exposed(nested.Elem().FieldByName("selectedDB")).SetInt(int64(dbi))
	exposed(nested.Elem().FieldByName("nested")).SetBool(true)
	return &txn{in: in, peer: peer, dbi: dbi, ctx: nested.Interface()}
}

// call runs miniredis's own handler of args[0] (upper case) under the
// lock the run holds and returns its answer: a string, int, []any, nil, or
// the error it answered.
func (x *txn) call(args ...string) (any, error) {
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	np := server.NewPeer(w)
	np.Ctx = x.ctx
	h, ok := x.in.handler(args[0])
	if !ok {
		return nil, fmt.Errorf("ERR unknown command '%s'", args[0])
	}
	h(np, args[0], args[1:])
	x.ticked = true
	if err := w.Flush(); err != nil {
		return nil, err
	}
	return server.ParseReply(bufio.NewReader(&buf))
}

// pass runs miniredis's own handler of args[0] and writes its answer, as
// it wrote it, to the client; it returns that answer (RESP).
func (x *txn) pass(args ...string) string {
	answer := x.raw(args...)
	x.peer.WriteRaw(answer)
	return answer
}

// raw runs miniredis's own handler of args[0] and returns its answer as
// it would write it to the client (RESP2 or RESP3).
func (x *txn) raw(args ...string) string {
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	np := server.NewPeer(w)
	np.Ctx = x.ctx
	np.Resp3 = x.peer.Resp3
	h, ok := x.in.handler(args[0])
	if !ok {
		return "-ERR unknown command '" + args[0] + "'\r\n"
	}
	h(np, args[0], args[1:])
	x.ticked = true
	_ = w.Flush()
	return buf.String()
}

// dbMaps are the maps miniredis keeps for one logical database.
type dbMaps struct {
	keys       map[string]string // key -> type
	strings    map[string]string
	hashes     map[string]map[string]string
	zsets      map[string]map[string]float64 // member -> score
	sets       map[string]map[string]struct{}
	hashTTLs   map[string]map[string]time.Duration // what is left of each field's TTL
	keyVersion map[string]uint                     // bumped on every write, for WATCH
}

// db returns the maps of the run's logical database, after miniredis has
// expired what is due (every handler call does).
func (x *txn) db() dbMaps {
	if !x.ticked {
		_, _ = x.call("EXISTS", "") // creates the database and advances the clock
	}
	dbs := exposed(reflect.ValueOf(x.in.m).Elem().FieldByName("dbs"))
	db := dbs.MapIndex(reflect.ValueOf(x.dbi)).Elem()
	field := func(name string) unsafe.Pointer {
		return unsafe.Pointer(db.FieldByName(name).UnsafeAddr())
	}
	return dbMaps{
		keys:       *(*map[string]string)(field("keys")),
		strings:    *(*map[string]string)(field("stringKeys")),
		hashes:     *(*map[string]map[string]string)(field("hashKeys")),       // hashKey is a map[string]string
		zsets:      *(*map[string]map[string]float64)(field("sortedsetKeys")), // sortedSet is a map[string]float64
		sets:       *(*map[string]map[string]struct{})(field("setKeys")),      // setKey is a map[string]struct{}
		hashTTLs:   *(*map[string]map[string]time.Duration)(field("hashTTLs")),
		keyVersion: *(*map[string]uint)(field("keyVersion")),
	}
}

// now is miniredis's clock as of its last tick, which every handler call
// advances: what is left of a TTL counts from it.
func (x *txn) now() time.Time {
	return exposed(reflect.ValueOf(x.in.m).Elem().FieldByName("lastTick")).Interface().(time.Time)
}

// parseLL parses an integer as Redis's string2ll does: an optional minus,
// then digits without a leading zero (or "0" alone), within int64. Go's
// ParseInt also takes "+1" and "007", which Redis refuses.
func parseLL(s string) (int64, bool) {
	digits := strings.TrimPrefix(s, "-")
	if digits == "" || (digits[0] == '0' && (len(digits) > 1 || len(s) > 1)) || digits[0] == '+' {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// touched marks key written, for WATCH.
func (d dbMaps) touched(key string) {
	d.keyVersion[key]++
}

// wrongArity answers a command's wrong number of arguments; inside MULTI it
// makes EXEC answer EXECABORT, as Redis does for a command it cannot queue.
func wrongArity(c *server.Peer, cmd string) {
	refuseQueued(c, wrongArgs(cmd))
}

// refuseQueued answers msg; inside MULTI it makes EXEC answer EXECABORT.
func refuseQueued(c *server.Peer, msg string) {
	c.WriteError(msg)
	if f := ctxField(c.Ctx, "dirtyTransaction"); f.IsValid() {
		f.SetBool(true)
	}
}
