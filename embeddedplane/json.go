package embeddedplane

// RedisJSON on the embedded plane: JSON.SET, GET, DEL, FORGET, MGET, MSET,
// MERGE, TYPE, STRLEN, STRAPPEND, NUMINCRBY, NUMMULTBY, ARRAPPEND, ARRINDEX,
// ARRINSERT, ARRLEN, ARRPOP, ARRTRIM, OBJKEYS, OBJLEN, CLEAR, TOGGLE and
// RESP, with the replies and error texts of RedisJSON as Redis 8 ships it
// (redis_json/src/commands.rs), RESP2 shapes: a JSONPath (`$...`) answers
// an array with one entry per match, a legacy path (`.a`, `a`, `.`) the
// first match.
//
// Storage: a JSON key is a miniredis list of one element, jsonHeader then
// the document as compact JSON. A list, so that the generic key commands
// (DEL, EXPIRE, TTL, RENAME, COPY, MOVE, KEYS, SCAN, EXISTS, FLUSHDB) work
// on it as on any key and the string commands answer WRONGTYPE, as Redis
// does for a JSON key; this family replaces TYPE so that it says
// ReJSON-RL. The list commands see the list (a gap the README lists). Each
// command parses the document, works on it and writes it back (LSET keeps
// the key's TTL), under miniredis's lock (inside.go's run), so a command is
// atomic and queues in MULTI like miniredis's own.

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/alicebob/miniredis/v2"
	"github.com/alicebob/miniredis/v2/server"
	"github.com/theory/jsonpath/spec"

	"github.com/devapi-dev/devapi"
)

const (
	// jsonMaxDoc bounds a JSON document, and each JSON argument, in bytes
	// of JSON text. Parsed, a document takes several times its text in
	// memory, so the bound is below a string's 512 MiB (and below the
	// 100 MB Upstash gives a record); a command that would make a larger
	// document is refused, the document left as it was.
	jsonMaxDoc = 64 << 20
	// jsonHeader starts the one element of a JSON key's list.
	jsonHeader = "\x00devapi:ReJSON-RL:1\x00"
	// jsonTypeName is what TYPE answers for a JSON key.
	jsonTypeName = devapi.TypeJSON
)

// RedisJSON's answers, word for word (clients match them): these are
// replies, not Go-style errors.
var (
	errNoKey      = errors.New("ERR could not perform this operation on a key that doesn't exist")
	errNoPath     = errors.New("ERR Path does not exist")
	errRootOnly   = errors.New("ERR new objects must be created at the root")
	errNotInteger = errors.New("Couldn't parse as integer")
	errSyntaxJSON = errors.New("ERR syntax error")
	errJSONWrong  = errors.New(msgWrongType)
	errNotNumber  = errors.New("ERR result is not a number")
	errOverflow   = errors.New("ERR numeric overflow")
	errTooBig     = errors.New("ERR JSON document larger than 64 MiB on the embedded plane")
	errArity      = errors.New("arity") // answered as the command's wrong number of arguments
)

func errPathOr(what string) error { return fmt.Errorf("ERR Path does not exist or %s", what) }
func errExpected(what string) error {
	return fmt.Errorf("WRONGTYPE wrong type of path value - expected %s", what)
}

// simple is a RESP simple string reply.
type simple string

// jsonCommands is the family's commands for one database.
func jsonCommands(m *miniredis.Miniredis) map[string]server.Cmd {
	j := &jsonFamily{in: newInside(m)}
	cmds := map[string]server.Cmd{"TYPE": j.keyType}
	for name, c := range map[string]struct {
		arity int // Redis's: -n is at least n words, n exactly n
		fn    func(x *txn, args []string) (any, error)
	}{
		"JSON.GET":       {-2, j.get},
		"JSON.SET":       {-4, j.set},
		"JSON.MERGE":     {-4, j.merge},
		"JSON.MSET":      {-4, j.mset},
		"JSON.DEL":       {-2, j.del},
		"JSON.FORGET":    {-2, j.del},
		"JSON.MGET":      {-3, j.mget},
		"JSON.TYPE":      {-2, j.typ},
		"JSON.NUMINCRBY": {4, j.numOp(false)},
		"JSON.NUMMULTBY": {4, j.numOp(true)},
		"JSON.TOGGLE":    {3, j.toggle},
		"JSON.STRAPPEND": {-3, j.strAppend},
		"JSON.STRLEN":    {-2, j.strLen},
		"JSON.ARRAPPEND": {-3, j.arrAppend},
		"JSON.ARRINDEX":  {-4, j.arrIndex},
		"JSON.ARRINSERT": {-5, j.arrInsert},
		"JSON.ARRLEN":    {-2, j.arrLen},
		"JSON.ARRPOP":    {-2, j.arrPop},
		"JSON.ARRTRIM":   {5, j.arrTrim},
		"JSON.OBJKEYS":   {-2, j.objKeys},
		"JSON.OBJLEN":    {-2, j.objLen},
		"JSON.CLEAR":     {-2, j.clear},
		"JSON.RESP":      {-2, j.resp},
	} {
		lower := strings.ToLower(name)
		cmds[name] = func(cl *server.Peer, _ string, args []string) {
			n := len(args) + 1
			if (c.arity > 0 && n != c.arity) || (c.arity < 0 && n < -c.arity) {
				wrongArity(cl, lower)
				return
			}
			j.in.run(cl, func(x *txn) {
				r, err := c.fn(x, args)
				if errors.Is(err, errArity) {
					x.peer.WriteError(wrongArgs(lower))
					return
				}
				if err != nil {
					x.peer.WriteError(err.Error())
					return
				}
				writeJSONReply(x.peer, r)
			})
		}
	}
	return cmds
}

