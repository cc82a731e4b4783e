package api

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/auth"
	"github.com/sandkasse/sandkasse/sandbox/epr"
	"github.com/sandkasse/sandkasse/sandbox/store/sqlite"
	"github.com/sandkasse/sandkasse/sandbox/tenant"
	"github.com/sandkasse/sandkasse/sandbox/traffic"
	"github.com/sandkasse/sandkasse/validator/cert"
	"github.com/sandkasse/sandkasse/validator/certstore"
	"github.com/sandkasse/sandkasse/validator/publish"
	"github.com/sandkasse/sandkasse/validator/suite"
)

type trustFixture struct {
	h       http.Handler
	trust   *Trust
	signer  *cert.Signer
	tenants *tenant.Service
	sb      *Sandbox
	dir     string
}

// newTrust is a sandbox whose registry's key set holds two keys (a
// rotation in progress); the newer one signs.
func newTrust(t *testing.T, withSigner bool) *trustFixture {
	t.Helper()
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rec := traffic.New(st)
	t.Cleanup(func() { rec.Close(); st.Close() })
	dir := t.TempDir()
	f := &trustFixture{dir: dir, trust: &Trust{Store: &certstore.Store{Dir: dir}, Rules: &publish.Registry{Dir: dir}, Packages: []string{"../../../shared/profiles"}}}
	var keyFile string
	for i := 0; i < 2; i++ {
		k, err := cert.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.trust.Store.AddKey(k.Public()); err != nil {
			t.Fatal(err)
		}
		keyFile = filepath.Join(t.TempDir(), "key.pem")
		if err := cert.WriteSigningKey(keyFile, k, cert.PEM); err != nil {
			t.Fatal(err)
		}
		if f.signer, err = cert.NewSigner(k); err != nil {
			t.Fatal(err)
		}
	}
	if withSigner {
		f.trust.Signer = f.signer
		if f.trust.RecordKey, err = publish.LoadKey(keyFile); err != nil {
			t.Fatal(err)
		}
	}
	v := testValidator(t)
	f.tenants = tenant.New(tenant.Options{Store: st, Patients: 1, Days: 1, Seed: 1})
	f.sb = &Sandbox{
		EPR: epr.New(epr.Options{Store: st, Validator: v}), Tenants: f.tenants, Auth: f.tenants, Traffic: rec,
		AdminToken: "admin-secret-0123456789", Trust: f.trust,
	}
	f.h = New(Config{Validator: v, MaxBodyBytes: 4 << 20, Logger: slog.New(slog.DiscardHandler), Sandbox: f.sb})
	return f
}

func (f *trustFixture) do(method, target, token, ctype string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, req)
	return w
}

func TestWellKnownKeySetAndRevocations(t *testing.T) {
	f := newTrust(t, false)
	w := f.do("GET", "/.well-known/jwks.json", "", "", nil)
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/jwk-set+json" {
		t.Fatalf("jwks: %d %s", w.Code, w.Body)
	}
	ks, err := cert.ParseKeySet(w.Body.Bytes())
	if err != nil || ks.Len() != 2 {
		t.Fatalf("served key set: %v %v", ks, err)
	}
	// A certificate signed with the newer key verifies against it.
	tok, _, err := f.signer.Sign(testPayload())
	if err != nil {
		t.Fatal(err)
	}
	if r := cert.NewVerifier(ks).Verify(tok); !r.Valid() {
		t.Errorf("certificate against the served key set: %s %s", r.Status, r.Detail)
	}
	// No list yet: 404, not an empty 200 that would read as "nothing revoked".
	if w := f.do("GET", "/.well-known/revocations.jws", "", "", nil); w.Code != 404 || !strings.Contains(w.Body.String(), CodeNoRevocationList) {
		t.Errorf("no list: %d %s", w.Code, w.Body)
	}
	if err := f.trust.Store.EnsureRevocations(f.signer); err != nil {
		t.Fatal(err)
	}
	w = f.do("GET", "/.well-known/revocations.jws", "", "", nil)
	if w.Code != 200 {
		t.Fatalf("list: %d %s", w.Code, w.Body)
	}
	if l, err := cert.NewVerifier(ks).VerifyRevocations(strings.TrimSpace(w.Body.String())); err != nil || len(l.Entries()) != 0 {
		t.Errorf("served list: %v", err)
	}
	// A list the served keys do not vouch for is not served.
	other, _ := cert.GenerateKey(nil)
	os2, _ := cert.NewSigner(other)
	forged, _ := os2.SignRevocations(&cert.RevocationList{})
	os.WriteFile(f.trust.Store.RevocationsPath(), []byte(forged), 0o644)
	if w := f.do("GET", "/.well-known/revocations.jws", "", "", nil); w.Code != 503 {
		t.Errorf("forged list served: %d", w.Code)
	}
	// The admin routes need a signing key.
	if w := f.do("POST", "/admin/certificates/x/revoke", "admin-secret-0123456789", "application/json", []byte(`{"reason":"x"}`)); w.Code != 503 {
		t.Errorf("revoke without a signer: %d %s", w.Code, w.Body)
	}
}

