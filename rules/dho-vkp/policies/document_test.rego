package sandkasse.dho_vkp.document_test

import data.sandkasse.dho_vkp.document

doc(types) := {"resource": {
	"resourceType": "Bundle",
	"type": "document",
	"entry": [{"resource": {"resourceType": t}} | some t in types],
}}

measurement := doc(["Composition", "DetectedIssue", "Observation"])

questionnaire := doc(["Composition", "DetectedIssue", "QuestionnaireResponse", "Observation"])

alarm := object.union(doc(["Composition", "DetectedIssue", "Device", "Observation"]), {"context": {"serviceCodes": ["ta"]}})

# Every well-formed alert type passes every rule.
test_good_documents_pass if {
	some d in [measurement, questionnaire, alarm, doc(["Composition", "DetectedIssue"]), doc(["Composition"])]
	every rule in [
		document.deny_not_document, document.deny_composition, document.deny_alert_missing,
		document.deny_questionnaire_score, document.deny_many_alerts, document.deny_beyond_purpose,
		document.deny_alarm_device,
	] {
		count(rule) == 0 with input as d
	}
}

test_not_document if {
	d := json.patch(measurement, [{"op": "replace", "path": "/resource/type", "value": "transaction"}])
	some f in document.deny_not_document with input as d
	f.expression == "Bundle.type"
}

test_document_ok if count(document.deny_not_document) == 0 with input as measurement

test_composition_not_first if {
	some f in document.deny_composition with input as doc(["DetectedIssue", "Composition", "Observation"])
	f.expression == "Bundle.entry[0].resource"
}

test_two_compositions if count(document.deny_composition) == 1 with input as doc(["Composition", "Composition", "DetectedIssue"])

test_composition_ok if count(document.deny_composition) == 0 with input as measurement

test_observation_without_alert if count(document.deny_alert_missing) == 1 with input as doc(["Composition", "Observation"])

test_alert_present_ok if count(document.deny_alert_missing) == 0 with input as measurement

test_questionnaire_without_score if {
	some f in document.deny_questionnaire_score with input as doc(["Composition", "DetectedIssue", "QuestionnaireResponse"])
	f.expression == "Bundle.entry[2].resource"
}

test_questionnaire_with_score_ok if count(document.deny_questionnaire_score) == 0 with input as questionnaire

test_two_alerts if count(document.deny_many_alerts) == 1 with input as doc(["Composition", "DetectedIssue", "DetectedIssue", "Observation"])

test_one_alert_ok if count(document.deny_many_alerts) == 0 with input as measurement

test_patient_beyond_purpose if {
	some f in document.deny_beyond_purpose with input as doc(["Composition", "DetectedIssue", "Observation", "Patient", "Condition"])
	f.expression == "Bundle.entry[3].resource"
	count(document.deny_beyond_purpose) == 2 with input as doc(["Composition", "DetectedIssue", "Observation", "Patient", "Condition"])
}

test_purpose_ok if count(document.deny_beyond_purpose) == 0 with input as alarm

test_alarm_without_device if {
	d := object.union(measurement, {"context": {"serviceCodes": ["ta"]}})
	count(document.deny_alarm_device) == 1 with input as d
}

test_alarm_with_device_ok if count(document.deny_alarm_device) == 0 with input as alarm

# A DHO measurement without the ta service needs no Device.
test_no_alarm_no_device_ok if count(document.deny_alarm_device) == 0 with input as object.union(measurement, {"context": {"serviceCodes": ["dho"]}})

# Other inputs are none of this policy's business.
test_exchange_ignored if count(document.deny_not_document) == 0 with input as {"exchange": {"method": "GET", "path": "/"}}
