package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sandkasse/sandkasse/validator/report"
	"github.com/sandkasse/sandkasse/validator/source"
)

const okPatient = `{"resourceType":"Patient","id":"ok","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Synthetic</div>"},"active":true}`

type runResult struct {
	code     int
	out, err string
}

func runCLI(t *testing.T, stdin string, args ...string) runResult {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, stdio{in: strings.NewReader(stdin), out: &out, err: &errb})
	return runResult{code, out.String(), errb.String()}
}

// jsonLines decodes --format json output.
func jsonLines(t *testing.T, s string) []report.JSONResult {
	t.Helper()
	var rs []report.JSONResult
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r report.JSONResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("output line is not JSON: %v\n%s", err, sc.Text())
		}
		rs = append(rs, r)
	}
	return rs
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func codes(r report.JSONResult) []string {
	var cs []string
	for _, i := range r.Issues {
		cs = append(cs, i.Code)
	}
	return cs
}

func TestValidateExitCodes(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		// what stdout and stderr must contain; empty stdout means "must be empty"
		out, err string
	}{
		{"valid file", []string{"validate", "testdata/patient-ok.json"}, exitOK, "patient-ok.json: Patient: valid", ""},
		{"malformed JSON is a finding", []string{"validate", "testdata/broken.json"}, exitFindings, "broken.json:4:1 Patient [json-syntax]", ""},
		{"one bad file fails the run", []string{"validate", "testdata/patient-ok.json", "testdata/broken.json"}, exitFindings, "2 resources: 1 valid, 1 invalid", ""},
		{"flags after the path", []string{"validate", "testdata/patient-ok.json", "--format", "json"}, exitOK, `"valid":true`, ""},
		{"-- ends the flags", []string{"validate", "--", "testdata/patient-ok.json"}, exitOK, "valid", ""},
		{"unknown format", []string{"validate", "--format", "yaml", "testdata/patient-ok.json"}, exitUsage, "", `unknown format "yaml"`},
		{"empty format", []string{"validate", "--format=", "testdata/patient-ok.json"}, exitUsage, "", "unknown format"},
		{"bad flag", []string{"validate", "--no-such-flag", "testdata/patient-ok.json"}, exitUsage, "", "flag provided but not defined"},
		{"no path", []string{"validate"}, exitUsage, "", "no PATH given"},
		{"missing path", []string{"validate", "testdata/patient-ok.json", "testdata/missing.json"}, exitUsage, "", "testdata/missing.json: no such file"},
		{"bad limit", []string{"validate", "--max-bytes", "0", "testdata/patient-ok.json"}, exitUsage, "", "must be positive"},
		{"unloadable --load", []string{"validate", "--load", "testdata/missing-package.tgz", "testdata/patient-ok.json"}, exitUsage, "", "missing-package.tgz"},
		{"help", []string{"validate", "-h"}, exitOK, "", "usage: sandkasse validate"},
		{"unknown command", []string{"frobnicate"}, exitUsage, "", `unknown command "frobnicate"`},
		{"no command", nil, exitUsage, "", "usage: sandkasse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, "", tc.args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tc.code, r.out, r.err)
			}
			if tc.out == "" && r.out != "" && tc.code == exitUsage {
				t.Errorf("a run that could not start printed results:\n%s", r.out)
			}
			if !strings.Contains(r.out, tc.out) {
				t.Errorf("stdout lacks %q:\n%s", tc.out, r.out)
			}
			if !strings.Contains(r.err, tc.err) {
				t.Errorf("stderr lacks %q:\n%s", tc.err, r.err)
			}
		})
	}
}

func TestValidateEmptyDirectoryWarns(t *testing.T) {
	r := runCLI(t, "", "validate", t.TempDir())
	if r.code != exitOK || !strings.Contains(r.err, "no *.json or *.ndjson input found") {
		t.Fatalf("exit %d, stderr %q", r.code, r.err)
	}
}

