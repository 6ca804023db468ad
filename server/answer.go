package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"

	"github.com/devapi-dev/devapi/internal/genserver"
)

// resetPasswordAnswer is reset-password's 200 answer, with the bytes and
// headers of genserver.ResetPassword200JSONResponse, encoded through a
// pooled buffer and encoder instead of a new encoder and a buffer grown
// from empty for every answer.
type resetPasswordAnswer genserver.ResetPassword200JSONResponse

// answerEncoder is a buffer with an encoder that writes into it.
type answerEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var answerEncoders = sync.Pool{New: func() any {
	e := &answerEncoder{}
	e.enc = json.NewEncoder(&e.buf)
	return e
}}

// maxPooledAnswer is the largest buffer put back into answerEncoders.
const maxPooledAnswer = 16 << 10

// VisitResetPasswordResponse writes the answer as
// genserver.ResetPassword200JSONResponse does.
func (a *resetPasswordAnswer) VisitResetPasswordResponse(w http.ResponseWriter) error {
	e := answerEncoders.Get().(*answerEncoder)
	defer func() {
		if e.buf.Cap() <= maxPooledAnswer {
			answerEncoders.Put(e)
		}
	}()
	e.buf.Reset()
	if err := e.enc.Encode((*genserver.ResetPassword200JSONResponse)(a)); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(e.buf.Bytes())
	return err
}
