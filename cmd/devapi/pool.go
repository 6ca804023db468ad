package main

import (
	"github.com/spf13/cobra"
)

// Files devapi pool cert writes.
const (
	poolCertFile = "redis.crt"
	poolKeyFile  = "redis.key"
	poolCAFile   = "ca.crt"
)

func newPoolCommand(getenv func(string) string) *cobra.Command {
	c := &cobra.Command{
		Use:   "pool",
		Short: "Set up the Redis servers of a --plane pool",
	}
	asGroup(c)
	c.AddCommand(certCommand(getenv, certCommandText{
		use:   "cert --host HOST --out DIR",
		short: "Issue a TLS certificate for pool servers from devapi's CA",
		long: `Issue a TLS certificate and key for Redis servers of the pool, signed by the
CA kept in devapi's store: every replica on the store hands out the same CA
(ca.pem in its data folder), so clients that trust it trust the pool's
servers. Writes redis.crt, redis.key (mode 0600) and ca.crt to DIR, for
redis-server's tls-cert-file, tls-key-file and tls-ca-cert-file; list such a
server in the pool as rediss://.`,
		host: "host name or IP address clients dial the server at (repeat for more)",
		out:  "folder to write redis.crt, redis.key and ca.crt to (created 0700)",
	}, certFiles{poolCertFile, poolKeyFile, poolCAFile}))
	return c
}
