package sandkasse.dho_vkp.vitals_test

import data.sandkasse.dho_vkp.vitals

pulse := {
	"resourceType": "Observation",
	"status": "final",
	"code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
	"effectiveDateTime": "2026-11-20T08:15:00+01:00",
	"valueQuantity": {"value": 72, "unit": "slag/min", "system": "http://unitsofmeasure.org", "code": "/min"},
}

bp := {
	"resourceType": "Observation",
	"status": "final",
	"code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
	"effectiveDateTime": "2026-11-20T08:15:00+01:00",
	"component": [
		{"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}, "valueQuantity": {"value": 140, "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
		{"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]}, "valueQuantity": {"value": 90, "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
	],
}

npu_weight := {
	"resourceType": "Observation",
	"code": {"coding": [{"system": "urn:oid:2.16.578.1.12.4.1.1.7280", "code": "NPU03804"}]},
	"effectivePeriod": {"start": "2026-11-20"},
	"valueQuantity": {"value": 81.5, "system": "http://unitsofmeasure.org", "code": "kg"},
}

in_bundle(obs) := {"resource": {"resourceType": "Bundle", "type": "document", "entry": [
	{"resource": {"resourceType": "Composition"}},
	{"resource": obs},
]}}

test_good_observations_pass if {
	some obs in [pulse, bp, npu_weight]
	some input_doc in [{"resource": obs}, in_bundle(obs)]
	count(vitals.deny_code_system) + count(vitals.deny_ucum) + count(vitals.deny_unit) + count(vitals.deny_effective) == 0 with input as input_doc
}

test_local_code_system if {
	obs := json.patch(pulse, [{"op": "replace", "path": "/code/coding/0/system", "value": "http://vendor.example/codes"}])
	some f in vitals.deny_code_system with input as in_bundle(obs)
	f.expression == "Bundle.entry[1].resource.code"
}

test_code_system_ok if count(vitals.deny_code_system) == 0 with input as {"resource": pulse}

test_unit_not_ucum if {
	obs := json.patch(pulse, [{"op": "remove", "path": "/valueQuantity/system"}])
	some f in vitals.deny_ucum with input as {"resource": obs}
	f.expression == "Observation.valueQuantity"
}

test_component_unit_not_ucum if {
	obs := json.patch(bp, [{"op": "remove", "path": "/component/1/valueQuantity/code"}])
	some f in vitals.deny_ucum with input as {"resource": obs}
	f.expression == "Observation.component[1].valueQuantity"
}

test_ucum_ok if count(vitals.deny_ucum) == 0 with input as {"resource": bp}

test_wrong_unit if {
	obs := json.patch(bp, [{"op": "replace", "path": "/component/0/valueQuantity/code", "value": "kPa"}])
	some f in vitals.deny_unit with input as {"resource": obs}
	f.expression == "Observation.component[0].valueQuantity.code"
	contains(f.msg, "8480-6")
}

test_fahrenheit_ok if {
	temp := {
		"resourceType": "Observation",
		"code": {"coding": [{"system": "http://loinc.org", "code": "8310-5"}]},
		"effectiveDateTime": "2026-11-20",
		"valueQuantity": {"value": 99.1, "system": "http://unitsofmeasure.org", "code": "[degF]"},
	}
	count(vitals.deny_unit) == 0 with input as {"resource": temp}
}

test_no_effective if {
	obs := json.remove(pulse, ["effectiveDateTime"])
	count(vitals.deny_effective) == 1 with input as {"resource": obs}
}

test_effective_ok if count(vitals.deny_effective) == 0 with input as {"resource": npu_weight}

test_no_code if count(vitals.deny_code_system) == 1 with input as {"resource": json.remove(pulse, ["code"])}

# A coding may carry several LOINC codes (a panel code beside the measured
# one): each the unit table knows is checked, and the evaluation does not fail.
test_two_loinc_codes_each_checked if {
	obs := json.patch(pulse, [{"op": "add", "path": "/code/coding/-", "value": {"system": "http://loinc.org", "code": "8310-5"}}])
	fs := vitals.deny_unit with input as {"resource": obs}
	count(fs) == 1
	some f in fs
	contains(f.msg, "8310-5")
	f.expression == "Observation.valueQuantity.code"
}

test_two_unknown_loinc_codes_ok if {
	obs := json.patch(pulse, [
		{"op": "replace", "path": "/code/coding/0/code", "value": "85354-9"},
		{"op": "add", "path": "/code/coding/-", "value": {"system": "http://loinc.org", "code": "55284-4"}},
	])
	count(vitals.deny_unit) == 0 with input as {"resource": obs}
}
