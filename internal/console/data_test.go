package console_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/devapi-dev/devapi/internal/app"
	"github.com/devapi-dev/devapi/internal/redistest"
)

// restSet writes key=value over the REST API with token.
func restSet(tb testing.TB, restURL, token, key, value string) {
	tb.Helper()
	restDo(tb, restURL, token, "SET", key, value)
}

// restDo runs one command over the REST API with token and answers its
// result, numbers as float64.
func restDo(tb testing.TB, restURL, token string, args ...string) any {
	tb.Helper()
	body, _ := json.Marshal(args)
	req, err := http.NewRequestWithContext(tb.Context(), http.MethodPost, restURL, strings.NewReader(string(body)))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	hc := &http.Client{Timeout: 30 * time.Second}
	resp, err := hc.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Result any    `json:"result"`
		Error  string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Error != "" {
		tb.Fatalf("REST %v: %v %s", args, err, out.Error)
	}
	return out.Result
}

// equalJSON compares two decoded JSON values.
func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// restGet reads key over the REST API with token: its value, or nil.
func restGet(tb testing.TB, restURL, token, key string) any {
	tb.Helper()
	return restDo(tb, restURL, token, "GET", key)
}

func TestDataBrowser(t *testing.T) {
	st := newStack(t, nil)
	db := st.database(t, "data")
	b := st.browser(t)
	token := b.signIn(st.email, st.apiKey)
	base := "/databases/" + db.ID

	p := b.post(base+"/data/add", url.Values{"csrf": {token}, "type": {"string"}, "key": {"greeting"}, "value": {"<b>hi</b>"}, "ttl": {"100"}})
	if p.status != http.StatusOK || !strings.Contains(p.body, "Key added") {
		t.Fatalf("add: %d %s", p.status, excerpt(p.body))
	}
	if strings.Contains(p.body, "<b>hi</b>") || !strings.Contains(p.body, "&lt;b&gt;hi&lt;/b&gt;") {
		t.Error("a value is not escaped in the page")
	}
	if got := restGet(t, st.restURL, db.RestToken, "greeting"); got != "<b>hi</b>" {
		t.Fatalf("REST reads %v", got)
	}
	for typ, form := range map[string]url.Values{
		"hash":   {"key": {"h"}, "field": {"f"}, "value": {"v"}},
		"list":   {"key": {"l"}, "value": {"a"}},
		"set":    {"key": {"s"}, "value": {"m"}},
		"zset":   {"key": {"z"}, "field": {"1.5"}, "value": {"m"}},
		"stream": {"key": {"x"}, "field": {"f"}, "value": {"v"}},
	} {
		form.Set("csrf", token)
		form.Set("type", typ)
		p := b.post(base+"/data/add", form)
		if p.status != http.StatusOK || !strings.Contains(p.body, `id="key-type">`+typ+`<`) {
			t.Errorf("add %s: %d %s", typ, p.status, excerpt(p.body))
		}
	}
	p = b.get(base + "/data?match=*")
	for _, k := range []string{"greeting", "h", "l", "s", "z", "x"} {
		if !strings.Contains(p.body, "<code>"+k+"</code>") {
			t.Errorf("SCAN page lacks key %s", k)
		}
	}
	p = b.get(base + "/data?match=gr*")
	if !strings.Contains(p.body, "greeting") || strings.Contains(p.body, "<code>h</code>") {
		t.Error("the pattern does not filter the keys")
	}

	p = b.post(base+"/key", url.Values{"csrf": {token}, "key": {"greeting"}, "op": {"set"}, "value": {"edited"}})
	if got := restGet(t, st.restURL, db.RestToken, "greeting"); got != "edited" {
		t.Fatalf("after edit REST reads %v (%s)", got, excerpt(p.body))
	}
	if !strings.Contains(p.body, `id="key-ttl">`) || strings.Contains(p.body, `id="key-ttl">none`) {
		t.Error("an edit dropped the key's TTL")
	}

	p = b.post(base+"/data/command", url.Values{"csrf": {token}, "line": {`SET "two words" 'v 1'`}})
	if !strings.Contains(p.body, `id="result">&#34;OK&#34;`) {
		t.Fatalf("command: %s", excerpt(p.body))
	}
	if got := restGet(t, st.restURL, db.RestToken, "two words"); got != "v 1" {
		t.Fatalf("command wrote %v", got)
	}
	// The REST API's refusals are the console's: a command it refuses.
	p = b.post(base+"/data/command", url.Values{"csrf": {token}, "line": {"SUBSCRIBE ch"}})
	if !strings.Contains(p.body, `class="result error"`) {
		t.Fatalf("SUBSCRIBE was not refused: %s", excerpt(p.body))
	}

	// Element edits, by type, read back over REST.
	edit := func(form url.Values) page {
		t.Helper()
		form.Set("csrf", token)
		p := b.post(base+"/key", form)
		if strings.Contains(p.body, `class="flash error"`) {
			t.Errorf("%s: %s", form.Get("op"), excerpt(p.body))
		}
		return p
	}
	run := func(args ...string) any {
		t.Helper()
		return restDo(t, st.restURL, db.RestToken, args...)
	}
	edit(url.Values{"key": {"h"}, "op": {"hset"}, "field": {"g"}, "value": {"w"}})
	if p := edit(url.Values{"key": {"h"}, "op": {"hdel"}, "field": {"f"}}); !strings.Contains(p.body, "<code>g</code>") || strings.Contains(p.body, "<code>f</code>") {
		t.Errorf("hash page after hset g, hdel f: %s", excerpt(p.body))
	}
	if got := run("HGETALL", "h"); !equalJSON(got, []any{"g", "w"}) {
		t.Errorf("HGETALL h = %v", got)
	}
	edit(url.Values{"key": {"l"}, "op": {"rpush"}, "value": {"b"}})
	edit(url.Values{"key": {"l"}, "op": {"lrem"}, "value": {"a"}})
	if got := run("LRANGE", "l", "0", "-1"); !equalJSON(got, []any{"b"}) {
		t.Errorf("LRANGE l = %v", got)
	}
	edit(url.Values{"key": {"s"}, "op": {"sadd"}, "value": {"n"}})
	edit(url.Values{"key": {"s"}, "op": {"srem"}, "value": {"m"}})
	if got := run("SMEMBERS", "s"); !equalJSON(got, []any{"n"}) {
		t.Errorf("SMEMBERS s = %v", got)
	}
	edit(url.Values{"key": {"z"}, "op": {"zadd"}, "score": {"2"}, "value": {"n"}})
	edit(url.Values{"key": {"z"}, "op": {"zrem"}, "value": {"m"}})
	if got := run("ZRANGE", "z", "0", "-1", "WITHSCORES"); !equalJSON(got, []any{"n", "2"}) {
		t.Errorf("ZRANGE z = %v", got)
	}
	entries, _ := run("XRANGE", "x", "-", "+").([]any)
	if len(entries) != 1 {
		t.Fatalf("XRANGE x = %v", entries)
	}
	first := entries[0].([]any)[0].(string)
	edit(url.Values{"key": {"x"}, "op": {"xadd"}, "field": {"f2"}, "value": {"v2"}})
	edit(url.Values{"key": {"x"}, "op": {"xdel"}, "field": {first}})
	if got := run("XLEN", "x"); !equalJSON(got, 1.0) {
		t.Errorf("XLEN x = %v", got)
	}
	edit(url.Values{"key": {"h"}, "op": {"ttl"}, "ttl": {"500"}})
	if got := run("TTL", "h"); !equalJSON(got, 500.0) {
		t.Errorf("TTL h = %v", got)
	}
	if p := edit(url.Values{"key": {"h"}, "op": {"ttl"}, "ttl": {""}}); !strings.Contains(p.body, `id="key-ttl">none<`) {
		t.Errorf("after clearing the TTL: %s", excerpt(p.body))
	}

	// A key name with URL and HTML syntax in it survives the round trip
	// from the list to its page, and is edited as itself.
	odd := `odd key&x=1#frag/é<"'>`
	restSet(t, st.restURL, db.RestToken, odd, "v")
	list := b.get(base + "/data?match=odd*")
	href := regexp.MustCompile(`<a href="(/databases/[^"]+/key\?key=[^"]+)"><code>odd`).FindStringSubmatch(list.body)
	if href == nil {
		t.Fatalf("no link to the odd key: %s", excerpt(list.body))
	}
	link := strings.ReplaceAll(href[1], "&amp;", "&")
	if p := b.get(link); !strings.Contains(p.body, `id="key-type">string<`) {
		t.Fatalf("the odd key's page (%s): %s", link, excerpt(p.body))
	}
	edit(url.Values{"key": {odd}, "op": {"set"}, "value": {"w"}})
	if got := restGet(t, st.restURL, db.RestToken, odd); got != "w" {
		t.Fatalf("the odd key after edit: %v", got)
	}

	// A long string is shown in part and not offered for editing.
	long := strings.Repeat("0123456789", 7000)
	restSet(t, st.restURL, db.RestToken, "long", long)
	p = b.get(base + "/key?key=long")
	if !strings.Contains(p.body, "70000 (first 65536 bytes shown)") || strings.Contains(p.body, `name="op" value="set"`) || strings.Contains(p.body, long) {
		t.Errorf("long string page: %s", excerpt(p.body))
	}

	// JSON, where the plane has it.
	p = b.post(base+"/data/add", url.Values{"csrf": {token}, "type": {"json"}, "key": {"doc"}, "value": {`{"a":[1,2]}`}})
	if strings.Contains(p.body, `class="flash error"`) {
		t.Logf("no JSON on this plane: %s", excerpt(p.body))
	} else {
		if !strings.Contains(p.body, `id="key-type">ReJSON-RL<`) {
			t.Errorf("JSON key page: %s", excerpt(p.body))
		}
		edit(url.Values{"key": {"doc"}, "op": {"json-set"}, "value": {`{"a":[3]}`}})
		if got := run("JSON.GET", "doc"); got != `{"a":[3]}` {
			t.Errorf("JSON.GET doc = %v", got)
		}
	}

	b.post(base+"/key", url.Values{"csrf": {token}, "key": {"greeting"}, "op": {"delete"}})
	if got := restGet(t, st.restURL, db.RestToken, "greeting"); got != nil {
		t.Fatalf("after delete REST reads %v", got)
	}
}

