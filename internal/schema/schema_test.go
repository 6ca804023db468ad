package schema

import (
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
