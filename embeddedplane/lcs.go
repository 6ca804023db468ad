package embeddedplane

// LCS, which miniredis lacks, as Redis 7.0 has it (lcsCommand in
// t_string.c): the same table, the same walk back and so the same ranges,
// and the same bound on the table, proto-max-bulk-len (512 MiB).

import (
	"strings"

	"github.com/alicebob/miniredis/v2/server"
)

// lcsCommands is the family's commands for one database.
func lcsCommands(in *inside) map[string]server.Cmd {
	return map[string]server.Cmd{"LCS": func(c *server.Peer, _ string, args []string) {
		if len(args) < 2 {
			wrongArity(c, "lcs")
			return
		}
		in.run(c, func(x *txn) { lcs(x, args) })
	}}
}

// lcsRange is one match of LCS ... IDX.
type lcsRange struct{ aStart, aEnd, bStart, bEnd int }

// lcs serves LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN].
func lcs(x *txn, args []string) {
	d := x.db()
	for _, k := range args[:2] {
		if t, ok := d.keys[k]; ok && t != "string" {
			x.peer.WriteError("ERR The specified keys must contain string values")
			return
		}
	}
	a, b := d.strings[args[0]], d.strings[args[1]]
	var getLen, getIdx, withMatchLen bool
	minMatchLen := int64(0)
	for j := 2; j < len(args); j++ {
		switch opt := strings.ToUpper(args[j]); {
		case opt == "IDX":
			getIdx = true
		case opt == "LEN":
			getLen = true
		case opt == "WITHMATCHLEN":
			withMatchLen = true
		case opt == "MINMATCHLEN" && j+1 < len(args):
			n, ok := parseLL(args[j+1])
			if !ok {
				x.peer.WriteError(msgNotInteger)
				return
			}
			minMatchLen = max(n, 0)
			j++
		default:
			x.peer.WriteError(msgSyntax)
			return
		}
	}
	if getLen && getIdx {
		x.peer.WriteError("ERR If you want both the length and indexes, please just use IDX.")
		return
	}
	alen, blen := len(a), len(b)
	if int64(alen+1)*int64(blen+1)*4 > maxBulk {
		x.peer.WriteError("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
		return
	}
	table := make([]uint32, (alen+1)*(blen+1))
	at := func(i, j int) uint32 { return table[j+i*(blen+1)] }
	for i := 1; i <= alen; i++ {
		for j := 1; j <= blen; j++ {
			v := max(at(i-1, j), at(i, j-1))
			if a[i-1] == b[j-1] {
				v = at(i-1, j-1) + 1
			}
			table[j+i*(blen+1)] = v
		}
	}
	n := int(at(alen, blen))
	if getLen {
		x.peer.WriteInt(n)
		return
	}
	result := make([]byte, n)
	var ranges []lcsRange
	open := false
	var r lcsRange
	idx, i, j := n, alen, blen
	for i > 0 && j > 0 {
		emit := false
		if a[i-1] == b[j-1] {
			result[idx-1] = a[i-1]
			if !open {
				r, open = lcsRange{i - 1, i - 1, j - 1, j - 1}, true
			} else {
				// The walk only steps back diagonally on a match, so the
				// range is contiguous.
				r.aStart--
				r.bStart--
			}
			if r.aStart == 0 || r.bStart == 0 {
				emit = true
			}
			idx, i, j = idx-1, i-1, j-1
		} else {
			if at(i-1, j) > at(i, j-1) {
				i--
			} else {
				j--
			}
			emit = open
		}
		if emit && open {
			if length := int64(r.aEnd - r.aStart + 1); minMatchLen == 0 || length >= minMatchLen {
				ranges = append(ranges, r)
			}
			open = false
		}
	}
	if !getIdx {
		x.peer.WriteBulk(string(result))
		return
	}
	x.peer.WriteMapLen(2)
	x.peer.WriteBulk("matches")
	x.peer.WriteLen(len(ranges))
	for _, r := range ranges {
		if withMatchLen {
			x.peer.WriteLen(3)
		} else {
			x.peer.WriteLen(2)
		}
		x.peer.WriteLen(2)
		x.peer.WriteInt(r.aStart)
		x.peer.WriteInt(r.aEnd)
		x.peer.WriteLen(2)
		x.peer.WriteInt(r.bStart)
		x.peer.WriteInt(r.bEnd)
		if withMatchLen {
			x.peer.WriteInt(r.aEnd - r.aStart + 1)
		}
	}
	x.peer.WriteBulk("len")
	x.peer.WriteInt(n)
}
