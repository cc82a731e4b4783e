package fhirpath_test

import (
	"path/filepath"
	"testing"

	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/fhirpath"
	"github.com/sandkasse/sandkasse/validator/fhirpath/internal/untyped"
)

const ele1 = "hasValue() or (children().count() > id.count())"

func BenchmarkCompile(b *testing.B) {
	exprs := append([]string{ele1, dom3}, suiteExpressions(b)...)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, s := range exprs {
			fhirpath.Compile(s)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(exprs)), "ns/expr")
}

// benchTree is the suite's patient example, or the hand-built typed patient
// when the corpus is absent.
func benchTree(b *testing.B) *element.Element {
	root, err := untyped.Load(filepath.Join(corpusDir, "patient-example.json"))
	if err != nil {
		return typedPatient()
	}
	return root
}

func allElements(e *element.Element, out []*element.Element) []*element.Element {
	out = append(out, e)
	for _, c := range e.Children {
		out = allElements(c, out)
	}
	return out
}

// BenchmarkEvalInvariant evaluates ele-1 on every element of a resource, as
// the validator does; the metric is per element.
func BenchmarkEvalInvariant(b *testing.B) {
	root := benchTree(b)
	elems := allElements(root, nil)
	e := fhirpath.MustCompile(ele1)
	env := &fhirpath.Env{Model: fhirpath.R4, Resource: root, RootResource: root}
	in := make(fhirpath.Collection, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, el := range elems {
			in[0] = el
			ok, err := e.EvalBool(env, in)
			if err != nil || !ok {
				b.Fatalf("ele-1 failed on %s: %v", el.Path(), err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(elems)), "ns/element")
}

func BenchmarkEvalDom3(b *testing.B) {
	root := typedPatient()
	e := fhirpath.MustCompile(dom3)
	env := &fhirpath.Env{Model: fhirpath.R4, Resource: root, RootResource: root}
	in := fhirpath.Collection{root}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ok, err := e.EvalBool(env, in)
		if err != nil || !ok {
			b.Fatal("dom-3 failed", err)
		}
	}
}

func BenchmarkEvalWhere(b *testing.B) {
	root := typedPatient()
	e := fhirpath.MustCompile("Patient.name.where(use = 'official').given.first() = 'Peter' and birthDate < @2000-01-01")
	env := &fhirpath.Env{Model: fhirpath.R4}
	in := fhirpath.Collection{root}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.EvalBool(env, in); err != nil {
			b.Fatal(err)
		}
	}
}