// writeJSONReply writes a reply: nil, string (bulk), simple, int or int64,
// float64 (RESP3's double), []any (array), error.
func writeJSONReply(c *server.Peer, r any) {
	switch t := r.(type) {
	case nil:
		c.WriteNull()
	case string:
		c.WriteBulk(t)
	case simple:
		c.WriteInline(string(t))
	case int:
		c.WriteInt(t)
	case int64:
		c.WriteInt(int(t))
	case float64: // RESP3 only: a double
		c.WriteFloat(t)
	case error:
		c.WriteError(t.Error())
	case []any:
		c.WriteLen(len(t))
		for _, e := range t {
			writeJSONReply(c, e)
		}
	default:
		c.WriteError("ERR internal error")
	}
}

type jsonFamily struct {
	in *inside
}

// jsonKey is a key's document as a command reads and writes it.
type jsonKey struct {
	name    string
	doc     *jsonDoc // nil: no such key
	existed bool
}

// isJSONValue reports whether a list element is a JSON document.
func isJSONValue(elem string) bool {
	return strings.HasPrefix(elem, jsonHeader)
}

// jsonKind tells what key holds: "" (nothing), jsonTypeName, or another
// Redis type; for a JSON key it also returns the document's text.
func jsonKind(x *txn, key string) (kind, text string) {
	t, _ := x.call("TYPE", key)
	kind = fmt.Sprint(t)
	switch kind {
	case "none":
		return "", ""
	case "list":
		if text, ok := jsonText(x, key); ok {
			return jsonTypeName, text
		}
	}
	return kind, ""
}

// jsonText returns the document of a key that is a list: ok is false when
// the list is not a JSON key's.
func jsonText(x *txn, key string) (text string, ok bool) {
	v, _ := x.call("LRANGE", key, "0", "1")
	return jsonOf(v)
}

// jsonOf returns the document held by the answer of LRANGE key 0 1.
func jsonOf(lrange any) (text string, ok bool) {
	l, _ := lrange.([]any)
	if len(l) != 1 {
		return "", false
	}
	s, _ := l[0].(string)
	if !isJSONValue(s) {
		return "", false
	}
	return s[len(jsonHeader):], true
}

// open reads key, with one call to miniredis: WRONGTYPE if it holds
// something else than JSON.
func (j *jsonFamily) open(x *txn, key string) (*jsonKey, error) {
	v, err := x.call("LRANGE", key, "0", "1")
	if err != nil {
		return nil, errJSONWrong // not a list
	}
	if l, _ := v.([]any); len(l) == 0 {
		return &jsonKey{name: key}, nil // Redis has no empty list: no key
	}
	text, ok := jsonOf(v)
	if !ok {
		return nil, errJSONWrong
	}
	d := newDoc()
	root, err := d.parseValue(text)
	if err != nil {
		return nil, errJSONWrong // not written by this family
	}
	d.root = root
	return &jsonKey{name: key, doc: d, existed: true}, nil
}

// save writes k's document back, or deletes the key when it has none.
func (j *jsonFamily) save(x *txn, k *jsonKey) error {
	if k.doc == nil {
		if k.existed {
			_, _ = x.call("DEL", k.name)
		}
		return nil
	}
	if depthOf(k.doc.root) >= jsonMaxDepth {
		return errRecursion
	}
	s := jsonHeader + k.doc.marshal(k.doc.root, jsonFormat{})
	if len(s)-len(jsonHeader) > jsonMaxDoc {
		return errTooBig
	}
	var err error
	if k.existed {
		_, err = x.call("LSET", k.name, "0", s)
	} else {
		_, err = x.call("RPUSH", k.name, s)
		k.existed = err == nil
	}
	return err
}

// keyType replaces miniredis's TYPE: ReJSON-RL for a JSON key.
func (j *jsonFamily) keyType(c *server.Peer, _ string, args []string) {
	if len(args) != 1 {
		wrongArity(c, "type")
		return
	}
	j.in.run(c, func(x *txn) {
		kind, _ := jsonKind(x, args[0])
		if kind == "" {
			kind = "none"
		}
		x.peer.WriteInline(kind)
	})
}

// pathArg parses the optional path at args[i], "." when absent.
func pathArg(args []string, i int) (*jsonPath, error) {
	if i < len(args) {
		return parsePath(args[i])
	}
	return parsePath(".")
}

// values returns the values p selects in d.
func values(d *jsonDoc, p *jsonPath) ([]any, error) {
	nodes, err := p.eval(d)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(nodes))
	for i, n := range nodes {
		out[i] = n.Node
	}
	return out, nil
}

