// Package synth generates deterministic synthetic Norwegian patient data for
// the sandbox: a municipal digital-home-follow-up (DHO) population as FHIR R4
// JSON, streamed so that any number of patients can be written without
// holding them in memory.
//
// # What is generated
//
// Shared resources first: per municipality a kommune Organization (with its
// real kommunenummer), a home-care service and a GP office (synthetic
// organisation numbers), GPs and nurses (Practitioner with synthetic HPR
// numbers, PractitionerRole), the Medication catalogue and two
// Questionnaires. Then, patient by patient: Patient (synthetic fødselsnummer,
// about 5 % D-nummer; Norwegian names; home address with real postal code,
// place and kommunenummer; GP), Conditions (COPD, type 2 diabetes, heart
// failure, hypertension, depression, cancer; SNOMED CT and ICD-10, several
// per patient), MedicationStatements, AllergyIntolerances, EpisodeOfCare
// (digital home follow-up, home nursing), CarePlans (one self-treatment plan
// per condition), and for patients in home follow-up the daily measurements
// their plans ask for (blood pressure, pulse, SpO2, weight, blood glucose,
// temperature) with noise, trends and episodes, weekly COPD and fortnightly
// PHQ-9 QuestionnaireResponses, and a DetectedIssue for each value past a red
// threshold, closed by the patient's nurse.
//
// # Identities
//
// Every person number is synthetic (month + 80, valid control digits; see
// validator/nationalid), every organisation number starts with 3 and every
// HPR number is nine digits starting with 999, outside the range issued.
// Every resource carries the HTEST ("test health data") security label.
// Names are common Norwegian names drawn at random; places and kommunenummer
// are real public facts (see data/README.md). Nothing here logs generated
// data: the code path must be safe for real identities too.
//
// # Determinism
//
// Options.Seed selects the population: each patient has its own random
// stream (PCG seeded with the seed and the patient's index), so output is
// byte-identical for the same Options whatever the number of workers, and
// patient i does not depend on what other patients drew.
//
// # Why JSON is written by hand
//
// The resources are appended to a byte buffer field by field (json.go), not
// built as google/fhir protos and marshalled with jsonformat. A year of
// measurements for 10,000 patients is millions of Observations; jsonformat's
// Marshal of one blood-pressure Observation measured about 0.5 ms here (on a
// busy machine), which would take over half an hour for that population,
// against the minute the sandbox allows, and the protobuf model would add a
// build of several minutes to every binary that seeds a tenant. The
// validator (validator/) is the check that the hand-written JSON is right:
// the tests run it over a generated population with the no-basis and VKP
// profiles loaded.
//
// # Profiles
//
// meta.profile names the profile that applies: no-basis for Patient,
// Practitioner, PractitionerRole, Organization, Medication and
// MedicationStatement; the VKP v0.9.0 vital-sign profiles for the
// Observations (blood glucose under the general VKP Observation profile, coded
// as VKP's own glucose example is), and VKP's QuestionnaireResponse profile.
// AllergyIntolerance claims no profile: no-basis fixes its reaction coding to
// Volven 7497, whose codes we do not have, so reactions are SNOMED CT.
// Conditions, CarePlans, EpisodesOfCare and DetectedIssues have no
// no-basis or VKP profile.
package synth
