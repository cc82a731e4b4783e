// Package snapshot generates the snapshot of a profile from its differential
// and the snapshot of its base definition, the way the FHIR specification
// describes it (ElementDefinition "Snapshot generation"): every element of
// the base is carried over, the differential's constraints are merged into
// the element they name, datatypes are expanded where the differential
// reaches inside them (Observation.code.coding.system), slices are copied
// from the element they slice, and choice elements named with their type
// (valueQuantity) narrow the choice to that type.
//
// Most VKP profiles publish only a differential; the validator walks
// snapshots, so it asks a Generator for them. Errors name the profile and
// the differential element; generation never panics on a bad definition.
package snapshot

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/sandkasse/sandkasse/validator/spec"
)

// Error is a problem found while generating a snapshot.
type Error struct {
	Profile string // canonical URL of the profile
	Element string // id (or path) of the differential element, if any
	Msg     string
}

func (e *Error) Error() string {
	if e.Element != "" {
		return fmt.Sprintf("profile %s: differential element %s: %s", e.Profile, e.Element, e.Msg)
	}
	return fmt.Sprintf("profile %s: %s", e.Profile, e.Msg)
}

// Generator generates and caches snapshots for the definitions of one
// registry. It is safe for concurrent use.
type Generator struct {
	reg  *spec.Registry
	mu   sync.Mutex
	done map[*spec.StructureDefinition]result
}

type result struct {
	sd  *spec.StructureDefinition
	err error
}

// New returns a Generator over reg.
func New(reg *spec.Registry) *Generator {
	return &Generator{reg: reg, done: map[*spec.StructureDefinition]result{}}
}

// Snapshot returns the definition with the canonical url, with a snapshot:
// the definition itself when it has one, else a generated copy.
func (g *Generator) Snapshot(url string) (*spec.StructureDefinition, error) {
	sd := g.reg.StructureDefinition(url)
	if sd == nil {
		return nil, &Error{Profile: url, Msg: "no StructureDefinition with this url is loaded"}
	}
	return g.Of(sd)
}

