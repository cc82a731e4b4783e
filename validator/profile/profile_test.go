package profile_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/validator"
	"github.com/sandkasse/sandkasse/validator/issue"
	"github.com/sandkasse/sandkasse/validator/profile"
	"github.com/sandkasse/sandkasse/validator/spec"
	"github.com/sandkasse/sandkasse/validator/spec/r4"
)

// sd builds a differential-only profile of typ.
func sd(url, typ, base string, elems ...string) string {
	if base == "" {
		base = spec.CoreBase + typ
	}
	return `{"resourceType":"StructureDefinition","url":"` + url + `","name":"T","type":"` + typ +
		`","kind":"resource","derivation":"constraint","baseDefinition":"` + base +
		`","differential":{"element":[` + strings.Join(elems, ",") + `]}}`
}

func validatorWith(t *testing.T, opts validator.Options, defs ...string) *validator.Validator {
	t.Helper()
	reg := r4.NewRegistry()
	for i, d := range defs {
		if _, err := reg.LoadJSON("def"+string(rune('0'+i)), []byte(d)); err != nil {
			t.Fatal(err)
		}
	}
	opts.Registry = reg
	v, err := validator.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// codes lists "severity code expression" of the profile findings.
func codes(l issue.List) []string {
	var out []string
	for _, is := range l {
		if strings.HasPrefix(is.Code, "profile-") || strings.Contains(is.Message, "(from ") {
			out = append(out, is.Severity.String()+" "+is.Code+" "+is.Expression)
		}
	}
	return out
}

const P = "http://example.org/StructureDefinition/p"

func TestChecks(t *testing.T) {
	for _, tc := range []struct {
		name     string
		defs     []string
		resource string
		want     []string // exact list of profile findings
		opts     validator.Options
	}{
		{"cardinality min and max", []string{sd(P, "Patient", "",
			`{"id":"Patient.name","path":"Patient.name","min":1}`,
			`{"id":"Patient.identifier","path":"Patient.identifier","max":"1"}`)},
			`{"resourceType":"Patient","meta":{"profile":["` + P + `"]},"identifier":[{"value":"a"},{"value":"b"}]}`,
			[]string{"error profile-cardinality-min Patient", "error profile-cardinality-max Patient"}, validator.Options{}},
		{"fixed value", []string{sd(P, "Patient", "",
			`{"id":"Patient.gender","path":"Patient.gender","fixedCode":"female"}`)},
			`{"resourceType":"Patient","meta":{"profile":["` + P + `"]},"gender":"male"}`,
			[]string{"error profile-fixed Patient.gender"}, validator.Options{}},
		{"pattern matches with more content", []string{sd(P, "Patient", "",
			`{"id":"Patient.maritalStatus","path":"Patient.maritalStatus","patternCodeableConcept":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-MaritalStatus","code":"M"}]}}`)},
			`{"resourceType":"Patient","meta":{"profile":["` + P + `"]},"maritalStatus":{"coding":[{"system":"http://x","code":"y"},{"system":"http://terminology.hl7.org/CodeSystem/v3-MaritalStatus","code":"M","display":"Married"}],"text":"gift"}}`,
			nil, validator.Options{}},
		{"pattern mismatch", []string{sd(P, "Patient", "",
			`{"id":"Patient.maritalStatus","path":"Patient.maritalStatus","patternCodeableConcept":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-MaritalStatus","code":"M"}]}}`)},
			`{"resourceType":"Patient","meta":{"profile":["` + P + `"]},"maritalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-MaritalStatus","code":"S"}]}}`,
			[]string{"error profile-pattern Patient.maritalStatus"}, validator.Options{}},
		{"type narrowed", []string{sd(P, "Observation", "",
			`{"id":"Observation.value[x]","path":"Observation.value[x]","type":[{"code":"Quantity"}]}`)},
			`{"resourceType":"Observation","meta":{"profile":["` + P + `"]},"status":"final","code":{"text":"x"},"valueString":"high"}`,
			[]string{"error profile-type Observation.value.ofType(string)"}, validator.Options{}},
		{"max length", []string{sd(P, "Patient", "",
			`{"id":"Patient.name.family","path":"Patient.name.family","maxLength":3}`)},
			`{"resourceType":"Patient","meta":{"profile":["` + P + `"]},"name":[{"family":"Nordmann"}]}`,
			[]string{"error profile-max-length Patient.name[0].family"}, validator.Options{}},
		{"constraint added by the profile", []string{sd(P, "Patient", "",
			`{"id":"Patient","path":"Patient","constraint":[{"key":"p-1","severity":"error","human":"needs a birth date","expression":"birthDate.exists()"}]}`)},
			`{"resourceType":"Patient","meta":{"profile":["` + P + `"]},"active":true}`,
			[]string{"error p-1 Patient"}, validator.Options{}},
		{"closed slicing", []string{sd(P, "Patient", "",
			`{"id":"Patient.identifier","path":"Patient.identifier","slicing":{"discriminator":[{"type":"value","path":"system"}],"rules":"closed"}}`,
			`{"id":"Patient.identifier:a","path":"Patient.identifier","sliceName":"a","min":1},`+
				`{"id":"Patient.identifier:a.system","path":"Patient.identifier.system","fixedUri":"urn:a"}`)},
			`{"resourceType":"Patient","meta":{"profile":["` + P + `"]},"identifier":[{"system":"urn:b","value":"1"}]}`,
			[]string{"error profile-slice-closed Patient.identifier[0]", "error profile-slice-min Patient"}, validator.Options{}},
		{"ordered slicing", []string{sd(P, "Patient", "",
			`{"id":"Patient.identifier","path":"Patient.identifier","slicing":{"discriminator":[{"type":"value","path":"system"}],"ordered":true,"rules":"open"}}`,
			`{"id":"Patient.identifier:a","path":"Patient.identifier","sliceName":"a"},`+
				`{"id":"Patient.identifier:a.system","path":"Patient.identifier.system","fixedUri":"urn:a"},`+
				`{"id":"Patient.identifier:b","path":"Patient.identifier","sliceName":"b"},`+
				`{"id":"Patient.identifier:b.system","path":"Patient.identifier.system","fixedUri":"urn:b"}`)},
			`{"resourceType":"Patient","meta":{"profile":["` + P + `"]},"identifier":[{"system":"urn:b","value":"1"},{"system":"urn:a","value":"2"}]}`,
			[]string{"error profile-slice-order Patient.identifier[1]"}, validator.Options{}},
		{"openAtEnd slicing", []string{sd(P, "Patient", "",
			`{"id":"Patient.identifier","path":"Patient.identifier","slicing":{"discriminator":[{"type":"value","path":"system"}],"rules":"openAtEnd"}}`,
			`{"id":"Patient.identifier:a","path":"Patient.identifier","sliceName":"a"},`+
				`{"id":"Patient.identifier:a.system","path":"Patient.identifier.system","fixedUri":"urn:a"}`)},
			`{"resourceType":"Patient","meta":{"profile":["` + P + `"]},"identifier":[{"system":"urn:x","value":"1"},{"system":"urn:a","value":"2"}]}`,
			[]string{"information profile-slice-unmatched Patient.identifier[0]", "error profile-slice-open-at-end Patient.identifier[1]"}, validator.Options{}},
		{"exists discriminator", []string{sd(P, "Patient", "",
			`{"id":"Patient.name","path":"Patient.name","slicing":{"discriminator":[{"type":"exists","path":"family"}],"rules":"open"}}`,
			`{"id":"Patient.name:withFamily","path":"Patient.name","sliceName":"withFamily","min":1,"max":"1"},`+
				`{"id":"Patient.name:withFamily.family","path":"Patient.name.family","min":1}`)},
			`{"resourceType":"Patient","meta":{"profile":["` + P + `"]},"name":[{"family":"A"},{"family":"B"}]}`,
			[]string{"error profile-slice-max Patient"}, validator.Options{}},
		{"extension slice by profile", []string{sd(P, "Patient", "",
			`{"id":"Patient.extension","path":"Patient.extension","slicing":{"discriminator":[{"type":"value","path":"url"}],"rules":"open"}}`,
			`{"id":"Patient.extension:bp","path":"Patient.extension","sliceName":"bp","min":1,"type":[{"code":"Extension","profile":["http://hl7.org/fhir/StructureDefinition/patient-birthPlace"]}]}`)},
			`{"resourceType":"Patient","meta":{"profile":["` + P + `"]},"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName","valueString":"x"}]}`,
			[]string{"error profile-slice-min Patient"}, validator.Options{}},
		{"target profile", []string{
			sd(P, "Observation", "", `{"id":"Observation.subject","path":"Observation.subject","type":[{"code":"Reference","targetProfile":["http://example.org/StructureDefinition/named"]}]}`),
			sd("http://example.org/StructureDefinition/named", "Patient", "", `{"id":"Patient.name","path":"Patient.name","min":1}`)},
			`{"resourceType":"Observation","meta":{"profile":["` + P + `"]},"status":"final","code":{"text":"x"},"subject":{"reference":"#p"},"contained":[{"resourceType":"Patient","id":"p"}]}`,
			[]string{"error profile-target Observation.subject"}, validator.Options{}},
		{"must-support is opt-in", []string{sd(P, "Patient", "", `{"id":"Patient.birthDate","path":"Patient.birthDate","mustSupport":true}`)},
			`{"resourceType":"Patient","meta":{"profile":["` + P + `"]},"active":true}`,
			[]string{"information profile-must-support Patient"}, validator.Options{MustSupport: true}},
		{"must-support off by default", []string{sd(P, "Patient", "", `{"id":"Patient.birthDate","path":"Patient.birthDate","mustSupport":true}`)},
			`{"resourceType":"Patient","meta":{"profile":["` + P + `"]},"active":true}`,
			nil, validator.Options{}},
		{"unknown declared profile", nil,
			`{"resourceType":"Patient","meta":{"profile":["http://example.org/nowhere"]},"active":true}`,
			[]string{"warning profile-unknown Patient.meta.profile[0]"}, validator.Options{}},
		{"profile for another type", []string{sd(P, "Observation", "", `{"id":"Observation","path":"Observation"}`)},
			`{"resourceType":"Patient","meta":{"profile":["` + P + `"]},"active":true}`,
			[]string{"error profile-type-mismatch Patient.meta.profile[0]"}, validator.Options{}},
		{"bundle entries' own profiles", []string{sd(P, "Patient", "", `{"id":"Patient.name","path":"Patient.name","min":1}`)},
			`{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:0b9d3c4e-7a59-4b7e-8d2c-3f6a1e2b9c01","resource":{"resourceType":"Patient","meta":{"profile":["` + P + `"]},"active":true}}]}`,
			[]string{"error profile-cardinality-min Bundle.entry[0].resource"}, validator.Options{}},
		{"explicit profile", []string{sd(P, "Patient", "", `{"id":"Patient.name","path":"Patient.name","min":1}`)},
			`{"resourceType":"Patient","active":true}`,
			[]string{"error profile-cardinality-min Patient"}, validator.Options{Profiles: []string{P}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := validatorWith(t, tc.opts, tc.defs...)
			res := v.Validate(context.Background(), []byte(tc.resource))
			got := codes(res.Issues)
			sort.Strings(got)
			want := append([]string(nil), tc.want...)
			sort.Strings(want)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("got\n  %s\nwant\n  %s\nall issues:\n%s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "), res.Issues.Error())
			}
			for _, is := range res.Issues {
				if strings.HasPrefix(is.Code, "profile-") && is.Code != "profile-unknown" && is.Code != "profile-invalid" && !strings.Contains(is.Message, "(from ") &&
					is.Code != "profile-type-mismatch" {
					t.Errorf("finding does not name the profile: %s", is)
				}
			}
		})
	}
}

