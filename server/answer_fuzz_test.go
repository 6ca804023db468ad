package server

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/devapi-dev/devapi"
	"github.com/devapi-dev/devapi/internal/genserver"
	"github.com/devapi-dev/devapi/storetest"
)

// awkwardStrings are strings where encoding/json's escaping has a rule.
var awkwardStrings = []string{
	"",
	"plain",
	"<script>alert('&amp;')</script>",
	`"quoted" \ back\slash /`,
	"\x00\x01\x07\x1f\x7f",
	"\b\f\n\r\t\v",
	"line\u2028paragraph\u2029",
	"\xff\xfe invalid",
	"cut \xc3",
	"\xed\xa0\x80 surrogate",
	"héllo 世界 🎉",
	"\ufffd replacement",
	"\u007f\u0080\u00a0",
}

// awkwardInts are integers at the edges of int64's formatting.
var awkwardInts = []int64{0, -1, 1, 6379, math.MaxInt64, math.MinInt64, 1<<53 + 1, -1 << 53}

// awkwardFloats are numbers at the edges of encoding/json's 'f'/'e' rule.
var awkwardFloats = []float64{
	0, math.Copysign(0, -1), 1, -1.5, 123.456, 0.1,
	1e-6, 9.99999e-7, 1e-7, -1e-7, 1.5e-300,
	1e20, 999999999999999999999, 1e21, -1e21, 1.2345e22,
	9223372036854775808, math.MaxFloat64, math.SmallestNonzeroFloat64,
}

// answerFiller fills a value of any type a devapi.Database holds, by
// reflection, driven by a stream of choices, so that the fuzzer reaches
// every field whatever the database holds.
type answerFiller struct {
	tb      testing.TB
	choices []byte
	n       int
	text    string
	i       int64
}

func (f *answerFiller) next() int {
	f.n++
	if len(f.choices) == 0 {
		return f.n * 37
	}
	return int(f.choices[f.n%len(f.choices)]) + f.n/len(f.choices)
}

func (f *answerFiller) fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if f.next()%4 == 0 {
			return // nil
		}
		v.Set(reflect.New(v.Type().Elem()))
		f.fill(v.Elem())
	case reflect.Slice:
		switch n := f.next() % 5; n {
		case 0: // nil
		case 1:
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		default:
			v.Set(reflect.MakeSlice(v.Type(), n-1, n-1))
			for i := range n - 1 {
				f.fill(v.Index(i))
			}
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Unix(f.i>>(f.next()%64), int64(f.next())).UTC()))
			return
		}
		for i := range v.NumField() {
			if !v.Field(i).CanSet() {
				f.tb.Fatalf("%s.%s cannot be filled: this filler needs a case for it", v.Type(), v.Type().Field(i).Name)
			}
			f.fill(v.Field(i))
		}
	case reflect.String:
		switch c := f.next() % (len(awkwardStrings) + 2); c {
		case len(awkwardStrings):
			v.SetString(f.text)
		case len(awkwardStrings) + 1:
			v.SetString(awkwardStrings[f.next()%len(awkwardStrings)] + f.text)
		default:
			v.SetString(awkwardStrings[c])
		}
	case reflect.Int, reflect.Int64:
		if c := f.next() % (len(awkwardInts) + 1); c < len(awkwardInts) {
			v.SetInt(awkwardInts[c])
		} else {
			v.SetInt(f.i)
		}
	case reflect.Bool:
		v.SetBool(f.next()%2 == 1)
	default:
		f.tb.Fatalf("no filler for %s: this filler needs a case for it", v.Type())
	}
}

// plans are the plans a fuzzed database is on, besides awkward strings.
var plans = []string{devapi.PlanFree, devapi.PlanPayg, devapi.PlanFixed250MB, devapi.PlanFixed1GB, devapi.PlanFixed5GB,
	devapi.PlanFixed10GB, devapi.PlanFixed50GB, devapi.PlanFixed100GB, devapi.PlanFixed500GB, ""}

