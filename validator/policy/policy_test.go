package policy

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/validator/issue"
)

const goodPolicy = `package sandkasse.test.obs

# METADATA
# title: Observation has a status
# description: Why it matters.
# custom:
#   id: TEST-OBS-01
#   severity: error
#   requirement: REQ-1
#   source: sandkasse
#   fix:
#     nb: Sett status.
#     en: Set status.
deny_no_status contains finding if {
	input.resource.resourceType == "Observation"
	not input.resource.status
	finding := {"msg": "Observation has no status", "expression": "Observation.status"}
}

# METADATA
# title: Subject has a valid national id
# custom:
#   id: TEST-OBS-02
#   severity: warning
#   requirement: REQ-2
#   source: VKP-R4 0.9.0
#   fix:
#     nb: Bruk gyldig fødselsnummer.
#     en: Use a valid national identity number.
warn_subject contains finding if {
	id := input.resource.subject.identifier
	not sandkasse.valid_national_id(id.system, id.value)
	finding := {"msg": "subject identifier is not a valid national identity number", "expression": "Observation.subject.identifier.value"}
}
`

func mustCompile(t testing.TB, src string, opts ...Option) *Engine {
	t.Helper()
	e, err := Compile(context.Background(), []Module{{Name: "policies/p.rego", Source: []byte(src)}}, opts...)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return e
}

func resource(s string) *Input { return &Input{Resource: json.RawMessage(s)} }

