package embeddedplane

// Stream commands miniredis lacks: XSETID, XGROUP SETID, and Redis 8.2's
// XDELEX and XACKDEL with their KEEPREF, DELREF and ACKED policies (t_stream.c, and
// Redis's stream-cgroups tests for the answers). Entries are deleted with
// miniredis's XDEL and acknowledged with its XACK, so that its consumer
// bookkeeping stays right; what no command reads (each group's last
// delivered ID and pending IDs) is read from miniredis's stream, and
// XGROUP SETID writes the group's last delivered ID there.
//
// An entry counts as referenced (ACKED) while a group has it pending or has
// not yet been delivered it (its last delivered ID is below the entry's).
// XGROUP SETID's ENTRIESREAD and XSETID's ENTRIESADDED and MAXDELETEDID are
// checked and otherwise ignored: miniredis keeps no such counts. XSETID sets
// the ID miniredis generates from (XADD *); miniredis still takes an
// explicit XADD ID above the last entry but below that ID.

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/alicebob/miniredis/v2/server"
)

const (
	msgInvalidStreamID = "ERR Invalid stream ID specified as stream command argument"
	msgXgroupNoKey     = "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically."
)

// Answers per ID of XDELEX and XACKDEL.
const (
	streamNoID       = -1
	streamDeleted    = 1
	streamReferenced = 2
)

// streamCommands is the family's commands for one database.
func streamCommands(in *inside) map[string]server.Cmd {
	s := &streams{in: in}
	return map[string]server.Cmd{
		"XGROUP":  s.xgroup,
		"XSETID":  s.xsetid,
		"XDELEX":  s.xdelex,
		"XACKDEL": s.xackdel,
	}
}

type streams struct {
	in *inside
}

// streamID is a parsed stream entry ID.
type streamID struct{ ms, seq uint64 }

func (id streamID) String() string { return fmt.Sprintf("%d-%d", id.ms, id.seq) }

func (id streamID) less(o streamID) bool {
	return id.ms < o.ms || id.ms == o.ms && id.seq < o.seq
}

// parseStreamID reads "ms-seq" or "ms" (seq 0), as streamParseStrictID.
func parseStreamID(s string) (streamID, bool) {
	msPart, seqPart, hasSeq := strings.Cut(s, "-")
	ms, err := strconv.ParseUint(msPart, 10, 64)
	if err != nil {
		return streamID{}, false
	}
	var seq uint64
	if hasSeq {
		if seq, err = strconv.ParseUint(seqPart, 10, 64); err != nil {
			return streamID{}, false
		}
	}
	return streamID{ms, seq}, true
}

// groupView is what one consumer group holds, read from miniredis.
type groupView struct {
	lastID  streamID
	pending map[streamID]bool
	last    reflect.Value // the group's lastID field, settable
}

// streamGroups reads the consumer groups of the stream at key, which
// exists and is a stream; the run holds miniredis's lock.
func streamGroups(x *txn, key string) map[string]*groupView {
	dbs := exposed(reflect.ValueOf(x.in.m).Elem().FieldByName("dbs"))
	db := dbs.MapIndex(reflect.ValueOf(x.dbi)).Elem()
	stream := exposed(db.FieldByName("streamKeys")).MapIndex(reflect.ValueOf(key))
	out := map[string]*groupView{}
	groups := exposed(stream.Elem().FieldByName("groups"))
	for it := groups.MapRange(); it.Next(); {
		g := it.Value().Elem()
		last := exposed(g.FieldByName("lastID"))
		lastID, _ := parseStreamID(last.String())
		v := &groupView{lastID: lastID, pending: map[streamID]bool{}, last: last}
		pending := exposed(g.FieldByName("pending"))
		for i := range pending.Len() {
			if id, ok := parseStreamID(exposed(pending.Index(i).FieldByName("id")).String()); ok {
				v.pending[id] = true
			}
		}
		out[it.Key().String()] = v
	}
	return out
}

// referenced reports whether a group has id pending or not yet delivered
// (streamEntryIsReferenced).
func referenced(groups map[string]*groupView, id streamID) bool {
	for _, g := range groups {
		if g.pending[id] || g.lastID.less(id) {
			return true
		}
	}
	return false
}

