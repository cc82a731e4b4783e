package searchparam

import (
	"fmt"

	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/issue"
	"github.com/sandkasse/sandkasse/validator/spec"
)

// Pos gives an element's line and column.
type Pos func(*element.Element) (line, col int)

func finding(e *element.Element, expr string, pos Pos, sev issue.Severity, code, typ, msg string) issue.Issue {
	is := issue.Issue{Severity: sev, Code: code, Type: typ, Expression: expr, Message: msg}
	if pos != nil {
		is.Line, is.Column = pos(e)
	}
	return is
}

// CheckSearchParameter checks a SearchParameter: its expression's paths
// start with its bases, and when it names the one it is derived from
// (derivedFrom), every base must be a base of that one (or that one must
// apply to every Resource) and the type must be the same, since a derived
// parameter is the same search, restricted. The derivation findings are
// located at the resource, as the reference validator reports them, with
// the line and column of the offending element.
func CheckSearchParameter(sp *element.Element, reg *spec.Registry, pos Pos) issue.List {
	if sp == nil || sp.Type != "SearchParameter" {
		return nil
	}
	out := checkExpressionTypes(sp, reg, pos)
	from := sp.First("derivedFrom")
	if from == nil || from.Value == "" {
		return out
	}
	path := sp.Path()
	master, ok := Lookup(reg, from.Value)
	if !ok {
		return append(out, finding(from, path, pos, issue.Warning, "searchparam-derived-unknown", "business-rule",
			fmt.Sprintf("the SearchParameter it is derived from (%s) is not known, so the derivation was not checked", from.Value)))
	}
	for _, b := range sp.Child("base") {
		if b.Value != "" && !master.hasBase(b.Value) && !master.hasBase("Resource") {
			out = append(out, finding(b, path, pos, issue.Error, "searchparam-derived-base", "business-rule",
				fmt.Sprintf("the resource type %s is not a base of the SearchParameter this one is derived from (%s)", b.Value, master.VersionedURL())))
		}
	}
	if t := sp.First("type"); t != nil && t.Value != "" && t.Value != master.Type {
		out = append(out, finding(t, path, pos, issue.Error, "searchparam-derived-type", "business-rule",
			fmt.Sprintf("the type %s differs from the type %s of the SearchParameter this one is derived from (%s)", t.Value, master.Type, master.VersionedURL())))
	}
	return out
}

// CheckCapabilityStatement checks that each rest.resource.searchParam of a
// CapabilityStatement whose definition names a known SearchParameter
// declares that parameter's type: a client builds its query values from the
// type. The system-wide rest.searchParam is left alone, as the reference
// validator leaves it (R4's own base CapabilityStatement declares _sort
// with the definition of _source).
func CheckCapabilityStatement(cs *element.Element, reg *spec.Registry, pos Pos) issue.List {
	if cs == nil || cs.Type != "CapabilityStatement" {
		return nil
	}
	var out issue.List
	check := func(p *element.Element) {
		def, typ := p.First("definition"), p.First("type")
		if def == nil || typ == nil || def.Value == "" || typ.Value == "" {
			return
		}
		sp, ok := Lookup(reg, def.Value)
		if !ok || sp.Type == typ.Value {
			return
		}
		out = append(out, finding(p, p.Path(), pos, issue.Error, "capabilitystatement-searchparam-type", "invalid",
			fmt.Sprintf("Type mismatch - SearchParameter '%s' type is %s, but type here is %s", sp.VersionedURL(), sp.Type, typ.Value)))
	}
	for _, rest := range cs.Child("rest") {
		for _, res := range rest.Child("resource") {
			for _, p := range res.Child("searchParam") {
				check(p)
			}
		}
	}
	return out
}