// paths returns the paths of the nodes p selects in d.
func paths(d *jsonDoc, p *jsonPath) ([]spec.NormalizedPath, error) {
	nodes, err := p.eval(d)
	if err != nil {
		return nil, err
	}
	out := make([]spec.NormalizedPath, len(nodes))
	for i, n := range nodes {
		out[i] = n.Path
	}
	return out, nil
}

// get serves JSON.GET key [INDENT s] [NEWLINE s] [SPACE s] [path ...].
func (j *jsonFamily) get(x *txn, args []string) (any, error) {
	var f jsonFormat
	var raw []string
	for i := 1; i < len(args); i++ {
		opt := strings.ToUpper(args[i])
		switch opt {
		case "INDENT", "NEWLINE", "SPACE", "FORMAT":
			if i+1 >= len(args) {
				return nil, errArity
			}
			i++
			switch opt {
			case "INDENT":
				f.indent = args[i]
			case "NEWLINE":
				f.newline = args[i]
			case "SPACE":
				f.space = args[i]
			case "FORMAT":
				return nil, errors.New("ERR FORMAT argument is not supported on RESP2")
			}
		case "NOESCAPE":
		default:
			raw = append(raw, args[i])
		}
	}
	if len(raw) == 0 {
		raw = []string{"."}
	}
	k, err := j.open(x, args[0])
	if err != nil || k.doc == nil {
		return nil, err
	}
	d := k.doc
	legacy := true
	parsed := make([]*jsonPath, len(raw))
	for i, r := range raw {
		p, err := parsePath(r)
		if err != nil {
			if len(raw) == 1 {
				return nil, err
			}
			continue // RedisJSON leaves out a path that does not compile
		}
		parsed[i] = p
		legacy = legacy && p.legacy
	}
	if len(raw) == 1 {
		vs, err := values(d, parsed[0])
		if err != nil {
			return nil, err
		}
		if legacy {
			if len(vs) == 0 {
				return nil, errNoPath
			}
			return d.marshal(vs[0], f), nil
		}
		return d.marshal(vs, f), nil
	}
	obj := d.newObject()
	for i, p := range parsed {
		if p == nil {
			continue
		}
		vs, err := values(d, p)
		if err != nil {
			return nil, err
		}
		if legacy {
			if len(vs) == 0 {
				return nil, errNoPath
			}
			d.put(obj, raw[i], vs[0])
		} else {
			d.put(obj, raw[i], vs)
		}
	}
	return d.marshal(obj, f), nil
}

// set serves JSON.SET key path value [NX|XX].
func (j *jsonFamily) set(x *txn, args []string) (any, error) {
	nx, xx := false, false
	for _, a := range args[3:] {
		switch {
		case strings.EqualFold(a, "NX") && !nx && !xx:
			nx = true
		case strings.EqualFold(a, "XX") && !nx && !xx:
			xx = true
		default:
			return nil, errSyntaxJSON
		}
	}
	k, err := j.open(x, args[0])
	if err != nil {
		return nil, err
	}
	p, err := parsePath(args[1])
	if err != nil {
		return nil, err
	}
	ok, err := j.setOne(k, p, args[2], nx, xx)
	if err != nil {
		return nil, err
	}
	if err := j.save(x, k); err != nil {
		return nil, err
	}
	if !ok {
		return nil, nil
	}
	return simple("OK"), nil
}

// setOne sets the value text v at p in k as JSON.SET does; it reports
// whether every path was set.
func (j *jsonFamily) setOne(k *jsonKey, p *jsonPath, text string, nx, xx bool) (bool, error) {
	scratch := newDoc()
	v, err := scratch.parseValue(text)
	if err != nil {
		return false, err
	}
	if k.doc == nil {
		if xx {
			return false, nil
		}
		if !p.root {
			return false, errRootOnly
		}
		k.doc = scratch
		k.doc.root = v
		return true, nil
	}
	d := k.doc
	d.adopt(scratch, v)
	if p.root {
		if nx {
			return false, nil
		}
		d.root = v
		return true, nil
	}
	if !nx {
		ps, err := paths(d, p)
		if err != nil {
			return false, err
		}
		if len(ps) > 0 {
			if tooBig(len(ps), len(text)) {
				return false, errTooBig
			}
			for i, at := range outermost(ps) {
				if i > 0 {
					v = d.clone(v)
				}
				d.replace(at, v)
			}
			return true, nil
		}
	}
	if xx {
		return false, nil
	}
	return j.add(d, p, v)
}

// add creates the member a static path names in its parent objects, as
// RedisJSON's find_add_paths and dict_add do.
func (j *jsonFamily) add(d *jsonDoc, p *jsonPath, v any) (bool, error) {
	if !p.static {
		return false, errors.New("Err wrong static path")
	}
	segs := p.query.Segments()
	last := segs[len(segs)-1].Selectors()[0]
	parentPath := &jsonPath{query: spec.Query(true, segs[:len(segs)-1]...)}
	switch name := last.(type) {
	case spec.Name:
		parents, err := paths(d, parentPath)
		if err != nil {
			return false, err
		}
		if tooBig(len(parents), len(d.marshal(v, jsonFormat{}))) {
			return false, errTooBig
		}
		if len(parents) == 0 {
			return false, nil
		}
		all := true
		for i, pp := range parents {
			obj, ok := d.at(pp).(map[string]any)
			if !ok {
				all = false
				continue
			}
			if _, exists := obj[string(name)]; exists {
				all = false
				continue
			}
			if i > 0 {
				v = d.clone(v)
			}
			d.put(obj, string(name), v)
		}
		return all, nil
	default:
		ps, err := paths(d, p)
		if err != nil {
			return false, err
		}
		if len(ps) == 0 {
			return false, errors.New("ERR array index out of range")
		}
		return false, nil
	}
}

