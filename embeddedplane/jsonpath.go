package embeddedplane

// Paths of the RedisJSON family: JSONPath (`$...`), parsed and walked by
// github.com/theory/jsonpath (RFC 9535), and RedisJSON's legacy paths
// (`.a.b`, `a`, `.`), which RedisJSON turns into JSONPath the same way.
//
// The library walks the document segment by segment here, not in one call,
// so that a path cannot cost more than jsonMaxWork node visits: `$..` over a
// big document, a chain of `..`, a union that names one subtree many times,
// or a filter that walks the whole document for every child each add up
// before they run and are refused past the budget.

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/theory/jsonpath"
	"github.com/theory/jsonpath/spec"
)

const (
	// jsonMaxWork bounds what one path may cost on one document, in node
	// visits times the length of the path each node is reached by (the
	// library copies a node's path into every node it selects): about
	// 64 MiB of paths at most.
	jsonMaxWork = 1 << 22
	// jsonMaxPath bounds a path's length in bytes.
	jsonMaxPath = 64 << 10
)

// errPathCost refuses a path that would visit more than jsonMaxWork nodes.
var errPathCost = errors.New("ERR JSONPath query is too costly on the embedded plane")

// jsonPath is one path argument.
type jsonPath struct {
	original string
	legacy   bool
	query    *spec.PathQuery
	// root: the path is the whole document ("$" or ".").
	root bool
	// static: only names and indices, no descendant segment; last is then
	// the last selector.
	static bool
}

// parsePath parses a path argument. Errors are RedisJSON's words.
func parsePath(p string) (*jsonPath, error) {
	jp := &jsonPath{original: p}
	q := p
	if !isJSONPath(p) {
		jp.legacy = true
		switch {
		case p == ".":
			q = "$"
		case strings.HasPrefix(p, "."), strings.HasPrefix(p, "["):
			q = "$" + p
		default:
			q = "$." + p
		}
	}
	if len(q) > jsonMaxPath {
		return nil, fmt.Errorf("Error occurred at position 0, JSONPath longer than %d bytes on the embedded plane", jsonMaxPath)
	}
	if depth := bracketDepth(q); depth > jsonMaxDepth {
		return nil, fmt.Errorf("Error occurred at position 0, JSONPath nesting too deep (max depth %d)", jsonMaxDepth)
	}
	parsed, err := jsonpath.Parse(bracketNames(q))
	if err != nil {
		pos := 0
		if m := positionRE.FindStringSubmatch(err.Error()); m != nil {
			pos, _ = strconv.Atoi(m[1])
		}
		msg := strings.TrimPrefix(err.Error(), "jsonpath: ")
		return nil, fmt.Errorf("Error occurred at position %d, %s", pos, msg)
	}
	jp.query = parsed.Query()
	segs := jp.query.Segments()
	jp.root = len(segs) == 0
	jp.static = true
	for _, s := range segs {
		if s.IsDescendant() {
			jp.static = false
		}
		if len(s.Selectors()) != 1 {
			jp.static = false
		}
		for _, sel := range s.Selectors() {
			switch sel.(type) {
			case spec.Name, spec.Index:
			case spec.SliceSelector:
				jp.static = false
			default: // wildcard, filter
				jp.static = false
			}
		}
	}
	return jp, nil
}

var positionRE = regexp.MustCompile(`at (?:position )?(\d+)`)

// bracketNames rewrites the dotted member names RedisJSON takes and RFC
// 9535's shorthand does not (`.a-b`, `.1st`, `.a:b`: RedisJSON's literal
// has '-', '+', '#', '%', '$', '^', '/', ':', '`' and leading digits) into
// bracket notation (`['a-b']`), outside brackets, where they cannot be
// anything else, and drops the dot RedisJSON takes before a bracket
// (`$.[0]`). Everything else is left to the library's parser.
func bracketNames(q string) string {
	isLiteral := func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80 ||
			strings.IndexByte("-_`+#%$^/:", c) >= 0
	}
	isRFC := func(name string) bool {
		for i := 0; i < len(name); i++ {
			c := name[i]
			ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80 || (i > 0 && c >= '0' && c <= '9')
			if !ok {
				return false
			}
		}
		return true
	}
	var b strings.Builder
	depth := 0
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == '\\' && i+1 < len(q) {
				b.WriteByte(c)
				i++
				c = q[i]
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '[' || c == '(':
			depth++
		case c == ']' || c == ')':
			depth--
		case c == '.' && depth == 0:
			if i+1 < len(q) && q[i+1] == '[' {
				continue // RedisJSON's `$.[0]` is `$[0]`
			}
			dots := 1
			if i+1 < len(q) && q[i+1] == '.' {
				dots = 2
			}
			j := i + dots
			k := j
			for k < len(q) && isLiteral(q[k]) {
				k++
			}
			if name := q[j:k]; name != "" && !isRFC(name) {
				if dots == 2 {
					b.WriteString("..")
				}
				b.WriteString("['" + name + "']")
			} else {
				b.WriteString(q[i:k])
			}
			i = k - 1
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// isJSONPath is RedisJSON's test: `$` alone, or `$.`/`$[` first.
func isJSONPath(p string) bool {
	return p == "$" || strings.HasPrefix(p, "$.") || strings.HasPrefix(p, "$[")
}

// bracketDepth is how deep brackets and parentheses nest in p, outside
// quoted names.
func bracketDepth(p string) int {
	depth, most := 0, 0
	var quote byte
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '[' || c == '(':
			depth++
			most = max(most, depth)
		case c == ']' || c == ')':
			depth--
		}
	}
	return most
}

