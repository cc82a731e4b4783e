// Package reference checks references and the Bundle rules around them:
// reference syntax and target types, local (#id) references to contained
// resources, fullUrl rules, link relations, and resolution inside document
// Bundles, where every reference must be satisfied by an entry.
package reference

import (
	"fmt"
	"strings"

	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/issue"
	"github.com/sandkasse/sandkasse/validator/spec"
)

// Locate gives the line and column of an element.
type Locate func(*element.Element) (line, col int)

// Site is a Reference element with the type refs its definition allows.
type Site struct {
	Elem  *element.Element
	Types []spec.TypeRef
}

// absoluteURI is the regexp ^[A-Za-z][A-Za-z0-9+.\-]*:[^\s]+$ (a scheme,
// a colon, then no whitespace) by hand: every Bundle entry's fullUrl goes
// through it. RE2's \s is [\t\n\f\r ]; a test holds the two together.
func absoluteURI(s string) bool {
	if s == "" || !(s[0] >= 'A' && s[0] <= 'Z' || s[0] >= 'a' && s[0] <= 'z') {
		return false
	}
	i := 1
	for i < len(s) {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '.' || c == '-') {
			break
		}
		i++
	}
	if i >= len(s)-1 || s[i] != ':' {
		return false
	}
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\t', '\n', '\f', '\r', ' ':
			return false
		}
	}
	return true
}

type checker struct {
	reg *spec.Registry
	at  Locate
	out issue.List
	// entries indexes each Bundle's entries by fullUrl, built once: every
	// reference in a Bundle is resolved against it.
	entries   map[*element.Element]*bundleIndex
	contained map[*element.Element]map[string]bool
}

type bundleIndex struct {
	byURL    map[string][]*element.Element // fullUrl -> entries
	byTypeID map[string][]*element.Element // "Type/id" at the end of a fullUrl -> entries
	typ      string
}

func (c *checker) add(e *element.Element, sev issue.Severity, code, msg, fix string) {
	l, col := c.at(e)
	c.out = append(c.out, issue.Issue{Severity: sev, Code: code, Type: "invalid", Expression: e.Path(),
		Line: l, Column: col, Message: msg, Fix: fix})
}

// Check runs the reference and Bundle checks over one document. refs are
// the Reference elements the structure pass found; resources are all
// resource roots (the document root first).
func Check(refs []Site, resources []*element.Element, reg *spec.Registry, at Locate) issue.List {
	c := &checker{reg: reg, at: at}
	for _, r := range resources {
		if r.Type == "Bundle" {
			c.bundle(r)
		}
	}
	for _, s := range refs {
		c.reference(s)
	}
	return c.out
}

func value(e *element.Element, name string) string {
	if e == nil {
		return ""
	}
	if c := e.First(name); c != nil && c.HasValue {
		return c.Value
	}
	return ""
}

// reference checks one Reference element.
func (c *checker) reference(s Site) {
	ref := value(s.Elem, "reference")
	if ref == "" {
		return
	}
	host := s.Elem.Resource()
	if strings.HasPrefix(ref, "#") {
		c.local(s.Elem, ref, host)
		return
	}
	if i := strings.IndexByte(ref, '?'); i > 0 && conditionalAllowed(s.Elem) {
		// A conditional reference (Type?search) is resolved by the server
		// when it processes a transaction or batch (R4 http.html,
		// "Conditional References"); only its type can be checked here.
		c.knownType(s.Elem, ref[:i], issue.Error)
		return
	}
	typ, ok := c.refType(s.Elem, ref)
	if !ok {
		return
	}
	if typ != "" {
		if explicit := value(s.Elem, "type"); explicit != "" && explicit != typ {
			c.add(s.Elem, issue.Error, "reference-type-mismatch",
				fmt.Sprintf("the reference names a %s but Reference.type says %s", typ, explicit), "")
		}
		if !c.allowedIn(typ, s.Types) {
			c.add(s.Elem, issue.Error, "reference-target-type",
				fmt.Sprintf("the resource type '%s' in the reference is not allowed (allowed = %s)", typ, strings.Join(targetTypes(s.Types), ",")),
				"reference a resource of one of the allowed types")
		}
	}
	if b, entry := enclosingBundle(s.Elem); b != nil {
		c.inBundle(s.Elem, ref, b, entry)
	}
}

