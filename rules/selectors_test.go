package rules

import (
	"context"
	"testing"

	"github.com/sandkasse/sandkasse/validator/policy"
	"github.com/sandkasse/sandkasse/validator/suite"
)

func shippedSuite(t *testing.T, ruleSet, file string) (*suite.Suite, *policy.Engine) {
	t.Helper()
	ctx := context.Background()
	rs, err := Load(ctx, ruleSet)
	if err != nil {
		t.Fatal(err)
	}
	s, err := suite.Load(rs.FS(), file)
	if err != nil {
		t.Fatal(err)
	}
	e, err := rs.Engine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return s, e
}

func recording(xs ...policy.Exchange) *suite.Recording {
	rec := &suite.Recording{Context: map[string]any{}}
	for _, x := range xs {
		x.URL = "http://sandbox.test" + x.Path
		rec.Exchanges = append(rec.Exchanges, suite.RecordedExchange{File: x.Method + " " + x.Path, Exchange: x})
	}
	return rec
}

// TestSelectors holds each test's input selectors to what the test is
// about: one exchange at a time, which tests examine it. Paths are the
// sandbox's (/t/{tenant}/fhir, /t/{tenant}/smart, /t/{tenant}/vkp).
func TestSelectors(t *testing.T) {
	const p = "/t/abc"
	cases := []struct {
		ruleSet, file, method, path string
		want, notWant               []string
	}{
		{"epr-smart-app", "suites/smart-app.yaml", "POST", p + "/smart/token",
			[]string{"code-exchange", "tokens-in-headers"}, []string{"write-endpoint", "written-resources-valid", "within-scopes", "authorize-request"}},
		{"epr-smart-app", "suites/smart-app.yaml", "GET", p + "/smart/token",
			[]string{"code-exchange"}, []string{"write-endpoint"}},
		{"epr-smart-app", "suites/smart-app.yaml", "GET", p + "/smart/authorize",
			[]string{"authorize-request", "scope-request"}, []string{"write-endpoint", "within-scopes", "code-exchange"}},
		{"epr-smart-app", "suites/smart-app.yaml", "POST", p + "/fhir/Observation",
			[]string{"write-endpoint", "written-resources-valid", "within-scopes"}, []string{"code-exchange"}},
		{"epr-smart-app", "suites/smart-app.yaml", "PUT", p + "/fhir/Observation/o1",
			[]string{"write-endpoint", "written-resources-valid", "within-scopes"}, nil},
		{"epr-smart-app", "suites/smart-app.yaml", "POST", p + "/fhir",
			[]string{"write-endpoint", "written-resources-valid"}, nil},
		{"epr-smart-app", "suites/smart-app.yaml", "POST", p + "/fhir/Observation/_search",
			[]string{"within-scopes"}, []string{"write-endpoint", "written-resources-valid"}},
		{"epr-smart-app", "suites/smart-app.yaml", "GET", p + "/fhir/Patient/p1",
			[]string{"within-scopes", "tokens-in-headers"}, []string{"write-endpoint"}},
		{"epr-smart-app", "suites/smart-app.yaml", "POST", p + "/smart/clients",
			nil, []string{"write-endpoint", "written-resources-valid", "within-scopes"}},
		{"dho-vkp", "suites/dho-journal.yaml", "POST", p + "/vkp/epj/r4/974760673/Patient/_search",
			[]string{"addressing", "authorisation", "reads-within-purpose"}, nil},
		{"dho-vkp", "suites/dho-journal.yaml", "POST", p + "/fhir/Encounter/_search",
			nil, []string{"addressing", "authorisation", "reads-within-purpose"}},
		{"dho-vkp", "suites/dho-journal.yaml", "POST", p + "/vkp/helseid/connect/token",
			nil, []string{"addressing", "authorisation", "reads-within-purpose"}},
		{"dho-vkp", "suites/dho-journal.yaml", "POST", p + "/vkp/epj/r4/974760673/Bundle",
			[]string{"addressing", "authorisation"}, []string{"reads-within-purpose"}},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			s, _ := shippedSuite(t, c.ruleSet, c.file)
			// No engine: only which tests have input matters here.
			res := (&suite.Runner{}).Run(context.Background(), s, recording(policy.Exchange{Method: c.method, Path: c.path}))
			inputs := map[string]int{}
			for _, tr := range res.Tests() {
				inputs[tr.ID] = tr.Inputs
			}
			for _, id := range c.want {
				if n, ok := inputs[id]; !ok || n == 0 {
					t.Errorf("%s does not examine it", id)
				}
			}
			for _, id := range c.notWant {
				if n, ok := inputs[id]; !ok || n != 0 {
					t.Errorf("%s examines it (or is missing: %v)", id, ok)
				}
			}
		})
	}
}

// An app that never writes does not pass the write tests: they have
// nothing to examine and skip, and so does the suite (a required test that
// skips keeps the suite from passing).
func TestNoWritesSkips(t *testing.T) {
	s, e := shippedSuite(t, "epr-smart-app", "suites/smart-app.yaml")
	rec := recording(
		policy.Exchange{Method: "GET", Path: "/t/abc/smart/authorize"},
		policy.Exchange{Method: "POST", Path: "/t/abc/smart/token", Headers: map[string][]string{"content-type": {"application/x-www-form-urlencoded"}},
			Body: map[string]any{"grant_type": []any{"authorization_code"}, "code": []any{"[redacted]"}, "code_verifier": []any{"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}},
		policy.Exchange{Method: "GET", Path: "/t/abc/fhir/Patient/p1", Headers: map[string][]string{"authorization": {"Bearer [redacted]"}}},
	)
	res := (&suite.Runner{Engine: e}).Run(context.Background(), s, rec)
	for _, tr := range res.Tests() {
		if (tr.ID == "write-endpoint" || tr.ID == "written-resources-valid") && tr.Outcome != suite.Skip {
			t.Errorf("%s: %s with no writes, want skip (%s)", tr.ID, tr.Outcome, tr.Message)
		}
	}
	if res.Outcome == suite.Pass {
		t.Errorf("the suite passes an app that never writes")
	}
}
