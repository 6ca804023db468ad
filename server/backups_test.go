package server_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/gob"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/gen"
	"github.com/devapi-dev/devapi/planetest"
	"github.com/devapi-dev/devapi/server"
)

// peakSampler samples the heap every millisecond, in a goroutine that stop
// waits for, and reports the highest value seen.
type peakSampler struct {
	done chan struct{}
	wg   sync.WaitGroup
	peak uint64
}

// heapObjects is the runtime/metrics name of the bytes held by heap
// objects, live or not yet swept: what a process holds for its data.
const heapObjects = "/memory/classes/heap/objects:bytes"

func heapNow() uint64 {
	s := []metrics.Sample{{Name: heapObjects}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func startPeakSampler() *peakSampler {
	p := &peakSampler{done: make(chan struct{})}
	p.wg.Go(func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			p.peak = max(p.peak, heapNow())
			select {
			case <-p.done:
				return
			case <-t.C:
			}
		}
	})
	return p
}

// stop ends the sampling and returns the peak.
func (p *peakSampler) stop() uint64 {
	close(p.done)
	p.wg.Wait()
	return max(p.peak, heapNow())
}

// residentPeak resets the kernel's peak resident size of this process
// (VmHWM) and returns a function that reads it, in bytes. ok is false where
// /proc does not offer it.
func residentPeak() (read func() uint64, ok bool) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return nil, false
	}
	return func() uint64 {
		b, err := os.ReadFile("/proc/self/status")
		if err != nil {
			return 0
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
				kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				return kb << 10
			}
		}
		return 0
	}, true
}

const mb = 1 << 20

// fillBig writes strings strings of 1 MiB of random bytes, and a hash of
// about hashMB MiB in fields of 100 bytes, through c.
func fillBig(t *testing.T, c *redis.Client, strings, hashMB int) {
	t.Helper()
	ctx := t.Context()
	rng := rand.New(rand.NewChaCha8([32]byte{1}))
	value := make([]byte, mb)
	for i := range strings {
		for j := 0; j < len(value); j += 8 {
			v := rng.Uint64()
			for k := range 8 {
				value[j+k] = byte(v >> (8 * k))
			}
		}
		if err := c.Set(ctx, fmt.Sprintf("str:%04d", i), value, 0).Err(); err != nil {
			t.Fatalf("fill string %d: %v", i, err)
		}
	}
	fields := hashMB * mb / 100
	const perCommand = 1000
	for start := 0; start < fields; start += perCommand {
		args := make([]any, 0, 2*perCommand)
		for i := start; i < min(start+perCommand, fields); i++ {
			args = append(args, fmt.Sprintf("field:%08d", i), fmt.Sprintf("%086d", rng.Uint64()))
		}
		if err := c.HSet(ctx, "hash", args...).Err(); err != nil {
			t.Fatalf("fill hash: %v", err)
		}
	}
}

