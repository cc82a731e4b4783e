package nationalid

var weightsOrg = [8]uint8{3, 2, 7, 6, 5, 4, 3, 2}

// CheckOrgNumber checks a 9-digit organisasjonsnummer (Enhetsregisteret):
// digit 9 is the mod-11 control digit over digits 1-8. A prefix whose remainder
// would need control digit 10 is never issued, so no value with it is valid.
//
// VKP's official samples use 314159265, which fails this check; tolerating it is
// the job of a rule set's allowlist of known test identities, not of this
// function.
func CheckOrgNumber(s string) Reason {
	if len(s) != 9 {
		return ReasonLength
	}
	var sum uint
	for i := 0; i < 9; i++ {
		c := s[i] - '0'
		if c > 9 {
			return ReasonNonDigit
		}
		if i < 8 {
			sum += uint(weightsOrg[i]) * uint(c)
		}
	}
	if (sum+uint(s[8]-'0'))%11 != 0 {
		return ReasonControlDigit
	}
	return OK
}

// orgControlDigit returns the control digit for the first eight digits, or 10
// when that prefix cannot carry one.
func orgControlDigit(d *[9]uint8) uint8 {
	var sum uint
	for i, w := range weightsOrg {
		sum += uint(w) * uint(d[i])
	}
	return uint8((11 - sum%11) % 11)
}

// checkDigits accepts 1..max ASCII digits. HPR, RESH and HER ids are plain
// serial numbers: no public source gives them a control digit, so only the
// characters and length are checked.
func checkDigits(s string, min, max int) Reason {
	if len(s) < min || len(s) > max {
		return ReasonLength
	}
	for i := 0; i < len(s); i++ {
		if s[i]-'0' > 9 {
			return ReasonNonDigit
		}
	}
	return OK
}

// CheckHPR checks an HPR-nummer (Helsepersonellregisteret). HPR numbers are
// assigned serially and, as far as public sources go (Helsedirektoratet, NHN,
// HL7 Norway's NamingSystem), carry no control digit; checking one would be
// invention. We only require 1-9 digits: current numbers have 7-9 digits,
// but no source found says shorter ones are invalid.
func CheckHPR(s string) Reason { return checkDigits(s, 1, 9) }

// CheckRESH checks a RESH-id (Register over enheter i spesialisthelsetjenesten):
// digits only, no known control digit or fixed length.
func CheckRESH(s string) Reason { return checkDigits(s, 1, 18) }

// CheckHER checks a HER-id (NHN Adresseregisteret): digits only, assigned
// serially, no known control digit or fixed length.
func CheckHER(s string) Reason { return checkDigits(s, 1, 18) }

// CheckKommunenummer checks a kommunenummer: exactly four digits (the first two
// are the county). Whether the code exists is a terminology question for the
// code system, not a syntax check, because the list changes with every reform.
func CheckKommunenummer(s string) Reason { return checkDigits(s, 4, 4) }
