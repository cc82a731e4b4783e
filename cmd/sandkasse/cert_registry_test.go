package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sandkasse/sandkasse/validator/certstore"
)

// registryWithCert makes a registry whose key set holds a new key, and
// issues one certificate for the good SMART app into it through verify.
func registryWithCert(t *testing.T) (reg, key, jwks, certFile string) {
	t.Helper()
	reg = filepath.Join(t.TempDir(), "registry")
	dir := t.TempDir()
	key, jwks = filepath.Join(dir, "signing.pem"), filepath.Join(dir, "jwks.json")
	if code, out, errs := runRulesCmd("cert", "keygen", "--out", key, "--jwks", jwks, "--registry", reg); code != exitOK || !strings.Contains(out, "added to") {
		t.Fatalf("keygen: exit %d\n%s%s", code, out, errs)
	}
	certFile = filepath.Join(dir, "app.cert")
	code, rep, errs := runVerifyCmd("--suite", smartSuite, "--offline", "testdata/verify/good", "--app", "Demo", "--version", "1.0",
		"--issue", "--key", key, "--vendor-org", "974760673", "--artifact-digest", testArtifact, "--out", certFile, "--registry", reg)
	if code != exitOK {
		t.Fatalf("verify --issue: exit %d\n%s%s", code, rep, errs)
	}
	return reg, key, jwks, certFile
}

