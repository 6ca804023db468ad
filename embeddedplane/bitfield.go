package embeddedplane

// BITFIELD and BITFIELD_RO, which miniredis lacks, and BITOP's Redis 8.2
// operators DIFF, DIFF1, ANDOR and ONE next to miniredis's AND, OR, XOR and
// NOT; Redis's arguments, answers and errors (bitops.c).
//
// BITFIELD's offsets are bounded as SETBIT's are (args.go): a bit offset
// must stay under 2^32 (512 MiB), as on redis-server. A write copies the
// string once (Go strings do not change in place), so a BITFIELD on a
// string of n bytes allocates n bytes, where redis-server writes in place.

import (
	"strings"
	"unsafe"

	"github.com/alicebob/miniredis/v2/server"
)

const (
	msgBitfieldType = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
	msgBitOffset    = "ERR bit offset is not an integer or out of range"
	// maxBitOffset is the first bit offset Redis refuses: offset>>3 must
	// stay under proto-max-bulk-len (512 MiB).
	maxBitOffset = maxBulk << 3
)

// Overflow behaviours of BITFIELD.
const (
	overflowWrap = iota
	overflowSat
	overflowFail
)

// bitCommands is the family's commands for one database.
func bitCommands(in *inside) map[string]server.Cmd {
	b := &bits{in: in}
	return map[string]server.Cmd{
		"BITFIELD":    b.bitfield(false),
		"BITFIELD_RO": b.bitfield(true),
		"BITOP":       b.bitop,
	}
}

type bits struct {
	in *inside
}

// bitfieldOp is one GET, SET or INCRBY of a BITFIELD.
type bitfieldOp struct {
	op       string // GET, SET, INCRBY
	signed   bool
	width    uint64
	offset   uint64
	value    int64
	overflow int
}

// parseBitfield reads a BITFIELD's subcommands; msg is Redis's error.
func parseBitfield(args []string) (ops []bitfieldOp, highest uint64, readonly bool, msg string) {
	overflow := overflowWrap
	readonly = true
	for j := 0; j < len(args); j++ {
		rem := len(args) - j - 1
		sub := strings.ToUpper(args[j])
		switch {
		case sub == "GET" && rem >= 2, (sub == "SET" || sub == "INCRBY") && rem >= 3:
		case sub == "OVERFLOW" && rem >= 1:
			j++
			switch strings.ToUpper(args[j]) {
			case "WRAP":
				overflow = overflowWrap
			case "SAT":
				overflow = overflowSat
			case "FAIL":
				overflow = overflowFail
			default:
				return nil, 0, false, "ERR Invalid OVERFLOW type specified"
			}
			continue
		default:
			return nil, 0, false, msgSyntax
		}
		o := bitfieldOp{op: sub, overflow: overflow}
		t := args[j+1]
		if t == "" || (t[0] != 'i' && t[0] != 'u') {
			return nil, 0, false, msgBitfieldType
		}
		o.signed = t[0] == 'i'
		w, ok := parseLL(t[1:])
		if !ok || w < 1 || w > 64 || (!o.signed && w > 63) {
			return nil, 0, false, msgBitfieldType
		}
		o.width = uint64(w)
		off := args[j+2]
		hash := strings.HasPrefix(off, "#")
		n, ok := parseLL(strings.TrimPrefix(off, "#"))
		if !ok || n < 0 {
			return nil, 0, false, msgBitOffset
		}
		if hash {
			if n > maxBitOffset/w {
				return nil, 0, false, msgBitOffset
			}
			n *= w
		}
		if n >= maxBitOffset {
			return nil, 0, false, msgBitOffset
		}
		o.offset = uint64(n)
		if sub != "GET" {
			readonly = false
			highest = max(highest, o.offset+o.width-1)
			v, ok := parseLL(args[j+3])
			if !ok {
				return nil, 0, false, msgNotInteger
			}
			o.value = v
			j++
		}
		ops = append(ops, o)
		j += 2
	}
	return ops, highest, readonly, ""
}

