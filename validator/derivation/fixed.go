// Package derivation checks a constraint StructureDefinition against the
// profile it derives from: a value its base fixes (fixed[x]) or requires
// (pattern[x]) on an element cannot be changed by the derived profile,
// whose instances would otherwise have to carry two different values at
// once. The reference validator reports it when it validates the profile
// (the derived value checked against the base's definition); the base
// must be in the registry (R4 core or --load).
package derivation

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/issue"
	"github.com/sandkasse/sandkasse/validator/spec"
)

// Pos gives an element's line and column.
type Pos func(*element.Element) (line, col int)

// CheckFixedValues checks the fixed[x] and pattern[x] of the differential
// of sd (a StructureDefinition being validated) against its base's
// snapshot.
func CheckFixedValues(sd *element.Element, reg *spec.Registry, pos Pos) issue.List {
	if sd == nil || sd.Type != "StructureDefinition" || reg == nil || value(sd, "derivation") != "constraint" {
		return nil
	}
	diff := sd.First("differential")
	baseURL := value(sd, "baseDefinition")
	if diff == nil || baseURL == "" {
		return nil
	}
	base := reg.StructureDefinition(baseURL)
	if base == nil || base.Snapshot == nil {
		return nil
	}
	byID := make(map[string]*spec.ElementDefinition, len(base.Snapshot.Element))
	for _, e := range base.Snapshot.Element {
		key := e.ID
		if key == "" {
			key = e.Path
		}
		byID[key] = e
		// A type slice of a choice (value[x]:valueQuantity) is what a
		// differential may call by its JSON name (valueQuantity).
		if e.SliceName != "" && strings.HasSuffix(e.ID, "[x]:"+e.SliceName) {
			if i := strings.LastIndexByte(strings.TrimSuffix(e.ID, "[x]:"+e.SliceName), '.'); i >= 0 {
				byID[e.ID[:i+1]+e.SliceName] = e
			}
		}
	}
	var out issue.List
	for _, de := range diff.Child("element") {
		key := value(de, "id")
		if key == "" {
			key = value(de, "path")
		}
		be := byID[key]
		if be == nil || len(be.Values) == 0 {
			continue
		}
		for _, c := range de.Children {
			if c.Name != "fixed" && c.Name != "pattern" {
				continue
			}
			suffix := upperFirst(c.Type)
			derived := fromElement(c)
			if raw, ok := be.Values["fixed"+suffix]; ok {
				if b, ok := fromJSON(raw); ok && !(contains(b, derived) && contains(derived, b)) {
					out = append(out, finding(c, pos, key, "fixes", baseURL))
				}
			} else if raw, ok := be.Values["pattern"+suffix]; ok {
				if b, ok := fromJSON(raw); ok && !contains(derived, b) {
					out = append(out, finding(c, pos, key, "requires by pattern", baseURL))
				}
			} else if hasOther(be.Values) {
				out = append(out, finding(c, pos, key, "fixes (as another type)", baseURL))
			}
		}
	}
	return out
}

func finding(c *element.Element, pos Pos, elem, what, base string) issue.Issue {
	is := issue.Issue{Severity: issue.Error, Code: "profile-fixed-conflict", Type: "value", Expression: c.Path(),
		Message: fmt.Sprintf("the %s value of %s differs from the value the base profile %s %s for it: no instance could conform to both",
			c.Name, elem, base, what),
		Fix: "remove the value, or give it the base profile's value"}
	if pos != nil {
		is.Line, is.Column = pos(c)
	}
	return is
}

// hasOther reports whether a base fixes or patterns the element at all.
func hasOther(values map[string]json.RawMessage) bool {
	for k := range values {
		if strings.HasPrefix(k, "fixed") || strings.HasPrefix(k, "pattern") {
			return true
		}
	}
	return false
}

func value(e *element.Element, name string) string {
	if x := e.First(name); x != nil {
		return x.Value
	}
	return ""
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// A value is compared in one shape whichever side it comes from: a
// primitive is its text as written (numbers verbatim), a complex value a
// map from JSON member name to the list of its values (a single value is a
// list of one).
type val = any

func fromElement(e *element.Element) val {
	if len(e.Children) == 0 || e.IsPrimitive() && e.HasValue && onlyExtensions(e) {
		return e.Value
	}
	m := map[string][]val{}
	for _, c := range e.Children {
		name := c.Name
		if c.Choice {
			name += upperFirst(c.Type)
		}
		m[name] = append(m[name], fromElement(c))
	}
	return m
}

func onlyExtensions(e *element.Element) bool {
	for _, c := range e.Children {
		if c.Name != "extension" && c.Name != "id" {
			return false
		}
	}
	return true
}

func fromJSON(raw json.RawMessage) (val, bool) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return nil, false
	}
	return normalise(v), true
}

func normalise(v any) val {
	switch x := v.(type) {
	case map[string]any:
		m := map[string][]val{}
		for k, c := range x {
			if strings.HasPrefix(k, "_") {
				continue // a primitive's extensions
			}
			if l, ok := c.([]any); ok {
				for _, i := range l {
					m[k] = append(m[k], normalise(i))
				}
			} else {
				m[k] = append(m[k], normalise(c))
			}
		}
		return m
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "true"
		}
		return "false"
	case string:
		return x
	}
	return fmt.Sprint(v)
}

// contains reports whether v holds everything pattern holds: equal
// primitives, and for each member of the pattern each of its values
// matched by one of v's values of that member.
func contains(v, pattern val) bool {
	switch p := pattern.(type) {
	case string:
		s, ok := v.(string)
		return ok && s == p
	case map[string][]val:
		m, ok := v.(map[string][]val)
		if !ok {
			return false
		}
		for k, pl := range p {
			for _, pi := range pl {
				found := false
				for _, vi := range m[k] {
					if contains(vi, pi) {
						found = true
						break
					}
				}
				if !found {
					return false
				}
			}
		}
		return true
	}
	return false
}