// Findings never quote instance values: the patient's data stays out of
// messages (fixed/pattern values from the profile may be quoted).
func TestNoPatientValuesInMessages(t *testing.T) {
	v := validatorWith(t, validator.Options{}, sd(P, "Patient", "",
		`{"id":"Patient.gender","path":"Patient.gender","fixedCode":"female"}`,
		`{"id":"Patient.name.family","path":"Patient.name.family","maxLength":3}`,
		`{"id":"Patient.identifier","path":"Patient.identifier","slicing":{"discriminator":[{"type":"value","path":"system"}],"rules":"closed"}}`,
		`{"id":"Patient.identifier:a","path":"Patient.identifier","sliceName":"a"}`,
		`{"id":"Patient.identifier:a.system","path":"Patient.identifier.system","fixedUri":"urn:a"}`))
	res := v.Validate(context.Background(), []byte(`{"resourceType":"Patient","meta":{"profile":["`+P+`"]},`+
		`"gender":"male","name":[{"family":"Secretname"}],"identifier":[{"system":"urn:secret-system","value":"13097248022"}]}`))
	for _, is := range res.Issues {
		for _, secret := range []string{"Secretname", "13097248022", "urn:secret-system", "'male'"} {
			if strings.Contains(is.Message, secret) {
				t.Errorf("message quotes an instance value: %s", is)
			}
		}
	}
	if len(codes(res.Issues)) < 3 {
		t.Errorf("expected fixed, max-length and closed-slice findings: %v", res.Issues)
	}
}

