package spec_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/sandkasse/sandkasse/validator/spec"
	"github.com/sandkasse/sandkasse/validator/spec/r4"
)

func names(ns []*spec.ElementNode) string {
	var s []string
	for _, n := range ns {
		s = append(s, n.Name)
	}
	return strings.Join(s, ",")
}

func index(t testing.TB, reg *spec.Registry, url string) *spec.ElementIndex {
	t.Helper()
	sd := reg.StructureDefinition(url)
	if sd == nil {
		t.Fatalf("no %s", url)
	}
	x, err := reg.Elements(sd)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestChildren(t *testing.T) {
	reg := r4.NewRegistry()
	x := index(t, reg, spec.CoreBase+"Patient")
	if got, want := names(x.Children("Patient.contact")), "id,extension,modifierExtension,relationship,name,telecom,address,gender,organization,period"; got != want {
		t.Errorf("Patient.contact children = %s, want %s", got, want)
	}
	if got := names(x.Children("Patient.nope")); got != "" {
		t.Errorf("children of a missing path: %s", got)
	}
	if x.Root.Name != "Patient" || x.ByPath("Patient") != x.Root {
		t.Error("root")
	}
	c, typ := x.Root.Child("deceasedDateTime")
	if c == nil || c.Name != "deceased[x]" || typ != "dateTime" {
		t.Errorf("deceasedDateTime -> %v %q", c, typ)
	}
	if c, _ := x.Root.Child("deceasedString"); c != nil {
		t.Error("deceasedString matched deceased[x], which has no string type")
	}
	if c, typ := x.Root.Child("birthDate"); c == nil || typ != "date" {
		t.Errorf("birthDate -> %v %q", c, typ)
	}
	if c, _ := x.Root.Child("deceased"); c != nil {
		t.Error("bare choice prefix matched")
	}
}

func TestContentReference(t *testing.T) {
	reg := r4.NewRegistry()
	x := index(t, reg, spec.CoreBase+"Questionnaire")
	item := x.ByPath("Questionnaire.item")
	nested := x.ByPath("Questionnaire.item.item")
	if nested == nil || nested.Ref != item {
		t.Fatalf("Questionnaire.item.item does not resolve to Questionnaire.item")
	}
	if names(nested.Children) != names(item.Children) {
		t.Error("nested item children differ")
	}
	deep := x.ByPath("Questionnaire.item.item.item.linkId")
	if deep == nil || deep.Def.Path != "Questionnaire.item.linkId" {
		t.Errorf("deep linkId: %v", deep)
	}
	if c, typ := nested.Child("answerValueSet"); c == nil || typ != "canonical" {
		t.Errorf("Child through contentReference: %v %q", c, typ)
	}

	// The absolute form used by some profiles resolves the same way.
	sd := *reg.StructureDefinition(spec.CoreBase + "Questionnaire")
	snap := &spec.ElementList{}
	for _, e := range sd.Snapshot.Element {
		c := *e
		if c.ContentReference != "" {
			c.ContentReference = spec.CoreBase + "Questionnaire" + c.ContentReference
		}
		snap.Element = append(snap.Element, &c)
	}
	sd.Snapshot = snap
	sd.URL = "http://example.org/q"
	y, err := spec.NewElementIndex(&sd)
	if err != nil {
		t.Fatal(err)
	}
	if n := y.ByPath("Questionnaire.item.item"); n == nil || n.Ref == nil || len(n.Children) == 0 {
		t.Error("absolute contentReference not resolved")
	}
	sd.Snapshot.Element[len(sd.Snapshot.Element)-1].ContentReference = "#Questionnaire.nothing"
	if _, err := spec.NewElementIndex(&sd); err == nil || !strings.Contains(err.Error(), "Questionnaire.nothing") {
		t.Errorf("dangling contentReference: %v", err)
	}
}

func TestSlices(t *testing.T) {
	reg := r4.NewRegistry()
	x := index(t, reg, spec.CoreBase+"bp")
	comp := x.ByPath("Observation.component")
	if got := names(comp.Slices); got != "component,component" {
		t.Errorf("component slices = %s", got)
	}
	if comp.Slices[0].Def.SliceName != "SystolicBP" || comp.Slices[0].SliceOf != comp {
		t.Errorf("first slice %+v", comp.Slices[0].Def)
	}
	sys := x.ByID("Observation.component:SystolicBP.code")
	if sys == nil || sys.Parent != comp.Slices[0] {
		t.Error("slice child not under its slice")
	}
	// The unsliced path must reach the base element, not a slice's.
	if n := x.ByPath("Observation.component.code"); n == nil || n.Def.ID != "Observation.component.code" {
		t.Errorf("ByPath picked %v", n.Def.ID)
	}
	coding := x.ByPath("Observation.code.coding")
	if len(coding.Slices) != 1 || coding.Slices[0].Def.SliceName != "BPCode" {
		t.Errorf("code.coding slices: %d", len(coding.Slices))
	}
}

func TestEveryCoreSnapshotIndexes(t *testing.T) {
	reg := r4.NewRegistry()
	for _, u := range reg.URLs("StructureDefinition") {
		sd := reg.StructureDefinition(u)
		if sd.Snapshot == nil {
			continue
		}
		x, err := reg.Elements(sd)
		if err != nil {
			t.Error(err)
			continue
		}
		// Every snapshot element must be reachable by its id.
		for _, e := range sd.Snapshot.Element {
			if x.ByID(e.ID) == nil || x.ByID(e.ID).Def != e {
				t.Errorf("%s: element %s not indexed", u, e.ID)
			}
		}
	}
}

func TestElementsConcurrent(t *testing.T) {
	reg := r4.NewRegistry()
	sd := reg.Type("Observation")
	var wg sync.WaitGroup
	got := make([]*spec.ElementIndex, 8)
	for i := range got {
		wg.Go(func() { got[i], _ = reg.Elements(sd) })
	}
	wg.Wait()
	for _, x := range got {
		if x != got[0] || x == nil {
			t.Fatal("concurrent Elements returned different indexes")
		}
	}
}

func BenchmarkChildLookup(b *testing.B) {
	reg := r4.NewRegistry()
	x := index(b, reg, spec.CoreBase+"Observation")
	root := x.Root
	for b.Loop() {
		if c, _ := root.Child("valueQuantity"); c == nil {
			b.Fatal("no value[x]")
		}
		if c, _ := root.Child("status"); c == nil {
			b.Fatal("no status")
		}
	}
}

func BenchmarkChildrenByPath(b *testing.B) {
	reg := r4.NewRegistry()
	x := index(b, reg, spec.CoreBase+"Questionnaire")
	for b.Loop() {
		if len(x.Children("Questionnaire.item.item")) == 0 {
			b.Fatal("none")
		}
	}
}

func BenchmarkBuildIndexObservation(b *testing.B) {
	sd := r4.NewRegistry().Type("Observation")
	for b.Loop() {
		if _, err := spec.NewElementIndex(sd); err != nil {
			b.Fatal(err)
		}
	}
}
