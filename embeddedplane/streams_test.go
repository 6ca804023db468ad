package embeddedplane_test

import "testing"

// readGroup is XREADGROUP GROUP group consumer STREAMS key >, answered by
// a script with the number of entries read: the reply's shape differs
// between miniredis and Redis in RESP3.
func readGroup(key, group, consumer string) string {
	return argv("EVAL", "local r = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'STREAMS', KEYS[1], '>') if not r then return 0 end return #r[1][2]", "1", key, group, consumer)
}

// XGROUP SETID runs on redis-server 7.0 too; XDELEX and XACKDEL are Redis
// 8.2's, their expected answers those of Redis's own tests
// (tests/unit/type/stream-cgroups.tcl).
var streamCases = []cmdCase{
	{name: "xgroup setid", onRedis70: true, steps: []step{
		{"XADD x 1-1 f v", "1-1"},
		{"XADD x 2-1 f v", "2-1"},
		{"XGROUP CREATE x g $", "OK"},
		{"XGROUP SETID x g 0", "OK"},
		{argv("EVAL", "return #redis.call('XREADGROUP', 'GROUP', 'g', 'c', 'COUNT', 1, 'STREAMS', 'x', '>')[1][2]", "0"), "1"},
		{"XGROUP SETID x g $", "OK"},
		{readGroup("x", "g", "c"), "0"},
		{"XGROUP SETID x g 1 ENTRIESREAD 1", "OK"},
		{readGroup("x", "g", "c"), "2"},
		{"XGROUP SETID x nope 0", "ERR: NOGROUP No such consumer group 'nope' for key name 'x'"},
		{"XGROUP SETID nokey g 0", "ERR: ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically."},
		{"XGROUP SETID x g bad", "ERR: ERR Invalid stream ID specified as stream command argument"},
		{"XGROUP SETID x g", "ERR: ERR wrong number of arguments for 'xgroup|setid' command"},
		{"XGROUP CREATE x g2 0", "OK"},
		{"XGROUP DESTROY x g2", "1"},
	}},
	{name: "xsetid", onRedis70: true, steps: []step{
		{"XADD x 5-1 f v", "5-1"},
		{"XADD x 6-1 f v", "6-1"},
		{"XSETID x 10-0", "OK"},
		{"XSETID x 3-0", "ERR: ERR The ID specified in XSETID is smaller than the target stream top item"},
		{"XSETID x 20 ENTRIESADDED 1", "ERR: ERR The entries_added specified in XSETID is smaller than the target stream length"},
		{"XSETID x 20 ENTRIESADDED -1", "ERR: ERR entries_added must be positive"},
		{"XSETID x 20 MAXDELETEDID 30", "ERR: ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id"},
		{"XSETID x 20 ENTRIESADDED 5 MAXDELETEDID 4", "OK"},
		{"XSETID x 99999999999999-0", "OK"},
		{"XADD x * f v", "99999999999999-1"},
		{"XGROUP CREATE x g 0", "OK"},
		{"XGROUP SETID x g $", "OK"},
		{"XSETID x bad", "ERR: ERR Invalid stream ID specified as stream command argument"},
		{"XSETID nokey 1", "ERR: ERR no such key"},
		{"XSETID x 30 FOO 1", "ERR: ERR syntax error"},
		{"SET str v", "OK"},
		{"XSETID str 1", "ERR: WRONGTYPE Operation against a key holding the wrong kind of value"},
	}},
	{name: "xackdel policies", steps: []step{
		{"XADD s 1-0 f v", "1-0"},
		{"XADD s 2-0 f v", "2-0"},
		{"XGROUP CREATE s group1 0", "OK"},
		{"XGROUP CREATE s group2 0", "OK"},
		{readGroup("s", "group1", "consumer1"), "2"},
		{readGroup("s", "group2", "consumer2"), "2"},
		{"XACKDEL s group1 ACKED IDS 2 1-0 2-0", "[2 2]"},
		{"XLEN s", "2"},
		{"XACKDEL s group2 ACKED IDS 2 1-0 2-0", "[1 1]"},
		{"XLEN s", "0"},
		{"XADD s 3-0 f v", "3-0"},
		{"XADD s 4-0 f v", "4-0"},
		{readGroup("s", "group1", "consumer1"), "2"},
		{readGroup("s", "group2", "consumer2"), "2"},
		{"XACKDEL s group1 KEEPREF IDS 2 3-0 4-0", "[1 1]"},
		{"XLEN s", "0"},
		{"XACKDEL s group2 KEEPREF IDS 2 3-0 4-0", "[1 1]"},
		{"XADD s 5-0 f v", "5-0"},
		{readGroup("s", "group1", "consumer1"), "1"},
		{readGroup("s", "group2", "consumer2"), "1"},
		{"XACKDEL s group1 DELREF IDS 1 5-0", "[1]"},
		{"XACKDEL s group2 IDS 1 5-0", "[-1]"},
		{"XACKDEL s group2 DELREF IDS 1 5-0", "[-1]"},
		{"XACKDEL s nogroup IDS 1 5-0", "[-1]"},
		{"XACKDEL nokey g IDS 2 1-1 2-2", "[-1 -1]"},
	}},
	{name: "xdelex policies", steps: []step{
		{"XADD s 1-0 f v", "1-0"},
		{"XADD s 2-0 f v", "2-0"},
		{"XADD s 3-0 f v", "3-0"},
		{"XGROUP CREATE s g 0", "OK"},
		{argv("EVAL", "return #redis.call('XREADGROUP', 'GROUP', 'g', 'c', 'COUNT', 1, 'STREAMS', 's', '>')[1][2]", "0"), "1"},
		{"XDELEX s ACKED IDS 2 1-0 2-0", "[2 2]"},
		{"XACK s g 1-0", "1"},
		{"XDELEX s ACKED IDS 1 1-0", "[1]"},
		{readGroup("s", "g", "c"), "2"},
		{"XDELEX s IDS 2 2-0 7-0", "[1 -1]"},
		{"XDELEX s DELREF IDS 1 3-0", "[1]"},
		{"XACKDEL s g IDS 2 2-0 3-0", "[1 -1]"},
		{"XDELEX nokey IDS 1 1-0", "[-1]"},
	}},
	{name: "xdelex xackdel errors", steps: []step{
		{"XADD s 1-0 f v", "1-0"},
		{"XDELEX s IDS 0 1-1", "ERR: ERR Number of IDs must be a positive integer"},
		{"XDELEX s IDS abc 1-1", "ERR: ERR Number of IDs must be a positive integer"},
		{"XDELEX s IDS 3 1-1", "ERR: ERR The `numids` parameter must match the number of arguments"},
		{"XDELEX s IDS 1 1-1 2-2", "ERR: ERR syntax error"},
		{"XDELEX s BOGUS IDS 1 1-1", "ERR: ERR syntax error"},
		{"XDELEX s IDS 1 not-an-id", "ERR: ERR Invalid stream ID specified as stream command argument"},
		{"XACKDEL s g KEEPREF DELREF IDS 1 1-1", "ERR: ERR syntax error"},
		{"XACKDEL s g", "ERR: ERR wrong number of arguments for 'xackdel' command"},
		{"XDELEX s IDS", "ERR: ERR wrong number of arguments for 'xdelex' command"},
		{"SET str v", "OK"},
		{"XDELEX str IDS 1 1-1", "ERR: WRONGTYPE Operation against a key holding the wrong kind of value"},
	}},
}

func TestStreamCommands(t *testing.T) {
	runCases(t, streamCases)
}
