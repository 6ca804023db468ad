package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// caBundleFile is the file in the data folder that devapi env writes for
// SSL_CERT_FILE: the system's roots followed by devapi's CA.
const caBundleFile = "ca-bundle.pem"

// Environment variables devapi env prints besides the account's.
const (
	envHTTPSProxy  = "HTTPS_PROXY"
	envNoProxy     = "NO_PROXY"
	envSSLCertFile = "SSL_CERT_FILE"
	// envCurlCABundle: curl reads its CA file from here, not SSL_CERT_FILE.
	envCurlCABundle  = "CURL_CA_BUNDLE"
	envNodeExtraCA   = "NODE_EXTRA_CA_CERTS"
	envNodeUseProxy  = "NODE_USE_ENV_PROXY"
	shellSh          = "sh"
	shellFish        = "fish"
	shellPowerShell  = "powershell"
	envCommandShells = shellSh + ", " + shellFish + " or " + shellPowerShell
)

// loopbackHosts are put in NO_PROXY.
var loopbackHosts = []string{"localhost", "127.0.0.1", "::1"}

// systemRootFiles are the files the system's root certificates are kept in,
// the ones Go's crypto/x509 reads on Linux and the BSDs, first found wins.
var systemRootFiles = []string{
	"/etc/ssl/certs/ca-certificates.crt",                // Debian, Ubuntu, Gentoo, Arch
	"/etc/pki/tls/certs/ca-bundle.crt",                  // Fedora, RHEL 6
	"/etc/ssl/ca-bundle.pem",                            // openSUSE
	"/etc/pki/tls/cacert.pem",                           // OpenELEC
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // CentOS, RHEL 7
	"/etc/ssl/cert.pem",                                 // Alpine, macOS, the BSDs
	"/usr/local/etc/ssl/cert.pem",                       // FreeBSD
}

func newEnvCommand(getenv func(string) string) *cobra.Command {
	var data, shell string
	c := &cobra.Command{
		Use:   "env [--data DIR] [--shell sh|fish|powershell]",
		Short: "Print the environment that points unchanged Upstash tools at a running devapi serve",
		Long: `Print the environment that points Upstash's own tools (Terraform, Pulumi,
@upstash/cli, @upstash/mcp-server) and the devapi CLI at the devapi serve
running on the data folder. Use it as:

  sh, bash, zsh:  eval "$(devapi env)"
  fish:           devapi env --shell fish | source
  PowerShell:     devapi env --shell powershell | Invoke-Expression

It sets UPSTASH_EMAIL and UPSTASH_API_KEY (from the data folder's
credentials file), DEVAPI_API_URL (the devapi CLI's API), HTTPS_PROXY
(when serve runs with --proxy-addr) with NO_PROXY keeping loopback direct,
SSL_CERT_FILE (ca-bundle.pem, which it writes to the data folder: the
system's roots and devapi's CA, for Go tools; CURL_CA_BUNDLE names it
for curl), NODE_EXTRA_CA_CERTS
(ca.pem) and NODE_USE_ENV_PROXY=1 (Node 22.21 and 24 use HTTPS_PROXY with
it).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runEnv(data, shell, getenv, cmd.OutOrStdout())
		},
	}
	f := c.Flags()
	f.StringVar(&data, "data", defaultDataDir(getenv), "the data folder of the devapi serve to use")
	f.StringVar(&shell, "shell", shellSh, "print for this shell: "+envCommandShells)
	return c
}

// envVar is one variable devapi env prints.
type envVar struct{ name, value string }

func runEnv(data, shell string, getenv func(string) string, stdout io.Writer) error {
	quote, ok := shellQuoters[shell]
	if !ok {
		return usageError{fmt.Errorf("--shell must be %s, not %q", envCommandShells, shell)}
	}
	rec, err := readServeRecord(data)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no devapi serve runs on %s (it records its addresses in %s while it runs): start one, or pass its --data (%w)", data, serveRecordFile, err)
	}
	if err != nil {
		return err
	}
	caFile := filepath.Join(data, "ca.pem")
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return fmt.Errorf("devapi's CA: %w", err)
	}
	bundle := filepath.Join(data, caBundleFile)
	roots, rootsFrom := systemRoots(getenv, bundle)
	if err := writeFileAtomic(bundle, append(append(roots, '\n'), caPEM...), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", bundle, err)
	}

	var lines []string
	email, key, err := readCredentialsFile(filepath.Join(data, "credentials"))
	switch {
	case err == nil:
	case errors.Is(err, os.ErrNotExist):
		lines = append(lines, fmt.Sprintf("# serve took its account from its environment (%s, %s): set those two yourself", envEmail, envAPIKey))
	default:
		return err
	}
	if rootsFrom == "" {
		lines = append(lines, "# no file of system root certificates found: "+caBundleFile+" holds devapi's CA only")
	}
	var vars []envVar
	if email != "" {
		vars = append(vars, envVar{envEmail, email}, envVar{envAPIKey, key})
	}
	vars = append(vars, envVar{envAPIURL, rec.API})
	if rec.Proxy != "" {
		// Loopback stays direct: the API and the REST API answer there.
		noProxy := getenv(envNoProxy)
		for _, h := range loopbackHosts {
			if !slices.Contains(strings.Split(noProxy, ","), h) {
				noProxy = strings.TrimPrefix(noProxy+","+h, ",")
			}
		}
		vars = append(vars, envVar{envHTTPSProxy, rec.Proxy}, envVar{envNoProxy, noProxy}, envVar{envNodeUseProxy, "1"})
	} else {
		lines = append(lines, "# serve runs without --proxy-addr: tools that hard-code https://api.upstash.com will not reach it")
	}
	vars = append(vars, envVar{envSSLCertFile, bundle}, envVar{envCurlCABundle, bundle}, envVar{envNodeExtraCA, caFile})
	for _, v := range vars {
		lines = append(lines, quote(v.name, v.value))
	}
	_, err = io.WriteString(stdout, strings.Join(lines, "\n")+"\n")
	return err
}

// systemRoots returns the system's root certificates in PEM and the file
// they came from: $SSL_CERT_FILE unless it names devapi's own bundle, else
// the first of systemRootFiles that exists. None found: nil, "".
func systemRoots(getenv func(string) string, bundle string) ([]byte, string) {
	files := systemRootFiles
	if f := getenv(envSSLCertFile); f != "" && filepath.Clean(f) != filepath.Clean(bundle) {
		files = append([]string{f}, files...)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil && bytes.Contains(b, []byte("-----BEGIN CERTIFICATE-----")) {
			return bytes.TrimRight(b, "\n"), f
		}
	}
	return nil, ""
}

// shellQuoters print an assignment of an exported variable for each shell,
// the value quoted so that the shell reads it back unchanged.
var shellQuoters = map[string]func(name, value string) string{
	shellSh: func(name, value string) string {
		return "export " + name + "='" + strings.ReplaceAll(value, "'", `'\''`) + "'"
	},
	shellFish: func(name, value string) string {
		r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
		return "set -gx " + name + " '" + r.Replace(value) + "'"
	},
	shellPowerShell: func(name, value string) string {
		// PowerShell's single quotes end at any of the Unicode single
		// quotation marks; doubling one keeps it.
		r := strings.NewReplacer("'", "''", "\u2018", "\u2018\u2018", "\u2019", "\u2019\u2019", "\u201a", "\u201a\u201a", "\u201b", "\u201b\u201b")
		return "$env:" + name + " = '" + r.Replace(value) + "'"
	},
}
