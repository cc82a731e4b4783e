# METADATA
# title: DHO journal document shape
# description: >-
#   What a DHO platform sends to journal a closed alert: a document Bundle whose
#   entries match the kind of alert. VKP-R4 0.9.0 lists the combinations; the
#   rules below check each combination's parts rather than naming alert types,
#   because the document itself does not say which type it is.
# scope: package
package sandkasse.dho_vkp.document

# The rules read input.resource after a resourceType test of their own rather
# than through an alias rule (bundle := input.resource if ...): a reference
# through a rule is one more virtual-document look-up, and the test is one the
# evaluator's index and the engine's pruning both understand.
types := [t | some e in input.resource.entry; t := e.resource.resourceType] if input.resource.resourceType == "Bundle"

# present holds the entry types the document carries, from one pass over the
# entries; count_of is only asked where a type's number matters. present is
# undefined unless the input is a Bundle, which also lets the engine leave the
# rules that read it out of the query for exchanges.
present := {t | some t in types} if input.resource.resourceType == "Bundle"

count_of(t) := count([1 | some u in types; u == t])

# METADATA
# title: A journal Bundle is a document
# custom:
#   id: DHO-DOC-01
#   severity: error
#   requirement: VKP-JOURNAL
#   source: VKP-R4 0.9.0
#   fix:
#     nb: Send journalnotatet som en Bundle med type "document".
#     en: Send the journal note as a Bundle of type "document".
deny_not_document contains {"msg": msg, "expression": "Bundle.type"} if {
	input.resource.resourceType == "Bundle"
	input.resource.type != "document"
	msg := sprintf("Bundle.type is %q; journaling through VKP takes a document Bundle", [input.resource.type])
}

# METADATA
# title: The document starts with its Composition
# custom:
#   id: DHO-DOC-02
#   severity: error
#   requirement: VKP-JOURNAL
#   source: FHIR R4 (bdl-11)
#   fix:
#     nb: Legg Composition (sykepleierens oppfølgingsnotat) som første entry, og bare én.
#     en: Put the Composition (the nurse's follow-up note) first, and only one.
deny_composition contains {"msg": msg, "expression": "Bundle.entry[0].resource"} if {
	input.resource.resourceType == "Bundle"
	input.resource.type == "document"
	not composition_first
	msg := "a document Bundle must start with exactly one Composition"
}

composition_first if {
	types[0] == "Composition"
	not "Composition" in array.slice(types, 1, count(types))
}

# METADATA
# title: Measurements, answers and devices are journaled with the alert they close
# custom:
#   id: DHO-DOC-03
#   severity: error
#   requirement: VKP-JOURNAL
#   source: VKP-R4 0.9.0
#   fix:
#     nb: Ta med DetectedIssue for varselet som lukkes når dokumentet har Observation, QuestionnaireResponse eller Device.
#     en: Include the DetectedIssue for the alert being closed when the document carries an Observation, QuestionnaireResponse or Device.
deny_alert_missing contains {"msg": msg, "expression": "Bundle.entry"} if {
	present
	not present.DetectedIssue
	some t in ["Observation", "QuestionnaireResponse", "Device"]
	present[t]
	msg := sprintf("the document carries %s but no DetectedIssue (the alert it closes)", [t])
}

# METADATA
# title: A questionnaire alert carries its score
# custom:
#   id: DHO-DOC-04
#   severity: error
#   requirement: VKP-JOURNAL
#   source: VKP-R4 0.9.0
#   fix:
#     nb: Legg til Observation med skåren fra spørreskjemaet ved siden av QuestionnaireResponse.
#     en: Add the Observation holding the questionnaire score beside the QuestionnaireResponse.
deny_questionnaire_score contains {"msg": msg, "expression": sprintf("Bundle.entry[%d].resource", [i])} if {
	present.QuestionnaireResponse
	not present.Observation
	some i, e in input.resource.entry
	e.resource.resourceType == "QuestionnaireResponse"
	msg := "a questionnaire-response alert is journaled with an Observation holding the score"
}

# METADATA
# title: One alert per journal note
# custom:
#   id: DHO-DOC-05
#   severity: error
#   requirement: VKP-JOURNAL
#   source: sandkasse
#   fix:
#     nb: Send ett dokument per varsel som lukkes.
#     en: Send one document per alert closed.
deny_many_alerts contains {"msg": msg, "expression": "Bundle.entry"} if {
	present.DetectedIssue
	# Some type repeats: without that no type is there twice, and counting is
	# the dearer test (most documents close one alert).
	count(types) > count(present)
	n := count_of("DetectedIssue")
	n > 1
	msg := sprintf("the document closes %d alerts; VKP journal notes close one", [n])
}

# METADATA
# title: The journal note carries no data beyond its purpose
# custom:
#   id: DHO-DOC-06
#   severity: error
#   requirement: VKP-PURPOSE
#   source: sandkasse
#   fix:
#     nb: Fjern entries som ikke hører til varseltypen (bare Composition, DetectedIssue, Observation, QuestionnaireResponse og Device). Pasienten refereres med identifikator, ikke som egen ressurs.
#     en: Remove entries the alert type does not need (only Composition, DetectedIssue, Observation, QuestionnaireResponse and Device). The patient is referenced by identifier, not sent as a resource.
deny_beyond_purpose contains {"msg": msg, "expression": sprintf("Bundle.entry[%d].resource", [i])} if {
	# Entries without a resourceType give no message, hence no finding. The
	# entries a journal note may carry, from the VKP alert types (written out
	# here: a set named by a rule is one more look-up per evaluation).
	# Anything else (Patient, Condition, MedicationStatement…) is record data
	# the EPJ already has or the note does not need.
	some t in present - {"Composition", "DetectedIssue", "Observation", "QuestionnaireResponse", "Device"}
	some i, e in input.resource.entry
	e.resource.resourceType == t
	msg := sprintf("a %s does not belong in a DHO journal note", [e.resource.resourceType])
}

# METADATA
# title: A safety-alarm note carries the Device
# custom:
#   id: DHO-DOC-07
#   severity: error
#   requirement: VKP-JOURNAL
#   source: VKP-R4 0.9.0
#   fix:
#     nb: Legg til Device-ressursen for alarmen (trygghetsalarm, ServiceCodes ta).
#     en: Add the Device resource for the alarm (safety alarm, ServiceCodes ta).
deny_alarm_device contains {"msg": msg, "expression": "Bundle.entry"} if {
	# Only a journal Bundle carries the Device: on an exchange or a single
	# resource sent with the same ServiceCodes there is nothing to look for.
	input.resource.resourceType == "Bundle"
	"ta" in input.context.serviceCodes
	not present.Device
	msg := "an alarm (ServiceCodes ta) is journaled with the Device that raised it"
}
