package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/devapi-dev/devapi"
)

// accountsOptions are the flags every accounts command shares.
type accountsOptions struct {
	data  string
	store storeFlags
}

func newAccountsCommand(getenv func(string) string) *cobra.Command {
	var o accountsOptions
	c := &cobra.Command{
		Use:   "accounts",
		Short: "Manage the accounts and API keys of a devapi server",
		Long: `Manage the accounts and API keys of a devapi server. These commands work on
the store directly and may run while devapi serve is running on it.
A new API key is printed once, on standard output; only its hash is kept.`,
	}
	asGroup(c)
	pf := c.PersistentFlags()
	pf.StringVar(&o.data, "data", defaultDataDir(getenv), "devapi's data folder")
	o.store.register(pf)

	withStore := func(cmd *cobra.Command, fn func(context.Context, devapi.Store) error) error {
		if err := makeDataDir(o.data); err != nil {
			return err
		}
		storeURL, err := o.store.resolve(getenv)
		if err != nil {
			return err
		}
		s, _, err := openStore(cmd.Context(), storeURL, o.data)
		if err != nil {
			return fmt.Errorf("open store: %w", err)
		}
		defer func() { _ = s.Close() }()
		return fn(cmd.Context(), s)
	}

	var keyName string
	create := &cobra.Command{
		Use:   "create EMAIL",
		Short: "Create an account and print its first API key",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd, func(ctx context.Context, s devapi.Store) error {
				now := time.Now().UTC()
				if err := s.CreateAccount(ctx, &devapi.Account{Email: args[0], CreatedAt: now}); err != nil {
					return describeErr(err)
				}
				return addKey(ctx, s, cmd.OutOrStdout(), args[0], keyName, now)
			})
		},
	}
	create.Flags().StringVar(&keyName, "name", "default", "a name for the key")

	addKeyCmd := &cobra.Command{
		Use:   "add-key EMAIL",
		Short: "Add an API key to an account and print it",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd, func(ctx context.Context, s devapi.Store) error {
				return addKey(ctx, s, cmd.OutOrStdout(), args[0], keyName, time.Now().UTC())
			})
		},
	}
	addKeyCmd.Flags().StringVar(&keyName, "name", "default", "a name for the key")

	list := &cobra.Command{
		Use:   "list",
		Short: "List accounts and the ids of their API keys",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd, func(ctx context.Context, s devapi.Store) error {
				return listAccounts(ctx, s, cmd.OutOrStdout())
			})
		},
	}

	deleteKey := &cobra.Command{
		Use:   "delete-key EMAIL KEY_ID",
		Short: "Delete an API key of an account",
		Args:  exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd, func(ctx context.Context, s devapi.Store) error {
				return describeErr(s.DeleteAPIKey(ctx, args[0], args[1]))
			})
		},
	}
	c.AddCommand(create, addKeyCmd, list, deleteKey)
	return c
}

func addKey(ctx context.Context, s devapi.Store, out io.Writer, email, name string, now time.Time) error {
	key := devapi.NewAPIKey()
	k := &devapi.APIKey{ID: devapi.NewKeyID(), Email: email, Name: name, Hash: devapi.HashAPIKey(key), CreatedAt: now}
	if err := s.AddAPIKey(ctx, k); err != nil {
		return describeErr(err)
	}
	_, err := fmt.Fprintf(out, "UPSTASH_EMAIL=%s\nUPSTASH_API_KEY=%s\n", email, key)
	return err
}

func listAccounts(ctx context.Context, s devapi.Store, out io.Writer) error {
	accounts, err := s.Accounts(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EMAIL\tKEY ID\tKEY NAME\tCREATED")
	for _, a := range accounts {
		keys, err := s.APIKeys(ctx, a.Email)
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			fmt.Fprintf(tw, "%s\t-\t-\t%s\n", a.Email, a.CreatedAt.Format(time.RFC3339))
		}
		for _, k := range keys {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Email, k.ID, k.Name, k.CreatedAt.Format(time.RFC3339))
		}
	}
	return tw.Flush()
}

// describeErr turns a domain error into its caller-safe message.
func describeErr(err error) error {
	if err == nil || devapi.ErrorCode(err) == devapi.EINTERNAL {
		return err
	}
	return fmt.Errorf("%s", devapi.ErrorMessage(err))
}

// exactArgs is cobra.ExactArgs returning a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}
