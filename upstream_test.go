package devapi_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// Upstash's own spec, kept unmodified; see testdata/UPSTREAM-LICENSE.md.
const upstreamSpecFile = "testdata/upstream-openapi.yml"

// coveredTags are the upstream tags whose operations openapi.yaml must offer.
var coveredTags = []string{"redis", "teams"}

// coveredSchemas are the upstream schemas whose properties openapi.yaml must
// declare, with compatible types.
var coveredSchemas = []string{"Database", "Backup", "DatabaseStats", "Team"}

// schemaNesting is how many levels of objects below a covered schema are
// compared property by property: 1 reaches TimeSeriesData inside the
// DatabaseStats arrays and Database.securityAddons. Deeper objects are
// compared by type only.
const schemaNesting = 1

// TestUpstreamCoverage checks openapi.yaml against Upstash's published spec in
// testdata/upstream-openapi.yml. It fails with one line per problem:
//
//   - an operation tagged redis or teams upstream that openapi.yaml lacks
//     (matched by method and path shape, so {id} and {team_id} are the same),
//     or that it names with another operationId;
//   - a property of Database, Backup, DatabaseStats or Team (and of the
//     objects they contain, one level down) that openapi.yaml lacks or types
//     incompatibly. TestSchemaCompatibility lists what counts as compatible.
//
// To learn what changed upstream, replace testdata/upstream-openapi.yml with a
// newer, unmodified copy of devops/developer-api/openapi.yml from
// github.com/upstash/docs (and update the commit in
// testdata/UPSTREAM-LICENSE.md), then run
//
//	go test -run TestUpstreamCoverage .
//
// Every line it prints is something upstream has that openapi.yaml does not
// cover yet.
func TestUpstreamCoverage(t *testing.T) {
	// Neither document is validated here: Upstash's file need not pass
	// kin-openapi's validation, and the contract tests validate ours.
	upstream := loadSpecFile(t, upstreamSpecFile)
	ours := loadSpecFile(t, "openapi.yaml")

	problems := operationProblems(upstream, ours, coveredTags)
	for _, name := range coveredSchemas {
		up := componentSchema(upstream, name)
		if up == nil {
			t.Fatalf("%s declares no schema %s: update coveredSchemas", upstreamSpecFile, name)
		}
		our := componentSchema(ours, name)
		if our == nil {
			problems = append(problems, "missing schema "+name)
			continue
		}
		problems = append(problems, schemaProblems(name, up, our)...)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

func loadSpecFile(tb testing.TB, path string) *openapi3.T {
	tb.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile(path)
	if err != nil {
		tb.Fatalf("load %s: %v", path, err)
	}
	return doc
}

// componentSchema returns the resolved schema components.schemas[name] of doc,
// or nil.
func componentSchema(doc *openapi3.T, name string) *openapi3.Schema {
	if doc.Components == nil {
		return nil
	}
	if ref := doc.Components.Schemas[name]; ref != nil {
		return ref.Value
	}
	return nil
}

var pathParam = regexp.MustCompile(`\{[^}]*\}`)

// pathShape erases the names of path parameters: /teams/{team_id} and
// /teams/{id} have the same shape, /teams/{}.
func pathShape(path string) string {
	return pathParam.ReplaceAllString(path, "{}")
}

// operationProblems lists the operations of upstream carrying one of tags
// that ours lacks (by method and path shape) or names differently.
func operationProblems(upstream, ours *openapi3.T, tags []string) []string {
	type located struct{ id, method, path string }
	byShape := map[string]located{} // "GET /redis/stats/{}"
	byID := map[string]located{}
	for path, item := range ours.Paths.Map() {
		for method, op := range item.Operations() {
			l := located{op.OperationID, method, path}
			byShape[method+" "+pathShape(path)] = l
			byID[op.OperationID] = l
		}
	}

	var problems []string
	upPaths := upstream.Paths.Map()
	for _, path := range slices.Sorted(maps.Keys(upPaths)) {
		ops := upPaths[path].Operations()
		for _, method := range slices.Sorted(maps.Keys(ops)) {
			op := ops[method]
			if !slices.ContainsFunc(op.Tags, func(tag string) bool { return slices.Contains(tags, tag) }) {
				continue
			}
			our, ok := byShape[method+" "+pathShape(path)]
			switch {
			case !ok:
				p := fmt.Sprintf("missing operation %s: %s %s", op.OperationID, method, path)
				if elsewhere, ok := byID[op.OperationID]; ok && op.OperationID != "" {
					p += fmt.Sprintf(" (ours has %s at %s %s)", elsewhere.id, elsewhere.method, elsewhere.path)
				}
				problems = append(problems, p)
			case our.id != op.OperationID:
				problems = append(problems, fmt.Sprintf("operationId differs for %s %s: upstream %s, ours %s",
					method, path, op.OperationID, our.id))
			}
		}
	}
	return problems
}

// flatSchema is a schema with its $refs resolved and its allOf merged.
type flatSchema struct {
	typ      string // JSON type, "" when untyped; "a|b" for several
	enum     []any
	nullable bool
	items    *openapi3.Schema
	props    map[string]*openapi3.Schema
}

// flatten merges s with everything its allOf holds, depth first: properties
// are united, and type, enum and items come from the first level that
// declares them. A schema without a type but with properties is an object,
// one with items an array.
func flatten(s *openapi3.Schema) flatSchema {
	f := flatSchema{props: map[string]*openapi3.Schema{}}
	flattenInto(&f, s, 0)
	if f.typ == "" {
		switch {
		case len(f.props) > 0:
			f.typ = "object"
		case f.items != nil:
			f.typ = "array"
		}
	}
	return f
}

func flattenInto(f *flatSchema, s *openapi3.Schema, level int) {
	if s == nil || level > 32 { // 32: a guard against allOf cycles
		return
	}
	types := slices.DeleteFunc(slices.Clone(s.Type.Slice()), func(t string) bool { return t == "null" })
	if f.typ == "" {
		f.typ = strings.Join(types, "|")
	}
	if s.Nullable || s.Type.IncludesNull() {
		f.nullable = true
	}
	if len(f.enum) == 0 {
		f.enum = s.Enum
	}
	if f.items == nil && s.Items != nil {
		f.items = s.Items.Value
	}
	for name, p := range s.Properties {
		if _, ok := f.props[name]; !ok && p != nil {
			f.props[name] = p.Value
		}
	}
	for _, sub := range s.AllOf {
		if sub != nil {
			flattenInto(f, sub.Value, level+1)
		}
	}
}

// schemaProblems compares the properties of the object schema named name,
// upstream's against ours.
func schemaProblems(name string, up, ours *openapi3.Schema) []string {
	return propertyProblems(name, flatten(up), flatten(ours), schemaNesting)
}

// propertyProblems reports each property of up that ours lacks or types
// incompatibly; at is the dotted path of the object, for messages.
func propertyProblems(at string, up, ours flatSchema, nesting int) []string {
	var problems []string
	for _, name := range slices.Sorted(maps.Keys(up.props)) {
		where := at + "." + name
		our, ok := ours.props[name]
		if !ok {
			problems = append(problems, where+": missing in ours")
			continue
		}
		problems = append(problems, valueProblems(where, flatten(up.props[name]), flatten(our), nesting)...)
	}
	return problems
}

// valueProblems compares one value: its type, its enum, its nullability,
// then the items of an array and, nesting permitting, the properties of an
// object.
func valueProblems(at string, up, ours flatSchema, nesting int) []string {
	if p := typeProblem(up, ours); p != "" {
		return []string{at + ": " + p}
	}
	var problems []string
	if p := enumProblem(up.enum, ours.enum); p != "" {
		problems = append(problems, at+": "+p)
	}
	if up.nullable && !ours.nullable {
		problems = append(problems, at+": upstream nullable, ours not")
	}
	switch up.typ {
	case "array":
		if up.items != nil {
			problems = append(problems, valueProblems(at+"[]", flatten(up.items), flatten(ours.items), nesting)...)
		}
	case "object":
		if nesting > 0 {
			problems = append(problems, propertyProblems(at, up, ours, nesting-1)...)
		}
	}
	return problems
}

// typeProblem says why ours cannot carry every value of upstream's type, or
// returns "". Types must match, except that ours may widen integer to number.
// An untyped upstream value constrains nothing.
func typeProblem(up, ours flatSchema) string {
	switch {
	case up.typ == "" || up.typ == ours.typ:
		return ""
	case up.typ == "integer" && ours.typ == "number":
		return ""
	case up.typ == "string" && ours.typ == "boolean" && isBoolStringEnum(up.enum):
		return `upstream string ("true"/"false"), ours boolean: Upstash sends these as JSON strings`
	}
	our := ours.typ
	if our == "" {
		our = "untyped"
	}
	return fmt.Sprintf("upstream %s, ours %s", up.typ, our)
}

func isBoolStringEnum(enum []any) bool {
	return len(enum) == 2 && slices.Contains(enum, any("true")) && slices.Contains(enum, any("false"))
}

// enumProblem says why ours's enum rejects values upstream allows, or returns
// "". Ours may drop upstream's enum or extend it, not shrink it, and may not
// add one where upstream has none.
func enumProblem(up, ours []any) string {
	switch {
	case len(ours) == 0:
		return ""
	case len(up) == 0:
		return fmt.Sprintf("upstream has no enum, ours allows only %s", formatEnum(ours))
	}
	var lacking []any
	for _, v := range up {
		if !slices.ContainsFunc(ours, func(o any) bool { return formatEnum([]any{o}) == formatEnum([]any{v}) }) {
			lacking = append(lacking, v)
		}
	}
	if len(lacking) == 0 {
		return ""
	}
	return fmt.Sprintf("upstream enum %s, ours %s: lacks %s", formatEnum(up), formatEnum(ours), formatEnum(lacking))
}

// formatEnum writes enum values as JSON, so that "true" and true differ.
func formatEnum(values []any) string {
	b, err := json.Marshal(values)
	if err != nil {
		return fmt.Sprint(values)
	}
	return string(b)
}

func TestSchemaCompatibility(t *testing.T) {
	str := openapi3.NewStringSchema
	integer := openapi3.NewInt64Schema
	number := openapi3.NewFloat64Schema
	boolean := openapi3.NewBoolSchema
	array := func(items *openapi3.Schema) *openapi3.Schema { return openapi3.NewArraySchema().WithItems(items) }
	object := func(kv ...any) *openapi3.Schema {
		s := openapi3.NewObjectSchema()
		for i := 0; i < len(kv); i += 2 {
			s.WithProperty(kv[i].(string), kv[i+1].(*openapi3.Schema))
		}
		return s
	}
	ref := func(name string, s *openapi3.Schema) *openapi3.SchemaRef {
		return &openapi3.SchemaRef{Ref: "#/components/schemas/" + name, Value: s}
	}
	timeSeries := object("x", str(), "y", number())

	tests := []struct {
		name     string
		up, ours *openapi3.Schema
		want     []string
	}{
		{"same properties", object("a", integer(), "b", str()), object("a", integer(), "b", str()), nil},
		{"extra property in ours", object("a", integer()), object("a", integer(), "b", str()), nil},
		{"missing property", object("a", integer(), "b", str()), object("a", integer()),
			[]string{"S.b: missing in ours"}},

		{"integer to string", object("a", integer()), object("a", str()),
			[]string{"S.a: upstream integer, ours string"}},
		{"integer to number widens", object("a", integer()), object("a", number()), nil},
		{"number to integer narrows", object("a", number()), object("a", integer()),
			[]string{"S.a: upstream number, ours integer"}},
		{"int32 format is not compared", object("a", integer()), object("a", openapi3.NewInt32Schema()), nil},
		{"untyped ours", object("a", integer()), object("a", &openapi3.Schema{}),
			[]string{"S.a: upstream integer, ours untyped"}},
		{"untyped upstream constrains nothing", object("a", &openapi3.Schema{}), object("a", boolean()), nil},

		{"same enum", object("s", str().WithEnum("a", "b")), object("s", str().WithEnum("b", "a")), nil},
		{"enum superset", object("s", str().WithEnum("a", "b")), object("s", str().WithEnum("a", "b", "c")), nil},
		{"enum dropped", object("s", str().WithEnum("a", "b")), object("s", str()), nil},
		{"enum subset", object("s", str().WithEnum("a", "b", "c")), object("s", str().WithEnum("a", "c")),
			[]string{`S.s: upstream enum ["a","b","c"], ours ["a","c"]: lacks ["b"]`}},
		{"enum added", object("s", str()), object("s", str().WithEnum("a")),
			[]string{`S.s: upstream has no enum, ours allows only ["a"]`}},

		{"nullable in ours", object("a", integer()), object("a", integer().WithNullable()), nil},
		{"nullable upstream, not in ours", object("a", integer().WithNullable()), object("a", integer()),
			[]string{"S.a: upstream nullable, ours not"}},

		{"boolean string stays string", object("f", str().WithEnum("true", "false")), object("f", str()), nil},
		{"boolean string made boolean", object("f", str().WithEnum("true", "false")), object("f", boolean()),
			[]string{`S.f: upstream string ("true"/"false"), ours boolean: Upstash sends these as JSON strings`}},

		{"array items widen", object("l", array(integer())), object("l", array(number())), nil},
		{"array item type changed", object("l", array(integer())), object("l", array(str())),
			[]string{"S.l[]: upstream integer, ours string"}},
		{"array made scalar", object("l", array(str())), object("l", str()),
			[]string{"S.l: upstream array, ours string"}},
		{"array without items in ours", object("l", array(str())), object("l", openapi3.NewArraySchema()),
			[]string{"S.l[]: upstream string, ours untyped"}},

		{"nested object compared", object("o", object("x", boolean())), object("o", object("x", boolean())), nil},
		{"nested property missing", object("o", object("x", boolean(), "y", boolean())), object("o", object("x", boolean())),
			[]string{"S.o.y: missing in ours"}},
		{"nested property retyped", object("o", object("x", boolean())), object("o", object("x", str())),
			[]string{"S.o.x: upstream boolean, ours string"}},
		{"array of objects compared", object("l", array(timeSeries)), object("l", array(object("x", str()))),
			[]string{"S.l[].y: missing in ours"}},
		{"deeper objects compared by type only",
			object("o", object("p", object("z", str()))), object("o", object("p", object())), nil},
		{"deeper object retyped",
			object("o", object("p", object("z", str()))), object("o", object("p", str())),
			[]string{"S.o.p: upstream object, ours string"}},

		{"referenced schema compared by value",
			object().WithPropertyRef("t", ref("TimeSeriesData", timeSeries)),
			object().WithPropertyRef("t", ref("Point", object("x", str(), "y", integer()))),
			[]string{"S.t.y: upstream number, ours integer"}},
		{"allOf merged in ours",
			object("a", integer(), "b", str()),
			openapi3.NewAllOfSchema(object("a", integer()), object("b", str())),
			nil},
		{"allOf merged upstream",
			openapi3.NewAllOfSchema(object("a", integer()), object("b", str())),
			object("a", integer()),
			[]string{"S.b: missing in ours"}},
		{"allOf wrapping a nullable ref",
			object("s", str().WithEnum("a", "b")),
			object().WithPropertyRef("s", &openapi3.SchemaRef{Value: &openapi3.Schema{
				Nullable: true,
				AllOf:    openapi3.SchemaRefs{ref("Letters", str().WithEnum("a"))},
			}}),
			[]string{`S.s: upstream enum ["a","b"], ours ["a"]: lacks ["b"]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := schemaProblems("S", tt.up, tt.ours)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestOperationCoverage(t *testing.T) {
	op := func(id string, tags ...string) *openapi3.Operation {
		return &openapi3.Operation{OperationID: id, Tags: tags}
	}
	doc := func(paths map[string]*openapi3.PathItem) *openapi3.T {
		var opts []openapi3.NewPathsOption
		for path, item := range paths {
			opts = append(opts, openapi3.WithPath(path, item))
		}
		return &openapi3.T{Paths: openapi3.NewPaths(opts...)}
	}
	upstream := doc(map[string]*openapi3.PathItem{
		"/teams/{team_id}":        {Get: op("getTeamMembers", "teams")},
		"/redis/stats/{id}":       {Get: op("getDatabaseStats", "redis")},
		"/redis/{id}/change-plan": {Post: op("changePlan", "redis")},
		"/redis/rename/{id}":      {Post: op("renameDatabase", "redis")},
		"/vector/index":           {Get: op("listIndices", "vector")},
		"/redis/databases":        {Get: op("listDatabases", "redis", "extra")},
	})
	ours := doc(map[string]*openapi3.PathItem{
		"/teams/{id}":             {Get: op("getTeamMembers", "teams")},
		"/redis/change-plan/{id}": {Post: op("changePlan", "redis")},
		"/redis/rename/{id}":      {Post: op("rename", "redis")},
		"/redis/databases":        {Get: op("listDatabases")},
	})
	want := []string{
		"operationId differs for POST /redis/rename/{id}: upstream renameDatabase, ours rename",
		"missing operation getDatabaseStats: GET /redis/stats/{id}",
		"missing operation changePlan: POST /redis/{id}/change-plan (ours has changePlan at POST /redis/change-plan/{id})",
	}
	got := operationProblems(upstream, ours, coveredTags)
	if !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
