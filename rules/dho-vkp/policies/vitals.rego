# METADATA
# title: DHO vital signs
# description: >-
#   Home measurements reach the EPJ as Observations that the receiving system
#   must understand without the platform's help: a code from a terminology the
#   VKP profiles name, and a UCUM unit that fits the measurement.
# scope: package
package sandkasse.dho_vkp.vitals

# observations pairs each Observation with its Bundle entry index (-1 when
# the input is the Observation itself), so the rules read the same in both
# cases; obs_path turns the index into a FHIRPath location, only for findings.
# Both are undefined on anything but an Observation or a Bundle, so the engine
# can prove the rules over them empty on exchanges and leave them out.
observations := [[input.resource, -1]] if {
	input.resource.resourceType == "Observation"
} else := [[e.resource, i] | some i, e in input.resource.entry; e.resource.resourceType == "Observation"] if {
	input.resource.resourceType == "Bundle"
}

obs_path(i) := "Observation" if i < 0

obs_path(i) := sprintf("Bundle.entry[%d].resource", [i]) if i >= 0

code_systems := {
	"http://loinc.org",
	"http://snomed.info/sct",
	"urn:oid:2.16.578.1.12.4.1.1.7280", # NPU / NLK
}

ucum := "http://unitsofmeasure.org"

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

# quantities yields each valueQuantity of an Observation and its components,
# with the code it measures and where it is: [q, code, entry, component],
# component -1 for the Observation's own value. A value without a code is not
# listed (DHO-VIT-01 reports the missing code).
quantities := array.concat(
	[[q, obs.code, i, -1] | some [obs, i] in observations; q := obs.valueQuantity; obs.code = _],
	[[q, c.code, i, j] | some [obs, i] in observations; some j, c in obs.component; q := c.valueQuantity; c.code = _],
) if observations

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
deny_code_system contains {"msg": msg, "expression": concat("", [obs_path(i), ".code"])} if {
	some [obs, i] in observations
	# object.get: a missing code must make the rule fire, not vanish.
	not known_coding(object.get(obs, "code", {}))
	msg := "Observation.code has no coding from LOINC, SNOMED CT or NPU"
}

known_coding(cc) if {
	some coding in cc.coding
	coding.system in code_systems
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
deny_ucum contains {"msg": msg, "expression": quantity_path(i, j)} if {
	some [q, _, i, j] in quantities
	not ucum_coded(q)
	msg := "the quantity's unit is not coded in UCUM (system http://unitsofmeasure.org with a code)"
}

ucum_coded(q) if {
	q.system == ucum
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
deny_unit contains {"msg": msg, "expression": concat("", [quantity_path(i, j), ".code"])} if {
	some [q, cc, i, j] in quantities
	ucum_coded(q)
	# Every LOINC code of the value's coding that the table knows constrains
	# the unit. (A function returning "the" LOINC code failed the whole
	# evaluation when a coding held two different LOINC codes.)
	some coding in cc.coding
	coding.system == "http://loinc.org"
	loinc := coding.code
	allowed := units[loinc]
	not q.code in allowed
	msg := sprintf("LOINC %s is measured in %v, not %q", [loinc, sort([u | some u in allowed]), q.code])
}

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
deny_effective contains {"msg": msg, "expression": obs_path(i)} if {
	some [obs, i] in observations
	not obs.effectiveDateTime
	not obs.effectivePeriod
	msg := "the Observation has no effectiveDateTime or effectivePeriod"
}
