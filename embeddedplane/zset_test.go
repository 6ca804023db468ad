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

func TestSortedSetCommands(t *testing.T) {
	runCases(t, zsetCases)
}
