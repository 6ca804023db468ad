package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/devapi-dev/devapi/upstash"
)

// Data browser page sizes: keys per SCAN call, elements shown of one key.
const (
	scanCount = 100
	showItems = 200
	showBytes = 64 << 10 // of a string's value
	// showKeys bounds the keys of one page: a plane may answer a SCAN step
	// with every key, whatever COUNT says (miniredis does).
	showKeys = 500
)

// reply is one command's answer from the REST API.
type reply struct {
	Result any    `json:"result"`
	Error  string `json:"error"`
}

// errREST is an answer of the REST API that is not a command's reply (a
// refused token, a limit); its message is the REST API's own.
type errREST struct {
	status int
	msg    string
}

func (e *errREST) Error() string { return fmt.Sprintf("the REST API answered %d: %s", e.status, e.msg) }

// rest sends body to the REST API's path as the database's token, through
// the REST handler in process, and decodes the answer into out.
func (c *Console) rest(ctx context.Context, token, path string, body any, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://devapi-rest.invalid"+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	hc := &http.Client{Transport: handlerTransport{h: c.cfg.REST}, Timeout: apiTimeout}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e reply
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			if resp.StatusCode == http.StatusBadRequest && path == "/" {
				// A command's own error: the caller shows it as the reply.
				return decode(raw, out)
			}
			return &errREST{status: resp.StatusCode, msg: e.Error}
		}
		return &errREST{status: resp.StatusCode, msg: strings.ToLower(http.StatusText(resp.StatusCode))}
	}
	return decode(raw, out)
}

// decode reads a JSON answer keeping numbers as written.
func decode(raw []byte, out any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	return d.Decode(out)
}

// command runs one command on the database as its REST API does.
func (c *Console) command(ctx context.Context, token string, args ...string) (reply, error) {
	var r reply
	err := c.rest(ctx, token, "/", args, &r)
	return r, err
}

// pipeline runs commands in one REST pipeline, one reply each.
func (c *Console) pipeline(ctx context.Context, token string, cmds ...[]string) ([]reply, error) {
	var rs []reply
	if err := c.rest(ctx, token, "/pipeline", cmds, &rs); err != nil {
		return nil, err
	}
	if len(rs) != len(cmds) {
		return nil, errors.New("the REST API answered a pipeline with the wrong number of replies")
	}
	return rs, nil
}

// restMessage is an error of a REST call as a sentence for the page.
func (c *Console) restMessage(r *http.Request, err error) string {
	if e, ok := errors.AsType[*errREST](err); ok {
		return "The REST API answered " + strconv.Itoa(e.status) + ": " + e.msg
	}
	return c.apiMessage(r, err)
}

// keyRow is one key of a SCAN page.
type keyRow struct {
	Key, Type, TTL string
}

// dataView is the data browser page's data.
type dataView struct {
	Match, Cursor, Next string
	Keys                []keyRow
	Found               int // keys this step of the scan found, when more than Keys
	Types               []string
	Line                string // the command line's last command
	Result              string // its reply, as JSON
	ResultError         string
	Error               string // a SCAN that failed
}

// keyTypes are the types the add form offers.
var keyTypes = []string{"string", "hash", "list", "set", "zset", "stream", "json"}

// databaseForData fetches the database with its credentials: the API's
// access check, and the REST token the data browser uses.
func (c *Console) databaseForData(w http.ResponseWriter, r *http.Request, s *session) (*upstash.Database, bool) {
	db, err := s.client.GetDatabase(r.Context(), r.PathValue("id"), false)
	if err != nil {
		c.apiFailed(w, r, s, err, "")
		return nil, false
	}
	return db, true
}

// dataBrowser handles GET /databases/{id}/data?match=...&cursor=...: a page
// of SCAN.
func (c *Console) dataBrowser(w http.ResponseWriter, r *http.Request, s *session) {
	db, ok := c.databaseForData(w, r, s)
	if !ok {
		return
	}
	dv := c.scan(r, db, r.URL.Query().Get("match"), r.URL.Query().Get("cursor"))
	c.renderData(w, r, s, db, dv)
}

func (c *Console) renderData(w http.ResponseWriter, r *http.Request, s *session, db *upstash.Database, dv dataView) {
	v := c.page(s, "Data of "+db.Name, "databases")
	v.DB, v.Tab, v.Data = db, "data", dv
	c.render(w, r, http.StatusOK, "data", v)
}

