package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/devapi-dev/devapi/upstash"
)

// Environment variables the redis and team commands read, after their flags.
// UPSTASH_EMAIL and UPSTASH_API_KEY (envEmail, envAPIKey) are shared with
// devapi serve and Upstash's own tools. The API's URL has a name of devapi's
// own: apps use UPSTASH_API_URL and the like for other URLs (a Redis REST
// URL, say), and a name that another tool reads could send this CLI's
// credentials somewhere they were not meant for, or another tool's here.
// serve's credentials file and devapi env set it.
const envAPIURL = "DEVAPI_API_URL"

// defaultAPIURL is Upstash's host root; the client adds /v2.
const defaultAPIURL = "https://api.upstash.com"

// userAgent names devapi's CLI to the API.
const userAgent = "devapi-cli"

// Output formats of --output.
const (
	outputJSON  = "json"
	outputTable = "table"
)

// Exit codes of devapi. Every other failure exits 1.
const (
	exitUsage    = 2 // bad or missing flags, unknown command
	exitAuth     = 3 // no credentials, or the API refused them
	exitNotFound = 4 // no such database, backup or team
)

// credentialsError marks a failure to find credentials before any request.
type credentialsError struct{ error }

// exitCode is the process exit code for the error a command returned.
func exitCode(err error) int {
	var u usageError
	var c credentialsError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &u):
		return exitUsage
	case errors.As(err, &c), errors.Is(err, upstash.ErrUnauthorized):
		return exitAuth
	case errors.Is(err, upstash.ErrNotFound):
		return exitNotFound
	default:
		return 1
	}
}

// apiOptions are the flags every redis and team command shares.
type apiOptions struct {
	email  string
	apiKey string
	apiURL string
	output string
	// verbose is --verbose: say on stderr which API and account a command
	// uses, and where each came from, before it sends anything.
	verbose bool
	getenv  func(string) string
	stderr  io.Writer
}

// newAPICommand makes a command group (redis, team) with the shared API
// flags and argument checks; add its subcommands with
// o.action and newGroup.
func newAPICommand(use, short, long string, getenv func(string) string) (*cobra.Command, *apiOptions) {
	o := &apiOptions{getenv: getenv}
	c := newGroup(use, short)
	c.Long = long
	pf := c.PersistentFlags()
	pf.StringVar(&o.email, "email", "", "account email (default $"+envEmail+")")
	pf.StringVar(&o.apiKey, "api-key", "", "API key (default $"+envAPIKey+")")
	pf.StringVar(&o.apiURL, "api-url", "", "API host root, without /v2 (default $"+envAPIURL+", else "+defaultAPIURL+")")
	pf.StringVarP(&o.output, "output", "o", outputJSON, "output format: json or table")
	pf.BoolVar(&o.verbose, "verbose", false, "say on stderr which API and account are used, and where they came from")
	_ = c.RegisterFlagCompletionFunc("output", fixedCompletion(outputJSON, outputTable))

	c.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		o.stderr = cmd.ErrOrStderr()
		if err := checkRequiredFlags(cmd); err != nil {
			return err
		}
		if o.output != outputJSON && o.output != outputTable {
			return usageError{fmt.Errorf("--output must be json or table, not %q", o.output)}
		}
		return nil
	}
	return c, o
}

// resolve fills the options the user did not pass from the environment and
// the defaults, and checks them.
func (o *apiOptions) resolve() error {
	getenv := o.getenv
	emailFrom, urlFrom := "--email", "--api-url"
	if o.email == "" {
		o.email, emailFrom = getenv(envEmail), "$"+envEmail
	}
	if o.apiKey == "" {
		o.apiKey = getenv(envAPIKey)
	}
	if o.apiURL == "" {
		o.apiURL, urlFrom = getenv(envAPIURL), "$"+envAPIURL
	}
	if o.apiURL == "" {
		o.apiURL, urlFrom = defaultAPIURL, "the default, Upstash itself: no --api-url or $"+envAPIURL
	}
	u, err := url.Parse(o.apiURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageError{fmt.Errorf("--api-url must be an http or https URL such as %s, not %q", defaultAPIURL, o.apiURL)}
	}
	if o.verbose && o.stderr != nil {
		account := "none"
		if o.email != "" {
			account = o.email + " (from " + emailFrom + ")"
		}
		_, _ = fmt.Fprintf(o.stderr, "devapi: API %s/v2 (from %s); account %s\n", strings.TrimSuffix(o.apiURL, "/"), urlFrom, account)
	}
	if o.email == "" || o.apiKey == "" {
		return credentialsError{fmt.Errorf("no credentials: pass --email and --api-key, or set %s and %s", envEmail, envAPIKey)}
	}
	return nil
}

