package pgstore

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// heldSends is a credBatcher's send that holds every batch until the test
// releases it, and records the batches.
type heldSends struct {
	mu      sync.Mutex
	batches [][]*credOp
	release []chan struct{}
}

func (h *heldSends) send(ctx context.Context, ops []*credOp) error {
	r := make(chan struct{})
	h.mu.Lock()
	h.batches = append(h.batches, ops)
	h.release = append(h.release, r)
	h.mu.Unlock()
	<-r
	return nil
}

// sizes returns the sizes of the batches sent so far.
func (h *heldSends) sizes() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	var s []int
	for _, b := range h.batches {
		s = append(s, len(b))
	}
	return s
}

// releaseBatch lets batch i finish.
func (h *heldSends) releaseBatch(i int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	close(h.release[i])
}

func (b *credBatcher) queued() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.pending)
}

// call runs one reset through b in a goroutine of wg; its error goes to errc.
func call(ctx context.Context, wg *sync.WaitGroup, b *credBatcher, id string, errc chan<- error) {
	op := &credOp{id: id, done: make(chan struct{}), lead: make(chan struct{}, 1)}
	wg.Go(func() { errc <- b.do(ctx, op) })
}

// TestBatcherStartsABatchWhenItHoldsAsManyAsInFlight: with no batch in
// flight a reset goes at once; with batches in flight a batch starts only
// when it would hold as many resets as they do, and at most maxInFlight
// run at once; queued resets go when batches in flight end.
func TestBatcherStartsABatchWhenItHoldsAsManyAsInFlight(t *testing.T) {
	h := &heldSends{}
	b := newCredBatcher(h.send)
	var wg sync.WaitGroup
	errc := make(chan error, 64)
	calls := 0
	reset := func(n int) {
		for range n {
			call(t.Context(), &wg, b, "db", errc)
			calls++
		}
	}
	want := func(sizes ...int) {
		t.Helper()
		deadlineWait(t, func() bool { return slices.Equal(h.sizes(), sizes) })
	}
	queued := func(n int) {
		t.Helper()
		deadlineWait(t, func() bool { return b.queued() == n })
	}

	reset(1)
	want(1) // alone: at once
	reset(1)
	want(1, 1) // as many as in flight
	reset(1)
	queued(1) // 1 < 2 in flight
	reset(1)
	want(1, 1, 2)
	reset(3)
	queued(3) // 3 < 4 in flight
	h.releaseBatch(0)
	want(1, 1, 2, 3) // 3 >= 3 once the first batch ended
	reset(6)
	want(1, 1, 2, 3, 6) // 6 >= 6; 4 batches in flight now
	reset(12)
	queued(12) // 12 >= 12, but maxInFlight batches run
	if got := h.sizes(); !slices.Equal(got, []int{1, 1, 2, 3, 6}) {
		t.Fatalf("batches %v sent past maxInFlight", got)
	}
	h.releaseBatch(1)
	want(1, 1, 2, 3, 6, 12) // 12 >= 11
	for i := 2; i < 6; i++ {
		h.releaseBatch(i)
	}
	wg.Wait()
	for range calls {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}

// TestBatcherCanceledOldestPassesTheTurn: the caller of the oldest queued
// reset, whose context ends as the batches in flight end, leaves, and the
// next queued reset still goes.
func TestBatcherCanceledOldestPassesTheTurn(t *testing.T) {
	b := newCredBatcher(func(context.Context, []*credOp) error { return nil })
	b.mu.Lock()
	b.inFlight, b.inFlightResets = maxInFlight, maxInFlight // every turn taken
	b.mu.Unlock()
	var wg sync.WaitGroup
	defer wg.Wait()
	first, second := make(chan error, 1), make(chan error, 1)
	ctx, cancel := context.WithCancel(t.Context())
	call(ctx, &wg, b, "first", first)
	deadlineWait(t, func() bool { return b.queued() == 1 })
	ctx2, cancel2 := context.WithCancel(t.Context())
	defer cancel2() // before wg.Wait: a second reset never sent gives up
	call(ctx2, &wg, b, "second", second)
	deadlineWait(t, func() bool { return b.queued() == 2 })
	b.mu.Lock()
	cancel() // the first caller leaves its wait for ctx, and waits for b.mu
	b.inFlight, b.inFlightResets = 0, 0
	b.wakeOldest() // the batches ended: the wake goes to the first caller
	b.mu.Unlock()
	if err := <-first; err != context.Canceled {
		t.Fatalf("first reset: %v, want context.Canceled", err)
	}
	select {
	case err := <-second:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Error("the second reset was never sent")
	}
}
