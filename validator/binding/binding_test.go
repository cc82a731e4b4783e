package binding

import (
	"testing"

	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/issue"
	"github.com/sandkasse/sandkasse/validator/spec"
	"github.com/sandkasse/sandkasse/validator/spec/r4"
	"github.com/sandkasse/sandkasse/validator/terminology"
)

func nowhere(*element.Element) (int, int) { return 1, 1 }

// The fix hint lists the allowed codes in a stable (sorted) order, and
// the remembered hint is the one a fresh expansion gives.
func TestRequiredBindingFixIsSortedAndRemembered(t *testing.T) {
	term := terminology.New(r4.NewRegistry())
	def := &spec.ElementDefinition{Binding: &spec.Binding{Strength: "required",
		ValueSet: "http://hl7.org/fhir/ValueSet/administrative-gender|4.0.1"}}
	gender := &element.Element{Name: "gender", Type: "code", Value: "F", HasValue: true, Index: -1}
	const want = "use one of female | male | other | unknown"
	var h Hints
	for i, hints := range []*Hints{nil, &h, &h} {
		got := CheckHints(gender, def, term, nowhere, hints)
		if len(got) != 1 || got[0].Code != "binding-required" || got[0].Severity != issue.Error {
			t.Fatalf("run %d: findings %+v, want one binding-required error", i, got)
		}
		if got[0].Fix != want {
			t.Errorf("run %d: fix %q, want %q", i, got[0].Fix, want)
		}
	}
	if h.n.Load() != 1 {
		t.Errorf("%d hints remembered, want 1", h.n.Load())
	}
	ok := &element.Element{Name: "gender", Type: "code", Value: "female", HasValue: true, Index: -1}
	if got := CheckHints(ok, def, term, nowhere, &h); len(got) != 0 {
		t.Errorf("a code in the value set gave %+v", got)
	}
}
