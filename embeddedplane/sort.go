package embeddedplane

// SORT and SORT_RO, which miniredis lacks, as Redis has them (sort.c): BY
// and GET patterns (with "#" and "->field"), LIMIT, ASC/DESC, ALPHA and
// STORE. Ties sort as Redis breaks them (numeric: by the element's bytes);
// a set sorted BY a constant comes in no particular order, as in Redis,
// except with STORE, where it is sorted ALPHA. ALPHA compares bytes, as
// strcoll does in the C locale.

import (
	"math"
	"slices"
	"strings"

	"github.com/alicebob/miniredis/v2/server"
)

// sortCommands is the family's commands for one database.
func sortCommands(in *inside) map[string]server.Cmd {
	cmd := func(readonly bool, name string) server.Cmd {
		return func(c *server.Peer, _ string, args []string) {
			if len(args) < 1 {
				wrongArity(c, name)
				return
			}
			in.run(c, func(x *txn) { sortRun(x, args, readonly) })
		}
	}
	return map[string]server.Cmd{"SORT": cmd(false, "sort"), "SORT_RO": cmd(true, "sort_ro")}
}

// sortItem is one element being sorted.
type sortItem struct {
	elem  string
	score float64
	cmp   *string // ALPHA BY value; nil when the key is missing
}

// sortLookup is lookupKeyByPattern: the value pattern names for elem, or
// false.
func sortLookup(d dbMaps, pattern, elem string) (string, bool) {
	if pattern == "#" {
		return elem, true
	}
	star := strings.IndexByte(pattern, '*')
	if star < 0 {
		return "", false
	}
	keyPattern, field := pattern, ""
	if f := strings.Index(pattern[star+1:], "->"); f >= 0 && star+1+f+2 < len(pattern) {
		keyPattern, field = pattern[:star+1+f], pattern[star+1+f+2:]
	}
	key := keyPattern[:star] + elem + keyPattern[star+1:]
	if field != "" {
		if d.keys[key] != "hash" {
			return "", false
		}
		v, ok := d.hashes[key][field]
		return v, ok
	}
	if d.keys[key] != "string" {
		return "", false
	}
	return d.strings[key], true
}

// strtod parses a SORT weight as strtod does (leading blanks allowed, the
// whole rest a number, not NaN).
func strtod(s string) (float64, bool) {
	f, ok := parseDouble(strings.TrimLeft(s, " \t\n\v\f\r"))
	return f, ok && !math.IsNaN(f)
}

func sortRun(x *txn, args []string, readonly bool) {
	key := args[0]
	var (
		desc, alpha, dontSort bool
		limitStart            int64
		limitCount            int64 = -1
		sortBy, storeKey      string
		hasBy, hasStore       bool
		gets                  []string
	)
	for j := 1; j < len(args); j++ {
		left := len(args) - j - 1
		switch opt := strings.ToLower(args[j]); {
		case opt == "asc":
			desc = false
		case opt == "desc":
			desc = true
		case opt == "alpha":
			alpha = true
		case opt == "limit" && left >= 2:
			s, ok1 := parseLL(args[j+1])
			n, ok2 := parseLL(args[j+2])
			if !ok1 || !ok2 {
				x.peer.WriteError(msgNotInteger)
				return
			}
			limitStart, limitCount = s, n
			j += 2
		case opt == "store" && left >= 1 && !readonly:
			storeKey, hasStore = args[j+1], true
			j++
		case opt == "by" && left >= 1:
			sortBy, hasBy = args[j+1], true
			dontSort = !strings.Contains(sortBy, "*")
			j++
		case opt == "get" && left >= 1:
			gets = append(gets, args[j+1])
			j++
		default:
			x.peer.WriteError(msgSyntax)
			return
		}
	}
	d := x.db()
	var elems []string
	typ := d.keys[key]
	switch typ {
	case "":
	case "list", "zset":
		got, err := x.call(map[string]string{"list": "LRANGE", "zset": "ZRANGE"}[typ], key, "0", "-1")
		if err != nil {
			x.peer.WriteError(err.Error())
			return
		}
		for _, e := range got.([]any) {
			elems = append(elems, e.(string))
		}
	case "set":
		for m := range d.sets[key] {
			elems = append(elems, m)
		}
		if dontSort && hasStore {
			dontSort, alpha, hasBy = false, true, false
		}
	default:
		x.peer.WriteError(msgWrongType)
		return
	}
	n := int64(len(elems))
	start := min(max(limitStart, 0), n)
	limitCount = min(max(limitCount, -1), n)
	end := start + limitCount - 1
	if limitCount < 0 {
		end = n - 1
	}
	if start >= n {
		start, end = n-1, n-2
	}
	end = min(end, n-1)

	items := make([]sortItem, len(elems))
	for i, e := range elems {
		items[i].elem = e
	}
	if dontSort && desc && (typ == "list" || typ == "zset") {
		slices.Reverse(items)
	}
	convErr := false
	if !dontSort {
		for i := range items {
			by, ok := items[i].elem, true
			if hasBy {
				by, ok = sortLookup(d, sortBy, items[i].elem)
				if !ok {
					continue
				}
			}
			if alpha {
				if hasBy {
					v := by
					items[i].cmp = &v
				}
				continue
			}
			f, ok := strtod(by)
			if !ok {
				convErr = true
			}
			items[i].score = f
		}
		slices.SortFunc(items, func(a, b sortItem) int {
			var c int
			switch {
			case !alpha && a.score != b.score:
				c = -1
				if a.score > b.score {
					c = 1
				}
			case !alpha:
				c = strings.Compare(a.elem, b.elem)
			case hasBy && (a.cmp == nil || b.cmp == nil):
				switch {
				case a.cmp == b.cmp:
				case a.cmp == nil:
					c = -1
				default:
					c = 1
				}
			case hasBy:
				c = strings.Compare(*a.cmp, *b.cmp)
			default:
				c = strings.Compare(a.elem, b.elem)
			}
			if desc {
				return -c
			}
			return c
		})
	}
	if convErr {
		x.peer.WriteError("ERR One or more scores can't be converted into double")
		return
	}
	var out []*string
	for j := start; j <= end && j >= 0; j++ {
		e := items[j].elem
		if len(gets) == 0 {
			out = append(out, &e)
			continue
		}
		for _, g := range gets {
			if v, ok := sortLookup(d, g, e); ok {
				out = append(out, &v)
			} else {
				out = append(out, nil)
			}
		}
	}
	if !hasStore {
		x.peer.WriteLen(len(out))
		for _, v := range out {
			if v == nil {
				x.peer.WriteNull()
			} else {
				x.peer.WriteBulk(*v)
			}
		}
		return
	}
	_, _ = x.call("DEL", storeKey)
	if len(out) > 0 {
		rpush := []string{"RPUSH", storeKey}
		for _, v := range out {
			if v == nil {
				rpush = append(rpush, "")
			} else {
				rpush = append(rpush, *v)
			}
		}
		if _, err := x.call(rpush...); err != nil {
			x.peer.WriteError(err.Error())
			return
		}
	}
	x.peer.WriteInt(len(out))
}
