package epr

import (
	"net/http"

	"github.com/sandkasse/sandkasse/sandbox/store"
	"github.com/sandkasse/sandkasse/validator/fhirjson"
)

// The Patient compartment confines what SMART patient/ scopes grant: a
// token with patient/Observation.rs and the launch patient X reads and
// searches the Observations in X's compartment only.
//
// Membership follows the R4 CompartmentDefinition "patient" (4.0.1): a
// resource is in X's compartment when one of the search parameters it
// names for the resource's type refers to Patient/X. compartmentPaths holds
// those parameters as the element paths of their R4 SearchParameter
// expressions (".where(resolve() is Patient)" dropped: only a reference to
// Patient/X can match). Patient/X itself is in its own compartment too.
// A type missing from the table is never in a patient's compartment
// (Practitioner, Organization, Medication, Questionnaire, Device, …):
// patient/ scopes may read and search it as shared data, never write it.
//
// Search is confined through an index entry that extract writes for every
// resource: param compartmentParam, value Patient/X for each patient whose
// compartment holds it. A patient-confined search adds one clause on it, so
// totals, paging links and _summary=count stay consistent with what the
// caller may see. (Resources stored before this index existed lack the
// entry and are invisible to confined searches until the tenant is reset.)
//
// Outside the compartment: a read is 403 (the token cannot reach it); a
// search leaves it out silently, as SMART servers do, because a search
// states what it wants and the server answers with what the caller may
// see; a write (create, update, delete, transaction entry) is 403.

// compartmentParam is the index param of compartment membership. It starts
// with an underscore and is in no params table, so a client cannot search,
// sort or include on it.
const compartmentParam = "_compartment"

// CodeOutsideCompartment refuses access to a resource outside the launch
// patient's compartment.
const CodeOutsideCompartment = "outside-patient-compartment"

// compartmentPaths is generated from the R4 CompartmentDefinition-patient
// and the SearchParameter expressions of hl7.fhir.r4.examples 4.0.1.
var compartmentPaths = map[string][]string{
	"Account":                     {"subject"},
	"AdverseEvent":                {"subject"},
	"AllergyIntolerance":          {"patient", "recorder", "asserter"},
	"Appointment":                 {"participant.actor"},
	"AppointmentResponse":         {"actor"},
	"AuditEvent":                  {"agent.who", "entity.what"},
	"Basic":                       {"subject", "author"},
	"BodyStructure":               {"patient"},
	"CarePlan":                    {"subject", "activity.detail.performer"},
	"CareTeam":                    {"subject", "participant.member"},
	"ChargeItem":                  {"subject"},
	"Claim":                       {"patient", "payee.party"},
	"ClaimResponse":               {"patient"},
	"ClinicalImpression":          {"subject"},
	"Communication":               {"subject", "sender", "recipient"},
	"CommunicationRequest":        {"subject", "sender", "recipient", "requester"},
	"Composition":                 {"subject", "author", "attester.party"},
	"Condition":                   {"subject", "asserter"},
	"Consent":                     {"patient"},
	"Coverage":                    {"policyHolder", "subscriber", "beneficiary", "payor"},
	"CoverageEligibilityRequest":  {"patient"},
	"CoverageEligibilityResponse": {"patient"},
	"DetectedIssue":               {"patient"},
	"DeviceRequest":               {"subject", "performer"},
	"DeviceUseStatement":          {"subject"},
	"DiagnosticReport":            {"subject"},
	"DocumentManifest":            {"subject", "author", "recipient"},
	"DocumentReference":           {"subject", "author"},
	"Encounter":                   {"subject"},
	"EnrollmentRequest":           {"candidate"},
	"EpisodeOfCare":               {"patient"},
	"ExplanationOfBenefit":        {"patient", "payee.party"},
	"FamilyMemberHistory":         {"patient"},
	"Flag":                        {"subject"},
	"Goal":                        {"subject"},
	"Group":                       {"member.entity"},
	"ImagingStudy":                {"subject"},
	"Immunization":                {"patient"},
	"ImmunizationEvaluation":      {"patient"},
	"ImmunizationRecommendation":  {"patient"},
	"Invoice":                     {"subject", "recipient"},
	"List":                        {"subject", "source"},
	"MeasureReport":               {"subject"},
	"Media":                       {"subject"},
	"MedicationAdministration":    {"subject", "performer.actor"},
	"MedicationDispense":          {"subject", "receiver"},
	"MedicationRequest":           {"subject"},
	"MedicationStatement":         {"subject"},
	"MolecularSequence":           {"patient"},
	"NutritionOrder":              {"patient"},
	"Observation":                 {"subject", "performer"},
	"Patient":                     {"link.other"},
	"Person":                      {"link.target"},
	"Procedure":                   {"subject", "performer.actor"},
	"Provenance":                  {"target"},
	"QuestionnaireResponse":       {"subject", "author"},
	"RelatedPerson":               {"patient"},
	"RequestGroup":                {"subject", "action.participant"},
	"ResearchSubject":             {"individual"},
	"RiskAssessment":              {"subject"},
	"Schedule":                    {"actor"},
	"ServiceRequest":              {"subject", "performer"},
	"Specimen":                    {"subject"},
	"SupplyDelivery":              {"patient"},
	"SupplyRequest":               {"deliverTo"},
	"VisionPrescription":          {"patient"},
}

