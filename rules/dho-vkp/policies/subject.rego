# METADATA
# title: DHO subject references
# description: >-
#   VKP references the patient logically, by national identity number plus a
#   display name, because platform and EPJ share no resource ids.
# scope: package
package sandkasse.dho_vkp.subject

# The identifier systems of fødselsnummer (urn:oid:2.16.578.1.12.4.1.4.1) and
# D-nummer (urn:oid:2.16.578.1.12.4.1.4.2) are written out in each rule: a
# set named by a rule is one more virtual-document look-up per use.

# The element that names the patient, per resource type.
subject_element := {
	"Observation": "subject",
	"QuestionnaireResponse": "subject",
	"Composition": "subject",
	"DetectedIssue": "patient",
}

# Every rule has one definition for the resource's own patient reference and
# one for those of a Bundle's entries, rather than all rules taking apart a
# list of [reference, entry, element] built for both cases (that cost more
# than the checks).
#
# own_subject is the input resource's patient reference. One definition per
# type, each a resourceType comparison: the evaluator's index picks the one
# that applies, and the engine can prove the rules empty on exchanges and on
# types without a subject, and leave them out of those queries.
own_subject := input.resource.subject if input.resource.resourceType == "Observation"

own_subject := input.resource.subject if input.resource.resourceType == "QuestionnaireResponse"

own_subject := input.resource.subject if input.resource.resourceType == "Composition"

own_subject := input.resource.patient if input.resource.resourceType == "DetectedIssue"

# bundle_subjects maps a Bundle entry's index to its resource's patient
# reference (an object comprehension: less work than a partial object rule).
bundle_subjects := {i: ref |
	some i, e in input.resource.entry
	# subject_element written out: a look-up in a rule per entry costs more.
	el := {"Observation": "subject", "QuestionnaireResponse": "subject", "Composition": "subject", "DetectedIssue": "patient"}[e.resource.resourceType]
	ref := e.resource[el]
} if input.resource.resourceType == "Bundle"

# The FHIRPath locations, built only for a finding.
own_location := sprintf("%s.%s", [input.resource.resourceType, subject_element[input.resource.resourceType]])

entry_location(i) := sprintf("Bundle.entry[%d].resource.%s", [i, subject_element[input.resource.entry[i].resource.resourceType]])

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
deny_not_logical contains {"msg": "the patient is not referenced by a fødselsnummer or D-nummer identifier", "expression": own_location} if {
	ref := own_subject
	# object.get: a reference without identifier.system must make the rule
	# fire, not vanish.
	not object.get(ref, ["identifier", "system"], "") in {"urn:oid:2.16.578.1.12.4.1.4.1", "urn:oid:2.16.578.1.12.4.1.4.2"}
}

deny_not_logical contains {"msg": "the patient is not referenced by a fødselsnummer or D-nummer identifier", "expression": entry_location(i)} if {
	input.resource.resourceType == "Bundle"
	some i, ref in bundle_subjects
	# object.get: a reference without identifier.system must make the rule
	# fire, not vanish.
	not object.get(ref, ["identifier", "system"], "") in {"urn:oid:2.16.578.1.12.4.1.4.1", "urn:oid:2.16.578.1.12.4.1.4.2"}
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
deny_invalid_number contains {"msg": "the identifier value is not a valid number for its system", "expression": concat("", [own_location, ".identifier.value"])} if {
	ref := own_subject
	ref.identifier.system in {"urn:oid:2.16.578.1.12.4.1.4.1", "urn:oid:2.16.578.1.12.4.1.4.2"}
	not sandkasse.valid_national_id(ref.identifier.system, ref.identifier.value)
}

deny_invalid_number contains {"msg": "the identifier value is not a valid number for its system", "expression": concat("", [entry_location(i), ".identifier.value"])} if {
	input.resource.resourceType == "Bundle"
	some i, ref in bundle_subjects
	ref.identifier.system in {"urn:oid:2.16.578.1.12.4.1.4.1", "urn:oid:2.16.578.1.12.4.1.4.2"}
	not sandkasse.valid_national_id(ref.identifier.system, ref.identifier.value)
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
warn_no_display contains {"msg": "the patient reference has no display", "expression": concat("", [own_location, ".display"])} if {
	ref := own_subject
	ref.identifier
	not ref.display
}

warn_no_display contains {"msg": "the patient reference has no display", "expression": concat("", [entry_location(i), ".display"])} if {
	input.resource.resourceType == "Bundle"
	some i, ref in bundle_subjects
	ref.identifier
	not ref.display
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
	ids := {[ref.identifier.system, ref.identifier.value] | some ref in bundle_subjects; ref.identifier.value}
	count(ids) > 1
	msg := sprintf("the document refers to %d different patients", [count(ids)])
}
