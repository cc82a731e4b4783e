// Package policy is the embedded OPA engine for rule-set policies and the
// only package that imports OPA.
//
// # Policies
//
// A policy is a Rego v1 module. Each finding rule is a partial set (`name
// contains finding if { ... }`) with a METADATA block directly above it:
//
//	# METADATA
//	# title: A journal Bundle is a document          (required)
//	# description: why the rule exists               (optional)
//	# custom:
//	#   id: DHO-DOC-01           stable; upper-case words joined by hyphens
//	#   severity: error          error | warning | information
//	#   requirement: VKP-JOURNAL a requirement id the rule set's manifest declares
//	#   source: VKP-R4 0.9.0     a specification and version, or "sandkasse"
//	#   fix:
//	#     nb: hint in Norwegian bokmål
//	#     en: hint in English
//	deny_not_document contains {"msg": msg, "expression": "Bundle.type"} if { ... }
//
// The block is decoded strictly: unknown keys, missing fields, a bad severity
// or id, a rule named deny*/warn*/violation* without a block, a block on a
// rule that is not a partial set, and duplicate ids are errors with file and
// line. Package-scoped blocks may carry title and description only.
//
// Each element of a finding rule's set is an object with "msg" (required,
// never patient data) and "expression" (optional: a FHIRPath location such as
// Bundle.entry[2].resource.code, or exchange.<field> for exchanges). It
// becomes an issue.Issue with Code and RuleID = id, the rule's severity, and
// the fix hint in the engine's language.
//
// # Capabilities
//
// Policies compile against Capabilities: OPA's builtins less network
// (http.send, net.*), the runtime (opa.runtime), the clock (time.now_ns,
// io.jwt.decode_verify, x509 verification) and randomness (rand.intn,
// uuid.rfc4122), with no network host allowed, plus two of ours:
// sandkasse.valid_national_id(system, value) and
// sandkasse.valid_org_number(value), backed by validator/nationalid. A call
// to a refused builtin is reported as "X is not allowed in rule-set policies"
// at its file:line, in policies and tests alike.
//
// # Input
//
// A policy reads one of two documents, never both:
//
//	input.resource   a FHIR R4 resource as JSON (a Bundle, an Observation …)
//	input.exchange   one recorded HTTP exchange (see Exchange):
//	  method           "POST"
//	  url              "https://vkp.test/epj/r4/974760673/Patient/_search"
//	  path             "/epj/r4/974760673/Patient/_search"
//	  query            {"name": ["value", …]}
//	  headers          {"servicecodes": ["dho"], "authorization": ["Bearer …"]}  (lower-case names)
//	  body             JSON value | {"form-field": ["value"]} | string
//	  status           200
//	  responseHeaders  like headers
//	  responseBody     like body
//	input.context    facts the runner knows that the input does not carry:
//	  scopes           ["patient/Observation.rs", …]  scopes granted to the app
//	  patient          "123"                          SMART launch patient id
//	  fhirBase         "https://epr.test/fhir"        the FHIR server's base URL
//	  serviceCodes     ["ta"]                         the VKP service of the request a resource came in
//
// # Evaluation
//
// Compile prepares one query over every finding rule; Eval is then safe for
// concurrent use and bounded by a time limit per input (WithTimeout,
// DefaultTimeout). A builtin that fails on the app's data (a token that is not
// a JWT) leaves its rule undefined rather than failing the run; a finding of
// the wrong shape or the time limit is an error: the tool's failure, never a
// finding against the app.
package policy
