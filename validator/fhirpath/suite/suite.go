// Package suite runs the official FHIRPath test suite (tests-fhir-r4.xml)
// against the engine. The input loader is injected, because turning a JSON
// resource into a typed element tree is the structure package's job; the
// pass rate depends on it (type-dependent tests need a typed tree).
package suite

import (
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/fhirpath"
)

// Loader builds the element tree of one input file (a JSON resource).
type Loader func(path string) (*element.Element, error)

// File is a parsed suite.
type File struct {
	Groups []Group
}

// Group is a named list of tests.
type Group struct {
	Name  string
	Tests []Test
}

// Test is one suite entry.
type Test struct {
	Name       string
	InputFile  string // as written (patient-example.xml)
	Predicate  bool
	Mode       string // "strict" marks tests that need semantic checking
	Expression string
	Invalid    string // syntax | semantic | execution: an error is expected
	Outputs    []Output
}

// Output is one expected result item; Type may be empty (then the text form
// is compared).
type Output struct {
	Type  string
	Value string
}

type xmlTests struct {
	Groups []struct {
		Name  string `xml:"name,attr"`
		Tests []struct {
			Name      string `xml:"name,attr"`
			InputFile string `xml:"inputfile,attr"`
			Predicate string `xml:"predicate,attr"`
			Mode      string `xml:"mode,attr"`
			Expr      struct {
				Invalid string `xml:"invalid,attr"`
				Mode    string `xml:"mode,attr"`
				Text    string `xml:",chardata"`
			} `xml:"expression"`
			Outputs []struct {
				Type string `xml:"type,attr"`
				Text string `xml:",chardata"`
			} `xml:"output"`
		} `xml:"test"`
	} `xml:"group"`
}

// Parse reads a suite file.
func Parse(r io.Reader) (*File, error) {
	var x xmlTests
	if err := xml.NewDecoder(r).Decode(&x); err != nil {
		return nil, fmt.Errorf("suite: %w", err)
	}
	f := &File{}
	for _, g := range x.Groups {
		grp := Group{Name: g.Name}
		for _, t := range g.Tests {
			mode := t.Mode
			if t.Expr.Mode != "" {
				mode = t.Expr.Mode
			}
			test := Test{Name: t.Name, InputFile: t.InputFile, Predicate: t.Predicate == "true",
				Mode: mode, Expression: t.Expr.Text, Invalid: t.Expr.Invalid}
			for _, o := range t.Outputs {
				test.Outputs = append(test.Outputs, Output{Type: o.Type, Value: o.Text})
			}
			grp.Tests = append(grp.Tests, test)
		}
		f.Groups = append(f.Groups, grp)
	}
	return f, nil
}

// Options configure a run.
type Options struct {
	// InputDir holds the inputs; default: the suite file's directory.
	InputDir string
	// Loader builds inputs; required when tests name an input file.
	Loader Loader
	// Model is the type hierarchy; default fhirpath.R4.
	Model fhirpath.Model
	// Env, when set, adjusts the environment of each test (terminology,
	// conformsTo, …) after the defaults are filled in.
	Env func(t *Test, env *fhirpath.Env)
}

// Result is the outcome of one test.
type Result struct {
	Group, Name, Expression string
	Passed                  bool
	Expected, Actual        []string
	// Err is the engine's error, if any (expected for invalid tests).
	Err string
}

// Report is the outcome of a run.
type Report struct {
	Results []Result
	Passed  int
}

// Total is the number of tests run.
func (r *Report) Total() int { return len(r.Results) }

// Rate is the pass rate in [0,1].
func (r *Report) Rate() float64 {
	if len(r.Results) == 0 {
		return 0
	}
	return float64(r.Passed) / float64(len(r.Results))
}

// WriteText prints a summary line, preceded by one block per failed test
// when verbose is set (or every test when all is set too).
func (r *Report) WriteText(w io.Writer, verbose, all bool) error {
	for _, res := range r.Results {
		if !verbose || (res.Passed && !all) {
			continue
		}
		status := "FAIL"
		if res.Passed {
			status = "pass"
		}
		fmt.Fprintf(w, "%s %s/%s\n  expression: %s\n  expected:   %s\n  actual:     %s\n",
			status, res.Group, res.Name, strings.TrimSpace(res.Expression),
			strings.Join(res.Expected, ", "), strings.Join(res.Actual, ", "))
		if res.Err != "" {
			fmt.Fprintf(w, "  error:      %s\n", res.Err)
		}
	}
	_, err := fmt.Fprintf(w, "%d/%d tests passed (%.1f%%)\n", r.Passed, r.Total(), 100*r.Rate())
	return err
}

// RunFile parses and runs a suite file.
func RunFile(path string, opts Options) (*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	file, err := Parse(f)
	if err != nil {
		return nil, err
	}
	if opts.InputDir == "" {
		opts.InputDir = filepath.Dir(path)
	}
	return Run(file, opts), nil
}