// located is one node a path selects, with where it is.
type located = spec.LocatedNode

// eval returns the nodes p selects in d, in RedisJSON's order: RFC 9535's,
// with an object's members in insertion order. The library's selectors pick
// a node's children; the walk over segments and descendants is here, so
// that objects are walked in order (the library walks Go maps) and the cost
// is counted as it goes.
func (p *jsonPath) eval(d *jsonDoc) ([]*located, error) {
	w := &walker{d: d}
	nodes := []*located{{Node: d.root}}
	for _, seg := range p.query.Segments() {
		var next []*located
		var err error
		for _, n := range nodes {
			if seg.IsDescendant() {
				next, err = w.descend(seg, n.Node, n.Path, next)
			} else {
				next, err = w.apply(seg, n.Node, n.Path, next)
			}
			if err != nil {
				return nil, err
			}
		}
		nodes = next
	}
	return nodes, nil
}

// walker walks one path over one document, counting what it costs.
type walker struct {
	d      *jsonDoc
	work   int
	shapes map[unsafe.Pointer]shape // for filters' cost, measured when one runs
}

// charge adds n to the work done; errPathCost past jsonMaxWork.
func (w *walker) charge(n int) error {
	w.work += n
	if n < 0 || w.work > jsonMaxWork {
		return errPathCost
	}
	return nil
}

// size is the number of nodes under v, v counted.
func (w *walker) size(v any) int {
	if w.shapes == nil {
		w.shapes = map[unsafe.Pointer]shape{}
		measure(w.d.root, w.shapes)
	}
	if id := containerID(v); id != nil {
		return w.shapes[id].size
	}
	return 1
}

// at returns the path of child step of path, a copy.
func at(path spec.NormalizedPath, step spec.NormalSelector) spec.NormalizedPath {
	p := make(spec.NormalizedPath, len(path)+1)
	copy(p, path)
	p[len(path)] = step
	return p
}

// eachChild calls f with node's children in order: array elements by
// index, object members in insertion order.
func (w *walker) eachChild(node any, f func(step spec.NormalSelector, child any) error) error {
	switch t := node.(type) {
	case []any:
		for i, c := range t {
			if err := f(spec.Index(i), c); err != nil {
				return err
			}
		}
	case map[string]any:
		for _, k := range w.d.keys(t) {
			if err := f(spec.Name(k), t[k]); err != nil {
				return err
			}
		}
	}
	return nil
}

