package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestFHIRPathExpression(t *testing.T) {
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  string // JSON of the result, compacted; or a stderr fragment when code != 0
	}{
		{"no input", "", []string{"1.50 + 2 * 3"}, exitOK, `[7.50]`},
		{"resource", "", []string{"--resource", "testdata/patient-ok.json", "Patient.id | active | text.status"}, exitOK, `["ok",true,"generated"]`},
		{"flag after expression", "", []string{"active", "--resource", "testdata/patient-ok.json"}, exitOK, `[true]`},
		{"complex element", "", []string{"--resource", "-", "name"}, exitOK, `[{"family":"Nordmann"}]`},
		{"empty result", "", []string{"--resource", "testdata/patient-ok.json", "deceased"}, exitOK, `[]`},
		{"system values", "", []string{"5 'mg' | @2020-01-01 | 1.type()"}, exitOK,
			`[{"value":5,"unit":"mg","system":"http://unitsofmeasure.org","code":"mg"},"2020-01-01",{"namespace":"System","name":"Integer"}]`},
		{"syntax error", "", []string{"Patient.("}, exitUsage, "fhirpath:"},
		{"evaluation error", "", []string{"(1 | 2).single()"}, exitUsage, "single()"},
		{"no expression", "", nil, exitUsage, "exactly one EXPRESSION"},
		{"two expressions", "", []string{"1", "2"}, exitUsage, "exactly one EXPRESSION"},
		{"unreadable resource", "", []string{"--resource", "testdata/missing.json", "1"}, exitUsage, "missing.json"},
		{"broken resource", "", []string{"--resource", "testdata/broken.json", "1"}, exitUsage, "broken.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdin := tc.stdin
			if stdin == "" {
				stdin = `{"resourceType":"Patient","name":[{"family":"Nordmann"}]}`
			}
			r := runCLI(t, stdin, append([]string{"fhirpath"}, tc.args...)...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout %s\nstderr %s", r.code, tc.code, r.out, r.err)
			}
			if tc.code != exitOK {
				if !strings.Contains(r.err, tc.want) {
					t.Errorf("stderr lacks %q: %s", tc.want, r.err)
				}
				return
			}
			var v any
			if err := json.Unmarshal([]byte(r.out), &v); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, r.out)
			}
			var compact strings.Builder
			for _, line := range strings.Split(r.out, "\n") {
				compact.WriteString(strings.TrimSpace(line))
			}
			got := strings.ReplaceAll(compact.String(), `": `, `":`)
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestFHIRPathSuite(t *testing.T) {
	r := runCLI(t, "", "fhirpath", "--suite", "testdata/fhirpath/tests.xml")
	if r.code != exitFindings {
		t.Fatalf("exit %d\n%s%s", r.code, r.out, r.err)
	}
	for _, want := range []string{"FAIL cli/fails on purpose: Patient.id", "expected: string:not-the-id", "actual:   id:ok", "1 passed, 1 failed"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("output lacks %q:\n%s", want, r.out)
		}
	}
	if strings.Contains(r.out, "FAIL cli/passes") {
		t.Errorf("a passing test was reported:\n%s", r.out)
	}
	if r := runCLI(t, "", "fhirpath", "--suite", "testdata/fhirpath/pass.xml", "--inputs", "testdata/fhirpath"); r.code != exitOK || !strings.HasSuffix(r.out, "2 passed, 0 failed\n") {
		t.Fatalf("all-pass suite: exit %d\n%s%s", r.code, r.out, r.err)
	}
	for _, args := range [][]string{
		{"fhirpath", "--suite", "testdata/fhirpath/missing.xml"},
		{"fhirpath", "--suite", "testdata/patient-ok.json"}, // not XML
		{"fhirpath", "--suite", "testdata/fhirpath/tests.xml", "extra-expression"},
	} {
		if r := runCLI(t, "", args...); r.code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, r.code, exitUsage)
		}
	}
}
