package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Snapshot generation: many published profiles ship only a differential
// (6 of the 7 in vkp-r4-0.9.0) and the validator walks snapshots. This is
// the engine's one generator, reached through the registry so that every
// lookup (StructureDefinition, Elements) and profile validation see the
// same snapshot. It follows ElementDefinition "Snapshot generation": every
// element of the base is carried over, the differential's constraints are
// merged into the element they name, datatypes are expanded where the
// differential reaches inside them (Observation.code.coding.system), slices
// are copied from the element they slice, and choice elements named with
// their type (valueQuantity) narrow the choice to that type.
//
// It refuses a differential that does not fit its base (an element the base
// lacks, a max wider than the base's, a type the base does not allow, a
// root other than the constrained type) and circular or missing bases, with
// a *SnapshotError naming the profile and the differential element. It
// does not re-derive constraints from type profiles of elements the
// differential leaves alone; the HL7 publisher remains the reference.

// maxBaseChain bounds a profile's baseDefinition chain, and the nesting of
// generations in progress (bases and type profiles expanded on the way), so
// a pathological package ends in an error.
const maxBaseChain = 32

// SnapshotError is a problem found while generating a snapshot.
type SnapshotError struct {
	Profile string // canonical URL of the profile
	Element string // id (or path) of the differential element, if any
	Msg     string
	Err     error // the base's or type's own problem, if that is the cause
	// inProgress: the problem is one of the generations in progress (a
	// circle through them, or their nesting), not of the definition alone,
	// so it is not cached: asked for on its own, the definition may be fine.
	inProgress bool
}

// inProgress reports whether err, or a cause it wraps, is a problem of the
// generations in progress.
func inProgress(err error) bool {
	for ; err != nil; err = errors.Unwrap(err) {
		if se, ok := err.(*SnapshotError); ok && se.inProgress {
			return true
		}
	}
	return false
}

func (e *SnapshotError) Error() string {
	msg := e.Msg
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Element != "" {
		return fmt.Sprintf("profile %s: differential element %s: %s", e.Profile, e.Element, msg)
	}
	return fmt.Sprintf("profile %s: %s", e.Profile, msg)
}

func (e *SnapshotError) Unwrap() error { return e.Err }

type snapshotResult struct {
	sd *StructureDefinition
	// depth is the length of the baseDefinition chain down to a published
	// snapshot (0 for one that has its own).
	depth int
	err   error
}

// Snapshot returns sd with a snapshot: sd itself if it has one, else a
// copy with a snapshot generated from its differential and base
// definition. Results, errors included, are cached per definition for the
// registry's lifetime. StructureDefinition already applies this to
// constraint profiles; call it directly to learn why generation failed, or
// to generate the snapshot of a specialization published without one.
func (r *Registry) Snapshot(sd *StructureDefinition) (*StructureDefinition, error) {
	return r.snapshot(sd, nil)
}

func hasSnapshot(sd *StructureDefinition) bool {
	return sd.Snapshot != nil && len(sd.Snapshot.Element) > 0
}

// snapshot is Snapshot inside a generation; chain lists the profiles being
// generated, to report a circular baseDefinition instead of recursing
// forever. Generation looks definitions up with rawStructureDefinition for
// the same reason.
func (r *Registry) snapshot(sd *StructureDefinition, chain []string) (*StructureDefinition, error) {
	res := r.snapshotOf(sd, chain)
	return res.sd, res.err
}

// snapshotOf is snapshot with the depth of sd's base chain. A result is
// cached unless it failed on a problem of the generations in progress
// around it: asked for on its own (chain empty), sd meets only its own
// problems, so that result is cached whatever it is.
func (r *Registry) snapshotOf(sd *StructureDefinition, chain []string) *snapshotResult {
	if hasSnapshot(sd) {
		return &snapshotResult{sd: sd}
	}
	if v, ok := r.snapshots.Load(sd); ok {
		return v.(*snapshotResult)
	}
	res := r.generate(sd, chain)
	if len(chain) > 0 && inProgress(res.err) {
		return res
	}
	v, _ := r.snapshots.LoadOrStore(sd, res)
	return v.(*snapshotResult)
}

