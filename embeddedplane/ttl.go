package embeddedplane

// TTL as Redis answers it. miniredis truncates what is left of a key's TTL
// to whole seconds, so a fresh SET k v EX 60 has a TTL of 59 a moment
// later; Redis rounds to the nearest second ((ms+500)/1000, ttlGenericCommand
// in expire.c), which says 60.

import (
	"github.com/alicebob/miniredis/v2/server"
)

// keyTTLCommands is the family's commands for one database: TTL, replacing
// miniredis's.
func keyTTLCommands(in *inside) map[string]server.Cmd {
	return map[string]server.Cmd{
		"TTL": func(c *server.Peer, _ string, args []string) {
			if len(args) != 1 {
				wrongArity(c, "ttl")
				return
			}
			in.run(c, func(x *txn) {
				v, err := x.call("PTTL", args[0])
				ms, ok := v.(int)
				switch {
				case err != nil:
					x.peer.WriteError(err.Error())
				case !ok:
					x.peer.WriteError("ERR internal error")
				case ms < 0:
					x.peer.WriteInt(ms)
				default:
					x.peer.WriteInt((ms + 500) / 1000)
				}
			})
		},
	}
}