// merge serves JSON.MERGE key path value (RFC 7396 merge patch).
func (j *jsonFamily) merge(x *txn, args []string) (any, error) {
	if len(args) > 3 {
		return nil, errSyntaxJSON
	}
	k, err := j.open(x, args[0])
	if err != nil {
		return nil, err
	}
	p, err := parsePath(args[1])
	if err != nil {
		return nil, err
	}
	scratch := newDoc()
	patch, err := scratch.parseValue(args[2])
	if err != nil {
		return nil, err
	}
	if k.doc == nil {
		if !p.root {
			return nil, errRootOnly
		}
		k.doc = scratch
		k.doc.root = patch
		if err := j.save(x, k); err != nil {
			return nil, err
		}
		return simple("OK"), nil
	}
	d := k.doc
	d.adopt(scratch, patch)
	changed := false
	if p.root {
		d.root = d.mergePatch(d.root, patch)
		changed = true
	} else {
		ps, err := paths(d, p)
		if err != nil {
			return nil, err
		}
		if tooBig(len(ps), len(args[2])) {
			return nil, errTooBig
		}
		if len(ps) == 0 {
			ok, err := j.add(d, p, patch)
			if err != nil {
				return nil, err
			}
			changed = ok
		}
		for i, at := range ps {
			pv := patch
			if i > 0 {
				pv = d.clone(patch)
			}
			if pv == nil {
				changed = d.deletePath(at) || changed
				continue
			}
			d.replace(at, d.mergePatch(d.at(at), pv))
			changed = true
		}
	}
	if !changed {
		return nil, nil
	}
	if err := j.save(x, k); err != nil {
		return nil, err
	}
	return simple("OK"), nil
}

// mergePatch applies patch to target (RFC 7396).
func (d *jsonDoc) mergePatch(target, patch any) any {
	pobj, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	tobj, ok := target.(map[string]any)
	if !ok {
		tobj = d.newObject()
	}
	for _, key := range d.keys(pobj) {
		pv := pobj[key]
		if pv == nil {
			d.remove(tobj, key)
			continue
		}
		d.put(tobj, key, d.mergePatch(tobj[key], pv))
	}
	return tobj
}

// mset serves JSON.MSET key path value [key path value ...].
func (j *jsonFamily) mset(x *txn, args []string) (any, error) {
	if len(args)%3 != 0 {
		return nil, errArity
	}
	// Everything is checked before anything is written, as RedisJSON does.
	keys := map[string]*jsonKey{}
	for i := 0; i < len(args); i += 3 {
		k, ok := keys[args[i]]
		if !ok {
			var err error
			if k, err = j.open(x, args[i]); err != nil {
				return nil, err
			}
			keys[args[i]] = k
		}
		p, err := parsePath(args[i+1])
		if err != nil {
			return nil, err
		}
		if k.doc == nil && !p.root {
			return nil, errRootOnly
		}
		if _, err := newDoc().parseValue(args[i+2]); err != nil {
			return nil, err
		}
	}
	all := true
	for i := 0; i < len(args); i += 3 {
		k := keys[args[i]]
		p, _ := parsePath(args[i+1])
		ok, err := j.setOne(k, p, args[i+2], false, false)
		if err != nil {
			return nil, err
		}
		all = all && ok
	}
	for i := 0; i < len(args); i += 3 {
		if k := keys[args[i]]; k != nil {
			if err := j.save(x, k); err != nil {
				return nil, err
			}
			delete(keys, args[i])
		}
	}
	if !all {
		return nil, nil
	}
	return simple("OK"), nil
}

// del serves JSON.DEL and JSON.FORGET key [path].
func (j *jsonFamily) del(x *txn, args []string) (any, error) {
	if len(args) > 2 {
		return nil, errArity
	}
	k, err := j.open(x, args[0])
	if err != nil || k.doc == nil {
		return int64(0), err
	}
	p, err := pathArg(args, 1)
	if err != nil {
		return nil, err
	}
	if p.root {
		k.doc = nil
		return int64(1), j.save(x, k)
	}
	ps, err := paths(k.doc, p)
	if err != nil {
		return nil, err
	}
	n := int64(0)
	for _, at := range outermost(ps) {
		if k.doc.deletePath(at) {
			n++
		}
	}
	if n > 0 {
		if children(k.doc.root) == 0 && containerLike(k.doc.root) {
			k.doc = nil // RedisJSON deletes a key left empty
		}
		if err := j.save(x, k); err != nil {
			return nil, err
		}
	}
	return n, nil
}

func containerLike(v any) bool {
	switch v.(type) {
	case []any, map[string]any:
		return true
	}
	return false
}

