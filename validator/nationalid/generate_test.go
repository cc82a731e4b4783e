package nationalid

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

// constRand answers every IntN with the same value, clamped to the range: a
// degenerate source that still must not hang or break the generators.
type constRand int

func (c constRand) IntN(n int) int { return min(int(c), n-1) }

func randomSpec(r *rand.Rand) Spec {
	start := time.Date(1854, 1, 1, 0, 0, 0, 0, time.UTC)
	days := int(time.Date(2039, 12, 31, 0, 0, 0, 0, time.UTC).Sub(start).Hours() / 24)
	return Spec{
		Birth:    start.AddDate(0, 0, r.IntN(days+1)),
		Sex:      Sex(r.IntN(3)),
		DNumber:  r.IntN(2) == 0,
		From2032: r.IntN(4) == 0,
	}
}

// checkGenerated asserts what every generated number must satisfy; shared with
// the fuzz test.
func checkGenerated(t *testing.T, spec Spec, s string) {
	t.Helper()
	y, m, d := spec.Birth.Date()
	if len(s) != 11 || s[2] < '8' {
		t.Fatalf("%s: not month + 80", s)
	}
	wantKind := KindTenorSynthetic
	if spec.DNumber {
		wantKind = KindTenorSyntheticDNR
	}
	for _, rs := range []RuleSet{Pre2032, From2032, AcceptEither} {
		r := Parse(s, rs)
		if spec.From2032 && rs == Pre2032 {
			if r.Reason != ReasonControlDigit1 {
				t.Fatalf("%s: 2032-rule number under Pre2032 gave %s, want control-digit-1", s, r.Reason.Code())
			}
			continue
		}
		if !r.Valid() || r.Kind != wantKind || int(r.Day) != d || int(r.Month) != int(m) || int(r.YY) != y%100 {
			t.Fatalf("%s under %s: %+v, spec %v", s, rs, r, spec)
		}
		if rs == From2032 || spec.From2032 {
			if r.Reading != Reading2032 || r.Year != 0 || r.Sex != SexUnknown {
				t.Fatalf("%s under %s: reading %s year %d sex %s, want 2032/unknown", s, rs, r.Reading, r.Year, r.Sex)
			}
			continue
		}
		if r.Reading != ReadingPre2032 || int(r.Year) != y || (spec.Sex != SexUnknown && r.Sex != spec.Sex) {
			t.Fatalf("%s under %s: year %d sex %s, spec %v", s, rs, r.Year, r.Sex, spec)
		}
	}
}

func TestSyntheticValidates(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 20000; i++ {
		spec := randomSpec(r)
		s, err := Synthetic(r, spec)
		if err != nil {
			t.Fatal(err)
		}
		checkGenerated(t, spec, s)
	}
}

func TestSyntheticDeterministic(t *testing.T) {
	gen := func() []string {
		r := rand.New(rand.NewPCG(7, 8))
		var out []string
		for i := 0; i < 200; i++ {
			s, err := Synthetic(r, randomSpec(r))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, s, SyntheticOrgNumber(r))
		}
		return out
	}
	a, b := gen(), gen()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("output %d differs between runs with the same seed", i)
		}
	}
}

// Every date in 1854-2039, each sex, FNR and DNR, and both series for
// 1940-1999 has a generatable number: this is what lets Synthetic promise
// success (constRand(0) picks the 900 series, constRand(9) the 000-499 one).
func TestSyntheticEveryDate(t *testing.T) {
	end := time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)
	n := 0
	for day := time.Date(1854, 1, 1, 0, 0, 0, 0, time.UTC); day.Before(end); day = day.AddDate(0, 0, 1) {
		for _, rnd := range []Rand{constRand(0), constRand(9)} {
			for _, sex := range []Sex{SexFemale, SexMale} {
				for _, dnr := range []bool{false, true} {
					spec := Spec{Birth: day, Sex: sex, DNumber: dnr}
					s, err := Synthetic(rnd, spec)
					if err != nil {
						t.Fatal(err)
					}
					if r := Parse(s, Pre2032); !r.Valid() || r.Sex != sex || int(r.Year) != day.Year() {
						t.Fatalf("%v: %s parsed as %+v", spec, s, r)
					}
					n++
				}
			}
		}
	}
	if n < 500000 {
		t.Fatalf("only %d dates tried", n)
	}
}

func TestSyntheticErrors(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, y := range []int{1853, 2040} {
		if _, err := SyntheticFNR(r, time.Date(y, 6, 1, 0, 0, 0, 0, time.UTC), SexFemale); !errors.Is(err, ErrBirthYear) {
			t.Errorf("year %d: err = %v, want ErrBirthYear", y, err)
		}
	}
	if _, err := SyntheticDNR(r, time.Date(1980, 6, 1, 0, 0, 0, 0, time.UTC), Sex(9)); !errors.Is(err, ErrSex) {
		t.Errorf("bad sex: err = %v, want ErrSex", err)
	}
	s, err := SyntheticDNR(r, time.Date(1980, 6, 1, 0, 0, 0, 0, time.UTC), SexMale)
	if err != nil || Parse(s, Pre2032).Kind != KindTenorSyntheticDNR || CheckerDNR.Check(s, Pre2032) != OK {
		t.Errorf("SyntheticDNR: %v, kind %s", err, Parse(s, Pre2032).Kind)
	}
}

func TestSyntheticOrgNumber(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for i := 0; i < 20000; i++ {
		s := SyntheticOrgNumber(r)
		if s[0] != '3' || CheckOrgNumber(s) != OK {
			t.Fatalf("SyntheticOrgNumber gave %s: %s", s, CheckOrgNumber(s).Code())
		}
	}
	// constRand(2) gives prefix 32222222, whose remainder is 1: the repair path.
	if s := SyntheticOrgNumber(constRand(2)); CheckOrgNumber(s) != OK || s[:7] != "3222222" {
		t.Fatalf("repair path gave %s", s)
	}
}
