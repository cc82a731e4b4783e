package terminology

import (
	"fmt"
	"regexp"
	"strings"
)

// Systems that are never shipped but common in R4 instances.
const (
	SNOMED   = "http://snomed.info/sct"
	LOINC    = "http://loinc.org"
	UCUM     = "http://unitsofmeasure.org"
	BCP47    = "urn:ietf:bcp:47"
	BCP13    = "urn:ietf:bcp:13"
	ISO3166  = "urn:iso:std:iso:3166"
	ISO4217  = "urn:iso:std:iso:4217"
	RxNorm   = "http://www.nlm.nih.gov/research/umls/rxnorm"
	ICD10    = "http://hl7.org/fhir/sid/icd-10"
	NDC      = "http://hl7.org/fhir/sid/ndc"
	CVX      = "http://hl7.org/fhir/sid/cvx"
	DICOMDCM = "http://dicom.nema.org/resources/ontology/DCM"
)

// external reports on a code whose system could not be enumerated: not
// checked, unless the code is malformed for a system whose syntax is known.
func (s *Service) external(system, code, why string) Result {
	if err := CheckSyntax(system, code); err != nil {
		return Result{Valid: false, Checked: true, DisplayOK: true, Message: err.Error()}
	}
	return Result{Valid: true, Checked: false, DisplayOK: true,
		Message: fmt.Sprintf("code %q from %s was not checked: %s", code, system, why)}
}

// CheckSyntax returns an error if code cannot be a code of system, for the
// systems whose code syntax is known without their content: SNOMED CT
// identifiers (Verhoeff check digit), LOINC codes (mod-10 check digit),
// UCUM expressions, BCP-47 language tags, MIME types, ISO 3166 and 4217
// codes. It returns nil for other systems and for codes that look right.
func CheckSyntax(system, code string) error {
	var err error
	switch system {
	case SNOMED:
		err = checkSCTID(code)
	case LOINC:
		err = checkLOINC(code)
	case UCUM:
		err = checkUCUM(code)
	case BCP47:
		if !bcp47.MatchString(code) {
			err = fmt.Errorf("is not a BCP-47 language tag")
		}
	case BCP13:
		if !mimeType.MatchString(code) {
			err = fmt.Errorf("is not a MIME type (type/subtype)")
		}
	case ISO3166:
		if !iso3166.MatchString(code) {
			err = fmt.Errorf("is not an ISO 3166 country code (2 or 3 letters or 3 digits)")
		}
	case ISO4217:
		if !iso4217.MatchString(code) {
			err = fmt.Errorf("is not an ISO 4217 currency code (3 capital letters)")
		}
	}
	if err != nil {
		return fmt.Errorf("code %q from %s %v", code, system, err)
	}
	return nil
}

var (
	// RFC 5646 langtag, private use and the irregular grandfathered tags.
	bcp47 = regexp.MustCompile(`^(?i:` +
		`([a-z]{2,3}(-[a-z]{3}){0,3}|[a-z]{4}|[a-z]{5,8})` + // language
		`(-[a-z]{4})?` + // script
		`(-([a-z]{2}|[0-9]{3}))?` + // region
		`(-([a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*` + // variants
		`(-[0-9a-wy-z](-[a-z0-9]{2,8})+)*` + // extensions
		`(-x(-[a-z0-9]{1,8})+)?)$` +
		`|^(?i:x(-[a-z0-9]{1,8})+)$` +
		`|^(?i:en-GB-oed|i-[a-z]{2,9}|sgn-[a-z]{2}-[a-z]{2,3})$`)
	mimeType = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*(\s*;\s*[A-Za-z0-9!#$&^_.+-]+=("[^"]*"|[^;\s"]+))*$`)
	iso3166  = regexp.MustCompile(`^([A-Z]{2,3}|[0-9]{3})$`)
	iso4217  = regexp.MustCompile(`^[A-Z]{3}$`)
)

// checkSCTID checks a SNOMED CT concept id. Post-coordinated expressions
// (anything not all digits) are left alone.
func checkSCTID(code string) error {
	for _, r := range code {
		if r < '0' || r > '9' {
			if strings.ContainsAny(code, ":=|+{}()") {
				return nil
			}
			return fmt.Errorf("is not a SNOMED CT identifier (digits only)")
		}
	}
	if len(code) < 6 || len(code) > 18 || code[0] == '0' {
		return fmt.Errorf("is not a SNOMED CT identifier (6 to 18 digits, no leading zero)")
	}
	if !verhoeffValid(code) {
		return fmt.Errorf("is not a SNOMED CT identifier (check digit is wrong)")
	}
	return nil
}

var (
	verhoeffD = [10][10]byte{
		{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 2, 3, 4, 0, 6, 7, 8, 9, 5},
		{2, 3, 4, 0, 1, 7, 8, 9, 5, 6}, {3, 4, 0, 1, 2, 8, 9, 5, 6, 7},
		{4, 0, 1, 2, 3, 9, 5, 6, 7, 8}, {5, 9, 8, 7, 6, 0, 4, 3, 2, 1},
		{6, 5, 9, 8, 7, 1, 0, 4, 3, 2}, {7, 6, 5, 9, 8, 2, 1, 0, 4, 3},
		{8, 7, 6, 5, 9, 3, 2, 1, 0, 4}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0},
	}
	verhoeffP = [8][10]byte{
		{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 5, 7, 6, 2, 8, 3, 0, 9, 4},
		{5, 8, 0, 3, 7, 9, 6, 1, 4, 2}, {8, 9, 1, 6, 0, 4, 3, 5, 2, 7},
		{9, 4, 5, 3, 1, 2, 6, 8, 7, 0}, {4, 2, 8, 6, 5, 7, 3, 9, 0, 1},
		{2, 7, 9, 3, 8, 0, 6, 4, 1, 5}, {7, 0, 4, 6, 9, 1, 3, 2, 5, 8},
	}
)

func verhoeffValid(digits string) bool {
	var c byte
	for i := 0; i < len(digits); i++ {
		d := digits[len(digits)-1-i] - '0'
		c = verhoeffD[c][verhoeffP[i%8][d]]
	}
	return c == 0
}

var loincRe = regexp.MustCompile(`^(L[APG])?([0-9]{1,8})-([0-9])$`)

// checkLOINC checks the form NNNNN-C (and LP/LA/LG parts and answers) and
// its mod-10 check digit.
func checkLOINC(code string) error {
	m := loincRe.FindStringSubmatch(code)
	if m == nil {
		return fmt.Errorf("is not a LOINC code (digits, a hyphen and a check digit)")
	}
	// Only plain LOINC codes are known to use this check digit; LA/LP/LG
	// parts are checked for form only.
	if m[1] == "" && luhnCheckDigit(m[2]) != m[3][0]-'0' {
		return fmt.Errorf("is not a LOINC code (check digit is wrong)")
	}
	return nil
}

// luhnCheckDigit is LOINC's "mod 10" check digit, which is Luhn's.
func luhnCheckDigit(digits string) byte {
	sum := 0
	for i := 0; i < len(digits); i++ {
		d := int(digits[len(digits)-1-i] - '0')
		if i%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return byte((10 - sum%10) % 10)
}
