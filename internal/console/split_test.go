package console

import (
	"slices"
	"testing"
)

func TestSplitArgs(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []string
		bad  bool
	}{
		{line: "GET k", want: []string{"GET", "k"}},
		{line: "  SET   k  v  ", want: []string{"SET", "k", "v"}},
		{line: `SET "two words" 'single \n'`, want: []string{"SET", "two words", `single \n`}},
		{line: `SET k "a\"b\\c\n"`, want: []string{"SET", "k", "a\"b\\c\n"}},
		{line: `SET k ""`, want: []string{"SET", "k", ""}},
		{line: `SET k"x"y z`, want: []string{"SET", "kxy", "z"}},
		{line: "", want: nil},
		{line: `GET "open`, bad: true},
		{line: `GET 'open`, bad: true},
	} {
		got, err := splitArgs(tc.line)
		if (err != nil) != tc.bad || !slices.Equal(got, tc.want) {
			t.Errorf("splitArgs(%q) = %q, %v; want %q (error %v)", tc.line, got, err, tc.want, tc.bad)
		}
	}
}
