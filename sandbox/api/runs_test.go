package api

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/epr"
	"github.com/sandkasse/sandkasse/sandbox/runs"
	"github.com/sandkasse/sandkasse/sandbox/store"
	"github.com/sandkasse/sandkasse/sandbox/tenant"
	"github.com/sandkasse/sandkasse/validator/cert"
	"github.com/sandkasse/sandkasse/validator/certstore"
)

var (
	runsCatOnce sync.Once
	runsCat     runs.Catalog
)

// newRunsSandbox is newSandbox with a run worker (or, with none, without).
func newRunsSandbox(t *testing.T, worker bool) *sandboxFixture {
	t.Helper()
	f := newSandbox(t, 2)
	sb := &Sandbox{EPR: epr.New(epr.Options{Store: f.st, Validator: testValidator(t)}), Tenants: f.tenants, Auth: f.tenants, Traffic: f.rec}
	if worker {
		runsCatOnce.Do(func() {
			c, err := runs.Shipped(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			runsCat = c
		})
		sb.Runs = runs.New(runs.Options{Store: f.st, Catalog: runsCat, Traffic: f.rec, Poll: 10 * time.Millisecond, Settle: 20 * time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		wait := sb.Runs.Start(ctx)
		t.Cleanup(func() { cancel(); wait() })
	}
	f.h = New(Config{Validator: testValidator(t), MaxBodyBytes: 1 << 20, Sandbox: sb})
	return f
}

func TestRunRoutes(t *testing.T) {
	off := newRunsSandbox(t, false)
	a0 := off.tenant(t, "A")
	if r := off.do(t, a0.Token, "POST", "/t/"+a0.Tenant.ID+"/runs", `{"suite":"smart-app"}`, "Content-Type", "application/json"); r.status != http.StatusNotImplemented {
		t.Fatalf("without a run worker: %d %s", r.status, r.body)
	}
	f := newRunsSandbox(t, true)
	a, b := f.tenant(t, "A"), f.tenant(t, "B")
	path := "/t/" + a.Tenant.ID + "/runs"
	post := func(token, body string) fhirResp {
		return f.do(t, token, "POST", path, body, "Content-Type", "application/json")
	}
	for _, tc := range []struct {
		token, body string
		status      int
		want        string
	}{
		{"", `{"suite":"smart-app"}`, 401, ""},
		{b.Token, `{"suite":"smart-app"}`, 403, "another tenant"},
		{a.Token, `{"suite":`, 400, "artifactDigest"},
		{a.Token, `{"suite":"smart-app","colour":"red"}`, 400, "artifactDigest"},
		{a.Token, `{"suite":"nope"}`, 400, "dho-journal, smart-app"},
		{a.Token, `{"suite":"smart-app","wait":"forever"}`, 400, "wait must be"},
	} {
		if r := post(tc.token, tc.body); r.status != tc.status || !strings.Contains(string(r.body), tc.want) {
			t.Errorf("POST %s with %.8q: %d %s, want %d with %q", tc.body, tc.token, r.status, r.body, tc.status, tc.want)
		}
	}
	if r := f.do(t, a.Token, "POST", path, `{"suite":"smart-app"}`, "Content-Type", "text/plain"); r.status != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain: %d", r.status)
	}

	// A run that waits keeps its report to itself until it is done.
	r := post(a.Token, `{"suite":"smart-app","app":"App","version":"2","wait":"300ms"}`)
	var run RunJSON
	if r.status != http.StatusAccepted || json.Unmarshal(r.body, &run) != nil || run.ID == "" ||
		r.header.Get("Location") != "http://example.com/t/"+a.Tenant.ID+"/runs/"+run.ID || run.Wait != "300ms" {
		t.Fatalf("POST: %d %s %v", r.status, r.body, r.header)
	}
	get := func(token, q string) fhirResp { return f.do(t, token, "GET", path+"/"+run.ID+q, "") }
	if r := get(a.Token, "?format=text"); r.status != http.StatusConflict {
		t.Errorf("report before the end: %d %s", r.status, r.body)
	}
	if r := get(b.Token, ""); r.status != http.StatusForbidden {
		t.Errorf("another tenant's token: %d", r.status)
	}
	if r := f.do(t, b.Token, "GET", "/t/"+b.Tenant.ID+"/runs/"+run.ID, ""); r.status != http.StatusNotFound {
		t.Errorf("the run under another tenant: %d", r.status)
	}
	deadline := time.Now().Add(time.Minute)
	for run.Status != "failed" {
		if time.Now().After(deadline) || run.Status == "passed" || run.Status == "error" {
			t.Fatalf("run %s: %s", run.Status, run.Message)
		}
		time.Sleep(20 * time.Millisecond)
		json.Unmarshal(get(a.Token, "").body, &run)
	}
	if !strings.HasPrefix(run.Message, "timeout: no evidence") || run.Outcome != "skip" || len(run.Report) == 0 || run.Finished == nil {
		t.Errorf("finished run: %+v", run)
	}
	for format, want := range map[string]string{"text": "INCOMPLETE", "json": `"verdict"`, "junit": "<testsuite", "sarif": `"2.1.0"`, "html": "<html"} {
		r := get(a.Token, "?format="+format)
		if r.status != 200 || !strings.Contains(string(r.body), want) {
			t.Errorf("format %s: %d %.200s", format, r.status, r.body)
		}
	}
	if r := get(a.Token, "?format=pdf"); r.status != http.StatusBadRequest {
		t.Errorf("format pdf: %d", r.status)
	}
	if r := f.do(t, a.Token, "GET", path+"/run-nope", ""); r.status != http.StatusNotFound {
		t.Errorf("unknown run: %d", r.status)
	}
}

// The SMART exchanges are recorded for the suites, without credentials:
// the code in the redirect and in the token request, the tokens in the
// response, the client assertion; the code_verifier keeps only its shape.
// A token sent in a FHIR URL is recorded by name, not by value.
func TestOAuthTrafficRedacted(t *testing.T) {
	e := newSmartEnv(t)
	e.register(t, publicApp)
	pid := e.patientID(t)
	q := e.authorize(t, func(q url.Values) { q.Set("patient", pid) })
	code := q.Get("code")
	v, _ := pkce()
	st, tok := e.exchange(t, code, nil)
	if st != 200 {
		t.Fatalf("token: %d %v", st, tok)
	}
	at := tok["access_token"].(string)
	if r := e.f.do(t, "", "GET", "/t/"+e.tenant+"/fhir/Patient/"+pid+"?access_token="+at, ""); r.status != http.StatusUnauthorized {
		t.Fatalf("token in the URL: %d", r.status)
	}
	r := e.f.do(t, e.dev, "GET", "/t/"+e.tenant+"/traffic?_count=50", "")
	body := string(r.body)
	for name, secret := range map[string]string{"code": code, "access token": at, "code_verifier": v} {
		if strings.Contains(body, secret) || strings.Contains(body, url.QueryEscape(secret)) {
			t.Errorf("the %s is in the recorded traffic", name)
		}
	}
	for _, want := range []string{"/smart/authorize", "/smart/token", "code_verifier=" + strings.Repeat("x", len(v)),
		"code=%5Bredacted%5D", `\"access_token\":\"[redacted]\"`, "access_token=%5Bredacted%5D", `"status":401`} {
		if !strings.Contains(body, want) {
			t.Errorf("the traffic lacks %s", want)
		}
	}
}

// A request with another tenant's credential is not recorded as this
// tenant's evidence; one without any credential is (it may be the app's).
func TestTrafficKeepsOtherTenantsOut(t *testing.T) {
	f := newSandbox(t, 1)
	a, b := f.tenant(t, "A"), f.tenant(t, "B")
	if r := f.do(t, b.Token, "GET", "/t/"+a.Tenant.ID+"/fhir/Patient?name=from-b", ""); r.status != http.StatusForbidden {
		t.Fatalf("B's token at A: %d", r.status)
	}
	if r := f.do(t, "", "GET", "/t/"+a.Tenant.ID+"/fhir/Patient?name=anonymous", ""); r.status != http.StatusUnauthorized {
		t.Fatalf("no token: %d", r.status)
	}
	body := string(f.do(t, a.Token, "GET", "/t/"+a.Tenant.ID+"/traffic", "").body)
	if strings.Contains(body, "from-b") || !strings.Contains(body, "anonymous") {
		t.Fatalf("A's traffic:\n%s", body)
	}
}

// TestRunCertificateRoutes: POST "issue": true is refused at once by a
// sandbox that cannot sign; on one that can, GET …/certificate answers 404
// while there is none, 409 for a failed run, and the signed certificate
// (application/jose) for a passed one, verifiable with the registry's keys.
func TestRunCertificateRoutes(t *testing.T) {
	const org = "974760673" // passes mod-11
	digest := "sha256:" + strings.Repeat("ab", 32)
	issueBody := `{"suite":"smart-app","app":"App","version":"2","artifactDigest":"` + digest + `","wait":"0s","issue":true}`

	noKey := newRunsSandbox(t, true)
	n, err := noKey.tenants.Create(context.Background(), tenant.Spec{Name: "No key", Org: org, VendorOrg: testVendorOrg})
	if err != nil {
		t.Fatal(err)
	}
	r := noKey.do(t, n.Token, "POST", "/t/"+n.Tenant.ID+"/runs", issueBody, "Content-Type", "application/json")
	if r.status != http.StatusNotImplemented || !strings.Contains(string(r.body), "signing key") {
		t.Fatalf("issue on a sandbox without a signing key: %d %s", r.status, r.body)
	}

	key, err := cert.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	reg := &certstore.Store{Dir: t.TempDir()}
	if _, err := reg.AddKey(key.Public()); err != nil {
		t.Fatal(err)
	}
	signer, err := cert.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	f := newRunsSandboxWith(t, runs.Options{Registry: reg, Signer: signer})
	a, err := f.tenants.Create(context.Background(), tenant.Spec{Name: "Vendor", Org: org, VendorOrg: testVendorOrg})
	if err != nil {
		t.Fatal(err)
	}
	path := "/t/" + a.Tenant.ID + "/runs"
	start := func(body string) RunJSON {
		t.Helper()
		r := f.do(t, a.Token, "POST", path, body, "Content-Type", "application/json")
		var run RunJSON
		if r.status != http.StatusAccepted || json.Unmarshal(r.body, &run) != nil {
			t.Fatalf("POST %s: %d %s", body, r.status, r.body)
		}
		return run
	}
	wait := func(run RunJSON) RunJSON {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for run.Status != "passed" && run.Status != "failed" && run.Status != "error" {
			if time.Now().After(deadline) {
				t.Fatalf("run %s still %s", run.ID, run.Status)
			}
			time.Sleep(20 * time.Millisecond)
			json.Unmarshal(f.do(t, a.Token, "GET", path+"/"+run.ID, "").body, &run)
		}
		return run
	}
	certOf := func(id string) fhirResp { return f.do(t, a.Token, "GET", path+"/"+id+"/certificate", "") }
	wantRefusal := func(what string, r fhirResp, status int, code, text string) {
		t.Helper()
		if r.status != status || !strings.Contains(strings.Join(r.issueCodes(), " "), code) || !strings.Contains(string(r.body), text) {
			t.Errorf("%s: %d %s, want %d %s with %q", what, r.status, r.body, status, code, text)
		}
	}

	// A bad request for a certificate is refused before the run.
	bad := f.do(t, a.Token, "POST", path, strings.Replace(issueBody, digest, "md5:1", 1), "Content-Type", "application/json")
	wantRefusal("a bad artifact digest", bad, 400, CodeBadRequest, "artifactDigest must be sha256:")

	waiting := start(strings.Replace(issueBody, `"0s"`, `"3s"`, 1))
	wantRefusal("while the run waits", certOf(waiting.ID), 404, CodeNoCertificate, "no certificate yet")

	failed := wait(start(issueBody)) // no traffic yet: timeout, failed
	if failed.Status != "failed" || failed.CertificateID != "" {
		t.Fatalf("run without traffic: %s %q", failed.Status, failed.CertificateID)
	}
	wantRefusal("a failed run", certOf(failed.ID), 409, CodeRunNotPassed, "no certificate is issued for a failed run")

	recordSMARTSession(t, f, a.Tenant.ID)
	plain := wait(start(`{"suite":"smart-app","wait":"0s"}`))
	if plain.Status != "passed" {
		t.Fatalf("plain run: %s %s\n%s", plain.Status, plain.Message, plain.Report)
	}
	wantRefusal("a run that did not ask", certOf(plain.ID), 404, CodeNoCertificate, "did not ask for a certificate")

	passed := wait(start(issueBody))
	if passed.Status != "passed" || passed.CertificateID != runs.CertificateID(passed.ID) || !passed.Issue {
		t.Fatalf("issue run: %+v", passed)
	}
	got := certOf(passed.ID)
	if got.status != 200 || got.header.Get("Content-Type") != "application/jose" {
		t.Fatalf("certificate: %d %s %s", got.status, got.header.Get("Content-Type"), got.body)
	}
	ks, _ := cert.NewKeySet(key.Public())
	res := cert.NewVerifier(ks).Verify(strings.TrimSpace(string(got.body)))
	if !res.Valid() || res.Payload.ID != passed.CertificateID || res.Payload.Vendor.OrgNumber != testVendorOrg || res.Payload.App.ArtifactDigest != digest {
		t.Fatalf("certificate does not verify or says otherwise: %+v %v", res.Payload, res.Err())
	}
	if r := f.do(t, a.Token, "GET", path+"/run-nope/certificate", ""); r.status != 404 {
		t.Errorf("certificate of an unknown run: %d", r.status)
	}
}

// newRunsSandboxWith is newRunsSandbox with extra run-service options.
func newRunsSandboxWith(t *testing.T, o runs.Options) *sandboxFixture {
	t.Helper()
	f := newRunsSandbox(t, false)
	runsCatOnce.Do(func() {
		c, err := runs.Shipped(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		runsCat = c
	})
	o.Store, o.Catalog, o.Traffic = f.st, runsCat, f.rec
	o.Poll, o.Settle = 10*time.Millisecond, 20*time.Millisecond
	sb := &Sandbox{EPR: epr.New(epr.Options{Store: f.st, Validator: testValidator(t)}), Tenants: f.tenants, Auth: f.tenants,
		Traffic: f.rec, Runs: runs.New(o)}
	ctx, cancel := context.WithCancel(context.Background())
	wait := sb.Runs.Start(ctx)
	t.Cleanup(func() { cancel(); wait() })
	f.h = New(Config{Validator: testValidator(t), MaxBodyBytes: 1 << 20, Sandbox: sb})
	return f
}

// recordSMARTSession stores a short SMART session that passes the
// smart-app suite: authorisation with PKCE, code exchange, a read, a write.
func recordSMARTSession(t *testing.T, f *sandboxFixture, tenantID string) {
	t.Helper()
	p := "/t/" + tenantID
	q := url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {"http://app/cb"}, "state": {"s1"},
		"aud": {"http://example.com" + p + "/fhir"}, "scope": {"launch/patient patient/Observation.crs"}, "code_challenge_method": {"S256"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "patient": {"p1"}}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {"[redacted]"}, "redirect_uri": {"http://app/cb"},
		"client_id": {"app"}, "code_verifier": {strings.Repeat("v", 43)}}
	xs := []store.Exchange{
		{Method: "GET", Path: p + "/smart/authorize", Query: q.Encode(), Status: 302},
		{Method: "POST", Path: p + "/smart/token", Status: 200,
			RequestHeader: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, RequestBody: []byte(form.Encode()),
			ResponseHeader: http.Header{"Content-Type": {"application/json"}},
			ResponseBody:   []byte(`{"access_token":"[redacted]","scope":"launch/patient patient/Observation.crs","patient":"p1"}`)},
		{Method: "GET", Path: p + "/fhir/Observation", Query: "patient=p1", Status: 200, RequestHeader: http.Header{"Authorization": {"Bearer [redacted]"}}},
		{Method: "POST", Path: p + "/fhir/Observation", Status: 201,
			RequestHeader: http.Header{"Authorization": {"Bearer [redacted]"}, "Content-Type": {"application/fhir+json"}},
			RequestBody: []byte(`{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},` +
				`"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2026-11-20T10:00:00Z",` +
				`"valueQuantity":{"value":72,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}`)},
	}
	for i := range xs {
		xs[i].Tenant, xs[i].At = tenantID, time.Now()
		if xs[i].RequestHeader == nil {
			xs[i].RequestHeader = http.Header{}
		}
		if xs[i].ResponseHeader == nil {
			xs[i].ResponseHeader = http.Header{}
		}
	}
	if err := f.st.RecordTraffic(context.Background(), xs); err != nil {
		t.Fatal(err)
	}
}

// testVendorOrg is the vendor's own (synthetic, valid) organisation number,
// which certificates name, unlike the municipality the tenant plays.
const testVendorOrg = "910000004"