// mget serves JSON.MGET key [key ...] path.
func (j *jsonFamily) mget(x *txn, args []string) (any, error) {
	p, err := parsePath(args[len(args)-1])
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(args)-1)
	for _, key := range args[:len(args)-1] {
		k, err := j.open(x, key)
		if err != nil || k.doc == nil {
			out = append(out, nil)
			continue
		}
		vs, err := values(k.doc, p)
		switch {
		case err != nil:
			out = append(out, nil)
		case p.legacy && len(vs) == 0:
			out = append(out, nil)
		case p.legacy:
			out = append(out, k.doc.marshal(vs[0], jsonFormat{}))
		default:
			out = append(out, k.doc.marshal(vs, jsonFormat{}))
		}
	}
	return out, nil
}

// read opens a key and parses the optional path at args[1] of a read
// command.
func (j *jsonFamily) read(x *txn, args []string) (*jsonKey, *jsonPath, error) {
	if len(args) > 2 {
		return nil, nil, errArity
	}
	k, err := j.open(x, args[0])
	if err != nil {
		return nil, nil, err
	}
	p, err := pathArg(args, 1)
	if err != nil {
		return nil, nil, err
	}
	return k, p, nil
}

// typ serves JSON.TYPE key [path].
// On RESP3, RedisJSON wraps the answer in an array of one.
func (j *jsonFamily) typ(x *txn, args []string) (any, error) {
	r, err := j.typeOf(x, args)
	if err != nil || !x.peer.Resp3 {
		return r, err
	}
	return []any{r}, nil
}

func (j *jsonFamily) typeOf(x *txn, args []string) (any, error) {
	k, p, err := j.read(x, args)
	if err != nil || k.doc == nil {
		return nil, err
	}
	vs, err := values(k.doc, p)
	if err != nil {
		return nil, err
	}
	if p.legacy {
		if len(vs) == 0 {
			return nil, nil
		}
		return typeName(vs[0]), nil
	}
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = typeName(v)
	}
	return out, nil
}

// update runs a write command's op on every node p selects that match
// accepts, in mutation order; results are in match order, nil for a node
// that does not match. It answers RedisJSON's legacy forms too: the last
// result, or errPathOr(what) when nothing matched.
//
// grow is how many bytes of arguments op copies into each node: a command
// that would copy more than a document may hold (proto-max-bulk-len) over
// its nodes is refused before it copies anything.
func (j *jsonFamily) update(x *txn, key string, p *jsonPath, what string, grow int, accepts func(any) bool, op func(d *jsonDoc, at spec.NormalizedPath, v any) (any, error)) (any, error) {
	k, err := j.open(x, key)
	if err != nil {
		return nil, err
	}
	if k.doc == nil {
		return nil, errNoKey
	}
	ps, err := paths(k.doc, p)
	if err != nil {
		return nil, err
	}
	if tooBig(len(ps), grow) {
		return nil, errTooBig
	}
	results := make([]any, len(ps))
	matched := false
	var last any
	for _, i := range forMutation(ps) {
		v := k.doc.at(ps[i])
		if !accepts(v) {
			continue
		}
		r, err := op(k.doc, ps[i], v)
		if err != nil {
			return nil, err
		}
		results[i], last, matched = r, r, true
	}
	if matched {
		if err := j.save(x, k); err != nil {
			return nil, err
		}
	}
	if p.legacy {
		if !matched {
			return nil, errPathOr(what)
		}
		return last, nil
	}
	return results, nil
}

// tooBig reports whether copying each bytes into n nodes goes past what a
// document may hold (jsonMaxDoc).
func tooBig(n, each int) bool {
	return each > 0 && n > jsonMaxDoc/each
}

// totalLen is the bytes of args.
func totalLen(args []string) int {
	n := 0
	for _, a := range args {
		n += len(a)
	}
	return n
}

func isNumber(v any) bool { _, ok := toFloat(v); return ok }
func isBool(v any) bool   { _, ok := v.(bool); return ok }
func isString(v any) bool { _, ok := v.(string); return ok }
func isArray(v any) bool  { _, ok := v.([]any); return ok }
func isObject(v any) bool { _, ok := v.(map[string]any); return ok }

// numOp serves JSON.NUMINCRBY (mult false) and JSON.NUMMULTBY. On RESP3,
// RedisJSON answers every path, a legacy one too, with an array of numbers.
func (j *jsonFamily) numOp(mult bool) func(x *txn, args []string) (any, error) {
	return func(x *txn, args []string) (any, error) {
		p, err := parsePath(args[1])
		if err != nil {
			return nil, err
		}
		if x.peer.Resp3 && p.legacy {
			q := *p
			q.legacy = false
			p = &q
		}
		var by any
		parsed := false
		r, err := j.update(x, args[0], p, "does not contains a number", 0, isNumber, func(d *jsonDoc, at spec.NormalizedPath, v any) (any, error) {
			if !parsed {
				n, err := newDoc().parseValue(args[2])
				if err != nil {
					return nil, err
				}
				if !isNumber(n) {
					return nil, errors.New("bad input number")
				}
				by, parsed = n, true
			}
			res, err := numCompute(v, by, mult)
			if err != nil {
				return nil, err
			}
			d.replace(at, res)
			return res, nil
		})
		if err != nil {
			return nil, err
		}
		if x.peer.Resp3 {
			return r, nil
		}
		// RESP2 answers JSON text: the last number for a legacy path, an
		// array with null where a node is not a number for a JSONPath.
		return newDoc().marshal(r, jsonFormat{}), nil
	}
}

