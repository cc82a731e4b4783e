// Package element is the typed tree that validation builds from a JSON
// document: each node knows its FHIR name, its FHIR type and, for primitives,
// its value. The FHIRPath engine evaluates over this tree, so invariants,
// slicing discriminators and suite assertions all see the same model.
package element

import (
	"strconv"
	"strings"

	"github.com/sandkasse/sandkasse/validator/fhirjson"
)

// Element is one FHIR element (or resource) instance. A validation builds
// one per JSON value, so the fields are ordered to pack into 96 bytes.
type Element struct {
	// Name is the element name in the definitions, choice suffix removed
	// ("value" for valueQuantity); for a resource root it is the resource type.
	Name string
	// Type is the FHIR type code: "Patient", "HumanName", "string",
	// "dateTime"; for the system types of FHIRPath "System.String" etc.
	Type string
	// Value is the primitive's text as written in JSON (number literals
	// verbatim); HasValue tells an absent value (only extensions) from "".
	Value    string
	Children []*Element
	Parent   *Element
	// Node is where the value stands in the document; for a primitive that
	// has only a "_name" object it is that object. May be nil for elements
	// made up during evaluation.
	Node *fhirjson.Node
	// Index is the position among the parent's children with the same Name,
	// or -1 when the element cannot repeat.
	Index    int32
	HasValue bool
	// Choice is true when the element came from a [x] element.
	Choice bool
	// IsResource marks a resource root (the document root, a contained or
	// Bundle entry resource, Parameters.parameter.resource).
	IsResource bool
}

// IsPrimitive reports whether the type is a FHIR primitive (lower-case first
// letter) or a System type.
func (e *Element) IsPrimitive() bool {
	if e.Type == "" {
		return false
	}
	c := e.Type[0]
	return (c >= 'a' && c <= 'z') || strings.HasPrefix(e.Type, "System.")
}

// Child returns the children called name.
func (e *Element) Child(name string) []*Element {
	var out []*Element
	for _, c := range e.Children {
		if c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

// First returns the first child called name, or nil.
func (e *Element) First(name string) *Element {
	for _, c := range e.Children {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Resource returns the nearest resource at or above e.
func (e *Element) Resource() *Element {
	for x := e; x != nil; x = x.Parent {
		if x.IsResource {
			return x
		}
	}
	return nil
}

// Path returns the FHIRPath location the reference validator uses:
// Patient.identifier[0].value, Observation.value.ofType(Quantity),
// Bundle.entry[0].resource.subject.
func (e *Element) Path() string {
	// Every finding names its element: the chain is collected on the
	// stack (deeper trees spill to the heap) and the text is sized first,
	// so a path costs one allocation.
	var stack [32]*Element
	parts := stack[:0]
	size := 0
	for x := e; x != nil; x = x.Parent {
		parts = append(parts, x)
		size += len(x.Name) + 1
		if x.Index >= 0 && x.Parent != nil {
			size += 8 // [index], up to six digits
		}
		if x.Choice {
			size += len(x.Type) + 9
		}
	}
	var b strings.Builder
	b.Grow(size)
	for i := len(parts) - 1; i >= 0; i-- {
		x := parts[i]
		if i < len(parts)-1 {
			b.WriteByte('.')
		}
		b.WriteString(x.Name)
		if x.Index >= 0 && x.Parent != nil {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(int(x.Index)))
			b.WriteByte(']')
		}
		if x.Choice {
			b.WriteString(".ofType(")
			b.WriteString(x.Type)
			b.WriteByte(')')
		}
	}
	return b.String()
}
