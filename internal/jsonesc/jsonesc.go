// Package jsonesc escapes text as encoding/json writes it inside a JSON
// string with HTML escaping on (json.Marshal's and json.Encoder's
// default): for code that appends JSON itself, on a hot path or as a
// stream, and must write the bytes encoding/json would.
package jsonesc

import "unicode/utf8"

// safe marks the ASCII bytes encoding/json writes as they are: everything
// but control characters, '"', '\\', '<', '>' and '&'.
var safe = func() (safe [utf8.RuneSelf]bool) {
	for c := range safe {
		safe[c] = c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return safe
}()

const hexDigits = "0123456789abcdef"

// Append appends s to dst escaped as encoding/json escapes a string's
// contents, without the quotes: short escapes for \b \f \n \r \t, \u00XX for
// the other control characters and < > &, \ufffd for each byte of invalid
// UTF-8, and \u2028 and \u2029 for the line and paragraph separators.
//
// Unless final, it stops before a UTF-8 sequence cut off at the end of s
// (the rest of it may come with the next piece of a stream). It returns dst
// and how much of s it consumed: all of it when final.
func Append[T string | []byte](dst []byte, s T, final bool) ([]byte, int) {
	i, start := 0, 0
	for i < len(s) {
		if c := s[i]; c < utf8.RuneSelf {
			if safe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		// At most utf8.UTFMax bytes are converted: on the stack, for a
		// []byte, and nothing at all for a string.
		head := string(s[i:min(len(s), i+utf8.UTFMax)])
		if !final && !utf8.FullRuneInString(head) {
			break
		}
		r, size := utf8.DecodeRuneInString(head)
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(dst, s[start:i]...), i
}
