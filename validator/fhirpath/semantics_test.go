package fhirpath_test

import (
	"testing"

	"github.com/sandkasse/sandkasse/validator/fhirpath"
)

func TestSemantics(t *testing.T) {
	cases := []struct{ expr, want string }{
		// date/time arithmetic
		{"@2019-01-31 + 1 month", "Date:2019-02-28"},
		{"@2020-02-29 + 1 year", "Date:2021-02-28"},
		{"@2014 + 24 months", "Date:2016"},
		{"@2014-01-01 + 25 hours", "Date:2014-01-02"},
		{"@T10:00 + 90 minutes", "Time:11:30"},
		{"@2014-01-01T23:30:00Z + 45 'min'", "DateTime:2014-01-02T00:15:00Z"},
		{"@2014-03-01T00:00:00.000+01:00 - 1 day", "DateTime:2014-02-28T00:00:00.000+01:00"},
		{"@2012-04-15T15:00:00+02:00 < @2012-04-15T14:30:00+01:00", "Boolean:true"},
		{"@2012-04-15 < @2012-04-16T10:00:00", "Boolean:true"},
		{"@2012-04-15 < @2012-04-15T10:00:00", ""},
		{"@2012 ~ @2012-01", "Boolean:false"},
		{"'2015-02-04T14:34:28Z'.toDateTime() = @2015-02-04T14:34:28Z", "Boolean:true"},
		{"@2015-02-04T14:34:28.5+01:00.toString()", "String:2015-02-04T14:34:28.500+01:00"},
		{"@2015-02-04T14:34:28Z.toDate()", "Date:2015-02-04"},
		// quantities
		{"1 'kg' + 500 'g'", "Quantity:1.5 'kg'"},
		{"1 'mg/dL' = 10 'mg/L'", "Boolean:true"},
		{"1 'mmol/L' = 1000 'umol/L'", "Boolean:true"},
		{"1 '[in_i]' = 2.54 'cm'", "Boolean:true"},
		{"1 'cm' = 1 's'", ""},
		{"1 'cm' < 1 's'", ""},
		{"2 'cm' * 3", "Quantity:6 'cm'"},
		{"6 'cm' / 2 'cm'", "Quantity:3 '1'"},
		{"1 week = 7 days", "Boolean:true"},
		{"1 'wk' = 7 'd'", "Boolean:true"},
		{"'5.5 \\'mg\\''.toQuantity('g')", "Quantity:0.0055 'g'"},
		{"37 'Cel' = 37 'Cel'", "Boolean:true"},
		{"37 'Cel' = 38 'Cel'", "Boolean:false"},
		// numbers
		{"1 / 0", ""},
		{"7 / 2", "Decimal:3.5"},
		{"-7 div 2", "Integer:-3"},
		{"-7 mod 2", "Integer:-1"},
		{"5.5 mod 2", "Decimal:1.5"},
		{"0.1 + 0.2 = 0.3", "Boolean:true"},
		{"2147483647 + 1", "Integer:2147483648"},
		{"9223372036854775807 + 1", "error"},
		{"1.5.round()", "Decimal:2"},
		{"(-1.5).round()", "Decimal:-2"},
		{"2.5.floor() | 2.5.ceiling() | (-2.5).truncate()", "Integer:2,Integer:3,Integer:-2"},
		{"16.log(2)", "Decimal:4"},
		{"1.0.ln()", "Decimal:0"},
		// strings (positions count characters)
		{"'åæø'.length()", "Integer:3"},
		{"'åæø'.substring(1, 1)", "String:æ"},
		{"'åæø'.indexOf('ø')", "Integer:2"},
		{"'abc'.indexOf('')", "Integer:0"},
		{"'abc'.substring(1)", "String:bc"},
		{"'a.b.c'.replace('.', '')", "String:abc"},
		{"'abc'.replaceMatches('(b)', '[$1]')", "String:a[b]c"},
		{"('a' | 'b').join('-')", "String:a-b"},
		{"'a' & {} & 'b'", "String:ab"},
		{"'Hello  World' ~ 'hello world'", "Boolean:true"},
		// collections and logic
		{"(1 | 2 | 3).aggregate($this + $total, 0)", "Integer:6"},
		{"(1 | 2 | 3).select($this * 2).where($this > 2)", "Integer:4,Integer:6"},
		{"(1 | 2 | 3).exists($this > 2)", "Boolean:true"},
		{"(1 | 2 | 3).all($this > 0)", "Boolean:true"},
		{"{}.all($this > 0)", "Boolean:true"},
		{"(1 | 2).subsetOf(1 | 2 | 3) and (1 | 2 | 3).supersetOf(3)", "Boolean:true"},
		{"(1 | 1.0 | 2).distinct()", "Integer:1,Integer:2"},
		{"(1 | 2 | 3).intersect(2 | 3 | 4)", "Integer:2,Integer:3"},
		{"(1 | 2 | 3).tail().skip(1).take(5)", "Integer:3"},
		{"{} implies false", ""},
		{"false implies {}", "Boolean:true"},
		{"true xor false", "Boolean:true"},
		{"(1 | 2) = (1 | 2)", "Boolean:true"},
		{"(1 | 2).single()", "error"},
		{"(1 | 2) + 1", "error"},
		{"%ucum & '|' & %`ext-patient-birthTime`", "String:http://unitsofmeasure.org|http://hl7.org/fhir/StructureDefinition/patient-birthTime"},
		{"%undefined", "error"},
		{"$index", "error"},
		{"1.is(Integer) and 1.0.is(Decimal) and 'a'.is(String) and @2014.is(Date) and 1 'mg'.is(Quantity)", "Boolean:true"},
		{"1.is(FHIR.integer)", "Boolean:false"},
		{"1.type().namespace & '.' & 1.type().name", "String:System.Integer"},
		{"'a\\tb\\u00e5'.length()", "Integer:4"},
	}
	for _, tc := range cases {
		got, err := evalOn(t, nil, nil, tc.expr)
		if err != nil {
			got = "error"
		}
		if got != tc.want {
			t.Errorf("%s\n got  %q (%v)\n want %q", tc.expr, got, err, tc.want)
		}
	}
}

func TestEvalTri(t *testing.T) {
	for src, want := range map[string]fhirpath.Tri{
		"true": fhirpath.True, "false": fhirpath.False, "{}": fhirpath.Empty, "'x'": fhirpath.True,
	} {
		got, err := fhirpath.MustCompile(src).EvalTri(nil, nil)
		if err != nil || got != want {
			t.Errorf("%s: got %v %v, want %v", src, got, err, want)
		}
	}
	if _, err := fhirpath.MustCompile("true | false").EvalBool(nil, nil); err == nil {
		t.Error("EvalBool on two items should fail")
	}
}
