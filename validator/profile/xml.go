package profile

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/sandkasse/sandkasse/validator/spec"
)

// XMLToJSON converts a conformance resource written in FHIR XML (a
// StructureDefinition, ValueSet, …) to FHIR JSON, so that profiles
// published as XML can be loaded with Registry.LoadJSON. The element
// definitions in reg decide which elements repeat and which primitives are
// numbers or booleans. Narrative (xhtml) and extensions on primitives are
// dropped: neither matters to validating against the definition.
func XMLToJSON(reg *spec.Registry, data []byte) ([]byte, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	root, err := readXML(d)
	if err != nil {
		return nil, err
	}
	if root == nil {
		return nil, fmt.Errorf("no root element")
	}
	obj, err := xmlResource(reg, root)
	if err != nil {
		return nil, err
	}
	return json.Marshal(obj)
}

type xnode struct {
	name     string
	value    *string
	url      *string
	children []*xnode
}

func readXML(d *xml.Decoder) (*xnode, error) {
	var stack []*xnode
	var root *xnode
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &xnode{name: t.Name.Local}
			for _, a := range t.Attr {
				v := a.Value
				switch a.Name.Local {
				case "value":
					n.value = &v
				case "url":
					n.url = &v
				}
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			if len(stack) == 0 {
				return nil, fmt.Errorf("unbalanced XML")
			}
			stack = stack[:len(stack)-1]
		}
	}
	return root, nil
}

func xmlResource(reg *spec.Registry, n *xnode) (map[string]any, error) {
	sd := reg.Type(n.name)
	if sd == nil || sd.Kind != "resource" {
		return nil, fmt.Errorf("unknown resource type %s", n.name)
	}
	x, err := reg.Elements(sd)
	if err != nil {
		return nil, err
	}
	obj := map[string]any{"resourceType": n.name}
	if err := xmlObject(reg, n, x.Root, obj); err != nil {
		return nil, err
	}
	return obj, nil
}

func xmlObject(reg *spec.Registry, n *xnode, def *spec.ElementNode, obj map[string]any) error {
	if n.url != nil {
		obj["url"] = *n.url
	}
	for _, c := range n.children {
		if c.name == "div" {
			continue
		}
		cd, typ := def.Child(c.name)
		if cd == nil {
			return fmt.Errorf("%s: unknown element %s", def.Def.Path, c.name)
		}
		if typ == "" && len(cd.Def.Type) > 0 {
			typ = cd.Def.Type[0].Code
		}
		if cd.Def.ContentReference != "" && cd.Ref != nil && len(cd.Ref.Def.Type) > 0 {
			typ = cd.Ref.Def.Type[0].Code
		}
		typ = spec.TypeRef{Code: typ, Extension: firstExt(cd)}.FHIRType()
		var v any
		switch {
		case typ == "Resource" || reg.IsResource(typ) && len(c.children) == 1:
			if len(c.children) != 1 {
				return fmt.Errorf("%s: expected one resource", cd.Def.Path)
			}
			r, err := xmlResource(reg, c.children[0])
			if err != nil {
				return err
			}
			v = r
		case typ != "" && typ[0] >= 'a' && typ[0] <= 'z':
			if typ == "xhtml" || c.value == nil {
				continue
			}
			v = primitiveJSON(typ, *c.value)
		default:
			child := map[string]any{}
			sub := cd
			if len(cd.Children) == 0 {
				tsd := reg.Type(typ)
				if tsd == nil {
					return fmt.Errorf("%s: no definition of type %s", cd.Def.Path, typ)
				}
				tx, err := reg.Elements(tsd)
				if err != nil {
					return err
				}
				sub = tx.Root
			}
			if err := xmlObject(reg, c, sub, child); err != nil {
				return err
			}
			v = child
		}
		if cd.Def.Max != "1" && cd.Def.Max != "0" {
			arr, _ := obj[c.name].([]any)
			obj[c.name] = append(arr, v)
		} else {
			obj[c.name] = v
		}
	}
	return nil
}

func firstExt(n *spec.ElementNode) []spec.TypeExtension {
	if len(n.Def.Type) == 1 {
		return n.Def.Type[0].Extension
	}
	return nil
}

func primitiveJSON(typ, s string) any {
	switch typ {
	case "boolean":
		return s == "true"
	case "integer", "positiveInt", "unsignedInt", "decimal":
		if strings.TrimSpace(s) != "" {
			return json.Number(s)
		}
	}
	return s
}
