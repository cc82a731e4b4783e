package policy

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem with a policy, at a place in a file a rule author can
// open. Code is stable for tests and tools; Message is for people.
type Error struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error codes.
const (
	CodeParse    = "policy-parse"    // Rego syntax
	CodeCompile  = "policy-compile"  // type errors, unsafe variables, conflicts
	CodeRefused  = "policy-refused"  // a builtin rule sets may not call
	CodeMetadata = "policy-metadata" // METADATA missing, malformed or incomplete
)

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	b.WriteString(": ")
	b.WriteString(e.Message)
	return b.String()
}

// Errors is every problem found, in file and line order: a rule author fixes
// them in one pass instead of one compile at a time.
type Errors []*Error

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

func (es Errors) sort() {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
}

func (es Errors) orNil() error {
	if len(es) == 0 {
		return nil
	}
	es.sort()
	return es
}