func TestValidateNDJSONBadLineInTheMiddle(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "export.ndjson", okPatient+"\n"+`{"resourceType":"Patient",,}`+"\n"+okPatient+"\n")
	r := runCLI(t, "", "validate", "--format", "json", p)
	if r.code != exitFindings {
		t.Fatalf("exit %d\n%s%s", r.code, r.out, r.err)
	}
	rs := jsonLines(t, r.out)
	if len(rs) != 3 {
		t.Fatalf("%d results, want 3:\n%s", len(rs), r.out)
	}
	for i, want := range []bool{true, false, true} {
		if rs[i].Index != i || rs[i].Valid != want || rs[i].Source != p {
			t.Errorf("result %d: %+v", i, rs[i])
		}
	}
	// Positions point into the file, not into the line: line 2 of the file.
	if is := rs[1].Issues; len(is) != 1 || is[0].Code != "json-syntax" || is[0].Line != 2 || is[0].Column != 27 {
		t.Errorf("bad line's issue: %+v", is)
	}
}

func TestValidateNDJSONLineTooLong(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "x.ndjson", okPatient+"\n"+`{"resourceType":"Patient","id":"`+strings.Repeat("a", 500)+`"}`+"\n"+okPatient)
	r := runCLI(t, "", "validate", "--format", "json", "--max-line-bytes", "300", p)
	rs := jsonLines(t, r.out)
	if r.code != exitFindings || len(rs) != 3 || fmt.Sprint(codes(rs[1])) != "["+source.CodeLineTooLong+"]" || !rs[2].Valid {
		t.Fatalf("exit %d, results %+v", r.code, rs)
	}
}

func TestValidateStdin(t *testing.T) {
	r := runCLI(t, okPatient, "validate", "--format", "json", "-")
	rs := jsonLines(t, r.out)
	if r.code != exitOK || len(rs) != 1 || rs[0].Source != "-" || rs[0].ResourceType != "Patient" {
		t.Fatalf("exit %d: %s %s", r.code, r.out, r.err)
	}
	r = runCLI(t, "{", "validate", "-")
	if r.code != exitFindings || !strings.Contains(r.out, "(stdin)") {
		t.Fatalf("broken stdin: exit %d: %s", r.code, r.out)
	}
}

func TestValidateOversizedFile(t *testing.T) {
	dir := t.TempDir()
	big := writeFile(t, dir, "big.json", okPatient+" ")
	small := writeFile(t, dir, "small.json", okPatient)
	r := runCLI(t, "", "validate", "--format", "json", "--max-bytes", fmt.Sprint(len(okPatient)), big, small)
	rs := jsonLines(t, r.out)
	if r.code != exitFindings || len(rs) != 2 || fmt.Sprint(codes(rs[0])) != "["+source.CodeTooLarge+"]" || !rs[1].Valid {
		t.Fatalf("exit %d, results %+v\n%s", r.code, rs, r.err)
	}
}

func TestValidateInvalidUTF8IsAFinding(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "latin1.json", "{\"resourceType\":\"Patient\",\"id\":\"x\",\"name\":[{\"family\":\"S\xf8rensen\"}]}")
	r := runCLI(t, "", "validate", "--format", "json", p)
	rs := jsonLines(t, r.out)
	if r.code != exitFindings || len(rs) != 1 || fmt.Sprint(codes(rs[0])) != "[json-utf8]" {
		t.Fatalf("exit %d, results %+v", r.code, rs)
	}
	// The finding names where, never what: the bytes are patient data.
	if strings.Contains(r.out, "S\xf8rensen") || strings.Contains(r.out, "rensen") {
		t.Errorf("output echoes the input:\n%s", r.out)
	}
}

func TestValidateDirectoryWithUnreadableFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.json", okPatient)
	// A dangling link is unreadable for every user, root included.
	if err := os.Symlink(filepath.Join(dir, "gone"), filepath.Join(dir, "b.json")); err != nil {
		t.Skip("no symlinks here:", err)
	}
	writeFile(t, dir, "c/d.json", okPatient)
	r := runCLI(t, "", "validate", "--format", "json", dir)
	rs := jsonLines(t, r.out)
	if r.code != exitFindings || len(rs) != 3 {
		t.Fatalf("exit %d, %d results\n%s%s", r.code, len(rs), r.out, r.err)
	}
	if rs[1].Source != filepath.Join(dir, "b.json") || fmt.Sprint(codes(rs[1])) != "["+source.CodeUnreadable+"]" || !rs[0].Valid || !rs[2].Valid {
		t.Fatalf("results %+v", rs)
	}
}

func TestValidateDirectoryWithPermissionDenied(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.json", okPatient)
	p := writeFile(t, dir, "secret.json", okPatient)
	if err := os.Chmod(p, 0); err != nil {
		t.Fatal(err)
	}
	if f, err := os.Open(p); err == nil {
		f.Close()
		t.Skip("file modes do not block reads for this user (root?), so chmod 000 cannot be tested here")
	}
	r := runCLI(t, "", "validate", "--format", "json", dir)
	rs := jsonLines(t, r.out)
	if r.code != exitFindings || len(rs) != 2 || fmt.Sprint(codes(rs[1])) != "["+source.CodeUnreadable+"]" {
		t.Fatalf("exit %d, results %+v", r.code, rs)
	}
	// Named directly, the same file is an unreadable argument: exit 2.
	if r := runCLI(t, "", "validate", p); r.code != exitUsage {
		t.Fatalf("unreadable argument: exit %d", r.code)
	}
}

// Results come out in input order whatever order the workers finish in.
func TestValidateKeepsInputOrder(t *testing.T) {
	dir := t.TempDir()
	var want []string
	for i := range 60 {
		content := okPatient
		if i%7 == 3 {
			// Bigger documents take longer, so workers finish out of order.
			content = `{"resourceType":"Patient","id":"x","name":[` + strings.Repeat(`{"family":"A"},`, 2000) + `{"family":"A"}]}`
		}
		want = append(want, writeFile(t, dir, fmt.Sprintf("p%03d.json", i), content))
	}
	r := runCLI(t, "", "validate", "--format", "json", "--jobs", "4", dir)
	var got []string
	for _, res := range jsonLines(t, r.out) {
		got = append(got, res.Source)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("order differs:\ngot  %v\nwant %v", got, want)
	}
}

