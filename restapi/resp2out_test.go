package restapi_test

import (
	"strings"
	"testing"
)

// TestRESP2Format: Upstash-Response-Format: resp2 answers a command and a
// pipeline with the raw RESP2 replies, as application/octet-stream; Redis
// errors and refusals are RESP errors; /multi-exec stays JSON; combined with
// base64, or another format, the request is refused.
func TestRESP2Format(t *testing.T) {
	for _, p := range planes(t) {
		t.Run(p.name, func(t *testing.T) {
			e := newEnv(t, p)
			d := e.create(false)
			h := []string{"Upstash-Response-Format", "resp2"}
			raw := func(a answer, body string) {
				t.Helper()
				if a.status != 200 || a.body != body || a.header.Get("Content-Type") != "application/octet-stream" {
					t.Errorf("got %d %q (%s), want 200 %q", a.status, a.body, a.header.Get("Content-Type"), body)
				}
			}
			raw(e.call("GET", "/set/foo/bar", d.RestToken, "", h...), "+OK\r\n")
			raw(e.call("GET", "/get/foo", d.RestToken, "", h...), "$3\r\nbar\r\n")
			raw(e.call("POST", "/", d.RestToken, `["GET","missing"]`, h...), "$-1\r\n")
			raw(e.call("POST", "/", d.RestToken, `["RPUSH","l","a","b\r\nc"]`, h...), ":2\r\n")
			raw(e.call("POST", "/", d.RestToken, `["LRANGE","l",0,-1]`, h...), "*2\r\n$1\r\na\r\n$4\r\nb\r\nc\r\n")
			raw(e.call("POST", "/", d.RestToken, `["LRANGE","none",0,-1]`, h...), "*0\r\n")
			raw(e.call("POST", "/", d.RestToken, `["INCR","foo"]`, h...), "-ERR value is not an integer or out of range\r\n")
			raw(e.call("POST", "/", d.ReadOnlyRestToken, `["SET","foo","x"]`, h...), "-NOPERM this user has no permissions to run the 'set' command\r\n")
			raw(e.call("POST", "/pipeline", d.RestToken, `[["SET","n","1"],["INCR","n"],["INCR","foo"],["CONFIG","GET","*"],["GET","n"]]`, h...),
				"+OK\r\n:2\r\n-ERR value is not an integer or out of range\r\n-NOPERM this user has no permissions to run the 'config|get' command\r\n$1\r\n2\r\n")
			e.expect(e.call("POST", "/multi-exec", d.RestToken, `[["INCR","n"],["GET","n"]]`, h...), 200, `[{"result":3},{"result":"3"}]`)

			e.expect(e.call("GET", "/get/foo", d.RestToken, "", "Upstash-Response-Format", "resp2", "Upstash-Encoding", "base64"), 400,
				`{"error":"ERR Upstash-Encoding: base64 cannot be combined with Upstash-Response-Format: resp2"}`)
			e.expect(e.call("GET", "/get/foo", d.RestToken, "", "Upstash-Response-Format", "xml"), 400,
				`{"error":"ERR invalid Upstash-Response-Format: use json or resp2"}`)
			e.expect(e.call("GET", "/get/foo", d.RestToken, "", "Upstash-Response-Format", "JSON"), 200, `{"result":"bar"}`)
			if a := e.call("GET", "/get/foo", "nope", "", h...); a.status != 401 || !strings.Contains(a.body, "WRONGPASS") {
				t.Errorf("bad token: %d %s", a.status, a.body)
			}
		})
	}
}
