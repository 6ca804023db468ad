package embeddedplane

import (
	"bufio"
	"io"
	"strconv"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/alicebob/miniredis/v2/server"
)

// BenchmarkJSONGuard runs LPUSH and LRANGE (of a 100-element list) through
// the database's guarded handler and through miniredis's own, in process
// (no network): the difference is what the guard costs a list command.
func BenchmarkJSONGuard(b *testing.B) {
	m := miniredis.NewMiniRedis()
	m.ClockTTL(true)
	pipe, err := m.Dial()
	if err != nil {
		b.Fatal(err)
	}
	_ = pipe.Close()
	b.Cleanup(m.Close)
	before := newInside(m) // miniredis's own handlers
	if err := addCommands(m); err != nil {
		b.Fatal(err)
	}
	after := newInside(m) // the database's, guarded
	peer := server.NewPeer(bufio.NewWriter(io.Discard))
	for i := range 100 {
		m.RPush("l", strconv.Itoa(i))
	}
	for _, tc := range []struct {
		name string
		in   *inside
	}{{"miniredis", before}, {"guarded", after}} {
		lpush, _ := tc.in.handler("LPUSH")
		lrange, _ := tc.in.handler("LRANGE")
		del, _ := tc.in.handler("DEL")
		b.Run("LPUSH/"+tc.name, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if n++; n%10 == 0 {
					del(peer, "DEL", []string{"p"}) // a list that grows is miniredis's cost, not the guard's
				}
				lpush(peer, "LPUSH", []string{"p", "x"})
			}
		})
		b.Run("LRANGE/"+tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				lrange(peer, "LRANGE", []string{"l", "0", "-1"})
			}
		})
	}
}
