// Package untyped builds an element tree from FHIR JSON without any
// definitions, for testing the FHIRPath engine before (and independently of)
// the typed tree builder. It knows only what JSON itself says: strings are
// "string", numbers "integer" or "decimal", booleans "boolean", objects have
// no type unless they carry a resourceType. Choice suffixes are kept in the
// names (valueQuantity), as nothing tells them from ordinary names.
package untyped

import (
	"fmt"
	"os"

	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/fhirjson"
)

// Load reads and builds a JSON file.
func Load(path string) (*element.Element, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data)
}

// Parse builds a JSON document.
func Parse(data []byte) (*element.Element, error) {
	doc, err := fhirjson.Parse(data, fhirjson.Limits{})
	if err != nil {
		return nil, err
	}
	if doc.Root.Kind != fhirjson.Object {
		return nil, fmt.Errorf("untyped: the document is not a JSON object")
	}
	return Build(doc.Root, "", nil), nil
}

// Build makes the element for an object node; name is its property name
// ("" for the document root).
func Build(n *fhirjson.Node, name string, parent *element.Element) *element.Element {
	e := &element.Element{Name: name, Parent: parent, Index: -1, Node: n}
	if rt := n.Get("resourceType"); rt != nil && rt.Kind == fhirjson.String {
		e.Type, e.IsResource = rt.Str, true
		if name == "" {
			e.Name = rt.Str
		}
	}
	for _, f := range n.Fields {
		if f.Name == "resourceType" || (len(f.Name) > 1 && f.Name[0] == '_') {
			continue
		}
		ext := n.Get("_" + f.Name)
		addField(e, f.Name, f.Value, ext)
	}
	// "_name" without "name": a primitive that has only extensions
	for _, f := range n.Fields {
		if len(f.Name) > 1 && f.Name[0] == '_' && n.Get(f.Name[1:]) == nil {
			addField(e, f.Name[1:], nil, f.Value)
		}
	}
	return e
}

func addField(e *element.Element, name string, v, ext *fhirjson.Node) {
	if (v != nil && v.Kind == fhirjson.Array) || (ext != nil && ext.Kind == fhirjson.Array) {
		n := 0
		if v != nil && v.Kind == fhirjson.Array {
			n = len(v.Items)
		}
		if ext != nil && ext.Kind == fhirjson.Array && len(ext.Items) > n {
			n = len(ext.Items)
		}
		for i := 0; i < n; i++ {
			var vi, ei *fhirjson.Node
			if v != nil && v.Kind == fhirjson.Array && i < len(v.Items) {
				vi = v.Items[i]
			}
			if ext != nil && ext.Kind == fhirjson.Array && i < len(ext.Items) {
				ei = ext.Items[i]
			}
			if c := child(e, name, vi, ei); c != nil {
				c.Index = int32(i)
				e.Children = append(e.Children, c)
			}
		}
		return
	}
	if c := child(e, name, v, ext); c != nil {
		e.Children = append(e.Children, c)
	}
}

func child(parent *element.Element, name string, v, ext *fhirjson.Node) *element.Element {
	if v != nil && v.Kind == fhirjson.Object {
		return Build(v, name, parent)
	}
	c := &element.Element{Name: name, Parent: parent, Index: -1, Node: v}
	if v != nil {
		switch v.Kind {
		case fhirjson.String:
			c.Type, c.Value, c.HasValue = "string", v.Str, true
		case fhirjson.Bool:
			c.Type, c.Value, c.HasValue = "boolean", v.Str, true
		case fhirjson.Number:
			c.Type, c.Value, c.HasValue = "integer", v.Str, true
			for i := 0; i < len(v.Str); i++ {
				if b := v.Str[i]; b == '.' || b == 'e' || b == 'E' {
					c.Type = "decimal"
				}
			}
		}
	}
	if ext != nil && ext.Kind == fhirjson.Object {
		if c.Node == nil {
			c.Node = ext
		}
		x := Build(ext, name, parent)
		for _, gc := range x.Children {
			gc.Parent = c
			c.Children = append(c.Children, gc)
		}
	}
	if !c.HasValue && len(c.Children) == 0 {
		return nil
	}
	return c
}
