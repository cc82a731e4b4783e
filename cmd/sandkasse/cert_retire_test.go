package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/sandkasse/sandkasse/validator/cert"
)

// A key rotation from the command line: the old key is refused while a
// valid certificate depends on it, and once retired (forced), that
// certificate no longer verifies against the registry's key set.
func TestCertRetireKey(t *testing.T) {
	reg, _, _, certFile := registryWithCert(t)
	keys, err := cert.LoadKeySet(filepath.Join(reg, "jwks.json"))
	if err != nil || keys.Len() != 1 {
		t.Fatalf("registry keys: %v %v", keys, err)
	}
	oldKID := keys.IDs()[0]
	if code, _, errs := runRulesCmd("cert", "retire-key", "--registry", reg, "--staff", oldKID); code != exitFindings || !strings.Contains(errs, "only key") {
		t.Fatalf("the only key: exit %d %s", code, errs)
	}
	dir := t.TempDir()
	newKey := filepath.Join(dir, "new.pem")
	if code, out, errs := runRulesCmd("cert", "keygen", "--out", newKey, "--registry", reg); code != exitOK {
		t.Fatalf("keygen: exit %d %s%s", code, out, errs)
	}
	if code, _, errs := runRulesCmd("cert", "retire-key", "--registry", reg, oldKID); code != exitUsage || !strings.Contains(errs, "staff") {
		t.Fatalf("without --staff: exit %d %s", code, errs)
	}
	if code, _, errs := runRulesCmd("cert", "retire-key", "--registry", reg, "--staff", "no-such-key"); code != exitUsage || !strings.Contains(errs, "not in the registry") {
		t.Fatalf("unknown key: exit %d %s", code, errs)
	}
	code, _, errs := runRulesCmd("cert", "retire-key", "--registry", reg, "--staff", oldKID)
	if code != exitFindings || !strings.Contains(errs, "still valid") {
		t.Fatalf("a valid certificate depends on it: exit %d %s", code, errs)
	}
	code, out, errs := runRulesCmd("cert", "retire-key", "--registry", reg, "--staff", "--force", oldKID)
	if code != exitOK || !strings.Contains(out, "no longer verify") {
		t.Fatalf("forced: exit %d %s%s", code, out, errs)
	}
	code, out, _ = runRulesCmd("cert", "verify", certFile, "--jwks", filepath.Join(reg, "jwks.json"), "--revocations", "none")
	if code != exitFindings || !strings.Contains(out, "UNKNOWN KEY") {
		t.Fatalf("a certificate of the retired key: exit %d %s", code, out)
	}
}
