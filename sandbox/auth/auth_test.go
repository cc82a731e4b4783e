package auth

import "testing"

func TestAllows(t *testing.T) {
	cases := []struct {
		scopes []string
		typ    string
		a      Action
		want   bool
	}{
		{[]string{"system/*.*"}, "Patient", Delete, true},
		{[]string{"user/Patient.read"}, "Patient", Search, true},
		{[]string{"user/Patient.read"}, "Patient", Create, false},
		{[]string{"user/Patient.read"}, "Observation", Read, false},
		{[]string{"patient/*.write"}, "Observation", Update, true},
		{[]string{"patient/*.write"}, "Observation", Read, false},
		{[]string{"system/Observation.rs"}, "Observation", Search, true},
		{[]string{"system/Observation.rs"}, "Observation", Create, false},
		{[]string{"system/Observation.cxz"}, "Observation", Create, false},
		{[]string{"launch/patient", "openid"}, "Patient", Read, false},
		{[]string{"other/*.*"}, "Patient", Read, false},
		{nil, "Patient", Read, false},
	}
	for _, c := range cases {
		if got := (Principal{Scopes: c.scopes}).Allows(c.typ, c.a); got != c.want {
			t.Errorf("%v allows %c on %s = %v, want %v", c.scopes, c.a, c.typ, got, c.want)
		}
	}
}
