package main

import (
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// startServe is in serve_trust_test.go.

// The engine flags reach the validator behind $validate, and a profile
// loaded with --load can be named by the profile parameter.
func TestServeEngineFlagsAndProfileParameter(t *testing.T) {
	dir := t.TempDir()
	const p = "http://example.org/StructureDefinition/needs-name"
	writeFile(t, dir, "needs-name.json", `{"resourceType":"StructureDefinition","url":"`+p+`","name":"N","type":"Patient","kind":"resource",`+
		`"derivation":"constraint","baseDefinition":"http://hl7.org/fhir/StructureDefinition/Patient",`+
		`"differential":{"element":[{"id":"Patient.name","path":"Patient.name","min":1}]}}`)
	addr := startServe(t, "--load", dir, "--max-bundle-entries", "1", "--security-checks")
	post := func(path, body string) (int, string) {
		t.Helper()
		resp, err := http.Post("http://"+addr+path, "application/fhir+json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	entry := `{"fullUrl":"urn:uuid:0b9d3c4e-7a59-4b7e-8d2c-3f6a1e2b9c01","resource":{"resourceType":"Basic","code":{"text":"x"}}}`
	for _, tc := range []struct {
		name, path, body string
		status           int
		code             string
	}{
		{"profile parameter, known", "/fhir/$validate?profile=" + url.QueryEscape(p), okPatient, 200, "profile-cardinality-min"},
		{"profile parameter, unknown", "/fhir/$validate?profile=" + url.QueryEscape(p+"-nowhere"), okPatient, 400, "profile-not-found"},
		{"--max-bundle-entries", "/fhir/$validate", `{"resourceType":"Bundle","type":"collection","entry":[` + entry + "," + entry + `]}`, 400, "limit-bundle-entries"},
		{"--security-checks", "/fhir/$validate", `{"resourceType":"Patient","name":[{"text":"<b>x</b>"}]}`, 200, "security-html"},
	} {
		status, body := post(tc.path, tc.body)
		if status != tc.status || !strings.Contains(body, `"code":"`+tc.code+`"`) {
			t.Errorf("%s: status %d (want %d), body lacks %s:\n%s", tc.name, status, tc.status, tc.code, body)
		}
	}
}

func TestServeBadFlagValues(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--max-depth", "0"}, "--max-depth must be between"},
		{[]string{"--max-values", "-1"}, "--max-values must be positive"},
		{[]string{"--max-elements", "0"}, "--max-elements must be positive"},
		{[]string{"--max-bundle-entries", "0"}, "--max-bundle-entries must be positive"},
		{[]string{"--timeout", "0s"}, "--timeout must be positive"},
		{[]string{"--max-body-bytes", "0"}, "--max-body-bytes must be positive"},
		{[]string{"--load", filepath.Join("testdata", "missing-package.tgz")}, "missing-package.tgz"},
	} {
		r := runCLI(t, "", append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, tc.args...)...)
		if r.code != exitUsage || !strings.Contains(r.err, tc.want) {
			t.Errorf("%v: exit %d, stderr lacks %q:\n%s", tc.args, r.code, tc.want, r.err)
		}
	}
}
