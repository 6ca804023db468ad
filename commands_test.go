package devapi_test

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/devapi-dev/devapi"
)

func TestCommandRefused(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"GET", "k"}, ""},
		{[]string{"config", "get", "*"}, "NOPERM this user has no permissions to run the 'config|get' command"},
		{[]string{"SLOWLOG", "get"}, "NOPERM this user has no permissions to run the 'slowlog|get' command"},
		{[]string{"CONFIG"}, ""},
		{[]string{"CLIENT", "kill", "ID", "1"}, "NOPERM this user has no permissions to run the 'client|kill' command"},
		{[]string{"client", "PAUSE", "30000"}, "NOPERM this user has no permissions to run the 'client|pause' command"},
		{[]string{"CLIENT", "SETNAME", "x"}, ""},
		{[]string{"CLIENT", "setinfo", "lib-name", "x"}, ""},
		{[]string{"CLIENT"}, ""},
		{[]string{"ACL", "WHOAMI"}, ""},
		{[]string{"ACL", "list"}, "NOPERM this user has no permissions to run the 'acl|list' command"},
		{[]string{"migrate", "127.0.0.1", "6379", "k", "0", "1000"}, "NOPERM this user has no permissions to run the 'migrate' command"},
		{[]string{"KEYS", "*"}, ""},
		{[]string{"FLUSHALL"}, ""},
		{[]string{"MONITOR"}, "NOPERM this user has no permissions to run the 'monitor' command"},
		{nil, ""},
	} {
		if got := devapi.CommandRefused(tc.args); got != tc.want {
			t.Errorf("CommandRefused(%q) = %q, want %q", tc.args, got, tc.want)
		}
	}
}

func TestACLRules(t *testing.T) {
	r70 := devapi.ACLRules(0)
	if r70[0] != "+@all" || r70[1] != "-@dangerous" {
		t.Fatalf("rules start %q", r70[:2])
	}
	for _, want := range []string{"-config", "-client", "+client|setname", "+acl|whoami", "+keys", "-migrate"} {
		if !slices.Contains(r70, want) {
			t.Errorf("7.0 rules lack %q: %q", want, r70)
		}
	}
	if slices.Contains(r70, "+client|setinfo") {
		t.Errorf("7.0 rules name client|setinfo, which Redis 7.0 does not know")
	}
	if !slices.Contains(devapi.ACLRules(2), "+client|setinfo") {
		t.Errorf("7.2 rules lack +client|setinfo")
	}
	// A re-allowed command comes after -@dangerous, a refused one's
	// re-allowed subcommands after its deny.
	if slices.Index(r70, "+keys") < 1 || slices.Index(r70, "+client|id") < slices.Index(r70, "-client") {
		t.Errorf("rules out of order: %q", r70)
	}
}

// TestREADMEShowsTheCommandPolicy keeps the README's table of the command
// policy in step with CommandPolicy.
func TestREADMEShowsTheCommandPolicy(t *testing.T) {
	var b strings.Builder
	b.WriteString("| command | for a database's users | why |\n|---|---|---|\n")
	for _, r := range devapi.CommandPolicy {
		verdict := "refused"
		switch {
		case r.Allowed:
			verdict = "allowed (in `@dangerous`, re-allowed)"
		case r.Subcommands != nil:
			verdict = "refused, but `" + strings.Join(r.Subcommands, "`, `") + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", r.Command, verdict, r.Why)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), b.String()) {
		t.Errorf("README.md does not show devapi.CommandPolicy as it is; paste this table:\n%s", b.String())
	}
}

func TestACLMinor(t *testing.T) {
	for _, tc := range []struct {
		major, minor, want int
		ok                 bool
	}{{7, 0, 0, true}, {7, 2, 2, true}, {8, 0, 99, true}, {6, 2, 0, false}} {
		got, err := devapi.ACLMinor(tc.major, tc.minor)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ACLMinor(%d, %d) = %d, %v", tc.major, tc.minor, got, err)
		}
	}
}
