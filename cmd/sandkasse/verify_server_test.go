package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/api"
	"github.com/sandkasse/sandkasse/sandbox/epr"
	"github.com/sandkasse/sandkasse/sandbox/runs"
	"github.com/sandkasse/sandkasse/sandbox/store"
	"github.com/sandkasse/sandkasse/sandbox/store/sqlite"
	"github.com/sandkasse/sandkasse/sandbox/tenant"
	"github.com/sandkasse/sandkasse/sandbox/traffic"
	"github.com/sandkasse/sandkasse/validator"
	"github.com/sandkasse/sandkasse/validator/cert"
	"github.com/sandkasse/sandkasse/validator/certstore"
)

type liveSandbox struct {
	url string
	st  store.Store
	ten tenant.Created
}

func newLiveSandbox(t *testing.T) *liveSandbox { return newLiveSandboxWith(t, nil, nil) }

// newLiveSandboxWith is a sandbox that, given a registry and a signer,
// issues certificates and publishes the registry's key set.
func newLiveSandboxWith(t *testing.T, reg *certstore.Store, signer *cert.Signer) *liveSandbox {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	v, err := validator.New(validator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := runs.Shipped(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tenants := tenant.New(tenant.Options{Store: st, Patients: 1, Days: 1, Seed: 3})
	rec := traffic.New(st)
	svc := runs.New(runs.Options{Store: st, Catalog: cat, Traffic: rec, Exclusive: true, Poll: 10 * time.Millisecond, Settle: 20 * time.Millisecond,
		Registry: reg, Signer: signer})
	stopped := svc.Start(ctx)
	var trust *api.Trust
	if reg != nil {
		trust = &api.Trust{Store: reg}
	}
	srv := httptest.NewServer(api.New(api.Config{Validator: v, Sandbox: &api.Sandbox{
		EPR: epr.New(epr.Options{Store: st, Validator: v}), Tenants: tenants, Auth: tenants, Traffic: rec, Runs: svc, Trust: trust}}))
	ten, err := tenants.Create(ctx, tenant.Spec{Name: "CLI", Org: "974760673", VendorOrg: testVendorOrg})
	if err != nil {
		t.Fatal(err)
	}
	old := pollEvery
	pollEvery = 10 * time.Millisecond
	t.Cleanup(func() {
		pollEvery = old
		srv.Close()
		cancel()
		stopped()
		rec.Close()
		st.Close()
	})
	return &liveSandbox{url: srv.URL, st: st, ten: ten}
}

// record stores a short SMART session of the tenant, as the sandbox records
// one: authorisation, code exchange (verifier as given), a FHIR read and a
// write.
func (l *liveSandbox) record(t *testing.T, verifier string) {
	t.Helper()
	p := "/t/" + l.ten.Tenant.ID
	q := url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {"http://app/cb"}, "state": {"s1"},
		"aud": {l.url + p + "/fhir"}, "scope": {"launch/patient patient/Observation.crs"}, "code_challenge_method": {"S256"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "patient": {"p1"}}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {"[redacted]"}, "redirect_uri": {"http://app/cb"},
		"client_id": {"app"}, "code_verifier": {verifier}}
	now := time.Now()
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
		xs[i].Tenant, xs[i].At = l.ten.Tenant.ID, now
		if xs[i].RequestHeader == nil {
			xs[i].RequestHeader = http.Header{}
		}
		if xs[i].ResponseHeader == nil {
			xs[i].ResponseHeader = http.Header{}
		}
	}
	if err := l.st.RecordTraffic(context.Background(), xs); err != nil {
		t.Fatal(err)
	}
}

func (l *liveSandbox) verify(extra ...string) (int, string, string) {
	return runVerifyCmd(append([]string{"--suite", "smart-app", "--server", l.url, "--tenant", l.ten.Tenant.ID, "--token", l.ten.Token}, extra...)...)
}

func TestVerifyServerNoEvidence(t *testing.T) {
	l := newLiveSandbox(t)
	code, out, errs := l.verify("--wait", "100ms")
	if code != exitFindings || !strings.Contains(errs, "timeout: no evidence") || !strings.Contains(out, "INCOMPLETE") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	// Progress went to stderr (one line per change: not a terminal).
	if !strings.Contains(errs, "waiting for the app") && !strings.Contains(errs, "queued") {
		t.Errorf("no progress on stderr:\n%s", errs)
	}
}