func TestBadProfiles(t *testing.T) {
	const A, B = "http://example.org/StructureDefinition/A", "http://example.org/StructureDefinition/B"
	for _, tc := range []struct {
		name string
		defs []string
		url  string
		want []string
	}{
		{"differential does not fit", []string{sd(A, "Patient", "", `{"id":"Patient.shoeSize","path":"Patient.shoeSize","min":1}`)}, A,
			[]string{"profile-invalid", A, "Patient.shoeSize"}},
		// Lookups once handed profile validation a lenient snapshot that
		// let the profile loosen its base.
		{"wider max than the base", []string{sd(A, "Patient", "", `{"id":"Patient.gender","path":"Patient.gender","max":"*"}`)}, A,
			[]string{"profile-invalid", A, "Patient.gender", "wider than the base's max 1"}},
		{"circular", []string{sd(A, "Patient", B, `{"id":"Patient","path":"Patient"}`), sd(B, "Patient", A, `{"id":"Patient","path":"Patient"}`)}, A,
			[]string{"profile-invalid", A, "circular"}},
		{"missing base", []string{sd(A, "Patient", "http://example.org/StructureDefinition/gone", `{"id":"Patient","path":"Patient"}`)}, A,
			[]string{"profile-invalid", A, "http://example.org/StructureDefinition/gone"}},
		{"slice that matches nothing", []string{sd(A, "Patient", "",
			`{"id":"Patient.identifier","path":"Patient.identifier","slicing":{"discriminator":[{"type":"value","path":"system"}],"rules":"open"}}`,
			`{"id":"Patient.identifier:x","path":"Patient.identifier","sliceName":"x","min":1}`)}, A,
			[]string{"profile-slice-discriminator", "Patient.identifier:x", "system", A}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := validatorWith(t, validator.Options{Profiles: []string{tc.url}}, tc.defs...)
			done := make(chan validator.Result)
			go func() {
				done <- v.Validate(context.Background(), []byte(`{"resourceType":"Patient","identifier":[{"system":"urn:a","value":"1"}]}`))
			}()
			var res validator.Result
			select {
			case res = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("validation hangs")
			}
			all := res.Issues.Error()
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("findings do not mention %q:\n%s", w, all)
				}
			}
		})
	}
}