func TestCommandLineUnbalanced(t *testing.T) {
	st := newStack(t, nil)
	db := st.database(t, "split")
	b := st.browser(t)
	token := b.signIn(st.email, st.apiKey)
	p := b.post("/databases/"+db.ID+"/data/command", url.Values{"csrf": {token}, "line": {`GET "open`}})
	if !strings.Contains(p.body, "unbalanced quotes") {
		t.Fatalf("unbalanced line: %s", excerpt(p.body))
	}
}

func TestCommandAnswerTooLarge(t *testing.T) {
	// An answer past what the console holds is refused with a message, not
	// held in memory: 20 values of 1 MiB, 20 MiB in one MGET.
	st := newStack(t, nil)
	db := st.database(t, "big")
	mb := strings.Repeat("x", 1<<20)
	line := "MGET"
	for i := range 20 {
		k := "big:" + strconv.Itoa(i)
		restSet(t, st.restURL, db.RestToken, k, mb)
		line += " " + k
	}
	b := st.browser(t)
	token := b.signIn(st.email, st.apiKey)
	p := b.post("/databases/"+db.ID+"/data/command", url.Values{"csrf": {token}, "line": {line}})
	if !strings.Contains(p.body, `class="result error" id="result" role="alert">The answer is larger than the console shows`) {
		t.Fatalf("a 20 MiB answer: %d %s", p.status, excerpt(p.body))
	}
}