func TestValidateOutcomeFormat(t *testing.T) {
	r := runCLI(t, "", "validate", "--format", "outcome", "testdata/broken.json")
	var oo report.OperationOutcome
	if err := json.Unmarshal([]byte(r.out), &oo); err != nil {
		t.Fatalf("%v\n%s", err, r.out)
	}
	if r.code != exitFindings || oo.ResourceType != "OperationOutcome" || len(oo.Issue) != 1 ||
		oo.Issue[0].Severity != "fatal" || oo.Issue[0].Details.Coding[0].Code != "json-syntax" ||
		len(oo.Issue[0].Extension) != 2 || *oo.Issue[0].Extension[0].ValueInteger != 4 {
		t.Fatalf("exit %d, outcome %+v", r.code, oo)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestValidateOutputErrorStopsTheRun(t *testing.T) {
	var errb bytes.Buffer
	code := run(context.Background(), []string{"validate", "testdata"}, stdio{in: strings.NewReader(""), out: failingWriter{}, err: &errb})
	if code != exitUsage || !strings.Contains(errb.String(), "broken pipe") {
		t.Fatalf("exit %d, stderr %s", code, errb.String())
	}
}

func TestValidateInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	code := run(ctx, []string{"validate", "testdata"}, stdio{in: strings.NewReader(""), out: &out, err: &errb})
	if code != exitUsage || !strings.Contains(errb.String(), "interrupted") {
		t.Fatalf("exit %d, stderr %s", code, errb.String())
	}
}

var _ io.Writer = failingWriter{}

// --rules applies the rule set's identifier policy: the VKP test
// municipality's organisation number fails its control digit, and
// dho-vkp lists it as a known test identity.
func TestValidateUnderRuleSet(t *testing.T) {
	shared := filepath.Join("..", "..", "..", "shared", "profiles")
	if _, err := os.Stat(shared); err != nil {
		t.Skipf("no ../shared/profiles: %v", err)
	}
	f := filepath.Join(t.TempDir(), "org.json")
	doc := `{"resourceType":"Organization","identifier":[{"system":"urn:oid:2.16.578.1.12.4.1.4.101","value":"314159265"}],"name":"Test"}`
	if err := os.WriteFile(f, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, "", "validate", f); r.code != exitFindings || !strings.Contains(r.out, "identifier-orgnr-control-digit") {
		t.Fatalf("without a rule set: exit %d\n%s", r.code, r.out)
	}
	r := runCLI(t, "", "validate", "--rules", filepath.Join("..", "..", "rules", "dho-vkp"), "--packages", shared, f)
	if r.code != exitOK || strings.Contains(r.out, "identifier-orgnr") {
		t.Fatalf("under dho-vkp: exit %d\n%s%s", r.code, r.out, r.err)
	}
	if r := runCLI(t, "", "validate", "--rules", t.TempDir(), f); r.code != exitUsage {
		t.Fatalf("a directory that is no rule set: exit %d, want %d", r.code, exitUsage)
	}
}

// Each engine option has a flag, and each flag changes the verdict the way
// its help says: the same input without the flag must not carry the code.
func TestValidateEngineFlags(t *testing.T) {
	dir := t.TempDir()
	narrative := `"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}`
	htmlString := writeFile(t, dir, "html-string.json", `{"resourceType":"Patient",`+narrative+`,"name":[{"text":"<b>Kari</b>"}]}`)
	htmlMarkdown := writeFile(t, dir, "html-markdown.json", `{"resourceType":"Observation",`+narrative+`,"status":"final","code":{"text":"x"},"note":[{"text":"see <img src=x onerror=alert(1)>"}]}`)
	comments := writeFile(t, dir, "comments.json", "{\n  // exported by a tool\n  \"resourceType\": \"Basic\", "+narrative+", \"code\": {\"text\": \"x\"}\n}")
	bundle := writeFile(t, dir, "bundle.json", `{"resourceType":"Bundle","type":"collection","entry":[`+
		`{"fullUrl":"urn:uuid:0b9d3c4e-7a59-4b7e-8d2c-3f6a1e2b9c01","resource":{"resourceType":"Basic",`+narrative+`,"code":{"text":"x"}}},`+
		`{"fullUrl":"urn:uuid:0b9d3c4e-7a59-4b7e-8d2c-3f6a1e2b9c02","resource":{"resourceType":"Basic",`+narrative+`,"code":{"text":"x"}}}]}`)
	const ms = "http://example.org/StructureDefinition/ms"
	msProfile := writeFile(t, dir, "defs/ms.json", `{"resourceType":"StructureDefinition","url":"`+ms+`","name":"MS","type":"Patient","kind":"resource",`+
		`"derivation":"constraint","baseDefinition":"http://hl7.org/fhir/StructureDefinition/Patient",`+
		`"differential":{"element":[{"id":"Patient.birthDate","path":"Patient.birthDate","mustSupport":true}]}}`)
	ok := filepath.Join("testdata", "patient-ok.json")
	for _, tc := range []struct {
		name       string
		flags      []string
		path       string
		code       string // the finding the flags add
		exit, base int    // exit status with and without the flags
	}{
		{"security checks: HTML in a string", []string{"--security-checks"}, htmlString, "security-html", exitFindings, exitOK},
		{"security checks: HTML in markdown", []string{"--security-checks"}, htmlMarkdown, "security-html", exitFindings, exitOK},
		{"no HTML in markdown", []string{"--no-html-in-markdown"}, htmlMarkdown, "security-html", exitFindings, exitOK},
		{"allow comments", []string{"--allow-comments"}, comments, "", exitOK, exitFindings},
		{"max depth", []string{"--max-depth", "1"}, ok, "json-depth", exitFindings, exitOK},
		{"max values", []string{"--max-values", "4"}, ok, "json-values", exitFindings, exitOK},
		{"max elements", []string{"--max-elements", "2"}, ok, "limit-elements", exitFindings, exitOK},
		{"max bundle entries", []string{"--max-bundle-entries", "1"}, bundle, "limit-bundle-entries", exitFindings, exitOK},
		{"timeout", []string{"--timeout", "1ns"}, ok, "validation-timeout", exitFindings, exitOK},
		{"must support", []string{"--must-support", "--load", msProfile, "--profile", ms}, ok, "profile-must-support", exitOK, exitOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			with := runCLI(t, "", append(append([]string{"validate", "--format", "json"}, tc.flags...), tc.path)...)
			if with.code != tc.exit {
				t.Fatalf("with %v: exit %d, want %d\n%s%s", tc.flags, with.code, tc.exit, with.out, with.err)
			}
			baseArgs := []string{"validate", "--format", "json", tc.path}
			if tc.code == "profile-must-support" {
				baseArgs = []string{"validate", "--format", "json", "--load", msProfile, "--profile", ms, tc.path}
			}
			without := runCLI(t, "", baseArgs...)
			if without.code != tc.base {
				t.Fatalf("without %v: exit %d, want %d\n%s%s", tc.flags, without.code, tc.base, without.out, without.err)
			}
			if tc.code == "" {
				return
			}
			rs, base := jsonLines(t, with.out), jsonLines(t, without.out)
			if len(rs) != 1 || !slices.Contains(codes(rs[0]), tc.code) {
				t.Fatalf("with %v: no %s finding:\n%s", tc.flags, tc.code, with.out)
			}
			if len(base) != 1 || slices.Contains(codes(base[0]), tc.code) {
				t.Fatalf("without %v the input already has %s:\n%s", tc.flags, tc.code, without.out)
			}
		})
	}
}

