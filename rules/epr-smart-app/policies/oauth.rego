# METADATA
# title: SMART authorisation and token handling
# description: >-
#   Rules over the app's requests to the authorisation server (authorize and
#   token endpoints) and over every request's URL.
# scope: package
package sandkasse.epr_smart_app.oauth

# Rules read input.exchange directly rather than through an alias rule
# (x := input.exchange): each reference through a rule is one more virtual
# document look-up per evaluation.

q(name) := input.exchange.query[name][0]

form(name) := input.exchange.body[name][0]

is_authorize if {
	endswith(input.exchange.path, "/authorize")
	q("response_type") == "code"
}

is_code_exchange if {
	endswith(input.exchange.path, "/token")
	form("grant_type") == "authorization_code"
}

# Parameter names that carry a credential (access_token, id_token,
# refresh_token, code_verifier, client_secret, client_assertion, password)
# are written out in the rules below, as a set named by a rule is one more
# look-up per use. A URL ends up in server logs, proxies and browser history,
# so none of these may be in one.

# METADATA
# title: The authorisation request uses PKCE with S256
# custom:
#   id: SMART-AUTHZ-01
#   severity: error
#   requirement: SMART-AUTHORIZE
#   source: SMART App Launch 2.0 / RFC 7636
#   fix:
#     nb: Lag en tilfeldig code_verifier per innlogging og send code_challenge=BASE64URL(SHA256(verifier)) med code_challenge_method=S256.
#     en: Make a random code_verifier per login and send code_challenge=BASE64URL(SHA256(verifier)) with code_challenge_method=S256.
deny_pkce contains {"msg": msg, "expression": "exchange.query.code_challenge_method"} if {
	is_authorize
	object.get(input.exchange.query, "code_challenge_method", [""])[0] != "S256"
	msg := "the authorisation request does not use PKCE with code_challenge_method=S256"
}

deny_pkce contains {"msg": msg, "expression": "exchange.query.code_challenge"} if {
	is_authorize
	not regex.match(`^[A-Za-z0-9_-]{43}$`, object.get(input.exchange.query, "code_challenge", [""])[0])
	msg := "code_challenge is missing or is not a base64url SHA-256 digest (43 characters)"
}

# METADATA
# title: The authorisation request carries state and aud
# custom:
#   id: SMART-AUTHZ-02
#   severity: error
#   requirement: SMART-AUTHORIZE
#   source: SMART App Launch 2.0
#   fix:
#     nb: Send en uforutsigbar state per forespørsel (og sjekk den i svaret), og aud lik FHIR-serverens base-URL.
#     en: Send an unpredictable state per request (and check it in the response), and aud equal to the FHIR server's base URL.
deny_state_aud contains {"msg": msg, "expression": sprintf("exchange.query.%s", [p])} if {
	is_authorize
	some p in ["state", "aud"]
	object.get(input.exchange.query, p, [""])[0] == ""
	msg := sprintf("the authorisation request has no %s", [p])
}

deny_state_aud contains {"msg": msg, "expression": "exchange.query.aud"} if {
	is_authorize
	input.context.fhirBase
	aud := q("aud")
	trim_suffix(aud, "/") != trim_suffix(input.context.fhirBase, "/")
	msg := "aud is not the FHIR server's base URL"
}

# METADATA
# title: An EHR launch asks for the launch scope
# custom:
#   id: SMART-AUTHZ-03
#   severity: error
#   requirement: SMART-AUTHORIZE
#   source: SMART App Launch 2.0
#   fix:
#     nb: Ved EHR-launch, send launch-parameteret videre og be om scopet "launch".
#     en: In an EHR launch, pass the launch parameter on and ask for the "launch" scope.
deny_launch_scope contains {"msg": msg, "expression": "exchange.query.scope"} if {
	is_authorize
	q("launch")
	not "launch" in split(object.get(input.exchange.query, "scope", [""])[0], " ")
	msg := "the request carries launch but does not ask for the launch scope"
}

# METADATA
# title: The code exchange sends the PKCE verifier in a form POST
# custom:
#   id: SMART-TOKEN-01
#   severity: error
#   requirement: SMART-TOKENS
#   source: RFC 7636 / RFC 6749 section 4.1.3
#   fix:
#     nb: Send grant_type, code, redirect_uri og code_verifier form-kodet i kroppen på en POST til token-endepunktet.
#     en: Send grant_type, code, redirect_uri and code_verifier form-encoded in the body of a POST to the token endpoint.
deny_token_request contains {"msg": msg, "expression": "exchange.body.code_verifier"} if {
	is_code_exchange
	not regex.match(`^[A-Za-z0-9._~-]{43,128}$`, object.get(input.exchange.body, "code_verifier", [""])[0])
	msg := "the token request has no valid code_verifier (43-128 unreserved characters)"
}

deny_token_request contains {"msg": msg, "expression": "exchange.method"} if {
	endswith(input.exchange.path, "/token")
	input.exchange.method != "POST"
	msg := sprintf("the token endpoint takes POST, not %s", [input.exchange.method])
}

# METADATA
# title: No tokens or secrets in URLs
# custom:
#   id: SMART-URL-01
#   severity: error
#   requirement: SMART-TOKENS
#   source: RFC 6750 section 2.3
#   fix:
#     nb: Send tilgangstokenet i Authorization-headeren og hemmeligheter i kroppen, aldri i URL-en.
#     en: Send the access token in the Authorization header and secrets in the body, never in the URL.
deny_token_in_url contains {"msg": msg, "expression": sprintf("exchange.query.%s", [k])} if {
	some k, _ in input.exchange.query
	k in {"access_token", "id_token", "refresh_token", "code_verifier", "client_secret", "client_assertion", "password"}
	msg := sprintf("the URL carries %s", [k])
}

deny_token_in_url contains {"msg": msg, "expression": sprintf("exchange.query.%s", [k])} if {
	some k, vs in input.exchange.query
	not k in {"access_token", "id_token", "refresh_token", "code_verifier", "client_secret", "client_assertion", "password"}
	some v in vs
	startswith(v, "eyJ") # cheap test before the regular expression
	regex.match(`^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$`, v)
	msg := sprintf("query parameter %s holds a JWT", [k])
}
