package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sandkasse/sandkasse/validator/cert"
	"github.com/sandkasse/sandkasse/validator/publish"
)

// keygen makes a key pair with `cert keygen` and returns the key and JWKS paths.
func keygen(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	key, jwks := filepath.Join(dir, "signing.pem"), filepath.Join(dir, "jwks.json")
	if code, out, errs := runRulesCmd("cert", "keygen", "--out", key, "--jwks", jwks); code != exitOK {
		t.Fatalf("keygen: exit %d\n%s%s", code, out, errs)
	}
	return key, jwks
}

func TestCertKeygen(t *testing.T) {
	key, jwks := keygen(t)
	st, err := os.Stat(key)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", err, st)
	}
	sk, err := cert.LoadSigningKey(key)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := cert.LoadKeySet(jwks)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ks.Lookup(sk.ID()); !ok || ks.Len() != 1 {
		t.Errorf("JWKS %v lacks key %s", ks.IDs(), sk.ID())
	}
	// Never overwrites.
	if code, _, _ := runRulesCmd("cert", "keygen", "--out", key, "--jwks", jwks+".2"); code != exitUsage {
		t.Errorf("overwrite: exit %d", code)
	}
}

func copyRuleSet(t *testing.T, id string, edit func(rel string, b []byte) []byte) string {
	t.Helper()
	src := "../../rules/" + id
	dst := filepath.Join(t.TempDir(), id)
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if edit != nil {
			b = edit(rel, b)
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestRulesPublishAndDuplicate(t *testing.T) {
	key, jwks := keygen(t)
	reg := filepath.Join(t.TempDir(), "registry")
	args := []string{"rules", "publish", "../../rules/epr-smart-app", "--registry", reg, "--signer", "Kari Nordmann", "--key", key, "--staff", "--packages", "../../../shared/profiles"}
	code, out, errs := runRulesCmd(args...)
	if code != exitOK || !strings.Contains(out, "published epr-smart-app") {
		t.Fatalf("publish: exit %d\n%s%s", code, out, errs)
	}
	ks, err := cert.LoadKeySet(jwks)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := (&publish.Registry{Dir: reg}).List(ks)
	if err != nil || len(entries) != 1 {
		t.Fatalf("list: %v %+v", err, entries)
	}
	e := entries[0]
	if !e.Verified || !e.Intact || e.Problem != "" || e.ID != "epr-smart-app" || e.Signer != "Kari Nordmann" ||
		!strings.HasPrefix(e.Digest, "sha256:") || e.Effective == "" || e.Published.IsZero() {
		t.Errorf("entry: %+v", e)
	}
	if _, err := os.Stat(filepath.Join(reg, "epr-smart-app", e.Version, "files", "ruleset.yaml")); err != nil {
		t.Errorf("files not kept: %v", err)
	}

	// The same id+version again is refused and leaves the first in place.
	code, _, errs = runRulesCmd(args...)
	if code != exitFindings || !strings.Contains(errs, "already published") {
		t.Errorf("duplicate: exit %d %s", code, errs)
	}
	code, out, errs = runRulesCmd("rules", "list", "--registry", reg, "--jwks", jwks)
	if code != exitOK || strings.Count(out, "epr-smart-app") != 1 || !strings.Contains(out, "Kari Nordmann") {
		t.Errorf("rules list: exit %d\n%s%s", code, out, errs)
	}

	// A new version is kept beside the earlier one.
	bumped := copyRuleSet(t, "epr-smart-app", func(rel string, b []byte) []byte {
		if rel == "ruleset.yaml" {
			return bytes.Replace(b, []byte("version: "+e.Version), []byte("version: 9.9.9"), 1)
		}
		return b
	})
	args[2] = bumped
	if code, out, errs := runRulesCmd(args...); code != exitOK {
		t.Fatalf("publish 9.9.9: exit %d\n%s%s", code, out, errs)
	}
	entries, _ = (&publish.Registry{Dir: reg}).List(ks)
	if len(entries) != 2 || entries[0].Version != e.Version || entries[1].Version != "9.9.9" {
		t.Errorf("versions: %+v", entries)
	}

	// Tampering with a stored file shows in the listing.
	os.WriteFile(filepath.Join(reg, "epr-smart-app", "9.9.9", "files", "ruleset.yaml"), []byte("x"), 0o644)
	if code, out, _ := runRulesCmd("rules", "list", "--registry", reg, "--jwks", jwks); code != exitFindings || !strings.Contains(out, "BAD") {
		t.Errorf("tampered: exit %d\n%s", code, out)
	}
}

func TestRulesPublishNeedsStaff(t *testing.T) {
	key, _ := keygen(t)
	reg := filepath.Join(t.TempDir(), "registry")
	code, _, errs := runRulesCmd("rules", "publish", "../../rules/epr-smart-app", "--registry", reg, "--signer", "x", "--key", key, "--packages", "../../../shared/profiles")
	if code == exitOK || !strings.Contains(errs, "staff") || !strings.Contains(errs, "server") {
		t.Errorf("exit %d %s", code, errs)
	}
	if _, err := os.Stat(reg); !os.IsNotExist(err) {
		t.Errorf("registry written without --staff: %v", err)
	}
}

func TestRulesPublishFailingTest(t *testing.T) {
	key, _ := keygen(t)
	reg := filepath.Join(t.TempDir(), "registry")
	dst := copyRuleSet(t, "epr-smart-app", func(rel string, b []byte) []byte {
		if rel == filepath.Join("policies", "writes_test.rego") {
			return bytes.Replace(b, []byte(`"14835031049"`), []byte(`"14835031048"`), 1)
		}
		return b
	})
	code, out, errs := runRulesCmd("rules", "publish", dst, "--registry", reg, "--signer", "x", "--key", key, "--staff", "--packages", "../../../shared/profiles")
	if code != exitFindings || !strings.Contains(out, "test_bad_person_number") || !strings.Contains(errs, "refused") {
		t.Errorf("exit %d\n%s%s", code, out, errs)
	}
	if entries, _ := (&publish.Registry{Dir: reg}).List(nil); len(entries) != 0 {
		t.Errorf("published anyway: %+v", entries)
	}
}
