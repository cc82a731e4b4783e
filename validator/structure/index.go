package structure

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sandkasse/sandkasse/validator/spec"
)

// child is one allowed JSON member of an element: an element definition seen
// through one of its types (a choice element has a child per type).
type child struct {
	def    *spec.ElementDefinition
	name   string // element name without [x]
	typ    string // FHIR type code of this member
	choice bool
	// inline is true when the element's children are defined in the same
	// snapshot below def.Path (BackboneElement and friends).
	inline bool
	// contentPath is the path in the same snapshot whose children apply
	// (def.Path, or the target of a contentReference).
	contentPath string
	repeats     bool
	slot        int // index of def among the parent's children, for counting
	// contentDef is the element a contentReference reuses: its
	// constraints apply to the reusing element too (que-1 on nested items).
	contentDef *spec.ElementDefinition
	// typeDef caches the definition of typ. Shapes are shared by every
	// registry that falls back to the same core, and a registry resolves a
	// core type name to the core definition, so the first answer holds.
	typeDef atomic.Pointer[spec.StructureDefinition]
	shape   atomic.Pointer[shape]
}

// valueShape returns the shape of c's object values, which live at path
// in sd (c's own snapshot for backbone elements, the type's otherwise).
func (c *child) valueShape(sd *spec.StructureDefinition, path string) *shape {
	if s := c.shape.Load(); s != nil && s.sd == sd {
		return s
	}
	s := shapeOf(sd, path)
	c.shape.Store(s)
	return s
}

// typeDefinition returns the definition of c's type.
func (c *child) typeDefinition(reg *spec.Registry) *spec.StructureDefinition {
	if sd := c.typeDef.Load(); sd != nil {
		return sd
	}
	sd := reg.Type(c.typ)
	if sd != nil {
		c.typeDef.Store(sd)
	}
	return sd
}

// shape is the compiled set of children of one element path.
type shape struct {
	sd     *spec.StructureDefinition
	byJSON map[string]*child
	defs   []*spec.ElementDefinition // direct children in order
	names  []string                  // their element names
	min    []int
	max    []int // -1 = unbounded
}

type shapeKey struct {
	sd   *spec.StructureDefinition
	path string
}

// shapes caches compiled children; definitions never change once loaded, so
// entries are never invalidated.
var shapes sync.Map // shapeKey -> *shape

func parseMax(s string) int {
	if s == "*" || s == "" {
		return -1
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// snapshotOf returns the elements of a definition's snapshot.
func snapshotOf(sd *spec.StructureDefinition) []*spec.ElementDefinition {
	if sd == nil || sd.Snapshot == nil {
		return nil
	}
	return sd.Snapshot.Element
}

// shapeOf compiles the children of path in sd.
func shapeOf(sd *spec.StructureDefinition, path string) *shape {
	key := shapeKey{sd, path}
	if v, ok := shapes.Load(key); ok {
		return v.(*shape)
	}
	// A resource's path is its resourceType as the document spelled it,
	// over memory the next document reuses.
	path = strings.Clone(path)
	key.path = path
	s := &shape{sd: sd, byJSON: map[string]*child{}}
	elems := snapshotOf(sd)
	prefix := path + "."
	for _, d := range elems {
		if !strings.HasPrefix(d.Path, prefix) || strings.Contains(d.Path[len(prefix):], ".") {
			continue
		}
		if d.SliceName != "" || strings.Contains(d.ID, ":") {
			continue // slices are the profile validator's business
		}
		name := d.Path[len(prefix):]
		slot := len(s.defs)
		s.defs = append(s.defs, d)
		min := 0
		if d.Min != nil {
			min = *d.Min
		}
		s.min = append(s.min, min)
		s.max = append(s.max, parseMax(d.Max))
		repeats := d.Max != "1" && d.Max != "0"
		content := d.Path
		if d.ContentReference != "" {
			ref := d.ContentReference
			if i := strings.IndexByte(ref, '#'); i >= 0 {
				ref = ref[i+1:]
			}
			content = ref
		}
		inline := d.ContentReference != "" || hasChildren(elems, d.Path)
		if strings.HasSuffix(name, "[x]") {
			base := strings.TrimSuffix(name, "[x]")
			s.names = append(s.names, base)
			for _, t := range d.Type {
				tc := t.FHIRType()
				s.byJSON[base+upperFirst(tc)] = &child{def: d, name: base, typ: tc, choice: true, repeats: repeats, slot: slot, contentPath: content}
			}
			continue
		}
		s.names = append(s.names, name)
		tc := ""
		if len(d.Type) > 0 {
			tc = d.Type[0].FHIRType()
		}
		var contentDef *spec.ElementDefinition
		if d.ContentReference != "" {
			tc = contentType(elems, content)
			contentDef = elementAt(elems, content)
		}
		s.byJSON[name] = &child{def: d, name: name, typ: tc, inline: inline, repeats: repeats, slot: slot, contentPath: content, contentDef: contentDef}
	}
	v, _ := shapes.LoadOrStore(key, s)
	return v.(*shape)
}

func hasChildren(elems []*spec.ElementDefinition, path string) bool {
	prefix := path + "."
	for _, d := range elems {
		if strings.HasPrefix(d.Path, prefix) {
			return true
		}
	}
	return false
}

// elementAt returns the (unsliced) element at path.
func elementAt(elems []*spec.ElementDefinition, path string) *spec.ElementDefinition {
	for _, d := range elems {
		if d.Path == path && d.SliceName == "" {
			return d
		}
	}
	return nil
}

// contentType is the type of the element a contentReference points at.
func contentType(elems []*spec.ElementDefinition, path string) string {
	for _, d := range elems {
		if d.Path == path && len(d.Type) > 0 {
			return d.Type[0].FHIRType()
		}
	}
	return "BackboneElement"
}

// rootElement returns the first snapshot element (the type or resource itself).
func rootElement(sd *spec.StructureDefinition) *spec.ElementDefinition {
	if e := snapshotOf(sd); len(e) > 0 {
		return e[0]
	}
	return nil
}
