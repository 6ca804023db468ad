package embeddedplane_test

import "testing"

// redis-server 7.0 has BITFIELD and BITFIELD_RO: those cases run on it
// too; BITOP's DIFF, DIFF1, ANDOR and ONE are Redis 8.2's.
var bitCases = []cmdCase{
	{name: "bitfield get set incrby", onRedis70: true, steps: []step{
		{"BITFIELD b SET u8 0 200 GET u8 0 GET i8 0 INCRBY u8 0 100", "[0 200 -56 44]"},
		{"GET b", ","},
		{"BITFIELD b SET i5 #1 -3 GET i5 #1 GET u5 5 GET u4 0", "[-16 -3 29 2]"},
		{"BITFIELD b GET u63 0 GET i64 0", "[1702360659146047488 3404721318292094976]"},
		{"BITFIELD nokey GET i8 0 GET u16 100", "[0 0]"},
		{"EXISTS nokey", "0"},
		{"BITFIELD b", "[]"},
		{"BITFIELD_RO b GET u8 0 GET i8 8", "[47 64]"},
		{"STRLEN b", "2"},
		{"BITFIELD b SET u8 80 1", "[0]"},
		{"STRLEN b", "11"},
	}},
	{name: "bitfield overflow", onRedis70: true, steps: []step{
		{"BITFIELD o SET u8 0 250 INCRBY u8 0 10 OVERFLOW SAT INCRBY u8 0 300 OVERFLOW FAIL INCRBY u8 0 1 GET u8 0", "[0 4 255 <nil> 255]"},
		{"BITFIELD o OVERFLOW SAT INCRBY i8 8 -200 OVERFLOW WRAP INCRBY i8 8 -1 SET i8 16 200 SET u8 24 -1", "[-128 127 0 0]"},
		{"BITFIELD o OVERFLOW FAIL SET i8 16 128 SET u8 24 256 OVERFLOW SAT SET u4 32 99", "[<nil> <nil> 0]"},
		{"BITFIELD o GET i8 16 GET u8 24 GET u4 32 GET i64 0", "[-56 255 15 -36089270426927104]"},
		{"BITFIELD o INCRBY i64 0 9223372036854775807", "[9187282766427848703]"},
		{"BITFIELD o OVERFLOW SAT INCRBY i64 0 9223372036854775807", "[9223372036854775807]"},
		{"BITFIELD o OVERFLOW FAIL INCRBY i64 0 1 INCRBY i64 0 -1", "[<nil> 9223372036854775806]"},
	}},
	{name: "bitfield errors", onRedis70: true, steps: []step{
		{"BITFIELD b GET u64 0", "ERR: ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."},
		{"BITFIELD b GET i65 0", "ERR: ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."},
		{"BITFIELD b GET I8 0", "ERR: ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."},
		{"BITFIELD b GET i0 0", "ERR: ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."},
		{"BITFIELD b GET i8 -1", "ERR: ERR bit offset is not an integer or out of range"},
		{"BITFIELD b SET i8 4294967296 1", "ERR: ERR bit offset is not an integer or out of range"},
		{"BITFIELD b SET i8 #536870912 1", "ERR: ERR bit offset is not an integer or out of range"},
		{"BITFIELD b SET i64 #9223372036854775807 1", "ERR: ERR bit offset is not an integer or out of range"},
		{"BITFIELD b GET i8 x", "ERR: ERR bit offset is not an integer or out of range"},
		{"BITFIELD b SET i8 0 x", "ERR: ERR value is not an integer or out of range"},
		{"BITFIELD b SET i8 0", "ERR: ERR syntax error"},
		{"BITFIELD b FOO", "ERR: ERR syntax error"},
		{"BITFIELD b OVERFLOW MAYBE", "ERR: ERR Invalid OVERFLOW type specified"},
		{"BITFIELD_RO b SET i8 0 1", "ERR: ERR BITFIELD_RO only supports the GET subcommand"},
		{"BITFIELD_RO b INCRBY i8 0 1 GET i8 x", "ERR: ERR bit offset is not an integer or out of range"},
		{"EXISTS b", "0"},
		{"LPUSH l a", "1"},
		{"BITFIELD l GET i8 0", "ERR: WRONGTYPE Operation against a key holding the wrong kind of value"},
		{"BITFIELD_RO l SET i8 0 1", "ERR: ERR BITFIELD_RO only supports the GET subcommand"},
		{"BITFIELD", "ERR: ERR wrong number of arguments for 'bitfield' command"},
	}},
	{name: "bitfield keeps ttl", onRedis70: true, steps: []step{
		{"SET t a EX 100", "OK"},
		{"BITFIELD t SET u8 8 98", "[0]"},
		{"GET t", "ab"},
		{"TTL t", "100"},
	}},
	{name: "bitop classic", onRedis70: true, steps: []step{
		{"SET a \xf0", "OK"},
		{"BITOP OR d a nokey", "1"},
		{"BITOP NOT d a b", "ERR: ERR BITOP NOT must be called with a single source key."},
		{"BITOP NAND d a", "ERR: ERR syntax error"},
	}},
	{name: "bitop redis 8.2", steps: []step{
		{"SETRANGE x 0 \xe0", "1"},
		{"SETRANGE y 0 \x70", "1"},
		{"SETRANGE z 0 \x38\x01", "2"},
		{"BITOP DIFF d x y z", "2"},
		{"BITFIELD d GET u8 0 GET u8 8", "[128 0]"},
		{"BITOP DIFF1 d x y z", "2"},
		{"BITFIELD d GET u8 0 GET u8 8", "[24 1]"},
		{"BITOP ANDOR d x y z", "2"},
		{"BITFIELD d GET u8 0 GET u8 8", "[96 0]"},
		{"BITOP ONE d x y z", "2"},
		{"BITFIELD d GET u8 0 GET u8 8", "[136 1]"},
		{"BITOP ONE d x", "1"},
		{"BITOP DIFF d x", "ERR: ERR BITOP DIFF must be called with at least two source keys."},
		{"BITOP andor d x", "ERR: ERR BITOP ANDOR must be called with at least two source keys."},
		{"BITOP DIFF d n1 n2", "0"},
		{"EXISTS d", "0"},
		{"LPUSH l a", "1"},
		{"BITOP ONE d x l", "ERR: WRONGTYPE Operation against a key holding the wrong kind of value"},
	}},
}

func TestBitCommands(t *testing.T) {
	runCases(t, bitCases)
}
