package embeddedplane_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/embeddedplane"
	"github.com/devapi-dev/devapi/planetest"
)

func TestConformance(t *testing.T) {
	planetest.Run(t, planetest.Options{
		Persistent: false,
		Open: func(t *testing.T, _ string, cfg devapi.PlaneConfig) devapi.Plane {
			return embeddedplane.New(cfg)
		},
	})
}

// TestSnapshotWhileClientsWrite takes snapshots while clients change lists,
// sorted sets, hashes and streams in place; run with -race.
func TestSnapshotWhileClientsWrite(t *testing.T) {
	ctx := t.Context()
	p := embeddedplane.New(devapi.PlaneConfig{})
	t.Cleanup(func() { _ = p.Close() })
	d := devapi.PlaneDatabase{ID: "db", Port: planetest.FreePort(t), Password: "pw", Generation: 1}
	if err := p.Serve(ctx, d); err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", d.Port), Password: "pw", PoolSize: 4})
	t.Cleanup(func() { _ = c.Close() })
	const n = 2000
	long := make([]any, n)
	for i := range long {
		long[i] = "x"
	}
	if err := c.RPush(ctx, "list", long...).Err(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				v := fmt.Sprint(w, "-", i)
				_, _ = c.Pipelined(ctx, func(pipe redis.Pipeliner) error {
					for j := range 20 {
						pipe.LSet(ctx, "list", int64((i*20+j)%n), v)
					}
					pipe.ZAdd(ctx, "zset", redis.Z{Member: v, Score: float64(i)})
					pipe.ZRem(ctx, "zset", fmt.Sprint(w, "-", i-1))
					pipe.HSet(ctx, "hash", v, v)
					pipe.HDel(ctx, "hash", fmt.Sprint(w, "-", i-1))
					pipe.XAdd(ctx, &redis.XAddArgs{Stream: "stream", Values: []string{"i", v}})
					pipe.XTrimMaxLen(ctx, "stream", 100)
					return nil
				})
			}
		})
	}
	for range 300 {
		s, err := devapi.CollectSnapshot(ctx, p, "db")
		if err != nil && devapi.ErrorCode(err) != devapi.ECONFLICT {
			t.Errorf("Snapshot: %v", err)
		}
		for _, k := range s.Keys {
			if k.Key == "list" && len(k.List) != n {
				t.Errorf("list of %d elements in a snapshot; it always holds %d", len(k.List), n)
			}
		}
	}
	close(done)
	wg.Wait()
}
