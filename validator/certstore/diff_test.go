package certstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/validator/cert"
	"github.com/sandkasse/sandkasse/validator/issue"
	"github.com/sandkasse/sandkasse/validator/ruleset"
	"github.com/sandkasse/sandkasse/validator/suite"
)

func loadRuleSet(t testing.TB, dir string) *ruleset.RuleSet {
	t.Helper()
	rs, err := ruleset.Load(context.Background(), os.DirFS(dir), dir)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// stricterSmart is epr-smart-app 0.2.0 with a PKCE rule the good app's
// 43-character code_challenge breaks, and one suite test retitled.
func stricterSmart(t testing.TB) string {
	t.Helper()
	dir, edit := smartCopy(t)
	edit("ruleset.yaml", "version: 0.1.0", "version: 0.2.0")
	edit("policies/oauth.rego", "{43}$", "{44}$")
	edit("policies/oauth.rego", "#   id: SMART-AUTHZ-02\n#   severity: error", "#   id: SMART-AUTHZ-02\n#   severity: warning")
	edit("suites/smart-app.yaml", "title: Requested scopes are well-formed and not wildcards", "title: Requested scopes are well-formed")
	return dir
}

func smartCopy(t testing.TB) (string, func(name, from, to string)) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "epr-smart-app")
	if err := os.CopyFS(dir, os.DirFS(smartRules)); err != nil {
		t.Fatal(err)
	}
	edit := func(name, from, to string) {
		p := filepath.Join(dir, name)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), from) {
			t.Fatalf("%s: %q not found; the fixture edit needs updating", name, from)
		}
		os.WriteFile(p, []byte(strings.Replace(string(b), from, to, 1)), 0o644)
	}
	return dir, edit
}

var passAll = func(*ruleset.RuleSet) (suite.Validator, error) {
	return suite.ValidatorFunc(func(context.Context, []byte) issue.List { return nil }), nil
}

func (f *fixture) issueFor(t testing.TB, rs, version string, expires time.Time) string {
	t.Helper()
	token, _, err := f.signer.Sign(cert.Payload{
		App:          cert.App{Name: "Demo", Version: version, ArtifactDigest: artifact},
		Vendor:       cert.Vendor{OrgNumber: "974760673"},
		Suite:        cert.Suite{ID: "smart-app", Version: "0.1.0"},
		RuleSet:      cert.RuleSet{ID: rs, Version: "0.1.0", Digest: artifact},
		ReportDigest: digest(f.report),
		Expires:      expires.UTC().Truncate(time.Second),
	})
	if err != nil {
		t.Fatal(err)
	}
	return token
}