func (r *Registry) generate(sd *StructureDefinition, chain []string) *snapshotResult {
	fail := func(err error) *snapshotResult { return &snapshotResult{err: err} }
	if slices.Contains(chain, sd.URL) {
		// Through bases, a circle whichever profile is asked for; through a
		// type profile (an extension nested in itself), perhaps only a
		// question its caller may do without.
		return fail(&SnapshotError{Profile: sd.URL, inProgress: true,
			Msg: "circular baseDefinition or type profile: " + strings.Join(append(slices.Clone(chain), sd.URL), " → ")})
	}
	chain = append(slices.Clone(chain), sd.URL)
	if len(chain) > maxBaseChain {
		return fail(&SnapshotError{Profile: sd.URL, inProgress: true, Msg: fmt.Sprintf("baseDefinition chain deeper than %d", maxBaseChain)})
	}
	if sd.Differential == nil || len(sd.Differential.Element) == 0 {
		return fail(&SnapshotError{Profile: sd.URL, Msg: "has neither a snapshot nor a differential"})
	}
	if sd.BaseDefinition == "" {
		return fail(&SnapshotError{Profile: sd.URL, Msg: "has no baseDefinition to generate a snapshot from"})
	}
	raw := r.rawStructureDefinition(sd.BaseDefinition)
	if raw == nil {
		return fail(&SnapshotError{Profile: sd.URL, Msg: fmt.Sprintf("its base definition %s is not loaded (is a package dependency missing?)", sd.BaseDefinition)})
	}
	base := r.snapshotOf(raw, chain)
	if base.err != nil {
		return fail(&SnapshotError{Profile: sd.URL, Msg: fmt.Sprintf("its base definition %s has no snapshot", sd.BaseDefinition), Err: base.err})
	}
	// The chain above bounds the generations in progress; this bounds the
	// profile's own chain, which bases generated earlier shorten the
	// generations of.
	depth := base.depth + 1
	if depth > maxBaseChain {
		return fail(&SnapshotError{Profile: sd.URL, Msg: fmt.Sprintf("baseDefinition chain deeper than %d", maxBaseChain)})
	}
	x, err := r.Elements(base.sd)
	if err != nil {
		return fail(&SnapshotError{Profile: sd.URL, Msg: fmt.Sprintf("base definition %s", sd.BaseDefinition), Err: err})
	}
	b := &builder{r: r, sd: sd, chain: chain, root: copyTree(x.Root)}
	if sd.Derivation == "specialization" && sd.Type != "" {
		b.root.name = sd.Type
	}
	if err := b.apply(sd.Differential.Element); err != nil {
		return fail(err)
	}
	out := *sd
	out.Snapshot = &ElementList{Element: b.flatten()}
	return &snapshotResult{sd: &out, depth: depth}
}

// node is one element of the snapshot being built.
type node struct {
	def *ElementDefinition // owned copy
	// base is the element as the base definition has it, before this
	// profile's differential (shared, never modified; nil for elements the
	// profile adds): a new slice starts from it, as the HL7 publisher's
	// slices do, not from the constraints this profile put on the sliced
	// element.
	base     *ElementDefinition
	name     string // last path segment: "value[x]"
	children []*node
	slices   []*node
	// expanded says the children are known; false for an element of a
	// complex type whose children the base snapshot does not list.
	expanded bool
}

// copyTree copies an element tree of a base snapshot. The children an
// index lends a contentReference element are not copied: they belong to
// the referenced element and are expanded only when constrained. The index
// hangs a reslice ("a/b") under its slice; the builder keeps all slices of
// an element, reslices included, in one list in snapshot order.
func copyTree(n *ElementNode) *node {
	c := copyElement(n)
	var add func([]*ElementNode)
	add = func(ss []*ElementNode) {
		for _, s := range ss {
			c.slices = append(c.slices, copyElement(s))
			add(s.Slices)
		}
	}
	add(n.Slices)
	return c
}

// copyElement copies n and its children, without n's slices.
func copyElement(n *ElementNode) *node {
	c := &node{def: cloneDef(n.Def), base: n.Def, name: n.Name}
	if n.Ref == nil {
		for _, ch := range n.Children {
			c.children = append(c.children, copyTree(ch))
		}
		c.expanded = len(n.Children) > 0 || len(n.Def.Type) == 0
	}
	return c
}

