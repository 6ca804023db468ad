package server

import (
	"net/http"
	"testing"
	"time"

	"github.com/devapi-dev/devapi/internal/genserver"
	"github.com/devapi-dev/devapi/storetest"
)

// BenchmarkResetPasswordAnswer measures reset-password's 200 answer alone,
// for a typical database: "answer" is resetPasswordAnswer as the handler
// writes it, "generated" is toDatabaseWithCredentials and
// genserver.ResetPassword200JSONResponse (a new encoder and buffer per
// answer, by reflection).
func BenchmarkResetPasswordAnswer(b *testing.B) {
	s := &Server{}
	d := storetest.NewDatabase("db-1", "owner@example.com", time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC))
	w := discardWriter{h: http.Header{}}
	ids := newShortIDs(d.ID) // kept from the database's first reset
	b.Run("answer", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			answer := resetPasswordAnswer{d: d, state: "active", ids: ids}
			if err := answer.VisitResetPasswordResponse(w); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("generated", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := genserver.ResetPassword200JSONResponse(s.toDatabaseWithCredentials(d)).VisitResetPasswordResponse(w); err != nil {
				b.Fatal(err)
			}
		}
	})
}
