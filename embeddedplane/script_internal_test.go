package embeddedplane

import (
	"bufio"
	"bytes"
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/alicebob/miniredis/v2/server"
	lua "github.com/yuin/gopher-lua"
)

// TestScriptCacheBounds: SCRIPT LOAD cannot grow the cache past its count
// or its bytes; the oldest scripts go first.
func TestScriptCacheBounds(t *testing.T) {
	c := newScriptCache(3, 10)
	p := &lua.FunctionProto{}
	for _, sha := range []string{"a", "b", "c"} {
		c.put(sha, 4, p) // the third is over 10 bytes: a goes
	}
	if c.get("a") != nil || c.get("b") == nil || c.get("c") == nil || c.bytes != 8 {
		t.Fatalf("after a, b, c of 4 bytes in 10: a=%v b=%v c=%v bytes=%d", c.get("a") != nil, c.get("b") != nil, c.get("c") != nil, c.bytes)
	}
	for _, sha := range []string{"d", "e", "f", "g"} {
		c.put(sha, 1, p)
	}
	if c.order.Len() != 3 || c.get("b") != nil || c.get("g") == nil {
		t.Fatalf("after 4 more: %d scripts, b=%v g=%v", c.order.Len(), c.get("b") != nil, c.get("g") != nil)
	}
	c.flush()
	if c.order.Len() != 0 || c.bytes != 0 || c.get("g") != nil {
		t.Fatalf("after flush: %d scripts, %d bytes", c.order.Len(), c.bytes)
	}
}

// TestBigValuesHeldTogetherMeetTheBudget: values made in one piece, each
// within the memory limit, that a script keeps together are refused once
// they would take the heap past the run's budget, before the value is
// made. The watchdog is off here: between two of its samples a script
// could otherwise grow the heap by a whole value (the attack tests saw the
// process's peak grow by four times the limit).
func TestBigValuesHeldTogetherMeetTheBudget(t *testing.T) {
	const limit = 32 << 20
	m := miniredis.NewMiniRedis()
	t.Cleanup(m.Close)
	s := newScripts(m, scriptConfig{memoryLimit: limit, timeLimit: time.Minute})
	s.sampleEvery = 0
	for _, src := range []string{
		"local t = {} for i = 1, 16 do t[i] = string.rep('x', 8 * 2^20) end return #t",
		"local a = string.rep('x', 8 * 2^20) local t = {} for i = 1, 16 do t[i] = a .. i end return #t",
		"local t = {} for i = 1, 16 do t[i] = table.concat({string.rep('y', 2^22), i, string.rep('z', 2^22)}) end return #t",
	} {
		proto, err := compileScript(src, scriptChunkName)
		if err != nil {
			t.Fatal(err)
		}
		runtime.GC() // the budget starts from the last collection's live heap
		var out bytes.Buffer
		w := bufio.NewWriter(&out)
		s.runGated(server.NewPeer(w), func(ctx context.Context, _ context.CancelCauseFunc, heap *heapBudget) reply {
			return s.execute(ctx, heap, server.NewPeer(w), "sha", proto, nil, nil, false)
		})
		_ = w.Flush()
		if !strings.Contains(out.String(), "Script killed by memory limit") {
			t.Errorf("%s: %q", src, out.String())
		}
	}
}
