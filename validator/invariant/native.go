package invariant

import "github.com/sandkasse/sandkasse/validator/element"

// nativeRules are invariants evaluated in Go, each with exactly the meaning
// of its FHIRPath text (a test holds the two to the same answers). dom-3
// sits on every resource and its FHIRPath walks all descendants once per
// contained resource, which made it four fifths of all invariant time.
var nativeRules = map[string]func(resource *element.Element) bool{
	"dom-3": containedReferenced,
}

// containedReferenced is dom-3: every contained resource with an id is
// referenced ('#id') from somewhere in the resource, as a reference or a
// canonical/uri value, or itself refers to its container ('#').
func containedReferenced(r *element.Element) bool {
	var contained []*element.Element
	for _, c := range r.Children {
		if c.Name == "contained" {
			contained = append(contained, c)
		}
	}
	if len(contained) == 0 {
		return true
	}
	refs := map[string]bool{}
	var walk func(e *element.Element, depth int)
	walk = func(e *element.Element, depth int) {
		for _, c := range e.Children {
			if c.HasValue && ((c.Name == "reference" && depth > 0) || isURIType(c.Type)) {
				refs[c.Value] = true
			}
			walk(c, depth+1)
		}
	}
	walk(r, 0)
	for _, c := range contained {
		id := c.First("id")
		if id == nil || !id.HasValue {
			continue // '#'+{} is empty, and where() drops the item
		}
		if refs["#"+id.Value] || refersToContainer(c) {
			continue
		}
		return false
	}
	return true
}

// isURIType reports the types ofType(canonical|uri|url) selects (uri and its
// specialisations).
func isURIType(t string) bool {
	switch t {
	case "uri", "url", "canonical", "oid", "uuid":
		return true
	}
	return false
}

func refersToContainer(c *element.Element) bool {
	found := false
	var walk func(e *element.Element)
	walk = func(e *element.Element) {
		for _, x := range e.Children {
			if found {
				return
			}
			if x.HasValue && x.Value == "#" && (x.Name == "reference" || x.Type == "canonical") {
				found = true
				return
			}
			walk(x)
		}
	}
	walk(c)
	return found
}