// apply runs seg's selectors on node, in order, and appends what they
// select to out.
func (w *walker) apply(seg *spec.Segment, node any, path spec.NormalizedPath, out []*located) ([]*located, error) {
	for _, sel := range seg.Selectors() {
		if err := w.charge(1); err != nil {
			return nil, err
		}
		switch s := sel.(type) {
		case spec.WildcardSelector:
			err := w.eachChild(node, func(step spec.NormalSelector, c any) error {
				out = append(out, &located{Node: c, Path: at(path, step)})
				return w.charge(len(path) + 1)
			})
			if err != nil {
				return nil, err
			}
		case *spec.FilterSelector:
			// A filter runs once per child; one with an absolute query
			// may walk the whole document each time, one with a
			// descendant segment the child's subtree.
			f := s.String()
			err := w.eachChild(node, func(step spec.NormalSelector, c any) error {
				cost := 1 + len(f)
				switch {
				case strings.Contains(f, "$"):
					cost += w.size(w.d.root)
				case strings.Contains(f, ".."):
					cost += w.size(c)
				}
				if err := w.charge(cost); err != nil {
					return err
				}
				if s.Eval(c, w.d.root) {
					out = append(out, &located{Node: c, Path: at(path, step)})
					return w.charge(len(path) + 1)
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		default: // names, indices, slices: the library's, in their order
			if _, ok := s.(spec.SliceSelector); ok {
				if err := w.charge(children(node)); err != nil {
					return nil, err
				}
			}
			got := sel.SelectLocated(node, w.d.root, path)
			if err := w.charge(len(got) * (len(path) + 1)); err != nil {
				return nil, err
			}
			out = append(out, got...)
		}
	}
	return out, nil
}

// descend runs seg's selectors on node, then on each of its descendants,
// parents before children, as RFC 9535's descendant segment does.
func (w *walker) descend(seg *spec.Segment, node any, path spec.NormalizedPath, out []*located) ([]*located, error) {
	out, err := w.apply(seg, node, path, out)
	if err != nil {
		return nil, err
	}
	err = w.eachChild(node, func(step spec.NormalSelector, c any) error {
		if err := w.charge(len(path) + 1); err != nil {
			return err
		}
		out, err = w.descend(seg, c, at(path, step), out)
		return err
	})
	return out, err
}

// children is how many children a container has.
func children(v any) int {
	switch t := v.(type) {
	case []any:
		return len(t)
	case map[string]any:
		return len(t)
	}
	return 0
}

// containerID identifies a non-empty container; nil for anything else.
func containerID(v any) unsafe.Pointer {
	switch t := v.(type) {
	case []any:
		if len(t) > 0 {
			return unsafe.Pointer(unsafe.SliceData(t))
		}
	case map[string]any:
		if len(t) > 0 {
			return mapID(t)
		}
	}
	return nil
}

// shape is the size of a subtree (its nodes, itself counted) and its
// height (0 for a scalar).
type shape struct{ size, height int }

// measure records the shape of every non-empty container under v.
func measure(v any, shapes map[unsafe.Pointer]shape) shape {
	sh := shape{size: 1}
	add := func(e any) {
		c := measure(e, shapes)
		sh.size += c.size
		sh.height = max(sh.height, c.height+1)
	}
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			add(e)
		}
	case map[string]any:
		for _, e := range t {
			add(e)
		}
	}
	if id := containerID(v); id != nil {
		shapes[id] = sh
	}
	return sh
}

// child returns the child sel names in v, or nil.
func child(v any, sel spec.NormalSelector) any {
	switch s := sel.(type) {
	case spec.Index:
		if arr, ok := v.([]any); ok && int(s) >= 0 && int(s) < len(arr) {
			return arr[s]
		}
	case spec.Name:
		if obj, ok := v.(map[string]any); ok {
			return obj[string(s)]
		}
	}
	return nil
}

// at returns the value at path p of d.
func (d *jsonDoc) at(p spec.NormalizedPath) any {
	cur := d.root
	for _, sel := range p {
		cur = child(cur, sel)
	}
	return cur
}

// replace puts v at path p of d (the root when p is empty). The path's
// parent must exist.
func (d *jsonDoc) replace(p spec.NormalizedPath, v any) {
	if len(p) == 0 {
		d.root = v
		return
	}
	parent := d.at(p[:len(p)-1])
	switch s := p[len(p)-1].(type) {
	case spec.Index:
		if arr, ok := parent.([]any); ok && int(s) < len(arr) {
			arr[s] = v
		}
	case spec.Name:
		if obj, ok := parent.(map[string]any); ok {
			d.put(obj, string(s), v)
		}
	}
}

// deletePath removes the value at p from its parent; false when there is
// none.
func (d *jsonDoc) deletePath(p spec.NormalizedPath) bool {
	if len(p) == 0 {
		return false
	}
	ppath := p[:len(p)-1]
	parent := d.at(ppath)
	switch s := p[len(p)-1].(type) {
	case spec.Index:
		arr, ok := parent.([]any)
		if !ok || int(s) >= len(arr) {
			return false
		}
		d.replace(ppath, slices.Delete(arr, int(s), int(s)+1))
		return true
	case spec.Name:
		obj, ok := parent.(map[string]any)
		if !ok {
			return false
		}
		if _, ok := obj[string(s)]; !ok {
			return false
		}
		d.remove(obj, string(s))
		return true
	}
	return false
}

// forMutation orders paths as RedisJSON mutates them: deeper first, then
// higher array indices first, so that no mutation moves a path still to
// come. It returns the positions of paths in that order.
func forMutation(paths []spec.NormalizedPath) []int {
	order := make([]int, len(paths))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int { return compareForMutation(paths[i], paths[j]) })
	return order
}

func compareForMutation(a, b spec.NormalizedPath) int {
	for i := 0; ; i++ {
		switch {
		case i == len(a) && i == len(b):
			return 0
		case i == len(a):
			return 1 // shorter after longer
		case i == len(b):
			return -1
		}
		ia, aIdx := a[i].(spec.Index)
		ib, bIdx := b[i].(spec.Index)
		switch {
		case aIdx && bIdx:
			if ia != ib {
				return cmp.Compare(ib, ia) // higher first
			}
		case aIdx:
			return 1
		case bIdx:
			return -1
		default:
			na, nb := a[i].(spec.Name), b[i].(spec.Name)
			if na != nb {
				return cmp.Compare(na, nb)
			}
		}
	}
}

// outermost drops the paths nested in another path of paths (and
// duplicates), and orders the rest for mutation, as RedisJSON's
// prepare_paths_for_updating does for SET and DEL.
func outermost(paths []spec.NormalizedPath) []spec.NormalizedPath {
	var keep []spec.NormalizedPath
	for i, p := range paths {
		nested := false
		for j, q := range paths {
			if i == j || len(q) > len(p) {
				continue
			}
			if slices.Equal(q, p[:len(q)]) && (len(q) < len(p) || j < i) {
				nested = true
				break
			}
		}
		if !nested {
			keep = append(keep, p)
		}
	}
	slices.SortStableFunc(keep, compareForMutation)
	return keep
}
