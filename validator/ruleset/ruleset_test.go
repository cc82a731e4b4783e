package ruleset

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/sandkasse/sandkasse/validator/nationalid"
)

// A malformed rule set reports every problem at once, each at its line.
func TestMalformedReportsEverything(t *testing.T) {
	_, err := Load(context.Background(), os.DirFS("testdata/bad"), "testdata/bad")
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("want Problems, got %v", err)
	}
	want := []struct {
		file string
		line int
		text string
	}{
		{"ruleset.yaml", 4, "field descripton not found"},
		{"ruleset.yaml", 1, `id "Bad_Set" must be lower-case`},
		{"ruleset.yaml", 2, `version "1.0" is not a semantic version`},
		{"ruleset.yaml", 3, `effective "2026-13-01" is not a date`},
		{"ruleset.yaml", 0, "missing required field description"},
		{"ruleset.yaml", 6, "packages[0]: a package is name@version"},
		{"ruleset.yaml", 7, "packages[1]: a package is name@version"},
		{"ruleset.yaml", 9, "profiles[0]"},
		{"ruleset.yaml", 11, "suites[0]: suites/missing.yaml does not exist"},
		{"ruleset.yaml", 16, `id "req-b" must be upper-case`},
		{"ruleset.yaml", 16, "requirements[1] has no title"},
		{"ruleset.yaml", 16, "requirements[1] has no source"},
		{"policies/lonely.rego", 0, "policy without tests"},
		{"policies/lonely.rego", 3, "http.send is not allowed"},
		{"policies/p.rego", 3, "no custom.fix"},
		{"ruleset.yaml", 19, `identifiers.severity "fatal"`},
		{"ruleset.yaml", 19, `identifiers.rule "sometimes"`},
		{"ruleset.yaml", 19, "identifiers.allow[0]"},
	}
	for _, w := range want {
		found := false
		for _, p := range ps {
			if p.File == "testdata/bad/"+w.file && p.Line == w.line && strings.Contains(p.Message, w.text) {
				found = true
			}
		}
		if !found {
			t.Errorf("no problem %s:%d %q in\n%v", w.file, w.line, w.text, ps)
		}
	}
}

func TestRequirementAndTestsTiedToRules(t *testing.T) {
	src, _ := os.ReadFile("testdata/bad/policies/p.rego")
	fixed := strings.Replace(string(src), "#   source: sandkasse\ndeny_a", "#   source: sandkasse\n#   fix: {nb: x, en: y}\ndeny_a", 1)
	fsys := fstest.MapFS{
		"ruleset.yaml":         {Data: []byte("id: good\nversion: 1.0.0\neffective: 2026-01-01\ndescription: d\npackages: []\nprofiles: []\nrequirements:\n  - {id: REQ-A, title: A, source: sandkasse}\n")},
		"policies/p.rego":      {Data: []byte(fixed)},
		"policies/p_test.rego": {Data: []byte("package sandkasse.bad_test\n\nimport data.sandkasse.bad\n\ntest_a if count(bad.deny_a) == 1 with input as {\"resource\": {}}\n")},
	}
	_, err := Load(context.Background(), fsys, "rules/good")
	if err == nil {
		t.Fatal("loaded")
	}
	msg := err.Error()
	for _, s := range []string{
		`rules/good/policies/p.rego:21: rule BAD-02 (deny_b) names requirement "REQ-NOPE"`,
		"rules/good/policies/p.rego:21: rule BAD-02 (deny_b) is not referred to by any test",
	} {
		if !strings.Contains(msg, s) {
			t.Errorf("missing %q in\n%s", s, msg)
		}
	}
	if strings.Contains(msg, "BAD-01 (deny_a) is not referred") {
		t.Errorf("deny_a is tested: %s", msg)
	}
}

func TestDigestIsContentOnly(t *testing.T) {
	a := fstest.MapFS{"x": {Data: []byte("1")}, "d/y": {Data: []byte("2")}}
	b := fstest.MapFS{"d/y": {Data: []byte("2"), Mode: 0o600}, "x": {Data: []byte("1")}}
	c := fstest.MapFS{"x": {Data: []byte("1")}, "d/y": {Data: []byte("3")}}
	da, _ := Digest(a)
	db, _ := Digest(b)
	dc, _ := Digest(c)
	if da != db || da == dc || !strings.HasPrefix(da, "sha256:") {
		t.Errorf("digests %s %s %s", da, db, dc)
	}
}

// A rule set's identifiers section becomes the validator's identifier
// policy; without one the defaults hold.
func TestIdentifierPolicy(t *testing.T) {
	c := &collector{name: "x"}
	m, _ := parseManifest(c, []byte("id: x\nversion: 1.0.0\neffective: 2026-01-01\ndescription: d\npackages: []\nprofiles: []\n"+
		"requirements: [{id: R, title: t, source: sandkasse}]\n"+
		"identifiers: {severity: warning, rule: pre2032, allow: [\"314159265\"]}\n"))
	if len(c.ps) != 0 {
		t.Fatalf("problems: %v", c.ps)
	}
	p := m.IdentifierPolicy()
	if p.Severity == nil || p.Severity.String() != "warning" || p.Rules != nationalid.Pre2032 || !p.Allow["314159265"] {
		t.Fatalf("policy %+v", p)
	}
	var none Manifest
	if q := none.IdentifierPolicy(); q.Severity != nil || q.Allow != nil || q.Rules != nationalid.AcceptEither {
		t.Fatalf("default policy %+v", q)
	}
}
