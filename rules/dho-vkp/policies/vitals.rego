# METADATA
# title: DHO vital signs
# description: >-
#   Home measurements reach the EPJ as Observations that the receiving system
#   must understand without the platform's help: a code from a terminology the
#   VKP profiles name, and a UCUM unit that fits the measurement.
# scope: package
package sandkasse.dho_vkp.vitals

# Every rule has one definition for an Observation on its own and one for
# the Observations in a Bundle, each starting with its resourceType test: the
# engine leaves the rules out of the queries for exchanges and other resource
# types, and an Observation, the input sent most, is checked directly rather
# than through a list of [observation, entry] pairs built and taken apart by
# every rule (that cost more than the checks). In a Bundle, bundle_obs maps
# an Observation's entry index to it, built once for all rules. obs_path
# turns the index (-1: the input itself) into a FHIRPath location, only for
# findings. (An object comprehension builds it with less work than a
# partial object rule.)
bundle_obs := {i: e.resource | some i, e in input.resource.entry; e.resource.resourceType == "Observation"} if input.resource.resourceType == "Bundle"

obs_path(i) := "Observation" if i < 0

obs_path(i) := sprintf("Bundle.entry[%d].resource", [i]) if i >= 0


# UCUM units for the LOINC codes of the FHIR R4 vital-signs profiles (and
# blood glucose, which DHO patients measure and Norway reports in mmol/L).
units := {
	"8310-5": {"Cel", "[degF]"},
	"29463-7": {"kg", "g", "[lb_av]"},
	"8867-4": {"/min"},
	"9279-1": {"/min"},
	"59408-5": {"%"},
	"2708-6": {"%"},
	"8480-6": {"mm[Hg]"},
	"8462-4": {"mm[Hg]"},
	"8302-2": {"cm", "[in_i]"},
	"39156-5": {"kg/m2"},
	"15074-8": {"mmol/L"},
}

# The measured values are an Observation's valueQuantity and those of its
# components; a value without a code is not checked (DHO-VIT-01 reports the
# missing code). The rules visit them where they are (own value, components,
# in a Bundle or not) rather than through a list of [value, code, entry,
# component] built for all cases (that cost more than the checks).
quantity_path(i, j) := concat("", [obs_path(i), ".valueQuantity"]) if j < 0

quantity_path(i, j) := sprintf("%s.component[%d].valueQuantity", [obs_path(i), j]) if j >= 0

# METADATA
# title: Vital signs are coded with LOINC, SNOMED CT or NPU
# custom:
#   id: DHO-VIT-01
#   severity: error
#   requirement: VKP-VITALS
#   source: VKP-R4 0.9.0
#   fix:
#     nb: Kod målingen i Observation.code med LOINC (http://loinc.org), SNOMED CT (http://snomed.info/sct) eller NPU (urn:oid:2.16.578.1.12.4.1.1.7280).
#     en: Code the measurement in Observation.code with LOINC (http://loinc.org), SNOMED CT (http://snomed.info/sct) or NPU (urn:oid:2.16.578.1.12.4.1.1.7280).
deny_code_system contains {"msg": "Observation.code has no coding from LOINC, SNOMED CT or NPU", "expression": "Observation.code"} if {
	input.resource.resourceType == "Observation"
	not known_coding(input.resource)
}

deny_code_system contains {"msg": "Observation.code has no coding from LOINC, SNOMED CT or NPU", "expression": concat("", [obs_path(i), ".code"])} if {
	input.resource.resourceType == "Bundle"
	some i, obs in bundle_obs
	not known_coding(obs)
}

# known_coding takes the Observation, not its code, so that a missing code
# makes the rule fire rather than the call vanish. One body per code system
# (LOINC, SNOMED CT, NPU / NLK): cheaper than a look-up in a set, and the
# evaluator stops at the first that holds.
known_coding(obs) if {
	some coding in obs.code.coding
	coding.system == "http://loinc.org"
	coding.code
}

known_coding(obs) if {
	some coding in obs.code.coding
	coding.system == "http://snomed.info/sct"
	coding.code
}

known_coding(obs) if {
	some coding in obs.code.coding
	coding.system == "urn:oid:2.16.578.1.12.4.1.1.7280"
	coding.code
}

# METADATA
# title: Measured values carry a UCUM unit
# custom:
#   id: DHO-VIT-02
#   severity: error
#   requirement: VKP-VITALS
#   source: VKP-R4 0.9.0
#   fix:
#     nb: Sett valueQuantity.system til http://unitsofmeasure.org og valueQuantity.code til UCUM-enheten (f.eks. mm[Hg], Cel, /min).
#     en: Set valueQuantity.system to http://unitsofmeasure.org and valueQuantity.code to the UCUM unit (e.g. mm[Hg], Cel, /min).
deny_ucum contains {"msg": "the quantity's unit is not coded in UCUM (system http://unitsofmeasure.org with a code)", "expression": "Observation.valueQuantity"} if {
	input.resource.resourceType == "Observation"
	q := input.resource.valueQuantity
	input.resource.code = _
	not ucum_coded(q)
}

