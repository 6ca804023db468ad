package restapi_test

import (
	"testing"
)

// TestJSONCommands: what @upstash/redis sends for redis.json.* (set, get,
// merge, arrappend, numincrby with $ paths), one by one, in a pipeline and
// in a transaction, answered as Upstash answers them: JSON.GET's document
// as a string, JSONPath results as arrays. The embedded plane has
// RedisJSON; redis-server 7.0 has not.
func TestJSONCommands(t *testing.T) {
	e := newEnv(t, planes(t)[0])
	tok := e.create(false).RestToken
	e.expect(e.call("POST", "/", tok, `["JSON.SET","user:1","$","{\"name\":\"ada\",\"tags\":[],\"visits\":0}"]`), 200, `{"result":"OK"}`)
	e.expect(e.call("POST", "/", tok, `["JSON.GET","user:1"]`), 200, `{"result":"{\"name\":\"ada\",\"tags\":[],\"visits\":0}"}`)
	e.expect(e.call("POST", "/", tok, `["JSON.GET","user:1","$.name"]`), 200, `{"result":"[\"ada\"]"}`)
	e.expect(e.call("POST", "/", tok, `["JSON.ARRAPPEND","user:1","$.tags","\"admin\"","\"dev\""]`), 200, `{"result":[2]}`)
	e.expect(e.call("POST", "/", tok, `["JSON.NUMINCRBY","user:1","$.visits",5]`), 200, `{"result":"[5]"}`)
	e.expect(e.call("POST", "/", tok, `["JSON.MERGE","user:1","$","{\"name\":\"Ada\",\"visits\":null}"]`), 200, `{"result":"OK"}`)
	e.expect(e.call("POST", "/", tok, `["JSON.GET","user:1","$"]`), 200, `{"result":"[{\"name\":\"Ada\",\"tags\":[\"admin\",\"dev\"]}]"}`)
	e.expect(e.call("POST", "/", tok, `["JSON.TYPE","user:1","$.tags"]`), 200, `{"result":["array"]}`)
	e.expect(e.call("POST", "/", tok, `["TYPE","user:1"]`), 200, `{"result":"ReJSON-RL"}`)
	e.expect(e.call("POST", "/", tok, `["JSON.GET","nope","$"]`), 200, `{"result":null}`)
	e.expect(e.call("POST", "/", tok, `["GET","user:1"]`), 400, `{"error":"WRONGTYPE Operation against a key holding the wrong kind of value"}`)
	e.expect(e.call("POST", "/", tok, `["JSON.SET","user:2","$.a","1"]`), 400, `{"error":"ERR new objects must be created at the root"}`)
	e.expect(e.call("POST", "/pipeline", tok, `[["JSON.SET","p","$","[1]"],["JSON.ARRAPPEND","p","$",2],["JSON.GET","p"]]`), 200,
		`[{"result":"OK"},{"result":[2]},{"result":"[1,2]"}]`)
	e.expect(e.call("POST", "/multi-exec", tok, `[["JSON.SET","m","$","{\"n\":1}"],["JSON.NUMINCRBY","m","$.n",1],["JSON.GET","m","$.n"],["EXPIRE","m",60],["TTL","m"]]`), 200,
		`[{"result":"OK"},{"result":"[2]"},{"result":"[2]"},{"result":1},{"result":60}]`)
}
