package nationalid

// RuleSet selects the control-digit rule. The zero value is AcceptEither
// because material in the wild mixes numbers issued before and after 2032.
type RuleSet uint8

const (
	// AcceptEither accepts a number valid under Pre2032 or From2032. When the
	// pre-2032 rule holds in full, sex and century are read from it; a number
	// issued after 2032 whose k1 happens to be the classic value is then misread,
	// which no rule set can avoid without the register.
	AcceptEither RuleSet = iota
	// Pre2032 is the classic rule: one valid k1, individual-number series must
	// fit the year, sex and century are read from the individual number.
	Pre2032
	// From2032 accepts four k1 values and never reads sex or century, following
	// Skatteetaten's advice that systems shall stop reading sex from the number.
	From2032
)

func (rs RuleSet) String() string {
	switch rs {
	case AcceptEither:
		return "accept-either"
	case Pre2032:
		return "pre-2032"
	case From2032:
		return "from-2032"
	}
	return "unknown"
}

// Reading says how a valid number was interpreted.
type Reading uint8

const (
	ReadingNone    Reading = iota // invalid, or a kind that encodes nothing (FH)
	ReadingPre2032                // sex and century read from the individual number
	Reading2032                   // sex and century not encoded
)

func (r Reading) String() string {
	switch r {
	case ReadingPre2032:
		return "pre-2032"
	case Reading2032:
		return "2032"
	}
	return "none"
}

// Sex as encoded in a pre-2032 number: the third individual digit is even for
// female, odd for male.
type Sex uint8

const (
	SexUnknown Sex = iota
	SexFemale
	SexMale
)

func (s Sex) String() string {
	switch s {
	case SexFemale:
		return "female"
	case SexMale:
		return "male"
	}
	return "unknown"
}

// Kind is the shape of an 11-digit person number, taken from its date digits
// alone. Where the digits allow two readings the Kind names both.
type Kind uint8

const (
	KindUnknown Kind = iota // length, characters or date digits fit no known kind
	// KindFNR is a fødselsnummer: plain DDMMYY.
	KindFNR
	// KindDNR is a D-nummer: day + 40.
	KindDNR
	// KindHOrNAVSynthetic has month + 40: an H-nummer, or a NAV (Dolly)
	// synthetic fødselsnummer. The digits cannot tell which.
	KindHOrNAVSynthetic
	// KindDAndHOrNAVSynthetic has day + 40 and month + 40: a NAV synthetic
	// D-nummer, or a D-nummer carrying the H offset (NAV's own validator calls
	// this "dnr-and-hnr"). The digits cannot tell which.
	KindDAndHOrNAVSynthetic
	// KindTenorSynthetic has month + 80: a Skatteetaten/Tenor synthetic
	// fødselsnummer. Never a real person's number.
	KindTenorSynthetic
	// KindTenorSyntheticDNR has day + 40 and month + 80: a Tenor synthetic
	// D-nummer.
	KindTenorSyntheticDNR
	// KindFH is a felles hjelpenummer from Norsk helsenett: first digit 8 or 9,
	// the other nine digits random, two control digits. It carries no date or sex.
	KindFH
)

