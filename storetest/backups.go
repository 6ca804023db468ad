package storetest

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/devapi-dev/devapi"
)

// content returns n bytes that do not compress, the same for the same seed.
func content(seed byte, n int) []byte {
	b := make([]byte, n)
	rng := rand.New(rand.NewChaCha8([32]byte{seed}))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// writeAll is a CreateBackup write function that writes data in pieces of
// 100 KiB, as an encoder would.
func writeAll(data []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		for start := 0; start < len(data); start += 100 << 10 {
			if _, err := w.Write(data[start:min(start+100<<10, len(data))]); err != nil {
				return err
			}
		}
		return nil
	}
}

// readAll returns the content of a backup.
func readAll(tb testing.TB, s devapi.Store, databaseID, id string) ([]byte, error) {
	tb.Helper()
	var got []byte
	err := s.ReadBackup(tb.Context(), databaseID, id, func(r io.Reader) error {
		var err error
		got, err = io.ReadAll(r)
		return err
	})
	return got, err
}

// listed returns the ids of a database's backups.
func listed(tb testing.TB, s devapi.Store, databaseID string) []string {
	tb.Helper()
	list, err := s.Backups(tb.Context(), databaseID)
	if err != nil {
		tb.Fatalf("Backups: %v", err)
	}
	ids := make([]string, 0, len(list))
	for _, b := range list {
		ids = append(ids, b.ID)
	}
	return ids
}

