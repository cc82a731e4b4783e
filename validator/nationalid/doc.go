// Package nationalid checks and generates Norwegian identifiers that show up in
// FHIR Identifier values: fødselsnummer (FNR), D-nummer, H-nummer, felles
// hjelpenummer (FH), synthetic test numbers, organisasjonsnummer, HPR, RESH,
// HER-id and kommunenummer.
//
// The package is used on the validator's hot path (every Patient.identifier) and
// by the synthetic-data generator, so parsing works on the input string in place
// and never allocates; results are small values.
//
// # Rule sets
//
// From 1 January 2032 Skatteetaten widens the first control digit: k1 may be any
// digit with (S + k1) mod 11 in {0,1,2,3}, and newly issued numbers no longer
// encode sex or century. Real material mixes old and new numbers, so the caller
// picks a [RuleSet]: [Pre2032] (classic, strict), [From2032] (new rule; sex and
// century are never read), or [AcceptEither] (valid under either; read the old
// way when the old rule holds). Every [Result] says which [Reading] it used.
//
// # Ambiguity
//
// Month + 40 is both an H-nummer (helse-internal help number) and NAV's
// synthetic test numbers (Dolly); the digits cannot tell them apart, so the
// [Kind] names both readings (e.g. [KindHOrNAVSynthetic]) instead of choosing.
//
// # Sources
//
//   - Skatteetaten, "Nye fødselsnummer og d-nummer fra 2032" (skatteetaten.no):
//     new control rule accepts remainders 0–3; systems shall no longer read sex
//     from the number.
//   - Direktoratet for e-helse, "Identifikatorer for personer" (HIS 1001): the
//     individual-number series per birth year.
//   - Norsk helsenett, "Hva er felles hjelpenummer?" (nhn.no): FH-nummer is 11
//     digits with two control digits as in a fødselsnummer, first digit 8 or 9,
//     the rest random and carrying no meaning. HL7 Norway's no-basis NamingSystem
//     "FellesHjelpenummer" (OID 2.16.578.1.12.4.1.4.3) says the same.
//   - NAV's @navikt/fnrvalidator 2.2.1 (npm) as an independent implementation to
//     compare with; see testdata/README.md.
package nationalid
