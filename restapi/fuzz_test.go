package restapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// referenceCommand decodes one command the way encoding/json reads it: a
// non-empty array of strings, numbers (as written), booleans and nulls ("").
func referenceCommand(dec *json.Decoder) ([]string, bool) {
	var raw []any
	if err := dec.Decode(&raw); err != nil || len(raw) == 0 {
		return nil, false
	}
	args := make([]string, len(raw))
	for i, v := range raw {
		switch v := v.(type) {
		case string:
			args[i] = v
		case json.Number:
			args[i] = v.String()
		case bool:
			args[i] = map[bool]string{true: "true", false: "false"}[v]
		case nil:
		default:
			return nil, false
		}
	}
	return args, true
}

// decoded returns the commands of cmds as [][]string.
func decoded(cmds *commands) [][]string {
	var out [][]string
	for i := range cmds.len() {
		lo, hi := cmds.command(i)
		var args []string
		for j := lo; j < hi; j++ {
			args = append(args, string(cmds.arg(j)))
		}
		out = append(out, args)
	}
	return out
}

// FuzzCommandDecoder: the streaming decoder of POST / and /pipeline bodies
// accepts exactly what encoding/json accepts as a command (or an array of
// commands) followed by nothing but white space, with the same arguments,
// and never panics.
func FuzzCommandDecoder(f *testing.F) {
	for _, s := range []string{`["SET","k","v"]`, `[["PING"],["GET","k"]]`, `["INCRBY","n",1.5e3,true,null]`,
		`["GET","k"] trailing`, `[]`, `[[]]`, `["a\u0000\ud800"]`, "[\"\xff\"]", `[{"a":1}]`, `[["x"],`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		const limit = 1 << 20
		// One command.
		var one commands
		err := parseCommand(bytes.NewReader(body), limit, &one)
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		want, ok := referenceCommand(dec)
		ok = ok && atEnd(dec)
		var re *requestError
		if err != nil && !errors.As(err, &re) {
			t.Fatalf("parseCommand(%q): %v is not a requestError", body, err)
		}
		if (err == nil) != ok {
			t.Fatalf("parseCommand(%q): err %v, encoding/json ok=%v", body, err, ok)
		}
		if ok && !slices.Equal(decoded(&one)[0], want) {
			t.Fatalf("parseCommand(%q) = %q, encoding/json %q", body, decoded(&one), want)
		}

		// An array of commands.
		var many commands
		err = parseCommands(bytes.NewReader(body), limit, 1000, &many)
		var raw []json.RawMessage
		var wantMany [][]string
		ok = json.Unmarshal(body, &raw) == nil && len(raw) > 0 && len(raw) <= 1000
		for _, r := range raw {
			d := json.NewDecoder(bytes.NewReader(r))
			d.UseNumber()
			args, good := referenceCommand(d)
			ok = ok && good
			wantMany = append(wantMany, args)
		}
		if (err == nil) != ok {
			t.Fatalf("parseCommands(%q): err %v, encoding/json ok=%v", body, err, ok)
		}
		if ok && !slices.EqualFunc(decoded(&many), wantMany, slices.Equal) {
			t.Fatalf("parseCommands(%q) = %q, encoding/json %q", body, decoded(&many), wantMany)
		}
	})
}

// atEnd reports whether only white space follows what dec read.
func atEnd(dec *json.Decoder) bool {
	_, err := dec.Token()
	return errors.Is(err, io.EOF)
}

// FuzzPathCommand: a path-style command built from any arguments, each
// escaped as a client escapes it, decodes to those arguments; any raw path
// and query decode without a panic.
func FuzzPathCommand(f *testing.F) {
	f.Add("set", "k/ey", "v%20x", "EX", "100", "")
	f.Add("get", "\x00\xff", "", "_token", "secret", "body")
	f.Add("%zz", "a", "b", "c=", "&", "")
	f.Fuzz(func(t *testing.T, cmd, a, b, qk, qv, body string) {
		if cmd == "" || a == "" || b == "" {
			return
		}
		path := "/" + url.PathEscape(cmd) + "/" + url.PathEscape(a) + "/" + url.PathEscape(b)
		r, err := http.NewRequest(http.MethodPost, "http://rest"+path, nil)
		if err != nil {
			return // not a URL net/http would serve
		}
		r.URL.RawQuery = url.QueryEscape(qk) + "=" + url.QueryEscape(qv)
		var cmds commands
		if err := pathCommand(r, []byte(body), &cmds); err != nil {
			t.Fatalf("path %q query %q: %v", path, r.URL.RawQuery, err)
		}
		want := []string{cmd, a, b}
		if body != "" {
			want = append(want, body)
		}
		if qk != "_token" { // "=v" is an empty argument, then v
			want = append(want, qk)
			if qv != "" {
				want = append(want, qv)
			}
		}
		if got := decoded(&cmds)[0]; !slices.Equal(got, want) {
			t.Fatalf("path %q query %q body %q: %q, want %q", path, r.URL.RawQuery, body, got, want)
		}

		// Anything as the raw path and query: an error or arguments.
		raw := &http.Request{URL: &url.URL{RawPath: "/" + cmd + "/" + a, Path: "/" + cmd + "/" + a, RawQuery: qk + "&" + qv}}
		var any commands
		_ = pathCommand(raw, nil, &any)
	})
}

// FuzzAnswerStrings: a string written into an answer in parts cut anywhere
// reads as encoding/json writes it, or as its base64 when the answer is
// base64-encoded.
func FuzzAnswerStrings(f *testing.F) {
	f.Add([]byte("é漢字🙂\u2028<>&\x00\xff"), uint16(3), false)
	f.Add([]byte("OK"), uint16(1), true)
	f.Add([]byte("\xe6\x97"), uint16(1), true)
	f.Fuzz(func(t *testing.T, s []byte, cut uint16, b64 bool) {
		adm := newAdmission(Limits{MaxDatabaseRequests: 1, MaxDatabaseInFlightBytes: 1 << 30, MaxInFlightBytes: 1 << 30})
		a := &answer{t: adm.enter("db"), limit: 1 << 30}
		e := &encoder{out: a}
		e.raw(`"`)
		rest := s
		step := int(cut)%7 + 1
		for len(rest) > step {
			n := e.stringPart(rest[:step], b64, false)
			rest = rest[n:]
			if n == 0 {
				// A part too short to consume: join it to the next.
				step++
			}
		}
		e.stringPart(rest, b64, true)
		e.raw(`"`)
		if err := e.flush(); err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		_ = a.writeTo(&got)
		want, _ := json.Marshal(string(s))
		if b64 {
			want, _ = json.Marshal(base64.StdEncoding.EncodeToString(s))
		}
		if got.String() != string(want) {
			t.Fatalf("%q in parts of %d (base64 %v): %s, want %s", s, int(cut)%7+1, b64, got.String(), want)
		}
		if !strings.HasPrefix(got.String(), `"`) {
			t.Fatal("not a JSON string")
		}
	})
}
