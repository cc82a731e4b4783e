// Package structure checks a JSON document against the base definitions of
// its resource type and builds the typed element tree on the way: unknown
// elements, JSON kinds, arrays, cardinality, primitive formats and the FHIR
// JSON rules (no empty objects, arrays or strings, no stray nulls). It does
// not evaluate invariants or bindings; it hands back where they apply, so the
// later passes need not walk the definitions again.
package structure

import (
	"fmt"
	"strconv"

	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/fhirjson"
	"github.com/sandkasse/sandkasse/validator/internal/chunks"
	"github.com/sandkasse/sandkasse/validator/issue"
	"github.com/sandkasse/sandkasse/validator/spec"
)

// Site is an element with the definitions that apply to it: the element
// definition in its parent and, for a complex type, the type's own root.
// Invariants and bindings are evaluated per site.
type Site struct {
	Elem     *element.Element
	Def      *spec.ElementDefinition
	TypeRoot *spec.ElementDefinition
}

// Result is what Build found and made.
type Result struct {
	Root      *element.Element
	Issues    issue.List
	Sites     []Site
	Resources []*element.Element // every resource: the root, contained, entries
}

// Limits bound the work on one document.
type Limits struct {
	// MaxElements caps the number of elements built; a document past it is
	// reported once and the rest is not walked.
	MaxElements int
	// MaxBundleEntries caps Bundle.entry; a larger Bundle is refused
	// whole rather than half validated.
	MaxBundleEntries int
	// SecurityChecks refuses string values that look like HTML markup,
	// which apps may render unescaped (the reference validator's
	// security-checks mode).
	SecurityChecks bool
	// NoHTMLInMarkdown refuses markdown that embeds HTML tags.
	NoHTMLInMarkdown bool
}

// DefaultMaxElements allows a Bundle of several hundred thousand small
// entries, and keeps the tree of one document within a few hundred MB.
const DefaultMaxElements = 4_000_000

// DefaultMaxBundleEntries is far above what a FHIR server pages out and
// what the sandbox accepts in a transaction.
const DefaultMaxBundleEntries = 200_000

// Arena is memory a caller reuses across documents (see BuildIn). The
// zero Arena is ready to use; it is used by one goroutine at a time.
type Arena struct {
	elems chunks.Pool[element.Element]
	kids  chunks.Pool[*element.Element]
	// spare is a Sites array free for the next build; lent is the one the
	// last build's Result holds until Release.
	spare, lent []Site
}

// maxKeptSites bounds the Sites array an arena keeps between builds
// (24 bytes each); a larger one, after a very large document, is left to
// the collector.
const maxKeptSites = 1 << 16

// Release makes the memory of every tree built in the arena reusable: none
// of its elements, nor the Result's Sites, may be used afterwards.
func (a *Arena) Release() {
	a.elems.Release()
	a.kids.Release()
	if a.lent != nil {
		clear(a.lent)
		if cap(a.lent) <= maxKeptSites {
			a.spare = a.lent[:0]
		}
		a.lent = nil
	}
}

type builder struct {
	arena    *Arena
	reg      *spec.Registry
	doc      *fhirjson.Doc
	res      *Result
	elements int
	limits   Limits
	stopped  bool
	// types remembers the definitions of the resource types met in this
	// document (a Bundle repeats a few types many times), each looked up
	// in the registry once.
	types  [8]typeEntry
	ntypes int
}

type typeEntry struct {
	name string
	sd   *spec.StructureDefinition
}

// resourceType is b.reg.Type(name), remembered for the document.
func (b *builder) resourceType(name string) *spec.StructureDefinition {
	for _, t := range b.types[:b.ntypes] {
		if t.name == name {
			return t.sd
		}
	}
	sd := b.reg.Type(name)
	if b.ntypes < len(b.types) {
		b.types[b.ntypes] = typeEntry{name, sd}
		b.ntypes++
	}
	return sd
}

