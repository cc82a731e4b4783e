package identifier_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sandkasse/sandkasse/validator"
	"github.com/sandkasse/sandkasse/validator/identifier"
	"github.com/sandkasse/sandkasse/validator/issue"
	"github.com/sandkasse/sandkasse/validator/nationalid"
)

func patient(system, value string) []byte {
	return []byte(`{"resourceType":"Patient","identifier":[{"system":"` + system + `","value":"` + value + `"}]}`)
}

func TestNationalIdentifiers(t *testing.T) {
	const fnr, dnr, org = "urn:oid:2.16.578.1.12.4.1.4.1", "urn:oid:2.16.578.1.12.4.1.4.2", "urn:oid:2.16.578.1.12.4.1.4.101"
	// Synthetic numbers (month + 80) made with nationalid.SyntheticFNR and
	// SyntheticDNR; the broken ones differ from them in one digit.
	cases := []struct {
		name, system, value string
		policy              identifier.Policy
		code                string // "" = no finding
		sev                 issue.Severity
	}{
		{"valid synthetic FNR", fnr, "13829030823", identifier.Policy{}, "", 0},
		{"FNR with a broken second control digit", fnr, "13829030824", identifier.Policy{}, "identifier-fnr-control-digit-2", issue.Error},
		{"FNR too short", fnr, "1382903082", identifier.Policy{}, "identifier-fnr-length", issue.Error},
		{"2032-rule FNR accepted by default", fnr, "30108299939", identifier.Policy{}, "", 0},
		{"2032-rule FNR refused under the old rule", fnr, "30108299939", identifier.Policy{Rules: nationalid.Pre2032}, "identifier-fnr-control-digit-1", issue.Error},
		{"D-number under the FNR system", fnr, "53829039806", identifier.Policy{}, "identifier-fnr-kind-mismatch", issue.Error},
		{"VKP sample org number fails", org, "314159265", identifier.Policy{}, "identifier-orgnr-control-digit", issue.Error},
		{"VKP sample org number allowlisted", org, "314159265", identifier.Policy{Allow: map[string]bool{"314159265": true}}, "", 0},
		{"severity lowered by policy", org, "314159265", identifier.Policy{Severity: ptr(issue.Warning)}, "identifier-orgnr-control-digit", issue.Warning},
		{"checks off", fnr, "1", identifier.Policy{Off: true}, "", 0},
		{"unknown system is not checked", "urn:example", "1", identifier.Policy{}, "", 0},
		{"valid synthetic DNR", dnr, "53829039806", identifier.Policy{}, "", 0},
		{"DNR system with a letter", dnr, "5382903980X", identifier.Policy{}, "identifier-dnr-non-digit", issue.Error},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := validator.New(validator.Options{Identifiers: c.policy})
			if err != nil {
				t.Fatal(err)
			}
			r := v.Validate(context.Background(), patient(c.system, c.value))
			var found *issue.Issue
			for i := range r.Issues {
				if strings.HasPrefix(r.Issues[i].Code, "identifier-") {
					found = &r.Issues[i]
				}
			}
			if c.code == "" {
				if found != nil {
					t.Fatalf("unexpected %v", *found)
				}
				return
			}
			if found == nil || !strings.HasPrefix(found.Code, c.code) || found.Severity != c.sev {
				t.Fatalf("got %v, want %s at %s", found, c.code, c.sev)
			}
			if found.Expression != "Patient.identifier[0].value" {
				t.Errorf("location %q, want Patient.identifier[0].value", found.Expression)
			}
			if strings.Contains(found.Message, c.value) {
				t.Errorf("message echoes the identifier: %q", found.Message)
			}
		})
	}
}

func ptr(s issue.Severity) *issue.Severity { return &s }