// bitfield serves BITFIELD key [GET type offset] [SET type offset value]
// [INCRBY type offset increment] [OVERFLOW WRAP|SAT|FAIL] ..., or
// BITFIELD_RO key [GET type offset] ...
func (b *bits) bitfield(ro bool) server.Cmd {
	name := "bitfield"
	if ro {
		name = "bitfield_ro"
	}
	return func(c *server.Peer, _ string, args []string) {
		if len(args) < 1 {
			wrongArity(c, name)
			return
		}
		b.in.run(c, func(x *txn) {
			ops, highest, readonly, msg := parseBitfield(args[1:])
			if msg != "" {
				x.peer.WriteError(msg)
				return
			}
			if !readonly && ro {
				x.peer.WriteError("ERR BITFIELD_RO only supports the GET subcommand")
				return
			}
			d := x.db()
			key := args[0]
			if t, ok := d.keys[key]; ok && t != "string" {
				x.peer.WriteError(msgWrongType)
				return
			}
			cur := d.strings[key]
			var buf []byte
			if !readonly {
				buf = make([]byte, max(uint64(len(cur)), highest>>3+1))
				copy(buf, cur)
			}
			x.peer.WriteLen(len(ops))
			for _, o := range ops {
				if o.op == "GET" {
					src := cur
					if buf != nil {
						src = unsafe.String(unsafe.SliceData(buf), len(buf))
					}
					var win [9]byte
					first := o.offset >> 3
					if first < uint64(len(src)) {
						copy(win[:], src[first:])
					}
					u := getBits(win[:], o.offset-first*8, o.width)
					if o.signed {
						x.peer.WriteInt(int(signExtend(u, o.width)))
					} else {
						x.peer.WriteInt(int(u))
					}
					continue
				}
				old := getBits(buf, o.offset, o.width)
				var ret, next uint64
				var over bool
				if o.signed {
					oldv := signExtend(old, o.width)
					var nv int64
					if o.op == "INCRBY" {
						nv, over = signedOverflow(oldv, o.value, o.width, o.overflow)
						ret = uint64(nv)
					} else {
						nv, over = signedOverflow(o.value, 0, o.width, o.overflow)
						ret = uint64(oldv)
					}
					next = uint64(nv)
				} else {
					if o.op == "INCRBY" {
						next, over = unsignedOverflow(old, o.value, o.width, o.overflow)
						ret = next
					} else {
						next, over = unsignedOverflow(uint64(o.value), 0, o.width, o.overflow)
						ret = old
					}
				}
				if over && o.overflow == overflowFail {
					x.peer.WriteNull()
					continue
				}
				x.peer.WriteInt(int(int64(ret)))
				setBits(buf, o.offset, o.width, next)
			}
			if !readonly {
				if _, ok := d.keys[key]; !ok {
					d.keys[key] = "string"
				}
				d.strings[key] = unsafe.String(unsafe.SliceData(buf), len(buf))
				d.touched(key)
			}
		})
	}
}

// getBits reads width bits at bit offset off, most significant first.
func getBits(p []byte, off, width uint64) uint64 {
	var v uint64
	for range width {
		bit := (p[off>>3] >> (7 - off&7)) & 1
		v = v<<1 | uint64(bit)
		off++
	}
	return v
}

// setBits writes the low width bits of v at bit offset off.
func setBits(p []byte, off, width, v uint64) {
	for j := range width {
		bit := byte(v>>(width-1-j)) & 1
		shift := 7 - off&7
		p[off>>3] = p[off>>3]&^(1<<shift) | bit<<shift
		off++
	}
}

// signExtend reads the low width bits of u as a signed number.
func signExtend(u, width uint64) int64 {
	v := int64(u)
	if width < 64 && u&(1<<(width-1)) != 0 {
		v |= -1 << width
	}
	return v
}

