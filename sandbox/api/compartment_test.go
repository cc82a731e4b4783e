package api

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/sandkasse/sandkasse/sandbox/epr"
)

// TestSMARTPatientCompartment drives the whole stack with a SMART token of
// patient/ scopes: what it reaches is the launch patient's compartment,
// while the developer token of the same tenant reaches everything.
func TestSMARTPatientCompartment(t *testing.T) {
	e := newSmartEnv(t)
	e.register(t, publicApp)
	base := "/t/" + e.tenant + "/fhir"
	pts := e.f.do(t, e.dev, "GET", base+"/Patient?_count=10", "").entries()
	// the launch patient and another, both with observations
	var pid, other string
	for _, p := range pts {
		id := p["resource"].(map[string]any)["id"].(string)
		if e.f.do(t, e.dev, "GET", base+"/Observation?patient="+id+"&_summary=count", "").str("total") == "0" {
			continue
		}
		if pid == "" {
			pid = id
		} else if other == "" {
			other = id
		}
	}
	if other == "" {
		t.Fatal("the tenant needs two patients with observations")
	}
	q := e.authorize(t, func(q url.Values) { q.Set("patient", pid); q.Set("scope", "launch/patient patient/*.rs") })
	_, tok := e.exchange(t, q.Get("code"), nil)
	at, _ := tok["access_token"].(string)
	if at == "" || tok["patient"] != pid {
		t.Fatalf("token %v", tok)
	}

	own := e.f.do(t, e.dev, "GET", base+"/Observation?patient="+pid+"&_summary=count", "").str("total")
	theirs := e.f.do(t, e.dev, "GET", base+"/Observation?patient="+other+"&_count=1", "")
	if own == "0" || len(theirs.entries()) == 0 {
		t.Fatalf("the seeded patients need observations (own %s, other's %d)", own, len(theirs.entries()))
	}
	otherObs := theirs.entries()[0]["resource"].(map[string]any)["id"].(string)

	// search: the compartment only, totals included
	r := e.f.do(t, at, "GET", base+"/Observation?_count=500&_include=Observation:subject", "")
	if r.status != http.StatusOK || r.str("total") != own {
		t.Fatalf("confined search: %d total %s, want %s", r.status, r.str("total"), own)
	}
	for _, en := range r.entries() {
		res := en["resource"].(map[string]any)
		if en["search"].(map[string]any)["mode"] == "include" {
			if res["resourceType"] != "Patient" || res["id"] != pid {
				t.Errorf("included %v/%v", res["resourceType"], res["id"])
			}
			continue
		}
		if ref := res["subject"].(map[string]any)["reference"]; ref != "Patient/"+pid {
			t.Errorf("an observation of %v in the launch patient's search", ref)
		}
	}
	if r := e.f.do(t, at, "GET", base+"/Observation?patient="+other, ""); r.status != http.StatusOK || r.str("total") != "0" {
		t.Errorf("search for another patient: %d total %s", r.status, r.str("total"))
	}
	// read: 403 outside, with an OperationOutcome
	for _, path := range []string{"/Observation/" + otherObs, "/Patient/" + other, "/Observation/" + otherObs + "/_history/1"} {
		r := e.f.do(t, at, "GET", base+path, "")
		if r.status != http.StatusForbidden || !slices.Contains(r.issueCodes(), epr.CodeOutsideCompartment) {
			t.Errorf("GET %s: %d %v", path, r.status, r.issueCodes())
		}
	}
	if r := e.f.do(t, at, "GET", base+"/Patient/"+pid, ""); r.status != http.StatusOK {
		t.Errorf("own Patient: %d", r.status)
	}
	// the developer token is not confined
	if r := e.f.do(t, e.dev, "GET", base+"/Observation/"+otherObs, ""); r.status != http.StatusOK {
		t.Errorf("developer read: %d", r.status)
	}
	// a transaction GET entry is held to the same rule
	tx := `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Observation/` + otherObs + `"}}]}`
	if r := e.f.do(t, at, "POST", base, tx); r.status != http.StatusOK || !strings.HasPrefix(r.entries()[0]["response"].(map[string]any)["status"].(string), "403") {
		t.Errorf("batch read of another patient's observation: %d %s", r.status, r.body)
	}
}
