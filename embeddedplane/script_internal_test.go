package embeddedplane

import (
	"testing"

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