// A flag value the tool cannot use stops it before any output, with a
// message naming the flag.
func TestValidateBadFlagValues(t *testing.T) {
	ok := filepath.Join("testdata", "patient-ok.json")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--max-depth", "0"}, "--max-depth must be between 1 and 10000"},
		{[]string{"--max-depth", "10001"}, "--max-depth must be between 1 and 10000"},
		{[]string{"--max-values", "0"}, "--max-values must be positive"},
		{[]string{"--max-elements", "-5"}, "--max-elements must be positive"},
		{[]string{"--max-bundle-entries", "0"}, "--max-bundle-entries must be positive"},
		{[]string{"--timeout", "0s"}, "--timeout must be positive"},
		{[]string{"--timeout", "-1m"}, "--timeout must be positive"},
		{[]string{"--timeout", "soon"}, "-timeout"},
		{[]string{"--max-depth", "deep"}, "-max-depth"},
		{[]string{"--jobs", "0"}, "--jobs must be positive"},
		{[]string{"--max-line-bytes", "-1"}, "--max-line-bytes must be positive"},
		{[]string{"--max-bytes", "3000000000"}, "--max-bytes must be at most 2147483647"},
		{[]string{"--security-checks=maybe"}, "-security-checks"},
	} {
		r := runCLI(t, "", append(append([]string{"validate"}, tc.args...), ok)...)
		if r.code != exitUsage || r.out != "" || !strings.Contains(r.err, tc.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr lacks %q:\n%s", tc.args, r.code, r.out, tc.want, r.err)
		}
	}
}
