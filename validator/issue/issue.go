// Package issue is the one finding model of the engine. Every package that
// reports a problem reports it as an Issue; renderers turn a list of them into
// text, JSON, OperationOutcome and the rest. It is a leaf: it imports nothing
// of ours.
package issue

import (
	"fmt"
	"strings"
)

// Severity follows OperationOutcome.issue.severity.
type Severity uint8

const (
	Information Severity = iota
	Warning
	Error
	Fatal
)

func (s Severity) String() string {
	switch s {
	case Fatal:
		return "fatal"
	case Error:
		return "error"
	case Warning:
		return "warning"
	default:
		return "information"
	}
}

// ParseSeverity accepts the FHIR spelling of a severity.
func ParseSeverity(s string) (Severity, bool) {
	switch strings.ToLower(s) {
	case "fatal":
		return Fatal, true
	case "error":
		return Error, true
	case "warning":
		return Warning, true
	case "information":
		return Information, true
	}
	return Information, false
}

// MarshalText lets encoding/json write severities as their FHIR names.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText is the inverse of MarshalText.
func (s *Severity) UnmarshalText(b []byte) error {
	v, ok := ParseSeverity(string(b))
	if !ok {
		return fmt.Errorf("unknown severity %q", b)
	}
	*s = v
	return nil
}

// Issue is one finding. Code is stable (tests and suites match on it, never on
// Message). Message may quote the offending value only when the value is part
// of the FHIR definitions (a code, a type name); it must never echo patient
// data, because messages end up in logs and reports.
type Issue struct {
	Severity   Severity `json:"severity"`
	Code       string   `json:"code"`
	Expression string   `json:"expression,omitempty"` // FHIRPath location, e.g. Patient.identifier[0].value
	Line       int      `json:"line,omitempty"`
	Column     int      `json:"column,omitempty"`
	Message    string   `json:"message"`
	Fix        string   `json:"fix,omitempty"`
	RuleID     string   `json:"ruleId,omitempty"` // invariant key, profile URL, policy id
	// Type is the OperationOutcome issue type (structure, required, value,
	// invariant, code-invalid, invalid, not-found, processing, informational…).
	Type string `json:"-"`
}

func (i Issue) String() string {
	var b strings.Builder
	b.WriteString(i.Severity.String())
	if i.Expression != "" {
		b.WriteString(" ")
		b.WriteString(i.Expression)
	}
	if i.Line > 0 {
		fmt.Fprintf(&b, " (%d:%d)", i.Line, i.Column)
	}
	b.WriteString(" [")
	b.WriteString(i.Code)
	b.WriteString("] ")
	b.WriteString(i.Message)
	return b.String()
}

// List is a set of findings; it is an error when it holds an error or fatal.
type List []Issue

// HasErrors reports whether any issue is error or fatal.
func (l List) HasErrors() bool {
	for _, i := range l {
		if i.Severity >= Error {
			return true
		}
	}
	return false
}

// Count returns how many issues have at least the given severity.
func (l List) Count(min Severity) int {
	n := 0
	for _, i := range l {
		if i.Severity >= min {
			n++
		}
	}
	return n
}

func (l List) Error() string {
	parts := make([]string, 0, len(l))
	for _, i := range l {
		parts = append(parts, i.String())
	}
	return strings.Join(parts, "\n")
}
