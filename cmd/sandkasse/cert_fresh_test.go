package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/sandkasse/sandkasse/validator/cert"
)

// A list past its next update is refused (exit 2, saying when it was
// signed); a current one shows until when it holds; a list without a next
// update is used and said to have no freshness bound; a list URL must be
// https unless it is localhost.
func TestCertVerifyRevocationFreshness(t *testing.T) {
	e := newCertEnv(t)
	key, err := cert.NewSigningKey(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32)), "")
	if err != nil {
		t.Fatal(err)
	}
	signedAt := time.Now().Add(-48 * time.Hour).UTC().Truncate(time.Second)
	old, _ := cert.NewSigner(key, cert.WithClock(func() time.Time { return signedAt }))
	staleList, err := old.SignRevocations(&cert.RevocationList{})
	if err != nil {
		t.Fatal(err)
	}
	stale := writeFile(t, e.dir, "stale.jws", staleList)
	r := runCLI(t, "", "cert", "verify", e.certFile, "--jwks", e.jwksFile, "--revocations", stale)
	if r.code != exitUsage || !strings.Contains(r.err, "stale") || !strings.Contains(r.err, "signed "+signedAt.Format(time.RFC3339)) {
		t.Errorf("stale list: exit %d\n%s%s", r.code, r.out, r.err)
	}

	current, _ := e.signer.SignRevocations(&cert.RevocationList{})
	r = runCLI(t, "", "cert", "verify", e.certFile, "--jwks", e.jwksFile, "--revocations", writeFile(t, e.dir, "current.jws", current), "--format", "json")
	var res map[string]any
	if r.code != exitOK || json.Unmarshal([]byte(r.out), &res) != nil || res["revocationsNextUpdate"] == nil {
		t.Errorf("current list: exit %d\n%s%s", r.code, r.out, r.err)
	}
	r = runCLI(t, "", "cert", "verify", e.certFile, "--jwks", e.jwksFile, "--revocations", writeFile(t, e.dir, "current.jws", current))
	if r.code != exitOK || !strings.Contains(r.out, ", valid until ") {
		t.Errorf("current list, text: exit %d\n%s", r.code, r.out)
	}

	// A list in the format before next updates, signed with the same key.
	js, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32)), KeyID: key.ID()}},
		(&jose.SignerOptions{}).WithType(cert.RevocationListType))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := js.Sign([]byte(`{"ver":1,"iss":"sandkasse","kid":"` + key.ID() + `","issued":"2020-01-01T00:00:00Z","revoked":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	unbounded, _ := obj.CompactSerialize()
	r = runCLI(t, "", "cert", "verify", e.certFile, "--jwks", e.jwksFile, "--revocations", writeFile(t, e.dir, "old.jws", unbounded))
	if r.code != exitOK || !strings.Contains(r.out, "no freshness bound") {
		t.Errorf("list without a next update: exit %d\n%s%s", r.code, r.out, r.err)
	}

	r = runCLI(t, "", "cert", "verify", e.certFile, "--jwks", e.jwksFile, "--revocations", "http://keys.example.invalid/revocations.jws")
	if r.code != exitUsage || !strings.Contains(r.err, "must be fetched over https") {
		t.Errorf("list over plain http: exit %d\n%s", r.code, r.err)
	}
}
