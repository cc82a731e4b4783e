package nationalid

// Reason is why a value failed a check. OK means it passed.
//
// Codes and messages are stable (validator issues and tests key on them) and
// never contain the checked value: these identifiers are personal data and the
// messages end up in logs.
type Reason uint8

const (
	OK Reason = iota
	ReasonLength
	ReasonNonDigit
	ReasonDate
	ReasonControlDigit1
	ReasonControlDigit2
	ReasonIndividualNumberRange
	ReasonControlDigit
	ReasonKindMismatch
)

var reasonCodes = [...]string{
	OK:                          "ok",
	ReasonLength:                "length",
	ReasonNonDigit:              "non-digit",
	ReasonDate:                  "date",
	ReasonControlDigit1:         "control-digit-1",
	ReasonControlDigit2:         "control-digit-2",
	ReasonIndividualNumberRange: "individual-number-range",
	ReasonControlDigit:          "control-digit",
	ReasonKindMismatch:          "kind-mismatch",
}

var reasonMessages = [...]string{
	OK:           "the identifier is well formed",
	ReasonLength: "the identifier has the wrong number of characters for its type",
	ReasonNonDigit: "the identifier must consist of ASCII digits only " +
		"(no spaces, separators or signs)",
	ReasonDate: "digits 1-6 do not form a valid birth date DDMMYY " +
		"(after removing the D-number day offset of 40 and the H-number/synthetic month offset of 40 or 80)",
	ReasonControlDigit1: "the first control digit (digit 10) fails the mod-11 rule with weights 3,7,6,1,8,9,4,5,2 " +
		"for the selected rule set (before 2032: (S + k1) mod 11 = 0; from 2032: (S + k1) mod 11 in {0,1,2,3})",
	ReasonControlDigit2: "the second control digit (digit 11) fails the mod-11 rule with weights 5,4,3,2,7,6,5,4,3,2",
	ReasonIndividualNumberRange: "the individual number (digits 7-9) is not in a series used for the two-digit birth year " +
		"(1854-1899: 500-749; 1900-1999: 000-499; 1940-1999: 900-999; 2000-2039: 500-999)",
	ReasonControlDigit: "the control digit (digit 9) fails the mod-11 rule with weights 3,2,7,6,5,4,3,2 " +
		"(a remainder that would give control digit 10 is never valid)",
	ReasonKindMismatch: "the value is a valid number of another kind than the identifier system declares " +
		"(for example a D-number under the fødselsnummer system)",
}

// Code is the stable machine-readable code, e.g. "control-digit-1".
func (r Reason) Code() string {
	if int(r) < len(reasonCodes) {
		return reasonCodes[r]
	}
	return "unknown"
}

// Message is an English sentence naming the rule that failed. It never
// includes the checked value.
func (r Reason) Message() string {
	if int(r) < len(reasonMessages) {
		return reasonMessages[r]
	}
	return "unknown reason"
}

func (r Reason) String() string { return r.Code() }