// Run runs a parsed suite.
func Run(file *File, opts Options) *Report {
	if opts.Model == nil {
		opts.Model = fhirpath.R4
	}
	inputs := map[string]*element.Element{}
	inputErrs := map[string]error{}
	load := func(name string) (*element.Element, error) {
		if e, ok := inputs[name]; ok {
			return e, nil
		}
		if err, ok := inputErrs[name]; ok {
			return nil, err
		}
		if opts.Loader == nil {
			return nil, fmt.Errorf("no loader for input %s", name)
		}
		p := filepath.Join(opts.InputDir, strings.TrimSuffix(name, ".xml"))
		if !strings.HasSuffix(p, ".json") {
			p += ".json"
		}
		e, err := opts.Loader(p)
		if err != nil {
			inputErrs[name] = err
			return nil, err
		}
		inputs[name] = e
		return e, nil
	}
	rep := &Report{}
	for _, g := range file.Groups {
		for i := range g.Tests {
			r := runOne(&g.Tests[i], load, opts)
			r.Group = g.Name
			if r.Passed {
				rep.Passed++
			}
			rep.Results = append(rep.Results, r)
		}
	}
	return rep
}

func runOne(t *Test, load func(string) (*element.Element, error), opts Options) Result {
	res := Result{Name: t.Name, Expression: t.Expression}
	for _, o := range t.Outputs {
		res.Expected = append(res.Expected, formatExpected(o))
	}
	if t.Invalid != "" {
		res.Expected = []string{"error (" + t.Invalid + ")"}
	}
	expr, err := fhirpath.Compile(t.Expression)
	if err != nil {
		res.Err = err.Error()
		res.Passed = t.Invalid != ""
		return res
	}
	// The suite tests the specification's rule that as() needs one item.
	env := &fhirpath.Env{Model: opts.Model, StrictAs: true}
	var input fhirpath.Collection
	if t.InputFile != "" {
		root, err := load(t.InputFile)
		if err != nil {
			res.Err = "loading input: " + err.Error()
			return res
		}
		env.Resource, env.RootResource, env.Context = root, root, root
		input = fhirpath.Collection{root}
	}
	if opts.Env != nil {
		opts.Env(t, env)
	}
	out, err := expr.Evaluate(env, input)
	if err != nil {
		res.Err = err.Error()
		res.Passed = t.Invalid != ""
		return res
	}
	for _, it := range out {
		res.Actual = append(res.Actual, formatActual(it))
	}
	if t.Invalid != "" {
		return res
	}
	if t.Predicate {
		v, err := expr.EvalTri(env, input)
		res.Actual = []string{fmt.Sprintf("boolean:%v", v == fhirpath.True)}
		res.Passed = err == nil && len(t.Outputs) == 1 && t.Outputs[0].Value == fmt.Sprint(v == fhirpath.True)
		return res
	}
	if len(out) != len(t.Outputs) {
		return res
	}
	for i, o := range t.Outputs {
		if !matches(out[i], o) {
			return res
		}
	}
	res.Passed = true
	return res
}

func formatExpected(o Output) string {
	if o.Type == "" {
		return o.Value
	}
	return o.Type + ":" + o.Value
}

// typeAndText gives the suite's type name for an item and its text form
// (dates with their @ prefix, as the suite writes them).
func typeAndText(it fhirpath.Item) (string, string) {
	var typ string
	switch v := it.(type) {
	case *element.Element:
		typ = strings.TrimPrefix(v.Type, "http://hl7.org/fhirpath/")
		switch typ {
		case "System.String":
			typ = "string"
		case "System.Boolean":
			typ = "boolean"
		case "System.Integer":
			typ = "integer"
		case "System.Decimal":
			typ = "decimal"
		case "System.DateTime":
			typ = "dateTime"
		case "System.Date":
			typ = "date"
		case "System.Time":
			typ = "time"
		}
	case fhirpath.Boolean:
		typ = "boolean"
	case fhirpath.Integer:
		typ = "integer"
	case fhirpath.Decimal:
		typ = "decimal"
	case fhirpath.String:
		typ = "string"
	case fhirpath.Date:
		typ = "date"
	case fhirpath.DateTime:
		typ = "dateTime"
	case fhirpath.Time:
		typ = "time"
	case fhirpath.Quantity:
		typ = "Quantity"
	case fhirpath.TypeInfo:
		return "TypeInfo", v.String()
	}
	s, ok := fhirpath.ItemString(it)
	if !ok {
		return typ, "{" + typ + "}"
	}
	switch typ {
	case "date", "dateTime", "instant":
		s = "@" + s
	case "time":
		s = "@T" + s
	}
	return typ, s
}

func formatActual(it fhirpath.Item) string {
	typ, s := typeAndText(it)
	return typ + ":" + s
}

func matches(it fhirpath.Item, o Output) bool {
	typ, s := typeAndText(it)
	want := strings.TrimSpace(o.Value)
	switch o.Type {
	case "":
		return s == want
	case "decimal":
		if typ != "decimal" {
			return false
		}
		a, ok1 := fhirpath.ParseDecimal(strings.TrimPrefix(s, "@"))
		b, ok2 := fhirpath.ParseDecimal(want)
		return ok1 && ok2 && a.Cmp(b) == 0
	case "date", "dateTime", "time":
		return typ == o.Type && s == want
	}
	return typ == o.Type && s == want
}
