package nationalid

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

func TestCheckOrgNumber(t *testing.T) {
	tests := []struct {
		in   string
		want Reason
	}{
		{"701730496", OK},                 // worked example from a public orgnr guide: 115 mod 11 = 5, 11 - 5 = 6
		{"314159265", ReasonControlDigit}, // VKP's official sample number fails (DOMAIN.md)
		{"974760673", OK},                 // Brønnøysundregistrene's own number
		{"974760674", ReasonControlDigit},
		{"", ReasonLength},
		{"97476067", ReasonLength},
		{"9747606730", ReasonLength},
		{"97476067x", ReasonNonDigit},
		{"974 60673", ReasonNonDigit},
	}
	for _, tc := range tests {
		if got := CheckOrgNumber(tc.in); got != tc.want {
			t.Errorf("CheckOrgNumber(%q) = %s, want %s", tc.in, got.Code(), tc.want.Code())
		}
	}
}

// A prefix whose remainder needs control digit 10 has no valid completion.
func TestOrgNumberRemainderTen(t *testing.T) {
	// 3*4 = 12 = 11 + 1: remainder 1 would need control digit 10.
	prefix := "40000000"
	for k := 0; k <= 9; k++ {
		if CheckOrgNumber(prefix+strconv.Itoa(k)) == OK {
			t.Fatalf("prefix with remainder 1 accepted control digit %d", k)
		}
	}
}

// Every 8-digit prefix has at most one valid control digit, and exactly one
// unless its remainder is 1; checked against a textbook formula on a sample.
func TestOrgNumberAgainstFormula(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	w := []int{3, 2, 7, 6, 5, 4, 3, 2}
	for i := 0; i < 20000; i++ {
		prefix := pad(r.IntN(100000000), 8)
		sum := 0
		for j, c := range prefix {
			sum += w[j] * int(c-'0')
		}
		want := 11 - sum%11
		if want == 11 {
			want = 0
		}
		valid := 0
		for k := 0; k <= 9; k++ {
			ok := CheckOrgNumber(prefix+strconv.Itoa(k)) == OK
			if ok {
				valid++
			}
			if ok != (k == want) {
				t.Fatalf("prefix %s digit %d: got %v, formula says control digit %d", prefix, k, ok, want)
			}
		}
		if (want == 10) != (valid == 0) {
			t.Fatalf("prefix %s: %d valid digits, formula %d", prefix, valid, want)
		}
	}
}

func TestRegisterIDs(t *testing.T) {
	tests := []struct {
		name string
		f    func(string) Reason
		in   string
		want Reason
	}{
		{"hpr 7 digits", CheckHPR, "9144889", OK},
		{"hpr 9 digits", CheckHPR, "565501872", OK},
		{"hpr no checksum invented", CheckHPR, "1234567", OK},
		{"hpr 10 digits", CheckHPR, "1234567890", ReasonLength},
		{"hpr empty", CheckHPR, "", ReasonLength},
		{"hpr sign", CheckHPR, "-123456", ReasonNonDigit},
		{"resh", CheckRESH, "4001031", OK},
		{"resh letter", CheckRESH, "40O1031", ReasonNonDigit},
		{"her", CheckHER, "235", OK},
		{"her empty", CheckHER, "", ReasonLength},
		{"kommunenummer", CheckKommunenummer, "5001", OK},
		{"kommunenummer Oslo", CheckKommunenummer, "0301", OK},
		{"kommunenummer 3 digits", CheckKommunenummer, "301", ReasonLength},
		{"kommunenummer letter", CheckKommunenummer, "03O1", ReasonNonDigit},
	}
	for _, tc := range tests {
		if got := tc.f(tc.in); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got.Code(), tc.want.Code())
		}
	}
}
