package server

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// fieldMismatches lists where fields differ from the Go struct S as
// encoding/json sees it: a field S has that fields does not write (or the
// other way round), in another place, under another name or tag, or of
// another type.
func fieldMismatches[S any](fields []jsonField[S]) []string {
	st := reflect.TypeFor[S]()
	var out []string
	for i := range max(st.NumField(), len(fields)) {
		switch {
		case i >= len(fields):
			out = append(out, fmt.Sprintf("%s.%s (%s) is not written", st, st.Field(i).Name, st.Field(i).Tag))
			continue
		case i >= st.NumField():
			out = append(out, fmt.Sprintf("field %d %s is written but %s has no field %d", i, fields[i].goName, st, i))
			continue
		}
		sf, f := st.Field(i), fields[i]
		if sf.Name != f.goName {
			out = append(out, fmt.Sprintf("field %d: %s has %s, the encoder writes %s", i, st, sf.Name, f.goName))
		}
		if tag := sf.Tag.Get("json"); tag != f.tag {
			out = append(out, fmt.Sprintf("%s: json tag %q, the encoder writes %q", sf.Name, tag, f.tag))
		}
		if name, _, _ := strings.Cut(f.tag, ","); f.key != `,"`+name+`":` {
			out = append(out, fmt.Sprintf("%s: key %q for tag %q", sf.Name, f.key, f.tag))
		}
		if typ := reflect.TypeOf(f.typ); sf.Type != typ {
			out = append(out, fmt.Sprintf("%s: type %s, the encoder writes %v", sf.Name, sf.Type, typ))
		}
		if !sf.IsExported() || sf.Anonymous {
			out = append(out, fmt.Sprintf("%s: unexported or embedded, which the encoder does not handle", sf.Name))
		}
	}
	return out
}

// TestAnswerFieldsMatchTheGeneratedType fails when the generated
// gen.DatabaseWithCredentials (or its securityAddons object) gains, loses,
// renames, retags, retypes or reorders a field that answerFields does not
// write the same way (that resetPasswordAnswer is one is checked by the
// compiler, in VisitResetPasswordResponse's conversion). Regenerating gen/
// from a changed openapi.yaml then points here: update answerFields to the
// new field list.
func TestAnswerFieldsMatchTheGeneratedType(t *testing.T) {
	for _, m := range fieldMismatches(answerFields) {
		t.Error(m)
	}
	for _, m := range fieldMismatches(securityAddonsFields) {
		t.Error(m)
	}

	// The comparison fails for each kind of drift.
	drop := func(fs []jsonField[dwc], i int) []jsonField[dwc] {
		return append(append([]jsonField[dwc]{}, fs[:i]...), fs[i+1:]...)
	}
	renamed := append([]jsonField[dwc]{}, answerFields...)
	renamed[3] = optional("Budget", "budgets", func(d *dwc) *int64 { return d.Budget }, appendInt)
	retyped := append([]jsonField[dwc]{}, answerFields...)
	retyped[6] = optional("CreationTime", "creation_time", func(d *dwc) *int64 { return nil }, appendInt)
	swapped := append([]jsonField[dwc]{}, answerFields...)
	swapped[1], swapped[2] = swapped[2], swapped[1]
	extra := append(append([]jsonField[dwc]{}, answerFields...), required("Extra", "extra", func(*dwc) string { return "" }, appendString))
	for _, c := range []struct {
		drift      string
		mismatches []string
	}{
		{"a field left out", fieldMismatches(drop(answerFields, 10))},
		{"the last field left out", fieldMismatches(answerFields[:len(answerFields)-1])},
		{"a renamed json name", fieldMismatches(renamed)},
		{"a pointer for a value", fieldMismatches(retyped)},
		{"two fields swapped", fieldMismatches(swapped)},
		{"a field the type lacks", fieldMismatches(extra)},
		{"a field of securityAddons left out", fieldMismatches(securityAddonsFields[1:])},
	} {
		if len(c.mismatches) == 0 {
			t.Errorf("%s: no mismatch found", c.drift)
		}
	}
}
