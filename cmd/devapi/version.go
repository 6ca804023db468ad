package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version describes this build of devapi from its build information: the
// module version ("(devel)" when built from a checkout, or when unknown), then
// the VCS revision and whether the working tree had changes, when the build
// recorded them (go build -buildvcs=true in a checkout).
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return describeBuild(nil)
	}
	return describeBuild(info)
}

// describeBuild is version for the build information info (nil: none).
func describeBuild(info *debug.BuildInfo) string {
	v := "(devel)"
	if info == nil {
		return v
	}
	if info.Main.Version != "" {
		v = info.Main.Version
	}
	var revision, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if revision == "" {
		return v
	}
	v += ", revision " + revision
	if modified == "true" {
		v += " (modified)"
	}
	return v
}

// newVersionCommand is devapi version, which prints what devapi --version
// prints.
func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print devapi's version and VCS revision",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "devapi %s\n", version())
			return err
		},
	}
}
