package runs

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/store"
	"github.com/sandkasse/sandkasse/sandbox/store/sqlite"
	"github.com/sandkasse/sandkasse/validator"
	"github.com/sandkasse/sandkasse/validator/issue"
	"github.com/sandkasse/sandkasse/validator/suite"
)

// BenchmarkLiveRun1000 is one smart-app run over a tenant session of 1,000
// recorded requests in the embedded store: reading the traffic, building
// the recording, evaluating the suite's policies and validating the 250
// written resources (go test -run '^$' -bench LiveRun ./sandbox/runs).
func BenchmarkLiveRun1000(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	cat, err := Shipped(ctx)
	if err != nil {
		b.Fatal(err)
	}
	p := "/t/t1"
	q := url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {"http://app/cb"}, "state": {"s1"},
		"aud": {"http://x/t/t1/fhir"}, "scope": {"launch/patient patient/Observation.cruds patient/Patient.rs"}, "code_challenge_method": {"S256"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "patient": {"p1"}}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {"[redacted]"}, "redirect_uri": {"http://app/cb"},
		"client_id": {"app"}, "code_verifier": {strings.Repeat("x", 43)}}
	bearer := http.Header{"Authorization": {"Bearer [redacted]"}}
	xs := []store.Exchange{
		{Method: "GET", Path: p + "/smart/authorize", Query: q.Encode(), Status: 302},
		{Method: "POST", Path: p + "/smart/token", Status: 200,
			RequestHeader: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, RequestBody: []byte(form.Encode()),
			ResponseBody: []byte(`{"access_token":"[redacted]","scope":"launch/patient patient/Observation.cruds patient/Patient.rs","patient":"p1"}`)},
	}
	obs := `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}]},` +
		`"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2026-11-20T10:00:00Z","valueQuantity":{"value":81.5,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}}`
	for i := len(xs); i < 1000; i++ {
		switch i % 4 {
		case 0:
			xs = append(xs, store.Exchange{Method: "POST", Path: p + "/fhir/Observation", Status: 201,
				RequestHeader: http.Header{"Authorization": {"Bearer [redacted]"}, "Content-Type": {"application/fhir+json"}},
				RequestBody:   []byte(obs), ResponseBody: []byte(obs)})
		case 1:
			xs = append(xs, store.Exchange{Method: "GET", Path: p + "/fhir/Patient/p1", Status: 200, RequestHeader: bearer})
		default:
			xs = append(xs, store.Exchange{Method: "GET", Path: p + "/fhir/Observation", Query: fmt.Sprintf("patient=p1&_count=%d", i%50+1), Status: 200, RequestHeader: bearer})
		}
	}
	for i := range xs {
		xs[i].Tenant, xs[i].At = "t1", time.Now()
		if xs[i].RequestHeader == nil {
			xs[i].RequestHeader = http.Header{}
		}
		xs[i].ResponseHeader = http.Header{"Content-Type": {"application/json"}}
	}
	if err := st.RecordTraffic(ctx, xs); err != nil {
		b.Fatal(err)
	}
	v, err := validator.New(validator.Options{})
	if err != nil {
		b.Fatal(err)
	}
	s := New(Options{Store: st, Catalog: cat,
		Validator: suite.ValidatorFunc(func(ctx context.Context, b []byte) issue.List { return v.Validate(ctx, b).Issues })})
	run := store.Run{ID: "r", Tenant: "t1", Suite: "smart-app", FHIRBase: "http://x/t/t1/fhir"}
	b.ResetTimer()
	for b.Loop() {
		out, _ := s.work(ctx, run, func(string) {})
		if out.Outcome != "pass" {
			b.Fatalf("run: %s %s", out.Status, out.Message)
		}
	}
}
