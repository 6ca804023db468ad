package embeddedplane_test

import "testing"

// LCS is redis-server 7.0's: every case runs on it too (the examples of
// Redis's LCS documentation).
var lcsCases = []cmdCase{
	{name: "lcs", onRedis70: true, steps: []step{
		{"MSET key1 ohmytext key2 mynewtext", "OK"},
		{"LCS key1 key2", "mytext"},
		{"LCS key1 key2 LEN", "6"},
		{"LCS key1 key2 IDX", "map[len:6 matches:[[[4 7] [5 8]] [[2 3] [0 1]]]]"},
		{"LCS key1 key2 IDX MINMATCHLEN 4", "map[len:6 matches:[[[4 7] [5 8]]]]"},
		{"LCS key1 key2 IDX MINMATCHLEN 4 WITHMATCHLEN", "map[len:6 matches:[[[4 7] [5 8] 4]]]"},
		{"LCS key1 nokey", ""},
		{"LCS nokey nokey2 IDX", "map[len:0 matches:[]]"},
		{"LCS key1 key2 LEN IDX", "ERR: ERR If you want both the length and indexes, please just use IDX."},
		{"LCS key1 key2 FOO", "ERR: ERR syntax error"},
		{"LCS key1 key2 MINMATCHLEN x", "ERR: ERR value is not an integer or out of range"},
		{"LPUSH l a", "1"},
		{"LCS key1 l", "ERR: ERR The specified keys must contain string values"},
		{"LCS key1", "ERR: ERR wrong number of arguments for 'lcs' command"},
		{"SETRANGE big1 12000 x", "12001"},
		{"SETRANGE big2 12000 y", "12001"},
		{"LCS big1 big2", "ERR: ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"},
	}},
}

func TestLCS(t *testing.T) {
	runCases(t, lcsCases)
}
