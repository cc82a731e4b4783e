package fhirpath

import (
	"strconv"

	"github.com/sandkasse/sandkasse/validator/element"
)

// systemValue converts a primitive element to its System value, on demand:
// elements keep the text as written so that decimals keep their precision
// and nothing is parsed unless an expression looks at it.
func systemValue(e *element.Element) (Item, bool) {
	if !e.HasValue {
		return nil, false
	}
	switch normType(e.Type) {
	case "boolean", "System.Boolean":
		switch e.Value {
		case "true":
			return Boolean(true), true
		case "false":
			return Boolean(false), true
		}
	case "integer", "positiveInt", "unsignedInt", "integer64", "System.Integer":
		if i, err := strconv.ParseInt(e.Value, 10, 64); err == nil {
			return Integer(i), true
		}
		if d, ok := ParseDecimal(e.Value); ok {
			return d, true
		}
	case "decimal", "System.Decimal":
		if d, ok := ParseDecimal(e.Value); ok {
			return d, true
		}
	case "date", "System.Date":
		if d, ok := ParseDate(e.Value); ok {
			return d, true
		}
	case "dateTime", "instant", "System.DateTime":
		if d, ok := ParseDateTime(e.Value); ok {
			return d, true
		}
	case "time", "System.Time":
		if d, ok := ParseTime(e.Value); ok {
			return d, true
		}
	}
	// Strings, codes, URIs … and values that do not parse as their declared
	// type (the validator reports those elsewhere) compare as text.
	return String(e.Value), true
}

// quantityTypes are the FHIR types that are Quantity or constrain it.
var quantityTypes = map[string]bool{
	"Quantity": true, "Age": true, "Count": true, "Distance": true, "Duration": true,
	"SimpleQuantity": true, "MoneyQuantity": true,
}

const ucumSystem = "http://unitsofmeasure.org"

// quantityOfElement reads a FHIR Quantity (or Age, Duration, …) as a System
// Quantity: the UCUM code when the system is UCUM, else the unit text.
func quantityOfElement(e *element.Element) (Quantity, bool) {
	if !quantityTypes[e.Type] {
		return Quantity{}, false
	}
	var q Quantity
	var code, unit, system string
	hasValue, hasCode, hasUnit := false, false, false
	for _, ch := range e.Children {
		if !ch.HasValue {
			continue
		}
		switch ch.Name {
		case "value":
			d, ok := ParseDecimal(ch.Value)
			if !ok {
				return Quantity{}, false
			}
			q.Value, hasValue = d, true
		case "code":
			code, hasCode = ch.Value, true
		case "unit":
			unit, hasUnit = ch.Value, true
		case "system":
			system = ch.Value
		}
	}
	if !hasValue {
		return Quantity{}, false
	}
	switch {
	case hasCode && (system == ucumSystem || system == ""):
		q.Unit = code
	case hasUnit:
		q.Unit = unit
	case hasCode:
		q.Unit = code
	default:
		q.Unit = "1"
	}
	return q, true
}

// normalize turns an item into the value operators work on: primitive
// elements become System values, quantity elements Quantities; other
// elements stay as they are. ok is false for a primitive without a value.
func normalize(it Item) (Item, bool) {
	e, isElem := it.(*element.Element)
	if !isElem {
		return it, true
	}
	if e.IsPrimitive() {
		return systemValue(e)
	}
	if q, ok := quantityOfElement(e); ok {
		return q, true
	}
	return e, true
}

// stringOf reads a String, or the text of any primitive element with a
// value: FHIR primitives are strings in JSON, and invariants apply string
// functions to codes, URIs and dates alike.
func stringOf(it Item) (string, bool) {
	switch v := it.(type) {
	case String:
		return string(v), true
	case *element.Element:
		if v.IsPrimitive() && v.HasValue {
			return v.Value, true
		}
	}
	return "", false
}
