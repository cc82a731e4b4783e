// Package fhirpath is a FHIRPath engine (normative release, with the FHIR R4
// additions) over the typed element tree of package element.
//
// Compile an expression once and evaluate it many times, concurrently:
//
//	ele1 := fhirpath.MustCompile("hasValue() or (children().count() > id.count())")
//	ok, err := ele1.EvalBool(&fhirpath.Env{Model: fhirpath.R4}, fhirpath.Collection{elem})
//
// # Values
//
// A Collection holds *element.Element nodes and System values (Boolean,
// Integer, Decimal, String, Date, DateTime, Time, Quantity, TypeInfo).
// Primitive elements are converted to System values only where an operator
// or function needs one, from Element.Type and Element.Value: boolean;
// integer, positiveInt, unsignedInt; decimal (exact, keeping the written
// precision); date; dateTime and instant; time; everything else (string,
// code, id, uri, url, canonical, oid, uuid, markdown, base64Binary, xhtml)
// as String. Complex elements of type Quantity, Age, Count, Distance,
// Duration, SimpleQuantity and MoneyQuantity compare as System Quantities
// (UCUM code when the system is UCUM, else the unit text).
//
// # What the element tree must provide
//
//   - Type is the FHIR type code: "Patient" on a resource (which also has
//     IsResource set, Name being the resource type at the root and the
//     property name elsewhere: "contained", "resource"); "HumanName",
//     "string", "code", "dateTime" on elements; "System.String" (or the R4
//     form "http://hl7.org/fhirpath/System.String") where the definitions
//     give a System type.
//   - A choice element is named without its suffix and typed with the chosen
//     type: valueQuantity is Name "value", Type "Quantity", Choice true. The
//     JSON name (Observation.valueQuantity) is accepted as a fallback.
//   - A primitive that has only extensions has HasValue false.
//
// # Types
//
// is() follows the Model's hierarchy (a code is a string, an Age a
// Quantity, a Patient a DomainResource). as() and ofType() do too for
// complex types and resources, but match FHIR primitives exactly
// (Patient.gender.as(string) is empty), as the official test suite expects.
// A Model that also implements TypeChecker makes unknown type names errors.
// R4 is the core R4 hierarchy.
//
// # Limits
//
// Expressions nest at most MaxNesting deep and are at most MaxSource bytes.
// An evaluation stops with an error wrapping ErrLimit after Env.MaxSteps
// units of work (DefaultMaxSteps) or at Env.Deadline; work includes items
// produced, so repeat() over a growing set or an exponential aggregate()
// ends. Error messages name operators, functions, types and offsets, never
// values from the instance.
//
// # Deviations
//
// htmlChecks() is always true (narrative is checked by the validator
// itself). memberOf() is empty without Env.MemberOf. conformsTo() answers
// for core type definitions through the Model, otherwise asks
// Env.ConformsTo and fails for unknown profiles. There is no "strict" mode
// (semantic checking of element names against definitions).
package fhirpath
