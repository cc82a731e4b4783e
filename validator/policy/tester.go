package policy

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/open-policy-agent/opa/v1/tester"
)

// TestResult is the outcome of one Rego test (a rule named test_*).
type TestResult struct {
	File     string        `json:"file"`
	Line     int           `json:"line"`
	Package  string        `json:"package"`
	Name     string        `json:"name"`
	Pass     bool          `json:"pass"`
	Skip     bool          `json:"skip,omitempty"`
	Error    string        `json:"error,omitempty"` // the test could not be evaluated
	Output   string        `json:"output,omitempty"`
	Duration time.Duration `json:"duration"`
}

// RunTests compiles policies and tests together under the same capabilities
// as Compile (a test cannot reach what a policy may not) and runs every
// test_* rule. Compile problems come back as Errors; test failures come back
// as results, sorted by file and line.
func RunTests(ctx context.Context, modules []Module, timeout time.Duration) ([]TestResult, error) {
	parsed, _, errs := parseAndCheck(modules)
	if len(errs) > 0 {
		return nil, errs.orNil()
	}
	var custom []*tester.Builtin
	decls := customBuiltinDecls()
	for i, opt := range customBuiltinOptions() {
		custom = append(custom, &tester.Builtin{Decl: decls[i], Func: opt})
	}
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ch, err := tester.NewRunner().
		SetCompiler(newCompiler()).
		AddCustomBuiltins(custom).
		CapturePrintOutput(true).
		RaiseBuiltinErrors(false).
		SetTimeout(timeout).
		SetModules(parsed).
		RunTests(ctx, nil)
	if err != nil {
		return nil, fromAST("", CodeCompile, err).orNil()
	}
	var out []TestResult
	for r := range ch {
		tr := TestResult{Package: r.Package, Name: r.Name, Duration: r.Duration, Output: string(r.Output), Skip: r.Skip}
		if r.Location != nil {
			tr.File, tr.Line = r.Location.File, r.Location.Row
		}
		switch {
		case r.Error != nil:
			tr.Error = r.Error.Error()
		case r.Skip:
		default:
			tr.Pass = !r.Fail
		}
		out = append(out, tr)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].File != out[j].File {
			return out[i].File < out[j].File
		}
		return out[i].Line < out[j].Line
	})
	return out, nil
}

// String is one line for a test report.
func (t TestResult) String() string {
	status := "FAIL"
	switch {
	case t.Error != "":
		status = "ERROR"
	case t.Skip:
		status = "SKIP"
	case t.Pass:
		status = "PASS"
	}
	s := fmt.Sprintf("%s %s:%d %s.%s", status, t.File, t.Line, t.Package, t.Name)
	if t.Error != "" {
		s += ": " + t.Error
	}
	return s
}
