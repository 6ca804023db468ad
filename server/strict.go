package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/devapi-dev/devapi"
)

// Limits on the names a request sets: a database's name (database_name, the
// legacy name, rename's name), a backup's name and a team's name. Upstash
// publishes no limit on any of them, so devapi takes 128 characters, counted
// in Unicode code points (runes), not bytes or UTF-16 units.
//
// openapi.yaml states the same rule as the pattern namePattern on each of
// those fields, so the request validator enforces it before any handler and
// clients read it from the spec; TestNameFieldsCarryTheNamePattern keeps the
// two in step.
const maxNameRunes = 128

// namePattern is the spec's pattern for names: at most maxNameRunes
// characters, none of them a control character (Unicode category Cc: C0
// U+0000-U+001F, DEL U+007F and C1 U+0080-U+009F). Go's regexp counts the
// repetition in runes, as does an ECMAScript RegExp with the u flag.
const namePattern = `^[^\x00-\x1F\x7F-\x9F]{0,128}$`

// nameProblem says, in a few words for an error answer, what is wrong with a
// name that does not match namePattern.
func nameProblem(name string) string {
	for _, r := range name {
		if unicode.IsControl(r) {
			return "must not contain control characters"
		}
	}
	if utf8.RuneCountInString(name) > maxNameRunes {
		return fmt.Sprintf("must be at most %d characters long", maxNameRunes)
	}
	return "is not a valid name"
}

// checkBody refuses (EINVALID) a request body that is not exactly one JSON
// document in valid UTF-8, or whose field names only the handlers would
// match to schema's properties (see checkFieldNames). Go's encoding/json,
// which the validator and the handlers decode with, reads the first
// document of a body and ignores what follows it, and turns invalid UTF-8
// and lone surrogate escapes into U+FFFD; so without this check
// `{"name":"x"} trailing`, two concatenated documents or a name in Latin-1
// would be taken, silently changed. A body of only white space passes: the
// validator answers that the body is required. schema may be nil.
func checkBody(b []byte, schema *openapi3.Schema) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if !utf8.Valid(b) {
		return devapi.Errorf(devapi.EINVALID, "request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // 1e400 is valid JSON; the schema, not this check, judges it
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return devapi.Errorf(devapi.EINVALID, "request body is not valid JSON")
	}
	end := dec.InputOffset()
	if rest := bytes.TrimLeft(b[end:], " \t\r\n"); len(rest) > 0 {
		return devapi.Errorf(devapi.EINVALID, "request body must be exactly one JSON document: found more data after it at byte %d", len(b)-len(rest))
	}
	if hasLoneSurrogate(b[:end]) {
		return devapi.Errorf(devapi.EINVALID, "request body is not valid UTF-8: a \\u escape encodes an unpaired UTF-16 surrogate")
	}
	return checkFieldNames(doc, schema)
}

// checkFieldNames refuses (EINVALID) an object key of doc that is not a
// property schema declares but equals one under Unicode case folding, such
// as "TEAM_NAME" or "databa\u017fe_name" ("ſ" folds to "s"). The handlers'
// decoder (encoding/json) matches such a key to the property, while the
// validator matches keys exactly and lets an unknown one through; so
// {"team_name":"ok","TEAM_NAME":"\u0000"} would store a name no check saw.
// Keys that fold to no property stay allowed and ignored, as on Upstash.
func checkFieldNames(doc any, schema *openapi3.Schema) error {
	if schema == nil {
		return nil
	}
	switch v := doc.(type) {
	case map[string]any:
		for key, val := range v {
			if prop, ok := schema.Properties[key]; ok {
				if err := checkFieldNames(val, prop.Value); err != nil {
					return err
				}
				continue
			}
			for name := range schema.Properties {
				if strings.EqualFold(key, name) {
					return devapi.Errorf(devapi.EINVALID, "request body: %q is not a field: did you mean %q? Field names are case-sensitive", key, name)
				}
			}
		}
	case []any:
		if schema.Items == nil {
			return nil
		}
		for _, val := range v {
			if err := checkFieldNames(val, schema.Items.Value); err != nil {
				return err
			}
		}
	}
	return nil
}

// hasLoneSurrogate reports whether the valid JSON document doc has a string
// with a \u escape of a UTF-16 surrogate that is not half of a pair (such as
// "\ud800"): no UTF-8 text can hold it. doc must be valid JSON, so every
// escape is complete and every string is closed.
func hasLoneSurrogate(doc []byte) bool {
	inString := false
	for i := 0; i < len(doc); i++ {
		c := doc[i]
		if !inString {
			inString = c == '"'
			continue
		}
		switch c {
		case '"':
			inString = false
		case '\\':
			i++
			if doc[i] != 'u' {
				continue
			}
			r := hex4(doc[i+1 : i+5])
			i += 4
			if !utf16.IsSurrogate(r) {
				continue
			}
			// A high surrogate followed by an escaped low one is a pair.
			if r < 0xDC00 && i+6 < len(doc) && doc[i+1] == '\\' && doc[i+2] == 'u' {
				if utf16.DecodeRune(r, hex4(doc[i+3:i+7])) != utf8.RuneError {
					i += 6
					continue
				}
			}
			return true
		}
	}
	return false
}

// hex4 decodes four hexadecimal digits; the caller knows they are.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		r <<= 4
		switch {
		case '0' <= c && c <= '9':
			r |= rune(c - '0')
		case 'a' <= c && c <= 'f':
			r |= rune(c-'a') + 10
		case 'A' <= c && c <= 'F':
			r |= rune(c-'A') + 10
		}
	}
	return r
}
