package spec

import (
	"fmt"
	"strings"
)

// ElementNode is one snapshot element placed in the element tree.
type ElementNode struct {
	Def *ElementDefinition
	// Name is the last path segment: "contact", "value[x]".
	Name   string
	Parent *ElementNode
	// Children are the direct children in snapshot order, slices excluded.
	// For an element with a contentReference they are the referenced
	// element's children, so their Def.Path is the referenced path
	// ("Questionnaire.item.linkId" under "Questionnaire.item.item").
	Children []*ElementNode
	// Slices are the named slices of this element in snapshot order; each
	// has its own Children (the slice's constraints).
	Slices []*ElementNode
	// SliceOf is the sliced element when Def.SliceName is set.
	SliceOf *ElementNode
	// Ref is the element a contentReference points to, else nil.
	Ref *ElementNode

	byName  map[string]*ElementNode
	choices []*ElementNode
}

// IsChoice reports whether the element is a choice ("value[x]").
func (n *ElementNode) IsChoice() bool { return strings.HasSuffix(n.Name, "[x]") }

// Child finds the child for a JSON member name and the type that name
// selects: "valueQuantity" gives the value[x] element and "Quantity",
// "birthDate" gives Patient.birthDate and "date". Names starting with "_"
// (primitive extensions) are not special here; strip the underscore first.
// It returns nil if no child matches.
func (n *ElementNode) Child(jsonName string) (*ElementNode, string) {
	if c := n.byName[jsonName]; c != nil {
		if len(c.Def.Type) == 1 {
			return c, c.Def.Type[0].Code
		}
		return c, ""
	}
	for _, c := range n.choices {
		prefix := c.Name[:len(c.Name)-3]
		if len(jsonName) <= len(prefix) || !strings.HasPrefix(jsonName, prefix) {
			continue
		}
		suffix := jsonName[len(prefix):]
		for _, t := range c.Def.Type {
			if typeSuffixIs(suffix, t.Code) {
				return c, t.Code
			}
		}
	}
	return nil, ""
}

// typeSuffixIs reports whether a choice suffix ("DateTime") names type
// code ("dateTime") without allocating an upper-cased copy.
func typeSuffixIs(suffix, code string) bool {
	if len(suffix) != len(code) || code == "" {
		return false
	}
	c := code[0]
	if c >= 'a' && c <= 'z' {
		c -= 'a' - 'A'
	}
	return suffix[0] == c && suffix[1:] == code[1:]
}

// ElementIndex is the element tree of one snapshot. It is immutable once
// built and safe for concurrent use.
type ElementIndex struct {
	Root   *ElementNode
	byID   map[string]*ElementNode
	byPath map[string]*ElementNode // unsliced elements only
}

// NewElementIndex builds the element tree of sd's snapshot. Prefer
// Registry.Elements, which builds each index once.
func NewElementIndex(sd *StructureDefinition) (*ElementIndex, error) {
	if sd.Snapshot == nil || len(sd.Snapshot.Element) == 0 {
		return nil, fmt.Errorf("StructureDefinition %s has no snapshot", sd.URL)
	}
	els := sd.Snapshot.Element
	x := &ElementIndex{byID: make(map[string]*ElementNode, len(els)), byPath: make(map[string]*ElementNode, len(els))}
	root := &ElementNode{Def: els[0], Name: els[0].Path}
	if strings.Contains(root.Def.Path, ".") {
		return nil, fmt.Errorf("StructureDefinition %s: snapshot starts with %s, not a root element", sd.URL, root.Def.Path)
	}
	x.Root = root
	x.add(root, false)
	var refs []*ElementNode
	// The snapshot is a pre-order walk of the tree; a stack of the open
	// ancestors finds each element's parent (or sliced element) in one pass.
	stack := []*ElementNode{root}
	for i, e := range els[1:] {
		if e == nil {
			return nil, fmt.Errorf("StructureDefinition %s: snapshot.element[%d] is null", sd.URL, i+1)
		}
		dot := strings.LastIndexByte(e.Path, '.')
		if dot < 0 {
			return nil, fmt.Errorf("StructureDefinition %s: snapshot.element[%d] %s is a second root", sd.URL, i+1, e.Path)
		}
		n := &ElementNode{Def: e, Name: e.Path[dot+1:]}
		parentPath := e.Path[:dot]
		placed := false
		for len(stack) > 0 && !placed {
			top := stack[len(stack)-1]
			switch {
			case e.SliceName != "" && top.Def.Path == e.Path:
				base := top
				// A reslice "a/b" belongs to slice "a"; a plain slice to the
				// unsliced element, however many sibling slices came before.
				for base.SliceOf != nil && !strings.HasPrefix(e.SliceName, base.Def.SliceName+"/") {
					base = base.SliceOf
				}
				n.SliceOf, n.Parent = base, base.Parent
				base.Slices = append(base.Slices, n)
				stack[len(stack)-1] = n
				placed = true
			case top.Def.Path == parentPath:
				n.Parent = top
				top.Children = append(top.Children, n)
				stack = append(stack, n)
				placed = true
			default:
				stack = stack[:len(stack)-1]
			}
		}
		if !placed {
			return nil, fmt.Errorf("StructureDefinition %s: snapshot.element[%d] %s has no parent element before it", sd.URL, i+1, e.Path)
		}
		x.add(n, inSlice(n))
		if e.ContentReference != "" {
			refs = append(refs, n)
		}
	}
	for _, n := range refs {
		ref := n.Def.ContentReference
		if i := strings.IndexByte(ref, '#'); i >= 0 {
			ref = ref[i+1:]
		}
		t := x.byID[ref]
		if t == nil {
			t = x.byPath[ref]
		}
		if t == nil {
			return nil, fmt.Errorf("StructureDefinition %s: %s has contentReference %s, which is not in the snapshot", sd.URL, n.Def.Path, n.Def.ContentReference)
		}
		n.Ref = t
	}
	x.indexChildren(root)
	// Resolve after all references are known: a reference may point at an
	// element that is itself a reference.
	for _, n := range refs {
		t := n.Ref
		for range 16 {
			if t.Ref == nil {
				break
			}
			t = t.Ref
		}
		n.Children, n.byName, n.choices = t.Children, t.byName, t.choices
	}
	return x, nil
}

