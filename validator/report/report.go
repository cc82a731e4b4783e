// Package report is the one result model every output of the validator is
// rendered from. A renderer writes results one at a time as they are produced,
// so a run over a million NDJSON lines streams instead of collecting; the
// closing summary is a separate call that stream-only formats ignore.
package report

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/sandkasse/sandkasse/validator/issue"
)

// Result is one validated document.
type Result struct {
	// Source is the path the document came from ("-" for stdin), empty when
	// there is none (an HTTP request body).
	Source string
	// Index is the 0-based line of an NDJSON document, 0 otherwise.
	Index        int
	NDJSON       bool // Source is NDJSON, so Index is meaningful to a person
	ResourceType string
	Issues       issue.List
}

// Valid reports whether the document has no error or fatal finding.
func (r Result) Valid() bool { return !r.Issues.HasErrors() }

// Summary counts a run.
type Summary struct {
	Resources int
	Invalid   int
	// BySeverity is indexed by issue.Severity.
	BySeverity [issue.Fatal + 1]int
}

// Add counts one result.
func (s *Summary) Add(r Result) {
	s.Resources++
	if !r.Valid() {
		s.Invalid++
	}
	for _, i := range r.Issues {
		if int(i.Severity) < len(s.BySeverity) {
			s.BySeverity[i.Severity]++
		}
	}
}

// Renderer writes results in one format.
type Renderer interface {
	// Result writes one result. Calls come in input order.
	Result(w io.Writer, r Result) error
	// Summary writes what closes a run; formats that are a pure stream of
	// records write nothing, so that their output stays one record a line.
	Summary(w io.Writer, s Summary) error
}

var renderers = map[string]func() Renderer{
	"text":    func() Renderer { return textRenderer{} },
	"json":    func() Renderer { return jsonRenderer{} },
	"outcome": func() Renderer { return outcomeRenderer{} },
}

// Formats lists the known format names, sorted.
func Formats() []string {
	names := make([]string, 0, len(renderers))
	for n := range renderers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// New returns the renderer for format. An unknown format is an error rather
// than a silent fallback: a CI job that asks for a format it cannot parse
// should fail loudly.
func New(format string) (Renderer, error) {
	f, ok := renderers[format]
	if !ok {
		return nil, fmt.Errorf("unknown format %q (known: %s)", format, strings.Join(Formats(), ", "))
	}
	return f(), nil
}

// fallbackFix gives a hint for findings from reading and parsing, which know
// nothing about FHIR and so carry no Fix of their own.
var fallbackFix = map[string]string{
	"json-syntax": "the input is not valid JSON; check the character at this position and the one before it",
	"json-utf8":   "save the file as UTF-8",
	"json-depth":  "nesting this deep is not a FHIR resource; check for runaway nesting",
	"json-size":   "split the input, or raise the limit with --max-bytes",
}

// Fix returns the issue's fix hint, or a generic one for its code, or "".
func Fix(i issue.Issue) string {
	if i.Fix != "" {
		return i.Fix
	}
	return fallbackFix[i.Code]
}
