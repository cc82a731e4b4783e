package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/api"
	"github.com/sandkasse/sandkasse/sandbox/epr"
	"github.com/sandkasse/sandkasse/sandbox/runs"
	"github.com/sandkasse/sandkasse/sandbox/store"
	"github.com/sandkasse/sandkasse/sandbox/store/postgres"
	"github.com/sandkasse/sandkasse/sandbox/store/sqlite"
	"github.com/sandkasse/sandkasse/sandbox/tenant"
	"github.com/sandkasse/sandkasse/sandbox/traffic"
	"github.com/sandkasse/sandkasse/validator"
	"github.com/sandkasse/sandkasse/validator/cert"
	"github.com/sandkasse/sandkasse/validator/certstore"
	"github.com/sandkasse/sandkasse/validator/issue"
	"github.com/sandkasse/sandkasse/validator/ruleset"
	"github.com/sandkasse/sandkasse/validator/suite"
	"github.com/sandkasse/sandkasse/validator/suitereport"
)

// testOrg is a valid organisation number (the sandbox's own tests use 312345674,
// which fails the mod-11 check and so fails DHO-ADDR-01).
const testOrg = "974760673"

// testVendorOrg is the vendor's own (synthetic, valid) organisation number,
// which the platform's certificates name, unlike the municipality testOrg.
const testVendorOrg = "910000004"

type sandbox struct {
	lastTenant tenant.Created
	url        string
	tenants    *tenant.Service
	catalog    runs.Catalog
	// registry is the certificate registry the sandbox issues into, with
	// the validator its runs use (for rules diff).
	registry  *certstore.Store
	validator *validator.Validator
}

// newSandbox is the whole sandbox in-process: SQLite in a temp dir, the
// run worker, a certificate registry with the platform's signing key, an
// HTTP server on a loopback port.
func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return newSandboxOn(t, st, true, "", newIssuer(t))
}

// issuer is the platform's signing key and certificate registry, which
// sandbox instances share.
type issuer struct {
	registry *certstore.Store
	signer   *cert.Signer
}

func newIssuer(t *testing.T) issuer {
	t.Helper()
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
	return issuer{reg, signer}
}

