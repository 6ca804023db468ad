package upstash

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Sentinel errors an *APIError matches with errors.Is. One error can match
// several: a 400 "eviction already enabled" is ErrAlreadyEnabled and
// ErrBadRequest.
var (
	// ErrNotFound: 404, no such database, backup or team for this account.
	ErrNotFound = errors.New("upstash: not found")
	// ErrUnauthorized: 401 or 403, missing or wrong credentials.
	ErrUnauthorized = errors.New("upstash: unauthorized")
	// ErrAlreadyEnabled: 400 whose message says "already enabled": the
	// setting was on already.
	ErrAlreadyEnabled = errors.New("upstash: already enabled")
	// ErrAlreadyDisabled: 400 whose message says "already disabled": the
	// setting was off already.
	ErrAlreadyDisabled = errors.New("upstash: already disabled")
	// ErrBadRequest: any 400, a request the API refused.
	ErrBadRequest = errors.New("upstash: bad request")
	// ErrRateLimited: 429, too many requests.
	ErrRateLimited = errors.New("upstash: rate limited")
	// ErrServer: any 5xx, a failure on the server's side.
	ErrServer = errors.New("upstash: server error")
)

// APIError is an answer of the API other than success.
type APIError struct {
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Message is the error the API gave: the bare JSON string of business
	// errors ("database not found"), the "error" field of {"error": "..."},
	// or else a short excerpt of the body.
	Message string
	// Body is the answer's body as received (up to 64 KiB).
	Body []byte
}

// newAPIError builds the error for an answer with status and body.
func newAPIError(status int, body []byte) *APIError {
	return &APIError{StatusCode: status, Message: errorMessage(status, body), Body: body}
}

// errorMessage finds the message in an error answer, in either of the shapes
// Upstash uses.
func errorMessage(status int, body []byte) string {
	trimmed := bytes.TrimSpace(body)
	var s string
	if json.Unmarshal(trimmed, &s) == nil {
		return s
	}
	var obj struct {
		Error   *string `json:"error"`
		Message *string `json:"message"`
	}
	if json.Unmarshal(trimmed, &obj) == nil {
		if obj.Error != nil {
			return *obj.Error
		}
		if obj.Message != nil {
			return *obj.Message
		}
	}
	if len(trimmed) == 0 {
		return strings.ToLower(http.StatusText(status))
	}
	return excerpt(trimmed, 200)
}

// excerpt returns at most n bytes of b as one line of valid UTF-8.
func excerpt(b []byte, n int) string {
	cut := len(b) > n
	if cut {
		b = b[:n]
		for len(b) > 0 && !utf8.Valid(b) {
			b = b[:len(b)-1]
		}
	}
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "?")), " ")
	if cut {
		s += "..."
	}
	return s
}

// Error reports the status and the API's message.
func (e *APIError) Error() string {
	text := strings.ToLower(http.StatusText(e.StatusCode))
	if text == "" {
		text = "status " + fmt.Sprint(e.StatusCode)
	}
	return fmt.Sprintf("%d %s: %s", e.StatusCode, text, e.Message)
}

// Is reports whether e is one of the package's sentinel errors.
func (e *APIError) Is(target error) bool {
	msg := strings.ToLower(e.Message)
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden
	case ErrAlreadyEnabled:
		return e.StatusCode == http.StatusBadRequest && strings.Contains(msg, "already enabled")
	case ErrAlreadyDisabled:
		return e.StatusCode == http.StatusBadRequest && strings.Contains(msg, "already disabled")
	case ErrBadRequest:
		return e.StatusCode == http.StatusBadRequest
	case ErrRateLimited:
		return e.StatusCode == http.StatusTooManyRequests
	case ErrServer:
		return e.StatusCode >= 500 && e.StatusCode <= 599
	}
	return false
}
