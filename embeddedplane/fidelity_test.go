package embeddedplane_test

// The README's table of command families by plane, generated and checked
// here: each family's commands are probed on the embedded plane and on
// redis-server 7.0; the redis-server 8 and pool columns follow from the
// Redis version that brought the family (Redis's command docs, "Available
// since") and from the pool's rule: a pool database runs whatever its
// server's version has. `go test ./embeddedplane -run TestFidelityTable
// -update` rewrites the table in README.md.

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/redistest"
)

var updateFidelity = flag.Bool("update", false, "rewrite the fidelity table in README.md")

// probe is one command of a family, run on a database that has the keys
// the family's earlier probes made.
type probe struct {
	label string // as the README names it
	cmd   string // as step.cmd
}

type fidelityFamily struct {
	name string
	// since is the Redis version that has every command of the family:
	// "7.0" for those redis-server 7.0 has, "json" for RedisJSON's.
	since  string
	probes []probe
}

const fidelityLibrary = "#!lua name=probe\nredis.register_function{function_name='pget', callback=function(keys) return redis.call('GET', keys[1]) end, flags={'no-writes'}}"

var fidelityFamilies = []fidelityFamily{
	{"strings and keys", "7.0", []probe{
		{"SET", "SET k v EX 60"}, {"GETEX", "GETEX k PERSIST"}, {"GETDEL", "GETDEL k"}, {"INCRBYFLOAT", "INCRBYFLOAT n 1.5"},
		{"SETRANGE", "SETRANGE k 0 abc"}, {"LCS", "LCS k n"}, {"COPY", "COPY k k2"}, {"EXPIRETIME", "EXPIRETIME k"},
		{"SCAN", "SCAN 0"}, {"SORT", "SORT nolist"}, {"OBJECT", "OBJECT ENCODING k"},
	}},
	{"bitmaps", "7.0", []probe{
		{"SETBIT", "SETBIT b 7 1"}, {"BITCOUNT", "BITCOUNT b"}, {"BITPOS", "BITPOS b 1"}, {"BITOP AND/OR/XOR/NOT", "BITOP AND d b b"},
		{"BITFIELD", "BITFIELD b INCRBY u8 0 1"}, {"BITFIELD_RO", "BITFIELD_RO b GET u8 0"},
	}},
	{"BITOP DIFF/DIFF1/ANDOR/ONE", "8.2", []probe{
		{"BITOP DIFF", "BITOP DIFF d b b"}, {"BITOP DIFF1", "BITOP DIFF1 d b b"}, {"BITOP ANDOR", "BITOP ANDOR d b b"}, {"BITOP ONE", "BITOP ONE d b b"},
	}},
	{"hashes", "7.0", []probe{
		{"HSET", "HSET h a 1 b 2"}, {"HGETALL", "HGETALL h"}, {"HINCRBYFLOAT", "HINCRBYFLOAT h a 1.5"}, {"HRANDFIELD", "HRANDFIELD h 2 WITHVALUES"},
		{"HSCAN", "HSCAN h 0"}, {"HSTRLEN", "HSTRLEN h a"},
	}},
	{"hash-field expiry", "7.4", []probe{
		{"HEXPIRE", "HEXPIRE h 100 FIELDS 1 a"}, {"HPEXPIRE", "HPEXPIRE h 100000 FIELDS 1 a"}, {"HEXPIREAT", "HEXPIREAT h 4102444800 FIELDS 1 a"},
		{"HPEXPIREAT", "HPEXPIREAT h 4102444800000 FIELDS 1 a"}, {"HTTL", "HTTL h FIELDS 1 a"}, {"HPTTL", "HPTTL h FIELDS 1 a"},
		{"HEXPIRETIME", "HEXPIRETIME h FIELDS 1 a"}, {"HPEXPIRETIME", "HPEXPIRETIME h FIELDS 1 a"}, {"HPERSIST", "HPERSIST h FIELDS 1 a"},
	}},
	{"hash get-and-delete, get-and-expire, set-with-expiry", "8.0", []probe{
		{"HGETDEL", "HGETDEL h FIELDS 1 b"}, {"HGETEX", "HGETEX h EX 100 FIELDS 1 a"}, {"HSETEX", "HSETEX h EX 100 FIELDS 1 c 3"},
	}},
	{"lists", "7.0", []probe{
		{"LPUSH", "LPUSH l a b c"}, {"LRANGE", "LRANGE l 0 -1"}, {"LPOS", "LPOS l a"}, {"LMOVE", "LMOVE l l2 LEFT RIGHT"},
		{"LMPOP", "LMPOP 1 l LEFT"}, {"BLMPOP", "BLMPOP 0.01 1 l LEFT"},
	}},
	{"sets", "7.0", []probe{
		{"SADD", "SADD s a b"}, {"SINTERCARD", "SINTERCARD 1 s"}, {"SMISMEMBER", "SMISMEMBER s a z"}, {"SRANDMEMBER", "SRANDMEMBER s 2"},
	}},
	{"sorted sets", "7.0", []probe{
		{"ZADD", "ZADD z 1 a 2 b"}, {"ZRANGE", "ZRANGE z 0 1 BYSCORE"}, {"ZRANGESTORE", "ZRANGESTORE z2 z 0 -1"}, {"ZINTERCARD", "ZINTERCARD 1 z"},
		{"ZDIFF", "ZDIFF 1 z"}, {"ZDIFFSTORE", "ZDIFFSTORE z3 1 z"}, {"ZMPOP", "ZMPOP 1 z MIN"}, {"ZRANDMEMBER", "ZRANDMEMBER z"},
	}},
	{"geo", "7.0", []probe{
		{"GEOADD", "GEOADD g 13.361389 38.115556 Palermo"}, {"GEOADD NX/XX/CH", "GEOADD g NX CH 15.087269 37.502669 Catania"},
		{"GEODIST", "GEODIST g Palermo Catania"}, {"GEOHASH", "GEOHASH g Palermo"}, {"GEOPOS", "GEOPOS g Palermo"},
		{"GEOSEARCH", "GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 200 km ASC"}, {"GEOSEARCHSTORE", "GEOSEARCHSTORE g2 g FROMLONLAT 15 37 BYRADIUS 200 km STOREDIST"},
	}},
	{"HyperLogLog", "7.0", []probe{{"PFADD", "PFADD p a"}, {"PFCOUNT", "PFCOUNT p"}, {"PFMERGE", "PFMERGE p2 p"}}},
	{"streams", "7.0", []probe{
		{"XADD", "XADD x 1-1 f v"}, {"XRANGE", "XRANGE x - +"}, {"XREAD", "XREAD STREAMS x 0"}, {"XGROUP CREATE", "XGROUP CREATE x g 0"},
		{"XREADGROUP", "XREADGROUP GROUP g c STREAMS x >"}, {"XACK", "XACK x g 1-1"}, {"XPENDING", "XPENDING x g"},
		{"XCLAIM", "XCLAIM x g c 0 1-1"}, {"XAUTOCLAIM", "XAUTOCLAIM x g c 0 0"}, {"XINFO", "XINFO STREAM x"},
		{"XTRIM", "XTRIM x MAXLEN 10"}, {"XSETID", "XSETID x 5-0"}, {"XGROUP SETID", "XGROUP SETID x g 0"},
	}},
	{"stream delete with references", "8.2", []probe{
		{"XDELEX", "XDELEX x IDS 1 1-1"}, {"XACKDEL", "XACKDEL x g IDS 1 1-1"},
	}},
	{"transactions", "7.0", []probe{{"WATCH", "WATCH k"}, {"MULTI", "MULTI"}, {"EXEC", "EXEC"}}},
	{"pub/sub (over TCP; SSE over REST)", "7.0", []probe{{"PUBLISH", "PUBLISH ch m"}, {"PUBSUB", "PUBSUB CHANNELS"}}},
	{"scripts", "7.0", []probe{
		{"EVAL", argv("EVAL", "return 1", "0")}, {"EVAL_RO", argv("EVAL_RO", "return 1", "0")},
		{"SCRIPT LOAD", argv("SCRIPT", "LOAD", "return 1")}, {"EVALSHA", "EVALSHA e0e1f9fabfc9d4800c877a703b823ac0578ff8db 0"},
	}},
	{"functions", "7.0", []probe{
		{"FUNCTION LOAD", argv("FUNCTION", "LOAD", fidelityLibrary)}, {"FCALL", "FCALL pget 1 k"}, {"FCALL_RO", "FCALL_RO pget 1 k"},
		{"FUNCTION LIST", "FUNCTION LIST"}, {"FUNCTION STATS", "FUNCTION STATS"}, {"FUNCTION DUMP", "FUNCTION DUMP"},
		{"FUNCTION DELETE", "FUNCTION DELETE probe"}, {"FUNCTION FLUSH", "FUNCTION FLUSH"},
	}},
	{"JSON (RedisJSON)", "json", []probe{
		{"JSON.SET", argv("JSON.SET", "j", "$", `{"a":1,"l":[]}`)}, {"JSON.GET", "JSON.GET j $.a"}, {"JSON.MERGE", argv("JSON.MERGE", "j", "$", `{"b":2}`)},
		{"JSON.ARRAPPEND", "JSON.ARRAPPEND j $.l 1"}, {"JSON.NUMINCRBY", "JSON.NUMINCRBY j $.a 2"}, {"JSON.DEL", "JSON.DEL j $.b"},
	}},
}

