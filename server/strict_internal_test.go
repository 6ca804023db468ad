package server

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// nameFields are the request properties that name something a user sees
// again: a database, a backup, a team.
var nameFields = []string{"name", "database_name", "team_name"}

// TestNameFieldsCarryTheNamePattern: every name a request body sets carries
// namePattern in openapi.yaml, so a name field added later without it fails
// here; and the pattern says what maxNameRunes and nameProblem say.
func TestNameFieldsCarryTheNamePattern(t *testing.T) {
	doc, err := Spec()
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.RequestBody == nil {
				continue
			}
			for mt, content := range op.RequestBody.Value.Content {
				for prop, ref := range properties(content.Schema) {
					if !slices.Contains(nameFields, prop) {
						continue
					}
					found++
					if ref.Value.Pattern != namePattern {
						t.Errorf("%s %s (%s): %s has pattern %q, want %q", method, path, mt, prop, ref.Value.Pattern, namePattern)
					}
				}
			}
		}
	}
	if found < 5 { // create's database_name and name, rename, backup, team
		t.Errorf("found %d name fields in request bodies, want at least 5", found)
	}

	re := regexp.MustCompile(namePattern)
	for _, tc := range []struct {
		name    string
		ok      bool
		problem string
	}{
		{"", true, ""},
		{strings.Repeat("a", maxNameRunes), true, ""},
		{strings.Repeat("😀", maxNameRunes), true, ""},
		{strings.Repeat("a", maxNameRunes+1), false, "at most 128 characters"},
		{"tab\there", false, "control characters"},
		{"nul\x00", false, "control characters"},
		{"del\x7f", false, "control characters"},
		{"c1\u009f", false, "control characters"},
		{"nbsp\u00a0 and bidi \u202e are not controls", true, ""},
	} {
		if got := re.MatchString(tc.name); got != tc.ok {
			t.Errorf("namePattern matches %.20q: %v, want %v", tc.name, got, tc.ok)
		}
		if !tc.ok && !strings.Contains(nameProblem(tc.name), tc.problem) {
			t.Errorf("nameProblem(%.20q) = %q, want it to say %q", tc.name, nameProblem(tc.name), tc.problem)
		}
	}
}

// properties returns the properties of an object schema, following $refs.
func properties(ref *openapi3.SchemaRef) openapi3.Schemas {
	if ref == nil || ref.Value == nil {
		return nil
	}
	return ref.Value.Properties
}
