package cert

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// A signed list says until when it is valid; past that CheckFresh refuses
// it, naming when it was signed.
func TestRevocationListFreshness(t *testing.T) {
	f := newFixture(t)
	var l RevocationList
	_ = l.Revoke(Revocation{ID: "other-cert", RevokedAt: t0, Reason: "key compromise"})
	tok, err := f.signer.SignRevocations(&l)
	if err != nil {
		t.Fatal(err)
	}
	got, err := NewVerifier(f.keys).VerifyRevocations(tok)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Bounded() || !got.Issued.Equal(t0) || !got.NextUpdate.Equal(t0.Add(DefaultRevocationValidity)) {
		t.Fatalf("signed list: issued %s, next update %s", got.Issued, got.NextUpdate)
	}
	at := func(now time.Time, opts ...Option) error {
		return NewVerifier(f.keys, append([]Option{WithClock(fixedClock(now))}, opts...)...).CheckFresh(got)
	}
	if err := at(t0.Add(DefaultRevocationValidity - time.Second)); err != nil {
		t.Errorf("a list one second before its next update: %v", err)
	}
	err = at(t0.Add(DefaultRevocationValidity))
	if !errors.Is(err, ErrStaleRevocations) || !strings.Contains(err.Error(), "signed "+formatTime(t0)) ||
		!strings.Contains(err.Error(), "valid until "+formatTime(t0.Add(DefaultRevocationValidity))) {
		t.Errorf("a list at its next update: %v, want stale with the signing time", err)
	}
	if err := at(t0.Add(DefaultRevocationValidity+time.Minute), WithLeeway(2*time.Minute)); err != nil {
		t.Errorf("within the leeway: %v", err)
	}
	// The result shows the bound.
	r := verifyAt(f.keys, f.cert, t0.Add(time.Hour), WithRevocations(got))
	js, _ := json.Marshal(r)
	if !r.Valid() || !r.RevocationsNextUpdate.Equal(got.NextUpdate) || !strings.Contains(string(js), `"revocationsNextUpdate":"`+formatTime(got.NextUpdate)+`"`) {
		t.Errorf("result: %s %s", r.Status, js)
	}

	// A shorter validity, and the limits on it.
	short, err := NewSigner(f.key, WithClock(fixedClock(t0)), WithIssuer(testIssuer), WithRevocationValidity(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	tok2, _ := short.SignRevocations(&l)
	if l2, err := NewVerifier(f.keys).VerifyRevocations(tok2); err != nil || !l2.NextUpdate.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("2 h validity: %v, %v", l2, err)
	}
	for _, d := range []time.Duration{0, -time.Hour, MaxRevocationValidity + time.Second} {
		if _, err := NewSigner(f.key, WithRevocationValidity(d)); err == nil {
			t.Errorf("revocation validity %s accepted", d)
		}
	}
}

// A list signed before lists carried a next update still verifies, without
// a freshness bound; a next update that is not after the issue time is
// malformed.
func TestRevocationListWithoutBound(t *testing.T) {
	f := newFixture(t)
	sign := func(l RevocationList) string {
		t.Helper()
		l.Issuer, l.KeyID = testIssuer, f.key.id
		body, err := l.canonical()
		if err != nil {
			t.Fatal(err)
		}
		tok, err := f.signer.sign(f.signer.revokJWS, body)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	old := sign(RevocationList{Issued: t0})
	if _, body, _ := split3(old); strings.Contains(string(mustB64(t, body)), "nextUpdate") {
		t.Fatal("the old-format list names a next update")
	}
	v := NewVerifier(f.keys, WithClock(fixedClock(t0.Add(400*24*time.Hour))))
	got, err := v.VerifyRevocations(old)
	if err != nil || got.Bounded() {
		t.Fatalf("old list: %+v, %v", got, err)
	}
	if err := v.CheckFresh(got); err != nil {
		t.Errorf("an unbounded list was refused: %v", err)
	}
	for _, next := range []time.Time{t0, t0.Add(-time.Hour)} {
		_, err := v.VerifyRevocations(sign(RevocationList{Issued: t0, NextUpdate: next}))
		var ve *VerifyError
		if !errors.As(err, &ve) || ve.Status != StatusMalformed || !strings.Contains(ve.Detail, "nextUpdate") {
			t.Errorf("next update %s: %v, want malformed", next, err)
		}
	}
}

func mustB64(t *testing.T, seg string) []byte {
	t.Helper()
	b, ok := decodeSegment(seg)
	if !ok {
		t.Fatalf("segment %q is not base64url", seg)
	}
	return b
}
