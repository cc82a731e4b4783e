package suitereport

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/validator/issue"
	"github.com/sandkasse/sandkasse/validator/suite"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func sample() *Report {
	leak := suite.Finding{RuleID: "SMART-URL-01", Severity: issue.Error, Location: "exchange.query.access_token",
		Message: "the URL carries access_token", Fix: "Send the access token in the Authorization header.",
		Evidence: "03-leak.json (GET /fhir/Observation)", File: "03-leak.json"}
	wild := suite.Finding{RuleID: "SMART-SCOPE-02", Severity: issue.Warning, Location: "exchange.query.scope",
		Message: "patient/*.read is a wildcard scope", Evidence: "01-authorize.json (GET /auth/authorize)", File: "01-authorize.json"}
	invalid := suite.Finding{RuleID: "dom-6", Severity: issue.Error, Location: "Patient.name[0]",
		Message: "a <name> & family are required", Evidence: "04-write.json (body of POST /fhir/Patient)", File: "04-write.json"}
	res := &suite.Result{SuiteID: "smart-app", SuiteVersion: "0.1.0", Title: "SMART on FHIR app", RuleSet: "epr-smart-app",
		Groups: []suite.GroupResult{
			{ID: "authorisation", Title: "Launch and authorisation", Outcome: suite.Pass, Tests: []suite.TestResult{
				{ID: "authorize-request", Title: "The authorisation request uses PKCE", Requirements: []string{"SMART-AUTHORIZE"},
					Outcome: suite.Pass, Message: "pass: 1 input(s) examined", Inputs: 1},
				{ID: "scope-request", Title: "Scopes are well-formed", Requirements: []string{"SMART-SCOPES"},
					Outcome: suite.Pass, Message: "pass: 1 input(s) examined", Inputs: 1, Findings: []suite.Finding{wild}},
				{ID: "code-exchange", Title: "The code is exchanged by form POST", Requirements: []string{"SMART-TOKENS"}, Optional: true,
					Outcome: suite.Skip, Message: `skip: the app never sent POST request to a path matching "/token$"`},
			}},
			{ID: "fhir-api", Title: "Use of the FHIR API", Outcome: suite.Fail, Tests: []suite.TestResult{
				{ID: "tokens-in-headers", Title: "Tokens travel in headers", Requirements: []string{"SMART-TOKENS"},
					Outcome: suite.Fail, Message: "fail: 1 error(s) in 3 input(s) examined", Inputs: 3, Findings: []suite.Finding{leak}},
				{ID: "written-valid", Title: "Written resources are valid", Requirements: []string{"SMART-WRITES"}, Optional: true,
					Outcome: suite.Fail, Message: "fail: 1 error(s) in 1 input(s) examined", Inputs: 1, Findings: []suite.Finding{invalid}},
				{ID: "other-patient", Title: "Not applicable here", Requirements: []string{"SMART-SCOPES"},
					Outcome: suite.Omit, Message: "omitted: does not apply to this app"},
			}},
		}, Outcome: suite.Fail}
	return New(res, Meta{
		Generated: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC),
		App:       &App{Name: "Journalappen", Version: "2.3.1"},
		RuleSet:   RuleSetInfo{ID: "epr-smart-app", Version: "0.1.0", Effective: "2026-12-01", Digest: "sha256:00ff"},
		Requirements: []Requirement{
			{ID: "SMART-AUTHORIZE", Title: "The app asks for authorisation with PKCE", Source: "SMART App Launch 2.0"},
			{ID: "SMART-TOKENS", Title: "Tokens travel only in headers and bodies", Source: "RFC 6750"},
			{ID: "SMART-SCOPES", Title: "Least-privilege scopes", Source: "SMART App Launch 2.0"},
			{ID: "SMART-WRITES", Title: "Valid writes", Source: "FHIR R4"},
		},
		Rules: map[string]Rule{"SMART-URL-01": {Title: "No tokens or secrets in URLs", Requirement: "SMART-TOKENS", Fix: "Send the access token in the Authorization header."}},
	})
}

