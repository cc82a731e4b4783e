package certstore

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/validator/cert"
)

// The list is re-signed, entries kept, once half its validity has passed;
// not before; never when the list on disk does not verify.
func TestRefreshRevocations(t *testing.T) {
	f := newFixture(t)
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	signer, err := cert.NewSigner(f.key, cert.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	v := cert.NewVerifier(f.keys)
	read := func() *cert.RevocationList {
		t.Helper()
		l, _, err := f.store.Revocations(v)
		if err != nil || l == nil {
			t.Fatalf("list: %v %v", l, err)
		}
		return l
	}
	tok, refreshed, err := f.store.RefreshRevocations(signer, now)
	if err != nil || !refreshed || tok == "" {
		t.Fatalf("no list yet: %v %v", refreshed, err)
	}
	if l := read(); !l.Issued.Equal(now) || !l.NextUpdate.Equal(now.Add(cert.DefaultRevocationValidity)) {
		t.Fatalf("first list: issued %s, next %s", l.Issued, l.NextUpdate)
	}
	p, err := f.store.Put(f.issue(t, f.report), f.report, recording(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Revoke(signer, p.ID, "artifact digest does not match", now); err != nil {
		t.Fatal(err)
	}
	now = now.Add(11 * time.Hour)
	before := read()
	if tok2, refreshed, err := f.store.RefreshRevocations(signer, now); err != nil || refreshed || tok2 == "" {
		t.Fatalf("with 13 h left: refreshed %v, %v", refreshed, err)
	}
	now = now.Add(2 * time.Hour) // 11 h of 24 left
	if _, refreshed, err := f.store.RefreshRevocations(signer, now); err != nil || !refreshed {
		t.Fatalf("with 11 h left: refreshed %v, %v", refreshed, err)
	}
	after := read()
	if !after.Issued.Equal(now) || !after.NextUpdate.After(before.NextUpdate) {
		t.Fatalf("refreshed list: issued %s, next %s", after.Issued, after.NextUpdate)
	}
	if _, ok := after.Lookup(p.ID); !ok || len(after.Entries()) != 1 {
		t.Fatalf("the refresh lost the revocation: %v", after.Entries())
	}

	// A damaged list is not laundered by a new signature.
	now = now.Add(23 * time.Hour)
	data, _ := os.ReadFile(f.store.RevocationsPath())
	bad := strings.Replace(string(data), ".", ".x", 1)
	if err := os.WriteFile(f.store.RevocationsPath(), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.store.RefreshRevocations(signer, now); err == nil {
		t.Fatal("a list that does not verify was re-signed")
	}
	if got, _ := os.ReadFile(f.store.RevocationsPath()); string(got) != bad {
		t.Fatal("the damaged list was overwritten")
	}
	// A key outside the registry's set signs nothing.
	other, _ := cert.GenerateKey(nil)
	os2, _ := cert.NewSigner(other)
	if _, _, err := f.store.RefreshRevocations(os2, now); err == nil || !strings.Contains(err.Error(), "not in") {
		t.Fatalf("foreign key: %v", err)
	}
}
