package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/validator/cert"
)

const testArtifact = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestVerifyIssuesCertificate(t *testing.T) {
	key, jwks := keygen(t)
	out := filepath.Join(t.TempDir(), "app.cert")
	code, rep, errs := runVerifyCmd("--suite", smartSuite, "--offline", "testdata/verify/good", "--app", "Demo", "--version", "1.0",
		"--issue", "--key", key, "--vendor-org", "974760673", "--artifact-digest", testArtifact, "--out", out)
	if code != exitOK || !strings.Contains(rep, "PASSED") {
		t.Fatalf("exit %d\n%s%s", code, rep, errs)
	}
	token, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := cert.LoadKeySet(jwks)
	if err != nil {
		t.Fatal(err)
	}
	res := cert.NewVerifier(ks).Verify(strings.TrimSpace(string(token)))
	if !res.Valid() {
		t.Fatalf("certificate does not verify: %s %s", res.Status, res.Detail)
	}
	p := res.Payload
	if p.App.Name != "Demo" || p.App.Version != "1.0" || p.App.ArtifactDigest != testArtifact || p.Vendor.OrgNumber != "974760673" ||
		p.Suite.ID == "" || p.Suite.Version == "" || p.RuleSet.ID != "epr-smart-app" || !strings.HasPrefix(p.RuleSet.Digest, "sha256:") ||
		!strings.HasPrefix(p.ReportDigest, "sha256:") || !p.Expires.After(time.Now()) {
		t.Errorf("payload: %+v", p)
	}
	// And through the CLI, as procurement would.
	if code, o, e := runVerifyCertCLI(out, jwks); code != exitOK || !strings.Contains(o, "VALID") || !strings.Contains(o, "Demo 1.0") {
		t.Errorf("cert verify: exit %d\n%s%s", code, o, e)
	}

	// Without --out a text report ends with the certificate.
	code, rep, _ = runVerifyCmd("--suite", smartSuite, "--offline", "testdata/verify/good", "--app", "Demo", "--version", "1.0",
		"--issue", "--key", key, "--vendor-org", "974760673", "--artifact-digest", testArtifact)
	lines := strings.Split(strings.TrimSpace(rep), "\n")
	if code != exitOK || !cert.NewVerifier(ks).Verify(lines[len(lines)-1]).Valid() {
		t.Errorf("printed certificate: exit %d\n%s", code, rep)
	}
}

func runVerifyCertCLI(certFile, jwks string) (int, string, string) {
	return runRulesCmd("cert", "verify", certFile, "--jwks", jwks)
}

func TestVerifyNoCertificateWhenFailing(t *testing.T) {
	key, _ := keygen(t)
	dir := copyDir(t, "testdata/verify/good")
	bad := `{"method": "GET", "url": "https://epr.test/fhir/Patient/p1?access_token=t0k3n", "headers": {"Authorization": ["Bearer t0k3n"]}, "status": 200}`
	if err := os.WriteFile(filepath.Join(dir, "02-read.json"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "app.cert")
	code, rep, errs := runVerifyCmd("--suite", smartSuite, "--offline", dir, "--app", "Demo", "--version", "1.0",
		"--issue", "--key", key, "--vendor-org", "974760673", "--artifact-digest", testArtifact, "--out", out)
	if code != exitFindings || !strings.Contains(errs, "no certificate issued") {
		t.Errorf("exit %d\n%s%s", code, rep, errs)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("certificate written for a failing run: %v", err)
	}
	// A run with nothing to examine does not pass either.
	code, _, errs = runVerifyCmd("--suite", smartSuite, "--offline", t.TempDir(), "--app", "Demo", "--version", "1.0",
		"--issue", "--key", key, "--vendor-org", "974760673", "--artifact-digest", testArtifact, "--out", out)
	if code != exitFindings || !strings.Contains(errs, "no certificate issued") {
		t.Errorf("empty run: exit %d %s", code, errs)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("certificate written for an empty run: %v", err)
	}
}

func TestVerifyIssueFlags(t *testing.T) {
	key, _ := keygen(t)
	base := []string{"--suite", smartSuite, "--offline", "testdata/verify/good", "--app", "Demo", "--version", "1.0"}
	for name, extra := range map[string][]string{
		"no key":            {"--issue", "--vendor-org", "974760673", "--artifact-digest", testArtifact},
		"key without issue": {"--key", key},
		"json without out":  {"--issue", "--key", key, "--vendor-org", "974760673", "--artifact-digest", testArtifact, "--format", "json"},
	} {
		if code, _, errs := runVerifyCmd(append(append([]string{}, base...), extra...)...); code != exitUsage || errs == "" {
			t.Errorf("%s: exit %d %q", name, code, errs)
		}
	}
}