// TestBackupMemory backs up and restores an embedded database of about
// 250 MB (200 strings of 1 MiB, a 50 MiB hash of 100-byte fields) and
// measures how much the heap grows at its peak meanwhile: under 500 MB
// each (issue 11). Not with -short: filling the database takes seconds.
func TestBackupMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a 250 MB database; run without -short")
	}
	s := newStack(t, planeKinds(t)[0], t.TempDir())
	ctx := t.Context()
	db := s.create("big", false)
	c := s.connect(db, *db.Password)
	fillBig(t, c, 200, 50)
	const limit = 500 * mb

	measure := func(name string, call func() (int, []byte, error)) {
		t.Helper()
		runtime.GC()
		base := heapNow()
		rss, haveRSS := residentPeak()
		var rssBase uint64
		if haveRSS {
			rssBase = rss()
		}
		p := startPeakSampler()
		started := time.Now()
		status, body, err := call()
		peak := p.stop()
		if err != nil || status != 200 {
			t.Fatalf("%s: %v, %d %s", name, err, status, body)
		}
		runtime.GC()
		after := heapNow()
		// What the call held beyond the data before and after it (a
		// restore into an empty database ends holding the database).
		growth := int64(peak) - int64(max(base, after))
		msg := fmt.Sprintf("%s: heap %d MB before, %d MB after, peak %d MB (+%d MB), in %v", name, base/mb, after/mb, peak/mb, growth/mb, time.Since(started).Round(time.Millisecond))
		if haveRSS {
			msg += fmt.Sprintf("; resident %d MB before, peak %d MB", rssBase/mb, rss()/mb)
		}
		t.Log(msg)
		if growth >= limit {
			t.Errorf("%s grew the heap by %d MB at its peak, want < %d MB", name, growth/mb, limit/mb)
		}
	}
	measure("create-backup", func() (int, []byte, error) {
		r, err := s.client.CreateBackupWithResponse(ctx, db.DatabaseId, gen.CreateBackupJSONRequestBody{Name: "big"})
		if err != nil {
			return 0, nil, err
		}
		return r.StatusCode(), r.Body, nil
	})
	list, err := s.client.ListBackupWithResponse(ctx, db.DatabaseId)
	if err != nil || list.JSON200 == nil || len(*list.JSON200) != 1 {
		t.Fatalf("list-backup: %v %s", err, list.Body)
	}
	backup := (*list.JSON200)[0]
	t.Logf("backup_size %d MB", *backup.BackupSize/mb)
	if err := c.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	measure("restore-backup", func() (int, []byte, error) {
		r, err := s.client.RestoreBackupWithResponse(ctx, db.DatabaseId, gen.RestoreBackupJSONRequestBody{BackupId: backup.BackupId})
		if err != nil {
			return 0, nil, err
		}
		return r.StatusCode(), r.Body, nil
	})
	if n := c.DBSize(ctx).Val(); n != 201 {
		t.Errorf("%d keys after the restore, want 201", n)
	}
	if n := c.HLen(ctx, "hash").Val(); n != 50*mb/100 {
		t.Errorf("hash of %d fields after the restore, want %d", n, 50*mb/100)
	}
}

// countingPlane counts the keys its plane's snapshots emit.
type countingPlane struct {
	devapi.Plane
	emitted atomic.Int64
}

func (p *countingPlane) Snapshot(ctx context.Context, id string, emit func(devapi.SnapshotKey) error) error {
	return p.Plane.Snapshot(ctx, id, func(k devapi.SnapshotKey) error {
		p.emitted.Add(1)
		return emit(k)
	})
}

// countingPlacer is a countingPlane of a Placer.
type countingPlacer struct {
	*countingPlane
	placer devapi.Placer
}

func (p countingPlacer) Place(ctx context.Context, id string, tls bool) (devapi.Placement, error) {
	return p.placer.Place(ctx, id, tls)
}

// counted wraps the stack's plane in a countingPlane (a Placer stays one).
func counted(p **countingPlane) func(*server.Config) {
	return func(cfg *server.Config) {
		*p = &countingPlane{Plane: cfg.Plane}
		cfg.Plane = *p
		if placer, ok := (*p).Plane.(devapi.Placer); ok {
			cfg.Plane = countingPlacer{countingPlane: *p, placer: placer}
		}
	}
}

// storeRows counts the rows of the store's backups and backup_chunks
// tables, read from its file.
func storeRows(t *testing.T, s *stack) (backups, chunks int) {
	t.Helper()
	db := rawStore(t, s)
	if err := db.QueryRowContext(t.Context(), `SELECT (SELECT COUNT(*) FROM backups), (SELECT COUNT(*) FROM backup_chunks)`).Scan(&backups, &chunks); err != nil {
		t.Fatal(err)
	}
	return backups, chunks
}

