package nationalid

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseTable(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		rules  RuleSet
		reason Reason
		kind   Kind
		year   int // 0: unknown
		sex    Sex
	}{
		// DOMAIN.md: valid only under the 2032 rule.
		{"2032 example, classic", "30108299939", Pre2032, ReasonControlDigit1, KindFNR, 0, SexUnknown},
		{"2032 example, 2032", "30108299939", From2032, OK, KindFNR, 0, SexUnknown},
		{"2032 example, either", "30108299939", AcceptEither, OK, KindFNR, 0, SexUnknown},
		// Skatteetaten's published Folkeregister test persons (month + 80).
		{"tenor test person", "23906398699", Pre2032, OK, KindTenorSynthetic, 1963, SexFemale},
		{"tenor test person 2", "24856399504", AcceptEither, OK, KindTenorSynthetic, 1963, SexMale},
		{"tenor test person 3", "13873249565", Pre2032, OK, KindTenorSynthetic, 1932, SexMale},
		// NAV README examples.
		{"nav hnr", "13527248013", Pre2032, OK, KindHOrNAVSynthetic, 1972, SexFemale},
		{"nav dnr-and-hnr", "68467038838", Pre2032, OK, KindDAndHOrNAVSynthetic, 1970, SexFemale},
		{"nav tnr", "10915596784", Pre2032, OK, KindTenorSynthetic, 1955, SexMale},
		{"nav 12345678910 (month 34)", "12345678910", AcceptEither, ReasonDate, KindUnknown, 0, SexUnknown},
		// Control digit 0 (remainder 0 → 11 → 0).
		{"k2 zero", "01010150740", Pre2032, OK, KindFNR, 2001, SexMale},
		{"k1 zero", "01010150902", Pre2032, OK, KindFNR, 2001, SexMale},
		// Date and structure.
		{"day and month zero", "00000000191", AcceptEither, ReasonDate, KindUnknown, 0, SexUnknown},
		{"month 13", complete9("011399123", 0), AcceptEither, ReasonDate, KindUnknown, 0, SexUnknown},
		{"month 71 (official test person breaks rules)", complete9("017199123", 0), AcceptEither, ReasonDate, KindUnknown, 0, SexUnknown},
		{"31 April", complete9("310499123", 0), AcceptEither, ReasonDate, KindFNR, 0, SexUnknown},
		{"D 31 April", complete9("710499123", 0), AcceptEither, ReasonDate, KindDNR, 0, SexUnknown},
		{"29.02.2000", complete9("290200500", 0), Pre2032, OK, KindFNR, 2000, SexFemale},
		{"29.02.1900 classic", complete9("290200123", 0), Pre2032, ReasonDate, KindFNR, 0, SexUnknown},
		// Either reads it as a 2032 number: some century makes 29.02.00 a leap day.
		{"29.02.1900 either", complete9("290200123", 0), AcceptEither, OK, KindFNR, 0, SexUnknown},
		{"29.02.1996 D", complete9("690296123", 0), Pre2032, OK, KindDNR, 1996, SexMale},
		{"29.02.97 2032", complete9("290297123", 1), From2032, ReasonDate, KindFNR, 0, SexUnknown},
		// Individual-number series.
		{"1854", complete9("010154500", 0), Pre2032, OK, KindFNR, 1854, SexFemale},
		{"500 with 53", complete9("010153500", 0), Pre2032, ReasonIndividualNumberRange, KindFNR, 0, SexUnknown},
		{"500 with 53 either", complete9("010153500", 0), AcceptEither, OK, KindFNR, 0, SexUnknown},
		{"750 with 40", complete9("010140750", 0), Pre2032, ReasonIndividualNumberRange, KindFNR, 0, SexUnknown},
		{"900 with 40", complete9("010140905", 0), Pre2032, OK, KindFNR, 1940, SexMale},
		{"999 with 39", complete9("010139999", 0), Pre2032, OK, KindFNR, 2039, SexMale},
		// 2032 rule ignores series and sex.
		{"2032 rem 3", complete9("010153750", 3), From2032, OK, KindFNR, 0, SexUnknown},
		{"2032 rem 3 classic", complete9("010153750", 3), Pre2032, ReasonControlDigit1, KindFNR, 0, SexUnknown},
		{"2032 read of a classic number", complete9("010101507", 0), From2032, OK, KindFNR, 0, SexUnknown},
		// FH.
		{"fh", complete9("812345678", 0), AcceptEither, OK, KindFH, 0, SexUnknown},
		{"fh 2032 k1 stays classic", complete9("912345670", 2), From2032, ReasonControlDigit1, KindFH, 0, SexUnknown},
		// Characters and length.
		{"empty", "", AcceptEither, ReasonLength, KindUnknown, 0, SexUnknown},
		{"10 digits", "0101015074", AcceptEither, ReasonLength, KindUnknown, 0, SexUnknown},
		{"12 digits", "010101507400", AcceptEither, ReasonLength, KindUnknown, 0, SexUnknown},
		{"letter", "0101015074a", AcceptEither, ReasonNonDigit, KindUnknown, 0, SexUnknown},
		{"space", " 1010150740", AcceptEither, ReasonNonDigit, KindUnknown, 0, SexUnknown},
		{"fullwidth digit is 13 bytes", "０1010150740", AcceptEither, ReasonLength, KindUnknown, 0, SexUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Parse(tc.in, tc.rules)
			if r.Reason != tc.reason {
				t.Fatalf("reason = %s, want %s", r.Reason.Code(), tc.reason.Code())
			}
			if r.Kind != tc.kind {
				t.Errorf("kind = %s, want %s", r.Kind, tc.kind)
			}
			if int(r.Year) != tc.year || r.Sex != tc.sex {
				t.Errorf("year, sex = %d, %s; want %d, %s", r.Year, r.Sex, tc.year, tc.sex)
			}
			if r.Valid() {
				want := ReadingPre2032
				if tc.year == 0 {
					want = Reading2032
				}
				if tc.kind == KindFH {
					want = ReadingNone
				}
				if r.Reading != want {
					t.Errorf("reading = %s, want %s", r.Reading, want)
				}
			}
		})
	}
}