// scan reads one page of keys matching match from cursor, with each key's
// type and TTL.
func (c *Console) scan(r *http.Request, db *upstash.Database, match, cursor string) dataView {
	if match == "" {
		match = "*"
	}
	if _, err := strconv.ParseUint(cursor, 10, 64); err != nil {
		cursor = "0"
	}
	dv := dataView{Match: match, Cursor: cursor, Types: keyTypes}
	rep, err := c.command(r.Context(), db.RestToken, "SCAN", cursor, "MATCH", match, "COUNT", strconv.Itoa(scanCount))
	if err != nil {
		dv.Error = c.restMessage(r, err)
		return dv
	}
	if rep.Error != "" {
		dv.Error = rep.Error
		return dv
	}
	pair, _ := rep.Result.([]any)
	if len(pair) != 2 {
		dv.Error = "SCAN answered in an unexpected shape"
		return dv
	}
	if next, _ := pair[0].(string); next != "0" {
		dv.Next = next
	}
	keys, _ := pair[1].([]any)
	if len(keys) > showKeys {
		dv.Found, keys = len(keys), keys[:showKeys]
	}
	var cmds [][]string
	for _, k := range keys {
		ks, _ := k.(string)
		dv.Keys = append(dv.Keys, keyRow{Key: ks})
		cmds = append(cmds, []string{"TYPE", ks}, []string{"TTL", ks})
	}
	if len(cmds) == 0 {
		return dv
	}
	reps, err := c.pipeline(r.Context(), db.RestToken, cmds...)
	if err != nil {
		dv.Error = c.restMessage(r, err)
		return dv
	}
	for i := range dv.Keys {
		dv.Keys[i].Type = text(reps[2*i].Result)
		dv.Keys[i].TTL = ttlText(reps[2*i+1].Result)
	}
	return dv
}

