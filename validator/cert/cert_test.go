package cert

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

// t0 is the fixed "now" of these tests.
var t0 = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

// seedKey is deterministic, so the golden certificate is byte-stable
// (Ed25519 signatures are deterministic too).
func seedKey(tb testing.TB, seed byte) *SigningKey {
	tb.Helper()
	k, err := NewSigningKey(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize)), "")
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

const testIssuer = "https://sandkasse.example.no"

// samplePayload leaves Issuer and KeyID to the signer.
func samplePayload() Payload {
	return Payload{
		ID: "0f8e2a4c-5b1d-4c3e-9a7f-2d6b8e1c3a5f",
		App: App{
			Name:           "Sårpleie <mobil> & nett",
			Version:        "2.1.0",
			ArtifactDigest: "sha256:" + strings.Repeat("ab", 32),
		},
		Vendor:       Vendor{OrgNumber: "974760673", Name: "Helseapp Nord AS"},
		Suite:        Suite{ID: "dho-vkp", Version: "1.0.0"},
		RuleSet:      RuleSet{ID: "dho-vkp", Version: "1.2.0", Digest: "sha256:" + strings.Repeat("01", 32)},
		ReportDigest: "sha512:" + strings.Repeat("f0", 64),
		Issued:       t0,
		Expires:      t0.AddDate(1, 0, 0),
	}
}

type fixture struct {
	key    *SigningKey
	signer *Signer
	keys   *KeySet
	cert   string
	signed Payload
}

func newFixture(tb testing.TB) fixture {
	tb.Helper()
	key := seedKey(tb, 1)
	s, err := NewSigner(key, WithClock(fixedClock(t0)), WithIssuer(testIssuer))
	if err != nil {
		tb.Fatal(err)
	}
	c, p, err := s.Sign(samplePayload())
	if err != nil {
		tb.Fatal(err)
	}
	ks, err := NewKeySet(key.Public())
	if err != nil {
		tb.Fatal(err)
	}
	return fixture{key, s, ks, c, p}
}

func verifyAt(ks *KeySet, cert string, now time.Time, opts ...Option) Result {
	return NewVerifier(ks, append([]Option{WithClock(fixedClock(now))}, opts...)...).Verify(cert)
}

func TestRoundTrip(t *testing.T) {
	f := newFixture(t)
	r := verifyAt(f.keys, f.cert, t0.Add(time.Hour))
	if !r.Valid() || r.Err() != nil {
		t.Fatalf("status %s (%s): %s", r.Status, r.Code, r.Detail)
	}
	if r.Payload == nil || *r.Payload != f.signed {
		t.Fatalf("payload\n got %+v\nwant %+v", r.Payload, f.signed)
	}
	if r.KeyID != f.key.ID() || r.Payload.KeyID != f.key.ID() {
		t.Errorf("key id %q / %q, want %q", r.KeyID, r.Payload.KeyID, f.key.ID())
	}
	if r.RevocationsChecked {
		t.Error("no revocation list was given, but the result says one was checked")
	}
}

