package restapi

import (
	"bytes"
	"strings"

	"github.com/devapi-dev/devapi"
)

// readOnly are the commands a read-only token may run: reads that name their
// keys. KEYS and SCAN are left out, as Upstash leaves them out.
var readOnly = set(
	"PING", "ECHO", "TIME", "DBSIZE",
	"GET", "MGET", "GETRANGE", "SUBSTR", "STRLEN", "GETBIT", "BITCOUNT", "BITPOS", "LCS",
	"EXISTS", "TYPE", "TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME", "OBJECT", "DUMP", "TOUCH", "RANDOMKEY",
	"HGET", "HMGET", "HGETALL", "HKEYS", "HVALS", "HLEN", "HEXISTS", "HSTRLEN", "HRANDFIELD", "HSCAN",
	"LRANGE", "LLEN", "LINDEX", "LPOS",
	"SMEMBERS", "SISMEMBER", "SMISMEMBER", "SCARD", "SRANDMEMBER", "SINTER", "SINTERCARD", "SUNION", "SDIFF", "SSCAN",
	"ZRANGE", "ZRANGEBYSCORE", "ZRANGEBYLEX", "ZREVRANGE", "ZREVRANGEBYSCORE", "ZREVRANGEBYLEX",
	"ZSCORE", "ZMSCORE", "ZCARD", "ZCOUNT", "ZLEXCOUNT", "ZRANK", "ZREVRANK", "ZRANDMEMBER",
	"ZINTER", "ZINTERCARD", "ZUNION", "ZDIFF", "ZSCAN",
	"XRANGE", "XREVRANGE", "XLEN", "XINFO", "XPENDING",
	"GEOPOS", "GEODIST", "GEOHASH", "GEOSEARCH", "GEORADIUS_RO", "GEORADIUSBYMEMBER_RO",
	"PFCOUNT", "JSON.GET", "JSON.MGET", "JSON.TYPE", "JSON.STRLEN", "JSON.ARRLEN", "JSON.OBJKEYS", "JSON.OBJLEN",
	"JSON.ARRINDEX", "JSON.RESP", "HTTL", "HPTTL", "HEXPIRETIME", "HPEXPIRETIME", "BITFIELD_RO", "SORT_RO",
)

// refused are the commands the REST API refuses on top of the command policy
// (devapi.CommandPolicy), which is checked first and answers NOPERM. These
// are not dangerous to the server; they make no sense over REST, where every
// request borrows a pooled connection: they block it, hold state on it that
// the next request would inherit (SELECT, CLIENT SETNAME, CLIENT REPLY OFF
// would desynchronise it), or need a connection of their own.
//
// CLIENT is refused here as a whole: the policy refuses its subcommands that
// reach other clients (CLIENT KILL answers NOPERM), and the ones the policy
// keeps for TCP clients (SETNAME, REPLY, TRACKING, ...) act on the pooled
// connection, so REST refuses them with its own text.
var refused = map[string]string{}

func init() {
	for _, c := range []string{"BLPOP", "BRPOP", "BRPOPLPUSH", "BLMOVE", "BLMPOP", "BZPOPMIN", "BZPOPMAX", "BZMPOP", "WAIT", "WAITAOF"} {
		refused[c] = "ERR blocking commands are not supported in REST API"
	}
	for _, c := range []string{"SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE"} {
		refused[c] = "ERR " + c + " is not supported in REST API, use a TCP connection"
	}
	// An event stream is a request of its own (sse.go); as a command they
	// would turn the pooled connection into a subscriber.
	refused["SUBSCRIBE"] = "ERR SUBSCRIBE is not supported as a command in REST API: send /subscribe/<channel> with Accept: text/event-stream"
	refused["PSUBSCRIBE"] = "ERR PSUBSCRIBE is not supported as a command in REST API: send /psubscribe/<pattern> with Accept: text/event-stream"
	for _, c := range []string{"WATCH", "UNWATCH", "MULTI", "EXEC", "DISCARD"} {
		refused[c] = "ERR " + c + " is not supported in REST API, use /multi-exec for transactions"
	}
	for _, c := range []string{"AUTH", "HELLO", "SELECT", "QUIT", "RESET", "CLIENT"} {
		refused[c] = "ERR " + c + " is not allowed in REST API"
	}
}

// check refuses what the token or the REST API may not run: the command
// policy first (Redis's NOPERM), then the REST API's own refusals, then what
// a read-only token may not run. It returns "" when command i of cmds may
// run.
func check(cmds *commands, i int, readOnlyToken bool) string {
	lo, hi := cmds.command(i)
	if lo == hi {
		return "ERR empty command"
	}
	head := make([]string, 0, 2)
	for j := lo; j < hi && j < lo+2; j++ {
		head = append(head, string(cmds.arg(j)))
	}
	if msg := devapi.CommandRefused(head); msg != "" {
		return msg
	}
	name := strings.ToUpper(head[0])
	if msg, ok := refused[name]; ok {
		return msg
	}
	if name == "XREAD" || name == "XREADGROUP" {
		for j := lo + 1; j < hi; j++ {
			if bytes.EqualFold(cmds.arg(j), []byte("BLOCK")) {
				// Upstash refuses XREAD BLOCK like the other blocking commands.
				return refused["BLPOP"]
			}
		}
	}
	if readOnlyToken && !readOnly[name] {
		return devapi.NoPermission(strings.ToLower(head[0]))
	}
	return ""
}

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}