// served reports whether a command's answer says the plane has it: any
// answer but an unknown command, subcommand or option.
func served(answer string) bool {
	a := strings.ToLower(answer)
	return !strings.HasPrefix(a, "err: ") ||
		!(strings.Contains(a, "unknown command") || strings.Contains(a, "unknown subcommand") ||
			strings.Contains(a, "syntax error") || strings.Contains(a, "not supported"))
}

// probeCell runs a family's probes and writes its cell: "yes", "no", or
// "no X, Y" for the commands that are not served.
func probeCell(t *testing.T, c *redis.Client, fam fidelityFamily) string {
	t.Helper()
	var missing []string
	for _, p := range fam.probes {
		if got := answer(t, c, splitCmd(p.cmd)...); !served(got) {
			missing = append(missing, p.label)
		}
	}
	switch {
	case len(missing) == 0:
		return "yes"
	case len(missing) == len(fam.probes):
		return "no"
	}
	return "all but " + strings.Join(missing, ", ")
}

// derivedCells are the columns that follow from a family's version.
func derivedCells(since string) (redis70, redis8, pool string) {
	switch since {
	case "7.0":
		return "yes", "yes", "yes"
	case "json":
		return "no", "yes (bundled in Redis Open Source 8)", "if the server has RedisJSON"
	case "8.2":
		return "no", "8.2 and later", "if the server is 8.2 or later"
	}
	return "no", "yes", "if the server is " + since + " or later"
}