// Of returns sd when it has a snapshot, else a copy of sd with a generated
// snapshot. Results are cached.
func (g *Generator) Of(sd *spec.StructureDefinition) (*spec.StructureDefinition, error) {
	if hasSnapshot(sd) {
		return sd, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.of(sd, nil)
}

func hasSnapshot(sd *spec.StructureDefinition) bool {
	return sd.Snapshot != nil && len(sd.Snapshot.Element) > 0
}

// of is Of with the lock held; chain lists the profiles being generated,
// to report a circular baseDefinition instead of recursing forever.
func (g *Generator) of(sd *spec.StructureDefinition, chain []string) (*spec.StructureDefinition, error) {
	if hasSnapshot(sd) {
		return sd, nil
	}
	if r, ok := g.done[sd]; ok {
		return r.sd, r.err
	}
	out, err := g.generate(sd, chain)
	g.done[sd] = result{out, err}
	return out, err
}

// Generate returns a copy of sd with a snapshot generated from its
// differential, even when sd already carries one (tests compare the two).
func Generate(reg *spec.Registry, sd *spec.StructureDefinition) (*spec.StructureDefinition, error) {
	g := New(reg)
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.generate(sd, nil)
}

func (g *Generator) generate(sd *spec.StructureDefinition, chain []string) (*spec.StructureDefinition, error) {
	for _, u := range chain {
		if u == sd.URL {
			return nil, &Error{Profile: sd.URL, Msg: "circular baseDefinition: " + strings.Join(append(chain, sd.URL), " → ")}
		}
	}
	chain = append(chain, sd.URL)
	if len(chain) > 32 {
		return nil, &Error{Profile: sd.URL, Msg: "baseDefinition chain deeper than 32"}
	}
	if sd.Differential == nil || len(sd.Differential.Element) == 0 {
		return nil, &Error{Profile: sd.URL, Msg: "has neither a snapshot nor a differential"}
	}
	if sd.BaseDefinition == "" {
		return nil, &Error{Profile: sd.URL, Msg: "has no baseDefinition to generate a snapshot from"}
	}
	base := g.reg.StructureDefinition(sd.BaseDefinition)
	if base == nil {
		return nil, &Error{Profile: sd.URL, Msg: fmt.Sprintf("its base definition %s is not loaded (is a package dependency missing?)", sd.BaseDefinition)}
	}
	base, err := g.of(base, chain)
	if err != nil {
		return nil, &Error{Profile: sd.URL, Msg: fmt.Sprintf("its base definition %s has no snapshot: %v", sd.BaseDefinition, err)}
	}
	x, err := spec.NewElementIndex(base)
	if err != nil {
		return nil, &Error{Profile: sd.URL, Msg: fmt.Sprintf("base definition %s: %v", sd.BaseDefinition, err)}
	}
	b := &builder{g: g, sd: sd, chain: chain}
	root := copyTree(x.Root, nil)
	if sd.Derivation == "specialization" && sd.Type != "" {
		root.name = sd.Type
	}
	b.root = root
	if err := b.apply(sd.Differential.Element); err != nil {
		return nil, err
	}
	out := *sd
	out.Snapshot = &spec.ElementList{Element: b.flatten()}
	return &out, nil
}

// node is one element of the snapshot being built.
type node struct {
	def      *spec.ElementDefinition // owned copy
	name     string                  // last path segment: "value[x]"
	children []*node
	slices   []*node
	// expanded says the children are known; false for an element of a
	// complex type whose children the base snapshot does not list.
	expanded bool
}

// copyTree copies an element tree of a base snapshot.
func copyTree(n *spec.ElementNode, _ *node) *node {
	c := &node{def: cloneDef(n.Def), name: n.Name}
	if n.Ref == nil {
		for _, ch := range n.Children {
			c.children = append(c.children, copyTree(ch, c))
		}
		c.expanded = len(n.Children) > 0 || len(n.Def.Type) == 0
	}
	for _, s := range n.Slices {
		c.slices = append(c.slices, copyTree(s, c))
	}
	return c
}

func (n *node) clone() *node {
	c := &node{def: cloneDef(n.def), name: n.name, expanded: n.expanded}
	for _, ch := range n.children {
		c.children = append(c.children, ch.clone())
	}
	for _, s := range n.slices {
		c.slices = append(c.slices, s.clone())
	}
	return c
}

// cloneDef copies an element definition deeply enough that merging a
// differential into the copy never changes the original.
func cloneDef(d *spec.ElementDefinition) *spec.ElementDefinition {
	c := *d
	if d.Min != nil {
		m := *d.Min
		c.Min = &m
	}
	c.Type = append([]spec.TypeRef(nil), d.Type...)
	c.Constraint = append([]spec.Constraint(nil), d.Constraint...)
	c.Condition = append([]string(nil), d.Condition...)
	if d.Slicing != nil {
		s := *d.Slicing
		s.Discriminator = append([]spec.Discriminator(nil), d.Slicing.Discriminator...)
		c.Slicing = &s
	}
	if d.Binding != nil {
		b := *d.Binding
		c.Binding = &b
	}
	if d.Base != nil {
		b := *d.Base
		c.Base = &b
	}
	if d.Values != nil {
		c.Values = make(map[string]json.RawMessage, len(d.Values))
		for k, v := range d.Values {
			c.Values[k] = v
		}
	}
	return &c
}

type builder struct {
	g     *Generator
	sd    *spec.StructureDefinition
	chain []string
	root  *node
}

func (b *builder) fail(e *spec.ElementDefinition, format string, a ...any) error {
	where := e.ID
	if where == "" {
		where = e.Path
	}
	return &Error{Profile: b.sd.URL, Element: where, Msg: fmt.Sprintf(format, a...)}
}

// segment is one step of an element id: a name and optionally a slice.
type segment struct{ name, slice string }

// segments turns differential elements into id steps. Elements with an id
// use it; older profiles without ids name slices only by position (the
// elements after a slice's entry belong to the slice), which ctx tracks.
func segmentsOf(e *spec.ElementDefinition, ctx map[string]string) []segment {
	parts := strings.Split(e.Path, ".")
	if e.ID != "" {
		if segs, ok := fromID(e.ID, parts); ok {
			return segs
		}
	}
	segs := make([]segment, len(parts))
	for i, p := range parts {
		segs[i].name = p
		prefix := strings.Join(parts[:i+1], ".")
		if i == len(parts)-1 {
			// The element itself: a slice entry opens a slice context,
			// an unsliced entry closes it.
			for k := range ctx {
				if k == prefix || strings.HasPrefix(k, prefix+".") {
					delete(ctx, k)
				}
			}
			if e.SliceName != "" {
				ctx[prefix] = e.SliceName
				segs[i].slice = e.SliceName
			}
			continue
		}
		segs[i].slice = ctx[prefix]
	}
	return segs
}

// fromID splits "Observation.component:systolic.code" into steps, checking
// the names against the path.
func fromID(id string, parts []string) ([]segment, bool) {
	raw := splitID(id)
	if len(raw) != len(parts) {
		return nil, false
	}
	segs := make([]segment, len(raw))
	for i, r := range raw {
		name, slice, _ := strings.Cut(r, ":")
		if name != parts[i] {
			return nil, false
		}
		segs[i] = segment{name, slice}
	}
	return segs, true
}

// splitID splits an element id at the dots that separate steps; a dot
// inside a slice name (after ':' and before the next step) is rare but
// allowed, so only dots followed by a name-like step count... in practice
// slice names carry no dots, so a plain split is used.
func splitID(id string) []string { return strings.Split(id, ".") }

func (b *builder) apply(diff []*spec.ElementDefinition) error {
	ctx := map[string]string{}
	for i, e := range diff {
		if e == nil || e.Path == "" {
			return &Error{Profile: b.sd.URL, Element: fmt.Sprintf("differential.element[%d]", i), Msg: "has no path"}
		}
		segs := segmentsOf(e, ctx)
		if segs[0].name != b.root.name && !(b.sd.Derivation == "specialization" && i == 0) {
			return b.fail(e, "does not start with %s, the type the profile constrains", b.root.name)
		}
		cur := b.root
		inSlice := false
		for j, s := range segs[1:] {
			last := j == len(segs)-2
			if err := b.expand(cur, e); err != nil {
				return err
			}
			c, typ := cur.child(s.name)
			if c == nil {
				if last && b.sd.Derivation == "specialization" {
					c = &node{def: &spec.ElementDefinition{Path: e.Path}, name: s.name, expanded: len(e.Type) == 0}
					cur.children = append(cur.children, c)
				} else {
					return b.fail(e, "the base has no element %s in %s", s.name, pathOf(b.root, cur))
				}
			}
			if typ != "" {
				// valueQuantity: the choice narrowed to one type. Outside
				// slices the R4 tooling also makes it a type slice of the
				// choice (value[x]:valueQuantity), which is what the
				// published core snapshots carry; inside a slice it only
				// narrows.
				if err := narrow(c, typ); err != nil {
					return b.fail(e, "%v", err)
				}
				if !inSlice && s.slice == "" {
					if c.def.Slicing == nil {
						c.def.Slicing = &spec.Slicing{Discriminator: []spec.Discriminator{{Type: "type", Path: "$this"}}, Rules: "closed"}
					}
					var err error
					if c, err = b.slice(c, s.name, e); err != nil {
						return err
					}
				}
			}
			if s.slice != "" {
				inSlice = true
			}
			if s.slice != "" {
				var err error
				if c, err = b.slice(c, s.slice, e); err != nil {
					return err
				}
			}
			cur = c
		}
		if err := b.merge(cur, e); err != nil {
			return err
		}
		b.extensionDefaults(cur, e)
	}
	return nil
}

// extensionDefaults does what the reference snapshot generator does for
// extensions: an extension element the differential names is sliced by url
// (open) unless it says otherwise, and an extension slice whose profile
// allows at most one repetition takes that max.
func (b *builder) extensionDefaults(n *node, e *spec.ElementDefinition) {
	if n.name != "extension" && n.name != "modifierExtension" {
		return
	}
	if e.SliceName == "" && n.def.Slicing == nil {
		n.def.Slicing = &spec.Slicing{Discriminator: []spec.Discriminator{{Type: "value", Path: "url"}}, Rules: "open"}
	}
	if e.SliceName != "" && e.Max == "" && len(n.def.Type) == 1 && len(n.def.Type[0].Profile) == 1 {
		if x := b.g.reg.StructureDefinition(n.def.Type[0].Profile[0]); x != nil && hasSnapshot(x) {
			if m := x.Snapshot.Element[0].Max; m != "" && m != "*" && (n.def.Max == "*" || atoi(m) < atoi(n.def.Max)) {
				n.def.Max = m
			}
		}
	}
}

func pathOf(root, n *node) string {
	var find func(x *node, prefix string) string
	find = func(x *node, prefix string) string {
		p := x.name
		if prefix != "" {
			p = prefix + "." + x.name
		}
		if x == n {
			return p
		}
		for _, c := range x.children {
			if r := find(c, p); r != "" {
				return r
			}
		}
		for _, s := range x.slices {
			if r := find(s, prefix); r != "" {
				return r
			}
		}
		return ""
	}
	if p := find(root, ""); p != "" {
		return p
	}
	return n.name
}

// child finds the child called name; for a choice named with its type
// ("valueQuantity") it returns the choice and the type code.
func (n *node) child(name string) (*node, string) {
	for _, c := range n.children {
		if c.name == name {
			return c, ""
		}
	}
	for _, c := range n.children {
		if !strings.HasSuffix(c.name, "[x]") {
			continue
		}
		prefix := strings.TrimSuffix(c.name, "[x]")
		if len(name) <= len(prefix) || !strings.HasPrefix(name, prefix) {
			continue
		}
		suffix := name[len(prefix):]
		for _, t := range c.def.Type {
			code := typeCode(t)
			if strings.EqualFold(suffix, code) && suffix[:1] == strings.ToUpper(code[:1]) {
				return c, code
			}
		}
	}
	return nil, ""
}

func narrow(c *node, typ string) error {
	var keep []spec.TypeRef
	for _, t := range c.def.Type {
		if typeCode(t) == typ {
			keep = append(keep, t)
		}
	}
	if len(keep) == 0 {
		return fmt.Errorf("type %s is not one of the choices of %s", typ, c.name)
	}
	if len(keep) != len(c.def.Type) {
		c.def.Type = keep
		if c.expanded && len(c.children) == 0 {
			c.expanded = false
		}
	}
	return nil
}

const systemPrefix = "http://hl7.org/fhirpath/System."

func typeCode(t spec.TypeRef) string {
	if strings.HasPrefix(t.Code, systemPrefix) {
		for _, e := range t.Extension {
			if e.URL == "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type" && e.ValueURL != "" {
				return e.ValueURL
			}
		}
	}
	return t.Code
}

// expand fills in the children of an element whose type the base snapshot
// did not expand: from the type's (or type profile's) snapshot, or from the
// element a contentReference names.
func (b *builder) expand(n *node, at *spec.ElementDefinition) error {
	if n.expanded {
		return nil
	}
	n.expanded = true
	if ref := n.def.ContentReference; ref != "" {
		if i := strings.IndexByte(ref, '#'); i >= 0 {
			ref = ref[i+1:]
		}
		t := b.byPath(ref)
		if t == nil {
			return b.fail(at, "contentReference %s of %s is not in the base", n.def.ContentReference, n.name)
		}
		for _, c := range t.children {
			n.children = append(n.children, c.clone())
		}
		return nil
	}
	codes := map[string]bool{}
	for _, t := range n.def.Type {
		codes[typeCode(t)] = true
	}
	if len(codes) != 1 {
		return b.fail(at, "cannot constrain inside %s, which has %d types; narrow it to one type first", n.name, len(n.def.Type))
	}
	t := n.def.Type[0]
	var tsd *spec.StructureDefinition
	if len(t.Profile) == 1 {
		tsd = b.g.reg.StructureDefinition(t.Profile[0])
		if tsd == nil {
			return b.fail(at, "the type profile %s of %s is not loaded", t.Profile[0], n.name)
		}
	} else {
		tsd = b.g.reg.Type(typeCode(t))
		if tsd == nil {
			return b.fail(at, "no definition of type %s", typeCode(t))
		}
	}
	full, err := b.g.of(tsd, b.chain)
	if err != nil {
		return b.fail(at, "type %s: %v", typeCode(t), err)
	}
	x, err := spec.NewElementIndex(full)
	if err != nil {
		return b.fail(at, "type %s: %v", typeCode(t), err)
	}
	for _, c := range x.Root.Children {
		n.children = append(n.children, copyTree(c, n))
	}
	return nil
}

// byPath finds an unsliced element of the tree by its path.
func (b *builder) byPath(path string) *node {
	parts := strings.Split(path, ".")
	if len(parts) == 0 || parts[0] != b.root.name {
		return nil
	}
	n := b.root
	for _, p := range parts[1:] {
		c, _ := n.child(p)
		if c == nil {
			return nil
		}
		n = c
	}
	return n
}

// slice returns the slice called name of n, adding it (a copy of the sliced
// element) when the base does not have it. Reslices ("a/b") follow their
// parent slice.
func (b *builder) slice(n *node, name string, at *spec.ElementDefinition) (*node, error) {
	for _, s := range n.slices {
		if s.def.SliceName == name {
			return s, nil
		}
	}
	if len(n.def.Type) == 0 && n.def.ContentReference == "" && n.name != "" && !n.expanded {
		return nil, b.fail(at, "cannot slice %s, which has no type", n.name)
	}
	s := n.clone()
	s.slices = nil
	s.def.SliceName = name
	s.def.Slicing = nil
	s.def.ID = ""
	// The sliced element's min counts all its slices together; a new
	// slice is optional unless the differential says otherwise.
	zero := 0
	s.def.Min = &zero
	pos := len(n.slices)
	if parent, _, ok := strings.Cut(name, "/"); ok {
		for i, x := range n.slices {
			if x.def.SliceName == parent || strings.HasPrefix(x.def.SliceName, parent+"/") {
				pos = i + 1
			}
		}
	}
	n.slices = append(n.slices, nil)
	copy(n.slices[pos+1:], n.slices[pos:])
	n.slices[pos] = s
	return s, nil
}

// merge applies one differential element to its snapshot element.
func (b *builder) merge(n *node, e *spec.ElementDefinition) error {
	d := n.def
	if e.Min != nil {
		m := *e.Min
		d.Min = &m
	}
	if e.Max != "" {
		if d.Max != "" && d.Max != "*" && (e.Max == "*" || atoi(e.Max) > atoi(d.Max)) && n != b.root {
			return b.fail(e, "max %s is wider than the base's max %s", e.Max, d.Max)
		}
		d.Max = e.Max
	}
	if e.Min != nil && d.Max != "" && d.Max != "*" && *e.Min > atoi(d.Max) && n != b.root {
		return b.fail(e, "min %d is greater than max %s", *e.Min, d.Max)
	}
	if len(e.Type) > 0 {
		if len(d.Type) > 0 {
			for _, t := range e.Type {
				if !b.typeAllowed(typeCode(t), d.Type) {
					return b.fail(e, "type %s is not allowed by the base (%s)", typeCode(t), typeList(d.Type))
				}
			}
		}
		old := d.Type
		d.Type = append([]spec.TypeRef(nil), e.Type...)
		// System-typed primitive values keep their fhir-type extension.
		for i := range d.Type {
			if len(d.Type[i].Extension) == 0 {
				for _, o := range old {
					if o.Code == d.Type[i].Code {
						d.Type[i].Extension = o.Extension
					}
				}
			}
		}
		if !sameCodes(old, d.Type) || hasProfiles(d.Type) {
			if len(n.children) == 0 {
				n.expanded = false
			}
		}
	}
	for k, v := range e.Values {
		prefix := valuePrefix(k)
		for old := range d.Values {
			if valuePrefix(old) == prefix {
				delete(d.Values, old)
			}
		}
		if d.Values == nil {
			d.Values = map[string]json.RawMessage{}
		}
		d.Values[k] = v
	}
	if e.Binding != nil {
		bd := *e.Binding
		if bd.ValueSet == "" && d.Binding != nil {
			bd.ValueSet = d.Binding.ValueSet
		}
		if bd.Strength == "" && d.Binding != nil {
			bd.Strength = d.Binding.Strength
		}
		d.Binding = &bd
	}
	if e.Binding == nil && d.Binding != nil && len(d.Type) > 0 && !bindable(d.Type) {
		d.Binding = nil
	}
	if e.Slicing != nil {
		s := *e.Slicing
		s.Discriminator = append([]spec.Discriminator(nil), e.Slicing.Discriminator...)
		if len(s.Discriminator) == 0 && d.Slicing != nil {
			s.Discriminator = d.Slicing.Discriminator
		}
		d.Slicing = &s
	}
	for _, c := range e.Constraint {
		dup := false
		for _, o := range d.Constraint {
			if o.Key == c.Key {
				dup = true
			}
		}
		if !dup {
			if c.Source == "" {
				c.Source = b.sd.URL
			}
			d.Constraint = append(d.Constraint, c)
		}
	}
	for _, c := range e.Condition {
		d.Condition = append(d.Condition, c)
	}
	if e.MustSupport {
		d.MustSupport = true
	}
	if e.IsModifier {
		d.IsModifier = true
	}
	if e.IsSummary {
		d.IsSummary = true
	}
	if e.MaxLength != nil {
		m := *e.MaxLength
		d.MaxLength = &m
	}
	if e.SliceName != "" {
		d.SliceName = e.SliceName
	}
	if e.ContentReference != "" {
		d.ContentReference = e.ContentReference
	}
	if len(e.Representation) > 0 {
		d.Representation = e.Representation
	}
	return nil
}

// bindable reports whether any of the types can carry a terminology binding.
func bindable(ts []spec.TypeRef) bool {
	for _, t := range ts {
		switch typeCode(t) {
		case "code", "Coding", "CodeableConcept", "Quantity", "string", "uri", "CodeableReference", "Identifier":
			return true
		}
	}
	return false
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 1 << 30
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func valuePrefix(k string) string {
	for _, p := range []string{"fixed", "pattern", "minValue", "maxValue", "defaultValue"} {
		if strings.HasPrefix(k, p) {
			return p
		}
	}
	return k
}

func sameCodes(a, b []spec.TypeRef) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if typeCode(a[i]) != typeCode(b[i]) {
			return false
		}
	}
	return true
}

