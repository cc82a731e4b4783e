package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/epr"
	"github.com/sandkasse/sandkasse/sandbox/runs"
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
