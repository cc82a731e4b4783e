package sandkasse.epr_smart_app.fhir_test

import data.sandkasse.epr_smart_app.fhir

ctx := {"scopes": ["launch", "openid", "patient/Observation.rs", "patient/Patient.read", "patient/Condition.cu"], "patient": "123"}

get(path, query) := {"exchange": {"method": "GET", "path": path, "query": query, "headers": {"authorization": ["Bearer abc"]}, "status": 200}, "context": ctx}

authorize(scope) := {"exchange": {"method": "GET", "path": "/oauth2/authorize", "query": {"response_type": ["code"], "scope": [scope]}, "status": 302}}

all(d) := n if {
	n := count(fhir.deny_no_bearer) + count(fhir.deny_scope_syntax) + count(fhir.warn_wildcard) + count(fhir.deny_outside_scopes) + count(fhir.deny_other_patient) with input as d
}

test_good_requests_pass if {
	all(get("/fhir/Observation", {"patient": ["123"]})) == 0
	all(get("/fhir/Patient/123", {})) == 0
	all(authorize("launch openid fhirUser patient/Observation.rs user/Practitioner.read")) == 0
	post := json.patch(get("/fhir/Condition", {}), [{"op": "replace", "path": "/exchange/method", "value": "POST"}])
	all(post) == 0
}

test_no_bearer if {
	d := json.remove(get("/fhir/Observation", {"patient": ["123"]}), ["exchange/headers"])
	count(fhir.deny_no_bearer) == 1 with input as d
}

test_token_endpoint_needs_no_bearer if {
	d := json.remove(get("/oauth2/token", {}), ["exchange/headers"])
	count(fhir.deny_no_bearer) == 0 with input as d
}

test_bearer_ok if count(fhir.deny_no_bearer) == 0 with input as get("/fhir/Observation", {})

test_bad_scope if {
	some f in fhir.deny_scope_syntax with input as authorize("openid patient/observation.read patient/Observation.all")
	f.expression == "exchange.query.scope"
	count(fhir.deny_scope_syntax) == 2 with input as authorize("openid patient/observation.read patient/Observation.all")
}

test_scope_syntax_ok if count(fhir.deny_scope_syntax) == 0 with input as authorize("launch/patient offline_access patient/*.rs system/Observation.read")

test_wildcard if count(fhir.warn_wildcard) == 1 with input as authorize("patient/*.*")

test_no_wildcard_ok if count(fhir.warn_wildcard) == 0 with input as authorize("patient/Observation.rs")

test_read_outside_scopes if {
	some f in fhir.deny_outside_scopes with input as get("/fhir/MedicationStatement", {"patient": ["123"]})
	contains(f.msg, "read of MedicationStatement")
}

test_write_with_read_scope if {
	d := json.patch(get("/fhir/Observation", {}), [{"op": "replace", "path": "/exchange/method", "value": "POST"}])
	count(fhir.deny_outside_scopes) == 1 with input as d
}

test_search_post_is_read_ok if {
	d := json.patch(get("/fhir/Observation/_search", {}), [{"op": "replace", "path": "/exchange/method", "value": "POST"}])
	count(fhir.deny_outside_scopes) == 0 with input as d
}

test_within_scopes_ok if count(fhir.deny_outside_scopes) == 0 with input as get("/fhir/Observation", {"patient": ["123"]})

test_other_patient if count(fhir.deny_other_patient) == 1 with input as get("/fhir/Patient/456", {})

test_other_patient_search if {
	some f in fhir.deny_other_patient with input as get("/fhir/Observation", {"subject": ["Patient/456"]})
	f.expression == "exchange.query.subject"
}

test_user_scope_may_read_others_ok if {
	d := object.union(get("/fhir/Patient/456", {}), {"context": {"scopes": ["user/Patient.read"], "patient": "123"}})
	count(fhir.deny_other_patient) == 0 with input as d
}

test_launch_patient_ok if count(fhir.deny_other_patient) == 0 with input as get("/fhir/Observation", {"patient": ["Patient/123"]})

# fhir.allows lists the SMART v2 permissions instead of matching them with
# the expressions below; the lists must say what the expressions say for
# every ordered combination of the five letters, every string of up to three
# of them in any order (repeats included), and a few others.
v2_expected(p, "read") if {
	regex.match(`^c?r?u?d?s?$`, p)
	regex.match(`[rs]`, p)
}

v2_expected(p, "write") if {
	regex.match(`^c?r?u?d?s?$`, p)
	regex.match(`[cud]`, p)
}

v2_listed(p, o) := true if fhir.allows(p, o) else := false

v2_matched(p, o) := true if v2_expected(p, o) else := false

test_v2_permission_lists_match_the_expressions if {
	letters := ["", "c", "r", "u", "d", "s"]
	short := {concat("", [a, b, c]) | some a in letters; some b in letters; some c in letters}
	ordered := {concat("", [c, r, u, d, s]) |
		some c in ["", "c"]
		some r in ["", "r"]
		some u in ["", "u"]
		some d in ["", "d"]
		some s in ["", "s"]
	}
	count(ordered) == 32
	candidates := (short | ordered) | {"sr", "crudss", "cruds ", "x", "R"}
	wrong := {[p, o] |
		some p in candidates
		some o in ["read", "write"]
		v2_listed(p, o) != v2_matched(p, o)
	}
	count(wrong) == 0
}