func TestBirthDate(t *testing.T) {
	y, m, d, ok := Parse("23906398699", Pre2032).BirthDate()
	if !ok || y != 1963 || m != 10 || d != 23 {
		t.Fatalf("BirthDate = %d-%d-%d %v, want 1963-10-23 true", y, m, d, ok)
	}
	if _, _, _, ok := Parse("30108299939", AcceptEither).BirthDate(); ok {
		t.Fatal("a 2032-rule number must not report a full birth date")
	}
	if _, _, _, ok := Parse("30108299939", Pre2032).BirthDate(); ok {
		t.Fatal("an invalid number must not report a birth date")
	}
}

func TestKindQuestions(t *testing.T) {
	cases := []struct {
		k         Kind
		d, h      bool
		synthetic Certainty
	}{
		{KindFNR, false, false, No},
		{KindDNR, true, false, No},
		{KindHOrNAVSynthetic, false, true, Maybe},
		{KindDAndHOrNAVSynthetic, true, true, Maybe},
		{KindTenorSynthetic, false, false, Yes},
		{KindTenorSyntheticDNR, true, false, Yes},
		{KindFH, false, false, No},
	}
	for _, c := range cases {
		if c.k.IsDNumber() != c.d || c.k.MaybeHNumber() != c.h || c.k.Synthetic() != c.synthetic {
			t.Errorf("%s: D=%v H=%v synthetic=%s", c.k, c.k.IsDNumber(), c.k.MaybeHNumber(), c.k.Synthetic())
		}
	}
}

