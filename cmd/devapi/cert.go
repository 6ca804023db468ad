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
	"github.com/devapi-dev/devapi/internal/tlsca"
)

// Files devapi cert writes.
const (
	certFile   = "cert.pem"
	certKey    = "key.pem"
	certCAFile = "ca.pem"
)

func newCertCommand(getenv func(string) string) *cobra.Command {
	return certCommand(getenv, certCommandText{
		use:   "cert --host NAME --out DIR",
		short: "Issue a TLS server certificate from devapi's CA",
		long: `Issue a TLS server certificate and key for the given host names (or IP
addresses), signed by the CA kept in devapi's store, the one whose
certificate is ca.pem in the data folder. Writes cert.pem, key.pem (mode
0600) and ca.pem to DIR.

It serves the hosts-file route, for tools that cannot use devapi serve
--proxy-addr (Node older than 22.21): map api.upstash.com to 127.0.0.1 in
/etc/hosts, then

  devapi cert --host api.upstash.com --out DIR
  devapi serve --addr 127.0.0.1:443 --tls-cert DIR/cert.pem --tls-key DIR/key.pem

and make the tools trust DIR/ca.pem (NODE_EXTRA_CA_CERTS).`,
		host: "host name or IP address the certificate is for (repeat for more)",
		out:  "folder to write cert.pem, key.pem and ca.pem to (created 0700)",
	}, certFiles{certFile, certKey, certCAFile})
}

// certCommandText is what `devapi cert` and `devapi pool cert` say.
type certCommandText struct{ use, short, long, host, out string }

// certCommand is a command that issues a certificate from the CA in
// devapi's store (writeCert) into the files named by files.
func certCommand(getenv func(string) string, text certCommandText, files certFiles) *cobra.Command {
	var (
		data  string
		store storeFlags
		hosts []string
		out   string
	)
	c := &cobra.Command{
		Use:   text.use,
		Short: text.short,
		Long:  text.long,
		Args:  noArgs,
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
			return writeCert(cmd.Context(), s, hosts, out, files, cmd.OutOrStdout(), time.Now())
		},
	}
	f := c.Flags()
	f.StringVar(&data, "data", defaultDataDir(getenv), "devapi's data folder (for the default SQLite store)")
	store.register(f)
	f.StringSliceVar(&hosts, "host", nil, text.host)
	f.StringVar(&out, "out", "", text.out)
	required(c, "host", "out")
	return c
}

// certFiles names the files writeCert writes: `devapi cert` and `devapi
// pool cert` name them for different servers.
type certFiles struct{ cert, key, ca string }

// writeCert issues a certificate for hosts from the store's CA and writes
// it, its key and the CA's certificate to dir, under names.
func writeCert(ctx context.Context, store devapi.Store, hosts []string, dir string, names certFiles, stdout io.Writer, now time.Time) error {
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
	}{{names.cert, certPEM, 0o644}, {names.key, keyPEM, 0o600}, {names.ca, ca.CertPEM, 0o644}} {
		if err := writeFileAtomic(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintf(stdout, "wrote %s, %s and %s to %s\n", names.cert, names.key, names.ca, dir)
	return err
}