func hasProfiles(ts []spec.TypeRef) bool {
	for _, t := range ts {
		if len(t.Profile) > 0 {
			return true
		}
	}
	return false
}

func typeList(ts []spec.TypeRef) string {
	var s []string
	for _, t := range ts {
		s = append(s, typeCode(t))
	}
	return strings.Join(s, ", ")
}

// typeAllowed reports whether a differential type narrows one of the base
// types: the same code, a specialisation of it, or any type where the base
// allows any (Resource, Element, *).
func (b *builder) typeAllowed(code string, base []spec.TypeRef) bool {
	for _, t := range base {
		bc := typeCode(t)
		if bc == code || bc == "*" || bc == "Resource" && b.g.reg.IsResource(code) ||
			bc == "Element" || b.g.reg.IsSubtype(code, bc) {
			return true
		}
		if strings.HasPrefix(t.Code, systemPrefix) && strings.EqualFold(strings.TrimPrefix(t.Code, systemPrefix), code) {
			return true
		}
	}
	return false
}

// flatten writes the tree as snapshot elements in order: an element, its
// children, then its slices each followed by their children. Paths and ids
// are recomputed from the tree.
func (b *builder) flatten() []*spec.ElementDefinition {
	var out []*spec.ElementDefinition
	var walk func(n *node, path, id string)
	walk = func(n *node, path, id string) {
		n.def.Path = path
		n.def.ID = id
		out = append(out, n.def)
		for _, c := range n.children {
			walk(c, path+"."+c.name, id+"."+c.name)
		}
		for _, s := range n.slices {
			walk(s, path, id+":"+s.def.SliceName)
		}
	}
	walk(b.root, b.root.name, b.root.name)
	return out
}
