package restapi_test

import (
	"strings"
	"testing"

	"github.com/devapi-dev/devapi/restapi"
)

// TestLogShowsKnownCommandsOnly: the log's command field is the first path
// segment only when it is a command or an endpoint; a token, key or value
// sent there is logged as "?".
func TestLogShowsKnownCommandsOnly(t *testing.T) {
	k := newKit(t, restapi.Config{})
	db := k.addDB("log")
	const secret = "AXkAAIncSecretTokenInThePath0123456789"
	for _, tc := range []struct {
		method, path, body, logged string
	}{
		{"GET", "/set/k/v", "", "set"},
		{"GET", "/GET/k", "", "get"},
		{"GET", "/json.get/k", "", "json.get"},
		{"POST", "/", `["PING"]`, "/"},
		{"POST", "/pipeline", `[["PING"]]`, "pipeline"},
		{"POST", "/multi-exec/", `[["PING"]]`, "multi-exec"},
		{"GET", "/" + secret + "/k", "", "?"},
		{"GET", "/" + secret, "", "?"},
	} {
		logged := k.logs.String()
		before := len(logged)
		k.call(tc.method, tc.path, db.token, strings.NewReader(tc.body))
		line := k.waitLogLines(strings.Count(logged, "\n") + 1)[before:]
		if !strings.Contains(line, " command="+tc.logged+" ") {
			t.Errorf("%s %s logged %q, want command=%s", tc.method, tc.path, line, tc.logged)
		}
	}
	if strings.Contains(k.logs.String(), secret) {
		t.Errorf("the log holds the path's token:\n%s", k.logs.String())
	}
}
