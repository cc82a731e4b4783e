package api

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sandkasse/sandkasse/validator/cert"
	"github.com/sandkasse/sandkasse/validator/certstore"
	"github.com/sandkasse/sandkasse/validator/suite"
)

// The public register: anyone lists the certificates with their status
// now, filters them, reads one with its compact form and the report it
// certifies; a revocation shows, a tampered report is not served.
func TestPublicCertificateRegister(t *testing.T) {
	f := newTrust(t, true)
	list := func(query string) (int, []CertificateJSON, bool) {
		t.Helper()
		w := f.do("GET", "/certificates"+query, "", "", nil)
		var out struct {
			Certificates []CertificateJSON `json:"certificates"`
			Truncated    bool              `json:"truncated"`
		}
		if w.Code == 200 {
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
				t.Fatalf("GET /certificates%s: %v\n%s", query, err, w.Body)
			}
		}
		return w.Code, out.Certificates, out.Truncated
	}
	if code, got, _ := list(""); code != 200 || got == nil || len(got) != 0 {
		t.Fatalf("empty register: %d %v", code, got)
	}

	report := []byte("{}")
	var ids []string
	for _, app := range []struct{ name, vendor string }{{"Journal", "974760673"}, {"Pulse", "910000004"}, {"Journal", "974760673"}} {
		p := testPayload()
		p.App.Name, p.Vendor.OrgNumber = app.name, app.vendor
		tok, signed, err := f.signer.Sign(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.trust.Store.Put(tok, report, &suite.Recording{}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, signed.ID)
	}
	const admin = "admin-secret-0123456789"
	if w := f.do("POST", "/admin/certificates/"+ids[1]+"/revoke", admin, "application/json", []byte(`{"reason":"sold under another name"}`)); w.Code != 200 {
		t.Fatalf("revoke: %d %s", w.Code, w.Body)
	}

	code, all, truncated := list("")
	if code != 200 || len(all) != 3 || truncated {
		t.Fatalf("register: %d %d entries, truncated %v", code, len(all), truncated)
	}
	byID := map[string]CertificateJSON{}
	for _, c := range all {
		byID[c.ID] = c
	}
	if c := byID[ids[0]]; c.Status != cert.StatusValid || c.App.Name != "Journal" || c.Vendor != "974760673" ||
		c.Suite != "smart-app@0.1.0" || c.RuleSet != "epr-smart-app@0.1.0" || c.Token != "" || c.Expires.Before(c.Issued) {
		t.Errorf("a valid certificate: %+v", c)
	}
	if c := byID[ids[1]]; c.Status != cert.StatusRevoked || c.RevokedAt == nil || c.Reason != "sold under another name" {
		t.Errorf("the revoked certificate: %+v", c)
	}
	if _, got, _ := list("?vendor=910000004"); len(got) != 1 || got[0].ID != ids[1] {
		t.Errorf("?vendor: %+v", got)
	}
	if _, got, _ := list("?app=Journal&vendor=974760673"); len(got) != 2 {
		t.Errorf("?app&vendor: %+v", got)
	}
	if code, got, truncated := list("?limit=1"); code != 200 || len(got) != 1 || !truncated {
		t.Errorf("?limit=1: %d %v truncated %v", code, got, truncated)
	}
	for _, bad := range []string{"?limit=0", "?limit=x", "?limit=1001"} {
		if code, _, _ := list(bad); code != 400 {
			t.Errorf("%s: %d, want 400", bad, code)
		}
	}

	// One certificate, whose compact form verifies with the served keys.
	w := f.do("GET", "/certificates/"+ids[0], "", "", nil)
	var one CertificateJSON
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &one) != nil || one.ID != ids[0] ||
		!strings.Contains(w.Body.String(), `"app":{"name":"Journal","version":"1.0","artifactDigest":"sha256:`) {
		t.Fatalf("GET one: %d %s", w.Code, w.Body)
	}
	ks, err := cert.ParseKeySet(f.do("GET", "/.well-known/jwks.json", "", "", nil).Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if res := cert.NewVerifier(ks).Verify(one.Token); !res.Valid() || res.Payload.ID != ids[0] {
		t.Errorf("the served certificate does not verify: %+v", res)
	}
	for _, id := range []string{"nope", "..", "_certificates", strings.Repeat("a", 200)} {
		if w := f.do("GET", "/certificates/"+id, "", "", nil); w.Code != 404 {
			t.Errorf("GET /certificates/%s: %d, want 404", id, w.Code)
		}
	}

	// The report, only while it is the one the certificate names.
	if w := f.do("GET", "/certificates/"+ids[0]+"/report", "", "", nil); w.Code != 200 || w.Body.String() != string(report) {
		t.Errorf("report: %d %q", w.Code, w.Body)
	}
	path := filepath.Join(f.dir, certstore.CertificatesDir, ids[2], certstore.ReportFile)
	if err := os.WriteFile(path, []byte(`{"outcome":"pass","edited":true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if w := f.do("GET", "/certificates/"+ids[2]+"/report", "", "", nil); w.Code != 500 || strings.Contains(w.Body.String(), "edited") {
		t.Errorf("a tampered report: %d %s", w.Code, w.Body)
	}
}
