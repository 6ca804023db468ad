package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/devapi-dev/devapi/redisserverplane"
)

// orphansDir is where devapi serve moves the data of databases its store
// does not have, in the data folder.
const orphansDir = "orphans"

func newOrphansCommand(getenv func(string) string) *cobra.Command {
	var data string
	c := &cobra.Command{
		Use:   "orphans",
		Short: "List and purge the data devapi set aside for databases its store did not have",
		Long: `devapi serve never deletes a database's data because its store does not have the
database: a store that is new, emptied or older than the data is no reason to. With
--plane redis-server it moves such a database's folder, append-only file included, to
<data>/orphans/<database id>-<UTC time> and logs a warning. Restore one by hand
(its appendonlydir holds the keys), or purge it.`,
	}
	asGroup(c)
	c.PersistentFlags().StringVar(&data, "data", defaultDataDir(getenv), "devapi's data folder")

	list := &cobra.Command{
		Use:   "list",
		Short: "List the orphans: name, database id, when it was set aside, size",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			orphans, err := readOrphans(filepath.Join(data, orphansDir))
			if err != nil {
				return err
			}
			return writeOrphans(cmd.OutOrStdout(), orphans)
		},
	}

	var all bool
	purge := &cobra.Command{
		Use:   "purge NAME... | --all",
		Short: "Delete orphans for good: those named (as list shows them), or all of them",
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
				return usageError{errors.New("name the orphans to purge (see devapi orphans list), or pass --all")}
			}
			dir := filepath.Join(data, orphansDir)
			orphans, err := readOrphans(dir)
			if err != nil {
				return err
			}
			names := args
			if all {
				names = nil
				for _, o := range orphans {
					names = append(names, o.name)
				}
			}
			for _, name := range names {
				if !slices.ContainsFunc(orphans, func(o orphan) bool { return o.name == name }) {
					return fmt.Errorf("no orphan %q in %s (see devapi orphans list)", name, dir)
				}
			}
			for _, name := range names {
				if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
					return fmt.Errorf("purge %s: %w", name, err)
				}
				_, _ = fmt.Fprintf(cmd.OutOrStdout(), "purged %s\n", name)
			}
			return nil
		},
	}
	purge.Flags().BoolVar(&all, "all", false, "purge every orphan")
	c.AddCommand(list, purge)
	return c
}

// orphan is one folder of the orphans folder.
type orphan struct {
	name       string
	databaseID string
	movedAt    time.Time // zero when the name does not end in a time
	size       int64     // bytes of its files
}

// readOrphans lists the orphans in dir, oldest first. A missing dir holds
// none.
func readOrphans(dir string) ([]orphan, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the orphans folder: %w", err)
	}
	var out []orphan
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		o := orphan{name: e.Name(), databaseID: e.Name()}
		// <id>-<time>[.n]: the id holds dashes, the time none.
		if i := strings.LastIndexByte(e.Name(), '-'); i > 0 {
			stamp, _, _ := strings.Cut(e.Name()[i+1:], ".")
			if t, err := time.Parse(redisserverplane.OrphanTimeFormat, stamp); err == nil {
				o.databaseID, o.movedAt = e.Name()[:i], t
			}
		}
		err := filepath.WalkDir(filepath.Join(dir, e.Name()), func(_ string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			info, err := d.Info()
			if err == nil {
				o.size += info.Size()
			}
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("read orphan %s: %w", e.Name(), err)
		}
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b orphan) int {
		if c := a.movedAt.Compare(b.movedAt); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	return out, nil
}

// writeOrphans prints orphans as a table.
func writeOrphans(w io.Writer, orphans []orphan) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tDATABASE ID\tMOVED\tSIZE")
	for _, o := range orphans {
		moved := "-"
		if !o.movedAt.IsZero() {
			moved = o.movedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", o.name, o.databaseID, moved, bytesText(o.size))
	}
	return tw.Flush()
}

// bytesText is n in the largest unit that keeps it at least 1.
func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}