// deleteArgs reads [KEEPREF|DELREF|ACKED] IDS numids id... (Redis's
// streamParseAckDelArgsOrReply); policy is "KEEPREF" when none is given.
func deleteArgs(args []string) (policy string, ids []streamID, msg string) {
	sawIDs := false
	for i := 0; i < len(args); {
		opt := strings.ToUpper(args[i])
		switch {
		case (opt == "KEEPREF" || opt == "DELREF" || opt == "ACKED") && policy == "":
			policy = opt
			i++
		case opt == "IDS" && i+1 < len(args) && !sawIDs:
			n, ok := parseLL(args[i+1])
			if !ok || n < 1 {
				return "", nil, "ERR Number of IDs must be a positive integer"
			}
			start := i + 2
			if n > int64(len(args)-start) {
				return "", nil, "ERR The `numids` parameter must match the number of arguments"
			}
			for _, s := range args[start : start+int(n)] {
				id, ok := parseStreamID(s)
				if !ok {
					return "", nil, msgInvalidStreamID
				}
				ids = append(ids, id)
			}
			sawIDs = true
			i = start + int(n)
		default:
			return "", nil, msgSyntax
		}
	}
	if !sawIDs {
		return "", nil, "ERR IDS option is required"
	}
	if policy == "" {
		policy = "KEEPREF"
	}
	return policy, ids, ""
}

// streamKey answers WRONGTYPE for a key that is not a stream and reports
// whether the stream exists.
func streamKey(x *txn, key string) (exists, ok bool) {
	t, found := x.db().keys[key]
	if found && t != "stream" {
		x.peer.WriteError(msgWrongType)
		return false, false
	}
	return found, true
}

// writeCodes answers n times code.
func writeCodes(c *server.Peer, n, code int) {
	c.WriteLen(n)
	for range n {
		c.WriteInt(code)
	}
}

// xdelex serves XDELEX key [KEEPREF|DELREF|ACKED] IDS numids id...
func (s *streams) xdelex(c *server.Peer, _ string, args []string) {
	if len(args) < 4 {
		wrongArity(c, "xdelex")
		return
	}
	s.in.run(c, func(x *txn) {
		policy, ids, msg := deleteArgs(args[1:])
		if msg != "" {
			x.peer.WriteError(msg)
			return
		}
		key := args[0]
		exists, ok := streamKey(x, key)
		if !ok {
			return
		}
		if !exists {
			writeCodes(x.peer, len(ids), streamNoID)
			return
		}
		// Read once: XACK and XDEL change only the pending sets, which
		// unack keeps in step, so the command costs O(IDs + pending).
		groups := streamGroups(x, key)
		x.peer.WriteLen(len(ids))
		for _, id := range ids {
			switch policy {
			case "ACKED":
				if referenced(groups, id) {
					x.peer.WriteInt(streamReferenced)
					continue
				}
			case "DELREF":
				for name := range groups {
					unack(x, key, name, groups, id)
				}
			}
			x.peer.WriteInt(deleteEntry(x, key, id))
		}
	})
}

// unack removes id from a group's pending entries with miniredis's XACK,
// and from the view; it reports whether id was pending there.
func unack(x *txn, key, group string, groups map[string]*groupView, id streamID) bool {
	g := groups[group]
	if !g.pending[id] {
		return false
	}
	_, _ = x.call("XACK", key, group, id.String())
	delete(g.pending, id)
	return true
}

// deleteEntry deletes one entry with miniredis's XDEL: streamDeleted, or
// streamNoID when there was none.
func deleteEntry(x *txn, key string, id streamID) int {
	if n, _ := x.call("XDEL", key, id.String()); n == 1 {
		return streamDeleted
	}
	return streamNoID
}

// xackdel serves XACKDEL key group [KEEPREF|DELREF|ACKED] IDS numids id...
func (s *streams) xackdel(c *server.Peer, _ string, args []string) {
	if len(args) < 5 {
		wrongArity(c, "xackdel")
		return
	}
	s.in.run(c, func(x *txn) {
		policy, ids, msg := deleteArgs(args[2:])
		if msg != "" {
			x.peer.WriteError(msg)
			return
		}
		key, group := args[0], args[1]
		exists, ok := streamKey(x, key)
		if !ok {
			return
		}
		var groups map[string]*groupView
		if exists {
			groups = streamGroups(x, key) // read once, as in xdelex
		}
		if groups[group] == nil {
			writeCodes(x.peer, len(ids), streamNoID)
			return
		}
		x.peer.WriteLen(len(ids))
		for _, id := range ids {
			// Pending in the group, deleted from the stream or not: that
			// is what Redis acknowledges (miniredis's XACK counts only
			// entries the stream still has).
			if !unack(x, key, group, groups, id) {
				x.peer.WriteInt(streamNoID)
				continue
			}
			switch policy {
			case "ACKED":
				if referenced(groups, id) {
					x.peer.WriteInt(streamReferenced)
					continue
				}
			case "DELREF":
				for name := range groups {
					unack(x, key, name, groups, id)
				}
			}
			deleteEntry(x, key, id)
			x.peer.WriteInt(streamDeleted) // acknowledged, and the entry is gone
		}
	})
}

