package embeddedplane

// Hash-field expiry as Redis 8 has it: HEXPIRE, HPEXPIRE, HEXPIREAT,
// HPEXPIREAT, HTTL, HPTTL, HEXPIRETIME, HPEXPIRETIME, HPERSIST, and
// Redis 8.0's HGETDEL, HGETEX and HSETEX, with Redis's arguments, answers
// and error texts (t_hash.c).
//
// miniredis keeps what is left of each field's TTL (RedisDB.hashTTLs) and,
// with ClockTTL on, deletes a field when its TTL runs out and the hash with
// its last field, before any command sees them: HGET, HGETALL, HLEN, HSCAN
// and the rest never see an expired field. Its own HEXPIRE & co. take whole
// seconds and answer with other errors, so this family replaces them, and
// wraps HSET, HMSET, HSETNX and HDEL so that a field set or deleted loses
// its TTL, as in Redis (miniredis keeps it, and the new value would expire
// with the old one's TTL).
//
// Field TTLs are not part of a backup (Snapshot): a restored hash has its
// fields without their TTLs (README, embedded-plane gaps).

import (
	"strconv"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2/server"
)

const (
	msgWrongType     = "WRONGTYPE Operation against a key holding the wrong kind of value"
	msgFieldsMissing = "ERR Mandatory argument FIELDS is missing or not at the right position"
	msgFieldsMatch   = "ERR The `numfields` parameter must match the number of arguments"
	msgFieldsCount   = "ERR Number of fields must be a positive integer"
	msgSyntax        = "ERR syntax error"
	// hfeMaxMillis is the latest field expiry Redis takes, in Unix
	// milliseconds (HFE_MAX_ABS_TIME_MSEC: EB_EXPIRE_TIME_MAX >> 2).
	hfeMaxMillis = (1<<48 - 1) >> 2
)

// Per-field answers of the expiry commands (HSETEX_*, HFE_GET_*, HFE_PERSIST_*).
const (
	fieldMissing = -2
	fieldNoTTL   = -1
	fieldNotMet  = 0
	fieldSet     = 1
	fieldDeleted = 2
)

// hashExpiryCommands is the family's commands for one database.
func hashExpiryCommands(in *inside) map[string]server.Cmd {
	h := &hashExpiry{in: in}
	return map[string]server.Cmd{
		"HEXPIRE":      h.expire("hexpire", time.Second, false),
		"HPEXPIRE":     h.expire("hpexpire", time.Millisecond, false),
		"HEXPIREAT":    h.expire("hexpireat", time.Second, true),
		"HPEXPIREAT":   h.expire("hpexpireat", time.Millisecond, true),
		"HTTL":         h.ttl("httl", time.Second, false),
		"HPTTL":        h.ttl("hpttl", time.Millisecond, false),
		"HEXPIRETIME":  h.ttl("hexpiretime", time.Second, true),
		"HPEXPIRETIME": h.ttl("hpexpiretime", time.Millisecond, true),
		"HPERSIST":     h.persist,
		"HGETDEL":      h.getdel,
		"HGETEX":       h.getex,
		"HSETEX":       h.setex,
		"HSET":         h.set("hset", func(n int) bool { return n >= 3 && n%2 == 1 }),
		"HMSET":        h.set("hmset", func(n int) bool { return n >= 3 && n%2 == 1 }),
		"HSETNX":       h.set("hsetnx", func(n int) bool { return n == 3 }),
		"HDEL":         h.del,
	}
}

type hashExpiry struct {
	in *inside
}

// hashOf returns the fields of key, nil when there is no such key, or
// false after answering WRONGTYPE.
func hashOf(x *txn, d dbMaps, key string) (map[string]string, bool) {
	t, ok := d.keys[key]
	if ok && t != "hash" {
		x.peer.WriteError(msgWrongType)
		return nil, false
	}
	return d.hashes[key], true
}

// fieldsAt reads FIELDS numfields field... at args[at-1:]; countMsg is the
// command's error for a count that is not a positive integer.
func fieldsAt(args []string, at int, countMsg string) ([]string, string) {
	if at-1 >= len(args) || !strings.EqualFold(args[at-1], "FIELDS") {
		return nil, msgFieldsMissing
	}
	if at >= len(args) {
		return nil, msgFieldsMissing
	}
	n, err := strconv.ParseInt(args[at], 10, 64)
	if err != nil || n < 1 {
		return nil, countMsg
	}
	if n != int64(len(args)-at-1) {
		return nil, msgFieldsMatch
	}
	return args[at+1:], ""
}

