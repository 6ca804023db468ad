package embeddedplane

// ZDIFF, ZDIFFSTORE, ZINTERCARD and ZRANGESTORE, which miniredis lacks,
// with Redis's arguments, answers and errors (zunionInterDiffGenericCommand
// and zrangeGenericCommand in t_zset.c): a plain set counts as a sorted set
// whose scores are 1. ZRANGESTORE runs miniredis's ZRANGE and stores what
// it answers.

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/alicebob/miniredis/v2/server"
)

// zsetCommands is the family's commands for one database.
func zsetCommands(in *inside) map[string]server.Cmd {
	z := &zsets{in: in}
	return map[string]server.Cmd{
		"ZDIFF":       z.diff(false),
		"ZDIFFSTORE":  z.diff(true),
		"ZINTERCARD":  z.intercard,
		"ZRANGESTORE": z.rangestore,
	}
}

type zsets struct {
	in *inside
}

// scored is a sorted-set member and its score.
type scored struct {
	member string
	score  float64
}

// diff serves ZDIFF numkeys key... [WITHSCORES] and ZDIFFSTORE dest
// numkeys key...
func (z *zsets) diff(store bool) server.Cmd {
	name, at := "zdiff", 0
	if store {
		name, at = "zdiffstore", 1
	}
	return func(c *server.Peer, _ string, args []string) {
		if len(args) < at+2 {
			wrongArity(c, name)
			return
		}
		z.in.run(c, func(x *txn) {
			n, ok := parseLL(args[at])
			if !ok {
				x.peer.WriteError(msgNotInteger)
				return
			}
			if n < 1 {
				x.peer.WriteError("ERR at least 1 input key is needed for '" + name + "' command")
				return
			}
			if n > int64(len(args)-at-1) {
				x.peer.WriteError(msgSyntax)
				return
			}
			keys := args[at+1 : at+1+int(n)]
			d := x.db()
			sources, ok := zsetSources(x, d, keys)
			if !ok {
				return
			}
			withScores := false
			for _, opt := range args[at+1+int(n):] {
				if !store && strings.EqualFold(opt, "WITHSCORES") {
					withScores = true
					continue
				}
				x.peer.WriteError(msgSyntax)
				return
			}
			var out []scored
			for m, s := range sources[0] {
				if !slices.ContainsFunc(sources[1:], func(o map[string]float64) bool { _, ok := o[m]; return ok }) {
					out = append(out, scored{m, s})
				}
			}
			slices.SortFunc(out, func(a, b scored) int {
				switch {
				case a.score < b.score:
					return -1
				case a.score > b.score:
					return 1
				}
				return strings.Compare(a.member, b.member)
			})
			if store {
				storeScored(x, args[0], out)
				return
			}
			if withScores && x.peer.Resp3 {
				x.peer.WriteLen(len(out))
				for _, e := range out {
					x.peer.WriteLen(2)
					x.peer.WriteBulk(e.member)
					x.peer.WriteFloat(e.score)
				}
				return
			}
			if withScores {
				x.peer.WriteLen(2 * len(out))
			} else {
				x.peer.WriteLen(len(out))
			}
			for _, e := range out {
				x.peer.WriteBulk(e.member)
				if withScores {
					x.peer.WriteFloat(e.score)
				}
			}
		})
	}
}

// zsetSources reads the sorted sets (or plain sets) at keys; false after
// answering WRONGTYPE.
func zsetSources(x *txn, d dbMaps, keys []string) ([]map[string]float64, bool) {
	var sources []map[string]float64
	for _, k := range keys {
		switch d.keys[k] {
		case "":
			sources = append(sources, nil)
		case "zset":
			sources = append(sources, d.zsets[k])
		case "set":
			ones := make(map[string]float64, len(d.sets[k]))
			for m := range d.sets[k] {
				ones[m] = 1
			}
			sources = append(sources, ones)
		default:
			x.peer.WriteError(msgWrongType)
			return nil, false
		}
	}
	return sources, true
}

