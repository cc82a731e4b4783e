# METADATA
# title: What the app writes
# description: >-
#   Full structural and profile validation of written resources is the
#   validator's; these rules cover what only the exchange shows (the URL the
#   body was sent to) and the Norwegian identifiers inside written resources.
# scope: package
package sandkasse.epr_smart_app.writes

# Rules read input.exchange directly rather than through an alias rule
# (x := input.exchange): each reference through a rule is one more virtual
# document look-up per evaluation.

target := regex.find_all_string_submatch_n(`/([A-Z][A-Za-z]+)(?:/([^/_][^/]*))?/?$`, input.exchange.path, 1)[0]

# The person-number systems (fødselsnummer, D-nummer, FH/H-nummer) are
# written out in the rules: they are tested on every object node of a
# resource, and a set named by a rule is one more look-up per test.

# fhirpath turns a walk path into a FHIRPath location.
fhirpath(root, path) := concat("", array.concat([root], [segment(p) | some p in path]))

segment(p) := sprintf("[%d]", [p]) if is_number(p)

segment(p) := sprintf(".%s", [p]) if is_string(p)

# METADATA
# title: The body is the resource type the URL names
# custom:
#   id: SMART-WRITE-01
#   severity: error
#   requirement: SMART-WRITES
#   source: FHIR R4 RESTful API
#   fix:
#     nb: Send ressursen til endepunktet for sin type (POST [base]/Observation for en Observation), med samme id i URL og kropp ved PUT.
#     en: Send the resource to its type's endpoint (POST [base]/Observation for an Observation), with the same id in URL and body on PUT.
deny_wrong_endpoint contains {"msg": msg, "expression": "exchange.body.resourceType"} if {
	input.exchange.method in {"POST", "PUT"}
	input.exchange.body.resourceType != target[1]
	msg := sprintf("a %s was sent to the %s endpoint", [input.exchange.body.resourceType, target[1]])
}

deny_wrong_endpoint contains {"msg": msg, "expression": "exchange.body.id"} if {
	input.exchange.method == "PUT"
	target[2] != ""
	object.get(input.exchange.body, "id", "") != target[2]
	msg := "the body's id differs from the id in the URL"
}

# METADATA
# title: Writes are sent as FHIR JSON
# custom:
#   id: SMART-WRITE-02
#   severity: warning
#   requirement: SMART-WRITES
#   source: FHIR R4 RESTful API
#   fix:
#     nb: Sett Content-Type til application/fhir+json.
#     en: Set Content-Type to application/fhir+json.
warn_content_type contains {"msg": msg, "expression": "exchange.headers.content-type"} if {
	input.exchange.method in {"POST", "PUT"}
	input.exchange.body.resourceType
	not fhir_json
	msg := "the request body is not sent as application/fhir+json"
}

fhir_json if {
	some v in input.exchange.headers["content-type"]
	startswith(lower(v), "application/fhir+json")
}

# METADATA
# title: Norwegian person numbers in written resources are valid
# custom:
#   id: SMART-WRITE-03
#   severity: error
#   requirement: SMART-WRITES
#   source: HL7 Norway no-basis 2.2.0
#   fix:
#     nb: Bruk gyldige fødselsnummer, D-nummer eller hjelpenummer (11 siffer med riktige kontrollsiffer) under riktig identifier.system.
#     en: Use valid fødselsnummer, D-nummer or help numbers (11 digits with correct control digits) under the right identifier.system.
deny_person_number contains {"msg": msg, "expression": fhirpath(input.resource.resourceType, path)} if {
	invalid_person_number
	walk(input.resource, [path, node])
	is_object(node)
	node.system in {"urn:oid:2.16.578.1.12.4.1.4.1", "urn:oid:2.16.578.1.12.4.1.4.2", "urn:oid:2.16.578.1.12.4.1.4.3"}
	not sandkasse.valid_national_id(node.system, object.get(node, "value", ""))
	msg := "the identifier's value is not a valid number for its system"
}

# invalid_person_number is the same search without paths: walk builds no path
# when it is not asked for one, so a resource without a bad number (nearly
# every one) is walked once and cheaply, and located only when one is found.
invalid_person_number if {
	walk(input.resource, [_, node])
	is_object(node)
	node.system in {"urn:oid:2.16.578.1.12.4.1.4.1", "urn:oid:2.16.578.1.12.4.1.4.2", "urn:oid:2.16.578.1.12.4.1.4.3"}
	not sandkasse.valid_national_id(node.system, object.get(node, "value", ""))
}