// text is a reply's string, number or nil as text.
func text(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case json.Number:
		return v.String()
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// ttlText is a TTL reply for people.
func ttlText(v any) string {
	switch t := text(v); t {
	case "-1":
		return "none"
	case "-2":
		return "gone"
	default:
		return t + " s"
	}
}

// keyView is the key page's data.
type keyView struct {
	Key, Type, TTL string
	Value          string     // a string's or JSON document's value
	Columns        []string   // the element table's header
	Rows           [][]string // elements, as many as shown
	Total          string     // how many elements the key has
	Partial        bool       // Rows holds fewer than Total, or Value is a string's first bytes
	Error          string
}

// keyPage handles GET /databases/{id}/key?key=...: one key, any type.
func (c *Console) keyPage(w http.ResponseWriter, r *http.Request, s *session) {
	db, ok := c.databaseForData(w, r, s)
	if !ok {
		return
	}
	kv := c.readKey(r, db, r.URL.Query().Get("key"))
	v := c.page(s, "Key "+kv.Key+" of "+db.Name, "databases")
	v.DB, v.Tab, v.Data = db, "data", kv
	status := http.StatusOK
	if kv.Type == "none" {
		status = http.StatusNotFound
	}
	c.render(w, r, status, "key", v)
}

// readKey reads a key's type, TTL and (the first showItems of) its value.
func (c *Console) readKey(r *http.Request, db *upstash.Database, key string) keyView {
	kv := keyView{Key: key}
	reps, err := c.pipeline(r.Context(), db.RestToken, []string{"TYPE", key}, []string{"TTL", key})
	if err != nil {
		kv.Error = c.restMessage(r, err)
		return kv
	}
	kv.Type, kv.TTL = text(reps[0].Result), ttlText(reps[1].Result)
	n := strconv.Itoa(showItems - 1)
	var cmds [][]string
	switch kv.Type {
	case "none":
		kv.Error = "There is no such key (it may have expired or been deleted)."
		return kv
	case "string":
		// A large value is shown in part, and then not offered for editing:
		// saving a part would cut the value.
		cmds = [][]string{{"STRLEN", key}, {"GETRANGE", key, "0", strconv.Itoa(showBytes - 1)}}
	case "hash":
		cmds = [][]string{{"HLEN", key}, {"HSCAN", key, "0", "COUNT", strconv.Itoa(showItems)}}
		kv.Columns = []string{"field", "value"}
	case "list":
		cmds = [][]string{{"LLEN", key}, {"LRANGE", key, "0", n}}
		kv.Columns = []string{"index", "element"}
	case "set":
		cmds = [][]string{{"SCARD", key}, {"SSCAN", key, "0", "COUNT", strconv.Itoa(showItems)}}
		kv.Columns = []string{"member"}
	case "zset":
		cmds = [][]string{{"ZCARD", key}, {"ZRANGE", key, "0", n, "WITHSCORES"}}
		kv.Columns = []string{"member", "score"}
	case "stream":
		cmds = [][]string{{"XLEN", key}, {"XRANGE", key, "-", "+", "COUNT", strconv.Itoa(showItems)}}
		kv.Columns = []string{"id", "fields"}
	case "ReJSON-RL", "json":
		cmds = [][]string{{"JSON.TYPE", key}, {"JSON.GET", key}}
	default:
		kv.Error = "The console cannot show a key of type " + kv.Type + "; use the command line."
		return kv
	}
	reps, err = c.pipeline(r.Context(), db.RestToken, cmds...)
	if err != nil {
		kv.Error = c.restMessage(r, err)
		return kv
	}
	for _, rep := range reps {
		if rep.Error != "" {
			kv.Error = rep.Error
			return kv
		}
	}
	kv.Total = text(reps[0].Result)
	items, _ := reps[1].Result.([]any)
	switch kv.Type {
	case "string", "ReJSON-RL", "json":
		kv.Value = text(reps[1].Result)
	case "hash", "set":
		pair, _ := reps[1].Result.([]any) // [cursor, elements]
		if len(pair) == 2 {
			items, _ = pair[1].([]any)
		}
		step := 2
		if kv.Type == "set" {
			step = 1
		}
		for i := 0; i+step <= len(items) && len(kv.Rows) < showItems; i += step {
			row := []string{text(items[i])}
			if step == 2 {
				row = append(row, text(items[i+1]))
			}
			kv.Rows = append(kv.Rows, row)
		}
	case "list":
		for i, it := range items {
			kv.Rows = append(kv.Rows, []string{strconv.Itoa(i), text(it)})
		}
	case "zset":
		for i := 0; i+1 < len(items); i += 2 {
			kv.Rows = append(kv.Rows, []string{text(items[i]), text(items[i+1])})
		}
	case "stream":
		for _, it := range items {
			entry, _ := it.([]any)
			if len(entry) != 2 {
				continue
			}
			fields, _ := entry[1].([]any)
			var b strings.Builder
			for i := 0; i+1 < len(fields); i += 2 {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(text(fields[i]) + "=" + text(fields[i+1]))
			}
			kv.Rows = append(kv.Rows, []string{text(entry[0]), b.String()})
		}
	}
	if total, err := strconv.Atoi(kv.Total); err == nil {
		switch {
		case kv.Columns != nil:
			kv.Partial = len(kv.Rows) < total
		case kv.Type == "string":
			kv.Partial = len(kv.Value) < total
		}
	}
	return kv
}

// removal is the hidden fields of an element's Remove button.
type removal struct {
	Op, Name, Value string
}

// elementDelete is how to remove the element row of a key of type typ, or
// nil.
func elementDelete(typ string, row []string) *removal {
	switch {
	case typ == "hash" && len(row) > 0:
		return &removal{"hdel", "field", row[0]}
	case typ == "list" && len(row) > 1:
		return &removal{"lrem", "value", row[1]}
	case typ == "set" && len(row) > 0:
		return &removal{"srem", "value", row[0]}
	case typ == "zset" && len(row) > 0:
		return &removal{"zrem", "value", row[0]}
	case typ == "stream" && len(row) > 0:
		return &removal{"xdel", "field", row[0]}
	}
	return nil
}

// keyPath is the console path of a key's page.
func keyPath(dbID, key string) string {
	return dbPath(dbID, "key") + "?key=" + url.QueryEscape(key)
}

// editKey handles POST /databases/{id}/key: one change to one key, named by
// op, as the REST API runs it.
func (c *Console) editKey(w http.ResponseWriter, r *http.Request, s *session) {
	db, ok := c.databaseForData(w, r, s)
	if !ok {
		return
	}
	f := r.PostForm
	key := f.Get("key")
	back := keyPath(db.ID, key)
	var args []string
	switch f.Get("op") {
	case "set":
		args = []string{"SET", key, f.Get("value"), "KEEPTTL"}
	case "ttl":
		if ttl := strings.TrimSpace(f.Get("ttl")); ttl == "" || ttl == "-1" {
			args = []string{"PERSIST", key}
		} else {
			args = []string{"EXPIRE", key, ttl}
		}
	case "delete":
		args, back = []string{"DEL", key}, dbPath(db.ID, "data")
	case "hset":
		args = []string{"HSET", key, f.Get("field"), f.Get("value")}
	case "hdel":
		args = []string{"HDEL", key, f.Get("field")}
	case "rpush":
		args = []string{"RPUSH", key, f.Get("value")}
	case "lset":
		args = []string{"LSET", key, f.Get("index"), f.Get("value")}
	case "lrem":
		args = []string{"LREM", key, "1", f.Get("value")}
	case "sadd":
		args = []string{"SADD", key, f.Get("value")}
	case "srem":
		args = []string{"SREM", key, f.Get("value")}
	case "zadd":
		args = []string{"ZADD", key, f.Get("score"), f.Get("value")}
	case "zrem":
		args = []string{"ZREM", key, f.Get("value")}
	case "xadd":
		args = []string{"XADD", key, "*", f.Get("field"), f.Get("value")}
	case "xdel":
		args = []string{"XDEL", key, f.Get("field")}
	case "json-set":
		args = []string{"JSON.SET", key, "$", f.Get("value")}
	default:
		c.fail(w, r, s, http.StatusBadRequest, "There is no such change.")
		return
	}
	c.runEdit(w, r, s, db, args, back)
}

// runEdit runs one changing command and returns to back with its outcome.
func (c *Console) runEdit(w http.ResponseWriter, r *http.Request, s *session, db *upstash.Database, args []string, back string) {
	rep, err := c.command(r.Context(), db.RestToken, args...)
	switch {
	case err != nil:
		c.setFlash(s, true, c.restMessage(r, err))
	case rep.Error != "":
		c.setFlash(s, true, args[0]+": "+rep.Error)
	default:
		c.setFlash(s, false, args[0]+": "+result(rep.Result))
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// addKey handles POST /databases/{id}/data/add: a new key of a type, with
// its first value and an optional TTL.
func (c *Console) addKey(w http.ResponseWriter, r *http.Request, s *session) {
	db, ok := c.databaseForData(w, r, s)
	if !ok {
		return
	}
	f := r.PostForm
	key, value := f.Get("key"), f.Get("value")
	var args []string
	switch f.Get("type") {
	case "string":
		args = []string{"SET", key, value}
	case "hash":
		args = []string{"HSET", key, f.Get("field"), value}
	case "list":
		args = []string{"RPUSH", key, value}
	case "set":
		args = []string{"SADD", key, value}
	case "zset":
		args = []string{"ZADD", key, f.Get("field"), value}
	case "stream":
		args = []string{"XADD", key, "*", f.Get("field"), value}
	case "json":
		args = []string{"JSON.SET", key, "$", value}
	default:
		c.fail(w, r, s, http.StatusBadRequest, "There is no such type.")
		return
	}
	back := keyPath(db.ID, key)
	cmds := [][]string{args}
	if ttl := strings.TrimSpace(f.Get("ttl")); ttl != "" {
		cmds = append(cmds, []string{"EXPIRE", key, ttl})
	}
	reps, err := c.pipeline(r.Context(), db.RestToken, cmds...)
	if err != nil {
		c.setFlash(s, true, c.restMessage(r, err))
		http.Redirect(w, r, dbPath(db.ID, "data"), http.StatusSeeOther)
		return
	}
	for i, rep := range reps {
		if rep.Error != "" {
			c.setFlash(s, true, cmds[i][0]+": "+rep.Error)
			http.Redirect(w, r, dbPath(db.ID, "data"), http.StatusSeeOther)
			return
		}
	}
	c.done(w, r, s, back, "Key added.")
}

// runCommand handles POST /databases/{id}/data/command: one command line, run
// as the REST API runs it, its reply shown under the key list.
func (c *Console) runCommand(w http.ResponseWriter, r *http.Request, s *session) {
	db, ok := c.databaseForData(w, r, s)
	if !ok {
		return
	}
	line := r.PostForm.Get("line")
	dv := c.scan(r, db, r.PostForm.Get("match"), "0")
	dv.Line = line
	args, err := splitArgs(line)
	switch {
	case err != nil:
		dv.ResultError = err.Error()
	case len(args) == 0:
		dv.ResultError = "type a command, such as GET key"
	default:
		rep, err := c.command(r.Context(), db.RestToken, args...)
		switch {
		case err != nil:
			dv.ResultError = c.restMessage(r, err)
		case rep.Error != "":
			dv.ResultError = rep.Error
		default:
			dv.Result = result(rep.Result)
		}
	}
	c.renderData(w, r, s, db, dv)
}

// result writes a reply's result as indented JSON, as the REST API sent it.
func result(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return text(v)
	}
	return string(b)
}

// splitArgs splits a command line into arguments as redis-cli does: spaces
// separate, "double quotes" take \" \\ \n \r \t escapes, 'single quotes'
// take none.
func splitArgs(line string) ([]string, error) {
	var args []string
	var cur strings.Builder
	inArg := false
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r':
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		case ch == '"':
			inArg = true
			i++
			for ; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) {
					i++
					switch line[i] {
					case 'n':
						cur.WriteByte('\n')
					case 'r':
						cur.WriteByte('\r')
					case 't':
						cur.WriteByte('\t')
					default:
						cur.WriteByte(line[i])
					}
					continue
				}
				cur.WriteByte(line[i])
			}
			if i >= len(line) {
				return nil, errors.New("unbalanced quotes")
			}
		case ch == '\'':
			inArg = true
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return nil, errors.New("unbalanced quotes")
			}
			cur.WriteString(line[i+1 : i+1+end])
			i += end + 1
		default:
			inArg = true
			cur.WriteByte(ch)
		}
	}
	if inArg {
		args = append(args, cur.String())
	}
	return args, nil
}
