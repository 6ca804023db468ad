package sqlitestore

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/devapi-dev/devapi"
)

// TestFullDiskIsENOSPACE: a write SQLite refuses with SQLITE_FULL is
// ENOSPACE, saying the disk is full, and changes nothing; once there is
// room, writes work again. max_page_count stands in for the file system's
// limit: SQLite answers SQLITE_FULL for both.
func TestFullDiskIsENOSPACE(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "devapi.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	var pages int64
	if err := s.writer.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	// The writer has one connection, which keeps the setting.
	if _, err := s.writer.ExecContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", pages)); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 8<<10) // a name longer than a page: the file must grow
	err = s.CreateAccount(ctx, &devapi.Account{Email: big + "@example.com", CreatedAt: time.Now()})
	if devapi.ErrorCode(err) != devapi.ENOSPACE || !strings.Contains(devapi.ErrorMessage(err), "disk") {
		t.Fatalf("a write past the disk's room: %v, want ENOSPACE saying the disk is full", err)
	}
	if accounts, err := s.Accounts(ctx); err != nil || len(accounts) != 0 {
		t.Errorf("after the refused write: %d accounts (%v), want none", len(accounts), err)
	}
	if _, err := s.writer.ExecContext(ctx, "PRAGMA max_page_count = 1073741823"); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAccount(ctx, &devapi.Account{Email: big + "@example.com", CreatedAt: time.Now()}); err != nil {
		t.Errorf("a write once there is room: %v", err)
	}
}