func render(t *testing.T, format string) []byte {
	t.Helper()
	r, err := Get(format)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := r.Render(&b, sample()); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

var goldenExt = map[string]string{"text": "txt", "json": "json", "junit": "xml", "sarif": "sarif.json", "html": "html"}

func TestGolden(t *testing.T) {
	for _, f := range Formats {
		t.Run(f, func(t *testing.T) {
			got := render(t, f)
			path := filepath.Join("testdata", "report."+goldenExt[f])
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s output differs from %s (run go test -update after checking):\n%s", f, path, got)
			}
		})
	}
}

func TestUnknownFormat(t *testing.T) {
	if _, err := Get("pdf"); err == nil {
		t.Error("Get(pdf) = nil error")
	}
}

func TestRequirementRollup(t *testing.T) {
	want := map[string]suite.Outcome{"SMART-AUTHORIZE": suite.Pass, "SMART-TOKENS": suite.Fail, "SMART-SCOPES": suite.Pass, "SMART-WRITES": suite.Skip}
	for _, q := range sample().Requirements {
		if q.Outcome != want[q.ID] {
			t.Errorf("%s = %v, want %v", q.ID, q.Outcome, want[q.ID])
		}
	}
}

func TestJUnitParses(t *testing.T) {
	var doc junitSuites
	if err := xml.Unmarshal(render(t, "junit"), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Tests != 6 || doc.Failures != 1 || doc.Skipped != 2 || doc.Errors != 0 {
		t.Errorf("totals = %d tests %d failures %d skipped %d errors", doc.Tests, doc.Failures, doc.Skipped, doc.Errors)
	}
	var failed []string
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			if c.Failure != nil {
				failed = append(failed, c.Name)
				if !strings.Contains(c.Failure.Text, "SMART-URL-01") {
					t.Errorf("failure text lacks the rule id: %q", c.Failure.Text)
				}
			}
		}
	}
	if len(failed) != 1 || !strings.HasPrefix(failed[0], "tokens-in-headers") {
		t.Errorf("failed cases = %v, want only tokens-in-headers (optional failures are not CI failures)", failed)
	}
}

func TestSARIF(t *testing.T) {
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID string `json:"id"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI string `json:"uri"`
						} `json:"artifactLocation"`
					} `json:"physicalLocation"`
					LogicalLocations []struct {
						FullyQualifiedName string `json:"fullyQualifiedName"`
					} `json:"logicalLocations"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(render(t, "sarif"), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 {
		t.Fatalf("version %q, %d runs", log.Version, len(log.Runs))
	}
	run := log.Runs[0]
	if len(run.Results) != 3 {
		t.Fatalf("%d results, want 3", len(run.Results))
	}
	for _, r := range run.Results {
		if r.RuleID == "" || len(r.Locations) == 0 || r.Locations[0].PhysicalLocation.ArtifactLocation.URI == "" ||
			len(r.Locations[0].LogicalLocations) == 0 {
			t.Errorf("result without rule id or locations: %+v", r)
		}
		if run.Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID {
			t.Errorf("ruleIndex %d does not point at %s", r.RuleIndex, r.RuleID)
		}
	}
}

func TestHTML(t *testing.T) {
	out := string(render(t, "html"))
	for _, w := range []string{"SMART-AUTHORIZE", "SMART-TOKENS", "SMART-SCOPES", "SMART-WRITES",
		"FAILED: at least one required test failed", "epr-smart-app</code> version 0.1.0", "Journalappen 2.3.1",
		"How to fix:</strong> Send the access token", "03-leak.json", "a &lt;name&gt; &amp; family"} {
		if !strings.Contains(out, w) {
			t.Errorf("HTML lacks %q", w)
		}
	}
	for _, bad := range []string{"<script", "http://", "<link"} {
		if strings.Contains(out, bad) {
			t.Errorf("HTML is not self-contained: has %q", bad)
		}
	}
}
