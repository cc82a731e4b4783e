package sandkasse.epr_smart_app.writes_test

import data.sandkasse.epr_smart_app.writes

obs := {"resourceType": "Observation", "id": "o1", "status": "final"}

send(method, path, body) := {"exchange": {"method": method, "path": path, "headers": {"content-type": ["application/fhir+json; charset=utf-8"]}, "body": body, "status": 201}}

patient(value) := {"resource": {"resourceType": "Patient", "identifier": [
	{"system": "urn:oid:2.16.578.1.12.4.1.4.4", "value": "9144889"},
	{"system": "urn:oid:2.16.578.1.12.4.1.4.1", "value": value},
]}}

test_good_writes_pass if {
	some d in [send("POST", "/fhir/Observation", obs), send("PUT", "/fhir/Observation/o1", obs), patient("14835031048")]
	count(writes.deny_wrong_endpoint) + count(writes.warn_content_type) + count(writes.deny_person_number) == 0 with input as d
}

test_wrong_type if {
	some f in writes.deny_wrong_endpoint with input as send("POST", "/fhir/Condition", obs)
	f.expression == "exchange.body.resourceType"
}

test_put_id_mismatch if {
	some f in writes.deny_wrong_endpoint with input as send("PUT", "/fhir/Observation/o2", obs)
	f.expression == "exchange.body.id"
}

test_endpoint_ok if count(writes.deny_wrong_endpoint) == 0 with input as send("PUT", "/fhir/Observation/o1", obs)

test_json_not_fhir_json if {
	d := json.patch(send("POST", "/fhir/Observation", obs), [{"op": "replace", "path": "/exchange/headers/content-type", "value": ["application/json"]}])
	count(writes.warn_content_type) == 1 with input as d
}

test_content_type_ok if count(writes.warn_content_type) == 0 with input as send("POST", "/fhir/Observation", obs)

test_bad_person_number if {
	some f in writes.deny_person_number with input as patient("14835031049")
	f.expression == "Patient.identifier[1]"
}

test_person_number_ok if count(writes.deny_person_number) == 0 with input as patient("14835031048")