// compartments returns the ids of the patients whose compartment holds the
// resource typ/id with the given body, each once. Only references that
// resolve here count (localRef: relative, or absolute under base).
func compartments(typ, id string, root *fhirjson.Node, base string) []string {
	paths, ok := compartmentPaths[typ]
	if !ok {
		return nil
	}
	var out []string
	add := func(pid string) {
		for _, p := range out {
			if p == pid {
				return
			}
		}
		out = append(out, pid)
	}
	if typ == "Patient" && id != "" {
		add(id)
	}
	for _, path := range paths {
		for _, v := range nodes(root, path) {
			if v.Kind != fhirjson.Object {
				continue
			}
			if t, pid, ok := cutRef(localRef(str(v, "reference"), base)); ok && t == "Patient" {
				add(pid)
			}
		}
	}
	return out
}

func cutRef(ref string) (typ, id string, ok bool) {
	for i := 0; i < len(ref); i++ {
		if ref[i] == '/' {
			return ref[:i], ref[i+1:], i > 0 && i+1 < len(ref)
		}
	}
	return "", "", false
}

// inCompartment reports whether the resource is in patient's compartment.
func inCompartment(typ, id string, root *fhirjson.Node, patient, base string) bool {
	for _, p := range compartments(typ, id, root, base) {
		if p == patient {
			return true
		}
	}
	return false
}

// storedInCompartment checks a stored resource.
func storedInCompartment(r store.Resource, patient, base string) bool {
	doc, err := fhirjson.Parse(r.Body, fhirjson.Limits{})
	if err != nil {
		return false
	}
	return inCompartment(r.Type, r.ID, doc.Root, patient, base)
}

// confine says whether access a on typ is confined to a patient's
// compartment and to whose: "" when it is not. A confined access without a
// launch patient, and a confined write of a type that no compartment holds,
// are refused.
func (r *Request) confine(typ string, a Access) (string, *fhirError) {
	if r.Compartment == nil || !r.Compartment(typ, a) {
		return "", nil
	}
	if r.Patient == "" {
		return "", refuse(http.StatusForbidden, "forbidden", CodeOutsideCompartment,
			"the token's patient/ scopes need a launch patient (launch/patient), and the token has none")
	}
	if _, ok := compartmentPaths[typ]; !ok {
		if a == Read || a == Search {
			return "", nil // shared data: no patient's compartment holds it
		}
		return "", refuse(http.StatusForbidden, "forbidden", CodeOutsideCompartment,
			"patient/ scopes write only resources in the launch patient's compartment, and this resource type is in no patient's compartment")
	}
	return r.Patient, nil
}

func outsideCompartment() *fhirError {
	return refuse(http.StatusForbidden, "forbidden", CodeOutsideCompartment,
		"the resource is not in the launch patient's compartment, which the token's patient/ scopes are limited to")
}

// compartmentClause confines a search to patient's compartment.
func compartmentClause(patient string) store.Clause {
	return store.Clause{Param: compartmentParam, Any: []store.Cond{{Kind: store.MatchExact, Value: "Patient/" + patient}}}
}
