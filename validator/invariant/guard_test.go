package invariant

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/fhirjson"
	"github.com/sandkasse/sandkasse/validator/fhirpath"
	"github.com/sandkasse/sandkasse/validator/spec/r4"
	"github.com/sandkasse/sandkasse/validator/structure"
)

func TestGuardOf(t *testing.T) {
	for _, c := range []struct {
		expr string
		want []string // nil: no guard
	}{
		{"contained.contained.empty()", []string{"contained"}},
		{"contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()", []string{"contained", "contained"}},
		{"code.empty() or system.exists()", []string{"code"}},
		{"duration.exists() implies duration >= 0", []string{"duration"}},
		{"start.hasValue().not() or end.hasValue().not() or (start <= end)", []string{"start"}},
		{"value.empty() or component.code.where(coding.intersect(%resource.code.coding).exists()).empty()", []string{"value"}},
		{"type!='display' or code.empty()", []string{"type", "code"}},
		{"entry.all(request.exists())", []string{"entry"}},
		{"(a.exists() and b.empty()).not()", []string{"a"}},
		{"text.`div`.exists()", nil},                              // false when text is absent
		{"extension.exists() != value.exists()", nil},             // not a comparison with a literal
		{"low.exists() or high.exists() or text.exists()", nil},   // false when all are absent
		{"a.empty() or b xor c", []string{"a", "c"}},              // (true) xor {} is empty
		{"a.empty() or b.exists() implies c", []string{"a", "c"}}, // (true) implies {} is empty
		{"a.exists() xor b.exists()", nil},                        // false xor false is false
		{"fullUrl.contains('/_history/').not()", nil},             // contains() is not read
		{"Patient.name.empty()", nil},                             // a type name may be the focus itself
		{"%resource.x.empty()", nil},
		{"descendants().empty()", nil},
		{"a.where(b = 'x' or c).empty()", nil},
		{"a = 'it''s'", nil},
		{"type in ('a' | 'b') or maxLength.empty()", nil}, // the left side could fail
	} {
		g := guardOf(c.expr)
		var got []string
		if g != nil {
			got = g.names
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("guardOf(%q) = %q, want %q", c.expr, got, c.want)
		}
	}
}

// Every guarded evaluation skipped on the examples (and on the core's
// own constraints, on an element that has no children) must be one the
// FHIRPath passes without an error.
func TestGuardsAgreeWithFHIRPath(t *testing.T) {
	reg := r4.NewRegistry()
	env := &fhirpath.Env{Model: reg}
	check := func(where string, e *element.Element, pl *plan, expr string) bool {
		if pl.guard == nil || e.IsPrimitive() || !pl.guard.absent(e) {
			return false
		}
		got, err := pl.cp.expr.EvalTri(env, fhirpath.Collection{e})
		if err != nil || got == fhirpath.False {
			t.Errorf("%s: %q with %v absent skipped, but FHIRPath gives %v, %v", where, expr, pl.guard.names, got, err)
		}
		return true
	}
	// The core: each type's constraints on a bare instance of the type.
	guarded, skipped := 0, 0
	for _, ti := range reg.TypeInfos() {
		sd := reg.Type(ti.Name)
		if sd == nil || sd.Snapshot == nil || len(sd.Snapshot.Element) == 0 {
			continue
		}
		for _, d := range sd.Snapshot.Element {
			if len(d.Type) == 0 && d != sd.Snapshot.Element[0] {
				continue
			}
			for i := range d.Constraint {
				pl := planFor(&d.Constraint[i])
				if pl.cp == nil || pl.guard == nil {
					continue
				}
				guarded++
				typ := ti.Name
				if d != sd.Snapshot.Element[0] {
					typ = d.Type[0].FHIRType()
				}
				bare := &element.Element{Name: d.Path, Type: typ, Index: -1, IsResource: d == sd.Snapshot.Element[0] && ti.Kind == "resource"}
				if check(d.Path, bare, pl, d.Constraint[i].Expression) {
					skipped++
				}
			}
		}
	}
	if guarded < 100 {
		t.Errorf("only %d core constraints have guards: the reading finds too little to matter", guarded)
	}
	// The examples: every site, every step, as Check sees them.
	dir := os.Getenv("SANDKASSE_BENCH_CORPUS")
	if dir == "" {
		t.Logf("%d core constraints guarded; SANDKASSE_BENCH_CORPUS unset, examples not checked", guarded)
		return
	}
	f, err := os.Open(filepath.Join(dir, "examples.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	inExamples := 0
	for sc.Scan() {
		doc, err := fhirjson.Parse(sc.Bytes(), fhirjson.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		st := structure.Build(doc, reg, structure.Limits{})
		for _, s := range st.Sites {
			for _, stp := range stepsFor(s.Def, s.TypeRoot) {
				if stp.plan.cp != nil && check(s.Elem.Path(), s.Elem, stp.plan, stp.c.Expression) {
					inExamples++
				}
			}
		}
	}
	if inExamples < 1000 {
		t.Errorf("only %d evaluations skipped on the examples", inExamples)
	}
	t.Logf("%d core constraints guarded (%d checked bare); %d evaluations skipped on the examples, all passing in FHIRPath", guarded, skipped, inExamples)
}