var nextPage = regexp.MustCompile(`href="(/databases/[^"]+/data\?match=[^"]*&amp;cursor=[0-9]+)" rel="next"`)
var keyCell = regexp.MustCompile(`<td><a href="[^"]+"><code>(page:[0-9]+)</code></a></td>`)

func TestScanPages(t *testing.T) {
	// The embedded plane answers SCAN in one step whatever COUNT says (as
	// miniredis does); redis-server pages.
	for _, plane := range []string{app.Embedded, app.RedisServer} {
		t.Run(plane, func(t *testing.T) {
			opts := stackOptions{plane: app.PlaneConfig{Kind: plane}}
			if plane == app.RedisServer {
				opts.plane.RedisServer = redistest.Binary(t)
			}
			st := newStackWith(t, opts)
			db := st.database(t, "paged")
			const n = 350
			for i := range n {
				restSet(t, st.restURL, db.RestToken, "page:"+strconv.Itoa(i), "v")
			}
			restSet(t, st.restURL, db.RestToken, "other", "v")
			b := st.browser(t)
			b.signIn(st.email, st.apiKey)
			seen := map[string]bool{}
			path := "/databases/" + db.ID + "/data?match=page:*"
			pages := 0
			for ; path != "" && pages < 50; pages++ {
				p := b.get(path)
				for _, m := range keyCell.FindAllStringSubmatch(p.body, -1) {
					seen[m[1]] = true
				}
				if strings.Contains(p.body, "<code>other</code>") {
					t.Fatal("the pattern let another key through")
				}
				path = ""
				if m := nextPage.FindStringSubmatch(p.body); m != nil {
					path = strings.ReplaceAll(m[1], "&amp;", "&")
				}
			}
			if len(seen) != n || (plane == app.RedisServer && pages < 2) {
				t.Fatalf("%d pages showed %d of %d keys", pages, len(seen), n)
			}
			if plane != app.Embedded {
				return
			}
			// A step that finds more keys than a page holds shows the first.
			for i := n; i < 600; i++ {
				restSet(t, st.restURL, db.RestToken, "page:"+strconv.Itoa(i), "v")
			}
			p := b.get("/databases/" + db.ID + "/data?match=page:*")
			if rows := len(keyCell.FindAllStringSubmatch(p.body, -1)); rows != 500 || !strings.Contains(p.body, "found 600 keys; the first 500 are shown") {
				t.Fatalf("600 keys in one step: %d rows %s", rows, excerpt(p.body))
			}
		})
	}
}
