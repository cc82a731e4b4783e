package publish

import (
	"context"
	"errors"
	"path/filepath"

	"github.com/sandkasse/sandkasse/validator/policy"
	"github.com/sandkasse/sandkasse/validator/ruleset"
	"github.com/sandkasse/sandkasse/validator/suite"
)

// CheckResult is everything publishing requires beyond loading: the Rego
// tests' results and the problems found (test compile errors, packages or
// profiles that do not resolve, suites that are malformed or name rules and
// requirements the rule set lacks), each with its file and line.
type CheckResult struct {
	Problems []ruleset.Problem
	Tests    []policy.TestResult
}

// Failed counts failing (not skipped) Rego tests.
func (r *CheckResult) Failed() int {
	n := 0
	for _, t := range r.Tests {
		if !t.Pass && !t.Skip {
			n++
		}
	}
	return n
}

// OK reports whether the rule set may be published.
func (r *CheckResult) OK() bool { return len(r.Problems) == 0 && r.Failed() == 0 }

// Check runs the checks `rules test` runs and publishing requires, for the
// CLI and the server alike. packages is the search path for name@version
// FHIR packages. err is the tool's failure, not the rule set's.
func Check(ctx context.Context, rs *ruleset.RuleSet, packages []string) (*CheckResult, error) {
	res := &CheckResult{}
	tests, err := rs.Test(ctx)
	if err != nil && !res.addProblems(rs.Name, err) {
		return nil, err
	}
	res.Tests = tests
	if _, err := rs.Resolve(packages); err != nil && !res.addProblems(rs.Name, err) {
		// A package that cannot be read is the rule set's problem here:
		// it names what it needs.
		res.Problems = append(res.Problems, ruleset.Problem{File: rs.Name, Message: err.Error()})
	}
	checkSuites(res, rs)
	return res, nil
}

// addProblems adds a loader's or compiler's problem list; false when err is
// something else.
func (r *CheckResult) addProblems(name string, err error) bool {
	var ps ruleset.Problems
	var pe policy.Errors
	switch {
	case errors.As(err, &ps):
		r.Problems = append(r.Problems, ps...)
	case errors.As(err, &pe):
		for _, e := range pe {
			r.Problems = append(r.Problems, ruleset.Problem{File: filepath.Join(name, e.File), Line: e.Line, Column: e.Column, Message: e.Message})
		}
	default:
		return false
	}
	return true
}

// checkSuites reads every suite the manifest lists, strictly, and holds it
// to the rule set's rule and requirement ids.
func checkSuites(res *CheckResult, rs *ruleset.RuleSet) {
	rules, reqs := map[string]bool{}, map[string]bool{}
	for _, r := range rs.Rules {
		rules[r.ID] = true
	}
	for _, q := range rs.Manifest.Requirements {
		reqs[q.ID] = true
	}
	for _, name := range rs.Manifest.Suites {
		s, err := suite.Load(rs.FS(), name)
		if err == nil {
			err = s.Check(rs.Manifest.ID, rules, reqs)
		}
		var ps suite.Problems
		if errors.As(err, &ps) {
			for _, p := range ps {
				res.Problems = append(res.Problems, ruleset.Problem{File: filepath.Join(rs.Name, p.File), Line: p.Line, Message: p.Message})
			}
		} else if err != nil {
			res.Problems = append(res.Problems, ruleset.Problem{File: filepath.Join(rs.Name, name), Message: err.Error()})
		}
	}
}