func TestIssueStoresEvidenceAndRevoke(t *testing.T) {
	reg, key, jwks, certFile := registryWithCert(t)
	ents, err := os.ReadDir(filepath.Join(reg, certstore.CertificatesDir))
	if err != nil || len(ents) != 1 {
		t.Fatalf("registry entries: %v %v", ents, err)
	}
	id := ents[0].Name()
	for _, f := range []string{certstore.CertificateFile, certstore.ReportFile, certstore.EvidenceFile} {
		if st, err := os.Stat(filepath.Join(reg, certstore.CertificatesDir, id, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}

	// Offline verification says revocation was not checked.
	code, out, _ := runRulesCmd("cert", "verify", certFile, "--jwks", jwks)
	if code != exitOK || !strings.Contains(out, "not checked (offline") {
		t.Errorf("offline verify: exit %d\n%s", code, out)
	}
	// Revoking needs --staff and a reason.
	if code, _, errs := runRulesCmd("cert", "revoke", "--registry", reg, "--key", key, "--reason", "x", id); code != exitUsage || !strings.Contains(errs, "staff") {
		t.Errorf("revoke without --staff: exit %d %s", code, errs)
	}
	if code, _, errs := runRulesCmd("cert", "revoke", "--registry", reg, "--key", key, "--staff", "--reason", "x", "no-such-certificate"); code != exitUsage || !strings.Contains(errs, "not in the registry") {
		t.Errorf("revoke unknown: exit %d %s", code, errs)
	}
	code, out, errs := runRulesCmd("cert", "revoke", "--registry", reg, "--key", key, "--staff", "--reason", "the artifact is not the shipped app", certFile)
	if code != exitOK || !strings.Contains(out, "revoked "+id) {
		t.Fatalf("revoke: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := runRulesCmd("cert", "revoke", "--registry", reg, "--key", key, "--staff", "--reason", "again", id); code != exitFindings || !strings.Contains(errs, "already revoked") {
		t.Errorf("second revoke: exit %d %s", code, errs)
	}
	revs := filepath.Join(reg, certstore.RevocationsFile)
	code, out, _ = runRulesCmd("cert", "verify", certFile, "--jwks", jwks, "--revocations", revs)
	if code != exitFindings || !strings.Contains(out, "Verdict: REVOKED") || !strings.Contains(out, "the artifact is not the shipped app") || !strings.Contains(out, "Revoked:") {
		t.Errorf("verify revoked: exit %d\n%s", code, out)
	}
	code, out, _ = runRulesCmd("cert", "verify", certFile, "--jwks", jwks, "--revocations", revs, "--format", "json")
	var res struct {
		Status     string `json:"status"`
		Revocation struct {
			ID     string `json:"jti"`
			Reason string `json:"reason"`
			At     string `json:"revokedAt"`
		} `json:"revocation"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != exitFindings || res.Status != "revoked" || res.Revocation.ID != id || res.Revocation.At == "" {
		t.Errorf("json: exit %d %+v %v\n%s", code, res, err, out)
	}
	// A damaged list cannot say anything: could not run.
	os.WriteFile(revs, []byte("a.b.c"), 0o644)
	if code, _, errs := runRulesCmd("cert", "verify", certFile, "--jwks", jwks, "--revocations", revs); code != exitUsage || !strings.Contains(errs, "cannot be trusted") {
		t.Errorf("damaged list: exit %d %s", code, errs)
	}
}

func TestRulesDiff(t *testing.T) {
	reg, _, _, _ := registryWithCert(t)
	const smart = "../../rules/epr-smart-app"

	// The same rule set: nobody loses.
	code, out, errs := runRulesCmd("rules", "diff", smart, smart, "--registry", reg)
	if code != exitOK || !strings.Contains(out, "0 would lose their certificate, 1 keep it") {
		t.Fatalf("same: exit %d\n%s%s", code, out, errs)
	}
	// A stricter PKCE rule takes the good app's certificate away.
	dir := filepath.Join(t.TempDir(), "epr-smart-app")
	if err := os.CopyFS(dir, os.DirFS(smart)); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "policies", "oauth.rego")
	b, _ := os.ReadFile(p)
	if !strings.Contains(string(b), "{43}$") {
		t.Fatal("fixture edit needs updating")
	}
	os.WriteFile(p, []byte(strings.Replace(string(b), "{43}$", "{44}$", 1)), 0o644)
	code, out, errs = runRulesCmd("rules", "diff", smart, dir, "--registry", reg)
	if code != exitFindings || !strings.Contains(out, "LOSES  Demo 1.0") || !strings.Contains(out, "test authorize-request: fail") ||
		!strings.Contains(out, "SMART-AUTHZ-01 at exchange.query.code_challenge") || !strings.Contains(out, "~ policies/oauth.rego") {
		t.Errorf("stricter: exit %d\n%s%s", code, out, errs)
	}
	code, out, _ = runRulesCmd("rules", "diff", smart, dir, "--registry", reg, "--format", "json")
	var d certstore.Diff
	if err := json.Unmarshal([]byte(out), &d); err != nil || code != exitFindings || d.Losing() != 1 {
		t.Errorf("json: exit %d %v\n%s", code, err, out)
	}
	// Without a registry: only the changes, exit 0.
	if code, out, _ := runRulesCmd("rules", "diff", smart, dir); code != exitOK || !strings.Contains(out, "not re-evaluated") {
		t.Errorf("no registry: exit %d\n%s", code, out)
	}
	// Bad input.
	if code, _, errs := runRulesCmd("rules", "diff", smart, "epr-smart-app@9.9.9", "--registry", reg); code != exitUsage || !strings.Contains(errs, "not published") {
		t.Errorf("unpublished: exit %d %s", code, errs)
	}
	if code, _, errs := runRulesCmd("rules", "diff", smart, "nowhere"); code != exitUsage || !strings.Contains(errs, "nowhere") {
		t.Errorf("missing: exit %d %s", code, errs)
	}
	ents, _ := os.ReadDir(filepath.Join(reg, certstore.CertificatesDir))
	ev := filepath.Join(reg, certstore.CertificatesDir, ents[0].Name(), certstore.EvidenceFile)
	os.WriteFile(ev, []byte("{"), 0o644)
	if code, _, errs := runRulesCmd("rules", "diff", smart, smart, "--registry", reg); code != exitUsage || !strings.Contains(errs, ev) {
		t.Errorf("damaged entry: exit %d %s", code, errs)
	}
}

func TestRulesDiffPublishedVersions(t *testing.T) {
	reg, key, _, _ := registryWithCert(t)
	const smart = "../../rules/epr-smart-app"
	pub := []string{"rules", "publish", smart, "--registry", reg, "--signer", "Kari Nordmann", "--key", key, "--staff", "--packages", "../../../shared/profiles"}
	if code, out, errs := runRulesCmd(pub...); code != exitOK {
		t.Fatalf("publish: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := runRulesCmd(pub...); code != exitFindings || !strings.Contains(errs, "already published") {
		t.Errorf("duplicate publish: exit %d %s", code, errs)
	}
	code, out, errs := runRulesCmd("rules", "diff", "epr-smart-app@0.1.0", smart, "--registry", reg)
	if code != exitOK || !strings.Contains(out, "Files: none changed") || !strings.Contains(out, "1 keep it") {
		t.Errorf("published vs directory: exit %d\n%s%s", code, out, errs)
	}
}

func TestIssueRegistryRefusals(t *testing.T) {
	key, _ := keygen(t) // not added to any registry
	reg := t.TempDir()
	out := filepath.Join(t.TempDir(), "app.cert")
	base := []string{"--suite", smartSuite, "--offline", "testdata/verify/good", "--app", "Demo", "--version", "1.0"}
	issue := append(append([]string{}, base...), "--issue", "--key", key, "--vendor-org", "974760673", "--artifact-digest", testArtifact, "--out", out, "--registry", reg)
	code, _, errs := runVerifyCmd(issue...)
	if code != exitUsage || !strings.Contains(errs, "no certificate issued") || !strings.Contains(errs, "no key set") {
		t.Errorf("registry without the key: exit %d %s", code, errs)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("certificate written although it could not be kept: %v", err)
	}
	if code, _, errs := runVerifyCmd(append(append([]string{}, base...), "--registry", reg)...); code != exitUsage || !strings.Contains(errs, "only go with --issue") {
		t.Errorf("--registry without --issue: exit %d %s", code, errs)
	}
}
