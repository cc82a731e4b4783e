# METADATA
# title: SMART scopes and FHIR API use
# description: >-
#   Rules over the scopes the app asks for and its requests to the FHIR API.
#   The runner passes what the authorisation server granted as
#   context.scopes and the launch patient's id as context.patient, because
#   SMART access tokens are opaque to the app and to us.
# scope: package
package sandkasse.epr_smart_app.fhir

# Rules read input.exchange directly rather than through an alias rule
# (x := input.exchange): each reference through a rule is one more virtual
# document look-up per evaluation.

# Constant patterns and sets are written out where they are used: a value
# named by a rule is one more virtual-document look-up per use.

# target is [type, id-or-operation] of a FHIR request path. Paths that are
# not FHIR resources: authorize, token, metadata,
# .well-known/smart-configuration, introspect and register (one expression
# rather than a loop over the suffixes).
target := [m[1], m[2]] if {
	not regex.match(`/(authorize|token|metadata|\.well-known/smart-configuration|introspect|register)$`, input.exchange.path)
	m := regex.find_all_string_submatch_n(`/([A-Z][A-Za-z]+)(?:/([^/]+))?/?$`, input.exchange.path, 1)[0]
}

op := "read" if {
	input.exchange.method in {"GET", "HEAD"}
} else := "read" if {
	input.exchange.method == "POST"
	target[1] == "_search"
} else := "write" if input.exchange.method in {"POST", "PUT", "PATCH", "DELETE"}

# A SMART resource scope: `^(patient|user|system)/(\*|[A-Z][A-Za-z]+)\.(read|write|\*|c?r?u?d?s?)$`
# (context, resource type, permissions).

requested := [s | some s in split(object.get(input.exchange.query, "scope", [""])[0], " "); s != ""] if endswith(input.exchange.path, "/authorize")

# allows tells whether a scope's permissions allow op, in SMART v1
# (read/write/*) or v2 (cruds) syntax. The v2 permissions are the letters of
# "cruds" in that order (^c?r?u?d?s?$); those with r or s allow reading, those
# with c, u or d writing. They are listed rather than matched with regular
# expressions (four matches per granted scope, on every request checked):
# fhir_test compares the lists with the expressions for every combination.
allows(p, _) if p == "*"

allows(p, o) if p == o

allows(p, "read") if p in {"r", "s", "cr", "cs", "ru", "rd", "rs", "us", "ds", "cru", "crd", "crs", "cus", "cds", "rud", "rus", "rds", "uds", "crud", "crus", "crds", "cuds", "ruds", "cruds"}

allows(p, "write") if p in {"c", "u", "d", "cr", "cu", "cd", "cs", "ru", "rd", "ud", "us", "ds", "cru", "crd", "crs", "cud", "cus", "cds", "rud", "rus", "rds", "uds", "crud", "crus", "crds", "cuds", "ruds", "cruds"}

# METADATA
# title: FHIR requests carry the access token
# custom:
#   id: SMART-FHIR-01
#   severity: error
#   requirement: SMART-TOKENS
#   source: SMART App Launch 2.0
#   fix:
#     nb: 'Send tilgangstokenet som "Authorization: Bearer <token>" på hvert FHIR-kall.'
#     en: 'Send the access token as "Authorization: Bearer <token>" on every FHIR call.'
deny_no_bearer contains {"msg": "the FHIR request has no Authorization Bearer token", "expression": "exchange.headers.authorization"} if {
	target
	not bearer
}

bearer if {
	some v in input.exchange.headers.authorization
	lower(substring(v, 0, 7)) == "bearer "
}