func TestReasonsNeverEchoInput(t *testing.T) {
	for r := OK; r <= ReasonKindMismatch; r++ {
		if r.Code() == "unknown" || r.Message() == "unknown reason" {
			t.Errorf("reason %d has no code or message", r)
		}
		if strings.ContainsAny(r.Code(), " \t") {
			t.Errorf("code %q has blanks", r.Code())
		}
	}
	// Every reason Parse can return comes from the fixed table, so no input can
	// reach a message; check the strongest form: a number is never in any text.
	for _, in := range []string{"30108299939", "0101015074a", "99999999999"} {
		for _, rs := range []RuleSet{Pre2032, From2032, AcceptEither} {
			r := Parse(in, rs).Reason
			if strings.Contains(r.Message(), in) || strings.Contains(r.Code(), in) {
				t.Errorf("reason for input leaks it")
			}
		}
	}
}

// complete9 appends k1 with (S + k1) mod 11 == rem and the matching k2, the way
// Skatteetaten's text describes it; it panics when either would be 10, so a
// table entry that cannot exist is caught at once.
func complete9(nine string, rem int) string {
	s, ok := tryComplete(nine, rem)
	if !ok {
		panic("complete9: a control digit would be 10 for " + nine)
	}
	return s
}

// completeDate finds the first individual number from 100 up that completes a
// six-digit date prefix under the classic rule.
func completeDate(six string) string {
	for ind := 100; ind < 500; ind++ {
		if s, ok := tryComplete(six+pad(ind, 3), 0); ok {
			return s
		}
	}
	panic("completeDate: none for " + six)
}

func tryComplete(nine string, rem int) (string, bool) {
	w1 := []int{3, 7, 6, 1, 8, 9, 4, 5, 2}
	w2 := []int{5, 4, 3, 2, 7, 6, 5, 4, 3, 2}
	s := 0
	for i, w := range w1 {
		s += w * int(nine[i]-'0')
	}
	k1 := ((rem-s)%11 + 11) % 11
	if k1 == 10 {
		return "", false
	}
	ten := nine + strconv.Itoa(k1)
	s = 0
	for i, w := range w2 {
		s += w * int(ten[i]-'0')
	}
	k2 := 11 - s%11
	if k2 == 11 {
		k2 = 0
	}
	if k2 == 10 {
		return "", false
	}
	return ten + strconv.Itoa(k2), true
}

// refParse is a second, deliberately different implementation of the rules in
// DOMAIN.md: strconv for the fields, time.Date round trips for the calendar,
// the textbook k = 11 - (S mod 11) formulas and a table of series.
func refParse(s string, rules RuleSet) (ok bool, kind Kind, year int, sex Sex) {
	if len(s) != 11 {
		return
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return
		}
	}
	n := func(i, j int) int { v, _ := strconv.Atoi(s[i:j]); return v }
	dig := func(i int) int { return int(s[i] - '0') }
	w1 := []int{3, 7, 6, 1, 8, 9, 4, 5, 2}
	w2 := []int{5, 4, 3, 2, 7, 6, 5, 4, 3, 2}
	sum1, sum2 := 0, 0
	for i := range w1 {
		sum1 += w1[i] * dig(i)
	}
	for i := range w2 {
		sum2 += w2[i] * dig(i)
	}
	k2 := 11 - sum2%11
	if k2 == 11 {
		k2 = 0
	}
	k2ok := k2 == dig(10)
	classicK1 := 11 - sum1%11
	if classicK1 == 11 {
		classicK1 = 0
	}
	k1ok2032 := false
	for rest := 0; rest <= 3; rest++ {
		k := (11 + rest - sum1%11) % 11
		if k != 10 && k == dig(9) {
			k1ok2032 = true
		}
	}
	if dig(0) >= 8 {
		return classicK1 == dig(9) && k2ok, KindFH, 0, SexUnknown
	}
	day, month, yy, ind := n(0, 2), n(2, 4), n(4, 6), n(6, 9)
	d := day > 40
	if d {
		day -= 40
	}
	switch {
	case month > 80:
		month -= 80
		kind = map[bool]Kind{false: KindTenorSynthetic, true: KindTenorSyntheticDNR}[d]
	case month > 40:
		month -= 40
		kind = map[bool]Kind{false: KindHOrNAVSynthetic, true: KindDAndHOrNAVSynthetic}[d]
	default:
		kind = map[bool]Kind{false: KindFNR, true: KindDNR}[d]
	}
	if month < 1 || month > 12 || day < 1 {
		return false, kind, 0, SexUnknown
	}
	real := func(y int) bool {
		t := time.Date(y, time.Month(month), day, 0, 0, 0, 0, time.UTC)
		return t.Day() == day && int(t.Month()) == month
	}
	series := []struct{ lo, hi, from, to int }{
		{500, 749, 1854, 1899}, {0, 499, 1900, 1999}, {900, 999, 1940, 1999}, {500, 999, 2000, 2039},
	}
	classic := func() (bool, int) {
		if classicK1 != dig(9) || !k2ok {
			return false, 0
		}
		for _, c := range []int{1800, 1900, 2000} {
			y := c + yy
			for _, sr := range series {
				if ind >= sr.lo && ind <= sr.hi && y >= sr.from && y <= sr.to && real(y) {
					return true, y
				}
			}
		}
		return false, 0
	}
	v2032 := func() bool { return k1ok2032 && k2ok && (real(1900+yy) || real(2000+yy)) }
	sexOf := func() Sex {
		if ind%2 == 0 {
			return SexFemale
		}
		return SexMale
	}
	switch rules {
	case Pre2032:
		if ok, y := classic(); ok {
			return true, kind, y, sexOf()
		}
		return false, kind, 0, SexUnknown
	case From2032:
		return v2032(), kind, 0, SexUnknown
	}
	if ok, y := classic(); ok {
		return true, kind, y, sexOf()
	}
	return v2032(), kind, 0, SexUnknown
}

