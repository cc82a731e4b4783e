package sandkasse.dho_vkp.exchange_test

import data.sandkasse.dho_vkp.exchange

# jwt builds an unsigned token: the policy decodes claims, it never verifies
# signatures (that is HelseID's and VKP's job, and needs keys and a clock).
jwt(claims) := concat(".", [
	base64url.encode_no_pad(json.marshal({"alg": "RS256", "typ": "at+jwt"})),
	base64url.encode_no_pad(json.marshal(claims)),
	"c2lnbmF0dXJl",
])

token := jwt({"scope": ["nhn:vkp/api/user/patient.read", "nhn:vkp/api/user/bundle.write"], "vkp-id": "Acme_Hjemme_Trondheim"})

search := {"exchange": {
	"method": "POST",
	"url": "https://vkp.test/epj/r4/974760673/Patient/_search",
	"path": "/epj/r4/974760673/Patient/_search",
	"headers": {
		"authorization": [concat(" ", ["Bearer", token])],
		"servicecodes": ["dho"],
		"content-type": ["application/x-www-form-urlencoded"],
	},
	"body": {"identifier": ["urn:oid:2.16.578.1.12.4.1.4.1|14835031048"]},
	"status": 200,
}}

journal := json.patch(search, [
	{"op": "replace", "path": "/exchange/path", "value": "/epj/r4/974760673/Bundle"},
	{"op": "replace", "path": "/exchange/headers/content-type", "value": ["application/fhir+json"]},
	{"op": "replace", "path": "/exchange/body", "value": {"resourceType": "Bundle", "type": "document"}},
])

with_path(p) := json.patch(search, [{"op": "replace", "path": "/exchange/path", "value": p}])

with_header(h, v) := json.patch(search, [{"op": "add", "path": sprintf("/exchange/headers/%s", [h]), "value": v}])

without_header(h) := json.patch(search, [{"op": "remove", "path": sprintf("/exchange/headers/%s", [h])}])

findings(ex) := n if {
	n := count(exchange.deny_address) + count(exchange.deny_search_form) + count(exchange.deny_service_codes) + count(exchange.warn_not_dho) + count(exchange.deny_no_token) + count(exchange.deny_scope_missing) + count(exchange.deny_scope_form) + count(exchange.deny_read_beyond_purpose) + count(exchange.warn_scope_beyond_purpose) with input as ex
}

test_good_exchanges_pass if {
	findings(search) == 0
	findings(journal) == 0
	findings(with_path("/epj/r4/314159265/Patient/_search")) == 0
}

test_bad_orgnr if {
	some f in exchange.deny_address with input as with_path("/epj/r4/974760674/Patient/_search")
	f.expression == "exchange.path"
}

test_not_vkp_path if count(exchange.deny_address) == 1 with input as with_path("/fhir/Patient/_search")

test_address_ok if count(exchange.deny_address) == 0 with input as search

test_get_search if {
	ex := json.patch(search, [{"op": "replace", "path": "/exchange/method", "value": "GET"}])
	count(exchange.deny_search_form) == 1 with input as ex
}

test_search_not_form if count(exchange.deny_search_form) == 1 with input as with_header("content-type", ["application/json"])

test_search_form_ok if count(exchange.deny_search_form) == 0 with input as search

test_no_service_codes if count(exchange.deny_service_codes) == 1 with input as without_header("servicecodes")

test_unknown_service_code if {
	some f in exchange.deny_service_codes with input as with_header("servicecodes", ["dho, xyz"])
	contains(f.msg, "xyz")
}

test_service_codes_ok if count(exchange.deny_service_codes) == 0 with input as with_header("servicecodes", ["ta,dho"])

test_not_dho if count(exchange.warn_not_dho) == 1 with input as with_header("servicecodes", ["gps"])

test_dho_ok if count(exchange.warn_not_dho) == 0 with input as search

test_no_token if count(exchange.deny_no_token) == 1 with input as without_header("authorization")

test_token_ok if count(exchange.deny_no_token) == 0 with input as search

test_scope_missing if {
	some f in exchange.deny_scope_missing with input as with_path("/epj/r4/974760673/Condition/_search")
	contains(f.msg, "nhn:vkp/api/user/condition.read")
}

test_scope_from_context if {
	ex := object.union(with_path("/epj/r4/974760673/Condition/_search"), {"context": {"scopes": ["nhn:vkp/api/user/condition.read"]}})
	count(exchange.deny_scope_missing) == 0 with input as ex
}

test_write_scope_missing if {
	ex := with_header("authorization", [concat(" ", ["Bearer", jwt({"scope": "nhn:vkp/api/user/patient.read"})])])
	count(exchange.deny_scope_missing) == 1 with input as json.patch(ex, [{"op": "replace", "path": "/exchange/path", "value": "/epj/r4/974760673/Bundle"}])
}

test_scope_ok if count(exchange.deny_scope_missing) == 0 with input as journal

test_scope_malformed if {
	ex := with_header("authorization", [concat(" ", ["Bearer", jwt({"scope": ["nhn:vkp/api/user/patient.read", "nhn:vkp/api/user/Patient.*"]})])])
	count(exchange.deny_scope_form) == 1 with input as ex
}

test_scope_form_ok if count(exchange.deny_scope_form) == 0 with input as search

test_read_beyond_purpose if {
	ex := object.union(with_path("/epj/r4/974760673/Encounter/_search"), {"context": {"scopes": ["nhn:vkp/api/user/encounter.read"]}})
	count(exchange.deny_read_beyond_purpose) == 1 with input as ex
}

test_read_within_purpose_ok if count(exchange.deny_read_beyond_purpose) == 0 with input as with_path("/epj/r4/974760673/CarePlan/_search")

test_scope_beyond_purpose if {
	ex := object.union(search, {"context": {"scopes": ["nhn:vkp/api/user/patient.read", "nhn:vkp/api/user/observation.read"]}})
	count(exchange.warn_scope_beyond_purpose) == 1 with input as ex
}

test_scope_within_purpose_ok if count(exchange.warn_scope_beyond_purpose) == 0 with input as search

# An opaque (non-JWT) token without context scopes checks nothing about
# scopes rather than failing the evaluation.
test_opaque_token_silent if {
	ex := with_header("authorization", ["Bearer abc"])
	count(exchange.deny_scope_missing) + count(exchange.deny_scope_form) == 0 with input as ex
}

# Two Authorization headers with different tokens: the first counts, and
# the evaluation does not fail.
test_two_tokens_first_counts if {
	first := concat(" ", ["Bearer", jwt({"scope": "nhn:vkp/api/user/patient.read"})])
	second := concat(" ", ["Bearer", jwt({"scope": "nhn:vkp/api/user/observation.read"})])
	count(exchange.deny_scope_missing) == 0 with input as with_header("authorization", [first, second])
	count(exchange.deny_scope_missing) == 1 with input as with_header("authorization", [second, first])
}

test_purpose_read_scopes_match_purpose_reads if {
	exchange.purpose_read_scopes == {lower(t) | some t in exchange.purpose_reads}
}
