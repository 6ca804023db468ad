package embeddedplane_test

import (
	"testing"

	"github.com/devapi-dev/devapi"
)

// TestAllowlistOverTCP: a database whose IP allowlist leaves out the
// client's address closes its connections unanswered; one that names it, or
// an empty list, lets it in; a change applies to the next connection.
func TestAllowlistOverTCP(t *testing.T) {
	p, d, connect := scriptDB(t, devapi.PlaneConfig{})
	ctx := t.Context()
	serve := func(list ...string) {
		t.Helper()
		d.AllowedIPs = list
		if err := p.Serve(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		list []string
		in   bool
	}{
		{[]string{"10.0.0.0/8"}, false},
		{[]string{"10.0.0.0/8", "127.0.0.0/8"}, true},
		{[]string{"192.0.2.1"}, false},
		{[]string{"127.0.0.1"}, true},
		{nil, true},
	} {
		serve(tc.list...)
		err := connect().Ping(ctx).Err()
		if tc.in && err != nil {
			t.Errorf("allowlist %q: PING from 127.0.0.1: %v, want PONG", tc.list, err)
		}
		if !tc.in && err == nil {
			t.Errorf("allowlist %q: PING from 127.0.0.1 answered, want the connection refused", tc.list)
		}
	}
}
