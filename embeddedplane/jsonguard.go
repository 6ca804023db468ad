package embeddedplane

// JSON keys are not lists. A JSON key is a one-element miniredis list inside
// (json.go); without this guard the list commands would act on that list:
// LPOP would hand out the document's private text, LPUSH would turn it into
// a list. Here every command that treats a key as a list answers Redis's
// WRONGTYPE when the key it would act on holds a JSON document, and changes
// nothing, as Redis answers for a RedisJSON key; SCAN's TYPE filter says
// ReJSON-RL for a JSON key, not list.
//
// One table (jsonGuarded) names the commands and where their keys are; the
// guard replaces each handler in miniredis's table (extensions.go) by one
// that looks the keys up under miniredis's lock and then runs the handler it
// replaced under that same lock, so it holds on every path a command takes
// (TCP, MULTI/EXEC, a script's redis.call). The look-up is two map reads on
// miniredis's own maps (the key's type; a list's first element only when
// the list has one), never a copy of the list.
//
// Blocking pops (BLPOP, BRPOP, BRPOPLPUSH, BLMOVE, BLMPOP) wait here, on
// miniredis's condition variable as miniredis's own do, trying their
// non-blocking form each time the data changes: a JSON key they name that
// exists answers WRONGTYPE at once; one created while they wait is passed
// over and they keep waiting (Redis 7.0's blocked.c serves a list-blocked
// client from a list only, and a module key of another type does not wake
// it), as they do for a key of any other type created meanwhile.
//
// DUMP of a JSON key answers WRONGTYPE, as it does for every type but
// strings on this plane (miniredis's DUMP payload is a string's bytes,
// which RESTORE writes back as a string; RedisJSON's own payload is not
// served): backups (snapshot.go) carry JSON keys instead.

import (
	"math"
	"reflect"
	"strconv"
	"strings"
	"unsafe"

	"github.com/alicebob/miniredis/v2"
	"github.com/alicebob/miniredis/v2/server"
)

// keyRule says which keys of a command's arguments (without the command's
// name) are acted on as lists.
type keyRule int

const (
	// ruleKey: args[0].
	ruleKey keyRule = iota
	// ruleMove: args[0] the source, args[1] the destination, which counts
	// only when the source exists (Redis answers nil for a missing source
	// whatever the destination holds).
	ruleMove
	// ruleFirstOf: the keys args[from:len(args)-until], of which the
	// first that exists is the one acted on.
	ruleFirstOf
	// ruleNumkeys: LMPOP's numkeys at args[from], then the keys; the
	// first that exists is acted on.
	ruleNumkeys
)

// guardSpec is one guarded command.
type guardSpec struct {
	rule  keyRule
	from  int // ruleFirstOf, ruleNumkeys: where the keys (the count) start
	until int // ruleFirstOf: how many arguments follow the keys
	arity int // Redis's: n exactly n words, -n at least n
	// timeout is where a blocking command's timeout is (-1: the last
	// argument); 0 for a command that does not block.
	timeout int
}

// jsonGuarded lists the commands that act on a key as a list.
var jsonGuarded = map[string]guardSpec{
	"LPUSH": {rule: ruleKey, arity: -3}, "RPUSH": {rule: ruleKey, arity: -3},
	"LPUSHX": {rule: ruleKey, arity: -3}, "RPUSHX": {rule: ruleKey, arity: -3},
	"LPOP": {rule: ruleKey, arity: -2}, "RPOP": {rule: ruleKey, arity: -2},
	"LRANGE": {rule: ruleKey, arity: 4}, "LINDEX": {rule: ruleKey, arity: 3}, "LLEN": {rule: ruleKey, arity: 2},
	"LSET": {rule: ruleKey, arity: 4}, "LTRIM": {rule: ruleKey, arity: 4}, "LREM": {rule: ruleKey, arity: 4},
	"LINSERT": {rule: ruleKey, arity: 5}, "LPOS": {rule: ruleKey, arity: -3},
	"RPOPLPUSH": {rule: ruleMove, arity: 3}, "LMOVE": {rule: ruleMove, arity: 5},
	"LMPOP": {rule: ruleNumkeys, from: 0, arity: -4},
	"SORT":  {rule: ruleKey, arity: -2}, "SORT_RO": {rule: ruleKey, arity: -2},
	"BLPOP":      {rule: ruleFirstOf, until: 1, arity: -3, timeout: -1},
	"BRPOP":      {rule: ruleFirstOf, until: 1, arity: -3, timeout: -1},
	"BRPOPLPUSH": {rule: ruleMove, arity: 4, timeout: 3},
	"BLMOVE":     {rule: ruleMove, arity: 6, timeout: 5},
	"BLMPOP":     {rule: ruleNumkeys, from: 1, arity: -5, timeout: 1},
}

