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

func TestReach(t *testing.T) {
	cases := []struct {
		scopes []string
		typ    string
		a      Action
		want   Reach
	}{
		{[]string{"patient/Observation.read"}, "Observation", Read, Compartment},
		{[]string{"patient/Observation.read"}, "Observation", Create, None},
		{[]string{"patient/*.rs"}, "Condition", Search, Compartment},
		{[]string{"patient/*.cruds"}, "Observation", Delete, Compartment},
		{[]string{"user/Observation.read"}, "Observation", Read, All},
		{[]string{"system/*.*"}, "Patient", Update, All},
		// the widest grant wins, whatever the order of the scopes
		{[]string{"patient/Observation.rs", "user/Observation.rs"}, "Observation", Search, All},
		{[]string{"user/Observation.rs", "patient/Observation.rs"}, "Observation", Search, All},
		// a user/ read does not widen a patient/ write
		{[]string{"user/Observation.rs", "patient/Observation.cud"}, "Observation", Update, Compartment},
		{[]string{"launch/patient"}, "Patient", Read, None},
	}
	for _, c := range cases {
		if got := (Principal{Scopes: c.scopes, Patient: "p1"}).Reach(c.typ, c.a); got != c.want {
			t.Errorf("%v reach of %c on %s = %d, want %d", c.scopes, c.a, c.typ, got, c.want)
		}
	}
}
