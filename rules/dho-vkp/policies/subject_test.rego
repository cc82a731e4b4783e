package sandkasse.dho_vkp.subject_test

import data.sandkasse.dho_vkp.subject

# Synthetic (Tenor, month + 80) numbers: valid checksums, never a real person.
fnr_ref := {"identifier": {"system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": "14835031048"}, "display": "Kari Nordmann"}

dnr_ref := {"identifier": {"system": "urn:oid:2.16.578.1.12.4.1.4.2", "value": "42856039972"}, "display": "Ola Nordmann"}

document(ref) := {"resource": {"resourceType": "Bundle", "type": "document", "entry": [
	{"resource": {"resourceType": "Composition", "subject": ref}},
	{"resource": {"resourceType": "DetectedIssue", "patient": ref}},
	{"resource": {"resourceType": "Observation", "subject": ref}},
]}}


test_good_subjects_pass if {
	count(subject.deny_not_logical) + count(subject.deny_invalid_number) + count(subject.warn_no_display) + count(subject.deny_mixed_patients) == 0 with input as document(fnr_ref)
	count(subject.deny_not_logical) + count(subject.deny_invalid_number) + count(subject.warn_no_display) == 0 with input as {"resource": {"resourceType": "Observation", "subject": dnr_ref}}
}

test_literal_reference if {
	some f in subject.deny_not_logical with input as {"resource": {"resourceType": "Observation", "subject": {"reference": "Patient/123"}}}
	f.expression == "Observation.subject"
}

test_hpr_is_not_a_patient_id if {
	ref := {"identifier": {"system": "urn:oid:2.16.578.1.12.4.1.4.4", "value": "9144889"}, "display": "X"}
	count(subject.deny_not_logical) == 3 with input as document(ref)
}

test_logical_ok if count(subject.deny_not_logical) == 0 with input as document(dnr_ref)

test_bad_checksum if {
	ref := json.patch(fnr_ref, [{"op": "replace", "path": "/identifier/value", "value": "14835031049"}])
	some f in subject.deny_invalid_number with input as {"resource": {"resourceType": "DetectedIssue", "patient": ref}}
	f.expression == "DetectedIssue.patient.identifier.value"
}

test_fnr_under_dnr_system if {
	ref := json.patch(fnr_ref, [{"op": "replace", "path": "/identifier/system", "value": "urn:oid:2.16.578.1.12.4.1.4.2"}])
	count(subject.deny_invalid_number) == 1 with input as {"resource": {"resourceType": "Observation", "subject": ref}}
}

test_valid_number_ok if count(subject.deny_invalid_number) == 0 with input as document(dnr_ref)

test_no_display if {
	some f in subject.warn_no_display with input as {"resource": {"resourceType": "QuestionnaireResponse", "subject": json.remove(fnr_ref, ["display"])}}
	f.expression == "QuestionnaireResponse.subject.display"
}

test_display_ok if count(subject.warn_no_display) == 0 with input as {"resource": {"resourceType": "QuestionnaireResponse", "subject": fnr_ref}}

test_mixed_patients if {
	d := json.patch(document(fnr_ref), [{"op": "replace", "path": "/resource/entry/2/resource/subject", "value": dnr_ref}])
	count(subject.deny_mixed_patients) == 1 with input as d
}

test_one_patient_ok if count(subject.deny_mixed_patients) == 0 with input as document(fnr_ref)
