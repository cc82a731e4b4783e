package invariant

import "github.com/sandkasse/sandkasse/validator/element"

// nativeRules are invariants evaluated in Go, each with exactly the meaning
// of its FHIRPath text (a test holds the two to the same answers). dom-3
// sits on every resource and its FHIRPath walks all descendants once per
// contained resource, which made it four fifths of all invariant time.
var nativeRules = map[string]func(e *element.Element, memo *memo) bool{
	"dom-3": func(r *element.Element, _ *memo) bool { return containedReferenced(r) },
	"ref-1": localReferenceResolves,
	// dom-6 (every resource) and bdl-5 (every Bundle entry) only ask
	// whether children exist, which FHIRPath answers without an error.
	"dom-6": func(r *element.Element, _ *memo) bool {
		for _, t := range r.Children {
			if t.Name == "text" && t.First("div") != nil {
				return true
			}
		}
		return false
	},
	"bdl-5": func(e *element.Element, _ *memo) bool {
		for _, c := range e.Children {
			switch c.Name {
			case "resource", "request", "response":
				return true
			}
		}
		return false
	},
}

// nativeDeciding are invariants evaluated in Go where Go can decide them,
// and by their FHIRPath otherwise (ok false). bdl-3 and bdl-4 compare
// every entry with %resource.type, which FHIRPath finds again for each
// entry among all the Bundle's children: quadratic in the entries.
var nativeDeciding = map[string]func(e *element.Element) (pass, ok bool){
	"bdl-3": entriesAgree("request", "batch", "transaction", "history"),
	"bdl-4": entriesAgree("response", "batch-response", "transaction-response", "history"),
	"bdl-2": searchOnlyInSearchset,
	"bdl-7": distinctFullUrls,
}

// bundleType returns a Bundle's one type element when it has a value; nil
// when it has none, several, or is no resource (FHIRPath then decides).
func bundleType(b *element.Element) *element.Element {
	var typ *element.Element
	for _, c := range b.Children {
		if c.Name == "type" {
			if typ != nil {
				return nil
			}
			typ = c
		}
	}
	if typ == nil || !typ.HasValue || !b.IsResource {
		return nil
	}
	return typ
}

// searchOnlyInSearchset is bdl-2, entry.search.empty() or (type =
// 'searchset'), on a Bundle with one valued type.
func searchOnlyInSearchset(b *element.Element) (pass, ok bool) {
	typ := bundleType(b)
	if typ == nil {
		return false, false
	}
	if typ.Value == "searchset" {
		return true, true
	}
	for _, e := range b.Children {
		if e.Name == "entry" && e.First("search") != nil {
			return false, true
		}
	}
	return true, true
}

// distinctFullUrls is bdl-7, (type = 'history') or
// entry.where(fullUrl.exists()).select(fullUrl&resource.meta.versionId).isDistinct(),
// on a Bundle with one valued type: its isDistinct compares every entry's
// with every other's, quadratic in a big Bundle's entries (2 % of a
// 677-entry transaction). A fullUrl or versionId without a value, or an
// element repeated that should not be, is left to FHIRPath.
func distinctFullUrls(b *element.Element) (pass, ok bool) {
	typ := bundleType(b)
	if typ == nil {
		return false, false
	}
	if typ.Value == "history" {
		return true, true
	}
	seen := map[string]bool{}
	for _, e := range b.Children {
		if e.Name != "entry" {
			continue
		}
		full, ok := only(e, "fullUrl")
		if !ok || (full != nil && !full.HasValue) {
			return false, false
		}
		if full == nil {
			continue
		}
		key := full.Value
		res, ok := only(e, "resource")
		if !ok {
			return false, false
		}
		if res != nil {
			meta, ok := only(res, "meta")
			if !ok {
				return false, false
			}
			if meta != nil {
				v, ok := only(meta, "versionId")
				if !ok || (v != nil && !v.HasValue) {
					return false, false
				}
				if v != nil {
					key += v.Value
				}
			}
		}
		if seen[key] {
			return false, true
		}
		seen[key] = true
	}
	return true, true
}

// only returns e's one child called name (nil when there is none); ok is
// false when there are several.
func only(e *element.Element, name string) (*element.Element, bool) {
	var found *element.Element
	for _, c := range e.Children {
		if c.Name == name {
			if found != nil {
				return nil, false
			}
			found = c
		}
	}
	return found, true
}

// entriesAgree is entry.all(<child>.exists() = (%resource.type = t1 or
// …)) on a Bundle: whether each entry has the child exactly when the
// Bundle's type is one of types. Only a Bundle with one type that has a
// value is decided here; the rest (no type, a type with only extensions)
// goes to FHIRPath, whose empty and unknown results decide otherwise.
func entriesAgree(child string, types ...string) func(*element.Element) (bool, bool) {
	return func(b *element.Element) (bool, bool) {
		typ := bundleType(b)
		if typ == nil {
			return false, false
		}
		want := false
		for _, t := range types {
			if typ.Value == t {
				want = true
			}
		}
		for _, e := range b.Children {
			if e.Name == "entry" && (e.First(child) != nil) != want {
				return false, true
			}
		}
		return true, true
	}
}

// nativeText is the R4 text of the rules evaluated in Go that are not
// errata; a constraint with another text (a profile's own) is left to
// FHIRPath.
var nativeText = map[string]string{
	"bdl-3": "entry.all(request.exists() = (%resource.type = 'batch' or %resource.type = 'transaction' or %resource.type = 'history'))",
	"bdl-4": "entry.all(response.exists() = (%resource.type = 'batch-response' or %resource.type = 'transaction-response' or %resource.type = 'history'))",
	"bdl-2": "entry.search.empty() or (type = 'searchset')",
	"bdl-7": "(type = 'history') or entry.where(fullUrl.exists()).select(fullUrl&resource.meta.versionId).isDistinct()",
	"dom-6": "text.`div`.exists()",
	"bdl-5": "resource.exists() or request.exists() or response.exists()",
	"ref-1": "reference.startsWith('#').not() or (reference.substring(1).trace('url') in %rootResource.contained.id.trace('ids'))",
}

// memo keeps what native rules compute once per validation.
type memo struct {
	contained map[*element.Element]map[string]bool // root resource -> ids of its contained resources
}

// localReferenceResolves is ref-1, "reference.startsWith('#').not() or
// (reference.substring(1) in %rootResource.contained.id)": a local
// reference names a contained resource of the root resource. Its FHIRPath
// collects every contained id once per Reference, quadratic in a resource
// with many local references. "#" alone gives an empty substring, hence
// an empty (passing) result, as in FHIRPath.
func localReferenceResolves(e *element.Element, m *memo) bool {
	ref := e.First("reference")
	if ref == nil || !ref.HasValue || len(ref.Value) < 2 || ref.Value[0] != '#' {
		return true
	}
	root := e.Resource()
	if root != nil && root.Name == "contained" && root.Parent != nil {
		if up := root.Parent.Resource(); up != nil {
			root = up
		}
	}
	if root == nil {
		return false
	}
	ids, ok := m.contained[root]
	if !ok {
		ids = map[string]bool{}
		for _, c := range root.Children {
			if c.Name == "contained" {
				if id := c.First("id"); id != nil && id.HasValue {
					ids[id.Value] = true
				}
			}
		}
		if m.contained == nil {
			m.contained = map[*element.Element]map[string]bool{}
		}
		m.contained[root] = ids
	}
	return ids[ref.Value[1:]]
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
