# METADATA
# title: DHO subject references
# description: >-
#   VKP references the patient logically, by national identity number plus a
#   display name, because platform and EPJ share no resource ids.
# scope: package
package sandkasse.dho_vkp.subject

# Fødselsnummer and D-nummer.
id_systems := {"urn:oid:2.16.578.1.12.4.1.4.1", "urn:oid:2.16.578.1.12.4.1.4.2"}

# The element that names the patient, per resource type.
subject_element := {
	"Observation": "subject",
	"QuestionnaireResponse": "subject",
	"Composition": "subject",
	"DetectedIssue": "patient",
}

# subjects yields each patient reference as [ref, entry, element]: entry is
# the Bundle entry's index, -1 for the resource itself. The FHIRPath location
# is built by location() only for a finding.
subjects := [[ref, -1, el]] if {
	el := subject_element[input.resource.resourceType]
	ref := input.resource[el]
} else := [[ref, i, el] | some i, e in input.resource.entry; el := subject_element[e.resource.resourceType]; ref := e.resource[el]] if {
	input.resource.resourceType == "Bundle"
}

location(i, el) := sprintf("%s.%s", [input.resource.resourceType, el]) if i < 0

location(i, el) := sprintf("Bundle.entry[%d].resource.%s", [i, el]) if i >= 0

# METADATA
# title: The patient is referenced by fødselsnummer or D-nummer
# custom:
#   id: DHO-SUBJ-01
#   severity: error
#   requirement: VKP-SUBJECT
#   source: VKP-R4 0.9.0
#   fix:
#     nb: Referer pasienten med identifier (system urn:oid:2.16.578.1.12.4.1.4.1 for fødselsnummer eller urn:oid:2.16.578.1.12.4.1.4.2 for D-nummer) i stedet for en ressurs-id.
#     en: Reference the patient by identifier (system urn:oid:2.16.578.1.12.4.1.4.1 for fødselsnummer or urn:oid:2.16.578.1.12.4.1.4.2 for D-nummer) instead of a resource id.
deny_not_logical contains {"msg": msg, "expression": location(i, el)} if {
	some [ref, i, el] in subjects
	not object.get(ref, ["identifier", "system"], "") in id_systems
	msg := "the patient is not referenced by a fødselsnummer or D-nummer identifier"
}

# METADATA
# title: The patient's national identity number is valid
# custom:
#   id: DHO-SUBJ-02
#   severity: error
#   requirement: VKP-SUBJECT
#   source: VKP-R4 0.9.0
#   fix:
#     nb: Bruk pasientens fødselsnummer eller D-nummer slik det står i Folkeregisteret (11 siffer, gyldige kontrollsiffer). Testdata skal bruke syntetiske numre.
#     en: Use the patient's fødselsnummer or D-nummer as registered (11 digits, valid control digits). Test data uses synthetic numbers.
deny_invalid_number contains {"msg": msg, "expression": concat("", [location(i, el), ".identifier.value"])} if {
	some [ref, i, el] in subjects
	ref.identifier.system in id_systems
	not sandkasse.valid_national_id(ref.identifier.system, ref.identifier.value)
	msg := "the identifier value is not a valid number for its system"
}

# METADATA
# title: The patient reference has a display name
# custom:
#   id: DHO-SUBJ-03
#   severity: warning
#   requirement: VKP-SUBJECT
#   source: VKP-R4 0.9.0
#   fix:
#     nb: Sett display til pasientens navn, slik at mottakeren kan kontrollere at notatet gjelder riktig person.
#     en: Set display to the patient's name, so the receiver can check the note concerns the right person.
warn_no_display contains {"msg": msg, "expression": concat("", [location(i, el), ".display"])} if {
	some [ref, i, el] in subjects
	ref.identifier
	not ref.display
	msg := "the patient reference has no display"
}

# METADATA
# title: A document is about one patient
# custom:
#   id: DHO-SUBJ-04
#   severity: error
#   requirement: VKP-SUBJECT
#   source: sandkasse
#   fix:
#     nb: Alle ressurser i ett journalnotat skal gjelde samme pasient; send ett dokument per pasient.
#     en: Every resource in one journal note must concern the same patient; send one document per patient.
deny_mixed_patients contains {"msg": msg, "expression": "Bundle.entry"} if {
	input.resource.resourceType == "Bundle"
	ids := {[ref.identifier.system, ref.identifier.value] | some [ref, _, _] in subjects; ref.identifier.value}
	count(ids) > 1
	msg := sprintf("the document refers to %d different patients", [count(ids)])
}
