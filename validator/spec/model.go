// Package spec holds the conformance resources the engine validates against:
// StructureDefinitions, ValueSets and CodeSystems, as Go values whose JSON
// form is the FHIR form (so `--load` and the embedded R4 core share one
// decoder). Only the fields validation needs are modelled.
package spec

import "encoding/json"

// StructureDefinition is a type, resource or profile definition.
type StructureDefinition struct {
	ResourceType     string       `json:"resourceType"`
	ID               string       `json:"id,omitempty"`
	URL              string       `json:"url"`
	Version          string       `json:"version,omitempty"`
	Name             string       `json:"name"`
	Status           string       `json:"status,omitempty"`
	Kind             string       `json:"kind"` // primitive-type | complex-type | resource | logical
	Abstract         bool         `json:"abstract"`
	Type             string       `json:"type"`
	BaseDefinition   string       `json:"baseDefinition,omitempty"`
	Derivation       string       `json:"derivation,omitempty"` // specialization | constraint
	Context          []Context    `json:"context,omitempty"`    // where an extension may be used
	ContextInvariant []string     `json:"contextInvariant,omitempty"`
	Snapshot         *ElementList `json:"snapshot,omitempty"`
	Differential     *ElementList `json:"differential,omitempty"`
}

// Context is one StructureDefinition.context entry.
type Context struct {
	Type       string `json:"type"` // fhirpath | element | extension
	Expression string `json:"expression"`
}

// ElementList is a snapshot or a differential.
type ElementList struct {
	Element []*ElementDefinition `json:"element"`
}

// ElementDefinition is one element of a snapshot or differential.
type ElementDefinition struct {
	ID               string       `json:"id,omitempty"`
	Path             string       `json:"path"`
	SliceName        string       `json:"sliceName,omitempty"`
	Slicing          *Slicing     `json:"slicing,omitempty"`
	Min              *int         `json:"min,omitempty"`
	Max              string       `json:"max,omitempty"`
	Base             *Base        `json:"base,omitempty"`
	ContentReference string       `json:"contentReference,omitempty"`
	Type             []TypeRef    `json:"type,omitempty"`
	MaxLength        *int         `json:"maxLength,omitempty"`
	Condition        []string     `json:"condition,omitempty"`
	Constraint       []Constraint `json:"constraint,omitempty"`
	MustSupport      bool         `json:"mustSupport,omitempty"`
	IsModifier       bool         `json:"isModifier,omitempty"`
	IsSummary        bool         `json:"isSummary,omitempty"`
	Binding          *Binding     `json:"binding,omitempty"`
	Representation   []string     `json:"representation,omitempty"` // xmlAttr, xhtml, …
	// Values holds the choice-typed members fixed[x], pattern[x],
	// minValue[x], maxValue[x] and defaultValue[x] under their JSON names
	// (e.g. "fixedUri", "patternCodeableConcept").
	Values map[string]json.RawMessage `json:"-"`
}

// Slicing says how a repeating element is sliced.
type Slicing struct {
	Discriminator []Discriminator `json:"discriminator,omitempty"`
	Description   string          `json:"description,omitempty"`
	Ordered       bool            `json:"ordered,omitempty"`
	Rules         string          `json:"rules"` // closed | open | openAtEnd
}

// Discriminator is one slicing discriminator.
type Discriminator struct {
	Type string `json:"type"` // value | exists | pattern | type | profile
	Path string `json:"path"`
}

// Base tells where an element was first defined.
type Base struct {
	Path string `json:"path"`
	Min  int    `json:"min"`
	Max  string `json:"max"`
}

// TypeRef is one allowed type of an element.
type TypeRef struct {
	Code          string   `json:"code"`
	Profile       []string `json:"profile,omitempty"`
	TargetProfile []string `json:"targetProfile,omitempty"`
	Aggregation   []string `json:"aggregation,omitempty"`
	Versioning    string   `json:"versioning,omitempty"`
	// Extension carries structuredefinition-fhir-type on the primitive
	// "value" elements (the FHIRPath System type of the value).
	Extension []TypeExtension `json:"extension,omitempty"`
}

// TypeExtension is the subset of Extension found on TypeRef.
type TypeExtension struct {
	URL         string `json:"url"`
	ValueURL    string `json:"valueUrl,omitempty"`
	ValueString string `json:"valueString,omitempty"`
}

// Constraint is an invariant.
type Constraint struct {
	Key          string `json:"key"`
	Requirements string `json:"requirements,omitempty"`
	Severity     string `json:"severity"` // error | warning
	Human        string `json:"human"`
	Expression   string `json:"expression,omitempty"`
	Source       string `json:"source,omitempty"`
}

// Binding ties a coded element to a ValueSet.
type Binding struct {
	Strength string `json:"strength"` // required | extensible | preferred | example
	ValueSet string `json:"valueSet,omitempty"`
}

// FHIRType is the FHIR type code an instance of this type carries. The R4
// snapshots type id, url and the primitives' value elements as FHIRPath
// System types, with the FHIR type in the structuredefinition-fhir-type
// extension.
func (t TypeRef) FHIRType() string {
	const system = "http://hl7.org/fhirpath/System."
	if len(t.Code) <= len(system) || t.Code[:len(system)] != system {
		return t.Code
	}
	for _, e := range t.Extension {
		if e.URL == "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type" && e.ValueURL != "" {
			return e.ValueURL
		}
	}
	switch t.Code[len(system):] {
	case "Boolean":
		return "boolean"
	case "Integer":
		return "integer"
	case "Decimal":
		return "decimal"
	case "Date":
		return "date"
	case "DateTime":
		return "dateTime"
	case "Time":
		return "time"
	}
	return "string"
}

// HasConstraint reports whether the element (which may be nil) carries the
// constraint key.
func (e *ElementDefinition) HasConstraint(key string) bool {
	if e == nil {
		return false
	}
	for _, c := range e.Constraint {
		if c.Key == key {
			return true
		}
	}
	return false
}
