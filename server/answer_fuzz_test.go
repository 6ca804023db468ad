package server

import (
	"math"
	"math/rand/v2"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/devapi-dev/devapi/gen"
	"github.com/devapi-dev/devapi/internal/genserver"
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

// answerFiller fills a value of any type the generated answer uses, by
// reflection, driven by a stream of choices, so that the fuzzer reaches
// every field whatever the generated type holds.
type answerFiller struct {
	tb      testing.TB
	choices []byte
	n       int
	text    string
	i       int64
	x       float64
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
		for i := range v.NumField() {
			if !v.Field(i).CanSet() {
				f.tb.Fatalf("%s.%s cannot be filled: the answer's encoder and this filler need a case for it", v.Type(), v.Type().Field(i).Name)
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
	case reflect.Int64:
		if c := f.next() % (len(awkwardInts) + 1); c < len(awkwardInts) {
			v.SetInt(awkwardInts[c])
		} else {
			v.SetInt(f.i)
		}
	case reflect.Float64:
		if c := f.next() % (len(awkwardFloats) + 1); c < len(awkwardFloats) {
			v.SetFloat(awkwardFloats[c])
		} else {
			v.SetFloat(f.x)
		}
	case reflect.Bool:
		v.SetBool(f.next()%2 == 1)
	default:
		f.tb.Fatalf("no filler for %s: the answer's encoder and this filler need a case for it", v.Type())
	}
}

// checkAnswerMatchesGenerated fails unless resetPasswordAnswer writes what
// genserver.ResetPassword200JSONResponse writes for d: the same error (or
// none), status, headers and body, byte for byte.
func checkAnswerMatchesGenerated(t *testing.T, d gen.DatabaseWithCredentials) {
	t.Helper()
	answer := resetPasswordAnswer(d)
	got, want := httptest.NewRecorder(), httptest.NewRecorder()
	gotErr := answer.VisitResetPasswordResponse(got)
	wantErr := genserver.ResetPassword200JSONResponse(d).VisitResetPasswordResponse(want)
	if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
		t.Fatalf("error: got %v, want %v", gotErr, wantErr)
	}
	if got.Code != want.Code || !reflect.DeepEqual(got.Header(), want.Header()) {
		t.Errorf("status/headers: got %d %v, want %d %v", got.Code, got.Header(), want.Code, want.Header())
	}
	if got.Body.String() != want.Body.String() {
		t.Errorf("body:\n got %q\nwant %q", got.Body, want.Body)
	}
}

// FuzzResetPasswordAnswer fills every field of the answer (nil, empty and
// awkward strings, slices and numbers, plus the fuzzer's own text, integer
// and float) and checks that resetPasswordAnswer writes the generated
// response's bytes. NaN and the infinities take the encoding/json path
// and its error. Its seeds, a few hundred random choice streams, run with
// every go test.
func FuzzResetPasswordAnswer(f *testing.F) {
	f.Add([]byte{}, "", int64(0), 0.0)
	f.Add([]byte{1, 2, 3}, "<>&\u2028\xff", int64(math.MaxInt64), 1e21)
	f.Add([]byte{255}, "世界", int64(math.MinInt64), 1e-7)
	f.Add([]byte{0, 1}, "nan", int64(-1), math.NaN())
	f.Add([]byte{7, 7, 7}, "inf", int64(1), math.Inf(1))
	f.Add([]byte{9}, "-inf", int64(2), math.Inf(-1))
	rng := rand.New(rand.NewPCG(15, 15))
	for range 300 {
		choices := make([]byte, rng.IntN(80))
		for i := range choices {
			choices[i] = byte(rng.Uint32())
		}
		f.Add(choices, awkwardStrings[rng.IntN(len(awkwardStrings))], rng.Int64()>>rng.IntN(64), rng.NormFloat64()*math.Pow(10, float64(rng.IntN(60)-30)))
	}
	f.Fuzz(func(t *testing.T, choices []byte, text string, i int64, x float64) {
		var d gen.DatabaseWithCredentials
		filler := &answerFiller{tb: t, choices: choices, text: text, i: i, x: x}
		filler.fill(reflect.ValueOf(&d).Elem())
		checkAnswerMatchesGenerated(t, d)
	})
}

// TestResetPasswordAnswerRefusedNumbers checks the encoding/json path: an
// answer with a number JSON cannot hold returns encoding/json's error and
// writes nothing, as the generated response does, wherever the number is.
func TestResetPasswordAnswerRefusedNumbers(t *testing.T) {
	for _, x := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		for _, d := range []gen.DatabaseWithCredentials{
			{DbRequestLimit: &x},
			{ReservedPerRegionPrice: &x, DatabaseName: "<after the number>"},
		} {
			checkAnswerMatchesGenerated(t, d)
			rec := httptest.NewRecorder()
			answer := resetPasswordAnswer(d)
			if err := answer.VisitResetPasswordResponse(rec); err == nil || rec.Body.Len() != 0 || len(rec.Header()) != 0 {
				t.Errorf("%v: got error %v, %d bytes, headers %v; want an error and nothing written", x, err, rec.Body.Len(), rec.Header())
			}
		}
	}
	// The fast path still answers after a refused number, from a pooled
	// buffer that held part of the refused answer.
	checkAnswerMatchesGenerated(t, gen.DatabaseWithCredentials{DatabaseName: "next"})
}

// TestResetPasswordAnswerEmptyObjects checks the answers with the fewest
// fields: the zero value, and a securityAddons object without fields.
func TestResetPasswordAnswerEmptyObjects(t *testing.T) {
	checkAnswerMatchesGenerated(t, gen.DatabaseWithCredentials{})
	checkAnswerMatchesGenerated(t, gen.DatabaseWithCredentials{SecurityAddons: &securityAddons{}})
}