// parseExpireTime reads an expiry as Redis's parseExpireTime does and
// returns it in Unix milliseconds.
func parseExpireTime(s string, unit time.Duration, base int64, cmd string) (int64, string) {
	v, err := strconv.ParseInt(s, 10, 64)
	switch {
	case err != nil:
		return 0, msgNotInteger
	case v < 0:
		return 0, "ERR invalid expire time, must be >= 0"
	}
	if unit == time.Second {
		if v > hfeMaxMillis/1000 {
			return 0, "ERR invalid expire time in '" + cmd + "' command"
		}
		v *= 1000
	}
	if v > hfeMaxMillis-base {
		return 0, "ERR invalid expire time in '" + cmd + "' command"
	}
	return v + base, ""
}

// expiresAt returns a field's expiry in Unix milliseconds, or false when it
// has no TTL.
func expiresAt(d dbMaps, key, field string, now time.Time) (int64, bool) {
	left, ok := d.hashTTLs[key][field]
	if !ok {
		return 0, false
	}
	return now.Add(left).UnixMilli(), true
}

// setExpiry gives a field an expiry (Unix ms); one in the past deletes the
// field. It answers fieldSet or fieldDeleted.
func setExpiry(x *txn, d dbMaps, key, field string, at int64, now time.Time) int {
	if at <= now.UnixMilli() {
		delete(d.hashes[key], field)
		delete(d.hashTTLs[key], field)
		return fieldDeleted
	}
	ttls := d.hashTTLs[key]
	if ttls == nil {
		ttls = map[string]time.Duration{}
		d.hashTTLs[key] = ttls
	}
	ttls[field] = time.UnixMilli(at).Sub(now)
	return fieldSet
}

// dropIfEmpty deletes a hash left without fields, as Redis does.
func dropIfEmpty(x *txn, d dbMaps, key string) {
	if h, ok := d.hashes[key]; ok && len(h) == 0 {
		_, _ = x.call("DEL", key)
	}
}

// expire serves HEXPIRE key time [NX|XX|GT|LT] FIELDS n field... and its
// millisecond and absolute forms.
func (h *hashExpiry) expire(name string, unit time.Duration, absolute bool) server.Cmd {
	return func(c *server.Peer, _ string, args []string) {
		if len(args) < 5 {
			wrongArity(c, name)
			return
		}
		h.in.run(c, func(x *txn) {
			d := x.db()
			key := args[0]
			hash, ok := hashOf(x, d, key)
			if !ok {
				return
			}
			now := x.now()
			base := now.UnixMilli()
			if absolute {
				base = 0
			}
			at, msg := parseExpireTime(args[1], unit, base, name)
			if msg != "" {
				x.peer.WriteError(msg)
				return
			}
			cond, fieldsPos := "", 3
			switch c := strings.ToUpper(args[2]); c {
			case "NX", "XX", "GT", "LT":
				cond, fieldsPos = c, 4
			}
			fields, msg := fieldsAt(args, fieldsPos, "ERR Parameter `numFields` should be greater than 0")
			if msg != "" {
				x.peer.WriteError(msg)
				return
			}
			x.peer.WriteLen(len(fields))
			changed := false
			for _, f := range fields {
				if _, ok := hash[f]; !ok {
					x.peer.WriteInt(fieldMissing)
					continue
				}
				prev, has := expiresAt(d, key, f, now)
				met := true
				switch {
				case cond == "NX":
					met = !has
				case cond == "XX":
					met = has
				case cond == "GT":
					met = has && at > prev
				case cond == "LT":
					met = !has || at < prev
				}
				if !met {
					x.peer.WriteInt(fieldNotMet)
					continue
				}
				x.peer.WriteInt(setExpiry(x, d, key, f, at, now))
				changed = true
			}
			if changed {
				d.touched(key)
				dropIfEmpty(x, d, key)
			}
		})
	}
}

// ttl serves HTTL key FIELDS n field... and HPTTL, HEXPIRETIME and
// HPEXPIRETIME.
func (h *hashExpiry) ttl(name string, unit time.Duration, absolute bool) server.Cmd {
	return func(c *server.Peer, _ string, args []string) {
		if len(args) < 4 {
			wrongArity(c, name)
			return
		}
		h.in.run(c, func(x *txn) {
			d := x.db()
			key := args[0]
			hash, ok := hashOf(x, d, key)
			if !ok {
				return
			}
			fields, msg := fieldsAt(args, 2, msgFieldsCount)
			if msg != "" {
				x.peer.WriteError(msg)
				return
			}
			now := x.now()
			base := now.UnixMilli()
			if absolute {
				base = 0
			}
			x.peer.WriteLen(len(fields))
			for _, f := range fields {
				if _, ok := hash[f]; !ok {
					x.peer.WriteInt(fieldMissing)
					continue
				}
				at, has := expiresAt(d, key, f, now)
				switch {
				case !has:
					x.peer.WriteInt(fieldNoTTL)
				case unit == time.Second:
					x.peer.WriteInt(int((at + 999 - base) / 1000))
				default:
					x.peer.WriteInt(int(at - base))
				}
			}
		})
	}
}