// Build validates the structure of the document's root resource.
func Build(doc *fhirjson.Doc, reg *spec.Registry, lim Limits) *Result {
	return BuildIn(doc, reg, lim, new(Arena))
}

// BuildIn is Build with the tree's memory taken from a, which the caller
// releases once it is done with the tree.
func BuildIn(doc *fhirjson.Doc, reg *spec.Registry, lim Limits, a *Arena) *Result {
	if a.elems.Keep == 0 {
		a.elems.Size, a.elems.Keep = 256, 128
		a.kids.Size, a.kids.Keep = 1024, 32
	}
	if lim.MaxElements <= 0 {
		lim.MaxElements = DefaultMaxElements
	}
	if lim.MaxBundleEntries <= 0 {
		lim.MaxBundleEntries = DefaultMaxBundleEntries
	}
	b := &builder{arena: a, reg: reg, doc: doc, res: &Result{Sites: a.spare}, limits: lim}
	a.spare = nil
	b.res.Root = b.resource(doc.Root, "", -1, nil)
	for _, f := range doc.Duplicates {
		b.reportAt(f.NameOff, issue.Error, "json-duplicate-key", "structure", "",
			fmt.Sprintf("duplicate property '%s' in the same object", f.Name), "keep one occurrence of the property")
	}
	if a.lent == nil {
		a.lent = b.res.Sites
	}
	return b.res
}

func (b *builder) newElement(e element.Element) *element.Element {
	p := b.arena.elems.One()
	*p = e
	return p
}

// children returns an empty slice with room for k children, carved from a
// chunk shared by many elements.
func (b *builder) children(k int) []*element.Element {
	return b.arena.kids.Take(k)[:0]
}

func (b *builder) reportAt(off int32, sev issue.Severity, code, typ, expr, msg, fix string) {
	line, col := b.doc.Position(off)
	b.res.Issues = append(b.res.Issues, issue.Issue{Severity: sev, Code: code, Type: typ, Expression: expr,
		Line: line, Column: col, Message: msg, Fix: fix})
}

func (b *builder) count() bool {
	if b.stopped {
		return false
	}
	b.elements++
	if b.elements > b.limits.MaxElements {
		b.stopped = true
		b.res.Issues = append(b.res.Issues, issue.Issue{Severity: issue.Fatal, Code: "limit-elements", Type: "too-costly",
			Message: fmt.Sprintf("the document has more than %d elements; the rest was not validated", b.limits.MaxElements)})
		return false
	}
	return true
}

