package nationalid

import "testing"

func TestCheckerFor(t *testing.T) {
	tests := map[string]Checker{
		"urn:oid:2.16.578.1.12.4.1.4.1":    CheckerFNR,
		"urn:oid:2.16.578.1.12.4.1.4.2":    CheckerDNR,
		"urn:oid:2.16.578.1.12.4.1.4.3":    CheckerFHOrH,
		"urn:oid:2.16.578.1.12.4.1.4.4":    CheckerHPR,
		"urn:oid:2.16.578.1.12.4.1.4.101":  CheckerOrgNumber,
		"urn:oid:2.16.578.1.12.4.1.4.102":  CheckerRESH,
		"urn:oid:2.16.578.1.12.4.1.2":      CheckerHER,
		"urn:oid:2.16.578.1.12.4.1.1.3402": CheckerKommunenummer,
		"urn:oid:2.16.578.1.12.4.1.4.1 ":   CheckerNone, // system URIs match exactly
		"URN:OID:2.16.578.1.12.4.1.4.1":    CheckerNone,
		"http://hl7.org/fhir/sid/us-ssn":   CheckerNone,
		"":                                 CheckerNone,
	}
	for sys, want := range tests {
		if got := CheckerFor(sys); got != want {
			t.Errorf("CheckerFor(%q) = %s, want %s", sys, got, want)
		}
	}
}

func TestCheckerCheck(t *testing.T) {
	fnr := completeDate("010190")
	dnr := completeDate("410190")
	hnr := completeDate("014190")
	tenor := completeDate("018190")
	tenorD := completeDate("418190")
	fh := complete9("812345678", 0)
	tests := []struct {
		c    Checker
		in   string
		want Reason
	}{
		{CheckerFNR, fnr, OK},
		{CheckerFNR, tenor, OK},
		{CheckerFNR, hnr, OK}, // may be a NAV synthetic fødselsnummer
		{CheckerFNR, dnr, ReasonKindMismatch},
		{CheckerFNR, fh, ReasonKindMismatch},
		{CheckerFNR, "30108299939", OK},
		{CheckerDNR, dnr, OK},
		{CheckerDNR, tenorD, OK},
		{CheckerDNR, fnr, ReasonKindMismatch},
		{CheckerFHOrH, fh, OK},
		{CheckerFHOrH, hnr, OK},
		{CheckerFHOrH, fnr, ReasonKindMismatch},
		{CheckerFNR, "0101901234", ReasonLength},
		{CheckerOrgNumber, "314159265", ReasonControlDigit},
		{CheckerHPR, "9144889", OK},
		{CheckerKommunenummer, "50011", ReasonLength},
		{CheckerNone, "anything", OK},
	}
	for _, tc := range tests {
		if got := tc.c.Check(tc.in, AcceptEither); got != tc.want {
			t.Errorf("%s.Check(%s) = %s, want %s", tc.c, tc.in, got.Code(), tc.want.Code())
		}
	}
	if got := CheckerFNR.Check("30108299939", Pre2032); got != ReasonControlDigit1 {
		t.Errorf("rule set not passed through: got %s", got.Code())
	}
}
