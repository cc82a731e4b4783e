package report

import (
	"io"

	"github.com/sandkasse/sandkasse/validator/issue"
)

// Canonical URLs used in OperationOutcomes. The line/col extensions are the
// ones the HL7 reference validator writes, so tools that read its output read
// ours.
const (
	IssueCodeSystem = "https://sandkasse.no/fhir/CodeSystem/issue-code"
	ExtLine         = "http://hl7.org/fhir/StructureDefinition/operationoutcome-issue-line"
	ExtCol          = "http://hl7.org/fhir/StructureDefinition/operationoutcome-issue-col"
	ExtSource       = "https://sandkasse.no/fhir/StructureDefinition/validated-source"
	ExtSourceIndex  = "https://sandkasse.no/fhir/StructureDefinition/validated-source-index"
	// CodeNoIssues is the code of the single information issue an outcome
	// carries when there is nothing to report: OperationOutcome.issue is 1..*.
	CodeNoIssues = "no-issues"
)

// OperationOutcome is the subset of the FHIR resource we write. Field order
// follows the FHIR JSON element order.
type OperationOutcome struct {
	ResourceType string         `json:"resourceType"`
	Extension    []Extension    `json:"extension,omitempty"`
	Issue        []OutcomeIssue `json:"issue"`
}

// OutcomeIssue is OperationOutcome.issue.
type OutcomeIssue struct {
	Extension   []Extension     `json:"extension,omitempty"`
	Severity    string          `json:"severity"`
	Code        string          `json:"code"`
	Details     CodeableConcept `json:"details"`
	Diagnostics string          `json:"diagnostics,omitempty"`
	Expression  []string        `json:"expression,omitempty"`
}

// Extension is a FHIR extension with the value types we use.
type Extension struct {
	URL          string `json:"url"`
	ValueInteger *int   `json:"valueInteger,omitempty"`
	ValueString  string `json:"valueString,omitempty"`
}

// CodeableConcept is the FHIR datatype, reduced.
type CodeableConcept struct {
	Coding []Coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

// Coding is the FHIR datatype, reduced.
type Coding struct {
	System string `json:"system"`
	Code   string `json:"code"`
}

func intExt(url string, v int) Extension { return Extension{URL: url, ValueInteger: &v} }

// Outcome converts a result to an OperationOutcome. The fix hint goes into
// diagnostics, the one free-text field every FHIR client shows.
func Outcome(r Result) OperationOutcome {
	oo := OperationOutcome{ResourceType: "OperationOutcome", Issue: make([]OutcomeIssue, 0, len(r.Issues)+1)}
	if r.Source != "" {
		oo.Extension = []Extension{{URL: ExtSource, ValueString: r.Source}}
		if r.NDJSON {
			oo.Extension = append(oo.Extension, intExt(ExtSourceIndex, r.Index))
		}
	}
	for _, i := range r.Issues {
		oo.Issue = append(oo.Issue, OutcomeIssueOf(i))
	}
	if len(oo.Issue) == 0 {
		oo.Issue = append(oo.Issue, OutcomeIssueOf(issue.Issue{Severity: issue.Information,
			Code: CodeNoIssues, Type: "informational", Message: "No issues found."}))
	}
	return oo
}

// OutcomeIssueOf converts one finding.
func OutcomeIssueOf(i issue.Issue) OutcomeIssue {
	typ := i.Type
	if typ == "" {
		typ = "processing"
	}
	oi := OutcomeIssue{
		Severity:    i.Severity.String(),
		Code:        typ,
		Details:     CodeableConcept{Coding: []Coding{{System: IssueCodeSystem, Code: i.Code}}, Text: i.Message},
		Diagnostics: Fix(i),
	}
	if i.Line > 0 {
		oi.Extension = []Extension{intExt(ExtLine, i.Line), intExt(ExtCol, i.Column)}
	}
	if i.Expression != "" {
		oi.Expression = []string{i.Expression}
	}
	return oi
}

// outcomeRenderer writes one OperationOutcome per line per result.
type outcomeRenderer struct{}

func (outcomeRenderer) Result(w io.Writer, r Result) error { return encodeLine(w, Outcome(r)) }

func (outcomeRenderer) Summary(io.Writer, Summary) error { return nil }
