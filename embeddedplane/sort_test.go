package embeddedplane_test

import "testing"

// SORT and SORT_RO are redis-server 7.0's: every case runs on it too.
var sortCases = []cmdCase{
	{name: "sort", onRedis70: true, steps: []step{
		{"RPUSH l 3 1 2 10 1.5", "5"},
		{"SORT l", "[1 1.5 2 3 10]"},
		{"SORT l DESC LIMIT 1 2", "[3 2]"},
		{"SORT l ALPHA", "[1 1.5 10 2 3]"},
		{"SORT_RO l LIMIT 0 -1", "[1 1.5 2 3 10]"},
		{"SORT l LIMIT 10 2", "[]"},
		{"MSET w_3 1 w_1 3 w_2 2 w_10 0", "OK"},
		{"SORT l BY w_*", "[1.5 10 3 2 1]"},
		{"SORT l BY nosort", "[3 1 2 10 1.5]"},
		{"SORT l BY nosort DESC LIMIT 0 2", "[1.5 10]"},
		{"HSET h_1 name one", "1"},
		{"HSET h_2 name two", "1"},
		{"SORT l GET # GET h_*->name LIMIT 0 3", "[1 one 1.5 <nil> 2 two]"},
		{"SORT l BY w_* ALPHA DESC", "[1 2 3 10 1.5]"},
		{"SORT l STORE out", "5"},
		{"LRANGE out 0 -1", "[1 1.5 2 3 10]"},
		{"SORT nokey STORE out", "0"},
		{"EXISTS out", "0"},
		{"SADD s b a c", "3"},
		{"SORT s ALPHA", "[a b c]"},
		{"SORT s BY nosort STORE out2", "3"},
		{"LRANGE out2 0 -1", "[a b c]"},
		{"ZADD z 3 a 1 b 2 c", "3"},
		{"SORT z BY nosort", "[b c a]"},
		{"SORT z ALPHA DESC", "[c b a]"},
		{"RPUSH bad 1 x", "2"},
		{"SORT bad", "ERR: ERR One or more scores can't be converted into double"},
		{"SORT_RO l STORE out", "ERR: ERR syntax error"},
		{"SORT l LIMIT x 1", "ERR: ERR value is not an integer or out of range"},
		{"SORT l FOO", "ERR: ERR syntax error"},
		{"SET str v", "OK"},
		{"SORT str", "ERR: WRONGTYPE Operation against a key holding the wrong kind of value"},
	}},
}

func TestSort(t *testing.T) {
	runCases(t, sortCases)
}
