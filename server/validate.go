package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/go-chi/chi/v5"

	"github.com/devapi-dev/devapi"
)

// validator checks requests against openapi.yaml before they reach a
// handler. chi has already routed the request, so the operation is looked up
// by the route's pattern rather than matched again.
type validator struct {
	doc     *openapi3.T
	options *openapi3filter.Options
	// pathOnly holds the operations (by method, then pattern) that take no
	// body and no parameter but plain string path parameters: once chi has
	// routed a request to one, there is nothing left to validate.
	pathOnly map[string]map[string]bool
}

func newValidator(doc *openapi3.T) *validator {
	v := &validator{
		doc: doc,
		options: &openapi3filter.Options{
			// Credentials were checked by authenticate already.
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
			MultiError:         false,
		},
		pathOnly: map[string]map[string]bool{},
	}
	for pattern, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if takesPathOnly(item, op) {
				if v.pathOnly[method] == nil {
					v.pathOnly[method] = map[string]bool{}
				}
				v.pathOnly[method][pattern] = true
			}
		}
	}
	return v
}

// takesPathOnly reports whether op takes no body and no parameter but path
// parameters whose schema is a string with no constraint: a request chi
// routed to op cannot break its part of the spec. (Query parameters the
// spec does not declare are ignored by the validator anyway.)
func takesPathOnly(item *openapi3.PathItem, op *openapi3.Operation) bool {
	if op.RequestBody != nil {
		return false
	}
	for _, params := range []openapi3.Parameters{item.Parameters, op.Parameters} {
		for _, ref := range params {
			p := ref.Value
			if p == nil || p.In != openapi3.ParameterInPath || p.Content != nil || p.Schema == nil || p.Schema.Value == nil {
				return false
			}
			sc := p.Schema.Value
			if !sc.Type.Is(openapi3.TypeString) || sc.Pattern != "" || sc.Format != "" || sc.MinLength != 0 ||
				sc.MaxLength != nil || len(sc.Enum) != 0 || sc.Not != nil || len(sc.AllOf)+len(sc.AnyOf)+len(sc.OneOf) != 0 {
				return false
			}
		}
	}
	return true
}

// route returns the spec's route for a request chi has routed under base.
func (v *validator) route(r *http.Request, base string) (*routers.Route, map[string]string, error) {
	rc := chi.RouteContext(r.Context())
	if rc == nil {
		return nil, nil, fmt.Errorf("no chi route context")
	}
	pattern := strings.TrimPrefix(rc.RoutePattern(), base)
	item := v.doc.Paths.Value(pattern)
	if item == nil {
		return nil, nil, fmt.Errorf("path %q is not in the spec", pattern)
	}
	op := item.GetOperation(r.Method)
	if op == nil {
		return nil, nil, fmt.Errorf("%s %q is not in the spec", r.Method, pattern)
	}
	params := make(map[string]string, len(rc.URLParams.Keys))
	for i, k := range rc.URLParams.Keys {
		params[k] = rc.URLParams.Values[i]
	}
	return &routers.Route{Spec: v.doc, Path: pattern, PathItem: item, Method: r.Method, Operation: op}, params, nil
}

// validate checks a routed request: parameters, content type and body.
// Bodies over maxBody are refused with 413 whatever their declared length;
// the body of an operation that takes one must be exactly one JSON document
// in valid UTF-8 (checkBody), and then match the spec's schema, the names'
// length and character limits included (namePattern). A refused request
// reaches no handler, so it changes nothing.
func (s *Server) validate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > s.maxBody {
			s.writeTooLarge(w, r)
			return
		}
		if rc := chi.RouteContext(r.Context()); rc != nil && s.validator.pathOnly[r.Method][strings.TrimPrefix(rc.RoutePattern(), apiBase)] {
			next.ServeHTTP(w, r) // reset-password, get, delete: nothing to check (takesPathOnly)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.maxBody)
		route, params, err := s.validator.route(r, apiBase)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if route.Operation.RequestBody != nil {
			// Read the body once, here: checkBody sees the bytes as sent, and
			// the validator and the handler decode the same bytes after it.
			body, err := io.ReadAll(r.Body)
			if err != nil {
				var tooLarge *http.MaxBytesError
				if errors.As(err, &tooLarge) {
					s.writeTooLarge(w, r)
					return
				}
				s.writeError(w, r, devapi.Errorf(devapi.EINVALID, "request body could not be read"))
				return
			}
			var schema *openapi3.Schema
			if mt := route.Operation.RequestBody.Value.Content.Get("application/json"); mt != nil && mt.Schema != nil {
				schema = mt.Schema.Value
			}
			if err := checkBody(body, schema); err != nil {
				s.writeError(w, r, err)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
			if len(body) != 0 {
				normalizeContentType(r)
			}
		}
		err = openapi3filter.ValidateRequest(r.Context(), &openapi3filter.RequestValidationInput{
			Request:    r,
			PathParams: params,
			Route:      route,
			Options:    s.validator.options,
		})
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				s.writeTooLarge(w, r)
				return
			}
			s.writeError(w, r, devapi.Errorf(devapi.EINVALID, "%s", describe(err)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) writeTooLarge(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusRequestEntityTooLarge, messageBody(fmt.Sprintf("request body is larger than %d bytes", s.maxBody)))
}

// normalizeContentType treats a body sent without a JSON content type (curl
// -d sends application/x-www-form-urlencoded) as the JSON every operation of
// this API takes, as the real service does.
func normalizeContentType(r *http.Request) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		return
	}
	r.Header.Set("Content-Type", "application/json")
}

// describe turns a kin-openapi validation error into a short message about
// the caller's input.
func describe(err error) string {
	var re *openapi3filter.RequestError
	if !errors.As(err, &re) {
		return "invalid request"
	}
	if errors.Is(re.Err, openapi3filter.ErrInvalidRequired) {
		if re.Parameter != nil {
			return fmt.Sprintf("parameter %q is required", re.Parameter.Name)
		}
		return "request body is required"
	}
	var se *openapi3.SchemaError
	if errors.As(re.Err, &se) {
		where := strings.Join(se.JSONPointer(), ".")
		reason := se.Reason
		if strings.HasPrefix(reason, "Value is not nullable") {
			reason = "value must not be null"
		}
		if name, ok := se.Value.(string); ok && se.SchemaField == "pattern" && se.Schema != nil && se.Schema.Pattern == namePattern {
			reason = nameProblem(name)
		}
		switch {
		case re.Parameter != nil:
			return fmt.Sprintf("parameter %q: %s", re.Parameter.Name, reason)
		case where != "":
			return fmt.Sprintf("request body: %s: %s", where, reason)
		default:
			return "request body: " + reason
		}
	}
	switch {
	case re.Parameter != nil:
		return fmt.Sprintf("parameter %q: %s", re.Parameter.Name, re.Reason)
	case re.RequestBody != nil && strings.Contains(re.Reason, "decode"):
		return "request body is not valid JSON"
	case re.RequestBody != nil && re.Reason != "":
		return "request body: " + re.Reason
	default:
		return re.Error()
	}
}
