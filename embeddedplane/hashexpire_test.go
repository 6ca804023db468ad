package embeddedplane_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/devapi-dev/devapi"
)

// Redis 8's answers (t_hash.c); redis-server 7.0 has none of these
// commands, so only TTL and the HSET/HDEL cases run on it.
var hashExpiryCases = []cmdCase{
	{name: "hexpire and httl", steps: []step{
		{"HSET h a 1 b 2 c 3", "3"},
		{"HEXPIRE h 100 FIELDS 2 a nope", "[1 -2]"},
		{"HTTL h FIELDS 3 a b nope", "[100 -1 -2]"},
		{"HEXPIRE h 50 NX FIELDS 2 a b", "[0 1]"},
		{"HEXPIRE h 10 XX FIELDS 2 a c", "[1 0]"},
		{"HEXPIRE h 5 GT FIELDS 2 a c", "[0 0]"},
		{"HEXPIRE h 500 GT FIELDS 1 a", "[1]"},
		{"HEXPIRE h 60 LT FIELDS 2 a c", "[1 1]"},
		{"HTTL h FIELDS 3 a b c", "[60 50 60]"},
		{"HPERSIST h FIELDS 3 a nope b", "[1 -2 1]"},
		{"HTTL h FIELDS 2 a b", "[-1 -1]"},
		{"HEXPIRE nokey 10 FIELDS 2 a b", "[-2 -2]"},
		{"HTTL nokey FIELDS 1 a", "[-2]"},
	}},
	{name: "past expiry deletes, last field deletes the key", steps: []step{
		{"HSET h a 1 b 2", "2"},
		{"HEXPIRE h 0 FIELDS 1 a", "[2]"},
		{"HGETALL h", "map[b:2]"},
		{"HPEXPIREAT h 1000 FIELDS 1 b", "[2]"},
		{"EXISTS h", "0"},
	}},
	{name: "milliseconds and absolute times", steps: []step{
		{"HSET h a 1", "1"},
		{"HPEXPIREAT h 4102444800123 FIELDS 1 a", "[1]"},
		{"HPEXPIRETIME h FIELDS 1 a", "[4102444800123]"},
		{"HEXPIRETIME h FIELDS 1 a", "[4102444801]"},
		{"HEXPIREAT h 4102444800 FIELDS 1 a", "[1]"},
		{"HPEXPIRETIME h FIELDS 1 a", "[4102444800000]"},
		{"HEXPIRETIME nokey FIELDS 1 a", "[-2]"},
	}},
	{name: "errors", steps: []step{
		{"SET s v", "OK"},
		{"HEXPIRE s 10 FIELDS 1 a", "ERR: WRONGTYPE Operation against a key holding the wrong kind of value"},
		{"HTTL s FIELDS 1 a", "ERR: WRONGTYPE Operation against a key holding the wrong kind of value"},
		{"HSET h a 1", "1"},
		{"HEXPIRE h 10 FIELDS 2 a", "ERR: ERR The `numfields` parameter must match the number of arguments"},
		{"HEXPIRE h 10 FIELDS 0 a", "ERR: ERR Parameter `numFields` should be greater than 0"},
		{"HEXPIRE h 10 FIELDS x a", "ERR: ERR Parameter `numFields` should be greater than 0"},
		{"HEXPIRE h 10 NX XX FIELDS 1 a", "ERR: ERR Mandatory argument FIELDS is missing or not at the right position"},
		{"HEXPIRE h 10 WHAT 1 a", "ERR: ERR Mandatory argument FIELDS is missing or not at the right position"},
		{"HEXPIRE h -1 FIELDS 1 a", "ERR: ERR invalid expire time, must be >= 0"},
		{"HEXPIRE h x FIELDS 1 a", "ERR: ERR value is not an integer or out of range"},
		{"HEXPIRE h 9223372036854775 FIELDS 1 a", "ERR: ERR invalid expire time in 'hexpire' command"},
		{"HPEXPIRE h 70368744177663 FIELDS 1 a", "ERR: ERR invalid expire time in 'hpexpire' command"},
		{"HEXPIRE h 10 FIELDS", "ERR: ERR wrong number of arguments for 'hexpire' command"},
		{"HTTL h FIELDS 0 a", "ERR: ERR Number of fields must be a positive integer"},
		{"HPERSIST h FIELDS 2 a", "ERR: ERR The `numfields` parameter must match the number of arguments"},
		{"HTTL h FIELDS 9223372036854775807 a", "ERR: ERR The `numfields` parameter must match the number of arguments"},
	}},
	{name: "hset and hdel drop a field's ttl", steps: []step{
		{"HSET h a 1 b 2", "2"},
		{"HEXPIRE h 100 FIELDS 2 a b", "[1 1]"},
		{"HSET h a 9", "0"},
		{"HINCRBY h b 1", "3"},
		{"HTTL h FIELDS 2 a b", "[-1 100]"},
		{"HDEL h b", "1"},
		{"HSETNX h b 5", "1"},
		{"HTTL h FIELDS 1 b", "[-1]"},
	}},
	{name: "hgetdel", steps: []step{
		{"HSET h a 1 b 2", "2"},
		{"HGETDEL h FIELDS 2 a nope", "[1 <nil>]"},
		{"HGETALL h", "map[b:2]"},
		{"HGETDEL h FIELDS 1 b", "[2]"},
		{"EXISTS h", "0"},
		{"HGETDEL h FIELDS 1 b", "[<nil>]"},
		{"HGETDEL h FIELD 1 b", "ERR: ERR Mandatory argument FIELDS is missing or not at the right position"},
	}},
	{name: "hgetex", steps: []step{
		{"HSET h a 1 b 2", "2"},
		{"HGETEX h EX 100 FIELDS 2 a nope", "[1 <nil>]"},
		{"HTTL h FIELDS 2 a b", "[100 -1]"},
		{"HGETEX h PERSIST FIELDS 1 a", "[1]"},
		{"HTTL h FIELDS 1 a", "[-1]"},
		{"HGETEX h PXAT 1 FIELDS 1 a", "[1]"},
		{"HGETALL h", "map[b:2]"},
		{"HGETEX h FIELDS 1 b", "[2]"},
		{"HGETEX h EX -1 FIELDS 1 b", "ERR: ERR invalid expire time, must be >= 0"},
		{"HGETEX nokey EX 1 FIELDS 1 b", "[<nil>]"},
	}},
	{name: "hsetex", steps: []step{
		{"HSETEX h EX 100 FIELDS 2 a 1 b 2", "1"},
		{"HTTL h FIELDS 2 a b", "[100 100]"},
		{"HSETEX h FNX FIELDS 1 a 5", "0"},
		{"HSETEX h FXX KEEPTTL FIELDS 1 a 5", "1"},
		{"HTTL h FIELDS 1 a", "[100]"},
		{"HSETEX h FIELDS 1 a 6", "1"},
		{"HTTL h FIELDS 1 a", "[-1]"},
		{"HSETEX nokey FXX FIELDS 1 a 1", "0"},
		{"HSETEX h FNX FXX FIELDS 1 a 1", "ERR: ERR Only one of FXX or FNX arguments can be specified"},
		{"HSETEX h EX 1 PX 1 FIELDS 1 a 1", "ERR: ERR Only one of EX, PX, EXAT, PXAT or KEEPTTL arguments can be specified"},
		{"HSETEX h FIELDS 2 a 1", "ERR: ERR wrong number of arguments for 'hsetex' command"},
		{"HSETEX h FIELDS x a 1", "ERR: ERR invalid number of fields"},
		{"HSETEX h NOPE FIELDS 1 a 1", "ERR: ERR unknown argument: NOPE"},
		{"HMGET h a b", "[6 2]"},
	}},
	{name: "ttl rounds", onRedis70: true, steps: []step{
		{"SET k v EX 60", "OK"},
		{"TTL k", "60"},
		{"SET k v PX 1400", "OK"},
		{"TTL k", "1"},
		{"TTL nokey", "-2"},
		{"SET p v", "OK"},
		{"TTL p", "-1"},
		{"TTL", "ERR: ERR wrong number of arguments for 'ttl' command"},
	}},
	{name: "hset hdel as before", onRedis70: true, steps: []step{
		{"HSET h a 1 b 2", "2"},
		{"HSETNX h a 3", "0"},
		{"HDEL h a nope", "1"},
		{"HMSET h c 3", "OK"},
		{"HGETALL h", "map[b:2 c:3]"},
		{"HSET h a", "ERR: ERR wrong number of arguments for 'hset' command"},
	}},
}