// numCompute adds or multiplies as RedisJSON does: integers stay integers
// (an overflow is an error), anything else is a float.
func numCompute(a, b any, mult bool) (any, error) {
	ia, aInt := a.(int64)
	ib, bInt := b.(int64)
	if aInt && bInt {
		x, y := big.NewInt(ia), big.NewInt(ib)
		if mult {
			x.Mul(x, y)
		} else {
			x.Add(x, y)
		}
		if !x.IsInt64() {
			return nil, errOverflow
		}
		return x.Int64(), nil
	}
	fa, _ := toFloat(a)
	fb, _ := toFloat(b)
	r := fa + fb
	if mult {
		r = fa * fb
	}
	if math.IsNaN(r) || math.IsInf(r, 0) {
		return nil, errNotNumber
	}
	return r, nil
}

// toggle serves JSON.TOGGLE key path.
func (j *jsonFamily) toggle(x *txn, args []string) (any, error) {
	p, err := parsePath(args[1])
	if err != nil {
		return nil, err
	}
	r, err := j.update(x, args[0], p, "not a bool", 0, isBool, func(d *jsonDoc, at spec.NormalizedPath, v any) (any, error) {
		nv := !v.(bool)
		d.replace(at, nv)
		if nv {
			return int64(1), nil
		}
		return int64(0), nil
	})
	if err != nil || !p.legacy {
		return r, err
	}
	return strconv.FormatBool(r == int64(1)), nil
}

// strAppend serves JSON.STRAPPEND key [path] value.
func (j *jsonFamily) strAppend(x *txn, args []string) (any, error) {
	if len(args) > 3 {
		return nil, errArity
	}
	path, text := ".", args[1]
	if len(args) == 3 {
		path, text = args[1], args[2]
	}
	p, err := parsePath(path)
	if err != nil {
		return nil, err
	}
	return j.update(x, args[0], p, "not a string", len(text), isString, func(d *jsonDoc, at spec.NormalizedPath, v any) (any, error) {
		s, err := newDoc().parseValue(text)
		if err != nil {
			return nil, err
		}
		add, ok := s.(string)
		if !ok {
			return nil, errExpected("string")
		}
		nv := v.(string) + add
		if len(nv) > jsonMaxDoc {
			return nil, errTooBig
		}
		d.replace(at, nv)
		return int64(len(nv)), nil
	})
}

// strLen serves JSON.STRLEN key [path].
func (j *jsonFamily) strLen(x *txn, args []string) (any, error) {
	k, p, err := j.read(x, args)
	if err != nil {
		return nil, err
	}
	if k.doc == nil {
		if p.legacy {
			return nil, nil
		}
		return nil, errNoKey
	}
	vs, err := values(k.doc, p)
	if err != nil {
		return nil, err
	}
	if p.legacy {
		if len(vs) == 0 {
			return nil, errNoPath
		}
		s, ok := vs[0].(string)
		if !ok {
			return nil, errExpected("string")
		}
		return int64(len(s)), nil
	}
	out := make([]any, len(vs))
	for i, v := range vs {
		if s, ok := v.(string); ok {
			out[i] = int64(len(s))
		}
	}
	return out, nil
}

// parseValues parses JSON arguments.
func parseValues(texts []string) ([]any, *jsonDoc, error) {
	d := newDoc()
	out := make([]any, len(texts))
	for i, t := range texts {
		v, err := d.parseValue(t)
		if err != nil {
			return nil, nil, err
		}
		out[i] = v
	}
	return out, d, nil
}

// cloneAll copies vs into d.
func cloneAll(d, src *jsonDoc, vs []any) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		d.adopt(src, v)
		out[i] = d.clone(v)
	}
	return out
}

// arrAppend serves JSON.ARRAPPEND key path value [value ...].
func (j *jsonFamily) arrAppend(x *txn, args []string) (any, error) {
	p, err := parsePath(args[1])
	if err != nil {
		return nil, err
	}
	if len(args) < 3 {
		return nil, errArity
	}
	vs, src, err := parseValues(args[2:])
	if err != nil {
		return nil, err
	}
	return j.update(x, args[0], p, "not an array", totalLen(args[2:]), isArray, func(d *jsonDoc, at spec.NormalizedPath, v any) (any, error) {
		arr := append(v.([]any), cloneAll(d, src, vs)...)
		d.replace(at, arr) // save refuses a document nested too deep
		return int64(len(arr)), nil
	})
}

// parseInt parses an integer argument as RedisJSON does.
func parseInt(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errNotInteger
	}
	return n, nil
}

