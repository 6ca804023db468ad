package embeddedplane_test

import (
	"testing"

	"github.com/devapi-dev/devapi"
)

// Cases taken from RedisJSON's own tests (tests/pytest/test_multi.py),
// with their expected answers, as answer writes them. The embedded plane
// must answer them as RedisJSON does, on RESP2 as those tests speak.
var redisJSONCases = []struct {
	name  string
	steps [][]string // command words, then the expected answer last
}{
	{"del", [][]string{
		{"JSON.SET", "doc1", "$", `{"a": 1, "nested": {"a": 2, "b": 3}}`, "OK"},
		{"JSON.DEL", "doc1", "$..a", "2"},
		{"JSON.GET", "doc1", "$", `[{"nested":{"b":3}}]`},
		{"JSON.SET", "doc2", "$", `{"a": {"a": 2, "b": 3}, "b": ["a", "b"], "nested": {"b":[true, "a","b"]}}`, "OK"},
		{"JSON.DEL", "doc2", "$..a", "1"},
		{"JSON.GET", "doc2", "$", `[{"nested":{"b":[true,"a","b"]},"b":["a","b"]}]`},
		{"JSON.SET", "doc3", "$", `[{"ciao":["non ancora"],"nested":[{"ciao":[1,"a"]}, {"ciao":[2,"a"]}, {"ciaoc":[3,"non","ciao"]}, {"ciao":[4,"a"]}, {"e":[5,"non","ciao"]}]}]`, "OK"},
		{"JSON.DEL", "doc3", `$.[0]["nested"]..ciao`, "3"},
		{"JSON.GET", "doc3", "$", `[[{"ciao":["non ancora"],"nested":[{},{},{"ciaoc":[3,"non","ciao"]},{},{"e":[5,"non","ciao"]}]}]]`},
		{"JSON.DEL", "doc3", "1"},
		{"JSON.GET", "doc3", "$", "nil"},
		{"JSON.DEL", "non_existing_doc", "..a", "0"},
		{"JSON.SET", "doc2", "$", "[1, 2, 3]", "OK"},
		{"JSON.DEL", "doc2", "$[*]", "3"},
		{"JSON.SET", "doc2", "$", "[1, 2, 3]", "OK"},
		{"JSON.DEL", "doc2", "$[2,1,0]", "3"},
		{"JSON.SET", "doc2", "$", "[1, 2, 3]", "OK"},
		{"JSON.DEL", "doc2", "$[1,2,0]", "3"},
		{"JSON.SET", "doc2", "$", `{"b": [1,2,3], "a": {"b": [1, 2, 3], "c": [1, 2, 3]}, "x": {"b": [1, 2, 3], "c": [1, 2, 3]}}`, "OK"},
		{"JSON.DEL", "doc2", "$..x.b[1,0,2]", "3"},
		{"JSON.GET", "doc2", "$.x", `[{"b":[],"c":[1,2,3]}]`},
		{"JSON.SET", "doc2", "$", `[ true, { "answer": 42}, null ]`, "OK"},
		{"JSON.DEL", "doc2", "[-1]", "1"},
		{"JSON.GET", "doc2", "$", `[[true,{"answer":42}]]`},
	}},
	{"del issue 529 and 754", [][]string{
		{"JSON.SET", "doc1", "$", `[{"a00": [{"a00": "a00_00"}, {"a01": "a00_01"}, {"a02": "a00_02"}, {"a03": "a00_03"}]}, {"a01": [{"a00": "a01_00"}, {"a01": "a01_01"}, {"a02": "a01_02"}, {"a03": "a01_03"}]}, {"a02": [{"a00": "a02_00"}, {"a01": "a02_01"}, {"a02": "a02_02"}, {"a03": "a02_03"}]}, {"a03": [{"a00": "a03_00"}, {"a01": "a03_01"}, {"a02": "a03_02"}, {"a03": "a03_03"}]}]`, "OK"},
		{"JSON.DEL", "doc1", "$..[2]", "4"},
		{"JSON.ARRLEN", "doc1", "$.*[*]", "[3 3 3]"},
		{"JSON.SET", "doc1", "$", `[[1],[1,2,3]]`, "OK"},
		{"JSON.DEL", "doc1", "$..[0]", "2"},
		{"JSON.GET", "doc1", "$", `[[[2,3]]]`},
		{"JSON.SET", "doc1", "$", `{"a":[[1],[1,2,3,[4,5,[{"a":6},7,8]]], [10,{"11":11}], ["12","13"]], "b":[[1,2],{"a":[3,4,5]}]}`, "OK"},
		{"JSON.DEL", "doc1", "$..[0]", "8"},
		{"JSON.GET", "doc1", "$", `[{"a":[[2,3,[5,[7,8]]],[{"11":11}],["13"]],"b":[{"a":[4,5]}]}]`},
	}},
	{"set and get", [][]string{
		{"JSON.SET", "doc2", "$", `{"a":1,"nested":{"a":2,"b":3}}`, "OK"},
		{"JSON.SET", "doc2", "$..a", "4.2", "OK"},
		{"JSON.GET", "doc2", "$", `[{"a":4.2,"nested":{"a":4.2,"b":3}}]`},
		{"JSON.GET", "doc2", "INDENT", `\t`, "NEWLINE", `\n`, "SPACE", " ", "$..a", "$..a", `{\n\t"$..a": [\n\t\t4.2,\n\t\t4.2\n\t]\n}`},
		{"JSON.GET", "doc2", "INDENT", `\t`, "NEWLINE", `\n`, "SPACE", " ", "..a", "..a", `{\n\t"..a": 4.2\n}`},
		{"JSON.GET", "docX", "..tm", "$..nu", "nil"},
		{"JSON.GET", "doc2", "..a", "$.back_in_nov", `{"..a":[4.2,4.2],"$.back_in_nov":[]}`},
		{"JSON.SET", "doc2", "$.nested.b", "null", "OK"},
		{"JSON.GET", "doc2", ".a", ".nested.b", ".back_in_nov", ".ttyl", "ERR: ERR Path does not exist"},
		{"JSON.GET", "doc2", ".back_in_nov", "ERR: ERR Path does not exist"},
		{"JSON.SET", "doc1", "$", `"inizio"`, "OK"},
		{"JSON.GET", "doc1", `"inizio"`},
	}},
	{"mget", [][]string{
		{"JSON.SET", "{doc}:1", "$", `{"a":1, "b": 2, "nested1": {"a": 3}, "c": null, "nested2": {"a": null}}`, "OK"},
		{"JSON.SET", "{doc}:2", "$", `{"a":4, "b": 5, "nested3": {"a": 6}, "c": null, "nested4": {"a": [null]}}`, "OK"},
		{"JSON.GET", "{doc}:1", "$..a", "[1,3,null]"},
		{"JSON.GET", "{doc}:2", "$..a", "[4,6,[null]]"},
		{"SET", "{doc}:wrong_key_type", "not a json key", "OK"},
		{"JSON.MGET", "{doc}:1", "{doc}:wrong_key_type", "{doc}:2", "$..a", "[[1,3,null] <nil> [4,6,[null]]]"},
		{"JSON.MGET", "{doc}:1", "{doc}:2", "{doc}:wrong_key_type", "{doc}:missing", "$.nested1.a", "[[3] [] <nil> <nil>]"},
		{"JSON.MGET", "{doc}:1", "{doc}:wrong_key_type", "{doc}:missing2", "$..niente", "[[] <nil> <nil>]"},
		{"JSON.MGET", "{doc}:1", "{doc}:2", "..a", "[1 4]"},
		{"JSON.MGET", "{doc}:1", "{doc}:2", "{doc}:wrong_key_type", "{doc}:missing", ".nested1.a", "[3 <nil> <nil> <nil>]"},
		{"JSON.MGET", "{doc}:1", "{doc}:wrong_key_type", "{doc}:missing2", ".niente", "[<nil> <nil> <nil>]"},
	}},
	{"numincrby nummultby", [][]string{
		{"JSON.SET", "doc1", "$", `{"a":"b","b":[{"a":2}, {"a":5.0}, {"a":"c"}]}`, "OK"},
		{"JSON.NUMINCRBY", "doc1", "$..a", "2", "[null,4,7.0,null]"},
		{"JSON.NUMINCRBY", "doc1", "$..a", "2.5", "[null,6.5,9.5,null]"},
		{"JSON.NUMINCRBY", "doc1", "$.b[1].a", "2", "[11.5]"},
		{"JSON.NUMINCRBY", "doc1", "$.b[2].a", "2", "[null]"},
		{"JSON.NUMINCRBY", "doc1", "$.b[1].a", "3.5", "[15.0]"},
		{"JSON.SET", "doc1", "$", `{"a":"b","b":[{"a":2}, {"a":5.0}, {"a":"c"}]}`, "OK"},
		{"JSON.NUMMULTBY", "doc1", "$..a", "2", "[null,4,10.0,null]"},
		{"JSON.NUMMULTBY", "doc1", "$..a", "2.5", "[null,10.0,25.0,null]"},
		{"JSON.NUMMULTBY", "doc1", "$.b[1].a", "2", "[50.0]"},
		{"JSON.NUMMULTBY", "doc1", "$.b[1].a", "3", "[150.0]"},
		{"JSON.NUMINCRBY", "non_existing_doc", "$..a", "2", "ERR: ERR could not perform this operation on a key that doesn't exist"},
		{"JSON.SET", "doc1", "$", `{"a":"b","b":[{"a":2}, {"a":5.0}, {"a":"c"}]}`, "OK"},
		{"JSON.NUMINCRBY", "doc1", ".b[0].a", "3", "5"},
		{"JSON.NUMMULTBY", "doc1", ".b[0].a", "3", "15"},
	}},
	{"strappend strlen", [][]string{
		{"JSON.SET", "doc1", "$", `{"a":"foo", "nested1": {"a": "hello"}, "nested2": {"a": 31}}`, "OK"},
		{"JSON.STRLEN", "doc1", "$..a", "[3 5 <nil>]"},
		{"JSON.STRAPPEND", "doc1", "$..a", `"bar"`, "[6 8 <nil>]"},
		{"JSON.GET", "doc1", "$", `[{"a":"foobar","nested1":{"a":"hellobar"},"nested2":{"a":31}}]`},
		{"JSON.STRAPPEND", "doc1", "$.nested1.a", `"baz"`, "[11]"},
		{"JSON.STRAPPEND", "non_existing_doc", "$..a", `"err"`, "ERR: ERR could not perform this operation on a key that doesn't exist"},
		{"JSON.STRLEN", "doc1", "..a", "6"},
		{"JSON.SET", "doc1", "$", `{"a":"foo", "nested1": {"a": "hello"}, "nested2": {"a": 31}}`, "OK"},
		{"JSON.STRAPPEND", "doc1", ".*.a", `"bar"`, "8"},
		{"JSON.GET", "doc1", "$", `[{"a":"foo","nested1":{"a":"hellobar"},"nested2":{"a":31}}]`},
		{"JSON.SET", "doc1", "$", `"abcd"`, "OK"},
		{"JSON.STRAPPEND", "doc1", `"piu"`, "7"},
		{"JSON.STRLEN", "doc1", "7"},
	}},
	{"arrappend arrinsert arrlen", [][]string{
		{"JSON.SET", "doc1", "$", `{"a":["foo"], "nested1": {"a": ["hello", null, "world"]}, "nested2": {"a": 31}}`, "OK"},
		{"JSON.ARRAPPEND", "doc1", "$..a", `"bar"`, `"racuda"`, "[3 5 <nil>]"},
		{"JSON.GET", "doc1", "$", `[{"a":["foo","bar","racuda"],"nested1":{"a":["hello",null,"world","bar","racuda"]},"nested2":{"a":31}}]`},
		{"JSON.ARRAPPEND", "non_existing_doc", "$..a", "ERR: ERR wrong number of arguments for 'json.arrappend' command"},
		{"JSON.SET", "doc1", "$", `{"a":["foo"], "nested1": {"a": ["hello", null, "world"]}, "nested2": {"a": 31}}`, "OK"},
		{"JSON.ARRAPPEND", "doc1", "..a", `"bar"`, `"racuda"`, "5"},
		{"JSON.SET", "doc1", "$", `{"a":["foo"], "nested1": {"a": ["hello", null, "world"]}, "nested2": {"a": 31}}`, "OK"},
		{"JSON.ARRINSERT", "doc1", "$..a", "1", `"bar"`, `"racuda"`, "[3 5 <nil>]"},
		{"JSON.GET", "doc1", "$", `[{"a":["foo","bar","racuda"],"nested1":{"a":["hello","bar","racuda",null,"world"]},"nested2":{"a":31}}]`},
		{"JSON.ARRINSERT", "doc1", "$.nested1.a", "-2", `"baz"`, "[6]"},
		{"JSON.GET", "doc1", "$.nested1.a", `[["hello","bar","racuda","baz",null,"world"]]`},
		{"JSON.ARRLEN", "doc1", "$..a", "[3 6 <nil>]"},
		{"JSON.CLEAR", "doc1", "$.a", "1"},
		{"JSON.ARRLEN", "doc1", "$..a", "[0 6 <nil>]"},
		{"JSON.ARRLEN", "non_existing_doc", "$..a", "ERR: ERR could not perform this operation on a key that doesn't exist"},
		{"JSON.ARRLEN", "non_existing_doc", "..a", "nil"},
		{"JSON.SET", "doc1", "$", "[0, 1, 2, 3, 4]", "OK"},
		{"JSON.ARRLEN", "doc1", "5"},
	}},
	{"arrpop arrtrim", [][]string{
		{"JSON.SET", "doc1", "$", `{"a":["foo"], "nested1": {"a": ["hello", null, "world"]}, "nested2": {"a": 31}}`, "OK"},
		{"JSON.ARRPOP", "doc1", "$..a", "1", `["foo" null <nil>]`},
		{"JSON.GET", "doc1", "$", `[{"a":[],"nested1":{"a":["hello","world"]},"nested2":{"a":31}}]`},
		{"JSON.ARRPOP", "doc1", "$..a", "-1", `[<nil> "world" <nil>]`},
		{"JSON.ARRPOP", "doc1", "$.nested1.a", "-2", `["hello"]`},
		{"JSON.SET", "doc1", "$", `{"a":["foo"], "nested1": {"a": ["hello", null, "world"]}, "nested2": {"a": 31}}`, "OK"},
		{"JSON.ARRPOP", "doc1", "..a", "1", "null"},
		{"JSON.ARRPOP", "doc1", ".nested1.a", "-2", `"hello"`},
		{"JSON.SET", "doc1", "$", "[0, 1, 2]", "OK"},
		{"JSON.ARRPOP", "doc1", "2"},
		{"JSON.ARRPOP", "doc1", "$", "[1]"},
		{"JSON.ARRPOP", "doc1", ".", "0"},
		{"JSON.SET", "doc1", "$", `{"a":["foo"], "nested1": {"a": ["hello", null, "world"]}, "nested2": {"a": 31}}`, "OK"},
		{"JSON.ARRTRIM", "doc1", "$..a", "1", "-1", "[0 2 <nil>]"},
		{"JSON.GET", "doc1", "$", `[{"a":[],"nested1":{"a":[null,"world"]},"nested2":{"a":31}}]`},
		{"JSON.ARRTRIM", "doc1", "$..a", "1", "1", "[0 1 <nil>]"},
		{"JSON.ARRTRIM", "doc1", "$.nested1.a", "1", "0", "[0]"},
		{"JSON.SET", "doc1", "$", `{"a":["foo"], "nested1": {"a": ["hello", null, "world"]}, "nested2": {"a": 31}}`, "OK"},
		{"JSON.ARRTRIM", "doc1", "..a", "1", "-1", "2"},
		{"JSON.ARRTRIM", "doc1", ".nested1.a", "1", "1", "1"},
	}},
	{"objkeys objlen type clear toggle", [][]string{
		{"JSON.SET", "doc1", "$", `{"nested1": {"a": {"foo": 10, "bar": 20}}, "a":["foo"], "nested2": {"a": {"baz":50}}}`, "OK"},
		{"JSON.OBJKEYS", "doc1", "$..a", "[<nil> [foo bar] [baz]]"},
		{"JSON.OBJKEYS", "doc1", ".*.a", "[foo bar]"},
		{"JSON.OBJKEYS", "non_existing_doc", "..a", "nil"},
		{"JSON.OBJKEYS", "doc1", "$.nowhere", "[]"},
		{"JSON.OBJKEYS", "doc1", "[nested1 a nested2]"},
		{"JSON.OBJLEN", "doc1", "$..a", "[<nil> 2 1]"},
		{"JSON.OBJLEN", "non_existing_doc", "$..a", "ERR: ERR Path does not exist or not an object"},
		{"JSON.OBJLEN", "doc1", ".*.a", "2"},
		{"JSON.OBJLEN", "doc1", ".nowhere", "nil"},
		{"JSON.OBJLEN", "doc1", "3"},
		{"JSON.SET", "doc1", "$", `{"nested1": {"a": {}}, "nested2": {"a": []}, "nested3": {"a": "str"}, "nested4": {"a": 42}, "nested5": {"a": 1.2}, "nested6": {"a": false}, "nested7": {"a": null}}`, "OK"},
		{"JSON.TYPE", "doc1", "$..a", "[object array string integer number boolean null]"},
		{"JSON.TYPE", "doc1", "..a", "object"},
		{"JSON.SET", "doc1", "$", `{"nested1": {"a": {"foo": 10, "bar": 20}}, "a":["foo"], "nested2": {"a": "claro"}, "nested3": {"a": {"baz":50}}}`, "OK"},
		{"JSON.CLEAR", "doc1", "$..a", "3"},
		{"JSON.GET", "doc1", "$", `[{"nested1":{"a":{}},"a":[],"nested2":{"a":"claro"},"nested3":{"a":{}}}]`},
		{"JSON.CLEAR", "doc1", "$..a", "0"},
		{"JSON.CLEAR", "doc1", "1"},
		{"JSON.GET", "doc1", "$", "[{}]"},
		{"JSON.SET", "doc1", "$", `{"a":["foo"], "nested1": {"a": false}, "nested2": {"a": 31}, "nested3": {"a": true}}`, "OK"},
		{"JSON.TOGGLE", "doc1", "$..a", "[<nil> 1 <nil> 0]"},
		{"JSON.GET", "doc1", "$", `[{"a":["foo"],"nested1":{"a":true},"nested2":{"a":31},"nested3":{"a":false}}]`},
	}},
	{"resp", [][]string{
		{"JSON.SET", "doc1", "$", `{"L1":{"a":{"A1_B1":10,"A1_B2":false,"A1_B3":{"A1_B3_C1":null,"A1_B3_C2":["A1_B3_C2_D1_1",-19.5,{"E1":true}],"A1_B3_C3":[1]}}}}`, "OK"},
		{"JSON.RESP", "doc1", "$..a", "[[{ A1_B1 10 A1_B2 false A1_B3 [{ A1_B3_C1 <nil> A1_B3_C2 [[ A1_B3_C2_D1_1 -19.5 [{ E1 true]] A1_B3_C3 [[ 1]]]]"},
		{"JSON.RESP", "doc1", "$.nowhere", "[]"},
		{"JSON.RESP", "non_existing_doc", "$..a", "nil"},
		{"JSON.SET", "doc1", "$", "[[1],[2]]", "OK"},
		{"JSON.RESP", "doc1", "[[ [[ 1] [[ 2]]"},
	}},
	{"filter without duplicates, mutations over $..* deepest first", [][]string{
		{"JSON.SET", "test", "$", `[{"name":{"first":"Markss","middle":"S","last":"Pronto"},"rank":1},{"name":{"first":"A","middle":"A","last":"Pronto"},"rank":8},{"name":{"first":"A","middle":"A","last":"Pronto"},"rank":90}]`, "OK"},
		{"JSON.GET", "test", `$.[?(@.name.first=="A")]`, `[{"name":{"first":"A","middle":"A","last":"Pronto"},"rank":8},{"name":{"first":"A","middle":"A","last":"Pronto"},"rank":90}]`},
		{"JSON.SET", "k", "$", `{"a":[[1,2,3],[4,5,6]]}`, "OK"},
		{"JSON.ARRPOP", "k", "$..*", "-1", "[[4,5] 3 6 <nil> <nil> <nil> <nil> <nil> <nil>]"}, // children first
		{"JSON.GET", "k", "$.a", "[[[1,2]]]"},
		{"JSON.SET", "k", "$", `{"a":[[1,2,3],[4,5,6]]}`, "OK"},
		{"JSON.ARRTRIM", "k", "$..*", "0", "0", "[1 1 1 <nil> <nil> <nil> <nil> <nil> <nil>]"},
		{"JSON.GET", "k", "$.a", "[[[1]]]"},
		{"JSON.SET", "k", "$", `{"a":[[1,2],[3,4]]}`, "OK"},
		{"JSON.ARRINSERT", "k", "$..*", "0", "99", "[3 3 3 <nil> <nil> <nil> <nil>]"},
		{"JSON.GET", "k", "$.a", "[[99,[99,1,2],[99,3,4]]]"},
	}},
	{"arrindex", [][]string{
		{"JSON.SET", "store", "$", `{"store":{"book":[{"price":8.95,"size":[10,20,30,40]},{"price":12.99,"size":[50,60,70,80]},{"price":8.99,"size":[5,10,20,30]},{"price":22.99,"size":[5,6,7,8]}]}}`, "OK"},
		{"JSON.GET", "store", "$.store.book[?(@.price<10)].size", "[[10,20,30,40],[5,10,20,30]]"},
		{"JSON.ARRINDEX", "store", "$.store.book[?(@.price<10)].size", "20", "[1 2]"},
		{"JSON.SET", "test_num", ".", `[{"arr":[0,1,3.0,3,2,1,0,3]},{"nested1_found":{"arr":[5,4,3,2,1,0,1,2,3.0,2,4,5]}},{"nested2_not_found":{"arr":[2,4,6]}},{"nested3_scalar":{"arr":"3"}},[{"nested41_not_arr":{"arr_renamed":[1,2,3]}},{"nested42_empty_arr":{"arr":[]}}]]`, "OK"},
		{"JSON.GET", "test_num", "$..arr", `[[0,1,3.0,3,2,1,0,3],[5,4,3,2,1,0,1,2,3.0,2,4,5],[2,4,6],"3",[]]`},
		{"JSON.ARRINDEX", "test_num", "$..arr", "3", "[3 2 -1 <nil> -1]"},
		{"JSON.ARRINDEX", "test_num", "$..arr", "3.0", "[2 8 -1 <nil> -1]"},
		{"JSON.SET", "test_string", ".", `[{"arr":["bazzz","bar",2,"baz",2,"ba","baz",3]},{"nested1_found":{"arr":[null,"baz2","buzz",2,1,0,1,"2","baz",2,4,5]}},{"nested2_not_found":{"arr":["baz2",4,6]}},{"nested3_scalar":{"arr":"3"}},[{"nested41_arr":{"arr_renamed":[1,"baz",3]}},{"nested42_empty_arr":{"arr":[]}}]]`, "OK"},
		{"JSON.ARRINDEX", "test_string", "$..arr", `"baz"`, "[3 8 -1 <nil> -1]"},
		{"JSON.ARRINDEX", "test_string", "$..arr", `"baz"`, "4", "[6 8 -1 <nil> -1]"},
		{"JSON.ARRINDEX", "test_string", "$..arr", `"baz"`, "-5", "[3 8 -1 <nil> -1]"},
		{"JSON.ARRINDEX", "test_string", "$..arr", `"baz"`, "4", "7", "[6 -1 -1 <nil> -1]"},
		{"JSON.ARRINDEX", "test_string", "$..arr", `"baz"`, "4", "-1", "[6 8 -1 <nil> -1]"},
		{"JSON.ARRINDEX", "test_string", "$..arr", `"baz"`, "4", "0", "[6 8 -1 <nil> -1]"},
		{"JSON.ARRINDEX", "test_string", "$..arr", "5", "7", "-1", "[-1 -1 -1 <nil> -1]"},
		{"JSON.ARRINDEX", "test_string", "$..arr", "5", "7", "0", "[-1 11 -1 <nil> -1]"},
		{"JSON.ARRINDEX", "test_string", ".[0].arr", `"baz"`, "3"},
		{"JSON.ARRINDEX", "test_string", ".[0].arr", `"faz"`, "-1"},
		{"JSON.ARRINDEX", "test_num", ".[0].arr_not", "3", "ERR: ERR Path does not exist"},
		{"JSON.SET", "test_null", ".", `[{"arr":["bazzz","null",2,null,2,"ba","baz",3]},{"nested42_empty_arr":{"arr":[]}}]`, "OK"},
		{"JSON.ARRINDEX", "test_null", "$..arr", "null", "[3 -1]"},
		{"JSON.ARRINDEX", "test_null", "$.[1].nested42_empty_arr.arr", `{"arr":[]}`, "[-1]"},
		{"JSON.ARRINDEX", "test_null", ".[1].nested42_empty_arr.arr", `{"arr":[]}`, "-1"},
	}},
}

func TestJSONAsRedisJSONTests(t *testing.T) {
	_, _, connect := scriptDB(t, devapi.PlaneConfig{})
	c := resp2(t, connect) // RedisJSON's tests speak RESP2
	for _, tc := range redisJSONCases {
		t.Run(tc.name, func(t *testing.T) {
			if err := c.FlushAll(t.Context()).Err(); err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.steps {
				args := make([]any, len(s)-1)
				for i, a := range s[:len(s)-1] {
					args[i] = a
				}
				if got, want := answer(t, c, args...), s[len(s)-1]; got != want {
					t.Errorf("%q\n got %s\nwant %s", s[:len(s)-1], got, want)
				}
			}
		})
	}
}
