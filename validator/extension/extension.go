// Package extension checks that each extension is known and used where its
// definition allows: the URL resolves to an Extension definition, the host
// element is in the definition's context, and the value has one of the types
// the definition allows. The rest of an extension's shape (nested slices) is
// profile validation.
package extension

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/issue"
	"github.com/sandkasse/sandkasse/validator/spec"
)

// Locate gives the line and column of an element.
type Locate func(*element.Element) (line, col int)

// Check inspects one Extension element (Name "extension" or
// "modifierExtension"). hostDef is the definition the host element (the
// extension's parent) was validated against, or nil.
func Check(ext *element.Element, hostDef *spec.ElementDefinition, reg *spec.Registry, at Locate) issue.List {
	urlEl := ext.First("url")
	if urlEl == nil || !urlEl.HasValue {
		return nil // url is required: the structure pass reports it
	}
	url := urlEl.Value
	shown := truncate(url, 200) // an instance's url can be any length
	if ext.Parent != nil && ext.Parent.Type == "Extension" && !strings.Contains(url, ":") {
		// A relative url names a part of a complex extension; its
		// definition is a slice of the parent's, which the profile pass
		// checks.
		return nil
	}
	var out issue.List
	report := func(sev issue.Severity, code, msg, fix string) {
		l, c := at(ext)
		out = append(out, issue.Issue{Severity: sev, Code: code, Type: "structure", Expression: ext.Path(),
			Line: l, Column: c, Message: msg, Fix: fix, RuleID: shown})
	}
	sd := reg.StructureDefinition(url)
	if sd == nil {
		if crossVersion.MatchString(url) {
			report(issue.Information, "extension-cross-version",
				fmt.Sprintf("the cross-version extension %s was not checked", shown), "")
		} else {
			// Even the core namespace gets extensions after R4 (the
			// extensions pack), so an unknown url is not an error by
			// itself; a rule set can make it one. Say nothing was checked.
			report(issue.Warning, "extension-unknown",
				fmt.Sprintf("the extension %s could not be found, so its content was not checked", shown),
				"load the package that defines it (--load), or correct the url")
		}
		return out
	}
	if sd.Type != "Extension" {
		report(issue.Error, "extension-not-extension",
			fmt.Sprintf("the url %s names a %s definition, not an Extension", url, sd.Type), "")
		return out
	}
	if ext.Parent != nil && !contextAllows(sd, ext.Parent, hostDef, reg) && !contextErratum(url, ext.Parent) {
		report(issue.Error, "extension-context",
			fmt.Sprintf("the extension %s is not allowed to be used at this point (allowed: %s)", url, contextList(sd)),
			"move the extension to an element its definition allows")
	}
	modifier := isModifier(sd)
	if modifier && ext.Name == "extension" {
		report(issue.Error, "extension-modifier-misplaced",
			fmt.Sprintf("the extension %s is a modifier extension and must be in modifierExtension", url), "")
	} else if !modifier && ext.Name == "modifierExtension" {
		report(issue.Error, "extension-not-modifier",
			fmt.Sprintf("the extension %s is not a modifier extension and must not be in modifierExtension", url), "")
	}
	if v := valueOf(ext); v != nil {
		allowed, max := valueTypes(sd)
		switch {
		case max == "0":
			report(issue.Error, "extension-value-not-allowed",
				fmt.Sprintf("the extension %s is a complex extension and may not have a value[x]", url), "use nested extensions")
		case len(allowed) > 0 && !typeAllowed(v.Type, allowed, reg):
			report(issue.Error, "extension-value-type",
				fmt.Sprintf("the extension %s may not have a value of type %s (allowed: %s)", url, v.Type, strings.Join(allowed, ", ")), "")
		}
	}
	return out
}

func valueOf(ext *element.Element) *element.Element {
	for _, c := range ext.Children {
		if c.Name == "value" {
			return c
		}
	}
	return nil
}

func snapshot(sd *spec.StructureDefinition) []*spec.ElementDefinition {
	if sd.Snapshot != nil {
		return sd.Snapshot.Element
	}
	if sd.Differential != nil {
		return sd.Differential.Element
	}
	return nil
}

func isModifier(sd *spec.StructureDefinition) bool {
	if e := snapshot(sd); len(e) > 0 {
		return e[0].IsModifier
	}
	return false
}

// valueTypes returns the allowed value types and the max of Extension.value[x].
func valueTypes(sd *spec.StructureDefinition) ([]string, string) {
	for _, e := range snapshot(sd) {
		if e.Path == "Extension.value[x]" && e.SliceName == "" {
			var ts []string
			for _, t := range e.Type {
				ts = append(ts, t.Code)
			}
			return ts, e.Max
		}
	}
	return nil, ""
}

