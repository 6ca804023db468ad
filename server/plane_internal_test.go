package server

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestPlaneContext checks planeContext as a context: the caller's values,
// not its cancellation (nor its cause), a deadline PlaneTimeout away (a
// 64th more at most), Done closed once it passed, and then
// DeadlineExceeded, for the context and for one derived from it.
func TestPlaneContext(t *testing.T) {
	const timeout = 200 * time.Millisecond
	s := &Server{planeTimeout: timeout}
	type key struct{}
	parent, cancelParent := context.WithCancelCause(context.WithValue(t.Context(), key{}, "value"))
	before := time.Now()
	ctx, cancel := s.planeContext(parent)
	defer cancel()
	after := time.Now()
	cancelParent(errors.New("the caller went away"))

	if v := ctx.Value(key{}); v != "value" {
		t.Errorf("Value = %v, want the caller's", v)
	}
	deadline, ok := ctx.Deadline()
	if !ok || deadline.Before(before.Add(timeout)) || deadline.After(after.Add(timeout+timeout/64)) {
		t.Errorf("Deadline = %v, %v; want between %v and %v", deadline, ok, before.Add(timeout), after.Add(timeout+timeout/64))
	}
	if err := ctx.Err(); err != nil {
		t.Errorf("Err after the caller's cancel = %v, want nil", err)
	}
	if err := context.Cause(ctx); err != nil {
		t.Errorf("Cause after the caller's cancel = %v, want nil", err)
	}
	child, cancelChild := context.WithCancel(ctx)
	defer cancelChild()

	select {
	case <-ctx.Done():
	case <-time.After(time.Minute):
		t.Fatal("Done not closed a minute after the deadline")
	}
	if now := time.Now(); now.Before(deadline) {
		t.Errorf("Done closed at %v, before the deadline %v", now, deadline)
	}
	for name, err := range map[string]error{"Err": ctx.Err(), "Cause": context.Cause(ctx)} {
		if err != context.DeadlineExceeded {
			t.Errorf("%s once done = %v, want DeadlineExceeded", name, err)
		}
	}
	select {
	case <-child.Done():
	case <-time.After(time.Minute):
		t.Fatal("a context derived from it not done")
	}
	if err := child.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("derived context's Err = %v, want DeadlineExceeded", err)
	}
}

// TestPlaneDeadlinesShared: plane calls that start close together share
// one deadline (one timer), and every call's deadline is between the
// timeout and a 64th more from its start, whatever order calls come in.
func TestPlaneDeadlinesShared(t *testing.T) {
	const timeout = 10 * time.Second
	var p planeDeadlines
	t0 := time.Now()
	distinct := map[*planeDeadline]bool{}
	for i := range 1000 {
		distinct[p.next(t0.Add(time.Duration(i)*time.Microsecond), timeout)] = true
	}
	if len(distinct) != 1 {
		t.Errorf("1000 calls within a millisecond got %d deadlines, want 1", len(distinct))
	}
	for _, offset := range []time.Duration{0, 100 * time.Millisecond, 50 * time.Millisecond, 400 * time.Millisecond, 0, time.Second, 999 * time.Millisecond} {
		now := t0.Add(offset)
		d := p.next(now, timeout)
		if d.at.Before(now.Add(timeout)) || d.at.After(now.Add(timeout+timeout/64)) {
			t.Errorf("a call at +%v got a deadline at +%v, want between +%v and +%v", offset, d.at.Sub(t0), timeout+offset, timeout+timeout/64+offset)
		}
	}
}

// BenchmarkPlaneContext compares planeContext with the
// context.WithTimeout it replaced, in parallel as requests call it.
func BenchmarkPlaneContext(b *testing.B) {
	s := &Server{planeTimeout: 10 * time.Second}
	type key struct{}
	parent := context.WithValue(b.Context(), key{}, 1)
	b.Run("shared-deadline", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				ctx, cancel := s.planeContext(parent)
				_ = ctx.Err()
				cancel()
			}
		})
	})
	b.Run("with-timeout", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), s.planeTimeout)
				_ = ctx.Err()
				cancel()
			}
		})
	})
}
