package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/tlsca"
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
			return writePoolCert(cmd.Context(), s, hosts, out, cmd.OutOrStdout(), time.Now())
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

// writePoolCert issues a certificate for hosts from the store's CA and
// writes it, its key and the CA's certificate to dir.
func writePoolCert(ctx context.Context, store devapi.Store, hosts []string, dir string, stdout io.Writer, now time.Time) error {
	ca, err := tlsca.Load(ctx, store, now)
	if err != nil {
		return err
	}
	cfg, err := ca.ServerConfig(hosts, now)
	if err != nil {
		return err
	}
	certPEM, keyPEM, err := tlsca.ServerPEM(cfg)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{{poolCertFile, certPEM, 0o644}, {poolKeyFile, keyPEM, 0o600}, {poolCAFile, ca.CertPEM, 0o644}} {
		if err := writeFileAtomic(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintf(stdout, "wrote %s, %s and %s to %s\n", poolCertFile, poolKeyFile, poolCAFile, dir)
	return err
}