// rawStore opens the stack's SQLite file beside the store.
func rawStore(t *testing.T, s *stack) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(s.dir, "devapi.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// fillKeys writes n strings of size bytes each.
func fillKeys(t *testing.T, c *redis.Client, n, size int) {
	t.Helper()
	for i := range n {
		if err := c.Set(t.Context(), fmt.Sprintf("key:%04d", i), strings.Repeat(string(rune('a'+i%26)), size), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBackupRoundTripOnEveryPlane: create-backup, then restore-backup after
// every key changed, gives back the keys of the backup, on every plane.
func TestBackupRoundTripOnEveryPlane(t *testing.T) {
	for _, kind := range planeKinds(t) {
		t.Run(kind.name, func(t *testing.T) {
			s := newStack(t, kind, t.TempDir())
			ctx := t.Context()
			db := s.create("rt", false)
			c := s.connect(db, *db.Password)
			fillKeys(t, c, 30, 100<<10) // 3 MB: several chunks
			if err := c.HSet(ctx, "hash", "f", "\x00\xff", "g", "").Err(); err != nil {
				t.Fatal(err)
			}
			if err := c.ZAdd(ctx, "zset", redis.Z{Member: "inf", Score: math.Inf(1)}, redis.Z{Member: "x", Score: -1.5}).Err(); err != nil {
				t.Fatal(err)
			}
			want, err := devapi.CollectSnapshot(ctx, s.plane, db.DatabaseId)
			if err != nil {
				t.Fatal(err)
			}
			r, err := s.client.CreateBackupWithResponse(ctx, db.DatabaseId, gen.CreateBackupJSONRequestBody{Name: "rt"})
			if err != nil || r.StatusCode() != 200 {
				t.Fatalf("create-backup: %v %s", err, r.Body)
			}
			list, err := s.client.ListBackupWithResponse(ctx, db.DatabaseId)
			if err != nil || list.JSON200 == nil || len(*list.JSON200) != 1 {
				t.Fatalf("list-backup: %v %s", err, list.Body)
			}
			backup := (*list.JSON200)[0]
			// The listed size is what the store holds: gzip makes the
			// repeated letters small.
			if size := *backup.BackupSize; size <= 0 || size > 1<<20 {
				t.Errorf("backup_size %d, want the compressed size of 3 MB of repeated letters", size)
			}
			if err := c.FlushAll(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			if err := c.Set(ctx, "after", "the backup", 0).Err(); err != nil {
				t.Fatal(err)
			}
			rr, err := s.client.RestoreBackupWithResponse(ctx, db.DatabaseId, gen.RestoreBackupJSONRequestBody{BackupId: backup.BackupId})
			if err != nil || rr.StatusCode() != 200 {
				t.Fatalf("restore-backup: %v %s", err, rr.Body)
			}
			got, err := devapi.CollectSnapshot(ctx, s.plane, db.DatabaseId)
			if err != nil {
				t.Fatal(err)
			}
			if diff := planetest.DiffSnapshot(got, want); diff != "" {
				t.Error(diff)
			}
		})
	}
}

// TestCreateBackupOverTheLimit: a database larger than the backup limit
// answers 400 with a message that says the limit, its snapshot stops once
// the limit is passed, and nothing of the backup is stored.
func TestCreateBackupOverTheLimit(t *testing.T) {
	for _, kind := range planeKinds(t) {
		t.Run(kind.name, func(t *testing.T) {
			var plane *countingPlane
			s := newStack(t, kind, t.TempDir(), counted(&plane), func(cfg *server.Config) { cfg.MaxBackupBytes = 1 << 20 })
			ctx := t.Context()
			db := s.create("big", false)
			fillKeys(t, s.connect(db, *db.Password), 100, 50<<10) // 5 MB
			r, err := s.client.CreateBackupWithResponse(ctx, db.DatabaseId, gen.CreateBackupJSONRequestBody{Name: "too big"})
			if err != nil {
				t.Fatal(err)
			}
			if r.StatusCode() != 400 || !strings.Contains(string(r.Body), "database is larger than the backup limit (1 MB)") {
				t.Errorf("create-backup over the limit: %d %s, want 400 saying the limit", r.StatusCode(), r.Body)
			}
			if n := plane.emitted.Load(); n >= 100 {
				t.Errorf("the snapshot read all %d keys; it should stop past the limit (1 MB: about 20 of 50 KB)", n)
			}
			list, err := s.client.ListBackupWithResponse(ctx, db.DatabaseId)
			if err != nil || list.JSON200 == nil || len(*list.JSON200) != 0 {
				t.Errorf("list-backup after a backup over the limit: %v %s, want none", err, list.Body)
			}
			if backups, chunks := storeRows(t, s); backups != 0 || chunks != 0 {
				t.Errorf("the store holds %d backups and %d chunks after a backup over the limit, want none", backups, chunks)
			}
		})
	}
}

// TestDailyBackupOverTheLimit: a database over the backup limit gets no
// daily backup and one warning a day, and is not read again that day; one
// under it gets its daily backup.
func TestDailyBackupOverTheLimit(t *testing.T) {
	var plane *countingPlane
	var log syncBuffer
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	s := newStack(t, planeKinds(t)[0], t.TempDir(), counted(&plane), func(cfg *server.Config) {
		cfg.MaxBackupBytes = 1 << 20
		cfg.Logger = slog.New(slog.NewTextHandler(&log, nil))
		cfg.Now = func() time.Time { return now }
	})
	ctx := t.Context()
	big, small := s.create("big", false), s.create("small", false)
	fillKeys(t, s.connect(big, *big.Password), 40, 50<<10) // 2 MB
	fillKeys(t, s.connect(small, *small.Password), 2, 10)
	for _, db := range []gen.Database{big, small} {
		if r, err := s.client.EnableDailyBackupWithResponse(ctx, db.DatabaseId); err != nil || r.StatusCode() != 200 {
			t.Fatalf("enable-dailybackup: %v %s", err, r.Body)
		}
	}
	warnings := func() int {
		return strings.Count(log.String(), "daily backup skipped: the database is larger than the backup limit")
	}
	backups := func(db gen.Database) int {
		list, err := s.client.ListBackupWithResponse(ctx, db.DatabaseId)
		if err != nil || list.JSON200 == nil {
			t.Fatalf("list-backup: %v %s", err, list.Body)
		}
		return len(*list.JSON200)
	}

	if err := s.srv.TakeDailyBackups(ctx); err != nil {
		t.Fatal(err)
	}
	if w, b := warnings(), backups(big); w != 1 || b != 0 {
		t.Errorf("first run: %d warnings and %d backups of the big database, want 1 and 0; log:\n%s", w, b, log.String())
	}
	if !strings.Contains(log.String(), `limit="1 MB"`) || !strings.Contains(log.String(), big.DatabaseId) {
		t.Errorf("the warning does not name the database and the limit:\n%s", log.String())
	}
	if b := backups(small); b != 1 {
		t.Errorf("%d daily backups of the small database, want 1", b)
	}
	read := plane.emitted.Load()

	now = now.Add(time.Hour) // the next hourly run, the same day
	if err := s.srv.TakeDailyBackups(ctx); err != nil {
		t.Fatal(err)
	}
	if w := warnings(); w != 1 {
		t.Errorf("second run the same day: %d warnings, want still 1", w)
	}
	if n := plane.emitted.Load(); n != read {
		t.Errorf("second run the same day read %d keys again", n-read)
	}

	now = now.Add(24 * time.Hour) // the next day: tried again
	if err := s.srv.TakeDailyBackups(ctx); err != nil {
		t.Fatal(err)
	}
	if w := warnings(); w != 2 {
		t.Errorf("the next day: %d warnings, want 2", w)
	}
}

// TestRestoreOfADamagedBackupChangesNothing: a backup damaged in the store
// is found out before the database is flushed.
func TestRestoreOfADamagedBackupChangesNothing(t *testing.T) {
	s := newStack(t, planeKinds(t)[0], t.TempDir())
	ctx := t.Context()
	db := s.create("db", false)
	c := s.connect(db, *db.Password)
	fillKeys(t, c, 30, 100<<10)
	if r, err := s.client.CreateBackupWithResponse(ctx, db.DatabaseId, gen.CreateBackupJSONRequestBody{Name: "b"}); err != nil || r.StatusCode() != 200 {
		t.Fatalf("create-backup: %v %s", err, r.Body)
	}
	list, err := s.client.ListBackupWithResponse(ctx, db.DatabaseId)
	if err != nil || list.JSON200 == nil || len(*list.JSON200) != 1 {
		t.Fatalf("list-backup: %v %s", err, list.Body)
	}
	// Change one byte of the last chunk: the damage is near the end, so a
	// restore that checked nothing first would have flushed the database
	// and written most of the keys before it found out.
	raw := rawStore(t, s)
	var seq int
	var data string
	if err := raw.QueryRowContext(ctx, `SELECT seq, data FROM backup_chunks ORDER BY seq DESC LIMIT 1`).Scan(&seq, &data); err != nil {
		t.Fatal(err)
	}
	b, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x01
	if _, err := raw.ExecContext(ctx, `UPDATE backup_chunks SET data = ? WHERE seq = ?`, base64.StdEncoding.EncodeToString(b), seq); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "after", "the backup", 0).Err(); err != nil {
		t.Fatal(err)
	}
	r, err := s.client.RestoreBackupWithResponse(ctx, db.DatabaseId, gen.RestoreBackupJSONRequestBody{BackupId: (*list.JSON200)[0].BackupId})
	if err != nil || r.StatusCode() != 500 {
		t.Errorf("restore of a damaged backup: %v %d %s, want 500", err, r.StatusCode(), r.Body)
	}
	if n := c.DBSize(ctx).Val(); n != 31 || c.Exists(ctx, "after").Val() != 1 {
		t.Errorf("after a refused restore the database holds %d keys, want the 31 it held", n)
	}
}

// TestRestoreOfABackupFromBeforeStreaming restores a backup in the form
// devapi stored before backups streamed (one gob-encoded Snapshot, which
// schema migration 0007 moved into one chunk).
func TestRestoreOfABackupFromBeforeStreaming(t *testing.T) {
	s := newStack(t, planeKinds(t)[0], t.TempDir())
	ctx := t.Context()
	db := s.create("db", false)
	var old bytes.Buffer
	if err := gob.NewEncoder(&old).Encode(planetest.SampleSnapshot()); err != nil {
		t.Fatal(err)
	}
	raw := rawStore(t, s)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO backups (id, database_id, name, daily, created_at, size, data, complete) VALUES ('old', ?, 'old', 0, 0, ?, '', 1)`, []any{db.DatabaseId, old.Len()}},
		{`INSERT INTO backup_chunks (backup_id, seq, data) VALUES ('old', 0, ?)`, []any{base64.StdEncoding.EncodeToString(old.Bytes())}},
	} {
		if _, err := raw.ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	r, err := s.client.RestoreBackupWithResponse(ctx, db.DatabaseId, gen.RestoreBackupJSONRequestBody{BackupId: "old"})
	if err != nil || r.StatusCode() != 200 {
		t.Fatalf("restore of an old backup: %v %s", err, r.Body)
	}
	got, err := devapi.CollectSnapshot(ctx, s.plane, db.DatabaseId)
	if err != nil {
		t.Fatal(err)
	}
	if diff := planetest.DiffSnapshot(got, planetest.SampleSnapshot()); diff != "" {
		t.Error(diff)
	}
}
