package embeddedplane_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi"
)

const (
	wrongType = "ERR: WRONGTYPE Operation against a key holding the wrong kind of value"
	guardDoc  = `{"a":[1,2],"b":"x"}`
)

// jsonAsList is every way of acting on the JSON key j as a list; l is a
// list [a b]. noScript: Redis refuses the command in a script.
var jsonAsList = []struct {
	cmd      string
	noScript bool
}{
	{cmd: "LPUSH j x"}, {cmd: "RPUSH j x y"}, {cmd: "LPUSHX j x"}, {cmd: "RPUSHX j x"},
	{cmd: "LPOP j"}, {cmd: "RPOP j"}, {cmd: "LPOP j 5"},
	{cmd: "LRANGE j 0 -1"}, {cmd: "LINDEX j 0"}, {cmd: "LLEN j"}, {cmd: "LSET j 0 x"},
	{cmd: "LTRIM j 1 0"}, {cmd: "LREM j 0 x"}, {cmd: "LINSERT j BEFORE x y"}, {cmd: "LPOS j x"},
	{cmd: "RPOPLPUSH j l"}, {cmd: "RPOPLPUSH l j"},
	{cmd: "LMOVE j l LEFT RIGHT"}, {cmd: "LMOVE l j RIGHT LEFT"},
	{cmd: "LMPOP 1 j LEFT"}, {cmd: "LMPOP 3 nokey j l RIGHT COUNT 2"},
	{cmd: "SORT j"}, {cmd: "SORT_RO j ALPHA"}, {cmd: "SORT j ALPHA STORE dst"},
	{cmd: "BLPOP j 0", noScript: true}, {cmd: "BRPOP nokey j l 0", noScript: true},
	{cmd: "BRPOPLPUSH j l 0", noScript: true}, {cmd: "BRPOPLPUSH l j 0", noScript: true},
	{cmd: "BLMOVE j l LEFT RIGHT 0", noScript: true}, {cmd: "BLMOVE l j RIGHT LEFT 0.5", noScript: true},
	{cmd: "BLMPOP 0 1 j LEFT"}, {cmd: "BLMPOP 0.5 2 nokey j RIGHT COUNT 3"},
	// DUMP answers WRONGTYPE for every type but strings on this plane
	// (jsonguard.go); pinned here so that the choice stays.
	{cmd: "DUMP j"},
}

// guardSetup makes j a JSON key and l the list [a b] on a flushed database.
func guardSetup(t *testing.T, c *redis.Client) {
	t.Helper()
	if err := c.FlushAll(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	for _, s := range []step{{`JSON.SET j $ ` + guardDoc, "OK"}, {"RPUSH l a b", "2"}} {
		if got := answer(t, c, splitCmd(s.cmd)...); got != s.want {
			t.Fatalf("%s: %s", s.cmd, got)
		}
	}
}

// guardUnchanged checks that j and l are as guardSetup left them.
func guardUnchanged(t *testing.T, c *redis.Client, after string) {
	t.Helper()
	for _, s := range []step{
		{"JSON.GET j", guardDoc}, {"TYPE j", "ReJSON-RL"}, {"LRANGE l 0 -1", "[a b]"}, {"EXISTS dst", "0"},
	} {
		if got := answer(t, c, splitCmd(s.cmd)...); got != s.want {
			t.Errorf("after %s: %s answers %s, want %s", after, s.cmd, got, s.want)
		}
	}
}

// blockingCases: the blocking pops, which wait in the guard (jsonguard.go),
// answer as redis-server 7.0's.
var blockingCases = []cmdCase{
	{name: "blocking pops", onRedis70: true, steps: []step{
		{"RPUSH l a b c", "3"},
		{"BLPOP nokey l 0", "[l a]"},
		{"BRPOP nokey l 1", "[l c]"},
		{"BLMOVE l d RIGHT LEFT 0", "b"},
		{"BRPOPLPUSH d l 0", "b"},
		{"BLPOP nokey 0.05", "nil"},
		{"BLMOVE nokey d LEFT LEFT 0.05", "nil"},
		{"BRPOPLPUSH nokey d 0.05", "nil"},
		{"SET s v", "OK"},
		{"BLPOP s 0", wrongType},
		{"BLPOP nokey s l 0", wrongType},
		{"BLPOP l s 0", "[l b]"},
		{"RPUSH l b", "1"},
		{"BLMOVE l s LEFT LEFT 0", wrongType},
		{"BLMOVE nokey s LEFT LEFT 0.05", "nil"},
		{"BRPOPLPUSH s l 0", wrongType},
		{"BLMOVE l d UP LEFT 0", "ERR: ERR syntax error"},
		{"LLEN l", "1"},
		{"BLPOP l", "ERR: ERR wrong number of arguments for 'blpop' command"},
	}},
}

func TestBlockingPops(t *testing.T) {
	runCases(t, blockingCases)
}

// TestBlockingPopsInMulti: inside MULTI a blocking pop tries once at EXEC
// and does not wait, as in Redis.
func TestBlockingPopsInMulti(t *testing.T) {
	_, _, connect := scriptDB(t, devapi.PlaneConfig{})
	c := connect()
	ctx := t.Context()
	cmds, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Do(ctx, "BLPOP", "l", "0")
		p.RPush(ctx, "l", "a", "b")
		p.Do(ctx, "BLMOVE", "l", "d", "LEFT", "LEFT", "0")
		p.Do(ctx, "BRPOP", "l", "0")
		p.Do(ctx, "BRPOPLPUSH", "l", "d", "0")
		return nil
	})
	if !errors.Is(err, redis.Nil) {
		t.Fatal(err)
	}
	var got []string
	for _, cmd := range cmds {
		got = append(got, fmt.Sprint(cmd))
	}
	want := "[BLPOP l 0: redis: nil rpush l a b: 2 BLMOVE l d LEFT LEFT 0: a BRPOP l 0: [l b] BRPOPLPUSH l d 0: redis: nil]"
	if fmt.Sprint(got) != want {
		t.Errorf("EXEC answered\n%v\nwant\n%s", got, want)
	}
}

