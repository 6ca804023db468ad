package embeddedplane

// ZDIFF and ZDIFFSTORE, which miniredis lacks, with Redis's arguments,
// answers and errors (zunionInterDiffGenericCommand in t_zset.c): a plain
// set counts as a sorted set whose scores are 1.

import (
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
		"ZDIFF":      z.diff(false),
		"ZDIFFSTORE": z.diff(true),
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
					return
				}
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
				_, _ = x.call("DEL", args[0])
				if len(out) > 0 {
					zadd := []string{"ZADD", args[0]}
					for _, e := range out {
						zadd = append(zadd, scoreText(e.score), e.member)
					}
					if _, err := x.call(zadd...); err != nil {
						x.peer.WriteError(err.Error())
						return
					}
				}
				x.peer.WriteInt(len(out))
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
