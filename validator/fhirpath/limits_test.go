package fhirpath_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/fhirpath"
	"github.com/sandkasse/sandkasse/validator/fhirpath/suite"
)

func TestNestingLimit(t *testing.T) {
	ok := strings.Repeat("(", fhirpath.MaxNesting/2-1) + "1" + strings.Repeat(")", fhirpath.MaxNesting/2-1)
	if _, err := fhirpath.Compile(ok); err != nil {
		t.Fatalf("nesting within the limit: %v", err)
	}
	for _, src := range []string{
		strings.Repeat("(", fhirpath.MaxNesting+1) + "1" + strings.Repeat(")", fhirpath.MaxNesting+1),
		strings.Repeat("-", 100000) + "1",
		strings.Repeat("f(", 5000) + strings.Repeat(")", 5000),
		"1" + strings.Repeat(" + (1", 3000) + strings.Repeat(")", 3000),
		strings.Repeat("a.where(", 3000) + "b" + strings.Repeat(")", 3000),
	} {
		_, err := fhirpath.Compile(src)
		var se *fhirpath.SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("deep input (%d bytes): want a SyntaxError, got %v", len(src), err)
		}
	}
}

func TestSyntaxErrorPosition(t *testing.T) {
	cases := map[string]int{
		"2 + 2 /":               7,
		"2 + 2 /* not finished": 6,
		"name.":                 5,
		"name.given)":           10,
		"'abc":                  0,
		"foo(1)":                0,
		"1 + @2015-13-01":       4,
	}
	for src, pos := range cases {
		_, err := fhirpath.Compile(src)
		var se *fhirpath.SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q: want a SyntaxError, got %v", src, err)
			continue
		}
		if se.Pos != pos {
			t.Errorf("%q: error at %d, want %d (%s)", src, se.Pos, pos, se.Msg)
		}
	}
}

// wide builds a tree of n×n leaves.
func wide(n int) *element.Element {
	root := &element.Element{Name: "Basic", Type: "Basic", IsResource: true, Index: -1}
	for i := 0; i < n; i++ {
		c := &element.Element{Name: "extension", Type: "Extension", Parent: root, Index: int32(i)}
		for j := 0; j < n; j++ {
			c.Children = append(c.Children, &element.Element{Name: "valueString", Type: "string",
				Value: "x", HasValue: true, Parent: c, Index: int32(j)})
		}
		root.Children = append(root.Children, c)
	}
	return root
}

func TestStepLimit(t *testing.T) {
	root := wide(300)
	in := fhirpath.Collection{root}
	for _, src := range []string{
		"(1).repeat($this + 1)",                                      // never stops producing new items
		"('a').repeat($this + $this)",                                // doubles a string each round
		"descendants().aggregate($total.combine($total), 1).count()", // 2^n growth
		"descendants().select(%resource.descendants()).count()",      // n^2 over a large tree
		"descendants().where(%resource.descendants().where($this = 'y').exists()).count()",
	} {
		e := fhirpath.MustCompile(src)
		start := time.Now()
		_, err := e.Evaluate(&fhirpath.Env{MaxSteps: 2_000_000}, in)
		t.Logf("%s: stopped after %v", src, time.Since(start))
		if !errors.Is(err, fhirpath.ErrLimit) {
			t.Errorf("%s: want ErrLimit, got %v", src, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: took %v to stop", src, d)
		}
	}
}

// Numbers that grow without bound end with a range error, not with ever
// slower big-number arithmetic until the step limit: the steps allowed are
// far more than the doublings to the end of the range.
func TestNumberGrowth(t *testing.T) {
	for _, src := range []string{"(2.0).repeat($this * $this).count()", "(2.5).repeat($this + $this).count()",
		"(2).repeat($this * $this).count()", "(7.5 'mg').repeat($this + $this).count()"} {
		_, err := fhirpath.MustCompile(src).Evaluate(&fhirpath.Env{MaxSteps: 1_000_000}, nil)
		if err == nil || errors.Is(err, fhirpath.ErrLimit) ||
			!(strings.Contains(err.Error(), "out of range") || strings.Contains(err.Error(), "overflow")) {
			t.Errorf("%s: %v, want a range or overflow error", src, err)
		}
	}
}

func TestDeadline(t *testing.T) {
	e := fhirpath.MustCompile("(1).repeat($this + 1)")
	start := time.Now()
	_, err := e.Evaluate(&fhirpath.Env{MaxSteps: 1 << 62, Deadline: time.Now().Add(50 * time.Millisecond)}, nil)
	if !errors.Is(err, fhirpath.ErrLimit) {
		t.Fatalf("want ErrLimit, got %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("deadline overshot: %v", d)
	}
}

// Error messages must not repeat instance data: they are shown to users and
// logged, and resources carry patient data.
func TestErrorsCarryNoData(t *testing.T) {
	secret := "Nordmann-12345678901"
	root := &element.Element{Name: "Patient", Type: "Patient", IsResource: true, Index: -1}
	root.Children = []*element.Element{
		{Name: "name", Type: "string", Value: secret, HasValue: true, Parent: root, Index: 0},
		{Name: "name", Type: "string", Value: secret + "b", HasValue: true, Parent: root, Index: 1},
		{Name: "birthDate", Type: "date", Value: secret, HasValue: true, Parent: root, Index: -1},
	}
	for _, src := range []string{
		"name + 1", "name.single()", "name.substring(0)", "birthDate < 1", "name.first() - 1",
		"name.first().toInteger() + name", "iif(name.first(), 1, 2)", "name.first().matches(name.first() & '(')",
		"name.first() as string1", "name.allTrue()", "-name.first()", "name.first().abs()",
	} {
		_, err := fhirpath.MustCompile(src).Evaluate(&fhirpath.Env{Model: fhirpath.R4}, fhirpath.Collection{root})
		if err == nil {
			t.Errorf("%s: expected an error", src)
			continue
		}
		if strings.Contains(err.Error(), "Nordmann") || strings.Contains(err.Error(), "12345678901") {
			t.Errorf("%s: error repeats data: %v", src, err)
		}
	}
}

func TestConcurrentEvaluate(t *testing.T) {
	e := fhirpath.MustCompile("Patient.name.where(given = 'Jim').exists() and birthDate < today()")
	pat := typedPatient()
	done := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func() {
			for i := 0; i < 200; i++ {
				ok, err := e.EvalBool(&fhirpath.Env{Model: fhirpath.R4}, fhirpath.Collection{pat})
				if err != nil || !ok {
					done <- errors.New("unexpected result")
					return
				}
			}
			done <- nil
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// suiteExpressions returns the official suite's expressions (for fuzz seeds
// and benchmarks), or nil when the corpus is absent.
func suiteExpressions(tb testing.TB) []string {
	path := filepath.Join(corpusDir, "tests-fhir-r4.xml")
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	file, err := suite.Parse(f)
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, g := range file.Groups {
		for _, t := range g.Tests {
			out = append(out, t.Expression)
		}
	}
	return out
}