deny_ucum contains {"msg": "the quantity's unit is not coded in UCUM (system http://unitsofmeasure.org with a code)", "expression": quantity_path(-1, j)} if {
	input.resource.resourceType == "Observation"
	some j, c in input.resource.component
	q := c.valueQuantity
	c.code = _
	not ucum_coded(q)
}

deny_ucum contains {"msg": "the quantity's unit is not coded in UCUM (system http://unitsofmeasure.org with a code)", "expression": quantity_path(i, -1)} if {
	input.resource.resourceType == "Bundle"
	some i, obs in bundle_obs
	q := obs.valueQuantity
	obs.code = _
	not ucum_coded(q)
}

deny_ucum contains {"msg": "the quantity's unit is not coded in UCUM (system http://unitsofmeasure.org with a code)", "expression": quantity_path(i, j)} if {
	input.resource.resourceType == "Bundle"
	some i, obs in bundle_obs
	some j, c in obs.component
	q := c.valueQuantity
	c.code = _
	not ucum_coded(q)
}

ucum_coded(q) if {
	q.system == "http://unitsofmeasure.org"
	is_string(q.code)
	q.code != ""
}

# METADATA
# title: The unit fits the vital sign
# custom:
#   id: DHO-VIT-03
#   severity: error
#   requirement: VKP-VITALS
#   source: FHIR R4 (vital signs profiles)
#   fix:
#     nb: Bruk enheten målingen er definert med, f.eks. mm[Hg] for blodtrykk, Cel for temperatur, kg for vekt, /min for puls og % for oksygenmetning.
#     en: Use the unit the measurement is defined with, e.g. mm[Hg] for blood pressure, Cel for temperature, kg for weight, /min for heart rate and % for oxygen saturation.
deny_unit contains {"msg": unit_msg(loinc, q), "expression": "Observation.valueQuantity.code"} if {
	input.resource.resourceType == "Observation"
	q := input.resource.valueQuantity
	# Every LOINC code of the value's coding that the table knows constrains
	# the unit. (A function returning "the" LOINC code failed the whole
	# evaluation when a coding held two different LOINC codes.) The unit test
	# comes before ucum_coded, which a unit the table allows implies: a good
	# value fails the body one call sooner.
	some coding in input.resource.code.coding
	coding.system == "http://loinc.org"
	loinc := coding.code
	allowed := units[loinc]
	not allowed[q.code]
	ucum_coded(q)
}

deny_unit contains {"msg": unit_msg(loinc, q), "expression": concat("", [quantity_path(-1, j), ".code"])} if {
	input.resource.resourceType == "Observation"
	some j, c in input.resource.component
	q := c.valueQuantity
	some coding in c.code.coding
	coding.system == "http://loinc.org"
	loinc := coding.code
	allowed := units[loinc]
	not allowed[q.code]
	ucum_coded(q)
}

deny_unit contains {"msg": unit_msg(loinc, q), "expression": concat("", [quantity_path(i, -1), ".code"])} if {
	input.resource.resourceType == "Bundle"
	some i, obs in bundle_obs
	q := obs.valueQuantity
	some coding in obs.code.coding
	coding.system == "http://loinc.org"
	loinc := coding.code
	allowed := units[loinc]
	not allowed[q.code]
	ucum_coded(q)
}

deny_unit contains {"msg": unit_msg(loinc, q), "expression": concat("", [quantity_path(i, j), ".code"])} if {
	input.resource.resourceType == "Bundle"
	some i, obs in bundle_obs
	some j, c in obs.component
	q := c.valueQuantity
	some coding in c.code.coding
	coding.system == "http://loinc.org"
	loinc := coding.code
	allowed := units[loinc]
	not allowed[q.code]
	ucum_coded(q)
}

unit_msg(loinc, q) := sprintf("LOINC %s is measured in %v, not %q", [loinc, sort([u | some u in units[loinc]]), q.code])

# METADATA
# title: A measurement says when it was taken
# custom:
#   id: DHO-VIT-04
#   severity: error
#   requirement: VKP-VITALS
#   source: FHIR R4 (vital signs profiles, vs-1)
#   fix:
#     nb: Sett effectiveDateTime (eller effectivePeriod) til tidspunktet pasienten tok målingen.
#     en: Set effectiveDateTime (or effectivePeriod) to when the patient took the measurement.
deny_effective contains {"msg": "the Observation has no effectiveDateTime or effectivePeriod", "expression": "Observation"} if {
	input.resource.resourceType == "Observation"
	not input.resource.effectiveDateTime
	not input.resource.effectivePeriod
}

deny_effective contains {"msg": "the Observation has no effectiveDateTime or effectivePeriod", "expression": obs_path(i)} if {
	input.resource.resourceType == "Bundle"
	some i, obs in bundle_obs
	not obs.effectiveDateTime
	not obs.effectivePeriod
}