func typeAllowed(t string, allowed []string, reg *spec.Registry) bool {
	for _, a := range allowed {
		if a == t || reg.IsSubtype(t, a) {
			return true
		}
	}
	return false
}

func contextList(sd *spec.StructureDefinition) string {
	var s []string
	for _, c := range sd.Context {
		s = append(s, c.Expression)
	}
	return strings.Join(s, ", ")
}

// contextAllows decides whether host may carry an extension of sd. R4
// contexts are of type element (a type name or an element path), extension
// (an extension url) or fhirpath.
func contextAllows(sd *spec.StructureDefinition, host *element.Element, hostDef *spec.ElementDefinition, reg *spec.Registry) bool {
	if len(sd.Context) == 0 {
		return true
	}
	paths := definitionPaths(host)
	if hostDef != nil {
		// The definition's own path (HumanName.family inside a datatype,
		// Questionnaire.item.item) and, for a contentReference, the path
		// it reuses (OperationDefinition.parameter for parameter.part).
		paths = append(paths, hostDef.Path)
		if ref := hostDef.ContentReference; ref != "" {
			if i := strings.IndexByte(ref, '#'); i >= 0 {
				ref = ref[i+1:]
			}
			paths = append(paths, ref)
		}
	}
	for _, c := range sd.Context {
		switch c.Type {
		case "element", "":
			expr := c.Expression
			if i := strings.IndexByte(expr, '#'); i >= 0 { // "http://…/StructureDefinition/Patient#Patient.name" form
				expr = expr[i+1:]
			}
			if expr == "Element" || expr == "Base" || expr == host.Type || reg.IsSubtype(host.Type, expr) {
				return true
			}
			if host.IsResource && (expr == "Resource" || expr == "DomainResource") {
				return true
			}
			// R5 names the canonical resources as an interface; in R4 they
			// are the resources that have a url.
			if host.IsResource && (expr == "CanonicalResource" || expr == "MetadataResource") && hasURL(reg, host.Type) {
				return true
			}
			want := collapse(expr)
			for _, p := range paths {
				if collapse(p) == want {
					return true
				}
			}
		case "extension":
			if host.Type == "Extension" {
				if u := host.First("url"); u != nil && u.Value == c.Expression {
					return true
				}
			}
		case "fhirpath":
			// FHIRPath contexts need the engine; accept rather than guess.
			return true
		}
	}
	return false
}

// definitionPaths returns the paths by which the host element is defined:
// its path from the nearest resource or complex datatype (HumanName.family),
// and the same from the resource (Patient.name.family).
func definitionPaths(host *element.Element) []string {
	var names []string
	var out []string
	for x := host; x != nil; x = x.Parent {
		if x.IsResource {
			names = append(names, x.Type)
			out = append(out, join(names))
			break
		}
		if x != host && x.Type != "" && x.Type != "BackboneElement" && x.Type != "Element" && !x.IsPrimitive() && len(out) == 0 {
			out = append(out, join(append(append([]string{}, names...), x.Type)))
		}
		names = append(names, x.Name)
	}
	return out
}

func join(reversed []string) string {
	var b strings.Builder
	for i := len(reversed) - 1; i >= 0; i-- {
		b.WriteString(reversed[i])
		if i > 0 {
			b.WriteByte('.')
		}
	}
	return b.String()
}

// collapse folds repeated segments, so that a context of
// Questionnaire.item also covers Questionnaire.item.item (a contentReference
// recursion).
func collapse(p string) string {
	parts := strings.Split(p, ".")
	out := make([]string, 0, len(parts))
	for i, s := range parts {
		if i > 0 && s == parts[i-1] {
			continue
		}
		out = append(out, s)
	}
	return strings.Join(out, ".")
}

var crossVersion = regexp.MustCompile(`^http://hl7\.org/fhir/[0-9]+\.[0-9]+/StructureDefinition/extension-`)

// contextErratum lists the places where the R4 definitions themselves use a
// core extension outside its declared context, so that validating the
// published definitions does not fail on the standard's own errata.
func contextErratum(url string, host *element.Element) bool {
	// structuredefinition-fhir-type declares ElementDefinition.type.code, but
	// every R4 snapshot carries it on ElementDefinition.type.
	return url == "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type" &&
		host.Name == "type" && host.Parent != nil && host.Parent.Type == "ElementDefinition"
}

func hasURL(reg *spec.Registry, resourceType string) bool {
	sd := reg.Type(resourceType)
	if sd == nil {
		return false
	}
	for _, e := range snapshot(sd) {
		if e.Path == resourceType+".url" {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
