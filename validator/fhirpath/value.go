package fhirpath

import (
	"strconv"

	"github.com/sandkasse/sandkasse/validator/element"
)

// Item is one member of a collection: either a *element.Element from the
// instance tree, or a System value (Boolean, Integer, Decimal, String, Date,
// DateTime, Time, Quantity) or a TypeInfo made during evaluation.
type Item any

// Collection is what every FHIRPath expression yields. Collections returned
// by the engine must be treated as immutable: they may share storage.
type Collection []Item

// Boolean is System.Boolean.
type Boolean bool

// Integer is System.Integer. FHIRPath integers are 32-bit; a wider Go type
// keeps intermediate results exact, and overflow beyond int64 is an error.
type Integer int64

// String is System.String.
type String string

// Quantity is System.Quantity. Unit is a UCUM code, or a calendar duration
// keyword (year, months, …) when Calendar is true.
type Quantity struct {
	Value    Decimal
	Unit     string
	Calendar bool
}

// TypeInfo is what type() returns: a namespace ("System", "FHIR") and a name.
type TypeInfo struct {
	Namespace string
	Name      string
}

func (b Boolean) String() string {
	if b {
		return "true"
	}
	return "false"
}

func (i Integer) String() string { return strconv.FormatInt(int64(i), 10) }

// String prints a quantity as FHIRPath writes it: 1 'mg' or 1 week.
func (q Quantity) String() string {
	if q.Calendar {
		return q.Value.String() + " " + q.Unit
	}
	return q.Value.String() + " '" + q.Unit + "'"
}

func (t TypeInfo) String() string { return t.Namespace + "." + t.Name }

// ItemString renders an item as FHIRPath toString() would; ok is false for
// items that have no string form (complex elements, TypeInfo).
func ItemString(it Item) (string, bool) {
	switch v := it.(type) {
	case *element.Element:
		if !v.IsPrimitive() {
			if q, ok := quantityOfElement(v); ok {
				return q.String(), true
			}
			return "", false
		}
		if !v.HasValue {
			return "", false
		}
		sv, ok := systemValue(v)
		if !ok {
			return "", false
		}
		if _, isStr := sv.(String); isStr {
			return v.Value, true
		}
		return ItemString(sv)
	case Boolean:
		return v.String(), true
	case Integer:
		return v.String(), true
	case Decimal:
		return v.String(), true
	case String:
		return string(v), true
	case Date:
		return v.String(), true
	case DateTime:
		return v.String(), true
	case Time:
		return v.String(), true
	case Quantity:
		return v.String(), true
	}
	return "", false
}

// TypeName is the FHIRPath type of an item as namespace and name:
// System.Integer for literals, FHIR.HumanName for elements.
func TypeName(it Item) TypeInfo {
	switch v := it.(type) {
	case *element.Element:
		t := normType(v.Type)
		if len(t) > 7 && t[:7] == "System." {
			return TypeInfo{"System", t[7:]}
		}
		return TypeInfo{"FHIR", t}
	case Boolean:
		return TypeInfo{"System", "Boolean"}
	case Integer:
		return TypeInfo{"System", "Integer"}
	case Decimal:
		return TypeInfo{"System", "Decimal"}
	case String:
		return TypeInfo{"System", "String"}
	case Date:
		return TypeInfo{"System", "Date"}
	case DateTime:
		return TypeInfo{"System", "DateTime"}
	case Time:
		return TypeInfo{"System", "Time"}
	case Quantity:
		return TypeInfo{"System", "Quantity"}
	case TypeInfo:
		return TypeInfo{"System", "TypeInfo"}
	}
	return TypeInfo{"System", "Any"}
}

// normType removes the FHIRPath URL prefix R4 definitions put on the System
// types of .value and .id elements.
func normType(t string) string {
	const p = "http://hl7.org/fhirpath/"
	if len(t) > len(p) && t[:len(p)] == p {
		return t[len(p):]
	}
	return t
}