func TestHashFieldExpiry(t *testing.T) {
	runCases(t, hashExpiryCases)
}

// TestHashFieldsReallyExpire waits for a field to expire: HGET, HGETALL,
// HLEN and HSCAN stop seeing it, and the key goes with its last field.
func TestHashFieldsReallyExpire(t *testing.T) {
	_, _, connect := scriptDB(t, devapi.PlaneConfig{})
	c := connect()
	ctx := t.Context()
	if err := c.HSet(ctx, "h", "a", "1", "b", "2").Err(); err != nil {
		t.Fatal(err)
	}
	if got := answer(t, c, "HPEXPIRE", "h", "50", "FIELDS", "1", "a"); got != "[1]" {
		t.Fatal(got)
	}
	if got := answer(t, c, "HPEXPIRE", "h", "300", "FIELDS", "1", "b"); got != "[1]" {
		t.Fatal(got)
	}
	waitFor(t, func() bool { return answer(t, c, "HLEN", "h") == "1" })
	for probe, want := range map[string]string{
		"HGET h a": "nil", "HGETALL h": "map[b:2]", "HSCAN h 0": "[0 [b 2]]", "HEXISTS h a": "0", "HKEYS h": "[b]",
	} {
		if got := answer(t, c, splitCmd(probe)...); got != want {
			t.Errorf("%s after a expired: %s, want %s", probe, got, want)
		}
	}
	waitFor(t, func() bool { return answer(t, c, "EXISTS", "h") == "0" })
}

// waitFor polls cond until it holds, failing after scriptWait.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(scriptWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in " + strconv.Itoa(int(scriptWait.Seconds())) + "s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
