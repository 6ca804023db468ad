package server

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/genserver"
	"github.com/devapi-dev/devapi/storetest"
)

// TestResetPasswordAnswerWritesTheGeneratedBytes checks that the pooled
// encoding of reset-password's answer writes what the generated response
// writes: status, headers and body, byte for byte, also when the pooled
// buffer last held a longer answer.
func TestResetPasswordAnswerWritesTheGeneratedBytes(t *testing.T) {
	long := storetest.NewDatabase("db-long", "owner@example.com", time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC))
	long.Name = strings.Repeat("n", 2000)
	long.AllowedIPs = []string{"10.0.0.0/8", "192.168.0.0/16"}
	long.ReadRegions = []string{"us-west-1", "eu-west-1"}
	short := storetest.NewDatabase("db-1", "<owner>&@example.com", time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC))
	for _, c := range []struct {
		name string
		db   *devapi.Database
	}{{"long", long}, {"short, html characters", short}, {"long again", long}} {
		t.Run(c.name, func(t *testing.T) {
			checkAnswerMatchesGenerated(t, c.db, "active")
		})
	}
}

// discardWriter is a ResponseWriter that keeps its header map and drops the
// rest, so that only the answer's own allocations are counted.
type discardWriter struct{ h http.Header }

func (w discardWriter) Header() http.Header         { return w.h }
func (w discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w discardWriter) WriteHeader(int)             {}

// TestResetPasswordAnswerAllocations holds the answer to no allocation
// (the generated one makes a gen.DatabaseWithCredentials, a buffer grown
// from empty several times and a new encoder per answer).
func TestResetPasswordAnswerAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations are not counted under the race detector")
	}
	s := &Server{}
	d := storetest.NewDatabase("db-1", "owner@example.com", time.Now())
	answer := &resetPasswordAnswer{d: d, state: "active", ids: newShortIDs(d.ID)}
	w := discardWriter{h: http.Header{}}
	pooled := testing.AllocsPerRun(100, func() { _ = answer.VisitResetPasswordResponse(w) })
	generated := testing.AllocsPerRun(100, func() {
		_ = genserver.ResetPassword200JSONResponse(s.toDatabaseWithCredentials(d)).VisitResetPasswordResponse(w)
	})
	t.Logf("allocations per answer: pooled %.0f, generated %.0f", pooled, generated)
	if pooled > 0 {
		t.Errorf("the pooled answer makes %.0f allocations, want none", pooled)
	}
}
