package server_test

import (
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// mountTiny mounts a tmpfs of 4 MiB on a new folder, for a store whose disk
// fills up; it skips the test when mounting is not allowed (not root).
func mountTiny(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs to fill (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
	return dir
}

// fill writes a file into dir until the file system has no room left, and
// returns its path.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	chunk := make([]byte, 64<<10)
	for i := 0; ; i++ {
		if i > 1<<12 { // 256 MiB: the 4 MiB tmpfs should have filled long before
			t.Fatal("the tmpfs does not fill up")
		}
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	// The last pages a partial write may leave.
	small := make([]byte, 512)
	for i := 0; i < 128; i++ {
		if _, err := f.Write(small); err != nil {
			break
		}
	}
	return path
}

// TestFullDiskAnswers507: when the store's disk is full, a change answers
// the spec's 507 saying so, the server logs it once for the episode, and
// once there is room again changes work (and that is logged).
func TestFullDiskAnswers507(t *testing.T) {
	dir := mountTiny(t)
	var log syncBuffer
	kind := planeKinds(t)[0] // embedded: nothing of the plane on the disk
	s := newStack(t, kind, dir, logTo(&log))
	db := s.create("full", false)
	filler := fill(t, dir)
	for i := range 3 {
		resp, err := s.client.ResetPasswordWithResponse(t.Context(), db.DatabaseId)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode() != http.StatusInsufficientStorage || !strings.Contains(string(resp.Body), "disk") || !strings.Contains(string(resp.Body), "full") {
			t.Fatalf("reset %d on a full disk: %d %s; want 507 saying the disk is full", i, resp.StatusCode(), resp.Body)
		}
		specAllows(t, "POST", "/redis/reset-password/{id}", "/redis/reset-password/"+db.DatabaseId, resp.StatusCode(), resp.HTTPResponse.Header, resp.Body)
	}
	if n := strings.Count(log.String(), "the store's disk is full"); n != 1 {
		t.Errorf("the full disk is logged %d times, want once:\n%s", n, log.String())
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	after := s.reset(db.DatabaseId)
	if err := s.connect(db, after.Password).Ping(t.Context()).Err(); err != nil {
		t.Errorf("the password of the reset after the disk had room: %v", err)
	}
	if !strings.Contains(log.String(), "the store writes again") {
		t.Errorf("the end of the episode is not logged:\n%s", log.String())
	}
}