// signedOverflow adds incr to value in a signed field of width bits and
// returns the result as the overflow behaviour makes it, and whether it
// overflowed (checkSignedBitfieldOverflow).
func signedOverflow(value, incr int64, width uint64, behaviour int) (int64, bool) {
	maxv := int64(1<<63 - 1)
	if width < 64 {
		maxv = 1<<(width-1) - 1
	}
	minv := -maxv - 1
	maxincr := int64(uint64(maxv) - uint64(value))
	minincr := minv - value
	switch {
	case value > maxv || (width != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr):
		if behaviour == overflowSat {
			return maxv, true
		}
	case value < minv || (width != 64 && incr < minincr) || (value < 0 && incr < 0 && incr < minincr):
		if behaviour == overflowSat {
			return minv, true
		}
	default:
		return value + incr, false
	}
	c := uint64(value) + uint64(incr)
	if width < 64 {
		mask := ^uint64(0) << width
		if c&(1<<(width-1)) != 0 {
			c |= mask
		} else {
			c &^= mask
		}
	}
	return int64(c), true
}

// unsignedOverflow is signedOverflow for an unsigned field
// (checkUnsignedBitfieldOverflow).
func unsignedOverflow(value uint64, incr int64, width uint64, behaviour int) (uint64, bool) {
	maxv := uint64(1)<<width - 1
	maxincr := int64(maxv - value)
	minincr := -int64(value)
	switch {
	case value > maxv || (incr > 0 && incr > maxincr):
		if behaviour == overflowSat {
			return maxv, true
		}
	case incr < 0 && incr < minincr:
		if behaviour == overflowSat {
			return 0, true
		}
	default:
		return value + uint64(incr), false
	}
	return (value + uint64(incr)) &^ (^uint64(0) << width), true
}

// bitop serves BITOP op dest key...: miniredis answers AND, OR, XOR and
// NOT; DIFF, DIFF1, ANDOR and ONE are Redis 8.2's.
func (b *bits) bitop(c *server.Peer, _ string, args []string) {
	if len(args) < 3 {
		wrongArity(c, "bitop")
		return
	}
	b.in.run(c, func(x *txn) {
		op := strings.ToUpper(args[0])
		switch op {
		case "AND", "OR", "XOR", "NOT":
			x.pass(append([]string{"BITOP"}, args...)...)
			return
		case "DIFF", "DIFF1", "ANDOR":
			if len(args) < 4 {
				x.peer.WriteError("ERR BITOP " + op + " must be called with at least two source keys.")
				return
			}
		case "ONE":
		default:
			x.peer.WriteError(msgSyntax)
			return
		}
		d := x.db()
		srcs := make([]string, 0, len(args)-2)
		maxlen := 0
		for _, k := range args[2:] {
			if t, ok := d.keys[k]; ok && t != "string" {
				x.peer.WriteError(msgWrongType)
				return
			}
			srcs = append(srcs, d.strings[k])
			maxlen = max(maxlen, len(d.strings[k]))
		}
		if maxlen == 0 {
			_, _ = x.call("DEL", args[1])
			x.peer.WriteInt(0)
			return
		}
		at := func(s string, i int) byte {
			if i < len(s) {
				return s[i]
			}
			return 0
		}
		res := make([]byte, maxlen)
		for i := range res {
			first := at(srcs[0], i)
			var or, one, common byte
			one = first
			for _, s := range srcs[1:] {
				v := at(s, i)
				or |= v
				common |= one & v
				one ^= v
			}
			switch op {
			case "DIFF":
				res[i] = first &^ or
			case "DIFF1":
				res[i] = ^first & or
			case "ANDOR":
				res[i] = first & or
			case "ONE":
				res[i] = one &^ common
			}
		}
		if _, err := x.call("SET", args[1], string(res)); err != nil {
			x.peer.WriteError(err.Error())
			return
		}
		x.peer.WriteInt(maxlen)
	})
}
