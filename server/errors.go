package server

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/gen"
)

// statusOf is the one table from domain error codes to HTTP statuses.
var statusOf = map[string]int{
	devapi.ECONFLICT:     http.StatusBadRequest,
	devapi.EINTERNAL:     http.StatusInternalServerError,
	devapi.EINVALID:      http.StatusBadRequest,
	devapi.ENOTFOUND:     http.StatusNotFound,
	devapi.EUNAUTHORIZED: http.StatusUnauthorized,
	devapi.EUNAVAILABLE:  http.StatusServiceUnavailable,
	devapi.ENOSPACE:      http.StatusInsufficientStorage,
}

// errorStatus returns the HTTP status for err.
func errorStatus(err error) int {
	if s, ok := statusOf[devapi.ErrorCode(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// messageBody is an Error answer in Upstash's business-error shape: a bare
// JSON string.
func messageBody(msg string) gen.Error {
	var e gen.Error
	_ = e.FromErrorMessage(msg) // marshalling a string cannot fail
	return e
}

// errorBody is the Error answer for err. Authentication failures use the
// object shape Upstash sends for them, {"error": "Unauthorized"}, and so do
// devapi's own 503 and 507 (as its 429); every other error the bare-string
// shape. Internal errors carry no detail.
func errorBody(err error) gen.Error {
	switch devapi.ErrorCode(err) {
	case devapi.EUNAUTHORIZED, devapi.EUNAVAILABLE, devapi.ENOSPACE:
		var e gen.Error
		_ = e.FromErrorObject(gen.ErrorObject{Error: devapi.ErrorMessage(err)})
		return e
	}
	return messageBody(devapi.ErrorMessage(err))
}

// writeError answers err as JSON with the status from the table. Internal
// errors are logged with the request id; their text never reaches the client.
// A full disk is logged once, when the first change fails for it (see
// diskFull).
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := errorStatus(err)
	switch status {
	case http.StatusInternalServerError:
		s.logger.ErrorContext(r.Context(), "internal error", slog.String("request_id", requestID(r.Context())), slog.Any("err", err))
	case http.StatusInsufficientStorage:
		if s.diskFull.CompareAndSwap(false, true) {
			s.logger.ErrorContext(r.Context(), "the store's disk is full: changes answer 507 until space is freed",
				slog.String("request_id", requestID(r.Context())), slog.Any("err", err))
		}
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="devapi"`)
	}
	writeJSON(w, status, errorBody(err))
}

// writeJSON writes v as a JSON answer.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`"internal server error"`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
