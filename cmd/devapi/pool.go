package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

// Files devapi pool cert writes.
const (
	poolCertFile = "redis.crt"
	poolKeyFile  = "redis.key"
	poolCAFile   = "ca.crt"
)

func newPoolCommand(getenv func(string) string) *cobra.Command {
	var (
		data  string
		store storeFlags
		hosts []string
		out   string
	)
	c := &cobra.Command{
		Use:   "pool",
		Short: "Set up the Redis servers of a --plane pool",
	}
	asGroup(c)
	cert := &cobra.Command{
		Use:   "cert --host HOST --out DIR",
		Short: "Issue a TLS certificate for pool servers from devapi's CA",
		Long: `Issue a TLS certificate and key for Redis servers of the pool, signed by the
CA kept in devapi's store: every replica on the store hands out the same CA
(ca.pem in its data folder), so clients that trust it trust the pool's
servers. Writes redis.crt, redis.key (mode 0600) and ca.crt to DIR, for
redis-server's tls-cert-file, tls-key-file and tls-ca-cert-file; list such a
server in the pool as rediss://.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			storeURL, err := store.resolve(getenv)
			if err != nil {
				return err
			}
			if err := makeDataDir(data); err != nil {
				return err
			}
			s, _, err := openStore(cmd.Context(), storeURL, data)
			if err != nil {
				return fmt.Errorf("open store: %w", err)
			}
			defer func() { _ = s.Close() }()
			return writeCert(cmd.Context(), s, hosts, out, certFiles{poolCertFile, poolKeyFile, poolCAFile}, cmd.OutOrStdout(), time.Now())
		},
	}
	f := cert.Flags()
	f.StringVar(&data, "data", defaultDataDir(getenv), "devapi's data folder (for the default SQLite store)")
	store.register(f)
	f.StringSliceVar(&hosts, "host", nil, "host name or IP address clients dial the server at (repeat for more)")
	f.StringVar(&out, "out", "", "folder to write redis.crt, redis.key and ca.crt to (created 0700)")
	required(cert, "host", "out")
	c.AddCommand(cert)
	return c
}
