package policy

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"gopkg.in/yaml.v3"

	"github.com/sandkasse/sandkasse/validator/issue"
)

// Rule is one finding rule of a policy, as its METADATA describes it.
type Rule struct {
	ID          string         `json:"id"`
	Title       string         `json:"title"`
	Description string         `json:"description,omitempty"`
	Severity    issue.Severity `json:"severity"`
	Requirement string         `json:"requirement"`
	// Source says where the rule comes from: a specification and version
	// ("VKP-R4 0.9.0", "FHIR R4", "SMART App Launch 2.0") or "sandkasse" for
	// a rule the sandbox's authors judged sensible where the sources are silent.
	Source string `json:"source"`
	Fix    Fix    `json:"fix"`

	Package string `json:"package"` // Rego package path, e.g. data.sandkasse.dho_vkp.document
	Name    string `json:"name"`    // Rego rule name
	File    string `json:"file"`
	Line    int    `json:"line"`
}

// Fix is the hint shown with a finding, in Norwegian bokmål and English.
type Fix struct {
	NB string `json:"nb" yaml:"nb"`
	EN string `json:"en" yaml:"en"`
}

// metaBlock is the whole METADATA schema a rule set may use. OPA itself
// ignores keys it does not know, so a misspelt "titel:" would silently leave a
// rule untitled; decoding the block again with KnownFields refuses it.
type metaBlock struct {
	Scope       string      `yaml:"scope"`
	Title       string      `yaml:"title"`
	Description string      `yaml:"description"`
	Custom      *metaCustom `yaml:"custom"`
}

type metaCustom struct {
	ID          string `yaml:"id"`
	Severity    string `yaml:"severity"`
	Requirement string `yaml:"requirement"`
	Source      string `yaml:"source"`
	Fix         *Fix   `yaml:"fix"`
}

// ruleIDPattern keeps ids usable as SARIF rule ids, JUnit names and URL
// fragments: upper-case words joined by hyphens, e.g. DHO-DOC-01.
var ruleIDPattern = regexp.MustCompile(`^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$`)

var yamlLine = regexp.MustCompile(`line (\d+):\s*`)