func testPayload() cert.Payload {
	const d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	return cert.Payload{
		App: cert.App{Name: "Demo", Version: "1.0", ArtifactDigest: d}, Vendor: cert.Vendor{OrgNumber: "974760673"},
		Suite: cert.Suite{ID: "smart-app", Version: "0.1.0"}, RuleSet: cert.RuleSet{ID: "epr-smart-app", Version: "0.1.0", Digest: d},
		ReportDigest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", // of "{}"
	}
}

func TestStaffRoutes(t *testing.T) {
	f := newTrust(t, true)
	c, err := f.tenants.Create(context.Background(), tenant.Spec{Name: "Vendor", Org: "312345676", VendorOrg: testVendorOrg})
	if err != nil {
		t.Fatal(err)
	}
	const admin = "admin-secret-0123456789"
	for _, target := range []string{"/admin/rulesets?signer=x", "/admin/certificates/x/revoke"} {
		if w := f.do("POST", target, "", "application/json", nil); w.Code != 401 {
			t.Errorf("%s without a token: %d", target, w.Code)
		}
		if w := f.do("POST", target, "not-a-token", "application/json", nil); w.Code != 401 {
			t.Errorf("%s with a bad token: %d", target, w.Code)
		}
		if w := f.do("POST", target, c.Token, "application/json", nil); w.Code != 403 || !strings.Contains(w.Body.String(), CodeStaffOnly) {
			t.Errorf("%s with a vendor's token: %d %s", target, w.Code, w.Body)
		}
	}

	// Revoke a stored certificate.
	tok, p, err := f.signer.Sign(testPayload())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.trust.Store.Put(tok, []byte("{}"), &suite.Recording{}); err != nil {
		t.Fatal(err)
	}
	if w := f.do("POST", "/admin/certificates/"+p.ID+"/revoke", admin, "application/json", []byte(`{"why":"x"}`)); w.Code != 400 {
		t.Errorf("bad body: %d %s", w.Code, w.Body)
	}
	if w := f.do("POST", "/admin/certificates/"+p.ID+"/revoke", admin, "application/json", []byte(`{"reason":"two\nlines"}`)); w.Code != 400 {
		t.Errorf("reason with a line break: %d %s", w.Code, w.Body)
	}
	if w := f.do("POST", "/admin/certificates/nope/revoke", admin, "application/json", []byte(`{"reason":"x"}`)); w.Code != 404 {
		t.Errorf("unknown certificate: %d %s", w.Code, w.Body)
	}
	w := f.do("POST", "/admin/certificates/"+p.ID+"/revoke", admin, "application/json", []byte(`{"reason":"sold under another name"}`))
	if w.Code != 200 || !strings.Contains(w.Body.String(), p.ID) {
		t.Fatalf("revoke: %d %s", w.Code, w.Body)
	}
	if w := f.do("POST", "/admin/certificates/"+p.ID+"/revoke", admin, "application/json", []byte(`{"reason":"again"}`)); w.Code != 409 {
		t.Errorf("revoke twice: %d %s", w.Code, w.Body)
	}
	ks, _ := cert.ParseKeySet(f.do("GET", "/.well-known/jwks.json", "", "", nil).Body.Bytes())
	list, err := cert.NewVerifier(ks).VerifyRevocations(strings.TrimSpace(f.do("GET", "/.well-known/revocations.jws", "", "", nil).Body.String()))
	if err != nil {
		t.Fatal(err)
	}
	if r := cert.NewVerifier(ks, cert.WithRevocations(list)).Verify(tok); r.Status != cert.StatusRevoked || r.Revocation.Reason != "sold under another name" {
		t.Errorf("after revocation: %s %s", r.Status, r.Detail)
	}

	// Publish the shipped rule set; the same version again is refused.
	arc := archive(t, os.DirFS("../../rules/epr-smart-app"), nil)
	if w := f.do("POST", "/admin/rulesets", admin, "application/gzip", arc); w.Code != 400 {
		t.Errorf("no signer: %d %s", w.Code, w.Body)
	}
	w = f.do("POST", "/admin/rulesets?signer=Kari", admin, "application/gzip", arc)
	if w.Code != 201 || !strings.Contains(w.Body.String(), `"id":"epr-smart-app"`) {
		t.Fatalf("publish: %d %s", w.Code, w.Body)
	}
	if es, _ := f.trust.Rules.List(ks); len(es) != 1 || !es[0].Verified || !es[0].Intact || es[0].Signer != "Kari" {
		t.Errorf("registry after publish: %+v", es)
	}
	if w := f.do("POST", "/admin/rulesets?signer=Kari", admin, "application/gzip", arc); w.Code != 409 || !strings.Contains(w.Body.String(), CodeDuplicate) {
		t.Errorf("duplicate publish: %d %s", w.Code, w.Body)
	}
	// A rule set whose Rego test fails is refused with the failing test.
	broken := archive(t, os.DirFS("../../rules/epr-smart-app"), map[string]func(string) string{
		"ruleset.yaml":        func(s string) string { return strings.Replace(s, "version: 0.1.0", "version: 0.1.1", 1) },
		"policies/oauth.rego": func(s string) string { return strings.Replace(s, "{43}$", "{44}$", 1) },
	})
	w = f.do("POST", "/admin/rulesets?signer=Kari", admin, "application/gzip", broken)
	if w.Code != 422 || !strings.Contains(w.Body.String(), CodeRuleSetTestFailed) {
		t.Errorf("failing tests: %d %s", w.Code, w.Body)
	}
	// Archives that try to leave the directory, or are not archives.
	for name, body := range map[string][]byte{
		"traversal": rawArchive(t, "../evil.rego", tar.TypeReg),
		"symlink":   rawArchive(t, "policies/link.rego", tar.TypeSymlink),
		"not gzip":  []byte("hello"),
	} {
		if w := f.do("POST", "/admin/rulesets?signer=Kari", admin, "application/gzip", body); w.Code != 400 || !strings.Contains(w.Body.String(), CodeBadArchive) {
			t.Errorf("%s: %d %s", name, w.Code, w.Body)
		}
	}
	if _, err := os.Stat(filepath.Join(f.dir, "..", "evil.rego")); err == nil {
		t.Error("traversal wrote outside")
	}
	// More entries than MaxArchiveFiles.
	var many bytes.Buffer
	zw := gzip.NewWriter(&many)
	tw := tar.NewWriter(zw)
	for i := 0; i <= MaxArchiveFiles; i++ {
		tw.WriteHeader(&tar.Header{Name: "f" + strconv.Itoa(i), Mode: 0o644, Typeflag: tar.TypeReg})
	}
	tw.Close()
	zw.Close()
	if w := f.do("POST", "/admin/rulesets?signer=Kari", admin, "application/gzip", many.Bytes()); w.Code != 400 || !strings.Contains(w.Body.String(), "more than 2000 entries") {
		t.Errorf("too many entries: %d %s", w.Code, w.Body)
	}
	f.trust.MaxArchiveBytes = 1000
	if w := f.do("POST", "/admin/rulesets?signer=Kari", admin, "application/gzip", arc); w.Code != 400 || !strings.Contains(w.Body.String(), "more than 1000 bytes") {
		t.Errorf("over the unpacked limit: %d %s", w.Code, w.Body)
	}
}

