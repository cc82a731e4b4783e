package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Many published profiles ship only a differential (6 of the 7 in
// vkp-r4-0.9.0), and the validator walks snapshots. The generator here
// covers what such profiles do: constrain elements of the base, add slices
// (including slices of slices' children), and constrain inside datatypes
// (Observation.code.coding.system), which needs the datatype's elements
// copied in. It does not re-derive constraints from type profiles of
// already-present elements, and it does not validate the differential
// against the base beyond "the element exists"; the HL7 publisher's
// generator remains the reference.

type snapshotResult struct {
	sd  *StructureDefinition
	err error
}

// Snapshot returns sd with a snapshot: sd itself if it has one, else a
// copy with a snapshot generated from its differential and base
// definition. Generated snapshots are cached per definition.
// StructureDefinition already applies this to constraint profiles; call it
// directly to learn why generation failed.
func (r *Registry) Snapshot(sd *StructureDefinition) (*StructureDefinition, error) {
	return r.snapshot(sd, 0)
}

func (r *Registry) snapshot(sd *StructureDefinition, depth int) (*StructureDefinition, error) {
	if sd.Snapshot != nil && len(sd.Snapshot.Element) > 0 {
		return sd, nil
	}
	if v, ok := r.snapshots.Load(sd); ok {
		res := v.(*snapshotResult)
		return res.sd, res.err
	}
	out, err := r.generate(sd, depth)
	v, _ := r.snapshots.LoadOrStore(sd, &snapshotResult{out, err})
	res := v.(*snapshotResult)
	return res.sd, res.err
}

func (r *Registry) generate(sd *StructureDefinition, depth int) (*StructureDefinition, error) {
	if depth > 16 {
		return nil, fmt.Errorf("StructureDefinition %s: baseDefinition chain too deep or cyclic", sd.URL)
	}
	if sd.Differential == nil || len(sd.Differential.Element) == 0 {
		return nil, fmt.Errorf("StructureDefinition %s has neither snapshot nor differential", sd.URL)
	}
	if sd.Derivation == "specialization" {
		return nil, fmt.Errorf("StructureDefinition %s is a specialization without a snapshot; only constraint profiles get generated snapshots", sd.URL)
	}
	if sd.BaseDefinition == "" {
		return nil, fmt.Errorf("StructureDefinition %s has no baseDefinition to generate a snapshot from", sd.URL)
	}
	base := r.rawStructureDefinition(sd.BaseDefinition)
	if base == nil {
		return nil, fmt.Errorf("StructureDefinition %s: base %s is not available", sd.URL, sd.BaseDefinition)
	}
	base, err := r.snapshot(base, depth+1)
	if err != nil {
		return nil, fmt.Errorf("StructureDefinition %s: base: %w", sd.URL, err)
	}
	g := &generator{r: r, depth: depth, renames: map[string]string{}, orig: map[string]*ElementDefinition{}}
	for _, e := range base.Snapshot.Element {
		c := cloneElement(e)
		if c.ID == "" {
			c.ID = c.Path
		}
		g.els = append(g.els, c)
		g.orig[c.ID] = e
	}
	for i, d := range sd.Differential.Element {
		if d == nil || d.Path == "" {
			return nil, fmt.Errorf("StructureDefinition %s: differential.element[%d] has no path", sd.URL, i)
		}
		if err := g.apply(d); err != nil {
			return nil, fmt.Errorf("StructureDefinition %s: differential element %s: %w", sd.URL, diffID(d), err)
		}
	}
	out := *sd
	out.Snapshot = &ElementList{Element: g.els}
	return &out, nil
}

type generator struct {
	r     *Registry
	depth int
	els   []*ElementDefinition
	// renames maps a type-specific choice id ("Observation.valueQuantity")
	// to the type slice it becomes ("Observation.value[x]:valueQuantity").
	renames map[string]string
	// orig holds elements as the base defined them, before the
	// differential: a new slice starts from these, as the HL7 publisher
	// does, not from the sliced element's constraints in this profile.
	orig map[string]*ElementDefinition
}

func diffID(d *ElementDefinition) string {
	if d.ID != "" {
		return d.ID
	}
	if d.SliceName != "" {
		return d.Path + ":" + d.SliceName
	}
	return d.Path
}

func cloneElement(e *ElementDefinition) *ElementDefinition {
	c := *e
	// Slices that merging appends to or edits are cloned so the base
	// definition, shared with every other user, stays untouched.
	c.Type = slices.Clone(e.Type)
	c.Constraint = slices.Clone(e.Constraint)
	c.Condition = slices.Clone(e.Condition)
	if e.Values != nil {
		c.Values = make(map[string]json.RawMessage, len(e.Values))
		for k, v := range e.Values {
			c.Values[k] = v
		}
	}
	return &c
}

func (g *generator) find(id string) int {
	for i, e := range g.els {
		if e.ID == id {
			return i
		}
	}
	return -1
}

// rename rewrites the leading part of id that names a choice by its type.
func (g *generator) rename(id string) string {
	for from, to := range g.renames {
		if id == from || strings.HasPrefix(id, from+".") || strings.HasPrefix(id, from+":") {
			return to + id[len(from):]
		}
	}
	return id
}

// splitID returns the parent id and the last segment of an element id.
// Slice names may contain dots only in pathological profiles, which this
// does not support.
func splitID(id string) (parent, last string) {
	i := strings.LastIndexByte(id, '.')
	if i < 0 {
		return "", id
	}
	return id[:i], id[i+1:]
}

func (g *generator) apply(d *ElementDefinition) error {
	id := g.rename(diffID(d))
	i, err := g.locate(id, d)
	if err != nil {
		return err
	}
	e := g.els[i]
	merge(e, d)
	// An extension slice takes the cardinality its definition declares
	// (most extensions are 0..1) unless the differential sets one.
	if d.Max == "" && len(e.Type) == 1 && e.Type[0].Code == "Extension" && len(e.Type[0].Profile) == 1 {
		if ext := g.r.rawStructureDefinition(e.Type[0].Profile[0]); ext != nil {
			if ext, err := g.r.snapshot(ext, g.depth+1); err == nil && len(ext.Snapshot.Element) > 0 {
				if m := ext.Snapshot.Element[0].Max; m != "" && m != "*" {
					e.Max = m
				}
			}
		}
	}
	return nil
}

// locate returns the index of the element with the given id, creating it
// (by expanding a datatype or adding a slice) if needed.
func (g *generator) locate(id string, d *ElementDefinition) (int, error) {
	if i := g.find(id); i >= 0 {
		return i, nil
	}
	parent, last := splitID(id)
	if parent == "" {
		return -1, errors.New("root element does not match the base")
	}
	name, slice, isSlice := strings.Cut(last, ":")
	if isSlice {
		baseID := parent + "." + name
		if j := strings.LastIndexByte(slice, '/'); j >= 0 {
			baseID += ":" + slice[:j] // a reslice belongs to its slice
		}
		bi, err := g.locate(baseID, nil)
		if err != nil {
			return -1, err
		}
		return g.addSlice(bi, id, slice), nil
	}
	pi, err := g.locate(parent, nil)
	if err != nil {
		return -1, err
	}
	if err := g.expand(pi); err != nil {
		return -1, err
	}
	if i := g.find(id); i >= 0 {
		return i, nil
	}
	// A choice named by its type: "valueQuantity" becomes the type slice
	// value[x]:valueQuantity, and value[x] is restricted to that type and
	// sliced by type, as the HL7 publisher renders it.
	for _, c := range g.children(pi) {
		ce := g.els[c]
		_, cl := splitID(ce.ID)
		if !strings.HasSuffix(cl, "[x]") || !strings.HasPrefix(name, cl[:len(cl)-3]) {
			continue
		}
		suffix := name[len(cl)-3:]
		for _, t := range ce.Type {
			if typeSuffixIs(suffix, t.Code) {
				ce.Type = []TypeRef{t}
				if ce.Slicing == nil {
					ce.Slicing = &Slicing{Discriminator: []Discriminator{{Type: "type", Path: "$this"}}, Rules: "closed"}
				}
				sliceID := ce.ID + ":" + name
				g.renames[id] = sliceID
				if i := g.find(sliceID); i >= 0 {
					return i, nil
				}
				i := g.addSlice(c, sliceID, name)
				g.els[i].Type = []TypeRef{t}
				return i, nil
			}
		}
	}
	return -1, fmt.Errorf("%s is not an element of %s", last, g.els[pi].Path)
}

// children returns the indexes of the direct, unsliced children of the
// element at i.
func (g *generator) children(i int) []int {
	prefix := g.els[i].ID + "."
	var out []int
	for j := i + 1; j < len(g.els); j++ {
		id := g.els[j].ID
		if !strings.HasPrefix(id, prefix) {
			if strings.HasPrefix(id, g.els[i].ID+":") {
				continue // a slice of i and its children
			}
			break
		}
		if !strings.ContainsAny(id[len(prefix):], ".:") {
			out = append(out, j)
		}
	}
	return out
}

// end returns the index after the subtree of the element at i: its
// children and slices.
func (g *generator) end(i int) int {
	id := g.els[i].ID
	j := i + 1
	for j < len(g.els) {
		o := g.els[j].ID
		if !strings.HasPrefix(o, id+".") && !strings.HasPrefix(o, id+":") {
			break
		}
		j++
	}
	return j
}

// expand copies the elements of the datatype of the element at i under
// it, unless it already has children.
func (g *generator) expand(i int) error {
	e := g.els[i]
	if i+1 < len(g.els) && strings.HasPrefix(g.els[i+1].ID, e.ID+".") {
		return nil
	}
	var src []*ElementDefinition
	var srcRoot string
	switch {
	case e.ContentReference != "":
		ref := e.ContentReference[strings.IndexByte(e.ContentReference, '#')+1:]
		ri := g.find(ref)
		if ri < 0 {
			return fmt.Errorf("contentReference %s of %s is not in the base", e.ContentReference, e.Path)
		}
		for j := ri + 1; j < len(g.els) && strings.HasPrefix(g.els[j].ID, ref+"."); j++ {
			src = append(src, g.els[j])
		}
		srcRoot = ref
	case len(e.Type) == 1:
		t := e.Type[0]
		var tsd *StructureDefinition
		if len(t.Profile) == 1 {
			tsd = g.r.rawStructureDefinition(t.Profile[0])
		}
		if tsd == nil {
			tsd = g.r.rawStructureDefinition(TypeURL(t.Code))
		}
		if tsd == nil {
			return fmt.Errorf("type %s of %s is not available", t.Code, e.Path)
		}
		tsd, err := g.r.snapshot(tsd, g.depth+1)
		if err != nil {
			return err
		}
		els := tsd.Snapshot.Element
		srcRoot = els[0].ID
		if srcRoot == "" {
			srcRoot = els[0].Path
		}
		src = els[1:]
	default:
		return fmt.Errorf("%s has %d types; constrain it to one before constraining inside it", e.Path, len(e.Type))
	}
	// The root's path differs from its id when the root is a slice.
	rootPath, _, _ := strings.Cut(srcRoot, ":")
	add := make([]*ElementDefinition, 0, len(src))
	for _, s := range src {
		c := cloneElement(s)
		sid := c.ID
		if sid == "" {
			sid = c.Path
		}
		c.ID = e.ID + sid[len(srcRoot):]
		c.Path = e.Path + c.Path[len(rootPath):]
		add = append(add, c)
		if _, ok := g.orig[c.ID]; !ok {
			g.orig[c.ID] = cloneElement(c)
		}
	}
	g.els = slices.Insert(g.els, i+1, add...)
	return nil
}

// addSlice inserts a new slice of the element at bi: a copy of it and its
// children, after the slices it already has.
func (g *generator) addSlice(bi int, id, sliceName string) int {
	b := g.els[bi]
	if b.Slicing == nil && (strings.HasSuffix(b.Path, ".extension") || strings.HasSuffix(b.Path, ".modifierExtension")) {
		// Extensions are implicitly sliced by url.
		b.Slicing = &Slicing{Discriminator: []Discriminator{{Type: "value", Path: "url"}}, Rules: "open"}
	}
	at := g.end(bi)
	pristine := func(e *ElementDefinition) *ElementDefinition {
		if o := g.orig[e.ID]; o != nil {
			c := cloneElement(o)
			c.ID = e.ID
			return c
		}
		return cloneElement(e)
	}
	subtree := []*ElementDefinition{}
	top := pristine(b)
	// A reslice keeps its full "a/b" name, as in the differential. The
	// sliced element's minimum counts all slices together, so a slice
	// starts at 0 unless the differential says otherwise.
	top.ID, top.SliceName, top.Slicing = id, sliceName, nil
	zero := 0
	top.Min = &zero
	subtree = append(subtree, top)
	for j := bi + 1; j < len(g.els) && strings.HasPrefix(g.els[j].ID, b.ID+"."); j++ {
		c := pristine(g.els[j])
		c.ID = id + c.ID[len(b.ID):]
		subtree = append(subtree, c)
	}
	g.els = slices.Insert(g.els, at, subtree...)
	return at
}

// bindable are the types a binding can apply to.
var bindable = map[string]bool{"code": true, "Coding": true, "CodeableConcept": true, "Quantity": true,
	"string": true, "uri": true, "CodeableReference": true}

// merge applies a differential element's constraints to a snapshot element.
func merge(dst, d *ElementDefinition) {
	if d.SliceName != "" {
		dst.SliceName = d.SliceName
	}
	if d.Slicing != nil {
		s := *d.Slicing
		dst.Slicing = &s
	}
	if d.Min != nil {
		m := *d.Min
		dst.Min = &m
	}
	if d.Max != "" {
		dst.Max = d.Max
	}
	if d.ContentReference != "" {
		dst.ContentReference = d.ContentReference
	}
	if len(d.Type) > 0 {
		dst.Type = slices.Clone(d.Type)
	}
	if d.MaxLength != nil {
		m := *d.MaxLength
		dst.MaxLength = &m
	}
	for _, c := range d.Condition {
		if !slices.Contains(dst.Condition, c) {
			dst.Condition = append(dst.Condition, c)
		}
	}
	for _, c := range d.Constraint {
		if !slices.ContainsFunc(dst.Constraint, func(x Constraint) bool { return x.Key == c.Key }) {
			dst.Constraint = append(dst.Constraint, c)
		}
	}
	dst.MustSupport = dst.MustSupport || d.MustSupport
	dst.IsModifier = dst.IsModifier || d.IsModifier
	dst.IsSummary = dst.IsSummary || d.IsSummary
	if d.Binding != nil {
		// A differential may tighten only the strength; the ValueSet then
		// stays the base's.
		b := Binding{}
		if dst.Binding != nil {
			b = *dst.Binding
		}
		if d.Binding.Strength != "" {
			b.Strength = d.Binding.Strength
		}
		if d.Binding.ValueSet != "" {
			b.ValueSet = d.Binding.ValueSet
		}
		dst.Binding = &b
	} else if len(d.Type) > 0 && dst.Binding != nil && !slices.ContainsFunc(dst.Type, func(t TypeRef) bool { return bindable[t.Code] }) {
		// Narrowing medication[x] to Reference leaves nothing to bind.
		dst.Binding = nil
	}
	if len(d.Representation) > 0 {
		dst.Representation = slices.Clone(d.Representation)
	}
	for k, v := range d.Values {
		if dst.Values == nil {
			dst.Values = map[string]json.RawMessage{}
		}
		dst.Values[k] = v
	}
}
