package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/devapi-dev/devapi"
)

// RunPool runs the conformance suite of devapi.PoolStore. open is called
// once per subtest and returns n handles (n is 1 or 2) on one new, empty
// store, as n devapi replicas would open it: separate connections, separate
// processes' worth of state. open closes them when the subtest ends.
func RunPool(t *testing.T, open func(t *testing.T, n int) []devapi.PoolStore) {
	for _, tt := range poolTests {
		t.Run(tt.name, func(t *testing.T) {
			handles := open(t, tt.handles)
			if len(handles) != tt.handles {
				t.Fatalf("open returned %d handles, want %d", len(handles), tt.handles)
			}
			tt.fn(t, handles)
		})
	}
}

type poolTest struct {
	name    string
	handles int
	fn      func(t *testing.T, s []devapi.PoolStore)
}

// poolServers are n server keys, "10.0.0.1:6379" and on.
func poolServers(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("10.0.0.%d:6379", i+1)
	}
	return out
}

func mustAssign(tb testing.TB, s devapi.PoolStore, id string, servers []string) string {
	tb.Helper()
	got, err := s.AssignPoolServer(tb.Context(), id, servers)
	if err != nil {
		tb.Fatalf("AssignPoolServer(%s): %v", id, err)
	}
	return got
}

// applyGen calls ApplyPoolGeneration with an apply that only counts.
func applyGen(tb testing.TB, s devapi.PoolStore, id string, gen int64) bool {
	tb.Helper()
	ran, err := s.ApplyPoolGeneration(tb.Context(), id, gen, func(context.Context) error { return nil })
	if err != nil {
		tb.Fatalf("ApplyPoolGeneration(%s, %d): %v", id, gen, err)
	}
	return ran
}

func wantAssignments(tb testing.TB, s devapi.PoolStore, want map[string]devapi.PoolAssignment) {
	tb.Helper()
	got, err := s.PoolAssignments(tb.Context())
	if err != nil {
		tb.Fatalf("PoolAssignments: %v", err)
	}
	if len(got) != len(want) {
		tb.Errorf("PoolAssignments = %v, want %v", got, want)
		return
	}
	for id, w := range want {
		if got[id] != w {
			tb.Errorf("PoolAssignments[%s] = %+v, want %+v", id, got[id], w)
		}
	}
}

