package report

import (
	"encoding/json"
	"io"

	"github.com/sandkasse/sandkasse/validator/issue"
)

// jsonRenderer writes one JSON object per line per result: a stream that
// jq, a CI script or another program can consume line by line without
// waiting for the end of the run.
type jsonRenderer struct{}

// JSONResult is the wire form of one result in --format json. Its fields are
// a contract with scripts: add fields, never rename or drop one.
type JSONResult struct {
	Source       string      `json:"source"`
	Index        int         `json:"index"`
	ResourceType string      `json:"resourceType"`
	Valid        bool        `json:"valid"`
	Issues       []JSONIssue `json:"issues"`
}

// JSONIssue is one finding in --format json. Expression, line and column are
// always present (empty or 0 when unknown) so that consumers need no
// existence checks.
type JSONIssue struct {
	Severity   issue.Severity `json:"severity"`
	Code       string         `json:"code"`
	Expression string         `json:"expression"`
	Line       int            `json:"line"`
	Column     int            `json:"column"`
	Message    string         `json:"message"`
	Fix        string         `json:"fix,omitempty"`
	RuleID     string         `json:"ruleId,omitempty"`
}

// ToJSON converts a result to its wire form.
func ToJSON(r Result) JSONResult {
	out := JSONResult{Source: r.Source, Index: r.Index, ResourceType: r.ResourceType,
		Valid: r.Valid(), Issues: make([]JSONIssue, 0, len(r.Issues))}
	for _, i := range r.Issues {
		out.Issues = append(out.Issues, JSONIssue{Severity: i.Severity, Code: i.Code, Expression: i.Expression,
			Line: i.Line, Column: i.Column, Message: i.Message, Fix: Fix(i), RuleID: i.RuleID})
	}
	return out
}

func (jsonRenderer) Result(w io.Writer, r Result) error {
	return encodeLine(w, ToJSON(r))
}

func (jsonRenderer) Summary(io.Writer, Summary) error { return nil }

// encodeLine writes v as one line. HTML escaping is off: nobody embeds this
// in a page, and \u003c in a FHIRPath or message only hurts reading.
func encodeLine(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
