package structure

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// The expressions isNumber and hasSpace replaced, from FHIR's definitions.
var numberForms = []struct {
	form numForm
	re   *regexp.Regexp
}{
	{numDecimal, regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)},
	{numInteger, regexp.MustCompile(`^-?([0]|([1-9][0-9]*))$`)},
	{numUnsigned, regexp.MustCompile(`^([0]|([1-9][0-9]*))$`)},
	{numPositive, regexp.MustCompile(`^\+?[1-9][0-9]*$`)},
}

// Every string of up to 5 characters over the alphabet numbers are made
// of, and random longer ones, get the same answer as the expressions.
func TestIsNumberMatchesTheExpressions(t *testing.T) {
	const alphabet = "0159+-.eE x\n"
	var cases []string
	var gen func(prefix string, n int)
	gen = func(prefix string, n int) {
		cases = append(cases, prefix)
		if n == 0 {
			return
		}
		for _, c := range alphabet {
			gen(prefix+string(c), n-1)
		}
	}
	gen("", 5)
	rng := rand.New(rand.NewPCG(3, 4))
	for range 50000 {
		var b strings.Builder
		for range 6 + rng.IntN(14) {
			b.WriteByte(alphabet[rng.IntN(len(alphabet))])
		}
		cases = append(cases, b.String(), "-1"+b.String(), "1.5e"+b.String())
		ws := []byte("ab:/ \t\r\n\v\f")
		rng.Shuffle(len(ws), func(i, j int) { ws[i], ws[j] = ws[j], ws[i] })
		cases = append(cases, string(ws[:1+rng.IntN(3)]))
	}
	accepted := make([]int, len(numberForms))
	for _, v := range cases {
		for k, f := range numberForms {
			got, want := isNumber(v, f.form), f.re.MatchString(v)
			if got != want {
				t.Fatalf("isNumber(%q, %d) = %v, the expression says %v", v, f.form, got, want)
			}
			if got {
				accepted[k]++
			}
		}
		if got, want := hasSpace(v), strings.ContainsAny(v, " \t\r\n"); got != want {
			t.Fatalf("hasSpace(%q) = %v, want %v", v, got, want)
		}
	}
	for k, n := range accepted {
		if n < 50 {
			t.Fatalf("form %d accepted only %d cases: the cases test little", k, n)
		}
	}
}