// arrIndex serves JSON.ARRINDEX key path value [start [stop]].
func (j *jsonFamily) arrIndex(x *txn, args []string) (any, error) {
	if len(args) > 5 {
		return nil, errArity
	}
	p, err := parsePath(args[1])
	if err != nil {
		return nil, err
	}
	var start, stop int64
	if len(args) > 3 {
		if start, err = parseInt(args[3]); err != nil {
			return nil, err
		}
	}
	if len(args) > 4 {
		if stop, err = parseInt(args[4]); err != nil {
			return nil, err
		}
	}
	k, err := j.open(x, args[0])
	if err != nil {
		return nil, err
	}
	want, err := newDoc().parseValue(args[2])
	if err != nil {
		return nil, err
	}
	if k.doc == nil {
		return nil, errNoPath
	}
	vs, err := values(k.doc, p)
	if err != nil {
		return nil, err
	}
	find := func(v any) any {
		arr, ok := v.([]any)
		if !ok {
			return nil
		}
		n := int64(len(arr))
		if n == 0 {
			return int64(-1)
		}
		s, e := normalizeRange(start, stop, n)
		for i := s; i < e; i++ {
			if jsonEqual(arr[i], want) {
				return i
			}
		}
		return int64(-1)
	}
	if p.legacy {
		if len(vs) == 0 {
			return nil, errNoPath
		}
		r := find(vs[0])
		if r == nil {
			return nil, errExpected("array")
		}
		return r, nil
	}
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = find(v)
	}
	return out, nil
}

// normalizeStart is RedisJSON's normalize_arr_start_index.
func normalizeStart(start, n int64) int64 {
	if start < 0 {
		return max(0, n+start)
	}
	return min(start, n-1)
}

// normalizeRange is RedisJSON's normalize_arr_indices: a stop of 0 means
// the end.
func normalizeRange(start, stop, n int64) (int64, int64) {
	start = normalizeStart(start, n)
	switch {
	case stop == 0:
		stop = n
	case stop < 0:
		stop = max(0, n+stop)
	default:
		stop = min(stop, n)
	}
	return start, stop
}

// arrInsert serves JSON.ARRINSERT key path index value [value ...].
func (j *jsonFamily) arrInsert(x *txn, args []string) (any, error) {
	p, err := parsePath(args[1])
	if err != nil {
		return nil, err
	}
	idx, err := parseInt(args[2])
	if err != nil {
		return nil, err
	}
	vs, src, err := parseValues(args[3:])
	if err != nil {
		return nil, err
	}
	return j.update(x, args[0], p, "not an array", totalLen(args[3:]), isArray, func(d *jsonDoc, at spec.NormalizedPath, v any) (any, error) {
		arr := v.([]any)
		i := idx
		if i < 0 {
			i += int64(len(arr))
		}
		if i < 0 || i > int64(len(arr)) {
			return nil, errors.New("ERR index out of bounds")
		}
		nv := make([]any, 0, len(arr)+len(vs))
		nv = append(nv, arr[:i]...)
		nv = append(nv, cloneAll(d, src, vs)...)
		nv = append(nv, arr[i:]...)
		d.replace(at, nv) // save refuses a document nested too deep
		return int64(len(nv)), nil
	})
}

// arrLen serves JSON.ARRLEN key [path].
func (j *jsonFamily) arrLen(x *txn, args []string) (any, error) {
	k, p, err := j.read(x, args)
	if err != nil {
		return nil, err
	}
	if k.doc == nil {
		if p.legacy {
			return nil, nil
		}
		return nil, errNoKey
	}
	vs, err := values(k.doc, p)
	if err != nil {
		return nil, err
	}
	if p.legacy {
		if len(vs) == 0 {
			return nil, errNoPath
		}
		arr, ok := vs[0].([]any)
		if !ok {
			return nil, errPathOr("not an array")
		}
		return int64(len(arr)), nil
	}
	out := make([]any, len(vs))
	for i, v := range vs {
		if arr, ok := v.([]any); ok {
			out[i] = int64(len(arr))
		}
	}
	return out, nil
}

// arrPop serves JSON.ARRPOP key [path [index]].
func (j *jsonFamily) arrPop(x *txn, args []string) (any, error) {
	if len(args) > 3 {
		return nil, errArity
	}
	p, err := pathArg(args, 1)
	if err != nil {
		return nil, err
	}
	idx := int64(math.MaxInt64)
	if len(args) > 1 {
		idx = -1
		if len(args) > 2 {
			if n, err := strconv.ParseInt(args[2], 10, 64); err == nil {
				idx = n // RedisJSON takes a bad index as -1
			}
		}
	}
	return j.update(x, args[0], p, "not an array", 0, isArray, func(d *jsonDoc, at spec.NormalizedPath, v any) (any, error) {
		arr := v.([]any)
		if len(arr) == 0 {
			return nil, nil
		}
		i := normalizeStart(idx, int64(len(arr)))
		popped := d.marshal(arr[i], jsonFormat{})
		d.replace(at, append(arr[:i:i], arr[i+1:]...))
		return popped, nil
	})
}

