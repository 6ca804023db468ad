package main

import (
	"strings"
	"testing"
)

// TestTableOutput checks the table forms of the answers a running server
// does not give in the other tests: stats with samples, nested objects,
// credentials in lists.
func TestTableOutput(t *testing.T) {
	cases := []struct {
		name string
		a    answer
		want string
	}{
		{
			name: "stats",
			a: answer{value: map[string]any{
				"keyspace":           []map[string]any{{"x": "2026-11-28 08:00:00 +0000 UTC", "y": 1}, {"x": "2026-11-28 08:01:00 +0000 UTC", "y": 3}},
				"throughput":         []map[string]any{},
				"daily_net_commands": 42,
				"days":               []string{"Mon", "Tue"},
			}},
			want: "FIELD               VALUE\n" +
				"daily_net_commands  42\n" +
				"days                Mon,Tue\n" +
				"keyspace            2 samples, last 3\n" +
				"throughput          -\n",
		},
		{
			name: "object",
			a: answer{value: map[string]any{
				"creation_time":          1767225600,
				"last_plan_upgrade_time": 0,
				"password":               "secret-password",
				"rest_token":             "secret-token",
				"securityAddons":         map[string]bool{"vpcPeering": false},
				"modifying_state":        "",
			}},
			want: "FIELD                   VALUE\n" +
				"creation_time           2026-01-01T00:00:00Z\n" +
				"last_plan_upgrade_time  -\n" +
				"modifying_state         -\n" +
				"securityAddons          {\"vpcPeering\":false}\n",
		},
		{
			name: "list",
			a: answer{
				value: []map[string]any{{"database_id": "a", "password": "secret-password", "port": 6379}, {"database_id": "b"}},
				view:  listView([]column{{"ID", "database_id"}, {"PORT", "port"}}),
			},
			want: "ID  PORT\na   6379\nb   -\n",
		},
		{name: "ok", a: okAnswer, want: "OK\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b strings.Builder
			if err := printAnswer(&b, outputTable, c.a); err != nil {
				t.Fatal(err)
			}
			if b.String() != c.want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), c.want)
			}
			if strings.Contains(b.String(), "secret") {
				t.Errorf("a credential in the table")
			}
		})
	}

	var b strings.Builder
	if err := printAnswer(&b, outputJSON, okAnswer); err != nil || b.String() != "\"OK\"\n" {
		t.Errorf("OK as JSON: %q, %v", b.String(), err)
	}
}
