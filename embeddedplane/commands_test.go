package embeddedplane_test

// The commands the embedded plane adds to miniredis (extensions.go), table
// by table: every case runs on the embedded plane, and the cases whose
// commands redis-server 7.0 has run on redis-server too, with the same
// expected answers (skipped without redis-server, failing under CI=true).

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi"
)

// step is one command and its expected answer, as answer writes it.
type step struct {
	cmd  string // split on spaces, or on argSep when it has one (argv)
	want string
}

// argSep separates arguments with spaces in a step's cmd.
const argSep = "\x1f"

// argv writes a command whose arguments may have spaces as a step's cmd.
func argv(args ...string) string { return strings.Join(args, argSep) }

// cmdCase is a sequence of commands on a flushed database.
type cmdCase struct {
	name string
	// onRedis70 runs the case on redis-server 7.0 too: it has every
	// command of the case, with these answers.
	onRedis70 bool
	steps     []step
}

// answer runs one command and writes its answer as text: a value as
// fmt.Sprint writes it, redis.Nil as "nil", an error as "ERR: " and its text.
func answer(tb testing.TB, c *redis.Client, args ...any) string {
	tb.Helper()
	v, err := c.Do(tb.Context(), args...).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return "nil"
	case err != nil:
		var re redis.Error
		if !errors.As(err, &re) {
			tb.Fatalf("%v: %v", args, err)
		}
		return "ERR: " + err.Error()
	}
	return fmt.Sprint(v)
}

func splitCmd(s string) []any {
	fields := strings.Fields(s)
	if strings.Contains(s, argSep) {
		fields = strings.Split(s, argSep)
	}
	var args []any
	for _, f := range fields {
		args = append(args, f)
	}
	return args
}

// runCases runs every case on the embedded plane, then the redis-server
// 7.0 ones on redis-server.
func runCases(t *testing.T, cases []cmdCase) {
	t.Helper()
	_, _, connect := scriptDB(t, devapi.PlaneConfig{})
	emb := connect()
	play := func(t *testing.T, c *redis.Client, tc cmdCase) {
		t.Helper()
		if err := c.FlushAll(t.Context()).Err(); err != nil {
			t.Fatal(err)
		}
		if err := c.FunctionFlush(t.Context()).Err(); err != nil {
			t.Fatal(err)
		}
		for _, s := range tc.steps {
			args := splitCmd(s.cmd)
			if got := answer(t, c, args...); got != s.want {
				t.Errorf("%q\n got %s\nwant %s", args, got, s.want)
			}
		}
	}
	for _, tc := range cases {
		t.Run("embedded/"+tc.name, func(t *testing.T) { play(t, emb, tc) })
	}
	need := false
	for _, tc := range cases {
		need = need || tc.onRedis70
	}
	if !need {
		return
	}
	t.Run("redis-server", func(t *testing.T) {
		real := realRedis(t)
		for _, tc := range cases {
			if tc.onRedis70 {
				t.Run(tc.name, func(t *testing.T) { play(t, real, tc) })
			}
		}
	})
}

// TestAddedCommandsInMultiAndScripts: an added or replaced command queues
// inside MULTI and answers inside EXEC's array, a wrong number of
// arguments aborts EXEC, and a script reaches the commands through
// redis.call, on the database the caller selected.
func TestAddedCommandsInMultiAndScripts(t *testing.T) {
	_, _, connect := scriptDB(t, devapi.PlaneConfig{})
	c := connect()
	ctx := t.Context()
	cmds, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, "h", "a", "1")
		p.Do(ctx, "HEXPIRE", "h", "100", "FIELDS", "1", "a")
		p.Do(ctx, "HTTL", "h", "FIELDS", "1", "a")
		p.Set(ctx, "k", "v", time.Minute)
		p.TTL(ctx, "k")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"1", "[1]", "[100]", "OK", "1m0s"} {
		if s := fmt.Sprint(cmds[i]); !strings.HasSuffix(s, ": "+want) {
			t.Errorf("in MULTI, %s: want %s", s, want)
		}
	}

	pipe := c.TxPipeline()
	pipe.Do(ctx, "HTTL", "h")
	pipe.Set(ctx, "x", "1", 0)
	if _, err := pipe.Exec(ctx); err == nil || !strings.Contains(err.Error(), "EXECABORT") {
		t.Errorf("EXEC after a wrong HTTL: %v", err)
	}
	if got := answer(t, c, "EXISTS", "x"); got != "0" {
		t.Errorf("x set by an aborted EXEC: %s", got)
	}

	if got := eval(t, c, "redis.call('SELECT', 3) redis.call('HSET', 'h3', 'a', '1') return redis.call('HEXPIRE', 'h3', 100, 'FIELDS', 1, 'a')", nil); got != "[1]" {
		t.Errorf("HEXPIRE in a script: %s", got)
	}
	if got := answer(t, c, "HTTL", "h3", "FIELDS", "1", "a"); got != "[-2]" {
		t.Errorf("h3 in db 0: %s", got)
	}
	c3 := connect()
	if err := c3.Do(ctx, "SELECT", "3").Err(); err != nil {
		t.Fatal(err)
	}
	if got := answer(t, c3, "HTTL", "h3", "FIELDS", "1", "a"); got != "[100]" {
		t.Errorf("h3 in db 3: %s", got)
	}
}