func TestVerifyServerPassAndFail(t *testing.T) {
	l := newLiveSandbox(t)
	l.record(t, strings.Repeat("v", 43))
	code, out, errs := l.verify("--wait", "0s", "--format", "json", "--app", "Demo", "--version", "1")
	var rep struct {
		Outcome string `json:"outcome"`
		App     struct{ Name string }
	}
	if code != exitOK || json.Unmarshal([]byte(out), &rep) != nil || rep.Outcome != "pass" || rep.App.Name != "Demo" {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	// Only traffic after the first session: a second one with a short
	// verifier fails code-exchange.
	var after int64
	xs, _ := l.st.Traffic(context.Background(), l.ten.Tenant.ID, 0, 100)
	after = xs[len(xs)-1].Seq
	l.record(t, "short")
	code, out, errs = l.verify("--wait", "0s", "--after", itoa(after))
	if code != exitFindings || !strings.Contains(out, "SMART-TOKEN-01") || strings.Contains(errs, "timeout") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestVerifyServerCannotRun(t *testing.T) {
	l := newLiveSandbox(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--suite", "smart-app", "--server", l.url, "--token", "x"}, "--tenant are required"},
		{[]string{"--suite", "smart-app", "--server", l.url, "--tenant", l.ten.Tenant.ID}, "no token"},
		{[]string{"--suite", "smart-app", "--server", "ftp://x", "--tenant", "t", "--token", "x"}, "not an http(s) URL"},
		{[]string{"--suite", "smart-app", "--server", l.url, "--tenant", l.ten.Tenant.ID, "--token", "wrong"}, "status 401"},
		{[]string{"--suite", "nope", "--server", l.url, "--tenant", l.ten.Tenant.ID, "--token", l.ten.Token}, `suite "nope" is not one this sandbox runs`},
		{[]string{"--suite", "smart-app", "--server", l.url, "--tenant", l.ten.Tenant.ID, "--token", l.ten.Token, "--format", "pdf"}, "unknown report format"},
		{[]string{"--suite", "smart-app", "--server", l.url, "--tenant", l.ten.Tenant.ID, "--token", l.ten.Token, "--wait", "2h"}, "--wait must be"},
		{[]string{"--suite", "smart-app", "--server", "http://127.0.0.1:1", "--tenant", "t", "--token", "x"}, "starting the run"},
	} {
		t.Setenv("SANDKASSE_TOKEN", "")
		code, _, errs := runVerifyCmd(tc.args...)
		if code != exitUsage || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, want 2 with %q:\n%s", tc.args, code, tc.want, errs)
		}
	}
}

// The platform issues: a passed run's certificate is signed by the
// sandbox, fetched, verified against its published key set and written; a
// failed run gets none; a sandbox without a signing key refuses at once; a
// certificate that does not verify against the key set is not written; and
// --key is refused on a sandbox.
func TestVerifyServerIssue(t *testing.T) {
	dir := t.TempDir()
	key, err := cert.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	reg := &certstore.Store{Dir: filepath.Join(dir, "registry")}
	if _, err := reg.AddKey(key.Public()); err != nil {
		t.Fatal(err)
	}
	signer, err := cert.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	l := newLiveSandboxWith(t, reg, signer)
	digest := "sha256:" + strings.Repeat("cd", 32)
	issue := func(l *liveSandbox, extra ...string) (int, string, string) {
		return l.verify(append([]string{"--wait", "0s", "--app", "Demo", "--version", "1.0", "--artifact-digest", digest, "--issue"}, extra...)...)
	}
	l.record(t, strings.Repeat("v", 43))
	out := filepath.Join(dir, "cert.jws")
	code, report, errs := issue(l, "--out", out, "--format", "json")
	if code != exitOK || !strings.Contains(errs, "/.well-known/jwks.json") {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	tok, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	ks, _ := cert.NewKeySet(key.Public())
	res := cert.NewVerifier(ks).Verify(strings.TrimSpace(string(tok)))
	sum := sha256.Sum256([]byte(report))
	if !res.Valid() || res.Payload.ReportDigest != "sha256:"+hex.EncodeToString(sum[:]) || res.Payload.Suite.ID != "smart-app" ||
		res.Payload.App.Version != "1.0" || res.Payload.Vendor.OrgNumber != testVendorOrg || res.Payload.KeyID != signer.KeyID() {
		t.Fatalf("certificate %+v (%v)", res.Payload, res.Err())
	}
	if _, err := reg.Get(res.Payload.ID, cert.NewVerifier(ks)); err != nil {
		t.Fatalf("the certificate is not in the registry: %v", err)
	}

	// Verified against a key set that does not hold the signing key: not
	// written, exit 2.
	other, _ := cert.GenerateKey(rand.Reader)
	otherSet, _ := cert.NewKeySet(other.Public())
	otherJWKS := filepath.Join(dir, "other.json")
	b, _ := otherSet.MarshalJSON()
	os.WriteFile(otherJWKS, b, 0o644)
	xs, _ := l.st.Traffic(context.Background(), l.ten.Tenant.ID, 0, 100)
	out2 := filepath.Join(dir, "unverified.jws")
	code, _, errs = issue(l, "--out", out2, "--jwks", otherJWKS)
	if _, err := os.Stat(out2); code != exitUsage || err == nil || !strings.Contains(errs, "does not verify") {
		t.Fatalf("foreign key set: exit %d, file %v\n%s", code, err, errs)
	}

	// A failed run: no certificate.
	l.record(t, "short")
	out3 := filepath.Join(dir, "none.jws")
	code, _, errs = issue(l, "--after", itoa(xs[len(xs)-1].Seq), "--out", out3)
	if _, err := os.Stat(out3); code != exitFindings || err == nil || !strings.Contains(errs, "no certificate issued") {
		t.Fatalf("failed run: exit %d, certificate file: %v\n%s", code, err, errs)
	}

	// The vendor's own key has no place on a sandbox.
	code, _, errs = issue(l, "--key", filepath.Join(dir, "key.pem"), "--vendor-org", "974760673")
	if code != exitUsage || !strings.Contains(errs, "the platform signs") {
		t.Fatalf("--key on a sandbox: exit %d\n%s", code, errs)
	}

	// A sandbox without a signing key refuses the request, before the run.
	plain := newLiveSandbox(t)
	code, _, errs = issue(plain, "--out", filepath.Join(dir, "x.jws"))
	if code != exitUsage || !strings.Contains(errs, "without a signing key") || !strings.Contains(errs, "starting the run") {
		t.Fatalf("no signing key: exit %d\n%s", code, errs)
	}
}

// testVendorOrg is the vendor's own (synthetic, valid) organisation number,
// which the platform's certificates name, unlike the municipality it plays.
const testVendorOrg = "910000004"