// TestJSONKeyIsNotAList: every list command that would act on a JSON key
// answers WRONGTYPE and changes nothing, from TCP, inside MULTI (in EXEC's
// array) and from a script's redis.pcall.
func TestJSONKeyIsNotAList(t *testing.T) {
	_, _, connect := scriptDB(t, devapi.PlaneConfig{})
	c := connect()
	for _, tc := range jsonAsList {
		t.Run(tc.cmd, func(t *testing.T) {
			guardSetup(t, c)
			if got := answer(t, c, splitCmd(tc.cmd)...); got != wrongType {
				t.Errorf("%s: %s", tc.cmd, got)
			}
			guardUnchanged(t, c, tc.cmd)

			guardSetup(t, c)
			ctx := t.Context()
			cmds, _ := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Do(ctx, splitCmd(tc.cmd)...)
				p.Ping(ctx)
				return nil
			})
			if len(cmds) != 2 || cmds[0].Err() == nil || "ERR: "+cmds[0].Err().Error() != wrongType || cmds[1].Err() != nil {
				t.Errorf("in MULTI, %s: %v", tc.cmd, cmds)
			}
			guardUnchanged(t, c, "MULTI "+tc.cmd)

			if tc.noScript {
				return
			}
			guardSetup(t, c)
			var quoted []string
			for _, a := range splitCmd(tc.cmd) {
				quoted = append(quoted, "'"+a.(string)+"'")
			}
			if got := eval(t, c, "return redis.pcall("+strings.Join(quoted, ", ")+")", nil); got != wrongType {
				t.Errorf("from a script, %s: %s", tc.cmd, got)
			}
			guardUnchanged(t, c, "a script's "+tc.cmd)
		})
	}
}

// TestListCommandsPastJSONKeys: a pop over several keys serves the first
// list before a JSON key as Redis does (it never looks further), a move
// from a missing source answers nil whatever the destination holds, and
// SCAN's TYPE tells JSON keys (ReJSON-RL, any case) from lists.
func TestListCommandsPastJSONKeys(t *testing.T) {
	_, _, connect := scriptDB(t, devapi.PlaneConfig{})
	c := connect()
	guardSetup(t, c)
	for _, s := range []step{
		{"LMPOP 2 l j LEFT", "[l [a]]"},
		{"BLPOP nokey l j 0", "[l b]"},
		{"RPUSH l a b", "2"},
		{"BRPOP l j 0", "[l b]"},
		{"RPOPLPUSH nokey j", "nil"},
		{"LMOVE nokey j LEFT LEFT", "nil"},
		{"BLMPOP 0 2 l j LEFT", "[l [a]]"},
		{"RPUSH l a b", "2"},
		{"SCAN 0 TYPE list", "[0 [l]]"},
		{"SCAN 0 TYPE ReJSON-RL", "[0 [j]]"},
		{"SCAN 0 MATCH * COUNT 10 type rejson-rl", "[0 [j]]"},
		{"SCAN 0 TYPE string", "[0 []]"},
		{"SCAN 0", "[0 [j l]]"},
		{"SCAN 0 TYPE", "ERR: ERR syntax error"},
		{"LLEN l", "2"},
		{"LPUSH x 1", "1"},
		{"LRANGE x 0 -1", "[1]"},
	} {
		if got := answer(t, c, splitCmd(s.cmd)...); got != s.want {
			t.Errorf("%s: %s, want %s", s.cmd, got, s.want)
		}
	}
	if got := answer(t, c, "JSON.GET", "j"); got != guardDoc {
		t.Errorf("j: %s", got)
	}
}