// TestAgainstReference compares Parse with refParse on numbers built to hit
// every branch: all kinds, all series boundaries, classic and 2032 k1, leap days.
func TestAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	days := []int{1, 28, 29, 30, 31, 0, 32}
	checked, valid := 0, 0
	for i := 0; i < 200000; i++ {
		day := days[r.IntN(len(days))]
		if r.IntN(2) == 0 {
			day = 1 + r.IntN(31)
		}
		day += []int{0, 40}[r.IntN(2)]
		month := 1 + r.IntN(12)
		if r.IntN(20) == 0 {
			month = r.IntN(14)
		}
		month += []int{0, 40, 80}[r.IntN(3)]
		first := day / 10
		if r.IntN(30) == 0 {
			first = 8 + r.IntN(2)
		}
		nine := strconv.Itoa(first) + strconv.Itoa(day%10) + pad(month, 2) + pad(r.IntN(100), 2) + pad(r.IntN(1000), 3)
		if len(nine) != 9 {
			continue
		}
		s, ok := tryComplete(nine, r.IntN(4)*r.IntN(2))
		if !ok {
			s = nine + pad(r.IntN(100), 2) // no control digit exists: random ones
		}
		if r.IntN(20) == 0 {
			k := r.IntN(11)
			s = s[:k] + strconv.Itoa(r.IntN(10)) + s[k+1:]
		}
		for _, rs := range []RuleSet{Pre2032, From2032, AcceptEither} {
			got := Parse(s, rs)
			ok, kind, year, sex := refParse(s, rs)
			checked++
			if got.Valid() != ok {
				t.Fatalf("%s under %s: Parse valid=%v (%s), reference valid=%v", s, rs, got.Valid(), got.Reason, ok)
			}
			if !ok {
				continue
			}
			valid++
			if got.Kind != kind || int(got.Year) != year || got.Sex != sex {
				t.Fatalf("%s under %s: Parse %s/%d/%s, reference %s/%d/%s", s, rs, got.Kind, got.Year, got.Sex, kind, year, sex)
			}
		}
	}
	if valid < checked/4 {
		t.Fatalf("only %d of %d checks were on valid numbers; the generator lost its aim", valid, checked)
	}
}

func pad(n, w int) string {
	s := strconv.Itoa(n)
	for len(s) < w {
		s = "0" + s
	}
	return s
}
