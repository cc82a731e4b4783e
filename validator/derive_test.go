package validator_test

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/sandkasse/sandkasse/validator"
	"github.com/sandkasse/sandkasse/validator/fhirjson"
	"github.com/sandkasse/sandkasse/validator/spec/r4"
)

const (
	needsName  = "http://example.org/StructureDefinition/needs-name"
	needsBirth = "http://example.org/StructureDefinition/needs-birth"
)

func profileDef(url, path string) string {
	return `{"resourceType":"StructureDefinition","url":"` + url + `","name":"T","type":"Patient","kind":"resource",` +
		`"derivation":"constraint","baseDefinition":"http://hl7.org/fhir/StructureDefinition/Patient",` +
		`"differential":{"element":[{"id":"` + path + `","path":"` + path + `","min":1}]}}`
}

func profileFindings(r validator.Result) []string {
	var out []string
	for _, i := range r.Issues {
		if i.Code == "profile-cardinality-min" || i.Code == "profile-not-found" {
			out = append(out, i.Code+" "+i.Message)
		}
	}
	return out
}

func TestWithProfiles(t *testing.T) {
	reg := r4.NewRegistry()
	for _, d := range []string{profileDef(needsName, "Patient.name"), profileDef(needsBirth, "Patient.birthDate")} {
		if _, err := reg.LoadJSON("def", []byte(d)); err != nil {
			t.Fatal(err)
		}
	}
	base := newValidator(t, validator.Options{Registry: reg, Profiles: []string{needsBirth}})
	doc := []byte(`{"resourceType":"Patient","active":true}`)
	ctx := context.Background()

	if got := profileFindings(base.Validate(ctx, doc)); len(got) != 1 {
		t.Fatalf("base validator: want only its own profile's finding, got %v", got)
	}
	derived := base.WithProfiles(needsName)
	if got := profileFindings(derived.Validate(ctx, doc)); len(got) != 2 {
		t.Fatalf("derived validator: want the base's and the added profile's findings, got %v", got)
	}
	// Deriving must not change the base, nor a sibling derived from it.
	other := base.WithProfiles("http://example.org/StructureDefinition/nowhere")
	if got := profileFindings(base.Validate(ctx, doc)); len(got) != 1 {
		t.Fatalf("base changed by WithProfiles: %v", got)
	}
	if got := profileFindings(derived.Validate(ctx, doc)); len(got) != 2 {
		t.Fatalf("derived changed by a sibling: %v", got)
	}
	got := profileFindings(other.Validate(ctx, doc))
	if !slices.ContainsFunc(got, func(s string) bool { return len(s) > 17 && s[:17] == "profile-not-found" }) {
		t.Fatalf("an unknown added profile must be a profile-not-found finding, got %v", got)
	}
	if got := profileFindings(base.WithProfiles(needsBirth, needsName, needsName).Validate(ctx, doc)); len(got) != 2 {
		t.Fatalf("a profile named twice must be checked once, got %v", got)
	}
	if derived.Registry() != base.Registry() {
		t.Fatal("a derived validator must share the registry")
	}
}

// WithProfiles lists Validator's fields by hand (one holds a lock and
// cannot be copied); a new field must be shared or renewed there too.
func TestWithProfilesCopiesEveryField(t *testing.T) {
	known := []string{"opts", "reg", "term", "forms", "prof", "hints"}
	typ := reflect.TypeOf(validator.Validator{})
	var fields []string
	for i := range typ.NumField() {
		fields = append(fields, typ.Field(i).Name)
	}
	if !slices.Equal(fields, known) {
		t.Fatalf("Validator's fields are %v; WithProfiles (derive.go) was written for %v: update it", fields, known)
	}
}

func TestParseLimitsFillsDefaults(t *testing.T) {
	v := newValidator(t, validator.Options{Limits: fhirjson.Limits{MaxDepth: 7, AllowComments: true}})
	l := v.ParseLimits()
	want := fhirjson.Limits{MaxBytes: fhirjson.DefaultLimits.MaxBytes, MaxDepth: 7, MaxValues: fhirjson.DefaultLimits.MaxValues, AllowComments: true}
	if l != want {
		t.Fatalf("ParseLimits = %+v, want %+v", l, want)
	}
}
