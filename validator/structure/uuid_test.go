package structure

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// The expression isUUID replaced, from FHIR's uuid type.
var reUUID = regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func TestIsUUIDMatchesTheExpression(t *testing.T) {
	seeds := []string{
		"urn:uuid:c757873d-ec9a-4326-a141-556f43239520",
		"urn:uuid:C757873D-EC9A-4326-A141-556F43239520",
		"urn:uuid:c757873d-ec9a-4326-a141-556f4323952",
		"urn:uuid:c757873d-ec9a-4326-a141-556f432395200",
		"urn:uuid:c757873dXec9a-4326-a141-556f43239520",
		"urn:uuid:g757873d-ec9a-4326-a141-556f43239520",
		"URN:UUID:c757873d-ec9a-4326-a141-556f43239520",
		"urn:uuid:",
		"",
		"urn:uuid:c757873d-ec9a-4326-a141-556f4323952\u212a",
		"urn:uuid:c757873d-ec9a-4326-a141-556f432395\u00c5",
	}
	alphabet := "0123456789abcdefABCDEFgG-: \u212a\u0130"
	rng := rand.New(rand.NewPCG(1, 2))
	cases := append([]string(nil), seeds...)
	for range 20000 {
		r := []rune(seeds[rng.IntN(2)])
		for range 1 + rng.IntN(2) {
			a := []rune(alphabet)
			switch i := rng.IntN(len(r)); rng.IntN(3) {
			case 0:
				r[i] = a[rng.IntN(len(a))]
			case 1:
				r = append(r[:i], r[i+1:]...)
			default:
				r = append(r[:i], append([]rune{a[rng.IntN(len(a))]}, r[i:]...)...)
			}
		}
		cases = append(cases, string(r))
	}
	valid := 0
	for _, v := range cases {
		if got, want := isUUID(v, false), reUUID.MatchString(v); got != want {
			t.Fatalf("isUUID(%q, false) = %v, the expression says %v", v, got, want)
		}
		// As checkPrimitive asks for a uri: after the prefix, in any case.
		prefixed := strings.HasPrefix(v, "urn:uuid:")
		if got, want := prefixed && isUUID(v, true), prefixed && reUUID.MatchString(strings.ToLower(v)); got != want {
			t.Fatalf("isUUID(%q, true) = %v, the expression on lower case says %v", v, got, want)
		}
		if isUUID(v, true) {
			valid++
		}
	}
	if valid < 100 {
		t.Fatalf("only %d of %d cases are valid: the mutations test little", valid, len(cases))
	}
}