// arrTrim serves JSON.ARRTRIM key path start stop.
func (j *jsonFamily) arrTrim(x *txn, args []string) (any, error) {
	p, err := parsePath(args[1])
	if err != nil {
		return nil, err
	}
	start, err := parseInt(args[2])
	if err != nil {
		return nil, err
	}
	stop, err := parseInt(args[3])
	if err != nil {
		return nil, err
	}
	return j.update(x, args[0], p, "not an array", 0, isArray, func(d *jsonDoc, at spec.NormalizedPath, v any) (any, error) {
		arr := v.([]any)
		n := int64(len(arr))
		norm := func(i int64) int64 {
			if i >= 0 {
				return min(i, n-1)
			}
			return max(0, n+i)
		}
		e := norm(stop)
		s := e + 1
		if start < 0 || start < n {
			s = norm(start)
		}
		var nv []any
		if s <= e && n > 0 {
			nv = append([]any{}, arr[s:e+1]...)
		} else {
			nv = []any{}
		}
		d.replace(at, nv)
		return int64(len(nv)), nil
	})
}

// objKeys serves JSON.OBJKEYS key [path].
func (j *jsonFamily) objKeys(x *txn, args []string) (any, error) {
	k, p, err := j.read(x, args)
	if err != nil {
		return nil, err
	}
	if k.doc == nil {
		if p.legacy {
			return nil, nil
		}
		return nil, errNoKey
	}
	vs, err := values(k.doc, p)
	if err != nil {
		return nil, err
	}
	keysOf := func(v any) any {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		ks := k.doc.keys(obj)
		out := make([]any, len(ks))
		for i, s := range ks {
			out[i] = s
		}
		return out
	}
	if p.legacy {
		if len(vs) == 0 {
			return nil, nil
		}
		if !isObject(vs[0]) {
			return nil, errPathOr("not an object")
		}
		return keysOf(vs[0]), nil
	}
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = keysOf(v)
	}
	return out, nil
}

// objLen serves JSON.OBJLEN key [path].
func (j *jsonFamily) objLen(x *txn, args []string) (any, error) {
	k, p, err := j.read(x, args)
	if err != nil {
		return nil, err
	}
	if k.doc == nil {
		if p.legacy {
			return nil, nil
		}
		return nil, errPathOr("not an object")
	}
	vs, err := values(k.doc, p)
	if err != nil {
		return nil, err
	}
	if p.legacy {
		if len(vs) == 0 {
			return nil, nil
		}
		obj, ok := vs[0].(map[string]any)
		if !ok {
			return nil, errExpected("object")
		}
		return int64(len(obj)), nil
	}
	out := make([]any, len(vs))
	for i, v := range vs {
		if obj, ok := v.(map[string]any); ok {
			out[i] = int64(len(obj))
		}
	}
	return out, nil
}

// clear serves JSON.CLEAR key [path].
func (j *jsonFamily) clear(x *txn, args []string) (any, error) {
	if len(args) > 2 {
		return nil, errArity
	}
	p, err := pathArg(args, 1)
	if err != nil {
		return nil, err
	}
	k, err := j.open(x, args[0])
	if err != nil {
		return nil, err
	}
	if k.doc == nil {
		return nil, errNoKey
	}
	ps, err := paths(k.doc, p)
	if err != nil {
		return nil, err
	}
	n := int64(0)
	for _, i := range forMutation(ps) {
		at := ps[i]
		switch v := k.doc.at(at).(type) {
		case []any:
			if len(v) > 0 {
				k.doc.replace(at, []any{})
				n++
			}
		case map[string]any:
			if len(v) > 0 {
				k.doc.replace(at, k.doc.newObject())
				n++
			}
		case int64:
			if v != 0 {
				k.doc.replace(at, int64(0))
				n++
			}
		case float64:
			if v != 0 {
				k.doc.replace(at, int64(0))
				n++
			}
		}
	}
	if n > 0 {
		if err := j.save(x, k); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// resp serves JSON.RESP key [path].
func (j *jsonFamily) resp(x *txn, args []string) (any, error) {
	k, p, err := j.read(x, args)
	if err != nil || k.doc == nil {
		return nil, err
	}
	vs, err := values(k.doc, p)
	if err != nil {
		return nil, err
	}
	if p.legacy {
		if len(vs) == 0 {
			return nil, errNoPath
		}
		return respOf(k.doc, vs[0], x.peer.Resp3), nil
	}
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = respOf(k.doc, v, x.peer.Resp3)
	}
	return out, nil
}

// respOf is JSON.RESP's form of a value; a float is a bulk string on
// RESP2, a double on RESP3.
func respOf(d *jsonDoc, v any, resp3 bool) any {
	switch t := v.(type) {
	case nil:
		return nil
	case bool:
		return simple(strconv.FormatBool(t))
	case int64:
		return t
	case float64:
		if resp3 {
			return t
		}
		return strconv.FormatFloat(t, 'g', -1, 64)
	case string:
		return t
	case []any:
		out := []any{simple("[")}
		for _, e := range t {
			out = append(out, respOf(d, e, resp3))
		}
		return out
	case map[string]any:
		out := []any{simple("{")}
		for _, key := range d.keys(t) {
			out = append(out, key, respOf(d, t[key], resp3))
		}
		return out
	}
	return nil
}

// jsonValueOf is the list element that holds the document text, as
// JSON.SET would store it; an error if text is not a document RedisJSON
// takes (too deep, or not JSON).
func jsonValueOf(text string) (string, error) {
	d := newDoc()
	v, err := d.parseValue(text)
	if err != nil {
		return "", fmt.Errorf("json document: %w", err)
	}
	return jsonHeader + d.marshal(v, jsonFormat{}), nil
}
