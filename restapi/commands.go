package restapi

import "strings"

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
)

// refused are commands the REST API never runs: they block, hold state on a
// connection the REST API does not keep, or reach past the database.
var refused = map[string]string{}

func init() {
	for _, c := range []string{"BLPOP", "BRPOP", "BRPOPLPUSH", "BLMOVE", "BLMPOP", "BZPOPMIN", "BZPOPMAX", "BZMPOP", "WAIT", "WAITAOF"} {
		refused[c] = "ERR blocking commands are not supported in REST API"
	}
	for _, c := range []string{"SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE", "MONITOR"} {
		refused[c] = "ERR " + c + " is not supported in REST API, use a TCP connection"
	}
	for _, c := range []string{"WATCH", "UNWATCH", "MULTI", "EXEC", "DISCARD"} {
		refused[c] = "ERR " + c + " is not supported in REST API, use /multi-exec for transactions"
	}
	for _, c := range []string{"AUTH", "HELLO", "SELECT", "QUIT", "RESET", "CLIENT", "SYNC", "PSYNC", "REPLICAOF", "SLAVEOF", "SHUTDOWN", "DEBUG", "CONFIG", "ACL", "MODULE", "FAILOVER"} {
		refused[c] = "ERR " + c + " is not allowed in REST API"
	}
}

// isBlockingXRead reports an XREAD/XREADGROUP with BLOCK, which Upstash
// refuses like the other blocking commands.
func isBlockingXRead(name string, args []string) bool {
	if name != "XREAD" && name != "XREADGROUP" {
		return false
	}
	for _, a := range args[1:] {
		if strings.EqualFold(a, "BLOCK") {
			return true
		}
	}
	return false
}

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}