// client is a client for the options, completed from the environment.
func (o *apiOptions) client() (*upstash.Client, error) {
	if err := o.resolve(); err != nil {
		return nil, err
	}
	return upstash.New(o.email, o.apiKey, upstash.WithBaseURL(o.apiURL), upstash.WithUserAgent(userAgent))
}

// newGroup makes a command that only holds subcommands: alone it prints its
// help; followed by an unknown word it is a usage error.
func newGroup(use, short string) *cobra.Command {
	return &cobra.Command{
		Use:           use,
		Short:         short,
		Args:          noArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		// cobra's default, said once for every group.
		SuggestionsMinimumDistance: 2,
		RunE:                       showHelp,
	}
}

// showHelp is the RunE of a command that only holds subcommands.
func showHelp(cmd *cobra.Command, _ []string) error { return cmd.Help() }

// asGroup makes c, which only holds subcommands, a group as newGroup makes
// them.
func asGroup(c *cobra.Command) {
	g := newGroup(c.Use, c.Short)
	c.Args, c.RunE, c.SuggestionsMinimumDistance = g.Args, g.RunE, g.SuggestionsMinimumDistance
}

// answer is what an action returns: a value printed as JSON or as a table.
type answer struct {
	value any
	view  view
}

// okAnswer is the answer of operations the API answers with "OK".
var okAnswer = answer{value: "OK"}

// ok is the answer of an operation that returns only an error.
func ok(err error) (answer, error) { return okAnswer, err }

// action makes a command that calls the API once and prints the answer.
func (o *apiOptions) action(use, short string, run func(ctx context.Context, c *upstash.Client) (answer, error)) *cobra.Command {
	return &cobra.Command{
		Use:           use,
		Short:         short,
		Args:          noArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			a, err := run(cmd.Context(), c)
			if err != nil {
				return err
			}
			return printAnswer(cmd.OutOrStdout(), o.output, a)
		},
	}
}

// noArgs is cobra.NoArgs returning a usage error, with cobra's "did you
// mean" suggestions of the command's subcommands: groups and the commands
// that take flags only use it.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return usageError{fmt.Errorf("%s (see %s --help)", msg, cmd.CommandPath())}
}

// checkRequiredFlags is cobra's check of the flags marked with
// MarkFlagRequired, done earlier so that a missing flag is a usageError.
func checkRequiredFlags(cmd *cobra.Command) error {
	var missing []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if v, isSet := f.Annotations[cobra.BashCompOneRequiredFlag]; isSet && len(v) == 1 && v[0] == "true" && !f.Changed {
			missing = append(missing, "--"+f.Name)
		}
	})
	switch len(missing) {
	case 0:
		return nil
	case 1:
		return usageError{fmt.Errorf("required flag %s not set (see %s --help)", missing[0], cmd.CommandPath())}
	default:
		return usageError{fmt.Errorf("required flags %s not set (see %s --help)", strings.Join(missing, ", "), cmd.CommandPath())}
	}
}

// printError writes err to w as one line of JSON, {"error": "..."}: the
// one error format of every devapi command. An API error is shown by the text
// the API answered.
func printError(w io.Writer, err error) {
	msg := err.Error()
	var apiErr *upstash.APIError
	if errors.As(err, &apiErr) && apiErr.Message != "" {
		msg = apiErr.Message
	}
	line, mErr := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	if mErr != nil {
		line = []byte(`{"error":"unprintable error"}`)
	}
	_, _ = fmt.Fprintf(w, "%s\n", line)
}

// fixedCompletion completes a flag's value from a fixed list.
func fixedCompletion(values ...string) cobra.CompletionFunc {
	return cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp)
}

// required marks flags of c as required, for checkRequiredFlags and in
// --help; they are all defined, so cobra cannot fail.
func required(c *cobra.Command, names ...string) {
	for _, n := range names {
		if err := c.MarkFlagRequired(n); err != nil {
			panic(err)
		}
		f := c.Flags().Lookup(n)
		f.Usage += " (required)"
	}
}
