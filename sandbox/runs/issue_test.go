package runs_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/rules"
	"github.com/sandkasse/sandkasse/sandbox/runs"
	"github.com/sandkasse/sandkasse/sandbox/store"
	"github.com/sandkasse/sandkasse/sandbox/store/postgres"
	"github.com/sandkasse/sandkasse/sandbox/store/sqlite"
	"github.com/sandkasse/sandkasse/validator/cert"
	"github.com/sandkasse/sandkasse/validator/certstore"
	"github.com/sandkasse/sandkasse/validator/ruleset"
)

// validOrg passes mod-11; badOrg is 9 digits that do not.
const (
	validOrg = "974760673"
	badOrg   = "312345674"
	digest   = "sha256:abababababababababababababababababababababababababababababababab"
)

// registry is a certificate registry with one key, and a signer for it.
func registry(t testing.TB) (*certstore.Store, *cert.Signer) {
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
	return reg, signer
}

// tenantWithOrg makes a tenant whose vendor has the organisation number
// org ("" for none); the municipality it plays is validOrg.
func tenantWithOrg(t testing.TB, st store.Store, id, org string) {
	t.Helper()
	if err := st.CreateTenant(context.Background(), store.Tenant{ID: id, Name: "Vendor " + id, Org: validOrg, VendorOrg: org, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

func issueRequest() runs.Request {
	return runs.Request{Suite: "smart-app", App: "journal-app", Version: "2.1.0", ArtifactDigest: digest, Wait: "0s", Issue: true}
}

// A passing run that asks for a certificate gets one signed with the
// platform's key, stored with its report and evidence; the evidence is what
// `rules diff` re-runs, and a stricter rule set takes the certificate away.
func TestPassingRunIssuesCertificate(t *testing.T) {
	st := openStore(t)
	reg, signer := registry(t)
	s := service(t, st, runs.Options{Registry: reg, Signer: signer})
	start(t, s)
	base := "http://sandbox.test/t/t1/fhir"
	tenantWithOrg(t, st, "t1", validOrg)
	rec(t, st, "t1", smartSession("t1", base, strings.Repeat("v", 43))...)
	r, err := s.Create(context.Background(), "t1", base, issueRequest())
	if err != nil {
		t.Fatal(err)
	}
	got := await(t, st, "t1", r.ID)
	if got.Status != store.RunPassed || got.CertificateID != runs.CertificateID(r.ID) {
		t.Fatalf("run %s (%s), certificate %q; want passed with %s", got.Status, got.Message, got.CertificateID, runs.CertificateID(r.ID))
	}
	token, err := s.Certificate(got)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := reg.Keys()
	if err != nil {
		t.Fatal(err)
	}
	res := cert.NewVerifier(keys).Verify(token)
	if !res.Valid() {
		t.Fatalf("the certificate does not verify: %s %s", res.Status, res.Detail)
	}
	p := res.Payload
	sum := sha256.Sum256(got.Report)
	if p.App != (cert.App{Name: "journal-app", Version: "2.1.0", ArtifactDigest: digest}) || p.Vendor.OrgNumber != validOrg ||
		p.Suite.ID != "smart-app" || p.RuleSet.ID != "epr-smart-app" || p.ReportDigest != "sha256:"+hex.EncodeToString(sum[:]) ||
		p.KeyID != signer.KeyID() {
		t.Fatalf("the certificate says %+v", p)
	}
	// The registry holds the report and the evidence the run examined.
	e, err := reg.Get(p.ID, cert.NewVerifier(keys))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := reg.Report(e); err != nil || string(b) != string(got.Report) {
		t.Fatalf("stored report: %v", err)
	}
	ev, err := reg.Evidence(e)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Exchanges) != 4 || !strings.HasPrefix(ev.Exchanges[0].File, "traffic#") || len(ev.Resources) != 1 {
		t.Fatalf("evidence: %d exchanges, first %q, %d resources; want the 4 examined and the written Observation, named traffic#SEQ", len(ev.Exchanges), ev.Exchanges[0].File, len(ev.Resources))
	}

	// rules diff: the same rule set keeps it; one that wants longer code
	// verifiers than the app sent takes it away and says which test.
	old, err := rules.Load(context.Background(), "epr-smart-app")
	if err != nil {
		t.Fatal(err)
	}
	same := stricterCopy(t, "{43,128}")
	d, err := reg.Diff(context.Background(), old, same, certstore.DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Certificates) != 1 || d.Certificates[0].Verdict != certstore.Keeps {
		t.Fatalf("diff with the same rules: %+v", d.Certificates)
	}
	stricter := stricterCopy(t, "{64,128}")
	d, err = reg.Diff(context.Background(), old, stricter, certstore.DiffOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Losing() != 1 || d.Certificates[0].ID != p.ID || len(d.Certificates[0].Failures) != 1 ||
		d.Certificates[0].Failures[0].Test != "code-exchange" {
		t.Fatalf("diff with a stricter verifier rule: %+v", d.Certificates)
	}
}

// stricterCopy copies the shipped epr-smart-app rule set into a temporary
// directory with the code_verifier length rule's bounds replaced by bounds
// (and the version raised).
func stricterCopy(t *testing.T, bounds string) *ruleset.RuleSet {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "epr-smart-app")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "..", "rules", "epr-smart-app"))); err != nil {
		t.Fatal(err)
	}
	edit := func(name, old, new string) {
		p := filepath.Join(dir, name)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), old) {
			t.Fatalf("%s no longer holds %q; the test's edit needs updating", name, old)
		}
		if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	edit("policies/oauth.rego", "`^[A-Za-z0-9._~-]{43,128}$`", "`^[A-Za-z0-9._~-]"+bounds+"$`")
	edit("ruleset.yaml", "\nversion: 0.1.0\n", "\nversion: 0.2.0\n")
	rs, err := ruleset.Load(context.Background(), os.DirFS(dir), dir)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// A run that fails gets no certificate, and nothing is stored.