// familyAdded are the guarded commands an earlier family adds (sort.go,
// lists.go); the others are miniredis's, listed in replaced.
var familyAdded = map[string]bool{"SORT": true, "SORT_RO": true, "BLMPOP": true}

// jsonGuard is the guard of one database (one miniredis).
type jsonGuard struct {
	in *inside
	// dbs is miniredis's map of logical databases; keysAt and listsAt
	// are where a RedisDB keeps its key types and its lists.
	dbs             *map[int]*miniredis.RedisDB
	keysAt, listsAt uintptr
}

// jsonGuardCommands is the guard's replacement of every command in
// jsonGuarded and of SCAN. It runs after every other family, so that the
// handlers it wraps are the ones the database would run.
func jsonGuardCommands(in *inside) map[string]server.Cmd {
	dbT := reflect.TypeOf(miniredis.RedisDB{})
	keys, ok1 := dbT.FieldByName("keys")
	lists, ok2 := dbT.FieldByName("listKeys")
	if !ok1 || !ok2 || keys.Type != reflect.TypeOf(map[string]string{}) ||
		lists.Type.Key().Kind() != reflect.String || lists.Type.Elem().Kind() != reflect.Slice || lists.Type.Elem().Elem().Kind() != reflect.String {
		panic("embeddedplane: miniredis's RedisDB has no keys or listKeys as the JSON guard reads them")
	}
	dbs := exposed(reflect.ValueOf(in.m).Elem().FieldByName("dbs"))
	g := &jsonGuard{
		in:      in,
		dbs:     (*map[int]*miniredis.RedisDB)(unsafe.Pointer(dbs.UnsafeAddr())),
		keysAt:  keys.Offset,
		listsAt: lists.Offset,
	}
	cmds := map[string]server.Cmd{"SCAN": g.scan}
	for name, spec := range jsonGuarded {
		if !replaced[name] && !familyAdded[name] {
			// A family's txn.call of it would reach the guard, which
			// would wait for the lock the call holds.
			panic("embeddedplane: " + name + " is guarded and not in replaced")
		}
		next, ok := in.handler(name)
		if !ok {
			panic("embeddedplane: no handler of " + name + " to guard")
		}
		switch {
		case spec.timeout != 0:
			cmds[name] = g.blocking(name, spec, next)
		case name == "SORT" || name == "SORT_RO":
			cmds[name] = g.sort(spec, name == "SORT_RO", next)
		default:
			cmds[name] = g.wrap(spec, next)
		}
	}
	return cmds
}

// kind returns what key holds in logical database dbi without advancing
// miniredis's clock: its type ("" when absent) and whether it is a JSON
// key. miniredis's lock is held.
func (g *jsonGuard) kind(dbi int, key string) (typ string, json bool) {
	db := (*g.dbs)[dbi]
	if db == nil {
		return "", false
	}
	typ = (*(*map[string]string)(unsafe.Add(unsafe.Pointer(db), g.keysAt)))[key]
	if typ != "list" {
		return typ, false
	}
	l := (*(*map[string][]string)(unsafe.Add(unsafe.Pointer(db), g.listsAt)))[key] // listKey is a []string
	return typ, len(l) == 1 && isJSONValue(l[0])
}

// isJSON reports whether key holds a JSON document now. A key that looks
// like one before miniredis expired what is due is looked at again after:
// expiry removes keys, so one that is not JSON before is not after.
func (g *jsonGuard) isJSON(x *txn, key string) bool {
	if _, json := g.kind(x.dbi, key); !json {
		return false
	}
	x.ticked = false
	x.db()
	_, json := g.kind(x.dbi, key)
	return json
}

