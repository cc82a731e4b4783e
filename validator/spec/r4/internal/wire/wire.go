// Package wire is the JSON form of the embedded StructureDefinitions. It
// is the FHIR form except that each element's fixed[x]/pattern[x]/… members
// sit in a side table on the element list. That lets the embedded core be
// decoded by encoding/json's plain struct decoder: spec.ElementDefinition's
// own UnmarshalJSON, needed for arbitrary FHIR input, decodes every element
// twice and made decoding the core about twice as slow.
package wire

import (
	"encoding/json"

	"github.com/sandkasse/sandkasse/validator/spec"
)

// Element has spec.ElementDefinition's fields but not its methods, so
// encoding/json decodes it field by field. Values (tagged "-") stays empty
// until FromWire fills it from the side table.
type Element spec.ElementDefinition

// List is a snapshot or differential with the value side table.
type List struct {
	Element []*Element `json:"element"`
	// Values maps an element's index to its value members.
	Values map[int]map[string]json.RawMessage `json:"_values,omitempty"`
}

// StructureDefinition shadows the embedded definition's element lists.
type StructureDefinition struct {
	spec.StructureDefinition
	Snapshot     *List `json:"snapshot,omitempty"`
	Differential *List `json:"differential,omitempty"`
}

// ToWire converts sd (which it leaves unchanged) to its wire form.
func ToWire(sd *spec.StructureDefinition) *StructureDefinition {
	w := &StructureDefinition{StructureDefinition: *sd}
	w.StructureDefinition.Snapshot, w.StructureDefinition.Differential = nil, nil
	w.Snapshot, w.Differential = toList(sd.Snapshot), toList(sd.Differential)
	return w
}

func toList(l *spec.ElementList) *List {
	if l == nil {
		return nil
	}
	out := &List{Element: make([]*Element, len(l.Element))}
	for i, e := range l.Element {
		out.Element[i] = (*Element)(e)
		if len(e.Values) > 0 {
			if out.Values == nil {
				out.Values = map[int]map[string]json.RawMessage{}
			}
			out.Values[i] = e.Values
		}
	}
	return out
}

// FromWire returns the definition w describes. Elements are shared with
// w, not copied.
func FromWire(w *StructureDefinition) *spec.StructureDefinition {
	sd := w.StructureDefinition
	sd.Snapshot, sd.Differential = fromList(w.Snapshot), fromList(w.Differential)
	return &sd
}

func fromList(l *List) *spec.ElementList {
	if l == nil {
		return nil
	}
	out := &spec.ElementList{Element: make([]*spec.ElementDefinition, len(l.Element))}
	for i, e := range l.Element {
		out.Element[i] = (*spec.ElementDefinition)(e)
	}
	for i, v := range l.Values {
		if i >= 0 && i < len(out.Element) {
			out.Element[i].Values = v
		}
	}
	return out
}
