package devapi_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/devapi-dev/devapi"
)

func TestErrorCode(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{devapi.Errorf(devapi.ENOTFOUND, "no such database"), devapi.ENOTFOUND},
		{fmt.Errorf("wrapped: %w", devapi.Errorf(devapi.EUNAUTHORIZED, "no")), devapi.EUNAUTHORIZED},
		{errors.New("disk on fire"), devapi.EINTERNAL},
	} {
		if got := devapi.ErrorCode(c.err); got != c.want {
			t.Errorf("ErrorCode(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

// TestErrorCodeAllocatesNothing: ErrorCode runs on every request's path.
func TestErrorCodeAllocatesNothing(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", devapi.Errorf(devapi.ENOTFOUND, "no such database"))
	if n := testing.AllocsPerRun(100, func() { _ = devapi.ErrorCode(err); _ = devapi.ErrorCode(nil) }); n != 0 {
		t.Errorf("ErrorCode allocates %v times per call", n)
	}
}
