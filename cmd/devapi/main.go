// Command devapi runs a local implementation of the Upstash Developer API
// (devapi serve) and manages its accounts (devapi accounts ...).
//
// Flags and environment variables are read here and nowhere else.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCommand(os.Getenv).ExecuteContext(ctx)
	stop()
	if err != nil {
		printError(os.Stderr, err)
	}
	os.Exit(exitCode(err))
}

// usageError marks mistakes in how devapi was called.
type usageError struct{ error }

// newRootCommand builds the command tree. getenv is os.Getenv outside tests.
// Every command's error comes back from Execute, which main prints in the one
// format (printError); cobra prints none.
func newRootCommand(getenv func(string) string) *cobra.Command {
	root := newGroup("devapi", "A local Upstash Developer API: real Redis databases, the same HTTP API")
	root.Version = version()
	root.SetVersionTemplate("devapi {{.Version}}\n")
	// Flags marked required are checked before any command runs, so that a
	// missing one is a usage error; redis and team do it in their own hook.
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		return checkRequiredFlags(cmd)
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (see %s --help)", err, c.CommandPath())}
	})
	root.AddCommand(newServeCommand(getenv), newAccountsCommand(getenv), newRedisCommand(getenv), newTeamCommand(getenv), newPoolCommand(getenv), newOrphansCommand(getenv), newEnvCommand(getenv), newCertCommand(getenv), newVersionCommand())
	return root
}
