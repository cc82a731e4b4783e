// Package testtree builds the typed tree of an inline test resource, for
// the tests of the packages that check trees (questionnaire, measure,
// searchparam, derivation, …).
package testtree

import (
	"testing"

	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/fhirjson"
	"github.com/sandkasse/sandkasse/validator/spec"
	"github.com/sandkasse/sandkasse/validator/structure"
)

// Build parses js and builds its tree with reg, failing the test on any
// syntax or structural error, so that each rule test exercises only its
// rule.
func Build(t testing.TB, reg *spec.Registry, js string) *element.Element {
	t.Helper()
	doc, err := fhirjson.Parse([]byte(js), fhirjson.Limits{})
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, js)
	}
	st := structure.Build(doc, reg, structure.Limits{})
	if st.Issues.HasErrors() {
		t.Fatalf("test input is not structurally valid:\n%v\n%s", st.Issues, js)
	}
	return st.Root
}
