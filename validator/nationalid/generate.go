package nationalid

import (
	"errors"
	"time"
)

// Rand is the randomness the generators need; *rand.Rand from math/rand/v2
// satisfies it. The generators call only IntN, a fixed number of times per
// number, so a seeded source gives the same numbers every run.
type Rand interface{ IntN(n int) int }

// Spec describes a synthetic person number to generate.
type Spec struct {
	// Birth is the birth date; only its calendar date is used.
	Birth time.Time
	// Sex to encode; SexUnknown lets the generator pick. Ignored with From2032,
	// whose numbers carry no sex.
	Sex Sex
	// DNumber adds 40 to the day, giving a synthetic D-nummer.
	DNumber bool
	// From2032 draws k1 from the values only the 2032 rule allows and the
	// individual number from 000-999, so the number is valid under From2032 and
	// AcceptEither but never under Pre2032.
	From2032 bool
}

var (
	ErrBirthYear = errors.New("nationalid: birth year outside 1854-2039, the years the individual-number series cover")
	ErrSex       = errors.New("nationalid: sex must be SexUnknown, SexFemale or SexMale")
)

// Synthetic returns a synthetic person number: always month + 80 (Tenor's
// marker), so it cannot be a real person's number, and always passing the
// control digits of the rule it was made for.
//
// Tenor's synthetic D-numbers combine both offsets (day + 40 and month + 80);
// that is what NAV's reference validator (type "dnr-and-tnr") and NAV's own
// libraries expect. We found no Skatteetaten text stating it outright.
func Synthetic(r Rand, spec Spec) (string, error) {
	y, m, dd := spec.Birth.Date()
	if y < 1854 || y > 2039 {
		return "", ErrBirthYear
	}
	if spec.Sex > SexMale {
		return "", ErrSex
	}
	var d [11]uint8
	day := dd
	if spec.DNumber {
		day += 40
	}
	month := int(m) + 80
	yy := y % 100
	d[0], d[1] = uint8(day/10), uint8(day%10)
	d[2], d[3] = uint8(month/10), uint8(month%10)
	d[4], d[5] = uint8(yy/10), uint8(yy%10)

	if spec.From2032 {
		return finish2032(r, &d), nil
	}

	lo, hi := individualSeries(r, y)
	sex := spec.Sex
	if sex == SexUnknown {
		sex = SexFemale + Sex(r.IntN(2))
	}
	// Walk the series from a random start and take the first individual number
	// of the right parity whose control digits exist. Every date has one (the
	// tests check all of them), and the walk is bounded, so a degenerate Rand
	// cannot make it loop.
	n := hi - lo + 1
	start := r.IntN(n)
	for i := 0; i < n; i++ {
		ind := lo + (start+i)%n
		if (ind%2 == 0) != (sex == SexFemale) {
			continue
		}
		setIndividual(&d, ind)
		if controlDigits(&d, 0) {
			return digitsString(&d), nil
		}
	}
	panic("nationalid: no individual number fits; the series table is wrong")
}

// SyntheticFNR is Synthetic for a fødselsnummer under the pre-2032 rule.
func SyntheticFNR(r Rand, birth time.Time, sex Sex) (string, error) {
	return Synthetic(r, Spec{Birth: birth, Sex: sex})
}

// SyntheticDNR is Synthetic for a D-nummer under the pre-2032 rule.
func SyntheticDNR(r Rand, birth time.Time, sex Sex) (string, error) {
	return Synthetic(r, Spec{Birth: birth, Sex: sex, DNumber: true})
}

// individualSeries picks the series for the birth year. 1940-1999 may use
// 900-999 as well as 000-499; real 900-series numbers are rare, so the
// generator uses it one time in ten to keep that branch exercised.
func individualSeries(r Rand, y int) (lo, hi int) {
	switch {
	case y <= 1899:
		return 500, 749
	case y >= 2000:
		return 500, 999
	case y >= 1940 && r.IntN(10) == 0:
		return 900, 999
	}
	return 0, 499
}

func finish2032(r Rand, d *[11]uint8) string {
	start := r.IntN(1000)
	pick := r.IntN(3)
	for i := 0; i < 1000; i++ {
		setIndividual(d, (start+i)%1000)
		for j := 0; j < 3; j++ {
			// Remainders 1-3 only: remainder 0 is the classic k1, which would make
			// the number read as pre-2032 under AcceptEither.
			if controlDigits(d, uint((pick+j)%3+1)) {
				return digitsString(d)
			}
		}
	}
	panic("nationalid: no 2032 control digits fit")
}

func setIndividual(d *[11]uint8, ind int) {
	d[6], d[7], d[8] = uint8(ind/100), uint8(ind/10%10), uint8(ind%10)
}

// controlDigits sets k1 so that (S + k1) mod 11 == rem and then k2, and
// reports whether both are single digits.
func controlDigits(d *[11]uint8, rem uint) bool {
	var s1, s2 uint
	for i, w := range weightsK1 {
		s1 += uint(w) * uint(d[i])
	}
	k1 := (rem + 11 - s1%11) % 11
	if k1 == 10 {
		return false
	}
	d[9] = uint8(k1)
	for i, w := range weightsK2 {
		s2 += uint(w) * uint(d[i])
	}
	k2 := (11 - s2%11) % 11
	if k2 == 10 {
		return false
	}
	d[10] = uint8(k2)
	return true
}

func digitsString(d *[11]uint8) string {
	var b [11]byte
	for i, v := range d {
		b[i] = '0' + v
	}
	return string(b[:])
}

// SyntheticOrgNumber returns a valid organisation number starting with 3.
// Enhetsregisteret issues numbers starting with 8 or 9, so a 3-prefix cannot
// name a real organisation; Skatteetaten's Tenor test organisations appear to
// use the same 3-prefix (VKP's sample 314159265 does too), but we found no
// official statement of that convention.
func SyntheticOrgNumber(r Rand) string {
	var d [9]uint8
	d[0] = 3
	for i := 1; i < 8; i++ {
		d[i] = uint8(r.IntN(10))
	}
	k := orgControlDigit(&d)
	if k == 10 {
		// Changing digit 8 by one changes the weighted sum by 2 mod 11, which
		// moves the remainder off the one value without a control digit.
		d[7] = (d[7] + 1) % 10
		k = orgControlDigit(&d)
	}
	d[8] = k
	var b [9]byte
	for i, v := range d {
		b[i] = '0' + v
	}
	return string(b[:])
}
