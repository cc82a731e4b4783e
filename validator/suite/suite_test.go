package suite

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/sandkasse/sandkasse/rules"
	"github.com/sandkasse/sandkasse/validator/policy"
)

func TestParseReportsEveryProblemWithLines(t *testing.T) {
	data, err := os.ReadFile("testdata/bad.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Parse("bad.yaml", data)
	ps, ok := err.(Problems)
	if !ok {
		t.Fatalf("Parse error = %v (%T), want Problems", err, err)
	}
	want := []string{
		"bad.yaml:5: field colour not found in the suite",
		"bad.yaml:18: field severity not found in a test",
		`bad.yaml:1: id "Bad_Suite" must be lower-case`,
		`bad.yaml:2: version "one" is not a semantic version`,
		`bad.yaml:12: requirement "lower-case" must be upper-case`,
		`bad.yaml:14: exchanges[0]: method "get" is not an upper-case HTTP method`,
		`bad.yaml:14: exchanges[0]: path is not a regular expression`,
		`bad.yaml:19: test id "t1" is already used at line 10`,
		`bad.yaml:22: test "t1" examines no inputs`,
	}
	got := err.Error()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missing problem %q in:\n%s", w, got)
		}
	}
	for _, p := range ps {
		if p.Line == 0 {
			t.Errorf("problem without a line: %v", p)
		}
	}
}

func TestParseEmptyAndSyntax(t *testing.T) {
	for name, src := range map[string]string{
		"empty":  "",
		"syntax": "id: x\n  bad: [\n",
		"type":   "id: x\ngroups: 3\n",
	} {
		_, err := Parse(name+".yaml", []byte(src))
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if !strings.HasPrefix(err.Error(), name+".yaml") {
			t.Errorf("%s: error does not name the file: %v", name, err)
		}
	}
}

