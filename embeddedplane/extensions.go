package embeddedplane

import (
	"fmt"

	"github.com/alicebob/miniredis/v2"
	"github.com/alicebob/miniredis/v2/server"
)

// This file is the one place that says which commands the embedded plane
// adds to miniredis (RedisJSON, hash-field expiry, FUNCTION/FCALL, ...).
// Each family lives in a file of its own and is listed in families; start
// registers every family on every database's miniredis.

// family is a set of commands the embedded plane adds to miniredis.
type family struct {
	// name says what the family is, for errors and the README's table.
	name string
	// commands returns the family's commands for one database, by upper-case
	// name; state the family keeps per database lives in the closures.
	commands func(m *miniredis.Miniredis) map[string]server.Cmd
	// build, set instead of commands, does the same from the database's one
	// view of miniredis's internals (inside.go), made before any family
	// replaced a command, so that its originals are miniredis's own.
	build func(in *inside) map[string]server.Cmd
	// wraps: every command of the family takes the place of the handler
	// the database has for it, miniredis's or an earlier family's.
	wraps bool
}

// families lists every family the embedded plane adds.
var families = []family{
	{name: "key TTL", build: keyTTLCommands},
	{name: "hash-field expiry", build: hashExpiryCommands},
	{name: "bit fields", build: bitCommands},
	{name: "GEO", build: geoCommands},
	{name: "sorted-set difference", build: zsetCommands},
	{name: "streams", build: streamCommands},
	{name: "LCS", build: lcsCommands},
	{name: "SORT", build: sortCommands},
	{name: "BLMPOP", build: listCommands},
	{name: "RedisJSON", commands: jsonCommands},
	// Last: it wraps the handlers the families above left in place.
	{name: "JSON keys are not lists", build: jsonGuardCommands, wraps: true},
}

// replaced lists the commands miniredis has that a family replaces, because
// miniredis's answer differs from Redis's: every other name a family
// registers must be new to miniredis (Register refuses a name it has, which
// catches a family shadowing a command by mistake). A replacement is put in
// place of miniredis's handler (replaceCommand, inside.go), not in front of
// it in the front door's hook, so that it runs on every path a command
// takes: TCP, MULTI/EXEC (it queues like miniredis's own) and a script's
// redis.call.
//   - TTL: miniredis truncates (59 for a fresh EX 60); Redis rounds.
//   - GEOADD, GEODIST, GEOPOS, GEOSEARCH: miniredis has no NX, XX or CH,
//     and its distances and coordinates differ from Redis's in the last
//     digits (geo.go).
//   - BITOP: miniredis has no DIFF, DIFF1, ANDOR or ONE (Redis 8.2).
//   - XGROUP: miniredis has no SETID (streams.go); the rest is passed on.
//   - HEXPIRE, HTTL, HPTTL, HPERSIST, HSETEX: miniredis's lack Redis's
//     errors and answers; the family has HPEXPIRE & co. on one model.
//   - HSET, HMSET, HSETNX, HDEL: a field set or deleted loses its TTL in
//     Redis; miniredis keeps it.
//   - TYPE: a JSON key (json.go) is a list inside; TYPE says ReJSON-RL.
//   - the list commands and SCAN: on a JSON key they answer WRONGTYPE
//     (jsonguard.go, which wraps SORT, SORT_RO and BLMPOP too), and SCAN's
//     TYPE tells JSON keys from lists. A family's own calls of them
//     (txn.call) reach miniredis's, unguarded: JSON's own LSET.
var replaced = map[string]bool{
	"TTL": true, "BITOP": true, "GEOADD": true, "GEODIST": true, "GEOPOS": true, "GEOSEARCH": true, "TYPE": true,
	"HEXPIRE": true, "HTTL": true, "HPTTL": true, "HPERSIST": true, "HSETEX": true,
	"HSET": true, "HMSET": true, "HSETNX": true, "HDEL": true,
	"XGROUP": true, "LPUSH": true, "RPUSH": true, "LPUSHX": true, "RPUSHX": true, "LPOP": true, "RPOP": true, "LRANGE": true,
	"LINDEX": true, "LLEN": true, "LSET": true, "LTRIM": true, "LREM": true, "LINSERT": true, "LPOS": true,
	"RPOPLPUSH": true, "LMOVE": true, "LMPOP": true, "BLPOP": true, "BRPOP": true, "BRPOPLPUSH": true,
	"BLMOVE": true, "SCAN": true,
}

// addCommands registers every family's commands on m.
func addCommands(m *miniredis.Miniredis) error {
	in := newInside(m) // one per database: a family's copy would cost every database
	for _, fam := range families {
		var cmds map[string]server.Cmd
		if fam.build != nil {
			cmds = fam.build(in)
		} else {
			cmds = fam.commands(m)
		}
		for name, cmd := range cmds {
			if replaced[name] || fam.wraps {
				if err := replaceCommand(m.Server(), name, cmd); err != nil {
					return fmt.Errorf("embeddedplane: %s: %w", fam.name, err)
				}
				continue
			}
			if err := m.Server().Register(name, cmd); err != nil {
				return fmt.Errorf("embeddedplane: %s: %w", fam.name, err)
			}
		}
	}
	return nil
}