func TestLoadPackageMissingDependency(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("package.json", `{"name":"example.child","version":"1.0.0","dependencies":{"hl7.fhir.r4.core":"4.0.1","example.parent":"2.0.0"}}`)
	write("child.json", sd("http://example.org/child/Patient", "Patient", "http://example.org/parent/Patient", `{"id":"Patient","path":"Patient"}`))
	write("ext.json", sd("http://example.org/child/Obs", "Observation", "",
		`{"id":"Observation.extension:x","path":"Observation.extension","sliceName":"x","type":[{"code":"Extension","profile":["http://example.org/parent/ext"]}]}`))
	reg := r4.NewRegistry()
	pkg, err := profile.LoadPackage(reg, dir)
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{"example.child@1.0.0", "example.parent@2.0.0", "http://example.org/child/Patient", "http://example.org/parent/Patient",
		"http://example.org/child/Obs", "Observation.extension:x", "http://example.org/parent/ext"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not mention %q:\n%v", w, err)
		}
	}
	if pkg == nil || len(pkg.Profiles) != 2 {
		t.Errorf("package %+v", pkg)
	}
}

// Both Norwegian packages load and every profile in them is usable;
// loading time is logged (the goal is under 200 ms, not asserted).
func TestLoadNorwegianPackages(t *testing.T) {
	d := profilesDir(t)
	start, cpu0 := time.Now(), cpuTime()
	reg := r4.NewRegistry()
	var n int
	for _, p := range []string{"no-basis-2.2.0", "vkp-r4-0.9.0"} {
		pkg, err := profile.LoadPackage(reg, filepath.Join(d, p))
		if err != nil {
			t.Errorf("%v", err)
		}
		if pkg != nil {
			n += len(pkg.Profiles)
		}
	}
	t.Logf("loaded and checked %d profiles of no-basis 2.2.0 and vkp-r4 0.9.0 in %v wall, %v CPU (goal: under 200 ms)",
		n, time.Since(start).Round(time.Millisecond), (cpuTime() - cpu0).Round(time.Millisecond))
	b, _ := json.Marshal(n)
	if n < 40 {
		t.Errorf("only %s profiles", b)
	}
}

// cpuTime is the process's user+system CPU time: on a busy host it shows
// the work done better than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