// persist serves HPERSIST key FIELDS n field...
func (h *hashExpiry) persist(c *server.Peer, _ string, args []string) {
	if len(args) < 4 {
		wrongArity(c, "hpersist")
		return
	}
	h.in.run(c, func(x *txn) {
		d := x.db()
		key := args[0]
		hash, ok := hashOf(x, d, key)
		if !ok {
			return
		}
		fields, msg := fieldsAt(args, 2, msgFieldsCount)
		if msg != "" {
			x.peer.WriteError(msg)
			return
		}
		x.peer.WriteLen(len(fields))
		for _, f := range fields {
			if _, ok := hash[f]; !ok {
				x.peer.WriteInt(fieldMissing)
				continue
			}
			if _, has := d.hashTTLs[key][f]; !has {
				x.peer.WriteInt(fieldNoTTL)
				continue
			}
			delete(d.hashTTLs[key], f)
			d.touched(key)
			x.peer.WriteInt(fieldSet)
		}
	})
}

// getdel serves HGETDEL key FIELDS n field... (Redis 8.0).
func (h *hashExpiry) getdel(c *server.Peer, _ string, args []string) {
	if len(args) < 4 {
		wrongArity(c, "hgetdel")
		return
	}
	h.in.run(c, func(x *txn) {
		d := x.db()
		key := args[0]
		hash, ok := hashOf(x, d, key)
		if !ok {
			return
		}
		fields, msg := fieldsAt(args, 2, msgFieldsCount)
		if msg != "" {
			x.peer.WriteError(msg)
			return
		}
		x.peer.WriteLen(len(fields))
		deleted := false
		for _, f := range fields {
			v, ok := hash[f]
			if !ok {
				x.peer.WriteNull()
				continue
			}
			x.peer.WriteBulk(v)
			delete(hash, f)
			delete(d.hashTTLs[key], f)
			deleted = true
		}
		if deleted {
			d.touched(key)
			dropIfEmpty(x, d, key)
		}
	})
}

// getex serves HGETEX key [EX s|PX ms|EXAT t|PXAT t|PERSIST] FIELDS n
// field... (Redis 8.0).
func (h *hashExpiry) getex(c *server.Peer, _ string, args []string) {
	if len(args) < 4 {
		wrongArity(c, "hgetex")
		return
	}
	h.in.run(c, func(x *txn) {
		d := x.db()
		key := args[0]
		hash, ok := hashOf(x, d, key)
		if !ok {
			return
		}
		now := x.now()
		opt := strings.ToUpper(args[1])
		fieldsPos, at := 2, int64(0)
		switch opt {
		case "EX", "PX", "EXAT", "PXAT":
			fieldsPos = 4
			unit, base := time.Second, now.UnixMilli()
			if opt == "PX" || opt == "PXAT" {
				unit = time.Millisecond
			}
			if strings.HasSuffix(opt, "AT") {
				base = 0
			}
			var msg string
			if at, msg = parseExpireTime(args[2], unit, base, "hgetex"); msg != "" {
				x.peer.WriteError(msg)
				return
			}
		case "PERSIST":
			fieldsPos = 3
		default:
			opt = ""
		}
		fields, msg := fieldsAt(args, fieldsPos, msgFieldsCount)
		if msg != "" {
			x.peer.WriteError(msg)
			return
		}
		x.peer.WriteLen(len(fields))
		changed := false
		for _, f := range fields {
			v, ok := hash[f]
			if !ok {
				x.peer.WriteNull()
				continue
			}
			x.peer.WriteBulk(v)
			switch opt {
			case "":
			case "PERSIST":
				if _, has := d.hashTTLs[key][f]; has {
					delete(d.hashTTLs[key], f)
					changed = true
				}
			default:
				setExpiry(x, d, key, f, at, now)
				changed = true
			}
		}
		if changed {
			d.touched(key)
			dropIfEmpty(x, d, key)
		}
	})
}