var poolTests = []poolTest{
	{"AssignFirstFree", 1, func(t *testing.T, s []devapi.PoolStore) {
		servers := poolServers(3)
		if got := mustAssign(t, s[0], "a", servers); got != servers[0] {
			t.Errorf("first assignment = %s, want %s", got, servers[0])
		}
		if got := mustAssign(t, s[0], "b", servers); got != servers[1] {
			t.Errorf("second assignment = %s, want %s", got, servers[1])
		}
		wantAssignments(t, s[0], map[string]devapi.PoolAssignment{
			"a": {Server: servers[0], Generation: -1},
			"b": {Server: servers[1], Generation: -1},
		})
	}},
	{"AssignAgainReturnsSame", 1, func(t *testing.T, s []devapi.PoolStore) {
		servers := poolServers(3)
		first := mustAssign(t, s[0], "a", servers)
		// In another order, and without the server it holds: still the same.
		if got := mustAssign(t, s[0], "a", []string{servers[2], servers[1]}); got != first {
			t.Errorf("assigning a again = %s, want the %s it holds", got, first)
		}
		wantAssignments(t, s[0], map[string]devapi.PoolAssignment{"a": {Server: first, Generation: -1}})
	}},
	{"FullIsConflict", 1, func(t *testing.T, s []devapi.PoolStore) {
		servers := poolServers(2)
		mustAssign(t, s[0], "a", servers)
		mustAssign(t, s[0], "b", servers)
		_, err := s[0].AssignPoolServer(t.Context(), "c", servers)
		wantCode(t, err, devapi.ECONFLICT)
		_, err = s[0].AssignPoolServer(t.Context(), "d", nil)
		wantCode(t, err, devapi.ECONFLICT)
		// Those that hold one still get it.
		if got := mustAssign(t, s[0], "b", servers); got != servers[1] {
			t.Errorf("b on a full pool = %s, want %s", got, servers[1])
		}
	}},
	{"ReleaseFrees", 1, func(t *testing.T, s []devapi.PoolStore) {
		servers := poolServers(2)
		a := mustAssign(t, s[0], "a", servers)
		mustAssign(t, s[0], "b", servers)
		if err := s[0].ReleasePoolServer(t.Context(), "a"); err != nil {
			t.Fatalf("ReleasePoolServer: %v", err)
		}
		if err := s[0].ReleasePoolServer(t.Context(), "a"); err != nil {
			t.Errorf("ReleasePoolServer of an id without a server: %v", err)
		}
		if got := mustAssign(t, s[0], "c", servers); got != a {
			t.Errorf("after releasing %s, c got %s", a, got)
		}
		// A released id starts again from no generation.
		if !applyGen(t, s[0], "c", 0) {
			t.Errorf("generation 0 on a new assignment did not apply")
		}
		_, err := s[0].ApplyPoolGeneration(t.Context(), "a", 1, func(context.Context) error {
			t.Error("apply called for a released id")
			return nil
		})
		wantCode(t, err, devapi.ENOTFOUND)
	}},
	{"ConcurrentAssignDistinct", 2, func(t *testing.T, s []devapi.PoolStore) {
		const callers, size = 25, 20
		servers := poolServers(size)
		got := make([]string, callers)
		errs := make([]error, callers)
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() {
				got[i], errs[i] = s[i%2].AssignPoolServer(context.Background(), fmt.Sprint("db", i), servers)
			})
		}
		wg.Wait()
		seen := map[string]string{}
		conflicts := 0
		for i, server := range got {
			id := fmt.Sprint("db", i)
			switch {
			case devapi.ErrorCode(errs[i]) == devapi.ECONFLICT:
				conflicts++
				continue
			case errs[i] != nil:
				t.Errorf("%s: %v", id, errs[i])
				continue
			case !slices.Contains(servers, server):
				t.Errorf("%s got %q, not a server of the pool", id, server)
			case seen[server] != "":
				t.Errorf("%s and %s both got %s", seen[server], id, server)
			}
			seen[server] = id
		}
		if len(seen) != size || conflicts != callers-size {
			t.Errorf("%d assigned, %d conflicts; want %d and %d", len(seen), conflicts, size, callers-size)
		}
		all, err := s[1].PoolAssignments(t.Context())
		if err != nil || len(all) != size {
			t.Errorf("PoolAssignments: %d, %v; want %d", len(all), err, size)
		}
	}},
	{"ApplySkipsStale", 1, func(t *testing.T, s []devapi.PoolStore) {
		servers := poolServers(1)
		mustAssign(t, s[0], "a", servers)
		for _, step := range []struct {
			gen  int64
			want bool
		}{{0, true}, {5, true}, {4, false}, {5, true}, {6, true}, {-1, false}} {
			if got := applyGen(t, s[0], "a", step.gen); got != step.want {
				t.Errorf("apply generation %d: ran %v, want %v", step.gen, got, step.want)
			}
		}
		wantAssignments(t, s[0], map[string]devapi.PoolAssignment{"a": {Server: servers[0], Generation: 6}})
	}},
	{"ApplyErrorKeepsGeneration", 1, func(t *testing.T, s []devapi.PoolStore) {
		mustAssign(t, s[0], "a", poolServers(1))
		applyGen(t, s[0], "a", 3)
		boom := errors.New("boom")
		if _, err := s[0].ApplyPoolGeneration(t.Context(), "a", 4, func(context.Context) error { return boom }); !errors.Is(err, boom) {
			t.Errorf("ApplyPoolGeneration with a failing apply: %v, want %v", err, boom)
		}
		wantAssignments(t, s[0], map[string]devapi.PoolAssignment{"a": {Server: poolServers(1)[0], Generation: 3}})
		if !applyGen(t, s[0], "a", 4) {
			t.Errorf("generation 4 after its failed apply did not apply")
		}
	}},
	{"ApplyUnknownIsNotFound", 1, func(t *testing.T, s []devapi.PoolStore) {
		called := false
		_, err := s[0].ApplyPoolGeneration(t.Context(), "nope", 1, func(context.Context) error { called = true; return nil })
		wantCode(t, err, devapi.ENOTFOUND)
		if called {
			t.Error("apply called for an id without a server")
		}
	}},
	{"ConcurrentApplySerialised", 2, func(t *testing.T, s []devapi.PoolStore) {
		servers := poolServers(2)
		mustAssign(t, s[0], "a", servers)
		mustAssign(t, s[1], "other", servers)
		const n = 40
		var inside atomic.Int32
		var mu sync.Mutex
		var applied []int64 // in the order apply ran
		var wg sync.WaitGroup
		for i, g := range rand.Perm(n) {
			gen := int64(g + 1)
			wg.Go(func() {
				_, err := s[i%2].ApplyPoolGeneration(context.Background(), "a", gen, func(context.Context) error {
					if inside.Add(1) != 1 {
						t.Errorf("apply of generation %d overlaps another", gen)
					}
					defer inside.Add(-1)
					// Widen the window an overlap would show in.
					time.Sleep(time.Millisecond)
					mu.Lock()
					applied = append(applied, gen)
					mu.Unlock()
					return nil
				})
				if err != nil {
					t.Errorf("ApplyPoolGeneration(%d): %v", gen, err)
				}
			})
		}
		// Another id goes on meanwhile.
		if !applyGen(t, s[1], "other", 1) {
			t.Error("apply on another id did not run")
		}
		wg.Wait()
		if len(applied) == 0 {
			t.Fatal("no apply ran")
		}
		for i := 1; i < len(applied); i++ {
			if applied[i] <= applied[i-1] {
				t.Errorf("generation %d applied after %d", applied[i], applied[i-1])
			}
		}
		if applied[len(applied)-1] != n {
			t.Errorf("last applied generation %d, want %d", applied[len(applied)-1], n)
		}
		for _, h := range s {
			wantAssignments(t, h, map[string]devapi.PoolAssignment{
				"a":     {Server: servers[0], Generation: n},
				"other": {Server: servers[1], Generation: 1},
			})
		}
	}},
}
