package respsnapshot_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/redistest"
	"github.com/devapi-dev/devapi/internal/respsnapshot"
	"github.com/devapi-dev/devapi/planetest"
	"github.com/devapi-dev/devapi/redisserverplane"
)

// redisServer returns a client of a real redis-server, a database of the
// redis-server plane, as its default user. It skips without redis-server,
// except in CI.
func redisServer(t *testing.T) *redis.Client {
	t.Helper()
	redistest.Binary(t)
	p, err := redisserverplane.Open(t.Context(), redisserverplane.Config{Dir: t.TempDir(), PlaneConfig: devapi.PlaneConfig{Host: "127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	d := devapi.PlaneDatabase{ID: "db", Port: planetest.FreePort(t), Password: "pw", Generation: 1}
	if err := p.Serve(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	st, err := p.Status(t.Context(), "db")
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: st.Addr, Password: "pw"})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// pipelines records, for each pipeline a client sends, the bytes of its
// string arguments and its commands by name.
type pipelines struct {
	mu   sync.Mutex
	sent []sentPipeline
}

type sentPipeline struct {
	bytes    int
	commands map[string]int
}

func (p *pipelines) DialHook(next redis.DialHook) redis.DialHook { return next }

func (p *pipelines) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (p *pipelines) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		s := sentPipeline{commands: map[string]int{}}
		for _, c := range cmds {
			s.commands[strings.ToLower(c.Name())]++
			for _, a := range c.Args() {
				if str, ok := a.(string); ok {
					s.bytes += len(str)
				}
			}
		}
		p.mu.Lock()
		p.sent = append(p.sent, s)
		p.mu.Unlock()
		return next(ctx, cmds)
	}
}

// bigKeys is 12 strings of 3 MiB and 300 small ones, in Snapshot order.
func bigKeys() devapi.Snapshot {
	var s devapi.Snapshot
	for i := range 312 {
		k := devapi.SnapshotKey{Key: string(rune('a'+i/26%26)) + string(rune('a'+i%26)) + strings.Repeat("k", i/676), Type: devapi.TypeString, String: "small"}
		if i%26 == 0 {
			k.String = strings.Repeat("v", 3<<20)
		}
		s.Keys = append(s.Keys, k)
	}
	return s
}

// TestLargeValuesGoAFewAtATime: Take reads, and Restore writes, values of
// 3 MiB a few per round trip, not a batch of 100 or 1000, so neither holds
// more than about 8 MiB of values at once; small keys still go many at a
// time.
func TestLargeValuesGoAFewAtATime(t *testing.T) {
	c := redisServer(t)
	rec := &pipelines{}
	c.AddHook(rec)
	ctx := t.Context()
	want := bigKeys()

	if err := respsnapshot.Restore(ctx, c, want.All()); err != nil {
		t.Fatal(err)
	}
	for i, p := range rec.sent {
		if p.bytes > respsnapshot.WriteBytes+3<<20 {
			t.Errorf("Restore's round trip %d sent %d MB of values, want at most %d MB", i, p.bytes>>20, (respsnapshot.WriteBytes+3<<20)>>20)
		}
	}
	rec.sent = nil

	var got devapi.Snapshot
	if err := respsnapshot.Take(ctx, c, func(k devapi.SnapshotKey) error {
		got.Keys = append(got.Keys, k)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got.Keys) != len(want.Keys) {
		t.Fatalf("Take read %d keys, want %d", len(got.Keys), len(want.Keys))
	}
	for i := range got.Keys {
		if got.Keys[i].Key != want.Keys[i].Key || got.Keys[i].String != want.Keys[i].String {
			t.Fatalf("key %d: %q (%d bytes), want %q (%d bytes)", i, got.Keys[i].Key, len(got.Keys[i].String), want.Keys[i].Key, len(want.Keys[i].String))
		}
	}
	most, reads := 0, 0
	for _, p := range rec.sent {
		if n := p.commands["get"]; n > 0 {
			reads++
			most = max(most, n)
		}
	}
	// 8 MiB (readBytes) holds two values of 3 MiB with the small keys
	// between them.
	if most > 60 {
		t.Errorf("Take read up to %d keys in one round trip, with 3 MiB values among them", most)
	}
	if reads > 40 {
		t.Errorf("Take took %d round trips of reads for 312 keys: small keys should go many at a time", reads)
	}
}
