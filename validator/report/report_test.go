package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sandkasse/sandkasse/validator/issue"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// cases cover what renderers branch on: no issues, errors with and without a
// fix, a parse failure without a resource type, an NDJSON line, stdin, a
// request body with no source, and text that JSON or a terminal could
// mangle.
var cases = []Result{
	{Source: "testdata/in/patient-ok.json", ResourceType: "Patient"},
	{Source: "testdata/in/patient-bad.json", ResourceType: "Patient", Issues: issue.List{
		{Severity: issue.Error, Code: "cardinality-min", Type: "required", Expression: "Patient.communication[0].language",
			Line: 12, Column: 7, Message: "minimum cardinality of 'language' is 1, found 0",
			Fix: "add a language CodeableConcept to every communication", RuleID: "http://hl7.org/fhir/StructureDefinition/Patient"},
		{Severity: issue.Warning, Code: "dom-6", Type: "invariant", Expression: "Patient", Line: 1, Column: 1,
			Message: "a resource should have narrative for robust management"},
		{Severity: issue.Information, Code: "binding-example", Expression: "Patient.maritalStatus", Line: 20, Column: 3,
			Message: "code <M> & \"married\" is not checked\nagainst an example binding"},
	}},
	{Source: "testdata/in/broken.json", Issues: issue.List{
		{Severity: issue.Fatal, Code: "json-syntax", Type: "structure", Line: 3, Column: 1, Message: "trailing comma before '}' is not allowed"},
	}},
	{Source: "testdata/in/export.ndjson", NDJSON: true, Index: 4, ResourceType: "Observation", Issues: issue.List{
		{Severity: issue.Error, Code: "code-invalid", Type: "code-invalid", Expression: "Observation.status", Line: 5, Column: 40,
			Message: "'finished' is not in the required value set"},
	}},
	{Source: "-", ResourceType: "Bundle"},
	{ResourceType: "Patient", Issues: issue.List{{Severity: issue.Fatal, Code: "input-too-large", Type: "too-long", Message: "too big"}}},
}

func render(t *testing.T, format string) []byte {
	t.Helper()
	r, err := New(format)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	var s Summary
	for _, c := range cases {
		s.Add(c)
		if err := r.Result(&buf, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Summary(&buf, s); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestGolden(t *testing.T) {
	for _, format := range Formats() {
		t.Run(format, func(t *testing.T) {
			got := render(t, format)
			path := filepath.Join("testdata", format+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./validator/report -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (rerun with -update if the change is intended)\n--- got\n%s\n--- want\n%s", path, got, want)
			}
		})
	}
}

func TestUnknownFormatIsAnError(t *testing.T) {
	if _, err := New("yaml"); err == nil || !strings.Contains(err.Error(), "text") {
		t.Fatalf("New(yaml) = %v, want an error listing the known formats", err)
	}
	if _, err := New(""); err == nil {
		t.Fatal("New(\"\") must not fall back to a default")
	}
}

// Every record in the stream formats must be one line of valid JSON: a
// consumer reads them line by line.
func TestStreamFormatsAreOneJSONPerLine(t *testing.T) {
	for _, format := range []string{"json", "outcome"} {
		sc := bufio.NewScanner(bytes.NewReader(render(t, format)))
		n := 0
		for sc.Scan() {
			var v map[string]any
			if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
				t.Fatalf("%s line %d: %v", format, n+1, err)
			}
			n++
		}
		if n != len(cases) {
			t.Fatalf("%s: %d lines for %d results", format, n, len(cases))
		}
	}
}

func TestJSONValidMatchesSeverities(t *testing.T) {
	for _, c := range cases {
		j := ToJSON(c)
		hasErr := false
		for _, i := range j.Issues {
			hasErr = hasErr || i.Severity >= issue.Error
		}
		if j.Valid == hasErr {
			t.Errorf("%s: valid=%v with error/fatal=%v", c.Source, j.Valid, hasErr)
		}
		if j.Issues == nil {
			t.Errorf("%s: issues must be [] not null", c.Source)
		}
	}
}

func TestOutcomeHasAtLeastOneIssue(t *testing.T) {
	oo := Outcome(Result{})
	if len(oo.Issue) != 1 || oo.Issue[0].Details.Coding[0].Code != CodeNoIssues || oo.Issue[0].Severity != "information" {
		t.Fatalf("got %+v", oo)
	}
}

func TestTextKeepsOneFindingPerLine(t *testing.T) {
	var buf bytes.Buffer
	_ = textRenderer{}.Result(&buf, Result{Source: "x.json", Issues: issue.List{
		{Severity: issue.Error, Code: "c", Message: "a\nerror   forged.json:1:1 [fake]"}}})
	if strings.Contains(buf.String(), "\nerror   forged") {
		t.Fatalf("a newline in a message produced a forged line:\n%s", buf.String())
	}
}