func TestDiffFindsWhoWouldLose(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	rec := recording(t)
	now := time.Now()
	put := func(rs, version string, expires time.Time) string {
		p, err := f.store.Put(f.issueFor(t, rs, version, expires), f.report, rec)
		if err != nil {
			t.Fatal(err)
		}
		return p.ID
	}
	current := put("epr-smart-app", "1.0", now.Add(30*24*time.Hour))
	expiring := put("epr-smart-app", "0.9", now.Add(24*time.Hour))
	revoked := put("epr-smart-app", "0.8", now.Add(30*24*time.Hour))
	put("dho-vkp", "1.0", now.Add(30*24*time.Hour)) // another rule set: not affected
	if _, err := f.store.Revoke(f.signer, revoked, "withdrawn by the vendor", now); err != nil {
		t.Fatal(err)
	}
	later := cert.WithClock(func() time.Time { return now.Add(48 * time.Hour) })
	old := loadRuleSet(t, smartRules)

	// The same rule set: everyone keeps their certificate.
	d, err := f.store.Diff(ctx, old, old, DiffOptions{Validator: passAll, VerifyOptions: []cert.Option{later}})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Certificates) != 1 || d.Certificates[0].ID != current || d.Certificates[0].Verdict != Keeps ||
		len(d.Files)+len(d.Rules)+len(d.Tests) != 0 || !d.RevocationsChecked {
		t.Fatalf("identical rule sets: %+v", d)
	}
	notCurrent := map[string]cert.Status{}
	for _, n := range d.NotCurrent {
		notCurrent[n.ID] = n.Status
	}
	if notCurrent[expiring] != cert.StatusExpired || notCurrent[revoked] != cert.StatusRevoked || len(notCurrent) != 2 {
		t.Errorf("not current: %+v", d.NotCurrent)
	}

	// The stricter one takes the certificate away, and says where.
	d, err = f.store.Diff(ctx, old, loadRuleSet(t, stricterSmart(t)), DiffOptions{Validator: passAll, VerifyOptions: []cert.Option{later}})
	if err != nil {
		t.Fatal(err)
	}
	if d.Losing() != 1 || d.New.Version != "0.2.0" {
		t.Fatalf("stricter: %+v", d.Certificates)
	}
	c := d.Certificates[0]
	if len(c.Failures) != 1 || c.Failures[0].Test != "authorize-request" || len(c.Failures[0].Findings) == 0 {
		t.Fatalf("failures: %+v", c.Failures)
	}
	fd := c.Failures[0].Findings[0]
	if fd.RuleID != "SMART-AUTHZ-01" || fd.Location != "exchange.query.code_challenge" || !strings.Contains(fd.Evidence, "authorize") {
		t.Errorf("finding: %+v", fd)
	}
	changed := map[string]string{}
	for _, fc := range d.Files {
		changed[fc.Path] = fc.Change
	}
	if changed["policies/oauth.rego"] != Changed || changed["ruleset.yaml"] != Changed || changed["suites/smart-app.yaml"] != Changed || len(changed) != 3 {
		t.Errorf("files: %+v", d.Files)
	}
	details := map[string]string{}
	for _, r := range d.Rules {
		details[r.ID] = r.Change + ": " + r.Detail
	}
	// The edited rule's own Rego changed; its neighbours in the file only
	// share it.
	if details["SMART-AUTHZ-01"] != "changed: its Rego in policies/oauth.rego changed" ||
		details["SMART-AUTHZ-02"] != "changed: severity; other Rego in its file policies/oauth.rego changed" ||
		details["SMART-AUTHZ-03"] != "changed: other Rego in its file policies/oauth.rego changed" {
		t.Errorf("rules: %+v", d.Rules)
	}
	if len(d.Tests) != 1 || d.Tests[0].ID != "smart-app/scope-request" || d.Tests[0].Detail != "title" {
		t.Errorf("tests: %+v", d.Tests)
	}

	// Without a validator a required validate test is the tool's error:
	// the answer is undetermined, not "keeps".
	dir, edit := smartCopy(t)
	edit("suites/smart-app.yaml", "title: Written resources are valid FHIR R4\n        optional: true", "title: Written resources are valid FHIR R4")
	d, err = f.store.Diff(ctx, old, loadRuleSet(t, dir), DiffOptions{VerifyOptions: []cert.Option{later}})
	if err != nil || d.Undetermined() != 1 || d.Losing() != 0 {
		t.Errorf("no validator: %+v %v", d, err)
	}
	if d, err := f.store.Diff(ctx, old, loadRuleSet(t, dir), DiffOptions{Validator: passAll, VerifyOptions: []cert.Option{later}}); err != nil || d.Certificates[0].Verdict != Keeps {
		t.Errorf("with a validator: %+v %v", d, err)
	}

	// A registry of rule sets only (no key set, no certificates) has
	// nothing to re-evaluate; one with certificates but no key set is an
	// error.
	if d, err := (&Store{Dir: t.TempDir()}).Diff(ctx, old, old, DiffOptions{}); err != nil || len(d.Certificates) != 0 {
		t.Errorf("empty registry: %+v %v", d, err)
	}
	os.Rename(f.store.KeySetPath(), f.store.KeySetPath()+".away")
	if _, err := f.store.Diff(ctx, old, old, DiffOptions{}); !errors.Is(err, ErrNoKeys) {
		t.Errorf("certificates without a key set: %v", err)
	}
	os.Rename(f.store.KeySetPath()+".away", f.store.KeySetPath())

	// A damaged entry makes the diff refuse, naming the path.
	bad := filepath.Join(f.store.Dir, CertificatesDir, current, EvidenceFile)
	os.WriteFile(bad, []byte("{"), 0o644)
	if _, err := f.store.Diff(ctx, old, old, DiffOptions{Validator: passAll, VerifyOptions: []cert.Option{later}}); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("damaged evidence: %v", err)
	}
}
