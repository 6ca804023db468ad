package embeddedplane

// BLMPOP, which miniredis lacks (Redis 7.0, t_list.c): LMPOP that waits,
// up to its timeout (0: for ever), until one of its lists has an element.
// It waits as miniredis's own blocking commands do, on miniredis's
// condition variable, which every write broadcasts; the front door lets go
// of the script gate first (blocks, conn.go). Inside MULTI, and from a
// script (luaredis.go), it does not wait, as in Redis.

import (
	"math"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2/server"
)

// listCommands is the family's commands for one database.
func listCommands(in *inside) map[string]server.Cmd {
	return map[string]server.Cmd{"BLMPOP": func(c *server.Peer, _ string, args []string) { blmpop(in, c, args) }}
}

// nullArray reports whether a RESP answer is a null array (RESP2 or RESP3).
func nullArray(answer string) bool { return answer == "*-1\r\n" || answer == "_\r\n" }

// blmpop serves BLMPOP timeout numkeys key... LEFT|RIGHT [COUNT count].
func blmpop(in *inside, c *server.Peer, args []string) {
	if len(args) < 4 {
		wrongArity(c, "blmpop")
		return
	}
	secs, err := strconv.ParseFloat(args[0], 64)
	switch {
	case err != nil || math.IsNaN(secs) || math.IsInf(secs, 0):
		refuseQueued(c, "ERR timeout is not a float or out of range")
		return
	case secs < 0:
		refuseQueued(c, "ERR timeout is negative")
		return
	}
	lmpop := append([]string{"LMPOP"}, args[1:]...)
	if tx := ctxField(c.Ctx, "transaction"); tx.IsValid() && !tx.IsNil() {
		in.run(c, func(x *txn) { x.pass(lmpop...) }) // queued: EXEC does not wait
		return
	}
	var answer string // LMPOP's last answer
	in.block(c, secs, func(x *txn, _ bool) bool {
		answer = x.raw(lmpop...)
		if nullArray(answer) {
			return false
		}
		x.peer.WriteRaw(answer) // the elements, or LMPOP's error
		return true
	}, func(x *txn) { x.peer.WriteRaw(answer) })
}

// block serves a blocking command outside MULTI, as Redis serves a waiting
// client: under miniredis's lock it calls attempt (first is true the first
// time) until attempt answers (true) or the client goes away; between two
// attempts it waits, without the lock, for miniredis's signal that a key
// changed. Once secs have passed (0: never), timedOut answers instead.
func (in *inside) block(c *server.Peer, secs float64, attempt func(x *txn, first bool) bool, timedOut func(x *txn)) {
	var (
		wg      sync.WaitGroup
		done    = make(chan struct{})
		expired bool // under miniredis's lock
	)
	defer wg.Wait()
	defer close(done)
	cond := exposed(reflect.ValueOf(in.m).Elem().FieldByName("signal")).Interface().(*sync.Cond)
	in.run(c, func(x *txn) {
		if secs > 0 {
			wg.Go(func() {
				t := time.NewTimer(time.Duration(secs * float64(time.Second)))
				defer t.Stop()
				select {
				case <-done:
				case <-t.C:
					in.m.Lock()
					expired = true
					cond.Broadcast()
					in.m.Unlock()
				}
			})
		}
		for first := true; ; first = false {
			if c.Closed() {
				return
			}
			if attempt(x, first) {
				return
			}
			if expired {
				timedOut(x)
				return
			}
			cond.Wait() // releases miniredis's lock while it waits
		}
	})
}