// setex serves HSETEX key [FNX|FXX] [EX s|PX ms|EXAT t|PXAT t|KEEPTTL]
// FIELDS n field value... (Redis 8.0).
func (h *hashExpiry) setex(c *server.Peer, _ string, args []string) {
	if len(args) < 5 {
		wrongArity(c, "hsetex")
		return
	}
	h.in.run(c, func(x *txn) {
		d := x.db()
		now := x.now()
		var (
			cond, expiry string
			at           int64
			pairs        []string
		)
	parse:
		for i := 1; ; i++ {
			if i >= len(args) {
				x.peer.WriteError(msgSyntax)
				return
			}
			switch opt := strings.ToUpper(args[i]); opt {
			case "FIELDS":
				if i >= len(args)-3 {
					x.peer.WriteError(wrongArgs("hsetex"))
					return
				}
				n, err := strconv.ParseInt(args[i+1], 10, 64)
				if err != nil || n < 1 || n > 1<<31-1 {
					x.peer.WriteError("ERR invalid number of fields")
					return
				}
				rest := len(args) - i - 2
				if rest%2 != 0 || n != int64(rest/2) {
					x.peer.WriteError(wrongArgs("hsetex"))
					return
				}
				pairs = args[i+2:]
				break parse
			case "EX", "PX", "EXAT", "PXAT", "KEEPTTL":
				if expiry != "" {
					x.peer.WriteError("ERR Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified")
					return
				}
				expiry = opt
				if opt == "KEEPTTL" {
					continue
				}
				if i >= len(args)-1 {
					x.peer.WriteError("ERR missing expire time")
					return
				}
				i++
				unit, base := time.Second, now.UnixMilli()
				if opt == "PX" || opt == "PXAT" {
					unit = time.Millisecond
				}
				if strings.HasSuffix(opt, "AT") {
					base = 0
				}
				var msg string
				if at, msg = parseExpireTime(args[i], unit, base, "hsetex"); msg != "" {
					x.peer.WriteError(msg)
					return
				}
			case "FNX", "FXX":
				if cond != "" {
					x.peer.WriteError("ERR Only one of FXX or FNX arguments can be specified")
					return
				}
				cond = opt
			default:
				x.peer.WriteError("ERR unknown argument: " + args[i])
				return
			}
		}
		key := args[0]
		hash, ok := hashOf(x, d, key)
		if !ok {
			return
		}
		if hash == nil && cond == "FXX" {
			x.peer.WriteInt(0)
			return
		}
		if cond != "" {
			found := 0
			for i := 0; i < len(pairs); i += 2 {
				if _, ok := hash[pairs[i]]; ok {
					found++
				}
			}
			if (cond == "FNX" && found > 0) || (cond == "FXX" && found < len(pairs)/2) {
				x.peer.WriteInt(0)
				return
			}
		}
		if _, err := x.call(append([]string{"HSET", key}, pairs...)...); err != nil {
			x.peer.WriteError(err.Error())
			return
		}
		for i := 0; i < len(pairs); i += 2 {
			f := pairs[i]
			switch expiry {
			case "KEEPTTL":
			case "":
				delete(d.hashTTLs[key], f)
			default:
				setExpiry(x, d, key, f, at, now)
			}
		}
		d.touched(key)
		dropIfEmpty(x, d, key)
		x.peer.WriteInt(1)
	})
}

// set wraps miniredis's HSET, HMSET or HSETNX: a field it sets loses its
// TTL, as in Redis.
func (h *hashExpiry) set(name string, arity func(int) bool) server.Cmd {
	upper := strings.ToUpper(name)
	return func(c *server.Peer, _ string, args []string) {
		if !arity(len(args)) {
			wrongArity(c, name)
			return
		}
		h.in.run(c, func(x *txn) {
			existed := false
			if upper == "HSETNX" {
				_, existed = x.db().hashes[args[0]][args[1]]
			}
			answer := x.pass(append([]string{upper}, args...)...)
			if strings.HasPrefix(answer, "-") || existed {
				return
			}
			d := x.db()
			ttls := d.hashTTLs[args[0]]
			for i := 1; i < len(args); i += 2 {
				delete(ttls, args[i])
			}
		})
	}
}

// del wraps miniredis's HDEL: a deleted field's TTL goes with it.
func (h *hashExpiry) del(c *server.Peer, _ string, args []string) {
	if len(args) < 2 {
		wrongArity(c, "hdel")
		return
	}
	h.in.run(c, func(x *txn) {
		x.pass(append([]string{"HDEL"}, args...)...)
		d := x.db()
		ttls := d.hashTTLs[args[0]]
		for _, f := range args[1:] {
			if _, ok := d.hashes[args[0]][f]; !ok {
				delete(ttls, f)
			}
		}
	})
}
