package policy

import (
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// keyTerms holds one shared term per JSON member name that FHIR resources
// use again and again, so converting an input costs no allocation for them.
// The evaluator never changes a term of its input (OPA shares its own
// interned terms the same way); the map is built once and only read after.
var keyTerms = func() map[string]*ast.Term {
	m := map[string]*ast.Term{}
	for _, k := range strings.Fields(fhirKeys) {
		m[k] = ast.StringTerm(k)
	}
	return m
}()

// fhirKeys: element names of FHIR R4 resources and data types, chosen for
// how often they occur in what apps send (Bundles, vital signs, documents,
// references, identifiers, codings, quantities, narratives, extensions).
const fhirKeys = `
resourceType id meta versionId lastUpdated source profile security tag implicitRules language
text status div contained extension modifierExtension url
identifier use type system value period start end assigner
coding code display version userSelected
reference display
unit comparator low high numerator denominator
subject patient encounter performer author issued effectiveDateTime effectivePeriod effectiveInstant
valueQuantity valueCodeableConcept valueString valueBoolean valueInteger valueRange valueRatio
valueDateTime valuePeriod valueTime valueSampledData valueReference valueCoding valueDecimal valueUri valueCode
valueInstant valueDate valueAttachment valueIdentifier
component category interpretation note bodySite method specimen device referenceRange hasMember derivedFrom
dataAbsentReason focus basedOn partOf
entry fullUrl resource request response search link relation timestamp total signature
date title section confidentiality attester custodian relatesTo event mode
name family given prefix suffix telecom gender birthDate address line city postalCode country district state
active deceasedBoolean deceasedDateTime managingOrganization generalPractitioner contact
severity detail evidence implicated mitigation
intent description activity goal careTeam addresses supportingInfo
questionnaire item linkId answer authored
content attachment contentType data size hash creation
`
