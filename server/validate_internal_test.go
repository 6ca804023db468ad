package server

import (
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// TestTakesPathOnly: the validator skips only operations where a routed
// request has nothing left to get wrong; a body, a query parameter or a
// constrained path parameter keeps the validation.
func TestTakesPathOnly(t *testing.T) {
	doc, err := Spec()
	if err != nil {
		t.Fatal(err)
	}
	v := newValidator(doc)
	for _, tc := range []struct {
		method, pattern string
		want            bool
	}{
		{"POST", "/redis/reset-password/{id}", true},
		{"DELETE", "/redis/database/{id}", true},
		{"GET", "/redis/database/{id}", false}, // ?credentials=hide
		{"POST", "/redis/database", false},     // a body
	} {
		if doc.Paths.Value(tc.pattern) == nil {
			t.Fatalf("%s is not in the spec", tc.pattern)
		}
		if got := v.pathOnly[tc.method][tc.pattern]; got != tc.want {
			t.Errorf("%s %s: path only = %v, want %v", tc.method, tc.pattern, got, tc.want)
		}
	}

	str := func(change func(*openapi3.Schema)) *openapi3.Operation {
		sc := openapi3.NewStringSchema()
		if change != nil {
			change(sc)
		}
		p := openapi3.NewPathParameter("id").WithSchema(sc)
		return &openapi3.Operation{Parameters: openapi3.Parameters{{Value: p}}}
	}
	for name, op := range map[string]*openapi3.Operation{
		"pattern":   str(func(s *openapi3.Schema) { s.Pattern = "^[a-z]+$" }),
		"maxLength": str(func(s *openapi3.Schema) { s.WithMaxLength(8) }),
		"enum":      str(func(s *openapi3.Schema) { s.WithEnum("a", "b") }),
		"format":    str(func(s *openapi3.Schema) { s.Format = "uuid" }),
		"integer":   {Parameters: openapi3.Parameters{{Value: openapi3.NewPathParameter("id").WithSchema(openapi3.NewIntegerSchema())}}},
		"query":     {Parameters: openapi3.Parameters{{Value: openapi3.NewQueryParameter("q").WithSchema(openapi3.NewStringSchema())}}},
	} {
		if takesPathOnly(&openapi3.PathItem{}, op) {
			t.Errorf("an operation with a %s parameter counts as path only", name)
		}
	}
	if !takesPathOnly(&openapi3.PathItem{}, str(nil)) {
		t.Error("an operation with one plain string path parameter does not count as path only")
	}
}