func TestSignFillsInWhatTheSignerOwns(t *testing.T) {
	key := seedKey(t, 1)
	s, err := NewSigner(key, WithClock(fixedClock(t0.Add(1500*time.Millisecond))), WithValidity(48*time.Hour),
		WithIssuer("sandkasse-test"), WithRandom(bytes.NewReader(make([]byte, 16))))
	if err != nil {
		t.Fatal(err)
	}
	p := samplePayload()
	p.ID, p.Issuer, p.Issued, p.Expires = "", "", time.Time{}, time.Time{}
	_, got, err := s.Sign(p)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "00000000-0000-4000-8000-000000000000" {
		t.Errorf("id %q is not a version-4 UUID from the injected randomness", got.ID)
	}
	if got.Issuer != "sandkasse-test" || got.KeyID != key.ID() {
		t.Errorf("issuer %q, kid %q", got.Issuer, got.KeyID)
	}
	if !got.Issued.Equal(t0.Add(time.Second)) || !got.Expires.Equal(t0.Add(time.Second+48*time.Hour)) {
		t.Errorf("issued %v expires %v: want whole seconds from the clock plus the validity", got.Issued, got.Expires)
	}
	p.KeyID = "someone-else"
	if _, _, err := s.Sign(p); err == nil {
		t.Error("signing a payload that names another key id succeeded")
	}
	p.KeyID, p.Issuer = "", "someone-else"
	if _, _, err := s.Sign(p); err == nil {
		t.Error("signing a payload that names another issuer succeeded")
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	p := Payload{
		ID:           "has space",
		App:          App{Name: "Evil\u202eppa", Version: " 1.0", ArtifactDigest: "sha256:ABC"},
		Vendor:       Vendor{OrgNumber: "974760674"},
		Suite:        Suite{ID: "s", Version: "1"},
		RuleSet:      RuleSet{ID: "r", Version: "1", Digest: "md5:" + strings.Repeat("0", 32)},
		ReportDigest: "sha256:" + strings.Repeat("0", 63),
		Issued:       t0.Add(time.Millisecond),
		Expires:      t0,
	}
	err := p.Validate()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %v, want a *ValidationError", err)
	}
	got := map[string]string{}
	for _, pr := range ve.Problems {
		got[pr.Field] = pr.Code
	}
	want := map[string]string{
		"jti": "id", "iss": "required", "kid": "required",
		"app.name": "text", "app.version": "text", "app.artifactDigest": "digest",
		"vendor.orgNumber": "org-number", "ruleSet.digest": "digest", "reportDigest": "digest",
		"issued": "time",
	}
	for f, c := range want {
		if got[f] != c {
			t.Errorf("%s: code %q, want %q", f, got[f], c)
		}
	}
	if len(ve.Problems) != len(want) {
		t.Errorf("got %d problems, want %d: %v", len(ve.Problems), len(want), ve)
	}

	p = samplePayload()
	p.KeyID = "k"
	p.Expires = p.Issued
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "after issued") {
		t.Errorf("expires == issued: %v", err)
	}
}

func TestOrgNumberAllowlist(t *testing.T) {
	key := seedKey(t, 1)
	p := samplePayload()
	p.Vendor.OrgNumber = "314159265" // VKP's sample number: fails mod-11
	strict, _ := NewSigner(key, WithClock(fixedClock(t0)))
	if _, _, err := strict.Sign(p); err == nil || !strings.Contains(err.Error(), "vendor.orgNumber") {
		t.Fatalf("signing with a mod-11 failure and no allowlist: %v", err)
	}
	lenient, _ := NewSigner(key, WithClock(fixedClock(t0)), WithTestOrgNumbers("314159265"))
	c, _, err := lenient.Sign(p)
	if err != nil {
		t.Fatal(err)
	}
	// The verifier does not second-guess the issuer's allowlist.
	ks, _ := NewKeySet(key.Public())
	if r := verifyAt(ks, c, t0); !r.Valid() {
		t.Fatalf("allowlisted test org number: %s: %s", r.Status, r.Detail)
	}
}