func archive(t *testing.T, fsys fs.FS, edits map[string]func(string) string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		if e := edits[p]; e != nil {
			b = []byte(e(string(b)))
		}
		if err := tw.WriteHeader(&tar.Header{Name: p, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}); err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func rawArchive(t *testing.T, name string, typ byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	h := &tar.Header{Name: name, Mode: 0o644, Typeflag: typ}
	body := []byte("package x")
	if typ == tar.TypeReg {
		h.Size = int64(len(body))
	} else {
		h.Linkname = "/etc/passwd"
	}
	if err := tw.WriteHeader(h); err != nil {
		t.Fatal(err)
	}
	if typ == tar.TypeReg {
		tw.Write(body)
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// failingAuth is an authenticator whose store cannot be reached.
type failingAuth struct{}

func (failingAuth) Authenticate(context.Context, string) (auth.Principal, error) {
	return auth.Principal{}, errors.New("store unreachable")
}

// TestStaffRoutesStoreError: when the token cannot be checked, the staff
// routes answer 500, as the other admin routes do, not 401 (which tells a
// client its token is wrong).
func TestStaffRoutesStoreError(t *testing.T) {
	f := newTrust(t, true)
	f.sb.Auth = failingAuth{}
	for _, target := range []string{"/admin/rulesets?signer=x", "/admin/certificates/x/revoke"} {
		if w := f.do("POST", target, "some-token", "application/json", nil); w.Code != 500 || !strings.Contains(w.Body.String(), CodeInternal) {
			t.Errorf("%s while the store fails: %d %s", target, w.Code, w.Body)
		}
	}
}

// TestUntarCountsSkippedData: data declared for an entry that is not
// written (the root ".", a directory) is inflated by tar's Next all the
// same, so it counts against the limit.
func TestUntarCountsSkippedData(t *testing.T) {
	for _, name := range []string{".", "policies"} {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		tw := tar.NewWriter(zw)
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Typeflag: tar.TypeDir, Size: 5000}); err != nil {
			t.Fatal(err)
		}
		tw.Write(make([]byte, 5000))
		tw.Close()
		zw.Close()
		if err := untar(buf.Bytes(), t.TempDir(), 1000); err == nil || !strings.Contains(err.Error(), "more than 1000 bytes") {
			t.Errorf("a %q entry declaring 5000 bytes under a limit of 1000: %v", name, err)
		}
	}
}
