package schema

import (
	"slices"
	"testing"
	"testing/fstest"
)

func TestLoad(t *testing.T) {
	ms, err := Migrations()
	if err != nil {
		t.Fatalf("embedded migrations: %v", err)
	}
	if len(ms) == 0 || ms[0].Name != "0001_init.sql" {
		t.Fatalf("embedded migrations = %v, want 0001_init.sql first", ms)
	}
	file := &fstest.MapFile{Data: []byte("SELECT 1;")}
	for name, files := range map[string]fstest.MapFS{
		"gap":       {"migrations/0001_a.sql": file, "migrations/0003_c.sql": file},
		"duplicate": {"migrations/0001_a.sql": file, "migrations/0001_b.sql": file},
		"zero":      {"migrations/0000_a.sql": file},
		"no number": {"migrations/init.sql": file},
		"short":     {"migrations/1_init.sql": file},
	} {
		if _, err := Load(files); err == nil {
			t.Errorf("%s: Load succeeded, want an error", name)
		}
	}
}

func TestCheckVersion(t *testing.T) {
	if err := CheckVersion(3, 3); err != nil {
		t.Errorf("CheckVersion(3, 3) = %v", err)
	}
	if err := CheckVersion(4, 3); err == nil {
		t.Error("CheckVersion(4, 3) = nil, want ErrTooNew")
	}
}

// TestParseList: ParseList reads what readList (and so ScanDatabase) reads,
// the same way, whether or not its fast path takes the input.
func TestParseList(t *testing.T) {
	for _, s := range []string{
		`[]`, `["us-east-1"]`, `["us-east-1","eu-west-1"]`, `["10.0.0.0/8","::1/128"]`, `[""]`, `["",""]`,
		`["a,b","c"]`, `["a\"b"]`, `["\u003cx\u003e"]`, `["é"]`, `[ "a" ]`, `["a", "b"]`, `null`, `[]  `,
		`["a"`, `["a"]x`, `["a",]`, `[,"a"]`, `["a""b"]`, `[1]`, `["a\tb"]`, `"a"`, ``, `[`, `["]`, `["a",`,
	} {
		got, err := ParseList(s)
		want, wantErr := readList(s)
		if (err != nil) != (wantErr != nil) || !slices.Equal(got, want) || (got == nil) != (want == nil) {
			t.Errorf("ParseList(%q) = %q, %v; readList: %q, %v", s, got, err, want, wantErr)
		}
	}
	if _, ok := parsePlainList(`["us-east-1","eu-west-1"]`); !ok {
		t.Error("the fast path refused a list of plain strings")
	}
}