// isFindingName is the conftest convention: rules named deny*/warn*/violation*
// produce findings, so one without METADATA is a mistake, not a helper.
func isFindingName(name string) bool {
	for _, p := range []string{"deny", "warn", "violation"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// blockText rebuilds the YAML of an annotation block from the module's
// comments, the way OPA reads it, and returns the row of its first line.
func blockText(m *ast.Module, a *ast.Annotations) ([]byte, int) {
	start := a.Location.Row
	end := start
	if el := a.EndLoc(); el != nil {
		end = el.Row
	}
	var buf bytes.Buffer
	for _, c := range m.Comments {
		if c.Location.Row > start && c.Location.Row <= end && c.Location.Col == 1 {
			buf.Write(bytes.TrimPrefix(c.Text, []byte(" ")))
			buf.WriteByte('\n')
		}
	}
	return buf.Bytes(), start + 1
}

// decodeBlock decodes one METADATA block strictly; every problem is an Error
// at the line of the block it concerns.
func decodeBlock(file string, m *ast.Module, a *ast.Annotations) (*metaBlock, Errors) {
	text, first := blockText(m, a)
	var mb metaBlock
	dec := yaml.NewDecoder(bytes.NewReader(text))
	dec.KnownFields(true)
	err := dec.Decode(&mb)
	if err == nil {
		return &mb, nil
	}
	var errs Errors
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for _, msg := range msgs {
		line := a.Location.Row
		if sm := yamlLine.FindStringSubmatch(msg); sm != nil {
			n, _ := strconv.Atoi(sm[1])
			line = first + n - 1
			msg = strings.Replace(msg, sm[0], "", 1)
		}
		msg = strings.TrimPrefix(msg, "yaml: ")
		errs = append(errs, &Error{File: file, Line: line, Code: CodeMetadata, Message: "METADATA: " + msg})
	}
	// A TypeError still fills the fields it could read; the caller checks
	// those too so one run reports everything.
	if te != nil {
		return &mb, errs
	}
	return nil, errs
}

// ruleMetadata reads and checks the METADATA of every rule in a module.
// Finding rules come back in source order.
func ruleMetadata(file string, m *ast.Module) ([]Rule, Errors) {
	var rules []Rule
	var errs Errors
	// OPA attaches a rule-scoped block to one definition; a partial set may
	// have many definitions, and one block covers them all.
	seen := map[string]bool{}
	annotated := map[int]bool{} // by row: rules hold copies of the module's blocks
	for _, r := range m.Rules {
		name := r.Head.Name.String()
		if len(r.Head.Reference) > 0 {
			name = r.Head.Reference.String()
		}
		var ruleAnns []*ast.Annotations
		for _, a := range r.Annotations {
			annotated[a.Location.Row] = true
			if a.Scope == "rule" {
				ruleAnns = append(ruleAnns, a)
			} else {
				// document/package/subpackages blocks carry titles for
				// generated docs and are checked below like any block.
				mb, es := decodeBlock(file, m, a)
				errs = append(errs, es...)
				if mb != nil && mb.Custom != nil {
					errs = append(errs, &Error{File: file, Line: a.Location.Row, Code: CodeMetadata,
						Message: fmt.Sprintf("METADATA of scope %q may not carry custom (rule ids belong to rule-scoped blocks)", a.Scope)})
				}
			}
		}
		line := r.Location.Row
		if len(ruleAnns) == 0 {
			if !seen[name] && isFindingName(name) && r.Head.RuleKind() == ast.MultiValue {
				errs = append(errs, &Error{File: file, Line: line, Code: CodeMetadata,
					Message: fmt.Sprintf("rule %s produces findings but has no METADATA block (id, title, severity, requirement, source, fix)", name)})
				seen[name] = true
			}
			continue
		}
		if seen[name] {
			errs = append(errs, &Error{File: file, Line: ruleAnns[0].Location.Row, Code: CodeMetadata,
				Message: fmt.Sprintf("rule %s has a METADATA block on more than one definition; put one on the first only", name)})
			continue
		}
		seen[name] = true
		if len(ruleAnns) > 1 {
			errs = append(errs, &Error{File: file, Line: ruleAnns[1].Location.Row, Code: CodeMetadata,
				Message: fmt.Sprintf("rule %s has more than one METADATA block", name)})
		}
		a := ruleAnns[0]
		if r.Head.RuleKind() != ast.MultiValue || len(r.Head.Reference) > 1 {
			errs = append(errs, &Error{File: file, Line: line, Code: CodeMetadata,
				Message: fmt.Sprintf("rule %s has METADATA, so it must be a finding rule: a partial set (%s contains finding if { ... })", name, name)})
			continue
		}
		mb, es := decodeBlock(file, m, a)
		errs = append(errs, es...)
		if mb == nil {
			continue
		}
		rule, es := checkBlock(file, a.Location.Row, name, mb)
		errs = append(errs, es...)
		if len(es) == 0 {
			rule.Package = m.Package.Path.String()
			rule.Name = name
			rule.File = file
			rule.Line = line
			rules = append(rules, rule)
		}
	}
	for _, a := range m.Annotations {
		if !annotated[a.Location.Row] && a.Scope != "package" && a.Scope != "subpackages" {
			errs = append(errs, &Error{File: file, Line: a.Location.Row, Code: CodeMetadata,
				Message: "METADATA block is attached to nothing (it must sit directly above a rule or the package)"})
		}
		if a.Scope == "package" || a.Scope == "subpackages" {
			mb, es := decodeBlock(file, m, a)
			errs = append(errs, es...)
			if mb != nil && mb.Custom != nil {
				errs = append(errs, &Error{File: file, Line: a.Location.Row, Code: CodeMetadata,
					Message: "package METADATA may not carry custom (rule ids belong to rule-scoped blocks)"})
			}
		}
	}
	return rules, errs
}

// checkBlock checks that a finding rule's METADATA says everything a report
// needs; every missing or bad field is its own error.
func checkBlock(file string, line int, name string, mb *metaBlock) (Rule, Errors) {
	var errs Errors
	bad := func(format string, args ...any) {
		errs = append(errs, &Error{File: file, Line: line, Code: CodeMetadata,
			Message: fmt.Sprintf("rule %s: METADATA ", name) + fmt.Sprintf(format, args...)})
	}
	r := Rule{Title: strings.TrimSpace(mb.Title), Description: strings.TrimSpace(mb.Description)}
	if r.Title == "" {
		bad("has no title")
	}
	c := mb.Custom
	if c == nil {
		bad("has no custom block (id, severity, requirement, source, fix)")
		return r, errs
	}
	r.ID = c.ID
	switch {
	case c.ID == "":
		bad("has no custom.id")
	case !ruleIDPattern.MatchString(c.ID):
		bad("custom.id %q must be upper-case words joined by hyphens, e.g. DHO-DOC-01", c.ID)
	}
	switch c.Severity {
	case "":
		bad("has no custom.severity (error, warning or information)")
	case "error", "warning", "information":
		r.Severity, _ = issue.ParseSeverity(c.Severity)
	default:
		bad("custom.severity %q is not one of error, warning, information", c.Severity)
	}
	if r.Requirement = strings.TrimSpace(c.Requirement); r.Requirement == "" {
		bad("has no custom.requirement")
	}
	if r.Source = strings.TrimSpace(c.Source); r.Source == "" {
		bad("has no custom.source (a specification and version, or \"sandkasse\" for the sandbox's own judgement)")
	}
	if c.Fix == nil {
		bad("has no custom.fix (nb and en)")
	} else {
		r.Fix = Fix{NB: strings.TrimSpace(c.Fix.NB), EN: strings.TrimSpace(c.Fix.EN)}
		if r.Fix.NB == "" {
			bad("has no custom.fix.nb (fix hint in Norwegian bokmål)")
		}
		if r.Fix.EN == "" {
			bad("has no custom.fix.en (fix hint in English)")
		}
	}
	return r, errs
}
