package devapi

import (
	"errors"
	"fmt"
)

// Error codes: the closed set every layer speaks. The server maps each to an
// HTTP status in one table.
const (
	ECONFLICT     = "conflict"     // the change clashes with the current state
	EINTERNAL     = "internal"     // unexpected; details are logged, never shown
	EINVALID      = "invalid"      // the request is wrong; the message says how
	ENOTFOUND     = "not_found"    // no such thing, or not the caller's
	EUNAUTHORIZED = "unauthorized" // missing or wrong credentials
	// EUNAVAILABLE: the change is stored but the data plane has not taken
	// it yet; devapi goes on applying it.
	EUNAVAILABLE = "unavailable"
	ENOSPACE     = "no_space" // the store's disk is full: nothing was written
)

// Error is a domain error: a code from the set above and a message that is
// safe to show to the caller.
type Error struct {
	Code    string
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("devapi error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err when it is or wraps an *Error, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	// errors.AsType needs no pointer to a local, which errors.As makes
	// escape: ErrorCode is on every request's path.
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the caller-safe message of err. For errors that are not
// an *Error it returns a generic text, so internal details never leak.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Message
	}
	return "internal server error"
}