var backupTests = []test{
	{"Lifecycle", func(t *testing.T, s devapi.Store) {
		ctx := t.Context()
		mustCreateAccount(t, s, "a@example.com", at(0))
		mustCreateDatabase(t, s, NewDatabase("db-1", "a@example.com", at(1)))
		b2 := &devapi.Backup{ID: "b-2", DatabaseID: "db-1", Name: "second", CreatedAt: at(20)}
		b1 := &devapi.Backup{ID: "b-1", DatabaseID: "db-1", Name: "first", Daily: true, CreatedAt: at(10)}
		for _, b := range []*devapi.Backup{b2, b1} {
			if err := s.CreateBackup(ctx, b, writeAll([]byte(`{"k":"`+b.ID+`"}`))); err != nil {
				t.Fatal(err)
			}
			if b.Size != 11 {
				t.Errorf("Size of %s after CreateBackup: %d, want 11", b.ID, b.Size)
			}
		}
		wantCode(t, s.CreateBackup(ctx, b1, writeAll(nil)), devapi.ECONFLICT)
		wantCode(t, s.CreateBackup(ctx, &devapi.Backup{ID: "b-3", DatabaseID: "nope", CreatedAt: at(1)}, writeAll(nil)), devapi.ENOTFOUND)
		list, err := s.Backups(ctx, "db-1")
		if err != nil || len(list) != 2 || list[0].ID != "b-1" || list[1].ID != "b-2" || !list[0].Daily || list[0].Size != 11 || list[0].Name != "first" || !list[0].CreatedAt.Equal(at(10)) {
			t.Fatalf("list: %+v, %v", list, err)
		}
		if got, err := readAll(t, s, "db-1", "b-2"); err != nil || string(got) != `{"k":"b-2"}` {
			t.Errorf("read: %q, %v", got, err)
		}
		called := false
		err = s.ReadBackup(ctx, "db-other", "b-2", func(io.Reader) error { called = true; return nil })
		wantCode(t, err, devapi.ENOTFOUND)
		if called {
			t.Error("ReadBackup of another database's backup called read")
		}
		if err := s.DeleteBackup(ctx, "db-1", "b-2"); err != nil {
			t.Fatal(err)
		}
		wantCode(t, s.DeleteBackup(ctx, "db-1", "b-2"), devapi.ENOTFOUND)
		_, err = readAll(t, s, "db-1", "b-2")
		wantCode(t, err, devapi.ENOTFOUND)
		// Deleting the database deletes its backups.
		if err := s.DeleteDatabase(ctx, "a@example.com", "db-1"); err != nil {
			t.Fatal(err)
		}
		if ids := listed(t, s, "db-1"); len(ids) != 0 {
			t.Errorf("backups of a deleted database: %v", ids)
		}
	}},
	{"ContentOfManyChunks", func(t *testing.T, s devapi.Store) {
		ctx := t.Context()
		mustCreateAccount(t, s, "a@example.com", at(0))
		mustCreateDatabase(t, s, NewDatabase("db-1", "a@example.com", at(1)))
		for _, n := range []int{0, 1, 1 << 20, 5<<19 + 7} {
			data := content(byte(n), n)
			b := &devapi.Backup{ID: "b", DatabaseID: "db-1", Name: "big", CreatedAt: at(2)}
			if err := s.CreateBackup(ctx, b, writeAll(data)); err != nil {
				t.Fatalf("%d bytes: %v", n, err)
			}
			if b.Size != int64(n) {
				t.Errorf("%d bytes: Size %d", n, b.Size)
			}
			got, err := readAll(t, s, "db-1", "b")
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("%d bytes: read %d bytes back, %v; equal: %v", n, len(got), err, bytes.Equal(got, data))
			}
			if err := s.DeleteBackup(ctx, "db-1", "b"); err != nil {
				t.Fatal(err)
			}
		}
	}},
	{"FailedWriteLeavesNothing", func(t *testing.T, s devapi.Store) {
		ctx := t.Context()
		mustCreateAccount(t, s, "a@example.com", at(0))
		mustCreateDatabase(t, s, NewDatabase("db-1", "a@example.com", at(1)))
		boom := errors.New("over the limit")
		b := &devapi.Backup{ID: "b", DatabaseID: "db-1", Name: "partial", CreatedAt: at(2)}
		err := s.CreateBackup(ctx, b, func(w io.Writer) error {
			if err := writeAll(content(1, 3<<20))(w); err != nil {
				return err
			}
			// Chunks are stored by now, but the backup is not complete.
			if ids := listed(t, s, "db-1"); len(ids) != 0 {
				t.Errorf("a backup being written is listed: %v", ids)
			}
			if _, err := readAll(t, s, "db-1", "b"); devapi.ErrorCode(err) != devapi.ENOTFOUND {
				t.Errorf("ReadBackup of a backup being written: %v, want ENOTFOUND", err)
			}
			wantCode(t, s.DeleteBackup(ctx, "db-1", "b"), devapi.ENOTFOUND)
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("CreateBackup whose write fails: %v, want the write's error", err)
		}
		if ids := listed(t, s, "db-1"); len(ids) != 0 {
			t.Errorf("backups after a failed write: %v", ids)
		}
		_, err = readAll(t, s, "db-1", "b")
		wantCode(t, err, devapi.ENOTFOUND)
		// Nothing is left of it: its id is free again.
		if err := s.CreateBackup(ctx, b, writeAll([]byte("again"))); err != nil {
			t.Fatalf("CreateBackup with the id of a failed one: %v", err)
		}
		if got, err := readAll(t, s, "db-1", "b"); err != nil || string(got) != "again" {
			t.Errorf("read: %q, %v", got, err)
		}
	}},
	{"DatabaseDeletedWhileWritten", func(t *testing.T, s devapi.Store) {
		ctx := t.Context()
		mustCreateAccount(t, s, "a@example.com", at(0))
		mustCreateDatabase(t, s, NewDatabase("db-1", "a@example.com", at(1)))
		b := &devapi.Backup{ID: "b", DatabaseID: "db-1", Name: "orphan", CreatedAt: at(2)}
		err := s.CreateBackup(ctx, b, func(w io.Writer) error {
			if err := writeAll(content(1, 3<<20))(w); err != nil {
				return err
			}
			if err := s.DeleteDatabase(ctx, "a@example.com", "db-1"); err != nil {
				t.Fatal(err)
			}
			return writeAll(content(2, 3<<20))(w)
		})
		wantCode(t, err, devapi.ENOTFOUND)
		if ids := listed(t, s, "db-1"); len(ids) != 0 {
			t.Errorf("backups of a database deleted while one was written: %v", ids)
		}
	}},
	{"ReadWhileDeleted", func(t *testing.T, s devapi.Store) {
		ctx := t.Context()
		mustCreateAccount(t, s, "a@example.com", at(0))
		mustCreateDatabase(t, s, NewDatabase("db-1", "a@example.com", at(1)))
		data := content(3, 4<<20)
		if err := s.CreateBackup(ctx, &devapi.Backup{ID: "b", DatabaseID: "db-1", CreatedAt: at(2)}, writeAll(data)); err != nil {
			t.Fatal(err)
		}
		var got []byte
		err := s.ReadBackup(ctx, "db-1", "b", func(r io.Reader) error {
			first := make([]byte, 1000)
			if _, err := io.ReadFull(r, first); err != nil {
				return err
			}
			if err := s.DeleteBackup(ctx, "db-1", "b"); err != nil {
				t.Errorf("DeleteBackup while it is read: %v", err)
			}
			rest, err := io.ReadAll(r)
			got = append(first, rest...)
			return err
		})
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("a backup deleted while read: %d of %d bytes, %v", len(got), len(data), err)
		}
		if ids := listed(t, s, "db-1"); len(ids) != 0 {
			t.Errorf("backups after the delete: %v", ids)
		}
	}},
	{"ReadErrorReturned", func(t *testing.T, s devapi.Store) {
		ctx := t.Context()
		mustCreateAccount(t, s, "a@example.com", at(0))
		mustCreateDatabase(t, s, NewDatabase("db-1", "a@example.com", at(1)))
		if err := s.CreateBackup(ctx, &devapi.Backup{ID: "b", DatabaseID: "db-1", CreatedAt: at(2)}, writeAll(content(4, 3<<20))); err != nil {
			t.Fatal(err)
		}
		bad := errors.New("cannot decode")
		if err := s.ReadBackup(ctx, "db-1", "b", func(io.Reader) error { return bad }); !errors.Is(err, bad) {
			t.Errorf("ReadBackup: %v, want read's error", err)
		}
	}},
}