func TestCanonicalPayloadGolden(t *testing.T) {
	f := newFixture(t)
	canon, err := f.signed.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "payload.golden.json", canon)
	golden(t, "cert.golden.jws", []byte(f.cert))
	jwks, err := f.keys.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "jwks.golden.json", jwks)

	// What the golden file fixes, stated so a reader need not diff bytes.
	s := string(canon)
	for _, want := range []string{
		`{"ver":1,"jti":"0f8e2a4c-`,
		`"app":{"name":"Sårpleie <mobil> & nett","version":"2.1.0","artifactDigest":"sha256:abab`,
		`"issued":"2025-03-14T09:26:53Z","expires":"2026-03-14T09:26:53Z"}`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("canonical payload lacks %s", want)
		}
	}
	if strings.Count(s, " ") != strings.Count(f.signed.App.Name+f.signed.Vendor.Name, " ") || strings.ContainsAny(s, "\n\t") {
		t.Error("canonical payload has whitespace outside string values")
	}
	// A zone other than UTC is the same instant, so the same bytes.
	p := f.signed
	oslo := time.FixedZone("CET", 3600)
	p.Issued, p.Expires = p.Issued.In(oslo), p.Expires.In(oslo)
	if c2, _ := p.Canonical(); !bytes.Equal(c2, canon) {
		t.Errorf("time zone changed the canonical form:\n%s", c2)
	}
	// The golden certificate verifies: the format is stable across versions.
	if r := verifyAt(f.keys, readGolden(t, "cert.golden.jws"), t0); !r.Valid() {
		t.Errorf("golden certificate: %s: %s", r.Status, r.Detail)
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run Golden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file\n got %s\nwant %s", name, got, want)
	}
}

func readGolden(t *testing.T, name string) string {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestValidityWindow(t *testing.T) {
	f := newFixture(t)
	exp := f.signed.Expires
	for _, tc := range []struct {
		name   string
		now    time.Time
		leeway time.Duration
		want   Status
	}{
		{"a second before issue", t0.Add(-time.Second), 0, StatusNotYetValid},
		{"at issue", t0, 0, StatusValid},
		{"a second before expiry", exp.Add(-time.Second), 0, StatusValid},
		{"at expiry", exp, 0, StatusExpired},
		{"long after", exp.AddDate(3, 0, 0), 0, StatusExpired},
		{"before issue within leeway", t0.Add(-time.Minute), 2 * time.Minute, StatusValid},
		{"after expiry within leeway", exp.Add(time.Minute), 2 * time.Minute, StatusValid},
		{"after expiry beyond leeway", exp.Add(3 * time.Minute), 2 * time.Minute, StatusExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := verifyAt(f.keys, f.cert, tc.now, WithLeeway(tc.leeway))
			if r.Status != tc.want {
				t.Fatalf("status %s (%s), want %s", r.Status, r.Detail, tc.want)
			}
			if r.Payload == nil {
				t.Fatal("a genuine certificate outside its window must still say what it certifies")
			}
			switch tc.want {
			case StatusExpired:
				if !strings.Contains(r.Detail, "2026-03-14T09:26:53Z") {
					t.Errorf("detail %q does not say when it expired", r.Detail)
				}
			case StatusNotYetValid:
				if !strings.Contains(r.Detail, "2025-03-14T09:26:53Z") {
					t.Errorf("detail %q does not say when it becomes valid", r.Detail)
				}
			}
		})
	}
}

