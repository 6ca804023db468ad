package restapi

// knownCommands are the command names the REST log shows (lower case): every
// command of Redis 7.0 (redis-server 7.0.15's COMMAND LIST, top-level names),
// those Redis 7.2 to 8.0 added that devapi's planes may serve, and RedisJSON's,
// which Upstash serves. A first path segment that is none of these is logged
// as "?": it may be a key, a value or a token sent in the wrong place.
var knownCommands = func() map[string]bool {
	m := map[string]bool{}
	for _, names := range [][]string{redis70, redisNewer, redisJSON} {
		for _, n := range names {
			m[n] = true
		}
	}
	return m
}()

// redis70 is redis-server 7.0.15's COMMAND LIST without subcommands.
var redis70 = []string{
	"acl", "append", "asking", "auth", "bgrewriteaof", "bgsave", "bitcount", "bitfield", "bitfield_ro", "bitop",
	"bitpos", "blmove", "blmpop", "blpop", "brpop", "brpoplpush", "bzmpop", "bzpopmax", "bzpopmin", "client",
	"cluster", "command", "config", "copy", "dbsize", "debug", "decr", "decrby", "del", "discard", "dump", "echo",
	"eval", "eval_ro", "evalsha", "evalsha_ro", "exec", "exists", "expire", "expireat", "expiretime", "failover",
	"fcall", "fcall_ro", "flushall", "flushdb", "function", "geoadd", "geodist", "geohash", "geopos", "georadius",
	"georadius_ro", "georadiusbymember", "georadiusbymember_ro", "geosearch", "geosearchstore", "get", "getbit",
	"getdel", "getex", "getrange", "getset", "hdel", "hello", "hexists", "hget", "hgetall", "hincrby",
	"hincrbyfloat", "hkeys", "hlen", "hmget", "hmset", "hrandfield", "hscan", "hset", "hsetnx", "hstrlen",
	"hvals", "incr", "incrby", "incrbyfloat", "info", "keys", "lastsave", "latency", "lcs", "lindex", "linsert",
	"llen", "lmove", "lmpop", "lolwut", "lpop", "lpos", "lpush", "lpushx", "lrange", "lrem", "lset", "ltrim",
	"memory", "mget", "migrate", "module", "monitor", "move", "mset", "msetnx", "multi", "object", "persist",
	"pexpire", "pexpireat", "pexpiretime", "pfadd", "pfcount", "pfdebug", "pfmerge", "pfselftest", "ping",
	"psetex", "psubscribe", "psync", "pttl", "publish", "pubsub", "punsubscribe", "quit", "randomkey", "readonly",
	"readwrite", "rename", "renamenx", "replconf", "replicaof", "reset", "restore", "restore-asking", "role",
	"rpop", "rpoplpush", "rpush", "rpushx", "sadd", "save", "scan", "scard", "script", "sdiff", "sdiffstore",
	"select", "set", "setbit", "setex", "setnx", "setrange", "shutdown", "sinter", "sintercard", "sinterstore",
	"sismember", "slaveof", "slowlog", "smembers", "smismember", "smove", "sort", "sort_ro", "spop", "spublish",
	"srandmember", "srem", "sscan", "ssubscribe", "strlen", "subscribe", "substr", "sunion", "sunionstore",
	"sunsubscribe", "swapdb", "sync", "time", "touch", "ttl", "type", "unlink", "unsubscribe", "unwatch", "wait",
	"watch", "xack", "xadd", "xautoclaim", "xclaim", "xdel", "xgroup", "xinfo", "xlen", "xpending", "xrange",
	"xread", "xreadgroup", "xrevrange", "xsetid", "xtrim", "zadd", "zcard", "zcount", "zdiff", "zdiffstore",
	"zincrby", "zinter", "zintercard", "zinterstore", "zlexcount", "zmpop", "zmscore", "zpopmax", "zpopmin",
	"zrandmember", "zrange", "zrangebylex", "zrangebyscore", "zrangestore", "zrank", "zrem", "zremrangebylex",
	"zremrangebyrank", "zremrangebyscore", "zrevrange", "zrevrangebylex", "zrevrangebyscore", "zrevrank", "zscan",
	"zscore", "zunion", "zunionstore",
}

// redisNewer are commands of Redis 7.2 to 8.2: WAITAOF, the hash field
// expiry commands and the streams' XDELEX and XACKDEL.
var redisNewer = []string{
	"waitaof", "hexpire", "hpexpire", "hexpireat", "hpexpireat", "httl", "hpttl", "hexpiretime", "hpexpiretime",
	"hpersist", "hgetdel", "hgetex", "hsetex", "xdelex", "xackdel",
}

// redisJSON are the commands of the RedisJSON module.
var redisJSON = []string{
	"json.arrappend", "json.arrindex", "json.arrinsert", "json.arrlen", "json.arrpop", "json.arrtrim",
	"json.clear", "json.del", "json.forget", "json.get", "json.merge", "json.mget", "json.mset", "json.numincrby",
	"json.nummultby", "json.objkeys", "json.objlen", "json.resp", "json.set", "json.strappend", "json.strlen",
	"json.toggle", "json.type",
}
