package nationalid

// Identifier.system values for Norwegian identifiers (OIDs under
// 2.16.578.1.12.4.1), as used by HL7 Norway's no-basis profiles.
const (
	SystemFNR = "urn:oid:2.16.578.1.12.4.1.4.1"
	SystemDNR = "urn:oid:2.16.578.1.12.4.1.4.2"
	// SystemFHOrH: no-basis registers .4.3 as "FellesHjelpenummer" (FH), but
	// other sources use it for H-nummer. Sources disagree, so values of either
	// kind are accepted under it.
	SystemFHOrH         = "urn:oid:2.16.578.1.12.4.1.4.3"
	SystemHPR           = "urn:oid:2.16.578.1.12.4.1.4.4"
	SystemOrgNumber     = "urn:oid:2.16.578.1.12.4.1.4.101"
	SystemRESH          = "urn:oid:2.16.578.1.12.4.1.4.102"
	SystemHER           = "urn:oid:2.16.578.1.12.4.1.2"
	SystemKommunenummer = "urn:oid:2.16.578.1.12.4.1.1.3402"
)

// Checker names the syntax check that applies to an identifier system.
type Checker uint8

const (
	CheckerNone Checker = iota // system not known here: nothing to check
	CheckerFNR
	CheckerDNR
	CheckerFHOrH
	CheckerHPR
	CheckerOrgNumber
	CheckerRESH
	CheckerHER
	CheckerKommunenummer
)

var checkerNames = [...]string{
	CheckerNone:          "none",
	CheckerFNR:           "fnr",
	CheckerDNR:           "dnr",
	CheckerFHOrH:         "fh-or-hnr",
	CheckerHPR:           "hpr",
	CheckerOrgNumber:     "orgnr",
	CheckerRESH:          "resh",
	CheckerHER:           "her",
	CheckerKommunenummer: "kommunenummer",
}

func (c Checker) String() string {
	if int(c) < len(checkerNames) {
		return checkerNames[c]
	}
	return "unknown"
}

// CheckerFor tells which checker applies to an Identifier.system. FHIR system
// URIs compare exactly, so no case folding or trimming is done.
func CheckerFor(system string) Checker {
	switch system {
	case SystemFNR:
		return CheckerFNR
	case SystemDNR:
		return CheckerDNR
	case SystemFHOrH:
		return CheckerFHOrH
	case SystemHPR:
		return CheckerHPR
	case SystemOrgNumber:
		return CheckerOrgNumber
	case SystemRESH:
		return CheckerRESH
	case SystemHER:
		return CheckerHER
	case SystemKommunenummer:
		return CheckerKommunenummer
	}
	return CheckerNone
}

// Check runs the checker on an Identifier.value. rules applies to person
// numbers only. For person numbers a valid number of the wrong kind (a D-nummer
// under the FNR system, say) gives ReasonKindMismatch; use Parse for the
// details (kind, reading, birth date).
func (c Checker) Check(value string, rules RuleSet) Reason {
	switch c {
	case CheckerFNR, CheckerDNR, CheckerFHOrH:
		r := Parse(value, rules)
		if r.Reason != OK {
			return r.Reason
		}
		if !c.accepts(r.Kind) {
			return ReasonKindMismatch
		}
		return OK
	case CheckerHPR:
		return CheckHPR(value)
	case CheckerOrgNumber:
		return CheckOrgNumber(value)
	case CheckerRESH:
		return CheckRESH(value)
	case CheckerHER:
		return CheckHER(value)
	case CheckerKommunenummer:
		return CheckKommunenummer(value)
	}
	return OK
}

// accepts decides which kinds belong under a person-number system. Synthetic
// numbers are accepted under the system they imitate: whether test numbers are
// welcome is the caller's policy, readable from Kind.Synthetic.
func (c Checker) accepts(k Kind) bool {
	switch c {
	case CheckerFNR:
		// Month + 40 may be an H-nummer, which does not belong here, but may as
		// well be a NAV synthetic fødselsnummer, which does; without a way to tell,
		// rejecting it would reject NAV's test data.
		return k == KindFNR || k == KindTenorSynthetic || k == KindHOrNAVSynthetic
	case CheckerDNR:
		return k == KindDNR || k == KindTenorSyntheticDNR || k == KindDAndHOrNAVSynthetic
	case CheckerFHOrH:
		return k == KindFH || k == KindHOrNAVSynthetic
	}
	return false
}