func TestRevocation(t *testing.T) {
	f := newFixture(t)
	other, _, err := f.signer.Sign(func() Payload { p := samplePayload(); p.ID = "another-cert"; return p }())
	if err != nil {
		t.Fatal(err)
	}
	var l RevocationList
	revokedAt := t0.Add(72 * time.Hour)
	if err := l.Revoke(Revocation{ID: f.signed.ID, RevokedAt: revokedAt, Reason: "artifact digest does not match the shipped app"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Revoke(Revocation{ID: "zzz-older", RevokedAt: t0, Reason: "withdrawn by vendor"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Revoke(Revocation{ID: f.signed.ID, RevokedAt: t0, Reason: "again"}); err == nil {
		t.Error("revoking the same certificate twice succeeded")
	}
	signedList, err := f.signer.SignRevocations(&l)
	if err != nil {
		t.Fatal(err)
	}
	v := NewVerifier(f.keys, WithClock(fixedClock(t0)))
	got, err := v.VerifyRevocations(signedList)
	if err != nil {
		t.Fatal(err)
	}
	if got.KeyID != f.key.ID() || !got.Issued.Equal(t0) || len(got.Entries()) != 2 {
		t.Fatalf("verified list: kid %q issued %v entries %d", got.KeyID, got.Issued, len(got.Entries()))
	}

	now := t0.Add(100 * time.Hour)
	r := verifyAt(f.keys, f.cert, now, WithRevocations(got))
	if r.Status != StatusRevoked || r.Revocation == nil {
		t.Fatalf("status %s, want revoked", r.Status)
	}
	if r.Revocation.Reason != "artifact digest does not match the shipped app" || !r.Revocation.RevokedAt.Equal(revokedAt) {
		t.Errorf("revocation %+v", r.Revocation)
	}
	if !strings.Contains(r.Detail, "2025-03-17T09:26:53Z") || !strings.Contains(r.Detail, "artifact digest") {
		t.Errorf("detail %q lacks when and why", r.Detail)
	}
	if !r.RevocationsChecked || !r.RevocationsIssued.Equal(t0) {
		t.Error("result does not say which revocation list was consulted")
	}
	if r := verifyAt(f.keys, other, now, WithRevocations(got)); !r.Valid() || !r.RevocationsChecked {
		t.Errorf("an unlisted certificate: %s checked=%v", r.Status, r.RevocationsChecked)
	}
	// Revoked outranks expired: "revoked" is the more useful news.
	if r := verifyAt(f.keys, f.cert, f.signed.Expires.AddDate(1, 0, 0), WithRevocations(got)); r.Status != StatusRevoked ||
		!strings.Contains(r.Detail, "also expired, at "+formatTime(f.signed.Expires)) {
		t.Errorf("revoked and expired: %s %q, want revoked, saying it has expired too", r.Status, r.Detail)
	}
	if strings.Contains(r.Detail, "expired") {
		t.Errorf("revoked before expiry says expired: %q", r.Detail)
	}

	// A list from another issuer must not count as "not revoked".
	foreign := RevocationList{Issuer: "someone-else"}
	fs, _ := f.signer.SignRevocations(&foreign)
	fl, err := v.VerifyRevocations(fs)
	if err != nil {
		t.Fatal(err)
	}
	if r := verifyAt(f.keys, other, now, WithRevocations(fl)); r.Status != StatusMalformed || r.Code != CodeRevocationList {
		t.Errorf("list from another issuer: %s (%s)", r.Status, r.Code)
	}
}

func TestRevocationListMustBeGenuine(t *testing.T) {
	f := newFixture(t)
	var l RevocationList
	_ = l.Revoke(Revocation{ID: f.signed.ID, RevokedAt: t0, Reason: "key compromise"})
	signedList, _ := f.signer.SignRevocations(&l)
	v := NewVerifier(f.keys)

	wantErr := func(name, compact string, status Status) {
		t.Helper()
		_, err := v.VerifyRevocations(compact)
		var ve *VerifyError
		if !errors.As(err, &ve) || ve.Status != status {
			t.Errorf("%s: %v, want %s", name, err, status)
		}
	}
	// An attacker who drops an entry to un-revoke a certificate.
	empty := RevocationList{}
	emptySigned, _ := f.signer.SignRevocations(&empty)
	hdr, _, sig := split3(signedList)
	_, forgedBody, _ := split3(emptySigned)
	wantErr("entry removed", hdr+"."+forgedBody+"."+sig, StatusBadSignature)

	stranger := seedKey(t, 9)
	ss, _ := NewSigner(stranger)
	strangerList, _ := ss.SignRevocations(&empty)
	wantErr("signed by a key not in the set", strangerList, StatusUnknownKey)
	wantErr("a certificate passed as a list", f.cert, StatusMalformed)
	if r := NewVerifier(f.keys).Verify(signedList); r.Status != StatusMalformed || r.Code != CodeType {
		t.Errorf("a list passed as a certificate: %s (%s)", r.Status, r.Code)
	}
}

func TestKeyRotation(t *testing.T) {
	oldKey, newKey := seedKey(t, 1), seedKey(t, 2)
	oldSigner, _ := NewSigner(oldKey, WithClock(fixedClock(t0)))
	newSigner, _ := NewSigner(newKey, WithClock(fixedClock(t0)))
	oldCert, _, err := oldSigner.Sign(samplePayload())
	if err != nil {
		t.Fatal(err)
	}
	newCert, _, err := newSigner.Sign(samplePayload())
	if err != nil {
		t.Fatal(err)
	}
	if oldKey.ID() == newKey.ID() {
		t.Fatal("two keys share an id")
	}

	// During the rotation the published set holds both keys.
	both, err := NewKeySet(oldKey.Public(), newKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := both.MarshalJSON()
	published, err := ParseKeySet(jwks)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]string{"old": oldCert, "new": newCert} {
		if r := verifyAt(published, c, t0); !r.Valid() {
			t.Errorf("%s certificate during rotation: %s: %s", name, r.Status, r.Detail)
		}
	}

	// Retiring the old key ends its certificates.
	if !published.Retire(oldKey.ID()) || published.Retire(oldKey.ID()) {
		t.Fatal("Retire should report true once, then false")
	}
	if r := verifyAt(published, oldCert, t0); r.Status != StatusUnknownKey {
		t.Errorf("old certificate after retirement: %s, want unknown-key", r.Status)
	}
	if r := verifyAt(published, newCert, t0); !r.Valid() {
		t.Errorf("new certificate after retirement: %s", r.Status)
	}
}

func TestSignedWithKeyNotInSet(t *testing.T) {
	f := newFixture(t)
	stranger := seedKey(t, 7)
	s, _ := NewSigner(stranger, WithClock(fixedClock(t0)))
	c, _, err := s.Sign(samplePayload())
	if err != nil {
		t.Fatal(err)
	}
	r := verifyAt(f.keys, c, t0)
	if r.Status != StatusUnknownKey || r.Payload != nil {
		t.Errorf("stranger's certificate: %s, payload %v; want unknown-key and no payload", r.Status, r.Payload)
	}

	// A stranger who claims the trusted key id gets a bad signature.
	claim, err := NewSigningKey(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32)), f.key.ID())
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := NewSigner(claim, WithClock(fixedClock(t0)))
	c2, _, _ := s2.Sign(samplePayload())
	if r := verifyAt(f.keys, c2, t0); r.Status != StatusBadSignature || r.Payload != nil {
		t.Errorf("stranger claiming the trusted kid: %s, want bad-signature", r.Status)
	}

	// An empty key set trusts nothing.
	empty, _ := NewKeySet()
	if r := verifyAt(empty, f.cert, t0); r.Status != StatusUnknownKey {
		t.Errorf("empty key set: %s", r.Status)
	}
}

func split3(s string) (string, string, string) {
	parts := strings.SplitN(s, ".", 3)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	return parts[0], parts[1], parts[2]
}

func TestResultJSON(t *testing.T) {
	f := newFixture(t)
	var l RevocationList
	_ = l.Revoke(Revocation{ID: f.signed.ID, RevokedAt: t0, Reason: "withdrawn"})
	sl, _ := f.signer.SignRevocations(&l)
	vl, err := NewVerifier(f.keys).VerifyRevocations(sl)
	if err != nil {
		t.Fatal(err)
	}
	r := verifyAt(f.keys, f.cert, t0, WithRevocations(vl))
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	cert, _ := got["certificate"].(map[string]any)
	rev, _ := got["revocation"].(map[string]any)
	if got["status"] != "revoked" || cert["jti"] != f.signed.ID || rev["reason"] != "withdrawn" ||
		got["revocationsIssued"] != "2025-03-14T09:26:53Z" || got["checkedAt"] != "2025-03-14T09:26:53Z" {
		t.Errorf("result JSON: %s", b)
	}
	bad := verifyAt(f.keys, "x.y", t0)
	if b, _ := json.Marshal(bad); strings.Contains(string(b), "certificate") {
		t.Errorf("a malformed certificate's JSON carries claims: %s", b)
	}
}