// intercard serves ZINTERCARD numkeys key... [LIMIT limit].
func (z *zsets) intercard(c *server.Peer, _ string, args []string) {
	if len(args) < 2 {
		wrongArity(c, "zintercard")
		return
	}
	z.in.run(c, func(x *txn) {
		n, ok := parseLL(args[0])
		if !ok {
			x.peer.WriteError(msgNotInteger)
			return
		}
		if n < 1 {
			x.peer.WriteError("ERR at least 1 input key is needed for 'zintercard' command")
			return
		}
		if n > int64(len(args)-1) {
			x.peer.WriteError(msgSyntax)
			return
		}
		sources, ok := zsetSources(x, x.db(), args[1:1+n])
		if !ok {
			return
		}
		limit := int64(0)
		rest := args[1+n:]
		for i := 0; i < len(rest); i++ {
			if strings.EqualFold(rest[i], "LIMIT") && i+1 < len(rest) {
				l, ok := parseLL(rest[i+1])
				if !ok || l < 0 {
					x.peer.WriteError("ERR LIMIT can't be negative")
					return
				}
				limit = l
				i++
				continue
			}
			x.peer.WriteError(msgSyntax)
			return
		}
		smallest := 0
		for i, src := range sources {
			if len(src) < len(sources[smallest]) {
				smallest = i
			}
		}
		count := int64(0)
		for m := range sources[smallest] {
			if limit > 0 && count >= limit {
				break
			}
			in := true
			for _, o := range sources {
				if _, ok := o[m]; !ok {
					in = false
					break
				}
			}
			if in {
				count++
			}
		}
		x.peer.WriteInt(int(count))
	})
}

// rangestore serves ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV]
// [LIMIT offset count]: miniredis's ZRANGE finds the members.
func (z *zsets) rangestore(c *server.Peer, _ string, args []string) {
	if len(args) < 4 {
		wrongArity(c, "zrangestore")
		return
	}
	z.in.run(c, func(x *txn) {
		byLex := false
		for i := 4; i < len(args); i++ {
			switch strings.ToUpper(args[i]) {
			case "BYLEX":
				byLex = true
			case "WITHSCORES":
				x.peer.WriteError(msgSyntax)
				return
			case "LIMIT":
				i += 2
			}
		}
		zrange := append([]string{"ZRANGE"}, args[1:]...)
		if !byLex {
			zrange = append(zrange, "WITHSCORES")
		}
		got, err := x.call(zrange...)
		if err != nil {
			x.peer.WriteError(err.Error())
			return
		}
		items, _ := got.([]any)
		var out []scored
		if byLex && len(items) > 0 {
			mscore := []string{"ZMSCORE", args[1]}
			for _, m := range items {
				mscore = append(mscore, fmt.Sprint(m))
			}
			scores, err := x.call(mscore...)
			if err != nil {
				x.peer.WriteError(err.Error())
				return
			}
			list, _ := scores.([]any)
			for i, m := range items {
				f, _ := strconv.ParseFloat(fmt.Sprint(list[i]), 64)
				out = append(out, scored{fmt.Sprint(m), f})
			}
		} else {
			for i := 0; i+1 < len(items); i += 2 {
				f, _ := strconv.ParseFloat(fmt.Sprint(items[i+1]), 64)
				out = append(out, scored{fmt.Sprint(items[i]), f})
			}
		}
		storeScored(x, args[0], out)
	})
}

// storeScored replaces key with the sorted set out (none: key is deleted)
// and answers how many members it holds, as the *STORE commands do.
func storeScored(x *txn, key string, out []scored) {
	_, _ = x.call("DEL", key)
	if len(out) > 0 {
		zadd := []string{"ZADD", key}
		for _, e := range out {
			zadd = append(zadd, scoreText(e.score), e.member)
		}
		if _, err := x.call(zadd...); err != nil {
			x.peer.WriteError(err.Error())
			return
		}
	}
	x.peer.WriteInt(len(out))
}

// scoreText writes a score as ZADD reads it back exactly.
func scoreText(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
