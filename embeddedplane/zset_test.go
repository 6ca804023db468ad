package embeddedplane_test

import "testing"

// redis-server 7.0 has ZDIFF and ZDIFFSTORE: the cases run on it too.
var zsetCases = []cmdCase{
	{name: "zdiff", onRedis70: true, steps: []step{
		{"ZADD a 1 one 2 two 3 three -inf low", "4"},
		{"ZADD b 1 one", "1"},
		{"SADD s three", "1"},
		{"ZDIFF 3 a b s", "[low two]"},
		{"ZDIFF 2 a b WITHSCORES", "[[low -Inf] [two 2] [three 3]]"},
		{"ZDIFF 1 nokey", "[]"},
		{"ZDIFF 2 nokey a", "[]"},
		{"ZDIFFSTORE out 2 a b", "3"},
		{"ZRANGE out 0 -1", "[low two three]"},
		{"ZSCORE out low", "-Inf"},
		{"SET out x EX 100", "OK"},
		{"ZDIFFSTORE out 2 a a", "0"},
		{"EXISTS out", "0"},
		{"ZDIFFSTORE out 1 s", "1"},
		{"TTL out", "-1"},
		{"ZDIFF 0 a", "ERR: ERR at least 1 input key is needed for 'zdiff' command"},
		{"ZDIFFSTORE out 0 a", "ERR: ERR at least 1 input key is needed for 'zdiffstore' command"},
		{"ZDIFF 3 a b", "ERR: ERR syntax error"},
		{"ZDIFF x a", "ERR: ERR value is not an integer or out of range"},
		{"ZDIFF 1 a WEIGHTS 1", "ERR: ERR syntax error"},
		{"ZDIFFSTORE out 1 a WITHSCORES", "ERR: ERR syntax error"},
		{"SET str v", "OK"},
		{"ZDIFF 2 a str", "ERR: WRONGTYPE Operation against a key holding the wrong kind of value"},
		{"ZDIFF 1", "ERR: ERR wrong number of arguments for 'zdiff' command"},
	}},
}

var zsetMoreCases = []cmdCase{
	{name: "zintercard", onRedis70: true, steps: []step{
		{"ZADD a 1 x 2 y 3 z", "3"},
		{"ZADD b 1 y 2 z 3 w", "3"},
		{"SADD s z y q", "3"},
		{"ZINTERCARD 2 a b", "2"},
		{"ZINTERCARD 3 a b s", "2"},
		{"ZINTERCARD 3 a b s LIMIT 1", "1"},
		{"ZINTERCARD 3 a b s LIMIT 0", "2"},
		{"ZINTERCARD 2 a nokey", "0"},
		{"ZINTERCARD 1 a", "3"},
		{"ZINTERCARD 2 a b LIMIT -1", "ERR: ERR LIMIT can't be negative"},
		{"ZINTERCARD 0 a", "ERR: ERR at least 1 input key is needed for 'zintercard' command"},
		{"ZINTERCARD 3 a b", "ERR: ERR syntax error"},
		{"ZINTERCARD 2 a b WITHSCORES", "ERR: ERR syntax error"},
		{"SET str v", "OK"},
		{"ZINTERCARD 2 a str", "ERR: WRONGTYPE Operation against a key holding the wrong kind of value"},
	}},
	{name: "zrangestore", onRedis70: true, steps: []step{
		{"ZADD src 1 a 2 b 3 c 4 d -inf m", "5"},
		{"ZRANGESTORE dst src 0 1", "2"},
		{"ZRANGE dst 0 -1", "[m a]"},
		{"ZSCORE dst m", "-Inf"},
		{"ZRANGESTORE dst src 2 3 BYSCORE", "2"},
		{"ZRANGE dst 0 -1", "[b c]"},
		{"ZRANGESTORE dst src (4 -inf BYSCORE REV LIMIT 0 2", "2"},
		{"ZRANGE dst 0 -1", "[b c]"},
		{"ZADD lex 0 a 0 b 0 c 0 d", "4"},
		{"ZRANGESTORE dst lex [b + BYLEX LIMIT 1 5", "2"},
		{"ZRANGE dst 0 -1", "[c d]"},
		{"ZRANGESTORE dst nokey 0 -1", "0"},
		{"EXISTS dst", "0"},
		{"ZRANGESTORE dst src 0 -1 WITHSCORES", "ERR: ERR syntax error"},
		{"ZRANGESTORE dst", "ERR: ERR wrong number of arguments for 'zrangestore' command"},
	}},
}

func TestSortedSetCommandsMore(t *testing.T) {
	runCases(t, zsetMoreCases)
}

func TestSortedSetCommands(t *testing.T) {
	runCases(t, zsetCases)
}