// refType validates the syntax of a non-local reference and returns the
// resource type it names ("" when the form does not say, e.g. urn:uuid).
func (c *checker) refType(e *element.Element, ref string) (string, bool) {
	if r, ok := parseRelative(ref); ok {
		return c.knownType(e, r.Type, issue.Error)
	}
	// An absolute URL only looks like a FHIR RESTful address; an
	// implementation guide's page or another server's path may carry a
	// segment that is not a resource type, so say so without failing.
	if a, ok := parseAbsolute(ref); ok {
		return c.knownType(e, a.Type, issue.Warning)
	}
	if strings.HasPrefix(ref, "urn:uuid:") || strings.HasPrefix(ref, "urn:oid:") {
		return "", true
	}
	if absoluteURI(ref) {
		// An absolute URL that is not a RESTful FHIR address (a logical
		// or canonical reference): syntactically fine, type unknown.
		if i := strings.LastIndexByte(strings.TrimRight(ref, "/"), '/'); i > 0 {
			parts := strings.Split(ref, "/")
			if len(parts) >= 2 {
				if t := parts[len(parts)-2]; t != "" && t[0] >= 'A' && t[0] <= 'Z' {
					return c.knownType(e, t, issue.Warning)
				}
			}
		}
		return "", true
	}
	c.add(e, issue.Error, "reference-syntax",
		"the reference is not a valid reference (expected Type/id, an absolute URL, urn:uuid:, urn:oid: or #id)",
		"write it as e.g. Patient/123")
	return "", false
}

func (c *checker) knownType(e *element.Element, t string, sev issue.Severity) (string, bool) {
	if !c.reg.IsResource(t) {
		c.add(e, sev, "reference-type-unknown",
			fmt.Sprintf("the resource type %s in the reference is not a FHIR R4 resource type", truncate(t, 40)), "")
		return "", false
	}
	return t, true
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func targetTypes(types []spec.TypeRef) []string {
	var out []string
	for _, t := range types {
		if t.Code != "Reference" {
			continue
		}
		for _, p := range t.TargetProfile {
			out = append(out, strings.TrimPrefix(p, spec.CoreBase))
		}
	}
	return out
}

// allowedIn reports whether a reference to typ satisfies the target
// profiles of types (any type when there are none).
func (c *checker) allowedIn(typ string, types []spec.TypeRef) bool {
	constrained := false
	for _, t := range types {
		if t.Code != "Reference" {
			continue
		}
		for _, p := range t.TargetProfile {
			constrained = true
			if c.allowedType(typ, strings.TrimPrefix(p, spec.CoreBase)) {
				return true
			}
		}
	}
	return !constrained
}

func (c *checker) allowedType(typ, a string) bool {
	if a == typ || a == "Resource" || c.reg.IsSubtype(typ, a) {
		return true
	}
	// A target profile on a type (a non-core URL) constrains that type;
	// the type index answers without decoding the definition.
	ti, ok := c.reg.TypeInfo(a)
	if ok && ti.Type == typ {
		return true
	}
	return !ok && strings.Contains(a, "/") // an unknown profile: cannot tell, so do not fail
}

// local resolves "#id" against the contained resources of the containing
// resource ("#" alone means the container itself).
func (c *checker) local(e *element.Element, ref string, host *element.Element) {
	if ref == "#" || host == nil {
		return
	}
	// A contained resource refers to its siblings through the container.
	container := host
	if host.Parent != nil && host.Name == "contained" {
		container = host.Parent.Resource()
	}
	id := ref[1:]
	if c.containedIDs(container)[id] {
		return
	}
	c.add(e, issue.Error, "reference-local-unresolved",
		fmt.Sprintf("unable to resolve the local reference '#%s': no contained resource has that id", truncate(id, 64)),
		"add the contained resource, or correct the id")
}

// containedIDs returns the ids of a resource's contained resources, built
// once per resource: a resource may carry thousands of local references.
func (c *checker) containedIDs(r *element.Element) map[string]bool {
	if ids, ok := c.contained[r]; ok {
		return ids
	}
	ids := map[string]bool{}
	for _, x := range r.Children {
		if x.Name == "contained" {
			ids[value(x, "id")] = true
		}
	}
	if c.contained == nil {
		c.contained = map[*element.Element]map[string]bool{}
	}
	c.contained[r] = ids
	return ids
}

// enclosingBundle returns the nearest Bundle above e and the entry e is in.
func enclosingBundle(e *element.Element) (bundle, entry *element.Element) {
	for x := e; x != nil; x = x.Parent {
		if x.Name == "entry" && x.Parent != nil && x.Parent.Type == "Bundle" {
			return x.Parent, x
		}
	}
	return nil, nil
}

// conditionalAllowed reports whether e sits in a transaction or batch
// Bundle, the only place a conditional reference may stand.
func conditionalAllowed(e *element.Element) bool {
	b, _ := enclosingBundle(e)
	if b == nil {
		return false
	}
	t := value(b, "type")
	return t == "transaction" || t == "batch"
}