func TestEvalFindings(t *testing.T) {
	e := mustCompile(t, goodPolicy, WithLanguage("nb"))
	if n := len(e.Rules()); n != 2 {
		t.Fatalf("rules = %d, want 2", n)
	}
	r := e.Rules()[0]
	if r.ID != "TEST-OBS-01" || r.Severity != issue.Error || r.Fix.EN != "Set status." || r.Line != 14 || r.Description != "Why it matters." {
		t.Errorf("rule = %+v", r)
	}
	got, err := e.Eval(context.Background(), resource(`{"resourceType":"Observation","subject":{"identifier":{"system":"urn:oid:2.16.578.1.12.4.1.4.1","value":"12345678901"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("findings = %v", got)
	}
	if got[0].Code != "TEST-OBS-01" || got[0].RuleID != "TEST-OBS-01" || got[0].Expression != "Observation.status" || got[0].Fix != "Sett status." || got[0].Severity != issue.Error {
		t.Errorf("finding 0 = %+v", got[0])
	}
	if got[1].Code != "TEST-OBS-02" || got[1].Severity != issue.Warning {
		t.Errorf("finding 1 = %+v", got[1])
	}
	// A synthetic (Tenor, month + 80) number passes: the builtin is the
	// validator's own check.
	got, err = e.Eval(context.Background(), resource(`{"resourceType":"Observation","status":"final","subject":{"identifier":{"system":"urn:oid:2.16.578.1.12.4.1.4.1","value":"14835031048"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("findings on a good resource: %v", got)
	}
}

// compileErrs compiles a module that must fail and returns its errors.
func compileErrs(t *testing.T, src string) Errors {
	t.Helper()
	_, err := Compile(context.Background(), []Module{{Name: "policies/bad.rego", Source: []byte(src)}})
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("want Errors, got %v", err)
	}
	return errs
}

func wantErr(t *testing.T, errs Errors, line int, code, substr string) {
	t.Helper()
	for _, e := range errs {
		if e.Line == line && e.Code == code && strings.Contains(e.Message, substr) && e.File == "policies/bad.rego" {
			return
		}
	}
	t.Errorf("no %s error at line %d containing %q in:\n%v", code, line, substr, errs)
}

func TestNetworkAndRuntimeRefused(t *testing.T) {
	src := `package sandkasse.test.bad

leak := http.send({"method": "GET", "url": "https://example.org"})

ip := net.lookup_ip_addr("example.org")

now := time.now_ns()

env := opa.runtime().env
`
	errs := compileErrs(t, src)
	wantErr(t, errs, 3, CodeRefused, "http.send is not allowed")
	wantErr(t, errs, 5, CodeRefused, "net.lookup_ip_addr is not allowed")
	wantErr(t, errs, 7, CodeRefused, "time.now_ns is not allowed")
	wantErr(t, errs, 9, CodeRefused, "opa.runtime is not allowed")
	if !strings.Contains(errs.Error(), "policies/bad.rego:3:") {
		t.Errorf("error text has no file:line: %v", errs)
	}
}

// Capabilities alone must refuse network access even when a call slips past
// the pre-scan (a call through a variable-free rewrite, say).
func TestCapabilitiesExcludeNetwork(t *testing.T) {
	for _, b := range Capabilities().Builtins {
		if b.Name == "http.send" || strings.HasPrefix(b.Name, "net.") || b.Name == "opa.runtime" || b.Nondeterministic {
			t.Errorf("capabilities include %s", b.Name)
		}
	}
	if c := Capabilities(); c.AllowNet == nil || len(c.AllowNet) != 0 {
		t.Errorf("AllowNet = %v, want empty (no host)", c.AllowNet)
	}
}

func TestMetadataStrict(t *testing.T) {
	src := `package sandkasse.test.bad

# METADATA
# title: No fix
# custom:
#   id: BAD-01
#   severity: error
#   requirement: R
#   source: sandkasse
#   fix:
#     nb: Noe.
deny_a contains {"msg": "a"} if input.resource

# METADATA
# titel: Misspelt
# custom:
#   id: BAD-02
#   severity: fatal
#   requirement: R
#   source: sandkasse
#   owner: me
#   fix:
#     nb: Noe.
#     en: Something.
deny_b contains {"msg": "b"} if input.resource

deny_c contains {"msg": "c"} if input.resource

# METADATA
# title: Not a set
# custom:
#   id: BAD-04
#   severity: error
#   requirement: R
#   source: sandkasse
#   fix: {nb: x, en: y}
deny_d := true

# METADATA
# title: lower-case id
# custom:
#   id: bad-05
#   severity: error
#   requirement: R
#   source: sandkasse
#   fix: {nb: x, en: y}
deny_e contains {"msg": "e"} if input.resource
`
	errs := compileErrs(t, src)
	wantErr(t, errs, 3, CodeMetadata, "no custom.fix.en")
	wantErr(t, errs, 15, CodeMetadata, "field titel not found")
	wantErr(t, errs, 21, CodeMetadata, "field owner not found")
	wantErr(t, errs, 14, CodeMetadata, "has no title")
	wantErr(t, errs, 14, CodeMetadata, `severity "fatal"`)
	wantErr(t, errs, 27, CodeMetadata, "rule deny_c produces findings but has no METADATA")
	wantErr(t, errs, 37, CodeMetadata, "must be a finding rule")
	wantErr(t, errs, 39, CodeMetadata, "upper-case words")
}

func TestDuplicateRuleID(t *testing.T) {
	src := strings.Replace(goodPolicy, "TEST-OBS-02", "TEST-OBS-01", 1)
	_, err := Compile(context.Background(), []Module{{Name: "policies/bad.rego", Source: []byte(src)}})
	if err == nil || !strings.Contains(err.Error(), "rule id TEST-OBS-01 is already used") {
		t.Errorf("err = %v", err)
	}
}

func TestParseErrorsHaveLines(t *testing.T) {
	errs := compileErrs(t, "package x\n\nallow if {\n")
	if len(errs) == 0 || errs[0].Line == 0 || errs[0].Code != CodeParse {
		t.Errorf("errs = %#v", errs)
	}
}

func TestBadFindingShapeIsAnError(t *testing.T) {
	src := strings.Replace(goodPolicy, `finding := {"msg": "Observation has no status", "expression": "Observation.status"}`, `finding := {"message": "x"}`, 1)
	e := mustCompile(t, src)
	_, err := e.Eval(context.Background(), resource(`{"resourceType":"Observation"}`))
	if err == nil || !strings.Contains(err.Error(), `unknown finding field "message"`) {
		t.Errorf("err = %v", err)
	}
}

const slowPolicy = `package sandkasse.test.slow

# METADATA
# title: Slow
# custom:
#   id: SLOW-01
#   severity: error
#   requirement: R
#   source: sandkasse
#   fix: {nb: x, en: y}
deny_slow contains {"msg": "never"} if {
	some i in numbers.range(1, 100000000)
	i == -1
}
`

func TestEvalTimeLimit(t *testing.T) {
	e := mustCompile(t, slowPolicy, WithTimeout(50*time.Millisecond))
	start := time.Now()
	_, err := e.Eval(context.Background(), resource(`{"resourceType":"Observation"}`))
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("stopped after %v, want about 50ms", d)
	}
}

// TestEvalCancelled: the caller's cancellation stops a running evaluation
// and says so (not the time limit).
func TestEvalCancelled(t *testing.T) {
	e := mustCompile(t, slowPolicy, WithTimeout(time.Minute))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := e.Eval(ctx, resource(`{"resourceType":"Observation"}`))
	if err == nil || !errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want canceled", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("stopped after %v, want about 50ms", d)
	}
}

func TestInputExactlyOne(t *testing.T) {
	e := mustCompile(t, goodPolicy)
	for _, in := range []*Input{{}, {Resource: json.RawMessage(`{}`), Exchange: &Exchange{}}} {
		if _, err := e.Eval(context.Background(), in); err == nil {
			t.Errorf("input %+v accepted", in)
		}
	}
}

func TestRunTests(t *testing.T) {
	tests := `package sandkasse.test.obs_test

import data.sandkasse.test.obs

test_missing_status if {
	some f in obs.deny_no_status with input as {"resource": {"resourceType": "Observation"}}
	f.expression == "Observation.status"
}

test_fails if {
	count(obs.deny_no_status) == 1 with input as {"resource": {"resourceType": "Observation", "status": "final"}}
}

test_builtin if {
	sandkasse.valid_national_id("urn:oid:2.16.578.1.12.4.1.4.1", "14835031048")
	not sandkasse.valid_national_id("urn:oid:2.16.578.1.12.4.1.4.1", "14835031049")
	sandkasse.valid_org_number("974760673")
}
`
	res, err := RunTests(context.Background(), []Module{
		{Name: "policies/obs.rego", Source: []byte(goodPolicy)},
		{Name: "policies/obs_test.rego", Source: []byte(tests)},
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, r := range res {
		got[r.Name] = r.Pass
		if r.File != "policies/obs_test.rego" || r.Line == 0 {
			t.Errorf("result location %s:%d", r.File, r.Line)
		}
	}
	want := map[string]bool{"test_missing_status": true, "test_fails": false, "test_builtin": true}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s pass = %v, want %v (results %v)", k, got[k], v, res)
		}
	}
}

func TestRunTestsRefusesNetworkInTests(t *testing.T) {
	tests := `package sandkasse.test.obs_test

test_net if {
	http.send({"method": "GET", "url": "https://example.org"}).status_code == 200
}
`
	_, err := RunTests(context.Background(), []Module{
		{Name: "policies/obs.rego", Source: []byte(goodPolicy)},
		{Name: "policies/obs_test.rego", Source: []byte(tests)},
	}, 0)
	if err == nil || !strings.Contains(err.Error(), "policies/obs_test.rego:4") || !strings.Contains(err.Error(), "http.send is not allowed") {
		t.Errorf("err = %v", err)
	}
}

func BenchmarkEvalResource(b *testing.B) {
	e := mustCompile(b, goodPolicy)
	in := resource(`{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"identifier":{"system":"urn:oid:2.16.578.1.12.4.1.4.1","value":"14835031048"},"display":"Test"},"valueQuantity":{"value":72,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}`)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Eval(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}