// newSandboxOn is one sandbox instance on a store; publicURL, when set, is
// the address the instances share (a load balancer's).
func newSandboxOn(t *testing.T, st store.Store, exclusive bool, publicURL string, iss issuer) *sandbox {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	v, err := validator.New(validator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := runs.Shipped(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tenants := tenant.New(tenant.Options{Store: st, Patients: 3, Days: 2, Seed: 7})
	rec := traffic.New(st)
	reg, signer := iss.registry, iss.signer
	svc := runs.New(runs.Options{Store: st, Catalog: cat, Traffic: rec, Exclusive: exclusive, Poll: 20 * time.Millisecond,
		Settle:    100 * time.Millisecond,
		Validator: suite.ValidatorFunc(func(ctx context.Context, b []byte) issue.List { return v.Validate(ctx, b).Issues }),
		Registry:  reg, Signer: signer})
	stopped := svc.Start(ctx)
	srv := httptest.NewServer(api.New(api.Config{Validator: v, Logger: slog.New(slog.DiscardHandler), Sandbox: &api.Sandbox{
		EPR: epr.New(epr.Options{Store: st, Validator: v}), Tenants: tenants, Auth: tenants, Traffic: rec, Runs: svc, PublicURL: publicURL,
		Trust: &api.Trust{Store: reg}}}))
	t.Cleanup(func() {
		srv.Close()
		cancel()
		stopped()
		rec.Close()
		st.Close()
	})
	return &sandbox{url: srv.URL, tenants: tenants, catalog: cat, registry: reg, validator: v}
}

// verify runs the suite over the tenant's traffic through the API, asking
// for a certificate, and returns the finished run.
func (sb *sandbox) verify(t *testing.T, ten tenant.Created, suiteID string) (api.RunJSON, *suitereport.Report) {
	return sb.verifyWait(t, ten, suiteID, "0s")
}

func (sb *sandbox) verifyWait(t *testing.T, ten tenant.Created, suiteID, wait string) (api.RunJSON, *suitereport.Report) {
	t.Helper()
	body, _ := json.Marshal(runs.Request{Suite: suiteID, App: "refapp", Version: "1.0.0", ArtifactDigest: "sha256:" + strings.Repeat("ab", 32), Wait: wait,
		Issue: true})
	resp := sb.call(t, ten, "POST", "/runs", body)
	if resp.status != http.StatusAccepted {
		t.Fatalf("POST runs: %d %s", resp.status, resp.body)
	}
	var run api.RunJSON
	json.Unmarshal(resp.body, &run)
	deadline := time.Now().Add(2 * time.Minute)
	for !storeDone(run.Status) {
		if time.Now().After(deadline) {
			t.Fatalf("run %s still %s after 2 minutes", run.ID, run.Status)
		}
		time.Sleep(30 * time.Millisecond)
		resp = sb.call(t, ten, "GET", "/runs/"+run.ID, nil)
		if resp.status != 200 {
			t.Fatalf("GET run: %d %s", resp.status, resp.body)
		}
		run = api.RunJSON{}
		if err := json.Unmarshal(resp.body, &run); err != nil {
			t.Fatal(err)
		}
	}
	var rep suitereport.Report
	if err := json.Unmarshal(run.Report, &rep); err != nil {
		t.Fatalf("run %s (%s: %s) has no report: %v", run.ID, run.Status, run.Message, err)
	}
	return run, &rep
}

func storeDone(s any) bool {
	switch s := s.(type) {
	case interface{ Done() bool }:
		return s.Done()
	}
	return false
}

type httpReply struct {
	status int
	body   []byte
}

func (sb *sandbox) call(t *testing.T, ten tenant.Created, method, path string, body []byte) httpReply {
	t.Helper()
	req, _ := http.NewRequest(method, sb.url+"/t/"+ten.Tenant.ID+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+ten.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return httpReply{resp.StatusCode, b}
}

func outcomes(rep *suitereport.Report) map[string]string {
	out := map[string]string{}
	for _, g := range rep.Groups {
		for _, tr := range g.Tests {
			out[tr.ID] = tr.Outcome.String()
		}
	}
	return out
}

func findings(rep *suitereport.Report, test string) string {
	var b strings.Builder
	for _, g := range rep.Groups {
		for _, tr := range g.Tests {
			if tr.ID == test {
				b.WriteString(tr.Message + "\n")
				for _, f := range tr.Findings {
					b.WriteString("  " + f.RuleID + " " + f.Severity.String() + " " + f.Evidence + ": " + f.Message + "\n")
				}
			}
		}
	}
	return b.String()
}

// TestReferenceApps plays every reference app against one in-process
// sandbox: the good app passes every test of its suite and gets a
// certificate; each bad variant fails exactly the test it breaks, and every
// other test keeps the good app's outcome.
func TestReferenceApps(t *testing.T) {
	sb := newSandbox(t)
	apps := map[string]func(context.Context, Config) error{"dho-journal": RunDHO, "smart-app": RunSMART}
	play := func(t *testing.T, suiteID, variant string) (api.RunJSON, *suitereport.Report) {
		t.Helper()
		ten, err := sb.tenants.Create(context.Background(), tenant.Spec{Name: "Refapp " + variant, Org: testOrg, VendorOrg: testVendorOrg})
		if err != nil {
			t.Fatal(err)
		}
		sb.lastTenant = ten
		var log bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := apps[suiteID](ctx, Config{Server: sb.url, Tenant: ten.Tenant.ID, DevToken: ten.Token, Org: testOrg, Variant: variant, Log: &log}); err != nil {
			t.Fatalf("the app failed: %v\n%s", err, log.String())
		}
		return sb.verify(t, ten, suiteID)
	}
	good := map[string]map[string]string{}
	for _, suiteID := range []string{"dho-journal", "smart-app"} {
		t.Run(suiteID+"/good", func(t *testing.T) {
			run, rep := play(t, suiteID, "")
			got := outcomes(rep)
			for id, o := range got {
				if o != "pass" {
					t.Errorf("test %s: %s\n%s", id, o, findings(rep, id))
				}
			}
			if run.Status != "passed" || rep.Outcome != suite.Pass {
				t.Fatalf("run %s: %s (%s)", run.Status, rep.Outcome, run.Message)
			}
			good[suiteID] = got
			// Every test the suite defines ran.
			for _, g := range sb.catalog[suiteID].Suite.Groups {
				for _, tt := range g.Tests {
					if _, ok := got[tt.ID]; !ok {
						t.Errorf("test %s is missing from the report", tt.ID)
					}
				}
			}
			// The report as the sandbox serves it, byte for byte.
			ten := sb.lastTenant
			stored := sb.call(t, ten, "GET", "/runs/"+run.ID+"?format=json", nil)
			if stored.status != 200 {
				t.Fatalf("JSON report: %d", stored.status)
			}
			checkIssued(t, sb, ten, suiteID, run, stored.body)
		})
	}
	covered := map[string]bool{}
	for _, v := range Variants {
		covered[v.Suite+"/"+v.Test] = true
		t.Run(v.Suite+"/"+v.Name, func(t *testing.T) {
			if good[v.Suite] == nil {
				t.Skip("the good app did not pass; the variants mean nothing")
			}
			run, rep := play(t, v.Suite, v.Name)
			got := outcomes(rep)
			if got[v.Test] != "fail" {
				t.Errorf("%s should fail %s but it is %s\n%s", v.Name, v.Test, got[v.Test], findings(rep, v.Test))
			}
			for id, o := range got {
				if id != v.Test && o != good[v.Suite][id] {
					t.Errorf("%s also changed %s: %s (good app: %s)\n%s", v.Name, id, o, good[v.Suite][id], findings(rep, id))
				}
			}
			// Evidence names the recorded request by traffic sequence number.
			for _, g := range rep.Groups {
				for _, tr := range g.Tests {
					for _, f := range tr.Findings {
						if !strings.HasPrefix(f.Evidence, "traffic#") {
							t.Errorf("finding %s has evidence %q, not a traffic#seq", f.RuleID, f.Evidence)
						}
					}
				}
			}
			optional := false
			for _, tr := range rep.Groups {
				for _, x := range tr.Tests {
					if x.ID == v.Test {
						optional = x.Optional || tr.Optional
					}
				}
			}
			want := "failed"
			if optional {
				want = "passed" // optional tests never fail their suite
			}
			if string(run.Status) != want {
				t.Errorf("run status %s, want %s (%s)", run.Status, want, run.Message)
			}
			// A failed run asked for a certificate and gets none.
			if c := sb.call(t, sb.lastTenant, "GET", "/runs/"+run.ID+"/certificate", nil); want == "failed" &&
				(c.status != http.StatusConflict || run.CertificateID != "" || !strings.Contains(string(c.body), "no certificate is issued for a failed run")) {
				t.Errorf("failed run's certificate: %d %s (id %q)", c.status, c.body, run.CertificateID)
			}
		})
	}
	// Every test of every shipped suite has a variant that breaks it.
	for id, cs := range sb.catalog {
		for _, g := range cs.Suite.Groups {
			for _, tt := range g.Tests {
				if !covered[id+"/"+tt.ID] {
					t.Errorf("suite %s test %s has no bad variant", id, tt.ID)
				}
			}
		}
	}
}

// TestTwoInstancesOnPostgres: two sandbox instances share one PostgreSQL
// behind one public address. The apps talk to instance A; the runs are
// started and watched on instance B; either instance's worker may run them.
// Needs SANDKASSE_TEST_POSTGRES_DSN (bash .ci/run starts a server).
func TestTwoInstancesOnPostgres(t *testing.T) {
	dsn := os.Getenv("SANDKASSE_TEST_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("SANDKASSE_REQUIRE_POSTGRES") != "" {
			t.Fatal("SANDKASSE_REQUIRE_POSTGRES is set but SANDKASSE_TEST_POSTGRES_DSN is not")
		}
		t.Skip("no PostgreSQL: set SANDKASSE_TEST_POSTGRES_DSN")
	}
	ctx := context.Background()
	admin, err := postgres.OpenRaw(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	schema := "refapp_" + strings.ToLower(rand.Text()[:10])
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); admin.Close() })
	if strings.Contains(dsn, "://") {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		dsn += sep + "search_path=" + schema
	} else {
		dsn += " search_path=" + schema
	}
	open := func() store.Store {
		st, err := postgres.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	// Both instances answer as http://sandbox.test (a load balancer's
	// address); the apps reach it through instance A.
	const public = "http://sandbox.test"
	// One signing key and one registry directory for both, as in a
	// deployment: whichever instance runs a run issues its certificate.
	iss := newIssuer(t)
	a := newSandboxOn(t, open(), false, public, iss)
	b := newSandboxOn(t, open(), false, public, iss)
	aAddr := strings.TrimPrefix(a.url, "http://")
	viaA := &http.Client{
		Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, aAddr)
		}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	for suiteID, app := range map[string]func(context.Context, Config) error{"dho-journal": RunDHO, "smart-app": RunSMART} {
		ten, err := a.tenants.Create(ctx, tenant.Spec{Name: "Two instances", Org: testOrg, VendorOrg: testVendorOrg})
		if err != nil {
			t.Fatal(err)
		}
		var log bytes.Buffer
		if err := app(ctx, Config{Server: public, Tenant: ten.Tenant.ID, DevToken: ten.Token, Org: testOrg, Log: &log, HTTP: viaA}); err != nil {
			t.Fatalf("%s: %v\n%s", suiteID, err, log.String())
		}
		run, rep := b.verifyWait(t, ten, suiteID, "5s")
		if run.Status != "passed" {
			for id, o := range outcomes(rep) {
				if o != "pass" {
					t.Errorf("%s %s: %s\n%s", suiteID, id, o, findings(rep, id))
				}
			}
			t.Fatalf("%s on two instances: %s (%s)", suiteID, run.Status, run.Message)
		}
		if c := b.call(t, ten, "GET", "/runs/"+run.ID+"/certificate", nil); c.status != 200 || run.CertificateID != runs.CertificateID(run.ID) {
			t.Errorf("%s: certificate through B: %d %s", suiteID, c.status, c.body)
		}
	}
	// One certificate per run, none twice.
	keys, _ := iss.registry.Keys()
	if ents, err := iss.registry.List(cert.NewVerifier(keys)); err != nil || len(ents) != 2 {
		t.Errorf("registry after two runs: %d entries, %v", len(ents), err)
	}
}