func TestFailedRunIssuesNothing(t *testing.T) {
	st := openStore(t)
	reg, signer := registry(t)
	s := service(t, st, runs.Options{Registry: reg, Signer: signer})
	start(t, s)
	base := "http://sandbox.test/t/t1/fhir"
	tenantWithOrg(t, st, "t1", validOrg)
	rec(t, st, "t1", smartSession("t1", base, "short")...)
	r, err := s.Create(context.Background(), "t1", base, issueRequest())
	if err != nil {
		t.Fatal(err)
	}
	got := await(t, st, "t1", r.ID)
	if got.Status != store.RunFailed || got.CertificateID != "" {
		t.Fatalf("run %s with certificate %q (%s)", got.Status, got.CertificateID, got.Message)
	}
	if _, err := s.Certificate(got); err == nil {
		t.Fatal("a failed run has a certificate")
	}
	if ents, err := os.ReadDir(filepath.Join(reg.Dir, certstore.CertificatesDir)); err == nil && len(ents) > 0 {
		t.Fatalf("the registry holds %d entries after a failed run", len(ents))
	}
}

// Asking for a certificate is refused when the run is created: on an
// instance that cannot sign, and for a request the certificate could not
// carry (each problem named).
func TestIssueRequestRefusedAtCreate(t *testing.T) {
	st := openStore(t)
	tenantWithOrg(t, st, "t1", validOrg)
	tenantWithOrg(t, st, "bad", badOrg)
	tenantWithOrg(t, st, "anonymous", "")
	noKey := service(t, st, runs.Options{})
	if _, err := noKey.Create(context.Background(), "t1", "", issueRequest()); !errors.Is(err, runs.ErrCannotIssue) {
		t.Fatalf("issue without a signing key: %v, want ErrCannotIssue", err)
	}
	reg, signer := registry(t)
	s := service(t, st, runs.Options{Registry: reg, Signer: signer})
	for _, tc := range []struct {
		tenant string
		edit   func(*runs.Request)
		want   string
	}{
		{"t1", func(r *runs.Request) { r.ArtifactDigest = "" }, "artifactDigest is required"},
		{"t1", func(r *runs.Request) { r.ArtifactDigest = "md5:abc" }, "artifactDigest must be sha256:"},
		{"t1", func(r *runs.Request) { r.App = "" }, "app is required"},
		{"t1", func(r *runs.Request) { r.Version = " 1" }, "version"},
		{"bad", func(r *runs.Request) {}, "the tenant's vendor organisation number is not a valid organisasjonsnummer"},
		{"anonymous", func(r *runs.Request) {}, "it has no vendor organisation number (vendor_org)"},
		{"nobody", func(r *runs.Request) {}, "tenant nobody does not exist"},
	} {
		req := issueRequest()
		tc.edit(&req)
		_, err := s.Create(context.Background(), tc.tenant, "", req)
		if !errors.Is(err, runs.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %+v: %v, want ErrInvalid with %q", tc.tenant, req, err, tc.want)
		}
	}
}

