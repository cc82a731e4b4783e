package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/validator/cert"
	"github.com/sandkasse/sandkasse/validator/certstore"
)

// A registry's list gone stale is refused by cert verify until staff
// re-sign it with cert refresh.
func TestCertRefreshResignsStaleList(t *testing.T) {
	reg, key, jwks, certFile := registryWithCert(t)
	k, err := cert.LoadSigningKey(key)
	if err != nil {
		t.Fatal(err)
	}
	signedAt := time.Now().Add(-30 * time.Hour)
	old, _ := cert.NewSigner(k, cert.WithClock(func() time.Time { return signedAt }))
	store := &certstore.Store{Dir: reg}
	if err := store.EnsureRevocations(old); err != nil {
		t.Fatal(err)
	}
	list := filepath.Join(reg, certstore.RevocationsFile)
	if code, _, errs := runRulesCmd("cert", "verify", certFile, "--jwks", jwks, "--revocations", list); code != exitUsage || !strings.Contains(errs, "stale") {
		t.Fatalf("stale registry list: exit %d\n%s", code, errs)
	}
	if code, _, errs := runRulesCmd("cert", "refresh", "--registry", reg, "--key", key); code != exitUsage || !strings.Contains(errs, "staff") {
		t.Errorf("refresh without --staff: exit %d\n%s", code, errs)
	}
	if code, out, errs := runRulesCmd("cert", "refresh", "--registry", reg, "--key", key, "--staff"); code != exitOK || !strings.Contains(out, "re-signed") {
		t.Fatalf("refresh: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := runRulesCmd("cert", "verify", certFile, "--jwks", jwks, "--revocations", list); code != exitOK || !strings.Contains(out, "valid until") {
		t.Errorf("verify after refresh: exit %d\n%s%s", code, out, errs)
	}
	if code, out, _ := runRulesCmd("cert", "refresh", "--registry", reg, "--key", key, "--staff"); code != exitOK || !strings.Contains(out, "not re-signed") {
		t.Errorf("second refresh: exit %d\n%s", code, out)
	}
}