func TestRollup(t *testing.T) {
	req := func(o Outcome) Child { return Child{Outcome: o} }
	opt := func(o Outcome) Child { return Child{Outcome: o, Optional: true} }
	cases := []struct {
		name     string
		children []Child
		want     Outcome
	}{
		{"none", nil, Omit},
		{"all pass", []Child{req(Pass), req(Pass)}, Pass},
		{"required fail", []Child{req(Pass), req(Fail)}, Fail},
		{"optional fail never fails parent", []Child{req(Pass), opt(Fail)}, Pass},
		{"optional error never breaks parent", []Child{req(Pass), opt(Error)}, Pass},
		{"error dominates fail", []Child{req(Fail), req(Error), req(Pass)}, Error},
		{"required skip is not shown", []Child{req(Pass), req(Skip)}, Skip},
		{"fail beats skip", []Child{req(Skip), req(Fail)}, Fail},
		{"omitted required does not count", []Child{req(Pass), req(Omit)}, Pass},
		{"all omitted", []Child{req(Omit), opt(Omit)}, Omit},
		{"only optional, one passes", []Child{opt(Pass), opt(Fail)}, Pass},
		{"only optional, none pass", []Child{opt(Fail), opt(Skip)}, Skip},
	}
	for _, c := range cases {
		if got := Rollup(c.children); got != c.want {
			t.Errorf("%s: Rollup = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestShippedSuites loads every suite a shipped rule set lists and holds it
// against the rule set's rules and requirements.
func TestShippedSuites(t *testing.T) {
	ctx := context.Background()
	for _, id := range rules.IDs {
		rs, err := rules.Load(ctx, id)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if len(rs.Manifest.Suites) == 0 {
			t.Errorf("%s lists no suite", id)
		}
		ruleIDs, reqs := map[string]bool{}, map[string]bool{}
		for _, r := range rs.Rules {
			ruleIDs[r.ID] = true
		}
		for _, r := range rs.Manifest.Requirements {
			reqs[r.ID] = true
		}
		for _, f := range rs.Manifest.Suites {
			s, err := Load(rs.FS(), f)
			if err != nil {
				t.Errorf("%s/%s: %v", id, f, err)
				continue
			}
			if err := s.Check(id, ruleIDs, reqs); err != nil {
				t.Errorf("%s/%s: %v", id, f, err)
			}
			claimed := map[string]bool{}
			for _, g := range s.Groups {
				for _, tt := range g.Tests {
					for _, q := range tt.Requirements {
						claimed[q] = true
					}
				}
			}
			for q := range reqs {
				if !claimed[q] {
					t.Errorf("%s/%s: requirement %s is verified by no test", id, f, q)
				}
			}
		}
	}
}

func TestCheckUnknownReferences(t *testing.T) {
	s, err := Parse("s.yaml", []byte(`id: s
version: 1.0.0
ruleset: dho-vkp
title: S
groups:
  - id: g
    title: G
    tests:
      - id: t
        title: T
        requirements: [NOPE]
        inputs: {resources: [{type: Bundle}]}
        rules: [DHO-NOPE-01]
`))
	if err != nil {
		t.Fatal(err)
	}
	err = s.Check("dho-vkp", map[string]bool{"DHO-DOC-01": true}, map[string]bool{"VKP-JOURNAL": true})
	for _, w := range []string{`s.yaml:13: test "t": rule "DHO-NOPE-01"`, `s.yaml:11: test "t": requirement "NOPE"`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Check = %v, want %q", err, w)
		}
	}
}

func smartRun(t *testing.T, dir string) *Result {
	t.Helper()
	ctx := context.Background()
	rs, err := rules.Load(ctx, "epr-smart-app")
	if err != nil {
		t.Fatal(err)
	}
	eng, err := policy.Compile(ctx, rs.Modules)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Load(rs.FS(), "suites/smart-app.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := LoadDir(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	return (&Runner{Engine: eng}).Run(ctx, s, rec)
}

// TestRunnerOneBrokenRule: one input puts the token in the URL, so exactly
// the test that checks tokens fails; tests without input skip.
func TestRunnerOneBrokenRule(t *testing.T) {
	res := smartRun(t, "testdata/offline")
	got := map[string]Outcome{}
	for _, tr := range res.Tests() {
		got[tr.ID] = tr.Outcome
	}
	want := map[string]Outcome{
		"authorize-request":       Pass,
		"scope-request":           Pass,
		"code-exchange":           Skip,
		"tokens-in-headers":       Fail,
		"within-scopes":           Pass,
		"write-endpoint":          Skip,
		"written-resources-valid": Skip,
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s = %v, want %v", id, got[id], w)
		}
	}
	if res.Outcome != Fail {
		t.Errorf("suite = %v, want fail", res.Outcome)
	}
	for _, tr := range res.Tests() {
		if tr.ID != "tokens-in-headers" {
			continue
		}
		if len(tr.Findings) != 1 {
			t.Fatalf("findings = %+v, want one", tr.Findings)
		}
		f := tr.Findings[0]
		if f.RuleID != "SMART-URL-01" || f.Location != "exchange.query.access_token" || !strings.HasPrefix(f.Evidence, "03-leak.json") {
			t.Errorf("finding = %+v", f)
		}
	}
	for _, tr := range res.Tests() {
		if tr.Outcome == Skip && !strings.HasPrefix(tr.Message, "skip: the app never sent ") {
			t.Errorf("%s: skip message %q", tr.ID, tr.Message)
		}
	}
}

func TestRunnerNoInputsSkipsEverything(t *testing.T) {
	res := smartRun(t, t.TempDir())
	for _, tr := range res.Tests() {
		if tr.Outcome != Skip {
			t.Errorf("%s = %v, want skip", tr.ID, tr.Outcome)
		}
	}
	if res.Outcome != Skip {
		t.Errorf("suite = %v, want skip", res.Outcome)
	}
}

func TestRunnerErrorsAreTheTools(t *testing.T) {
	s, err := Parse("s.yaml", []byte("id: s\nversion: 1.0.0\nruleset: x\ntitle: S\ngroups:\n  - id: g\n    title: G\n    tests:\n      - id: t\n        title: T\n        requirements: [R]\n        inputs: {resources: [{type: Patient}]}\n        validate: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	rec := &Recording{Resources: []RecordedResource{{File: "p.json", Type: "Patient", Data: []byte(`{"resourceType":"Patient"}`)}}}
	res := (&Runner{}).Run(context.Background(), s, rec)
	if res.Outcome != Error {
		t.Errorf("no validator: suite = %v, want error", res.Outcome)
	}
}

// TestDHOSuiteRuns runs the shipped DHO suite over one journal request whose
// Bundle is not a document: the document test fails on DHO-DOC-01 with the
// request as evidence, nothing is a tool error, and the omitted test is omit.
func TestDHOSuiteRuns(t *testing.T) {
	ctx := context.Background()
	rs, err := rules.Load(ctx, "dho-vkp")
	if err != nil {
		t.Fatal(err)
	}
	eng, err := policy.Compile(ctx, rs.Modules)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Load(rs.FS(), "suites/dho-journal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(dir+"/journal.json", []byte(`{"method": "POST", "url": "https://vkp.test/epj/r4/974760673/Bundle",
		"headers": {"ServiceCodes": ["dho"], "Content-Type": ["application/fhir+json"]},
		"body": {"resourceType": "Bundle", "type": "collection", "entry": []}, "status": 201}`), 0o644)
	rec, err := LoadDir(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	res := (&Runner{Engine: eng, Omit: map[string]bool{"journal-valid": true}}).Run(ctx, s, rec)
	for _, tr := range res.Tests() {
		if tr.Outcome == Error {
			t.Errorf("%s: %s", tr.ID, tr.Message)
		}
		switch tr.ID {
		case "document-shape":
			found := false
			for _, f := range tr.Findings {
				if f.RuleID == "DHO-DOC-01" && f.Location == "Bundle.type" && strings.Contains(f.Evidence, "body of POST /epj/r4/974760673/Bundle") {
					found = true
				}
			}
			if tr.Outcome != Fail || !found {
				t.Errorf("document-shape = %v %+v", tr.Outcome, tr.Findings)
			}
		case "authorisation":
			if tr.Outcome != Fail { // no HelseID token at all
				t.Errorf("authorisation = %v", tr.Outcome)
			}
		case "journal-valid":
			if tr.Outcome != Omit {
				t.Errorf("journal-valid = %v, want omit", tr.Outcome)
			}
		}
	}
}