func TestFidelityTable(t *testing.T) {
	_, _, connect := scriptDB(t, devapi.PlaneConfig{})
	emb := connect()
	var real *redis.Client
	if redistest.Installed(t) { // fails under CI=true without redis-server
		real = realRedis(t)
	} else {
		t.Log("redis-server not installed: the redis-server 7.0 column is checked only where it is installed")
	}
	var b strings.Builder
	b.WriteString("| family | commands | embedded | redis-server 7.0 | redis-server 8 | pool |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, fam := range fidelityFamilies {
		emCell := probeCell(t, emb, fam)
		r70, r8, pool := derivedCells(fam.since)
		if real != nil {
			if got := probeCell(t, real, fam); got != r70 {
				t.Errorf("%s on redis-server 7.0: probed %q, the family's version says %q", fam.name, got, r70)
			}
		}
		labels := make([]string, len(fam.probes))
		for i, p := range fam.probes {
			labels[i] = "`" + p.label + "`"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", fam.name, strings.Join(labels, " "), emCell, r70, r8, pool)
	}
	table := b.String()

	const begin, end = "<!-- fidelity table: generated by TestFidelityTable -->\n", "<!-- end of fidelity table -->\n"
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	i, j := strings.Index(text, begin), strings.Index(text, end)
	if i < 0 || j < i {
		t.Fatalf("README.md has no fidelity table between %q and %q", begin, end)
	}
	if current := text[i+len(begin) : j]; current != table {
		if *updateFidelity {
			if err := os.WriteFile("../README.md", []byte(text[:i+len(begin)]+table+text[j:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("README.md's fidelity table is not what the planes serve; run go test ./embeddedplane -run TestFidelityTable -update\nREADME:\n%s\nprobed:\n%s", current, table)
	}
}
