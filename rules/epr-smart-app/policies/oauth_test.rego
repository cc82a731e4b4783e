package sandkasse.epr_smart_app.oauth_test

import data.sandkasse.epr_smart_app.oauth

authorize := {"exchange": {
	"method": "GET",
	"path": "/oauth2/authorize",
	"query": {
		"response_type": ["code"],
		"client_id": ["wound-app"],
		"redirect_uri": ["https://app.example/cb"],
		"scope": ["launch openid fhirUser patient/Observation.rs"],
		"state": ["af0ifjsldkj-8Yq2"],
		"aud": ["https://epr.test/fhir"],
		"launch": ["xyz123"],
		"code_challenge": ["E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"],
		"code_challenge_method": ["S256"],
	},
	"status": 302,
}}

token := {"exchange": {
	"method": "POST",
	"path": "/oauth2/token",
	"headers": {"content-type": ["application/x-www-form-urlencoded"]},
	"body": {
		"grant_type": ["authorization_code"],
		"code": ["SplxlOBeZQQYbYS6WxSbIA"],
		"redirect_uri": ["https://app.example/cb"],
		"code_verifier": ["dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"],
	},
	"status": 200,
}}

fhir_get := {"exchange": {"method": "GET", "path": "/fhir/Observation", "query": {"patient": ["123"]}, "headers": {"authorization": ["Bearer abc"]}, "status": 200}}

set_query(ex, k, v) := json.patch(ex, [{"op": "add", "path": sprintf("/exchange/query/%s", [k]), "value": v}])

del_query(ex, k) := json.patch(ex, [{"op": "remove", "path": sprintf("/exchange/query/%s", [k])}])

test_good_flow_passes if {
	some ex in [authorize, token, fhir_get]
	count(oauth.deny_pkce) + count(oauth.deny_state_aud) + count(oauth.deny_launch_scope) + count(oauth.deny_token_request) + count(oauth.deny_token_in_url) == 0 with input as object.union(ex, {"context": {"fhirBase": "https://epr.test/fhir/"}})
}

test_plain_pkce if count(oauth.deny_pkce) == 1 with input as set_query(authorize, "code_challenge_method", ["plain"])

test_no_pkce if count(oauth.deny_pkce) == 2 with input as del_query(del_query(authorize, "code_challenge"), "code_challenge_method")

test_pkce_ok if count(oauth.deny_pkce) == 0 with input as authorize

test_no_state if {
	some f in oauth.deny_state_aud with input as del_query(authorize, "state")
	f.expression == "exchange.query.state"
}

test_wrong_aud if count(oauth.deny_state_aud) == 1 with input as object.union(authorize, {"context": {"fhirBase": "https://other.test/fhir"}})

test_state_aud_ok if count(oauth.deny_state_aud) == 0 with input as authorize

test_launch_without_scope if count(oauth.deny_launch_scope) == 1 with input as set_query(authorize, "scope", ["openid patient/Observation.rs"])

test_launch_scope_ok if count(oauth.deny_launch_scope) == 0 with input as authorize

test_no_verifier if {
	ex := json.patch(token, [{"op": "remove", "path": "/exchange/body/code_verifier"}])
	count(oauth.deny_token_request) == 1 with input as ex
}

test_token_get if {
	ex := json.patch(token, [{"op": "replace", "path": "/exchange/method", "value": "GET"}])
	some f in oauth.deny_token_request with input as ex
	f.expression == "exchange.method"
}

test_token_request_ok if count(oauth.deny_token_request) == 0 with input as token

# A refresh (RFC 6749 section 6) carries no code and no verifier: not a code
# exchange, so nothing about PKCE applies.
test_refresh_request_ok if {
	refresh := {"exchange": {
		"method": "POST", "path": "/oauth2/token",
		"headers": {"content-type": ["application/x-www-form-urlencoded"]},
		"body": {"grant_type": ["refresh_token"], "refresh_token": ["[redacted]"], "client_id": ["app"]},
		"status": 200,
	}}
	count(oauth.deny_token_request) + count(oauth.deny_token_in_url) == 0 with input as refresh
}

test_access_token_in_url if {
	some f in oauth.deny_token_in_url with input as set_query(fhir_get, "access_token", ["abc"])
	f.expression == "exchange.query.access_token"
}

test_jwt_in_url if count(oauth.deny_token_in_url) == 1 with input as set_query(fhir_get, "t", ["eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"])

test_url_ok if count(oauth.deny_token_in_url) == 0 with input as fhir_get