// checkAnswerMatchesGenerated fails unless resetPasswordAnswer writes for
// d in state what genserver.ResetPassword200JSONResponse writes for the
// generated type that toDatabaseWithCredentials makes of it: the same
// status, headers and body, byte for byte.
func checkAnswerMatchesGenerated(t *testing.T, d *devapi.Database, state string) {
	t.Helper()
	generated := (&Server{}).toDatabaseWithCredentials(d)
	generated.State = state
	got, want := httptest.NewRecorder(), httptest.NewRecorder()
	answer := &resetPasswordAnswer{d: d, state: state, ids: newShortIDs(d.ID)}
	if err := answer.VisitResetPasswordResponse(got); err != nil {
		t.Fatal(err)
	}
	if err := genserver.ResetPassword200JSONResponse(generated).VisitResetPasswordResponse(want); err != nil {
		t.Fatal(err)
	}
	if got.Code != want.Code || !reflect.DeepEqual(got.Header(), want.Header()) {
		t.Errorf("status/headers: got %d %v, want %d %v", got.Code, got.Header(), want.Code, want.Header())
	}
	if got.Body.String() != want.Body.String() {
		t.Errorf("body:\n got %q\nwant %q", got.Body, want.Body)
	}
}

// FuzzResetPasswordAnswer fills every field of a database (nil, empty and
// awkward strings, lists and numbers, every plan, plus the fuzzer's own
// text and integer) and checks that resetPasswordAnswer writes the
// generated response's bytes for it. Its seeds, a few hundred random
// choice streams, run with every go test.
func FuzzResetPasswordAnswer(f *testing.F) {
	f.Add([]byte{}, "", int64(0), "active")
	f.Add([]byte{1, 2, 3}, "<>&\u2028\xff", int64(math.MaxInt64), "unavailable")
	f.Add([]byte{255}, "世界", int64(math.MinInt64), "<state>")
	rng := rand.New(rand.NewPCG(15, 15))
	for range 300 {
		choices := make([]byte, rng.IntN(80))
		for i := range choices {
			choices[i] = byte(rng.Uint32())
		}
		f.Add(choices, awkwardStrings[rng.IntN(len(awkwardStrings))], rng.Int64()>>rng.IntN(64), awkwardStrings[rng.IntN(len(awkwardStrings))])
	}
	f.Fuzz(func(t *testing.T, choices []byte, text string, i int64, state string) {
		var d devapi.Database
		filler := &answerFiller{tb: t, choices: choices, text: text, i: i}
		filler.fill(reflect.ValueOf(&d).Elem())
		if c := filler.next() % (len(plans) + 1); c < len(plans) {
			d.Plan = plans[c]
		}
		checkAnswerMatchesGenerated(t, &d, state)
	})
}

// TestResetPasswordAnswerEveryPlan checks the answer of a typical
// database on every plan, and of the zero database.
func TestResetPasswordAnswerEveryPlan(t *testing.T) {
	for _, plan := range append(plans, "no-such-plan") {
		d := storetest.NewDatabase("db-1", "owner@example.com", time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC))
		d.Plan = plan
		checkAnswerMatchesGenerated(t, d, "active")
	}
	checkAnswerMatchesGenerated(t, &devapi.Database{}, "")
}

// TestPlanRequestLimitsAreNumbers: no plan has a request limit that JSON
// cannot hold, the one value the answer could refuse.
func TestPlanRequestLimitsAreNumbers(t *testing.T) {
	for _, plan := range append(plans, "no-such-plan") {
		limits, _ := devapi.PlanLimits(plan)
		if _, ok := appendFloat(nil, limits.RequestLimit); !ok {
			t.Errorf("plan %q: request limit %v has no JSON number", plan, limits.RequestLimit)
		}
	}
}

// TestAppendFloatMatchesEncodingJSON checks appendFloat against
// encoding/json on the edges of its 'f'/'e' rule, and its refusal of NaN
// and the infinities.
func TestAppendFloatMatchesEncodingJSON(t *testing.T) {
	for _, x := range append(awkwardFloats, math.NaN(), math.Inf(1), math.Inf(-1)) {
		want, wantErr := json.Marshal(x)
		got, ok := appendFloat(nil, x)
		if ok != (wantErr == nil) || ok && string(got) != string(want) {
			t.Errorf("appendFloat(%v) = %q, %v; encoding/json: %q, %v", x, got, ok, want, wantErr)
		}
	}
}