// Three instances on one store (PostgreSQL when SANDKASSE_TEST_POSTGRES_DSN
// is set, else one SQLite file) and one registry: every issue run is issued
// exactly once, by the instance that owns it, and the instance without a
// signing key never takes one.
func TestIssueOnceAcrossInstances(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dsn := os.Getenv("SANDKASSE_TEST_POSTGRES_DSN")
	if dsn != "" {
		dsn = pgSchema(t, dsn)
	}
	open := func() store.Store {
		var st store.Store
		var err error
		if dsn != "" {
			st, err = postgres.Open(ctx, dsn)
		} else {
			st, err = sqlite.Open(ctx, dir)
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	a, b, c := open(), open(), open()
	reg, signer := registry(t)
	// A slower heartbeat than the other tests': eight runs each beating
	// every 20 ms through PostgreSQL on a busy machine can miss 200 ms.
	hb := 100 * time.Millisecond
	sa := service(t, a, runs.Options{Owner: "A", Registry: reg, Signer: signer, Heartbeat: hb})
	sb := service(t, b, runs.Options{Owner: "B", Registry: reg, Signer: signer, Heartbeat: hb})
	sc := service(t, c, runs.Options{Owner: "C", Heartbeat: hb}) // no key: plain runs only
	base := "http://sandbox.test/t/t1/fhir"
	tenantWithOrg(t, a, "t1", validOrg)
	rec(t, a, "t1", smartSession("t1", base, strings.Repeat("v", 43))...)
	var ids []string
	for i := range 8 {
		s := sa
		if i%2 == 1 {
			s = sb
		}
		r, err := s.Create(ctx, "t1", base, issueRequest())
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	plain, err := sc.Create(ctx, "t1", base, runs.Request{Suite: "smart-app", Wait: "0s"})
	if err != nil {
		t.Fatal(err)
	}
	start(t, sc)
	start(t, sa)
	start(t, sb)
	owners := map[string]int{}
	for _, id := range ids {
		r := await(t, a, "t1", id)
		if r.Status != store.RunPassed || r.CertificateID != runs.CertificateID(id) {
			t.Errorf("run %s: %s, certificate %q (%s)", id, r.Status, r.CertificateID, r.Message)
		}
		if r.Owner == "C" {
			t.Errorf("run %s was taken by the instance without a signing key", id)
		}
		owners[r.Owner]++
	}
	await(t, a, "t1", plain.ID)
	keys, _ := reg.Keys()
	ents, err := reg.List(cert.NewVerifier(keys))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != len(ids) {
		t.Fatalf("%d certificates in the registry for %d runs", len(ents), len(ids))
	}
	t.Logf("issue runs per instance: %v", owners)
}

// finishRefused is a store whose FinishRun is refused as if the run had been
// taken away (reaped as stale) after the certificate was stored.
type finishRefused struct{ store.Store }

func (f finishRefused) FinishRun(ctx context.Context, r store.Run, now time.Time) error {
	if r.CertificateID != "" {
		return store.ErrConflict
	}
	return f.Store.FinishRun(ctx, r, now)
}

// A certificate stored for a run that then could not record it is revoked:
// no valid certificate stays in the registry that no run names.
func TestUnrecordedCertificateIsRevoked(t *testing.T) {
	st := openStore(t)
	reg, r := passingIssueRun(t, st, finishRefused{st})
	if rv := awaitRevoked(t, reg, runs.CertificateID(r.ID)); !strings.Contains(rv.Reason, r.ID) {
		t.Errorf("revocation reason %q does not name the run", rv.Reason)
	}
	if got, _ := st.Run(context.Background(), "t1", r.ID); got.CertificateID != "" {
		t.Fatalf("the run names certificate %q", got.CertificateID)
	}
}

// passingIssueRun starts a service on wrapped (st, or a wrapper of it that
// changes how runs end), records a passing SMART session and asks for a
// run with a certificate.
func passingIssueRun(t *testing.T, st, wrapped store.Store) (*certstore.Store, store.Run) {
	t.Helper()
	reg, signer := registry(t)
	s := service(t, wrapped, runs.Options{Registry: reg, Signer: signer})
	start(t, s)
	base := "http://sandbox.test/t/t1/fhir"
	tenantWithOrg(t, st, "t1", validOrg)
	rec(t, st, "t1", smartSession("t1", base, strings.Repeat("v", 43))...)
	r, err := s.Create(context.Background(), "t1", base, issueRequest())
	if err != nil {
		t.Fatal(err)
	}
	return reg, r
}

// awaitRevoked waits until the registry's revocation list names the
// certificate id, and returns its entry.
func awaitRevoked(t *testing.T, reg *certstore.Store, id string) cert.Revocation {
	t.Helper()
	keys, _ := reg.Keys()
	deadline := time.Now().Add(time.Minute)
	for {
		l, _, err := reg.Revocations(cert.NewVerifier(keys))
		if err != nil {
			t.Fatal(err)
		}
		if l != nil {
			if rv, ok := l.Lookup(id); ok {
				return rv
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("certificate %s was not revoked", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
