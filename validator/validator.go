// Package validator is the conformance engine as a library: hand it FHIR R4
// JSON, get back every finding with its location. It has no server and no
// database; sandbox/ and cmd/ wrap it.
package validator

import (
	"context"
	"errors"

	"github.com/sandkasse/sandkasse/validator/fhirjson"
	"github.com/sandkasse/sandkasse/validator/issue"
)

// Result is the outcome for one resource document.
type Result struct {
	ResourceType string
	Issues       issue.List
}

// Valid reports whether the resource has no error or fatal finding.
func (r Result) Valid() bool { return !r.Issues.HasErrors() }

// Options configure a Validator.
type Options struct {
	Limits fhirjson.Limits
	// Profiles are canonical URLs every resource is also validated against.
	Profiles []string
}

// Validator validates resources. It is safe for concurrent use.
type Validator struct {
	opts Options
}

// New returns a Validator.
func New(opts Options) (*Validator, error) {
	return &Validator{opts: opts}, nil
}

// Validate checks one JSON document holding one resource.
func (v *Validator) Validate(ctx context.Context, data []byte) Result {
	doc, err := fhirjson.Parse(data, v.opts.Limits)
	if err != nil {
		var se *fhirjson.SyntaxError
		if errors.As(err, &se) {
			return Result{Issues: issue.List{{Severity: issue.Fatal, Code: se.Code, Type: "structure",
				Line: se.Line, Column: se.Column, Message: se.Message}}}
		}
		return Result{Issues: issue.List{{Severity: issue.Fatal, Code: "json-syntax", Type: "structure", Message: err.Error()}}}
	}
	rt := ""
	if n := doc.Root.Get("resourceType"); n != nil && n.Kind == fhirjson.String {
		rt = n.Str
	}
	return Result{ResourceType: rt}
}
