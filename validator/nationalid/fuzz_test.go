package nationalid

import (
	"math/rand/v2"
	"testing"
	"time"
)

// FuzzValidate: Parse and the checkers never panic, results hang together
// across rule sets, and a number the generator makes from the same input
// always validates.
func FuzzValidate(f *testing.F) {
	for _, s := range []string{"30108299939", "23906398699", "13527248013", "68467038838", "81234567800",
		"00000000000", "", "0101015074a", "314159265", "29020012345"} {
		f.Add(s, uint64(len(s)))
	}
	f.Fuzz(func(t *testing.T, s string, seed uint64) {
		pre, post, either := Parse(s, Pre2032), Parse(s, From2032), Parse(s, AcceptEither)
		if either.Valid() != (pre.Valid() || post.Valid()) {
			t.Fatalf("AcceptEither=%v, Pre2032=%v, From2032=%v", either.Valid(), pre.Valid(), post.Valid())
		}
		if pre.Valid() && (either.Reading != ReadingPre2032 && either.Kind != KindFH || either.Year != pre.Year || either.Sex != pre.Sex) {
			t.Fatalf("AcceptEither read a classic-valid number differently: %+v vs %+v", either, pre)
		}
		if post.Valid() && (post.Sex != SexUnknown || post.Year != 0) {
			t.Fatalf("From2032 read sex or century: %+v", post)
		}
		for _, r := range []Result{pre, post, either} {
			if r.Valid() && (len(s) != 11 || r.Kind == KindUnknown) {
				t.Fatalf("valid but malformed: %+v", r)
			}
		}
		for c := CheckerNone; c <= CheckerKommunenummer; c++ {
			_ = c.Check(s, AcceptEither).Code()
		}
		_ = CheckOrgNumber(s)

		rnd := rand.New(rand.NewPCG(seed, uint64(len(s))))
		spec := randomSpec(rnd)
		spec.Birth = spec.Birth.Add(time.Duration(seed%86400) * time.Second)
		g, err := Synthetic(rnd, spec)
		if err != nil {
			t.Fatal(err)
		}
		checkGenerated(t, spec, g)
		if o := SyntheticOrgNumber(rnd); CheckOrgNumber(o) != OK {
			t.Fatalf("generated organisation number fails: %s", o)
		}
	})
}