// checkIssued checks the certificate the platform issued for a good run: it
// verifies against the key set the sandbox serves, names the app, the
// tenant's organisation and the report the sandbox stored, and its evidence
// is in the registry. For smart-app, rules diff over that registry with a
// copy of the rule set that wants longer PKCE verifiers than the app sends
// says the certificate would be lost, and with an unchanged copy that it
// would be kept.
func checkIssued(t *testing.T, sb *sandbox, ten tenant.Created, suiteID string, run api.RunJSON, stored []byte) {
	t.Helper()
	c := sb.call(t, ten, "GET", "/runs/"+run.ID+"/certificate", nil)
	if c.status != 200 || run.CertificateID == "" {
		t.Fatalf("no certificate for the good app: %d %s (run %s: %s)", c.status, c.body, run.Status, run.Message)
	}
	resp, err := http.Get(sb.url + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	ks, err := cert.ParseKeySet(jwks)
	if err != nil {
		t.Fatalf("served JWKS: %v", err)
	}
	res := cert.NewVerifier(ks).Verify(strings.TrimSpace(string(c.body)))
	if !res.Valid() {
		t.Fatalf("the certificate does not verify against the served JWKS: %s %s", res.Status, res.Detail)
	}
	p := res.Payload
	sum := sha256.Sum256(stored)
	cs := sb.catalog[suiteID]
	if p.ID != run.CertificateID || p.App.Name != "refapp" || p.Vendor.OrgNumber != testVendorOrg || p.Suite.ID != suiteID ||
		p.RuleSet.Digest != cs.RuleSet.Digest || p.ReportDigest != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Fatalf("the certificate says %+v", p)
	}
	e, err := sb.registry.Get(p.ID, cert.NewVerifier(ks))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := sb.registry.Evidence(e)
	if err != nil || len(ev.Exchanges) == 0 {
		t.Fatalf("evidence in the registry: %v (%d exchanges)", err, len(ev.Exchanges))
	}
	if suiteID != "smart-app" {
		return
	}
	opts := certstore.DiffOptions{Validator: func(*ruleset.RuleSet) (suite.Validator, error) {
		return suite.ValidatorFunc(func(ctx context.Context, b []byte) issue.List { return sb.validator.Validate(ctx, b).Issues }), nil
	}}
	for bounds, want := range map[string]string{"{43,128}": certstore.Keeps, "{65,128}": certstore.Loses} {
		d, err := sb.registry.Diff(context.Background(), cs.RuleSet, smartCopy(t, bounds), opts)
		if err != nil {
			t.Fatal(err)
		}
		var got *certstore.CertImpact
		for i := range d.Certificates {
			if d.Certificates[i].ID == p.ID {
				got = &d.Certificates[i]
			}
		}
		if got == nil || got.Verdict != want {
			t.Fatalf("rules diff with code_verifier %s: %+v, want %s", bounds, d.Certificates, want)
		}
		if want == certstore.Loses && (len(got.Failures) != 1 || got.Failures[0].Test != "code-exchange") {
			t.Errorf("rules diff names %+v, want code-exchange", got.Failures)
		}
	}
}

// smartCopy is the shipped epr-smart-app rule set copied into a temporary
// directory with the code_verifier length bounds replaced and the version
// raised.
func smartCopy(t *testing.T, bounds string) *ruleset.RuleSet {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "epr-smart-app")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "..", "rules", "epr-smart-app"))); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string][2]string{
		"policies/oauth.rego": {"`^[A-Za-z0-9._~-]{43,128}$`", "`^[A-Za-z0-9._~-]" + bounds + "$`"},
		"ruleset.yaml":        {"\nversion: 0.1.0\n", "\nversion: 0.2.0\n"},
	} {
		p := filepath.Join(dir, name)
		b, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(b), edit[0]) {
			t.Fatalf("%s no longer holds %q (%v); the test's edit needs updating", name, edit[0], err)
		}
		if err := os.WriteFile(p, []byte(strings.Replace(string(b), edit[0], edit[1], 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := ruleset.Load(context.Background(), os.DirFS(dir), dir)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}