// keysOf returns the keys spec names in args, in order, and for a move
// its destination; ok is false when args do not say (a bad numkeys: the
// command's own handler answers that).
func (spec guardSpec) keysOf(args []string) (keys []string, dst string, ok bool) {
	switch spec.rule {
	case ruleKey:
		return args[:1], "", true
	case ruleMove:
		return args[:1], args[1], true
	case ruleFirstOf:
		return args[spec.from : len(args)-spec.until], "", true
	}
	n, err := strconv.Atoi(args[spec.from])
	if err != nil || n <= 0 || n > len(args)-spec.from-1 {
		return nil, "", false
	}
	return args[spec.from+1 : spec.from+1+n], "", true
}

// refuses reports whether the command would act on a JSON key as a list:
// the first of its keys that exists is one, or (a move whose source
// exists) its destination is.
func (g *jsonGuard) refuses(x *txn, spec guardSpec, args []string) bool {
	keys, dst, ok := spec.keysOf(args)
	if !ok {
		return false
	}
	if len(keys) > 1 {
		// A key that expired must not hide the next one.
		x.ticked = false
		x.db()
	}
	for _, k := range keys {
		typ, json := g.kind(x.dbi, k)
		switch {
		case typ == "":
			continue
		case json && g.isJSON(x, k):
			return true
		case json:
			continue // it expired
		}
		return spec.rule == ruleMove && g.isJSON(x, dst)
	}
	return false
}

// arityOK checks n words against Redis's arity.
func (spec guardSpec) arityOK(n int) bool {
	return (spec.arity > 0 && n == spec.arity) || (spec.arity < 0 && n >= -spec.arity)
}

// underLock runs next, a miniredis handler, for the run's client while the
// run holds miniredis's lock: with the run's nested state in place of the
// client's, which is how miniredis's handlers know the lock is held. Its
// answer goes to the client as it writes it (no copy).
func underLock(x *txn, next server.Cmd, cmd string, args []string) {
	saved := x.peer.Ctx
	x.peer.Ctx = x.ctx
	defer func() { x.peer.Ctx = saved }()
	next(x.peer, cmd, args)
}

// wrap guards a command that does not block.
func (g *jsonGuard) wrap(spec guardSpec, next server.Cmd) server.Cmd {
	return func(c *server.Peer, cmd string, args []string) {
		if !spec.arityOK(len(args)+1) || subscribed(c) {
			next(c, cmd, args) // its error, before it takes the lock
			return
		}
		g.in.run(c, func(x *txn) {
			if g.refuses(x, spec, args) {
				x.peer.WriteError(msgWrongType)
				return
			}
			underLock(x, next, cmd, args)
		})
	}
}

// sort guards SORT and SORT_RO, which sort.go serves under a run of its
// own: the guard's run serves them.
func (g *jsonGuard) sort(spec guardSpec, readonly bool, next server.Cmd) server.Cmd {
	return func(c *server.Peer, cmd string, args []string) {
		if !spec.arityOK(len(args) + 1) {
			next(c, cmd, args)
			return
		}
		g.in.run(c, func(x *txn) {
			if g.refuses(x, spec, args) {
				x.peer.WriteError(msgWrongType)
				return
			}
			sortRun(x, args, readonly)
		})
	}
}

// blocking guards a blocking pop, and waits in its place.
func (g *jsonGuard) blocking(name string, spec guardSpec, next server.Cmd) server.Cmd {
	return func(c *server.Peer, cmd string, args []string) {
		if !spec.arityOK(len(args)+1) || subscribed(c) {
			next(c, cmd, args)
			return
		}
		at := spec.timeout
		if at < 0 {
			at = len(args) + at
		} else {
			at--
		}
		secs, err := strconv.ParseFloat(args[at], 64)
		if err != nil || secs < 0 || math.IsInf(secs, 0) {
			next(c, cmd, args) // its error
			return
		}
		if math.IsNaN(secs) {
			refuseQueued(c, "ERR timeout is not a float or out of range")
			return
		}
		if tx := ctxField(c.Ctx, "transaction"); tx.IsValid() && !tx.IsNil() {
			// Queued: EXEC tries once and does not wait, as in Redis.
			g.in.run(c, func(x *txn) {
				if !g.try(x, name, spec, args, true) {
					x.peer.WriteLen(-1)
				}
			})
			return
		}
		g.in.block(c, secs, func(x *txn, first bool) bool {
			return g.try(x, name, spec, args, first)
		}, func(x *txn) { x.peer.WriteLen(-1) })
	}
}

