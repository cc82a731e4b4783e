package fhirpath_test

import (
	"errors"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/validator/fhirpath"
	"github.com/sandkasse/sandkasse/validator/fhirpath/internal/untyped"
)

var fuzzSeeds = []string{
	"Patient.name.where(given = 'Jim').exists()",
	"hasValue() or (children().count() > id.count())",
	dom3,
	"@2015-02-04T14:34:28.123+10:00 + 1 'wk' - 3 months",
	"'a\\u0041\\'b'.matches('^[a-z]+$') implies (1.5 'mg' < 2 'g')",
	"(1 | 2).aggregate($this + $total, 0)",
	"%`vs-administrative-gender` & %resource.id",
	"descendants().ofType(FHIR.string).select($index)",
	"`given`.sort(-$this).join(',').split(',').distinct()",
	"1.587.lowBoundary(2) | @T10:30.highBoundary(9) | 'abc'.encode('hex').decode('hex')",
	"/* c */ 2 // d",
	"{}.iif(true, 'x')",
}

func FuzzCompile(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	for _, s := range suiteExpressions(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := fhirpath.Compile(src)
		if err != nil {
			var se *fhirpath.SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Compile error is %T, want *SyntaxError", err)
			}
			if se.Pos < 0 || se.Pos > len(src) {
				t.Fatalf("error position %d outside the source (%d bytes)", se.Pos, len(src))
			}
			return
		}
		if e.String() != src {
			t.Fatal("String() does not return the source")
		}
	})
}

const fuzzDoc = `{"resourceType":"Patient","id":"p1","active":true,
 "contained":[{"resourceType":"Organization","id":"o1","name":"Org"}],
 "name":[{"use":"official","family":"Chalmers","given":["Peter","James"]},{"given":[null,"Jim"],"_given":[{"extension":[{"url":"u","valueString":"x"}]},null]}],
 "birthDate":"1974-12-25","multipleBirthInteger":2,"weight":72.50,
 "managingOrganization":{"reference":"#o1"}}`

func FuzzEvaluate(f *testing.F) {
	root, err := untyped.Parse([]byte(fuzzDoc))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	for _, s := range suiteExpressions(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := fhirpath.Compile(src)
		if err != nil {
			return
		}
		env := &fhirpath.Env{Model: fhirpath.R4, MaxSteps: 200_000, Deadline: time.Now().Add(2 * time.Second),
			Now: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
		start := time.Now()
		out, err := e.Evaluate(env, fhirpath.Collection{root})
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("evaluation took %v", d)
		}
		if err != nil {
			var ee *fhirpath.EvalError
			if !errors.As(err, &ee) {
				t.Fatalf("Evaluate error is %T, want *EvalError", err)
			}
			if len(ee.Msg) > 12 && ee.Msg[:12] == "internal err" {
				t.Fatalf("panic inside the engine: %v", err)
			}
			return
		}
		for _, it := range out {
			fhirpath.ItemString(it)
			fhirpath.TypeName(it)
		}
	})
}
