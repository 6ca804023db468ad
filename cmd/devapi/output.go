package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// column is one column of a list table: its header and the API field it shows.
type column struct {
	header string
	key    string
}

// view says how --output table shows an answer: a list with columns, or,
// with no columns, one object as field/value rows.
type view struct {
	columns []column
}

// objectView shows one object, a field a row.
var objectView = view{}

// listView shows a list, an item a row.
func listView(columns []column) view { return view{columns: columns} }

// printAnswer writes a to w in the given output format.
func printAnswer(w io.Writer, output string, a answer) error {
	if output == outputTable {
		return printTable(w, a)
	}
	b, err := json.MarshalIndent(a.value, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// printTable writes a as an aligned table for people. Passwords and tokens
// are never shown: they are in the JSON output only.
func printTable(w io.Writer, a answer) error {
	if s, isString := a.value.(string); isString { // "OK"
		_, err := fmt.Fprintln(w, s)
		return err
	}
	raw, err := json.Marshal(a.value)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if a.view.columns != nil {
		err = writeList(tw, raw, a.view.columns)
	} else {
		err = writeObject(tw, raw)
	}
	if err != nil {
		return err
	}
	return tw.Flush()
}

func writeList(w io.Writer, raw json.RawMessage, columns []column) error {
	var items []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return fmt.Errorf("table output: %w", err)
	}
	headers := make([]string, len(columns))
	for i, c := range columns {
		headers[i] = c.header
	}
	fmt.Fprintln(w, strings.Join(headers, "\t"))
	for _, item := range items {
		cells := make([]string, len(columns))
		for i, c := range columns {
			cells[i] = cell(c.key, item[c.key])
		}
		fmt.Fprintln(w, strings.Join(cells, "\t"))
	}
	return nil
}

func writeObject(w io.Writer, raw json.RawMessage) error {
	fields, err := objectFields(raw)
	if err != nil {
		return fmt.Errorf("table output: %w", err)
	}
	fmt.Fprintln(w, "FIELD\tVALUE")
	for _, f := range fields {
		if secret(f.key) {
			continue
		}
		fmt.Fprintf(w, "%s\t%s\n", f.key, cell(f.key, f.value))
	}
	return nil
}

// field is one member of a JSON object.
type field struct {
	key   string
	value json.RawMessage
}

// objectFields are the members of a JSON object, in their order.
func objectFields(raw json.RawMessage) ([]field, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object: %s", truncate(raw))
	}
	var fields []field
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		fields = append(fields, field{key, v})
	}
	return fields, nil
}

// secret reports whether a field holds a credential.
func secret(key string) bool {
	return strings.Contains(key, "password") || strings.Contains(key, "token")
}

// timeFields hold Unix seconds, shown as UTC times.
var timeFields = map[string]bool{"creation_time": true, "next_daily_backup_time": true, "last_plan_upgrade_time": true}

// cell formats one JSON value for a table.
func cell(key string, raw json.RawMessage) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if len(raw) == 0 || dec.Decode(&v) != nil {
		return "-"
	}
	switch v := v.(type) {
	case nil:
		return "-"
	case string:
		if v == "" {
			return "-"
		}
		return v
	case json.Number:
		if timeFields[key] {
			if n, err := v.Int64(); err == nil {
				if n == 0 {
					return "-"
				}
				return time.Unix(n, 0).UTC().Format(time.RFC3339)
			}
		}
		return v.String()
	case bool:
		return fmt.Sprint(v)
	case []any:
		return listCell(v, raw)
	default:
		return string(compact(raw))
	}
}

// listCell formats a JSON array: scalars comma-separated, a time series
// ([{x, y}, ...], as in stats) by its size and last value.
func listCell(items []any, raw json.RawMessage) string {
	if len(items) == 0 {
		return "-"
	}
	scalars := make([]string, 0, len(items))
	for _, it := range items {
		switch it := it.(type) {
		case string:
			scalars = append(scalars, it)
		case json.Number:
			scalars = append(scalars, it.String())
		case bool:
			scalars = append(scalars, fmt.Sprint(it))
		}
	}
	if len(scalars) == len(items) {
		return strings.Join(scalars, ",")
	}
	if last, isObject := items[len(items)-1].(map[string]any); isObject {
		if y, hasY := last["y"]; hasY {
			if _, hasX := last["x"]; hasX {
				return fmt.Sprintf("%d samples, last %v", len(items), y)
			}
		}
	}
	return string(compact(raw))
}

func compact(raw json.RawMessage) []byte {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}

func truncate(raw []byte) string {
	if len(raw) > 40 {
		return string(raw[:40]) + "..."
	}
	return string(raw)
}