var kindNames = [...]string{
	KindUnknown:             "unknown",
	KindFNR:                 "fnr",
	KindDNR:                 "dnr",
	KindHOrNAVSynthetic:     "hnr-or-nav-synthetic",
	KindDAndHOrNAVSynthetic: "dnr-and-hnr-or-nav-synthetic-dnr",
	KindTenorSynthetic:      "tenor-synthetic",
	KindTenorSyntheticDNR:   "tenor-synthetic-dnr",
	KindFH:                  "fh",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// IsDNumber reports whether the day carries the D-number offset.
func (k Kind) IsDNumber() bool {
	return k == KindDNR || k == KindDAndHOrNAVSynthetic || k == KindTenorSyntheticDNR
}

// MaybeHNumber reports whether the number can be read as an H-nummer.
func (k Kind) MaybeHNumber() bool {
	return k == KindHOrNAVSynthetic || k == KindDAndHOrNAVSynthetic
}

// Synthetic says whether the number is a test number: Yes for Tenor's month +
// 80, Maybe for month + 40 (NAV synthetic or H-nummer), No otherwise.
func (k Kind) Synthetic() Certainty {
	switch k {
	case KindTenorSynthetic, KindTenorSyntheticDNR:
		return Yes
	case KindHOrNAVSynthetic, KindDAndHOrNAVSynthetic:
		return Maybe
	}
	return No
}

// Certainty is a three-valued answer for questions the digits cannot always
// settle.
type Certainty uint8

const (
	No Certainty = iota
	Maybe
	Yes
)

func (c Certainty) String() string {
	switch c {
	case Maybe:
		return "maybe"
	case Yes:
		return "yes"
	}
	return "no"
}

// Result is what Parse found. It holds no part of the input string, so keeping
// or logging it keeps no personal number.
type Result struct {
	Kind    Kind
	Reason  Reason  // OK when valid
	Reading Reading // how a valid number was read
	// Day and Month are the birth date with offsets removed; zero for FH.
	Day, Month uint8
	// YY is the two-digit birth year; Year the full year, zero when the century
	// cannot be read (2032 reading, FH) or the number is invalid.
	YY   uint8
	Year uint16
	Sex  Sex
}

// Valid reports whether the number passed every check of the rule set.
func (r Result) Valid() bool { return r.Reason == OK }

// BirthDate returns the birth date when the number encodes the full date.
func (r Result) BirthDate() (year, month, day int, ok bool) {
	if r.Reason != OK || r.Year == 0 {
		return 0, 0, 0, false
	}
	return int(r.Year), int(r.Month), int(r.Day), true
}

// Weights from Skatteetaten's definition; k1 and k2 themselves take weight 1,
// so a valid number makes each full weighted sum divisible by 11.
var (
	weightsK1 = [9]uint8{3, 7, 6, 1, 8, 9, 4, 5, 2}
	weightsK2 = [10]uint8{5, 4, 3, 2, 7, 6, 5, 4, 3, 2}
)

// Parse classifies and checks an 11-digit person number under rules. It does
// not trim: a value with spaces is a data error the validator should report.
func Parse(s string, rules RuleSet) Result {
	var res Result
	if len(s) != 11 {
		res.Reason = ReasonLength
		return res
	}
	var d [11]uint8
	var s1, s2 uint
	for i := 0; i < 11; i++ {
		c := s[i] - '0'
		if c > 9 {
			res.Reason = ReasonNonDigit
			return res
		}
		d[i] = c
		s1 += uint(sumWeights1[i]) * uint(c)
		s2 += uint(sumWeights2[i]) * uint(c)
	}
	return parseDigits(&d, s1%11, s2%11 == 0, rules)
}

// sumWeights1 and sumWeights2 extend the control-digit weights with weight 1
// for the control digit itself (and 0 past it), so one pass over the input
// gives both full sums.
var (
	sumWeights1 = [11]uint8{3, 7, 6, 1, 8, 9, 4, 5, 2, 1, 0}
	sumWeights2 = [11]uint8{5, 4, 3, 2, 7, 6, 5, 4, 3, 2, 1}
)

// parseDigits interprets digits whose full k1 sum leaves remainder rem1 and
// whose full k2 sum is divisible by 11 when k2ok.
func parseDigits(d *[11]uint8, rem1 uint, k2ok bool, rules RuleSet) Result {
	var res Result
	if d[0] >= 8 {
		// FH numbers are NHN's, not Skatteetaten's: the 2032 widening of k1 is
		// not documented for them, so they keep the classic rule under every set.
		res.Kind = KindFH
		switch {
		case rem1 != 0:
			res.Reason = ReasonControlDigit1
		case !k2ok:
			res.Reason = ReasonControlDigit2
		}
		return res
	}

	day := d[0]*10 + d[1]
	month := d[2]*10 + d[3]
	yy := d[4]*10 + d[5]
	dnr := d[0] >= 4
	if dnr {
		day -= 40
	}
	var monthOff uint8
	switch {
	case month >= 1 && month <= 12:
	case month >= 41 && month <= 52:
		monthOff = 40
	case month >= 81 && month <= 92:
		monthOff = 80
	default:
		res.Reason = ReasonDate
		return res
	}
	month -= monthOff
	res.Kind = kindOf(dnr, monthOff)
	if day == 0 || day > daysIn[month] {
		res.Reason = ReasonDate
		return res
	}
	res.Day, res.Month, res.YY = day, month, yy

	leapDay := month == 2 && day == 29
	switch rules {
	case Pre2032:
		res.Reason = classicCheck(d, rem1, k2ok, leapDay, &res)
		if res.Reason == OK {
			res.Reading = ReadingPre2032
		}
	case From2032:
		res.Reason = check2032(rem1, k2ok, leapDay, yy)
		if res.Reason == OK {
			res.Reading = Reading2032
		}
	default:
		if classicCheck(d, rem1, k2ok, leapDay, &res) == OK {
			res.Reading = ReadingPre2032
		} else {
			res.Reason = check2032(rem1, k2ok, leapDay, yy)
			if res.Reason == OK {
				res.Reading = Reading2032
			}
		}
	}
	if res.Reading == ReadingPre2032 {
		if d[8]%2 == 0 {
			res.Sex = SexFemale
		} else {
			res.Sex = SexMale
		}
	}
	return res
}

// classicCheck applies the pre-2032 rule and, on success, sets res.Year.
func classicCheck(d *[11]uint8, rem1 uint, k2ok, leapDay bool, res *Result) Reason {
	if rem1 != 0 {
		return ReasonControlDigit1
	}
	if !k2ok {
		return ReasonControlDigit2
	}
	ind := uint(d[6])*100 + uint(d[7])*10 + uint(d[8])
	year := centuryYear(ind, uint(res.YY))
	if year == 0 {
		return ReasonIndividualNumberRange
	}
	if leapDay && !isLeap(year) {
		return ReasonDate
	}
	res.Year = uint16(year)
	return OK
}

// check2032 applies the 2032 rule. The century is unknown, so 29 February
// stands when some century makes it a leap day: any YY divisible by 4 (00 via
// 2000).
func check2032(rem1 uint, k2ok, leapDay bool, yy uint8) Reason {
	if rem1 > 3 {
		return ReasonControlDigit1
	}
	if !k2ok {
		return ReasonControlDigit2
	}
	if leapDay && yy%4 != 0 {
		return ReasonDate
	}
	return OK
}

func kindOf(dnr bool, monthOff uint8) Kind {
	switch monthOff {
	case 40:
		if dnr {
			return KindDAndHOrNAVSynthetic
		}
		return KindHOrNAVSynthetic
	case 80:
		if dnr {
			return KindTenorSyntheticDNR
		}
		return KindTenorSynthetic
	}
	if dnr {
		return KindDNR
	}
	return KindFNR
}

// February allows 29 here; the leap-year check needs the century and comes later.
var daysIn = [13]uint8{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

// centuryYear maps an individual number and two-digit year to the full birth
// year by the series in Skatteetaten's table; 0 when no series fits.
func centuryYear(ind, yy uint) uint {
	switch {
	case ind <= 499:
		return 1900 + yy
	case ind <= 749 && yy >= 54:
		return 1800 + yy
	case ind >= 900 && yy >= 40:
		return 1900 + yy
	case yy <= 39:
		return 2000 + yy
	}
	return 0
}

func isLeap(y uint) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }
