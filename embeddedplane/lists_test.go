package embeddedplane_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi"
)

// BLMPOP is redis-server 7.0's: the cases run on it too.
var listCases = []cmdCase{
	{name: "blmpop", onRedis70: true, steps: []step{
		{"RPUSH l1 a b c", "3"},
		{"BLMPOP 0 2 nokey l1 LEFT COUNT 2", "[l1 [a b]]"},
		{"BLMPOP 1 1 l1 RIGHT", "[l1 [c]]"},
		{"BLMPOP 0.05 1 l1 LEFT", "nil"},
		{"BLMPOP x 1 l1 LEFT", "ERR: ERR timeout is not a float or out of range"},
		{"BLMPOP -1 1 l1 LEFT", "ERR: ERR timeout is negative"},
		{"BLMPOP 0 0 l1 LEFT", "ERR: ERR numkeys should be greater than 0"},
		{"BLMPOP 0 1 l1 UP", "ERR: ERR syntax error"},
		{"BLMPOP 0 1 l1", "ERR: ERR wrong number of arguments for 'blmpop' command"},
		{"SET s v", "OK"},
		{"BLMPOP 0 1 s LEFT", "ERR: WRONGTYPE Operation against a key holding the wrong kind of value"},
		{argv("EVAL", "return redis.call('BLMPOP', 0, 1, KEYS[1], 'LEFT')", "1", "nokey"), "nil"},
	}},
}

func TestListCommands(t *testing.T) {
	runCases(t, listCases)
}

// TestBLMPOPWaits: a BLMPOP on empty lists waits for another client's
// RPUSH, and answers as soon as it comes; one with a timeout answers nil
// when the time is up while other clients are served meanwhile.
func TestBLMPOPWaits(t *testing.T) {
	_, _, connect := scriptDB(t, devapi.PlaneConfig{})
	waiter, pusher := connect(), connect()
	// wait runs a BLMPOP on its own goroutine; its answer comes on the
	// channel (the goroutine ends with the command, the client's read
	// timeout bounding it).
	wait := func(args ...any) <-chan string {
		got := make(chan string, 1)
		go func() {
			v, err := waiter.Do(context.Background(), args...).Result()
			switch {
			case errors.Is(err, redis.Nil):
				got <- "nil"
			case err != nil:
				got <- "ERR: " + err.Error()
			default:
				got <- fmt.Sprint(v)
			}
		}()
		return got
	}
	got := wait("BLMPOP", "0", "2", "a", "b", "RIGHT")
	// Nothing to pop: no answer yet (the absence is what is checked, for
	// a moment), then one push wakes it.
	select {
	case g := <-got:
		t.Fatalf("BLMPOP on empty lists answered %s", g)
	case <-time.After(100 * time.Millisecond):
	}
	if n := answer(t, pusher, "RPUSH", "b", "x", "y"); n != "2" {
		t.Fatal(n)
	}
	select {
	case g := <-got:
		if g != "[b [y]]" {
			t.Fatalf("BLMPOP answered %s", g)
		}
	case <-time.After(scriptWait):
		t.Fatal("BLMPOP did not answer after a push")
	}

	got = wait("BLMPOP", "0.2", "1", "c", "LEFT")
	if p := answer(t, pusher, "PING"); p != "PONG" {
		t.Fatalf("PING while a BLMPOP waits: %s", p)
	}
	select {
	case g := <-got:
		if g != "nil" {
			t.Fatalf("BLMPOP with a timeout answered %s", g)
		}
	case <-time.After(scriptWait):
		t.Fatal("BLMPOP with a timeout of 0.2 s did not answer")
	}
}