func inSlice(n *ElementNode) bool {
	for ; n != nil; n = n.Parent {
		if n.SliceOf != nil {
			return true
		}
	}
	return false
}

func (x *ElementIndex) add(n *ElementNode, sliced bool) {
	if n.Def.ID != "" {
		x.byID[n.Def.ID] = n
	}
	if !sliced {
		if _, dup := x.byPath[n.Def.Path]; !dup {
			x.byPath[n.Def.Path] = n
		}
	}
}

func (x *ElementIndex) indexChildren(n *ElementNode) {
	if len(n.Children) > 0 {
		n.byName = make(map[string]*ElementNode, len(n.Children))
		for _, c := range n.Children {
			n.byName[c.Name] = c
			if c.IsChoice() {
				n.choices = append(n.choices, c)
			}
		}
	}
	for _, c := range n.Children {
		if c.Ref == nil {
			x.indexChildren(c)
		}
	}
	for _, s := range n.Slices {
		x.indexChildren(s)
	}
}

// ByID returns the element with the given element id
// ("Observation.component:systolic.code"), or nil.
func (x *ElementIndex) ByID(id string) *ElementNode { return x.byID[id] }

// ByPath returns the unsliced element at a path. Paths may run through a
// contentReference ("Questionnaire.item.item.linkId") and may name a
// choice by its JSON form ("Observation.valueQuantity"). Nil if absent.
func (x *ElementIndex) ByPath(path string) *ElementNode {
	if n := x.byPath[path]; n != nil {
		return n
	}
	root := x.Root.Def.Path
	if !strings.HasPrefix(path, root+".") {
		return nil
	}
	n := x.Root
	for _, seg := range strings.Split(path[len(root)+1:], ".") {
		if n = n.child(seg); n == nil {
			return nil
		}
	}
	return n
}

func (n *ElementNode) child(name string) *ElementNode {
	c, _ := n.Child(name)
	return c
}

// Children returns the direct children of the unsliced element at path,
// in snapshot order, or nil.
func (x *ElementIndex) Children(path string) []*ElementNode {
	if n := x.ByPath(path); n != nil {
		return n.Children
	}
	return nil
}

type indexResult struct {
	x   *ElementIndex
	err error
}

// Elements returns the element tree of sd's snapshot, built on first use
// and cached for the registry's lifetime. A profile that has only a
// differential gets a generated snapshot (see Snapshot). Definitions must
// not be modified once indexed.
func (r *Registry) Elements(sd *StructureDefinition) (*ElementIndex, error) {
	if v, ok := r.indexes.Load(sd); ok {
		res := v.(*indexResult)
		return res.x, res.err
	}
	var x *ElementIndex
	full, err := r.Snapshot(sd)
	if err == nil {
		x, err = NewElementIndex(full)
	}
	v, _ := r.indexes.LoadOrStore(sd, &indexResult{x, err})
	res := v.(*indexResult)
	return res.x, res.err
}