// TestBlockingPopKeepsWaitingOverOtherTypes: a key of another type created
// while BLPOP waits on its name does not end the wait (Redis serves a
// waiting pop from a list only), neither a JSON key on the embedded plane
// nor a string on both planes; the list pushed after it is served.
func TestBlockingPopKeepsWaitingOverOtherTypes(t *testing.T) {
	_, _, connect := scriptDB(t, devapi.PlaneConfig{})
	waitOver := func(t *testing.T, waiter, other *redis.Client, create, check step) {
		t.Helper()
		ctx := t.Context()
		if err := other.FlushAll(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		got := make(chan string, 1)
		go func() {
			// mark tells that the waiter's connection is at the BLPOP.
			cmds, _ := waiter.Pipelined(context.Background(), func(p redis.Pipeliner) error {
				p.RPush(context.Background(), "mark", "1")
				p.Do(context.Background(), "BLPOP", "k", "0")
				return nil
			})
			v, err := cmds[1].(*redis.Cmd).Result()
			switch {
			case err != nil:
				got <- "ERR: " + err.Error()
			default:
				got <- fmt.Sprint(v)
			}
		}()
		deadline := time.Now().Add(scriptWait)
		for answer(t, other, "EXISTS", "mark") != "1" {
			if time.Now().After(deadline) {
				t.Fatal("the waiter never ran")
			}
			time.Sleep(time.Millisecond)
		}
		// The BLPOP comes right after mark on its connection; a moment
		// for it to start waiting (it answers WRONGTYPE otherwise).
		select {
		case g := <-got:
			t.Fatalf("BLPOP on a missing key answered %s", g)
		case <-time.After(100 * time.Millisecond):
		}
		if a := answer(t, other, splitCmd(create.cmd)...); a != create.want {
			t.Fatalf("%s: %s", create.cmd, a)
		}
		if a := answer(t, other, splitCmd(check.cmd)...); a != check.want {
			t.Errorf("%s while BLPOP waits: %s", check.cmd, a)
		}
		for _, s := range []step{{"DEL k", "1"}, {"RPUSH k v", "1"}} {
			if a := answer(t, other, splitCmd(s.cmd)...); a != s.want {
				t.Fatalf("%s: %s", s.cmd, a)
			}
		}
		select {
		case g := <-got:
			if g != "[k v]" {
				t.Errorf("BLPOP answered %s, want [k v]", g)
			}
		case <-time.After(scriptWait):
			t.Fatal("BLPOP did not answer after the push")
		}
	}
	jsonSet := step{`JSON.SET k $ ` + guardDoc, "OK"}
	t.Run("embedded/json", func(t *testing.T) {
		waitOver(t, connect(), connect(), jsonSet, step{"JSON.GET k", guardDoc})
	})
	set := step{"SET k s", "OK"}
	t.Run("embedded/string", func(t *testing.T) {
		waitOver(t, connect(), connect(), set, step{"GET k", "s"})
	})
	t.Run("redis-server/string", func(t *testing.T) {
		real := realRedis(t)
		other := scriptClient(t, portOf(t, real))
		waitOver(t, real, other, set, step{"GET k", "s"})
	})
}

// portOf is the port a client connects to.
func portOf(t *testing.T, c *redis.Client) int {
	t.Helper()
	var port int
	if _, err := fmt.Sscanf(c.Options().Addr[strings.LastIndex(c.Options().Addr, ":")+1:], "%d", &port); err != nil {
		t.Fatal(err)
	}
	return port
}

// TestBlockingPopOnJSONKeyAnswersAtOnce: BLPOP with no timeout on a JSON
// key that exists answers WRONGTYPE at once instead of waiting.
func TestBlockingPopOnJSONKeyAnswersAtOnce(t *testing.T) {
	_, _, connect := scriptDB(t, devapi.PlaneConfig{})
	c := connect()
	guardSetup(t, c)
	got := make(chan string, 1)
	go func() {
		_, err := c.Do(context.Background(), "BLPOP", "j", "0").Result()
		if err == nil || errors.Is(err, redis.Nil) {
			got <- fmt.Sprint(err)
			return
		}
		got <- "ERR: " + err.Error()
	}()
	select {
	case g := <-got:
		if g != wrongType {
			t.Errorf("BLPOP j 0: %s", g)
		}
	case <-time.After(scriptWait):
		t.Fatal("BLPOP on a JSON key waited")
	}
}
