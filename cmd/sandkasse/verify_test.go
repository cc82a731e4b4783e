package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const smartSuite = "../../rules/epr-smart-app/suites/smart-app.yaml"

func runVerifyCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"verify"}, args...), stdio{in: strings.NewReader(""), out: &out, err: &errb})
	return code, out.String(), errb.String()
}

func TestVerifyGoodAppPasses(t *testing.T) {
	code, out, errs := runVerifyCmd("--suite", smartSuite, "--offline", "testdata/verify/good", "--app", "Demo", "--version", "1.0")
	if code != exitOK {
		t.Fatalf("exit %d, want 0\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, "PASSED") || !strings.Contains(out, "7 passed, 0 failed") {
		t.Errorf("report:\n%s", out)
	}
}

// TestVerifyBadVariants: each variant of the good app breaks one thing, and
// exactly the test that checks it fails.
func TestVerifyBadVariants(t *testing.T) {
	variants := []struct {
		file, body, test string
	}{
		{"02-read.json", `{"method": "GET", "url": "https://epr.test/fhir/Patient/p1?access_token=t0k3n", "headers": {"Authorization": ["Bearer t0k3n"]}, "status": 200}`, "tokens-in-headers"},
		{"02-read.json", `{"method": "GET", "url": "https://epr.test/fhir/Patient/p2", "headers": {"Authorization": ["Bearer t0k3n"]}, "status": 200}`, "within-scopes"},
		{"01-authorize.json", `{"method": "GET", "url": "https://epr.test/auth/authorize?response_type=code&client_id=app&state=s1&aud=https%3A%2F%2Fepr.test%2Ffhir&scope=launch+openid+patient%2FPatient.read&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=plain&launch=l1", "status": 302}`, "authorize-request"},
		{"01-authorize.json", `{"method": "GET", "url": "https://epr.test/auth/authorize?response_type=code&client_id=app&state=s1&aud=https%3A%2F%2Fepr.test%2Ffhir&scope=launch+openid+patient%2FPatient.readwrite&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&launch=l1", "status": 302}`, "scope-request"},
		{"03-token.json", `{"method": "POST", "url": "https://epr.test/auth/token", "headers": {"Content-Type": ["application/x-www-form-urlencoded"]}, "body": {"grant_type": ["authorization_code"], "code": ["c1"], "redirect_uri": ["https://app.test/cb"]}, "status": 200}`, "code-exchange"},
		{"05-update.json", `{"method": "PUT", "url": "https://epr.test/fhir/Observation/o1", "headers": {"Authorization": ["Bearer t0k3n"], "Content-Type": ["application/fhir+json"]}, "body": {"resourceType": "Observation", "id": "o2", "status": "final", "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}], "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}, "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2026-11-20T10:00:00+01:00", "valueQuantity": {"value": 72, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}}, "status": 200}`, "write-endpoint"},
	}
	for _, v := range variants {
		t.Run(v.test, func(t *testing.T) {
			dir := copyDir(t, "testdata/verify/good")
			if err := os.WriteFile(filepath.Join(dir, v.file), []byte(v.body), 0o644); err != nil {
				t.Fatal(err)
			}
			code, out, errs := runVerifyCmd("--suite", smartSuite, "--offline", dir, "--format", "json")
			if code != exitFindings {
				t.Errorf("exit %d, want 1 (%s)", code, errs)
			}
			var rep struct {
				Groups []struct {
					Tests []struct {
						ID, Outcome string
					}
				}
			}
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			var failed []string
			for _, g := range rep.Groups {
				for _, tt := range g.Tests {
					if tt.Outcome != "pass" {
						failed = append(failed, tt.ID+"="+tt.Outcome)
					}
				}
			}
			if len(failed) != 1 || failed[0] != v.test+"=fail" {
				t.Errorf("not passing: %v, want only %s=fail", failed, v.test)
			}
		})
	}
}

func TestVerifyNoTrafficSkips(t *testing.T) {
	code, out, _ := runVerifyCmd("--suite", smartSuite, "--offline", t.TempDir())
	if code != exitFindings {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.Contains(out, "skip: the app never sent GET request") || !strings.Contains(out, "INCOMPLETE") {
		t.Errorf("report:\n%s", out)
	}
}

func TestVerifyCannotRun(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "x.json")
	os.WriteFile(bad, []byte(`{"hello": 1}`), 0o644)
	for name, args := range map[string][]string{
		"no flags":       nil,
		"unknown format": {"--suite", smartSuite, "--offline", "testdata/verify/good", "--format", "pdf"},
		"missing suite":  {"--suite", "nope/suites/x.yaml", "--offline", "testdata/verify/good"},
		"bad input":      {"--suite", smartSuite, "--offline", filepath.Dir(bad)},
	} {
		if code, _, errs := runVerifyCmd(args...); code != exitUsage || errs == "" {
			t.Errorf("%s: exit %d (%q), want 2 with a message", name, code, errs)
		}
	}
}

func TestVerifyFormats(t *testing.T) {
	_, out, _ := runVerifyCmd("--suite", smartSuite, "--offline", "testdata/verify/good", "--format", "junit")
	var x struct {
		XMLName xml.Name `xml:"testsuites"`
		Tests   int      `xml:"tests,attr"`
	}
	if err := xml.Unmarshal([]byte(out), &x); err != nil || x.Tests != 7 {
		t.Errorf("junit: %v, %d tests", err, x.Tests)
	}
	_, out, _ = runVerifyCmd("--suite", smartSuite, "--offline", "testdata/verify/good", "--format", "html", "--app", "Demo")
	for _, w := range []string{"SMART-AUTHORIZE", "SMART-WRITES", "PASSED", "epr-smart-app</code> version 0.1.0"} {
		if !strings.Contains(out, w) {
			t.Errorf("html lacks %q", w)
		}
	}
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}