// clone copies n and what is below it; fresh copies take each element as
// the base defined it where it has a base.
func (n *node) clone(fresh bool) *node {
	src := n.def
	if fresh && n.base != nil {
		src = n.base
	}
	c := &node{def: cloneDef(src), base: n.base, name: n.name, expanded: n.expanded}
	for _, ch := range n.children {
		c.children = append(c.children, ch.clone(fresh))
	}
	for _, s := range n.slices {
		c.slices = append(c.slices, s.clone(fresh))
	}
	return c
}

// cloneDef copies an element definition deeply enough that merging a
// differential into the copy never changes the original, which the base
// definition shares with every other user.
func cloneDef(d *ElementDefinition) *ElementDefinition {
	c := *d
	if d.Min != nil {
		m := *d.Min
		c.Min = &m
	}
	c.Type = slices.Clone(d.Type)
	c.Constraint = slices.Clone(d.Constraint)
	c.Condition = slices.Clone(d.Condition)
	if d.Slicing != nil {
		s := *d.Slicing
		s.Discriminator = slices.Clone(d.Slicing.Discriminator)
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
	r     *Registry
	sd    *StructureDefinition
	chain []string
	root  *node
}

func (b *builder) fail(e *ElementDefinition, format string, a ...any) error {
	return &SnapshotError{Profile: b.sd.URL, Element: elementID(e), Msg: fmt.Sprintf(format, a...)}
}

func elementID(e *ElementDefinition) string {
	if e.ID != "" {
		return e.ID
	}
	return e.Path
}

// segment is one step of an element id: a name and optionally a slice.
type segment struct{ name, slice string }

// segmentsOf turns a differential element into id steps. Elements with an
// id use it; older profiles without ids name slices only by position (the
// elements after a slice's entry belong to the slice), which ctx tracks.
func segmentsOf(e *ElementDefinition, ctx map[string]string) []segment {
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
// the names against the path. Slice names with dots are not supported (no
// published profile the validator meets uses them); such an id falls back
// to the path.
func fromID(id string, parts []string) ([]segment, bool) {
	raw := strings.Split(id, ".")
	if len(raw) != len(parts) {
		return nil, false
	}
	segs := make([]segment, len(raw))
	for i, s := range raw {
		name, slice, _ := strings.Cut(s, ":")
		if name != parts[i] {
			return nil, false
		}
		segs[i] = segment{name, slice}
	}
	return segs, true
}

func (b *builder) apply(diff []*ElementDefinition) error {
	ctx := map[string]string{}
	for i, e := range diff {
		if e == nil || e.Path == "" {
			return &SnapshotError{Profile: b.sd.URL, Element: fmt.Sprintf("differential.element[%d]", i), Msg: "has no path"}
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
					c = &node{def: &ElementDefinition{Path: e.Path}, name: s.name, expanded: len(e.Type) == 0}
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
						c.def.Slicing = &Slicing{Discriminator: []Discriminator{{Type: "type", Path: "$this"}}, Rules: "closed"}
					}
					var err error
					if c, err = b.slice(c, s.name, e); err != nil {
						return err
					}
					// The slice starts from the base's choice: narrow it too.
					if err := narrow(c, typ); err != nil {
						return b.fail(e, "%v", err)
					}
				}
			}
			if s.slice != "" {
				inSlice = true
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

// isExtension reports whether n is an extension or modifierExtension
// element, which are sliced by url whether or not a profile says so.
func (n *node) isExtension() bool { return n.name == "extension" || n.name == "modifierExtension" }

func urlSlicing() *Slicing {
	return &Slicing{Discriminator: []Discriminator{{Type: "value", Path: "url"}}, Rules: "open"}
}

// HasImplicitSlicing reports whether e is an extension element sliced only
// the way every extension element implicitly is (open, by url), which
// generators may or may not write out: it constrains nothing.
func (e *ElementDefinition) HasImplicitSlicing() bool {
	s := e.Slicing
	return s != nil && (strings.HasSuffix(e.Path, ".extension") || strings.HasSuffix(e.Path, ".modifierExtension")) &&
		s.Rules == "open" && !s.Ordered && slices.Equal(s.Discriminator, urlSlicing().Discriminator)
}

// extensionDefaults does what the reference snapshot generator does for
// extensions: an extension element the differential names is sliced by url
// (open) unless it says otherwise, and an extension slice whose definition
// allows fewer repetitions than the element takes that max.
func (b *builder) extensionDefaults(n *node, e *ElementDefinition) {
	if !n.isExtension() {
		return
	}
	if e.SliceName == "" && n.def.Slicing == nil {
		n.def.Slicing = urlSlicing()
	}
	if e.SliceName == "" || e.Max != "" || len(n.def.Type) != 1 || len(n.def.Type[0].Profile) != 1 {
		return
	}
	x := b.r.rawStructureDefinition(n.def.Type[0].Profile[0])
	if x == nil {
		return // reported by the package check, which names the package
	}
	// An extension that ships only a differential counts too; if its
	// snapshot cannot be had, the element keeps its max and the problem
	// surfaces where the extension is used.
	if x, err := b.r.snapshot(x, b.chain); err == nil {
		if m := x.Snapshot.Element[0].Max; m != "" && m != "*" && (n.def.Max == "*" || atoi(m) < atoi(n.def.Max)) {
			n.def.Max = m
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
		prefix, ok := strings.CutSuffix(c.name, "[x]")
		if !ok || len(name) <= len(prefix) || !strings.HasPrefix(name, prefix) {
			continue
		}
		suffix := name[len(prefix):]
		for _, t := range c.def.Type {
			if code := t.FHIRType(); typeSuffixIs(suffix, code) {
				return c, code
			}
		}
	}
	return nil, ""
}

func narrow(c *node, typ string) error {
	var keep []TypeRef
	for _, t := range c.def.Type {
		if t.FHIRType() == typ {
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

// expand fills in the children of an element whose type the base snapshot
// did not expand: from the type's (or type profile's) snapshot, or from the
// element a contentReference names.
func (b *builder) expand(n *node, at *ElementDefinition) error {
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
			n.children = append(n.children, c.clone(false))
		}
		return nil
	}
	codes := map[string]bool{}
	for _, t := range n.def.Type {
		codes[t.FHIRType()] = true
	}
	if len(codes) != 1 {
		return b.fail(at, "cannot constrain inside %s, which has %d types; narrow it to one type first", n.name, len(n.def.Type))
	}
	t := n.def.Type[0]
	var tsd *StructureDefinition
	if len(t.Profile) == 1 {
		if tsd = b.r.rawStructureDefinition(t.Profile[0]); tsd == nil {
			return b.fail(at, "the type profile %s of %s is not loaded", t.Profile[0], n.name)
		}
	} else if tsd = b.r.rawStructureDefinition(TypeURL(t.FHIRType())); tsd == nil {
		return b.fail(at, "no definition of type %s", t.FHIRType())
	}
	full, err := b.r.snapshot(tsd, b.chain)
	if err != nil {
		return &SnapshotError{Profile: b.sd.URL, Element: elementID(at), Msg: "type " + t.FHIRType(), Err: err}
	}
	x, err := b.r.Elements(full)
	if err != nil {
		return &SnapshotError{Profile: b.sd.URL, Element: elementID(at), Msg: "type " + t.FHIRType(), Err: err}
	}
	for _, c := range x.Root.Children {
		n.children = append(n.children, copyTree(c))
	}
	return nil
}

// byPath finds an unsliced element of the tree by its path.
func (b *builder) byPath(path string) *node {
	parts := strings.Split(path, ".")
	if parts[0] != b.root.name {
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
func (b *builder) slice(n *node, name string, at *ElementDefinition) (*node, error) {
	for _, s := range n.slices {
		if s.def.SliceName == name {
			return s, nil
		}
	}
	if len(n.def.Type) == 0 && n.def.ContentReference == "" && n.name != "" && !n.expanded {
		return nil, b.fail(at, "cannot slice %s, which has no type", n.name)
	}
	if n.isExtension() && n.def.Slicing == nil {
		n.def.Slicing = urlSlicing()
	}
	s := n.clone(true)
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
	n.slices = slices.Insert(n.slices, pos, s)
	return s, nil
}

// merge applies one differential element to its snapshot element, refusing
// what loosens the base.
func (b *builder) merge(n *node, e *ElementDefinition) error {
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
		if err := b.mergeTypes(n, e); err != nil {
			return err
		}
	}
	for k, v := range e.Values {
		// A fixed or pattern value replaces the base's of any type.
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
		// A differential may tighten only the strength; the ValueSet then
		// stays the base's.
		bd := *e.Binding
		if bd.ValueSet == "" && d.Binding != nil {
			bd.ValueSet = d.Binding.ValueSet
		}
		if bd.Strength == "" && d.Binding != nil {
			bd.Strength = d.Binding.Strength
		}
		d.Binding = &bd
	} else if d.Binding != nil && len(d.Type) > 0 && !bindable(d.Type) {
		// Narrowing medication[x] to Reference leaves nothing to bind.
		d.Binding = nil
	}
	if e.Slicing != nil {
		s := *e.Slicing
		s.Discriminator = slices.Clone(e.Slicing.Discriminator)
		if len(s.Discriminator) == 0 && d.Slicing != nil {
			s.Discriminator = d.Slicing.Discriminator
		}
		d.Slicing = &s
	}
	for _, c := range e.Constraint {
		if !d.HasConstraint(c.Key) {
			if c.Source == "" {
				c.Source = b.sd.URL
			}
			d.Constraint = append(d.Constraint, c)
		}
	}
	for _, c := range e.Condition {
		if !slices.Contains(d.Condition, c) {
			d.Condition = append(d.Condition, c)
		}
	}
	d.MustSupport = d.MustSupport || e.MustSupport
	d.IsModifier = d.IsModifier || e.IsModifier
	d.IsSummary = d.IsSummary || e.IsSummary
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
		d.Representation = slices.Clone(e.Representation)
	}
	return nil
}

// mergeTypes narrows the types of n to the differential's, each of which
// the base must allow.
func (b *builder) mergeTypes(n *node, e *ElementDefinition) error {
	d := n.def
	if len(d.Type) > 0 {
		for _, t := range e.Type {
			if !b.typeAllowed(t.FHIRType(), d.Type) {
				return b.fail(e, "type %s is not allowed by the base (%s)", t.FHIRType(), typeList(d.Type))
			}
		}
	}
	old := d.Type
	d.Type = slices.Clone(e.Type)
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
	if (!sameCodes(old, d.Type) || hasProfiles(d.Type)) && len(n.children) == 0 {
		n.expanded = false
	}
	return nil
}

// bindable reports whether any of the types can carry a terminology binding.
func bindable(ts []TypeRef) bool {
	for _, t := range ts {
		switch t.FHIRType() {
		case "code", "Coding", "CodeableConcept", "Quantity", "string", "uri", "CodeableReference", "Identifier":
			return true
		}
	}
	return false
}

// atoi reads a cardinality; anything but digits ("*") counts as unbounded.
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
	for _, p := range valuePrefixes {
		if strings.HasPrefix(k, p) {
			return p
		}
	}
	return k
}

func sameCodes(a, b []TypeRef) bool {
	return slices.EqualFunc(a, b, func(x, y TypeRef) bool { return x.FHIRType() == y.FHIRType() })
}

func hasProfiles(ts []TypeRef) bool {
	return slices.ContainsFunc(ts, func(t TypeRef) bool { return len(t.Profile) > 0 })
}

func typeList(ts []TypeRef) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.FHIRType()
	}
	return strings.Join(s, ", ")
}

// typeAllowed reports whether a differential type narrows one of the base
// types: the same code, a specialisation of it, or any type where the base
// allows any (Resource, Element, *).
func (b *builder) typeAllowed(code string, base []TypeRef) bool {
	const system = "http://hl7.org/fhirpath/System."
	for _, t := range base {
		bc := t.FHIRType()
		if bc == code || bc == "*" || bc == "Resource" && b.r.IsResource(code) ||
			bc == "Element" || b.r.IsSubtype(code, bc) {
			return true
		}
		if rest, ok := strings.CutPrefix(t.Code, system); ok && strings.EqualFold(rest, code) {
			return true
		}
	}
	return false
}

// flatten writes the tree as snapshot elements in order: an element, its
// children, then its slices each followed by their children. Paths and ids
// are recomputed from the tree.
func (b *builder) flatten() []*ElementDefinition {
	var out []*ElementDefinition
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