// streamField returns a settable field of miniredis's stream at key.
func streamField(x *txn, key, name string) reflect.Value {
	dbs := exposed(reflect.ValueOf(x.in.m).Elem().FieldByName("dbs"))
	db := dbs.MapIndex(reflect.ValueOf(x.dbi)).Elem()
	stream := exposed(db.FieldByName("streamKeys")).MapIndex(reflect.ValueOf(key))
	return exposed(stream.Elem().FieldByName(name))
}

// streamTop is the ID of the stream's last entry, 0-0 when it has none.
func streamTop(x *txn, key string) streamID {
	var id streamID
	last, err := x.call("XREVRANGE", key, "+", "-", "COUNT", "1")
	if entries, ok := last.([]any); err == nil && ok && len(entries) == 1 {
		if e, ok := entries[0].([]any); ok && len(e) > 0 {
			id, _ = parseStreamID(fmt.Sprint(e[0]))
		}
	}
	return id
}

// streamLastID is the last ID the stream gave (Redis's last_id): XSETID's,
// or the last entry's.
func streamLastID(x *txn, key string) streamID {
	top := streamTop(x, key)
	if given, ok := parseStreamID(streamField(x, key, "lastAllocatedID").String()); ok && top.less(given) {
		return given
	}
	return top
}

// xsetid serves XSETID key last-id [ENTRIESADDED n] [MAXDELETEDID id].
func (s *streams) xsetid(c *server.Peer, _ string, args []string) {
	if len(args) < 2 {
		wrongArity(c, "xsetid")
		return
	}
	s.in.run(c, func(x *txn) {
		key := args[0]
		id, ok := parseStreamID(args[1])
		if !ok {
			x.peer.WriteError(msgInvalidStreamID)
			return
		}
		entriesAdded := int64(-1)
		for i := 2; i < len(args); i += 2 {
			opt := strings.ToUpper(args[i])
			switch {
			case opt == "ENTRIESADDED" && i+1 < len(args):
				n, ok := parseLL(args[i+1])
				if !ok {
					x.peer.WriteError(msgNotInteger)
					return
				}
				if n < 0 {
					x.peer.WriteError("ERR entries_added must be positive")
					return
				}
				entriesAdded = n
			case opt == "MAXDELETEDID" && i+1 < len(args):
				maxDel, ok := parseStreamID(args[i+1])
				if !ok {
					x.peer.WriteError(msgInvalidStreamID)
					return
				}
				if id.less(maxDel) {
					x.peer.WriteError("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id")
					return
				}
			default:
				x.peer.WriteError(msgSyntax)
				return
			}
		}
		exists, ok := streamKey(x, key)
		if !ok {
			return
		}
		if !exists {
			x.peer.WriteError("ERR no such key")
			return
		}
		if n, _ := x.call("XLEN", key); n != 0 {
			if id.less(streamTop(x, key)) {
				x.peer.WriteError("ERR The ID specified in XSETID is smaller than the target stream top item")
				return
			}
			if length, _ := n.(int); entriesAdded != -1 && int64(length) > entriesAdded {
				x.peer.WriteError("ERR The entries_added specified in XSETID is smaller than the target stream length")
				return
			}
		}
		streamField(x, key, "lastAllocatedID").SetString(id.String())
		x.peer.WriteOK()
	})
}

// xgroup serves XGROUP SETID key group id|$ [ENTRIESREAD n]; the other
// subcommands are miniredis's.
func (s *streams) xgroup(c *server.Peer, _ string, args []string) {
	if len(args) == 0 || !strings.EqualFold(args[0], "SETID") {
		s.in.run(c, func(x *txn) { x.pass(append([]string{"XGROUP"}, args...)...) })
		return
	}
	if len(args) != 4 && len(args) != 6 {
		wrongArity(c, "xgroup|setid")
		return
	}
	s.in.run(c, func(x *txn) {
		key, group, idArg := args[1], args[2], args[3]
		if len(args) == 6 {
			if !strings.EqualFold(args[4], "ENTRIESREAD") {
				x.peer.WriteError(msgSyntax)
				return
			}
			if _, ok := parseLL(args[5]); !ok {
				x.peer.WriteError(msgNotInteger)
				return
			}
		}
		exists, ok := streamKey(x, key)
		if !ok {
			return
		}
		if !exists {
			x.peer.WriteError(msgXgroupNoKey)
			return
		}
		g := streamGroups(x, key)[group]
		if g == nil {
			x.peer.WriteError(fmt.Sprintf("NOGROUP No such consumer group '%s' for key name '%s'", group, key))
			return
		}
		var id streamID
		if idArg == "$" {
			id = streamLastID(x, key)
		} else {
			var ok bool
			if id, ok = parseStreamID(idArg); !ok {
				x.peer.WriteError(msgInvalidStreamID)
				return
			}
		}
		g.last.SetString(id.String())
		x.peer.WriteOK()
	})
}