// try runs one attempt of a blocking pop under miniredis's lock, with its
// non-blocking form, and reports whether it answered. The first attempt
// looks at the keys as the command names them (a JSON key, or a key of
// another type, that exists answers WRONGTYPE); a later one, after a wait,
// only at the keys that hold a list, as Redis serves a waiting client.
func (g *jsonGuard) try(x *txn, name string, spec guardSpec, args []string, first bool) bool {
	x.ticked = false
	x.db() // expire what is due before looking
	keys, dst, ok := spec.keysOf(args)
	if ok {
		if first && g.refuses(x, spec, args) {
			x.peer.WriteError(msgWrongType)
			return true
		}
		var ready []string
		for _, k := range keys {
			typ, json := g.kind(x.dbi, k)
			if typ != "" && !json && (first || typ == "list") {
				ready = append(ready, k)
			}
		}
		switch {
		case len(ready) == 0 && !(first && name == "BLMPOP"):
			return false // BLMPOP's LMPOP checks its other arguments first
		case spec.rule == ruleMove && g.isJSON(x, dst):
			x.peer.WriteError(msgWrongType)
			return true
		case !first:
			keys = ready
		}
	}
	switch name {
	case "BLPOP", "BRPOP":
		dir := map[string]string{"BLPOP": "LEFT", "BRPOP": "RIGHT"}[name]
		r, err := x.call(append(append([]string{"LMPOP", strconv.Itoa(len(keys))}, keys...), dir)...)
		if err != nil {
			x.peer.WriteError(err.Error())
			return true
		}
		l, _ := r.([]any)
		if len(l) != 2 {
			return false
		}
		elems, _ := l[1].([]any)
		x.peer.WriteLen(2)
		x.peer.WriteBulk(l[0].(string))
		x.peer.WriteBulk(elems[0].(string))
		return true
	case "BRPOPLPUSH", "BLMOVE":
		answer := x.raw(append([]string{name[1:]}, args[:len(args)-1]...)...)
		if answer == "$-1\r\n" || answer == "_\r\n" {
			return false
		}
		x.peer.WriteRaw(answer)
		return true
	default: // BLMPOP timeout numkeys key... LEFT|RIGHT [COUNT n]
		lmpop := []string{"LMPOP"}
		if ok {
			rest := args[2+mustAtoi(args[1]):] // LEFT|RIGHT [COUNT n]
			lmpop = append(append(append(lmpop, strconv.Itoa(len(keys))), keys...), rest...)
		} else {
			lmpop = append(lmpop, args[1:]...)
		}
		answer := x.raw(lmpop...)
		if nullArray(answer) {
			return false
		}
		x.peer.WriteRaw(answer)
		return true
	}
}

// mustAtoi is strconv.Atoi of a number keysOf has checked.
func mustAtoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// scan replaces SCAN: a TYPE filter of ReJSON-RL finds the JSON keys, one
// of list finds lists only (miniredis's SCAN filters on its own type
// names, where a JSON key is a list).
func (g *jsonGuard) scan(c *server.Peer, cmd string, args []string) {
	typeAt := -1
	for i := 1; i+1 < len(args); i += 2 {
		if strings.EqualFold(args[i], "TYPE") {
			typeAt = i + 1
		}
	}
	next := g.in.originals["SCAN"]
	if typeAt < 0 || subscribed(c) {
		next(c, cmd, args)
		return
	}
	want := strings.ToLower(args[typeAt])
	if want != "list" && want != strings.ToLower(jsonTypeName) {
		next(c, cmd, args)
		return
	}
	g.in.run(c, func(x *txn) {
		listed := append([]string{"SCAN"}, args...)
		listed[typeAt+1] = "list"
		r, err := x.call(listed...)
		l, _ := r.([]any)
		if err != nil || len(l) != 2 {
			x.peer.WriteRaw(x.raw(listed...)) // its error, as it writes it
			return
		}
		keys, _ := l[1].([]any)
		var kept []string
		for _, k := range keys {
			_, json := g.kind(x.dbi, k.(string))
			if json == (want != "list") {
				kept = append(kept, k.(string))
			}
		}
		x.peer.WriteLen(2)
		x.peer.WriteBulk(l[0].(string))
		x.peer.WriteLen(len(kept))
		for _, k := range kept {
			x.peer.WriteBulk(k)
		}
	})
}
