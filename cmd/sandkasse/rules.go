package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sandkasse/sandkasse/validator/policy"
	"github.com/sandkasse/sandkasse/validator/publish"
	"github.com/sandkasse/sandkasse/validator/ruleset"
)

// runRules is `sandkasse rules test DIR`: everything a rule set must pass
// before it may be published. Exit 0 all good, 1 any problem (manifest,
// layout, policy, metadata, failing test, unresolved profile), 2 could not
// run (bad arguments, unreadable directory).
func runRules(ctx context.Context, args []string, io stdio) int {
	if len(args) > 0 {
		switch args[0] {
		case "publish":
			return runRulesPublish(ctx, args[1:], io)
		case "list":
			return runRulesList(args[1:], io)
		case "diff":
			return runRulesDiff(ctx, args[1:], io)
		}
	}
	if len(args) == 0 || args[0] != "test" {
		fmt.Fprintln(io.err, "usage: sandkasse rules test DIR [--packages DIR]... [--format text|json]")
		fmt.Fprintln(io.err, "       sandkasse rules publish DIR --registry REGDIR --signer NAME --key KEYFILE --staff")
		fmt.Fprintln(io.err, "       sandkasse rules list --registry REGDIR [--jwks FILE]")
		fmt.Fprintln(io.err, "       sandkasse rules diff OLD NEW [--registry REGDIR] [--format text|json]")
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return exitOK
		}
		return exitUsage
	}
	fs := newFlags("rules test", "DIR [--packages DIR]... [--format text|json]", io.err)
	var packages multi
	fs.Var(&packages, "packages", "directory of FHIR packages for name@version entries (repeatable; default $SANDKASSE_PACKAGES, else ../shared/profiles when present)")
	format := fs.String("format", "text", "output format: text or json")
	rest, code, done := parseFlags(fs, args[1:])
	if done {
		return code
	}
	if len(rest) != 1 {
		fs.Usage()
		return exitUsage
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(io.err, "sandkasse rules test: unknown format %q (text, json)\n", *format)
		return exitUsage
	}
	dir := filepath.Clean(rest[0])
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		fmt.Fprintf(io.err, "sandkasse rules test: %s is not a directory\n", dir)
		return exitUsage
	}
	rep, _, err := testRuleSet(ctx, dir, packages)
	if err != nil {
		fmt.Fprintf(io.err, "sandkasse rules test: %v\n", err)
		return exitUsage
	}
	return rep.write(io, *format)
}

// testRuleSet is everything `rules test` checks. err is the tool's
// failure; the rule set's problems and failing tests are in the report,
// and rs is nil when the rule set did not load.
func testRuleSet(ctx context.Context, dir string, packages []string) (*rulesReport, *ruleset.RuleSet, error) {
	if len(packages) == 0 {
		packages = defaultPackagePath()
	}
	rep := &rulesReport{Dir: dir}
	rs, err := ruleset.Load(ctx, os.DirFS(dir), dir)
	if err != nil {
		if !addProblems(rep, err) {
			return nil, nil, err
		}
		return rep, nil, nil
	}
	rep.ID, rep.Version, rep.Digest, rep.Rules = rs.Manifest.ID, rs.Manifest.Version, rs.Digest, len(rs.Rules)
	res, err := publish.Check(ctx, rs, packages)
	if err != nil {
		return nil, nil, err
	}
	rep.Tests = res.Tests
	rep.Problems = append(rep.Problems, res.Problems...)
	return rep, rs, nil
}

// defaultPackagePath finds FHIR packages without flags: the environment,
// then the shared profiles a developer checkout has beside it.
func defaultPackagePath() []string {
	if v := os.Getenv("SANDKASSE_PACKAGES"); v != "" {
		return filepath.SplitList(v)
	}
	for _, d := range []string{"../shared/profiles", "../../shared/profiles", "../../../shared/profiles"} {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return []string{d}
		}
	}
	return nil
}

type rulesReport struct {
	Dir      string              `json:"dir"`
	ID       string              `json:"id,omitempty"`
	Version  string              `json:"version,omitempty"`
	Digest   string              `json:"digest,omitempty"`
	Rules    int                 `json:"rules"`
	Problems []ruleset.Problem   `json:"problems"`
	Tests    []policy.TestResult `json:"tests"`
}

// addProblems adds a loader's or compiler's problem list; false when err is
// something else (the tool's failure, not the rule set's).
func addProblems(rep *rulesReport, err error) bool {
	var ps ruleset.Problems
	var pe policy.Errors
	switch {
	case errors.As(err, &ps):
		rep.Problems = append(rep.Problems, ps...)
	case errors.As(err, &pe):
		for _, e := range pe {
			rep.Problems = append(rep.Problems, ruleset.Problem{File: filepath.Join(rep.Dir, e.File), Line: e.Line, Column: e.Column, Message: e.Message})
		}
	default:
		return false
	}
	return true
}

func (rep *rulesReport) failed() (tests int) {
	for _, t := range rep.Tests {
		if !t.Pass && !t.Skip {
			tests++
		}
	}
	return tests
}

func (rep *rulesReport) write(io stdio, format string) int {
	failed := rep.failed()
	code := exitOK
	if len(rep.Problems) > 0 || failed > 0 {
		code = exitFindings
	}
	if format == "json" {
		enc := json.NewEncoder(io.out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return exitUsage
		}
		return code
	}
	for _, p := range rep.Problems {
		fmt.Fprintln(io.out, p)
	}
	for _, t := range rep.Tests {
		if !t.Pass && !t.Skip {
			fmt.Fprintln(io.out, t)
			if out := strings.TrimSpace(t.Output); out != "" {
				fmt.Fprintln(io.out, "  "+strings.ReplaceAll(out, "\n", "\n  "))
			}
		}
	}
	name := rep.Dir
	if rep.ID != "" {
		name = fmt.Sprintf("%s %s (%s)", rep.ID, rep.Version, rep.Digest)
	}
	status := "ok"
	if code != exitOK {
		status = "FAIL"
	}
	fmt.Fprintf(io.out, "%s %s: %d rules, %d tests, %d failed, %d problems\n", status, name, rep.Rules, len(rep.Tests), failed, len(rep.Problems))
	return code
}
