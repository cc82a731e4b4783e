package derivation

import (
	"reflect"
	"testing"

	"github.com/sandkasse/sandkasse/validator/internal/testtree"
	"github.com/sandkasse/sandkasse/validator/spec/r4"
)

// tree builds an inline resource's tree, failing the test on any structural error.
var tree = testtree.Build

// profile is an Observation profile deriving from base with the given
// differential elements (after the root).
func profile(url, base, elems string) string {
	return `{"resourceType":"StructureDefinition","url":"` + url + `","name":"P","status":"draft","kind":"resource",
	"abstract":false,"type":"Observation","baseDefinition":"` + base + `","derivation":"constraint",
	"differential":{"element":[{"id":"Observation","path":"Observation"}` + elems + `]}}`
}

func TestFixedValuesKeepTheBase(t *testing.T) {
	reg := r4.NewRegistry()
	const baseURL = "http://example.org/StructureDefinition/base"
	if _, err := reg.LoadJSON("base.json", []byte(profile(baseURL, "http://hl7.org/fhir/StructureDefinition/Observation",
		`,{"id":"Observation.status","path":"Observation.status","fixedCode":"final"},
		 {"id":"Observation.code","path":"Observation.code","patternCodeableConcept":{"coding":[{"system":"http://loinc.org","code":"8310-5"}]}},
		 {"id":"Observation.valueQuantity","path":"Observation.valueQuantity","fixedQuantity":{"value":1.0,"unit":"kg"}}`))); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, elems string
		want        []string
	}{
		{"same fixed value", `,{"id":"Observation.status","path":"Observation.status","fixedCode":"final"}`, []string{}},
		{"other fixed value", `,{"id":"Observation.status","path":"Observation.status","fixedCode":"amended"}`,
			[]string{"StructureDefinition.differential.element[1].fixed.ofType(code)"}},
		{"pattern kept and narrowed", `,{"id":"Observation.code","path":"Observation.code","patternCodeableConcept":{"coding":[{"system":"http://loinc.org","code":"8310-5","display":"Body temperature"}],"text":"t"}}`, []string{}},
		{"pattern broken", `,{"id":"Observation.code","path":"Observation.code","fixedCodeableConcept":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]}}`,
			[]string{"StructureDefinition.differential.element[1].fixed.ofType(CodeableConcept)"}},
		{"complex fixed value, numbers as written", `,{"id":"Observation.valueQuantity","path":"Observation.valueQuantity","fixedQuantity":{"value":1.0,"unit":"kg"}}`, []string{}},
		{"complex fixed value changed", `,{"id":"Observation.valueQuantity","path":"Observation.valueQuantity","fixedQuantity":{"value":1.0,"unit":"g"}}`,
			[]string{"StructureDefinition.differential.element[1].fixed.ofType(Quantity)"}},
		{"element the base leaves open", `,{"id":"Observation.issued","path":"Observation.issued","fixedInstant":"2020-01-01T00:00:00Z"}`, []string{}},
	}
	for _, c := range cases {
		sd := tree(t, reg, profile("http://example.org/StructureDefinition/derived", baseURL, c.elems))
		got := []string{}
		for _, is := range CheckFixedValues(sd, reg, nil) {
			got = append(got, is.Expression)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
	// An unknown base is not checked.
	sd := tree(t, reg, profile("http://example.org/StructureDefinition/d2", "http://example.org/none",
		`,{"id":"Observation.status","path":"Observation.status","fixedCode":"amended"}`))
	if l := CheckFixedValues(sd, reg, nil); len(l) != 0 {
		t.Fatalf("unknown base gave %v", l)
	}
}
