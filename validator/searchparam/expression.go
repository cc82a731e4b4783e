package searchparam

import (
	"fmt"
	"strings"

	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/issue"
	"github.com/sandkasse/sandkasse/validator/spec"
)

// checkExpressionTypes checks that each path of a SearchParameter's
// expression that starts with a resource type ("Organization.name |
// Organization.alias") starts with one of the parameter's bases: the
// expression is evaluated on a resource of a base type, where any other
// type name selects nothing. This is the part of the reference validator's
// type check of the expression (FHIRPath against the bases) that needs no
// type inference; the rest of the expression is not checked.
func checkExpressionTypes(sp *element.Element, reg *spec.Registry, pos Pos) issue.List {
	expr := sp.First("expression")
	if expr == nil || expr.Value == "" || reg == nil {
		return nil
	}
	var bases []string
	for _, b := range sp.Child("base") {
		if b.Value == "Resource" || b.Value == "DomainResource" {
			return nil // every resource type is one
		}
		bases = append(bases, b.Value)
	}
	if len(bases) == 0 {
		return nil
	}
	var out issue.List
	seen := map[string]bool{}
	for _, term := range unionTerms(expr.Value) {
		name := leadingName(term)
		if name == "" || seen[name] || !reg.IsResourceType(name) || contains(bases, name) {
			continue
		}
		seen[name] = true
		is := issue.Issue{Severity: issue.Error, Code: "searchparam-expression-type", Type: "invalid",
			Expression: expr.Path(),
			Message: fmt.Sprintf("the expression starts a path with %s, which is not a base of this SearchParameter (%s): on those resources it selects nothing",
				name, strings.Join(bases, ", ")),
			Fix: "add " + name + " to base, or start the path with one of the bases"}
		if pos != nil {
			is.Line, is.Column = pos(expr)
		}
		out = append(out, is)
	}
	return out
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// unionTerms splits a FHIRPath expression at the '|' operators outside
// parentheses, brackets and string or identifier literals.
func unionTerms(e string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(e); i++ {
		switch c := e[i]; c {
		case '\'', '`':
			// Skip the literal; a backslash escapes the next character.
			for i++; i < len(e) && e[i] != c; i++ {
				if e[i] == '\\' {
					i++
				}
			}
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			depth--
		case '|':
			if depth == 0 {
				out = append(out, e[start:i])
				start = i + 1
			}
		}
	}
	return append(out, e[start:])
}

// leadingName returns the identifier a union term starts with, past
// opening parentheses and spaces ("(Observation.value as Quantity)" gives
// Observation), or "" when the term starts otherwise.
func leadingName(t string) string {
	t = strings.TrimLeft(t, " \t\r\n(")
	i := 0
	for i < len(t) && (t[i] == '_' || (t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z') || (i > 0 && t[i] >= '0' && t[i] <= '9')) {
		i++
	}
	// A name followed by '(' is a function (iif, ofType), not a type.
	if rest := strings.TrimLeft(t[i:], " \t"); strings.HasPrefix(rest, "(") {
		return ""
	}
	return t[:i]
}