# METADATA
# title: Requested scopes are well-formed SMART scopes
# custom:
#   id: SMART-SCOPE-01
#   severity: error
#   requirement: SMART-SCOPES
#   source: SMART App Launch 2.0
#   fix:
#     nb: Be om scopes som patient/Observation.rs (v2) eller patient/Observation.read (v1), pluss launch, openid og fhirUser etter behov.
#     en: Ask for scopes like patient/Observation.rs (v2) or patient/Observation.read (v1), plus launch, openid and fhirUser as needed.
deny_scope_syntax contains {"msg": msg, "expression": "exchange.query.scope"} if {
	some s in requested
	not s in {"openid", "fhirUser", "profile", "launch", "launch/patient", "launch/encounter", "offline_access", "online_access"}
	not regex.match(`^(patient|user|system)/(\*|[A-Z][A-Za-z]+)\.(read|write|\*|c?r?u?d?s?)$`, s)
	msg := sprintf("%q is not a SMART scope", [s])
}

# METADATA
# title: No wildcard resource scopes
# custom:
#   id: SMART-SCOPE-02
#   severity: warning
#   requirement: SMART-SCOPES
#   source: sandkasse
#   fix:
#     nb: Be bare om de ressurstypene appen faktisk bruker, f.eks. patient/Observation.rs i stedet for patient/*.*.
#     en: Ask only for the resource types the app uses, e.g. patient/Observation.rs instead of patient/*.*.
warn_wildcard contains {"msg": msg, "expression": "exchange.query.scope"} if {
	some s in requested
	regex.match(`^(patient|user|system)/\*\.`, s)
	msg := sprintf("%s grants every resource type", [s])
}

# METADATA
# title: The app reads and writes only within the granted scopes
# custom:
#   id: SMART-SCOPE-03
#   severity: error
#   requirement: SMART-SCOPES
#   source: SMART App Launch 2.0
#   fix:
#     nb: Be om scopet for ressurstypen (f.eks. patient/Condition.rs) eller la være å hente den.
#     en: Ask for the scope for the resource type (e.g. patient/Condition.rs) or do not request it.
deny_outside_scopes contains {"msg": msg, "expression": "exchange.path"} if {
	_ = input.context.scopes # present, whatever it holds
	type := target[0]
	o := op
	not grants[[type, o]]
	not grants[["*", o]]
	msg := sprintf("%s of %s without a granted scope that allows it", [o, type])
}

# grants holds [type or "*", operation] for every granted scope, parsed once
# per input rather than once per request checked against it.
grants := {[m[2], o] |
	some m in granted_scopes
	some o in ["read", "write"]
	allows(m[3], o)
}

# granted_scopes holds the regex match of every well-formed granted SMART
# resource scope: [scope, context, type, permissions].
granted_scopes := [m | some s in input.context.scopes; m := regex.find_all_string_submatch_n(`^(patient|user|system)/(\*|[A-Z][A-Za-z]+)\.(read|write|\*|c?r?u?d?s?)$`, s, 1)[0]]

# METADATA
# title: Patient-scoped access stays with the launch patient
# custom:
#   id: SMART-SCOPE-04
#   severity: error
#   requirement: SMART-SCOPES
#   source: SMART App Launch 2.0
#   fix:
#     nb: Med patient/-scopes, les bare data om pasienten fra launch-konteksten (patient=<id> i søk).
#     en: With patient/ scopes, read only data about the patient from the launch context (patient=<id> in searches).
deny_other_patient contains {"msg": msg, "expression": "exchange.path"} if {
	input.context.patient
	patient_only
	target[0] == "Patient"
	not target[1] in {input.context.patient, "_search"}
	msg := "the app reads a Patient other than the launch patient"
}

deny_other_patient contains {"msg": msg, "expression": sprintf("exchange.query.%s", [p])} if {
	input.context.patient
	patient_only
	some p in ["patient", "subject"]
	some v in input.exchange.query[p]
	not trim_prefix(v, "Patient/") == input.context.patient
	msg := sprintf("the search's %s is not the launch patient", [p])
}

patient_only if {
	count(granted_scopes) > 0
	every m in granted_scopes {
		m[1] == "patient"
	}
}