// resource walks a resource object. name is the element name in the parent
// ("contained", "resource"); at the document root it is the resource type.
func (b *builder) resource(n *fhirjson.Node, name string, index int, parent *element.Element) *element.Element {
	// where names the resource in a finding; only a finding needs it.
	where := func() string {
		if parent == nil {
			return "$" // the reference validator's name for a document root that is not a resource
		}
		w := parent.Path() + "." + name
		if index >= 0 {
			w += "[" + strconv.Itoa(index) + "]"
		}
		return w
	}
	if n.Kind != fhirjson.Object {
		b.reportAt(n.Off, issue.Fatal, "resource-not-object", "structure", where(),
			"a resource must be a JSON object, not "+n.Kind.String(), "")
		return nil
	}
	rtNode := n.Get("resourceType")
	if rtNode == nil {
		b.reportAt(n.Off, issue.Fatal, "resource-type-missing", "structure", where(),
			"the resource has no resourceType property", "add \"resourceType\" naming the type of the resource, e.g. \"Patient\"")
		return nil
	}
	if rtNode.Kind != fhirjson.String {
		b.reportAt(rtNode.Off, issue.Fatal, "resource-type-invalid", "structure", where(),
			"resourceType must be a string, not "+rtNode.Kind.String(), "")
		return nil
	}
	rt := rtNode.Str
	sd := b.resourceType(rt)
	if sd == nil || sd.Kind != "resource" || sd.Derivation == "constraint" {
		b.reportAt(rtNode.Off, issue.Fatal, "resource-type-unknown", "structure", where(),
			fmt.Sprintf("unknown resource type '%s'", truncate(rt, 64)), "use a resource type defined in FHIR R4")
		return nil
	}
	if sd.Abstract {
		b.reportAt(rtNode.Off, issue.Fatal, "resource-type-abstract", "structure", where(),
			fmt.Sprintf("resource type '%s' is abstract and cannot be instantiated", rt), "")
		return nil
	}
	if !b.count() {
		return nil
	}
	if parent == nil {
		name = rt
	}
	e := b.newElement(element.Element{Name: name, Type: rt, Index: int32(index), Parent: parent, Node: n, IsResource: true})
	b.res.Resources = append(b.res.Resources, e)
	b.res.Sites = append(b.res.Sites, Site{Elem: e, Def: rootElement(sd)})
	b.object(n, sd, rt, e)
	return e
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// object walks the members of a JSON object whose children are defined at
// path in sd.
func (b *builder) object(n *fhirjson.Node, sd *spec.StructureDefinition, path string, e *element.Element) {
	b.objectShape(n, sd, shapeOf(sd, path), e)
}

// objectShape is object with the shape already at hand: a child caches the
// shape of its values, which saves a map look-up per JSON object.
func (b *builder) objectShape(n *fhirjson.Node, sd *spec.StructureDefinition, s *shape, e *element.Element) {
	if len(n.Fields) == 0 {
		b.reportAt(n.Off, issue.Error, "json-empty-object", "structure", e.Path(),
			"an object must have content; empty objects are not allowed in FHIR JSON", "remove the empty object")
		return
	}
	if e.Children == nil {
		k := 0
		for i := range n.Fields {
			if v := n.Fields[i].Value; v.Kind == fhirjson.Array {
				k += len(v.Items)
			} else {
				k++
			}
		}
		e.Children = b.children(k)
	}
	// Only an object with a "_name" member needs the look-up of each
	// primitive's companion.
	companions := false
	for i := range n.Fields {
		if f := n.Fields[i].Name; len(f) > 1 && f[0] == '_' {
			companions = true
			break
		}
	}
	var counts [64]int
	cnt := counts[:0]
	if len(s.defs) <= len(counts) {
		cnt = counts[:len(s.defs)]
	} else {
		cnt = make([]int, len(s.defs))
	}
	for i := range n.Fields {
		if b.stopped {
			return
		}
		f := &n.Fields[i]
		name := f.Name
		if name == "resourceType" && e.IsResource {
			continue
		}
		var ext *fhirjson.Node
		if len(name) > 1 && name[0] == '_' {
			base := name[1:]
			c := s.byJSON[base]
			if c == nil || !isPrimitive(c.typ) {
				// Only primitives have a "_name" companion.
				b.unknown(f, e)
				continue
			}
			if get(n, base) != nil {
				continue // walked with its value
			}
			b.member(f, nil, f.Value, c, sd, e, cnt)
			continue
		}
		c := s.byJSON[name]
		if c == nil || (name == "value" && e.IsPrimitive()) {
			// The value of a primitive is the JSON value itself; its "_name"
			// object carries only id and extension.
			b.unknown(f, e)
			continue
		}
		if companions && isPrimitive(c.typ) {
			ext = get(n, "_"+name)
		}
		b.member(f, f.Value, ext, c, sd, e, cnt)
	}
	for i, d := range s.defs {
		if cnt[i] < s.min[i] {
			b.reportAt(n.Off, issue.Error, "cardinality-min", "required", e.Path(),
				fmt.Sprintf("%s: minimum required = %d, but only found %d", d.Path, s.min[i], cnt[i]),
				"add the missing element '"+s.names[i]+"'")
		}
		if s.max[i] >= 0 && cnt[i] > s.max[i] {
			b.reportAt(n.Off, issue.Error, "cardinality-max", "structure", e.Path(),
				fmt.Sprintf("%s: max allowed = %d, but found %d", d.Path, s.max[i], cnt[i]), "")
		}
	}
	// ele-1 is the hot invariant (every element has it); it is checked
	// here in Go with the same meaning as its FHIRPath, and never on a
	// resource, where it does not apply.
	if !e.IsResource && !e.HasValue && !hasNonID(e) {
		b.reportAt(n.Off, issue.Error, "ele-1", "invariant", e.Path(),
			"All FHIR elements must have a @value or children", "give the element a value or children other than id")
	}
}

// get is Node.Get, except that a large object is indexed once: an object
// with thousands of members would make a scan per member quadratic.
func get(n *fhirjson.Node, name string) *fhirjson.Node {
	if len(n.Fields) <= 32 {
		return n.Get(name)
	}
	if n.Index == nil {
		n.Index = make(map[string]int, len(n.Fields))
		for i := len(n.Fields) - 1; i >= 0; i-- {
			n.Index[n.Fields[i].Name] = i
		}
	}
	if i, ok := n.Index[name]; ok {
		return n.Fields[i].Value
	}
	return nil
}

func hasNonID(e *element.Element) bool {
	for _, c := range e.Children {
		if c.Name != "id" {
			return true
		}
	}
	return false
}

func (b *builder) unknown(f *fhirjson.Field, e *element.Element) {
	b.reportAt(f.NameOff, issue.Error, "structure-unknown-element", "structure", e.Path(),
		fmt.Sprintf("unrecognised property '%s'", truncate(f.Name, 64)),
		"remove it, or check the spelling and the element's type (choice elements carry the type in their name, e.g. valueQuantity)")
}

func isPrimitive(t string) bool {
	return t != "" && t[0] >= 'a' && t[0] <= 'z'
}

// member walks one object member: value is the JSON value (nil when only
// "_name" is present) and ext the "_name" value of a primitive.
func (b *builder) member(f *fhirjson.Field, value, ext *fhirjson.Node, c *child, sd *spec.StructureDefinition, parent *element.Element, cnt []int) {
	// Arrays: value and ext must agree in shape.
	isArr := func(n *fhirjson.Node) bool { return n != nil && n.Kind == fhirjson.Array }
	if (value != nil && isArr(value) != c.repeats) || (value == nil && ext != nil && isArr(ext) != c.repeats) {
		at := value
		if at == nil {
			at = ext
		}
		if c.repeats {
			b.reportAt(at.Off, issue.Error, "structure-array-expected", "structure", parent.Path()+"."+c.name,
				"this property must be an array, not "+at.Kind.String(), "wrap the value in [ ]")
		} else {
			b.reportAt(at.Off, issue.Error, "structure-array-unexpected", "structure", parent.Path()+"."+c.name,
				"this property must be a single value, not an array", "give one value without [ ]")
		}
	}
	if isArr(value) || isArr(ext) {
		var vs, es []*fhirjson.Node
		if value != nil {
			if value.Kind == fhirjson.Array {
				vs = value.Items
			} else {
				vs = []*fhirjson.Node{value}
			}
		}
		if ext != nil {
			if ext.Kind == fhirjson.Array {
				es = ext.Items
			} else {
				es = []*fhirjson.Node{ext}
			}
		}
		if c.name == "entry" && parent.Type == "Bundle" && len(vs) > b.limits.MaxBundleEntries {
			b.reportAt(value.Off, issue.Fatal, "limit-bundle-entries", "too-costly", parent.Path()+".entry",
				fmt.Sprintf("the Bundle has %d entries, more than the limit of %d; it was not validated", len(vs), b.limits.MaxBundleEntries),
				"split the Bundle")
			b.stopped = true
			return
		}
		if value != nil && len(vs) == 0 {
			b.reportAt(value.Off, issue.Error, "json-empty-array", "structure", parent.Path()+"."+c.name,
				"arrays must not be empty in FHIR JSON", "remove the property")
		}
		if ext != nil && len(es) == 0 {
			b.reportAt(ext.Off, issue.Error, "json-empty-array", "structure", parent.Path()+"._"+c.name,
				"arrays must not be empty in FHIR JSON", "remove the property")
		}
		if value != nil && ext != nil && len(vs) != len(es) {
			b.reportAt(ext.Off, issue.Error, "json-primitive-array-length", "structure", parent.Path()+"."+c.name,
				fmt.Sprintf("the arrays '%s' and '_%s' must have the same length (%d and %d)", c.name, c.name, len(vs), len(es)), "")
		}
		n := max(len(vs), len(es))
		for i := 0; i < n; i++ {
			var v, x *fhirjson.Node
			if i < len(vs) {
				v = vs[i]
			}
			if i < len(es) {
				x = es[i]
			}
			// A null in one array stands for "nothing at this index"; both
			// null (or null with no partner) is empty.
			if v != nil && v.Kind == fhirjson.Null {
				v = nil
				if x == nil || x.Kind == fhirjson.Null {
					at := vs[i]
					b.reportAt(at.Off, issue.Error, "json-null", "structure", parent.Path()+"."+c.name+"["+strconv.Itoa(i)+"]",
						"null is not allowed here; in a primitive array a null needs a value at the same index in '_"+c.name+"'", "")
					continue
				}
			}
			if x != nil && x.Kind == fhirjson.Null {
				x = nil
				if v == nil {
					at := es[i]
					b.reportAt(at.Off, issue.Error, "json-null", "structure", parent.Path()+"._"+c.name+"["+strconv.Itoa(i)+"]",
						"null is not allowed here; in a primitive array a null in '_"+c.name+"' needs a value at the same index in '"+c.name+"'", "")
					continue
				}
			}
			if v == nil && x == nil {
				continue
			}
			idx := i
			if !c.repeats {
				idx = -1
			}
			cnt[c.slot]++
			b.item(v, x, c, sd, parent, idx)
		}
		return
	}
	if value != nil && value.Kind == fhirjson.Null {
		b.reportAt(value.Off, issue.Error, "json-null", "structure", parent.Path()+"."+c.name,
			"null is not allowed in FHIR JSON", "remove the property")
		value = nil
		if ext == nil {
			return
		}
	}
	if ext != nil && ext.Kind == fhirjson.Null {
		b.reportAt(ext.Off, issue.Error, "json-null", "structure", parent.Path()+"._"+c.name,
			"null is not allowed in FHIR JSON", "remove the property")
		ext = nil
		if value == nil {
			return
		}
	}
	idx := -1
	if c.repeats {
		idx = 0
	}
	cnt[c.slot]++
	b.item(value, ext, c, sd, parent, idx)
}

// item walks one value of a member.
func (b *builder) item(v, x *fhirjson.Node, c *child, sd *spec.StructureDefinition, parent *element.Element, idx int) {
	if !b.count() {
		return
	}
	typ := c.typ
	if isPrimitive(typ) {
		b.primitive(v, x, c, parent, idx)
		return
	}
	if typ == "Resource" || (c.def != nil && isResourceDef(c.typeDefinition(b.reg))) {
		if v == nil {
			return
		}
		if r := b.resource(v, c.name, idx, parent); r != nil {
			parent.Children = append(parent.Children, r)
		}
		return
	}
	if v == nil {
		return
	}
	e := b.newElement(element.Element{Name: c.name, Type: typ, Choice: c.choice, Index: int32(idx), Parent: parent, Node: v})
	parent.Children = append(parent.Children, e)
	if v.Kind != fhirjson.Object {
		b.reportAt(v.Off, issue.Error, "type-json", "structure", e.Path(),
			fmt.Sprintf("the property '%s' must be a JSON object (type %s), not %s", c.name, typ, v.Kind), "")
		return
	}
	if c.inline {
		b.res.Sites = append(b.res.Sites, Site{Elem: e, Def: c.def, TypeRoot: c.contentDef})
		b.objectShape(v, sd, c.valueShape(sd, c.contentPath), e)
		return
	}
	tsd := c.typeDefinition(b.reg)
	if tsd == nil {
		b.reportAt(v.Off, issue.Error, "definition-missing", "processing", e.Path(),
			fmt.Sprintf("no definition for type '%s'", typ), "")
		return
	}
	b.res.Sites = append(b.res.Sites, Site{Elem: e, Def: c.def, TypeRoot: rootElement(tsd)})
	b.objectShape(v, tsd, c.valueShape(tsd, tsd.Type), e)
}

func isResourceDef(sd *spec.StructureDefinition) bool {
	return sd != nil && sd.Kind == "resource"
}

func (b *builder) primitive(v, x *fhirjson.Node, c *child, parent *element.Element, idx int) {
	typ := c.typ
	// R4 types Resource.id as a plain string, but it must be a valid id.
	if c.name == "id" && parent.IsResource {
		typ = "id"
	}
	e := b.newElement(element.Element{Name: c.name, Type: typ, Choice: c.choice, Index: int32(idx), Parent: parent, Node: v})
	parent.Children = append(parent.Children, e)
	if v != nil {
		want := jsonKindOf(typ)
		switch {
		case v.Kind != want:
			b.reportAt(v.Off, issue.Error, "type-json", "structure", e.Path(),
				fmt.Sprintf("the property '%s' (type %s) must be a JSON %s, not %s", c.name, typ, want, v.Kind),
				jsonKindFix(typ, want))
		case v.Kind == fhirjson.String && v.Str == "":
			b.reportAt(v.Off, issue.Error, "json-empty-string", "structure", e.Path(),
				"empty strings are not allowed in FHIR JSON", "remove the property, or give it a value")
		default:
			e.Value, e.HasValue = v.Str, true
			if typ == "xhtml" {
				for _, p := range checkXHTML(v.Str) {
					b.reportAt(v.Off, p.sev, p.code, "value", e.Path(), p.msg, "")
				}
			} else if code, msg, fix := checkPrimitive(typ, v.Str); code != "" {
				b.reportAt(v.Off, issue.Error, code, "value", e.Path(), msg, fix)
			}
			if (b.limits.SecurityChecks && (typ == "string" || typ == "markdown")) ||
				(b.limits.NoHTMLInMarkdown && typ == "markdown") {
				if looksLikeHTML(v.Str) {
					b.reportAt(v.Off, issue.Error, "security-html", "invalid", e.Path(),
						"the "+typ+" value contains text that looks like embedded HTML tags, which are not allowed for security reasons",
						"escape < as &lt; or remove the markup")
				}
			}
		}
	}
	if x != nil {
		e.Node = x
		if v != nil {
			e.Node = v
		}
		if x.Kind != fhirjson.Object {
			b.reportAt(x.Off, issue.Error, "type-json", "structure", e.Path(),
				"the property '_"+c.name+"' must be a JSON object holding id and extension", "")
		} else if tsd := b.primitiveDef(c, typ); tsd != nil {
			b.object(x, tsd, tsd.Type, e)
		}
	}
	if (c.def != nil && (len(c.def.Constraint) > 1 || c.def.Binding != nil)) || x != nil {
		b.res.Sites = append(b.res.Sites, Site{Elem: e, Def: c.def})
	}
}

// primitiveDef is the definition of a primitive's type; Resource.id is typed
// id here but string in the definitions, so it is looked up by name.
func (b *builder) primitiveDef(c *child, typ string) *spec.StructureDefinition {
	if typ == c.typ {
		return c.typeDefinition(b.reg)
	}
	return b.reg.Type(typ)
}

func jsonKindFix(typ string, want fhirjson.Kind) string {
	switch want {
	case fhirjson.Number:
		return "write the " + typ + " as a JSON number without quotes"
	case fhirjson.Bool:
		return "write true or false without quotes"
	}
	return "write the " + typ + " as a JSON string in double quotes"
}
