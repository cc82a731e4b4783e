package cert

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

var b64 = base64.RawURLEncoding

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// TestTamperEveryByte changes every byte of the certificate (header,
// payload and signature) in every way a single bit flip can, and also to
// the next base64url character, so every position is also tested with a
// change that still decodes. None may verify, and none may report claims.
func TestTamperEveryByte(t *testing.T) {
	f := newFixture(t)
	v := NewVerifier(f.keys, WithClock(fixedClock(t0)))
	if r := v.Verify(f.cert); !r.Valid() {
		t.Fatalf("untampered: %s", r.Status)
	}
	statuses := map[Status]int{}
	check := func(desc string, tampered []byte) {
		r := v.Verify(string(tampered))
		statuses[r.Status]++
		if r.Valid() || r.Payload != nil {
			t.Errorf("%s: status %s with payload %v; a changed certificate must not verify", desc, r.Status, r.Payload != nil)
		}
	}
	for i := 0; i < len(f.cert); i++ {
		for bit := 0; bit < 8; bit++ {
			b := []byte(f.cert)
			b[i] ^= 1 << bit
			check("byte "+itoa(i)+" bit "+itoa(bit), b)
		}
		if f.cert[i] != '.' {
			b := []byte(f.cert)
			b[i] = alphabet[(strings.IndexByte(alphabet, b[i])+1)%64]
			check("byte "+itoa(i)+" next character", b)
		}
	}
	check("last byte dropped", []byte(f.cert[:len(f.cert)-1]))
	check("character appended", []byte(f.cert+"A"))
	check("padding appended", []byte(f.cert+"="))
	check("newline inside the signature", []byte(f.cert[:len(f.cert)-10]+"\n"+f.cert[len(f.cert)-10:]))
	if statuses[StatusBadSignature] == 0 || statuses[StatusMalformed] == 0 {
		t.Errorf("expected both bad-signature and malformed among the verdicts, got %v", statuses)
	}
	t.Logf("verdicts over %d tampered certificates: %v", sum(statuses), statuses)
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func sum(m map[Status]int) (n int) {
	for _, v := range m {
		n += v
	}
	return n
}

// forge builds a compact JWS from raw parts, signing the exact header and
// payload text with sign (nil: no signature).
func forge(header string, payload []byte, sign func(input []byte) []byte) string {
	input := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString(payload)
	var sig []byte
	if sign != nil {
		sig = sign([]byte(input))
	}
	return input + "." + b64.EncodeToString(sig)
}

func edSign(k *SigningKey) func([]byte) []byte {
	return func(in []byte) []byte { return ed25519.Sign(k.sec.priv, in) }
}

func TestAlgorithmConfusion(t *testing.T) {
	f := newFixture(t)
	kid := f.key.ID()
	body, _ := f.signed.Canonical()
	pub := f.key.Public().Key
	jwks, _ := f.keys.MarshalJSON()
	hmacWith := func(secret []byte) func([]byte) []byte {
		return func(in []byte) []byte { m := hmac.New(sha256.New, secret); m.Write(in); return m.Sum(nil) }
	}
	stranger := seedKey(t, 5)
	strangerJWK, _ := json.Marshal(map[string]string{"kty": "OKP", "crv": "Ed25519", "x": b64.EncodeToString(stranger.Public().Key)})
	trustedJWK, _ := json.Marshal(map[string]string{"kty": "OKP", "crv": "Ed25519", "x": b64.EncodeToString(pub), "kid": kid})
	hdr := func(alg string, extra string) string {
		return `{"alg":"` + alg + `","kid":"` + kid + `","typ":"` + CertificateType + `"` + extra + `}`
	}

	// Sanity: the forge helper makes a certificate the verifier accepts when
	// nothing is wrong, so each refusal below is about the one change.
	if r := verifyAt(f.keys, forge(hdr("EdDSA", ""), body, edSign(f.key)), t0); !r.Valid() {
		t.Fatalf("forge helper: %s %s", r.Status, r.Detail)
	}

	for _, tc := range []struct {
		name     string
		cert     string
		wantCode string
	}{
		{"alg none, empty signature", forge(hdr("none", ""), body, nil), CodeEncoding},
		{"alg none, some signature", forge(hdr("none", ""), body, hmacWith(nil)), CodeAlgorithm},
		{"alg None", forge(hdr("None", ""), body, edSign(f.key)), CodeAlgorithm},
		{"alg HS256, public key bytes as secret", forge(hdr("HS256", ""), body, hmacWith(pub)), CodeAlgorithm},
		{"alg HS256, JWKS text as secret", forge(hdr("HS256", ""), body, hmacWith(jwks)), CodeAlgorithm},
		{"alg Ed25519 (fully specified name)", forge(hdr("Ed25519", ""), body, edSign(f.key)), CodeAlgorithm},
		{"alg RS256", forge(hdr("RS256", ""), body, edSign(f.key)), CodeAlgorithm},
		{"embedded jwk of the signer", forge(hdr("EdDSA", `,"jwk":`+string(strangerJWK)), body, edSign(stranger)), CodeHeaderMember},
		{"embedded jwk of the trusted key", forge(hdr("EdDSA", `,"jwk":`+string(trustedJWK)), body, edSign(f.key)), CodeHeaderMember},
		{"x5c chain", forge(hdr("EdDSA", `,"x5c":["MIIB"]`), body, edSign(f.key)), CodeHeaderMember},
		{"jku URL", forge(hdr("EdDSA", `,"jku":"https://evil.example/jwks.json"`), body, edSign(f.key)), CodeHeaderMember},
		{"unknown crit", forge(hdr("EdDSA", `,"crit":["exp"],"exp":1`), body, edSign(f.key)), CodeHeaderMember},
		{"crit b64 false", forge(hdr("EdDSA", `,"crit":["b64"],"b64":false`), body, edSign(f.key)), CodeHeaderMember},
		{"duplicate alg", forge(`{"alg":"none","alg":"EdDSA","kid":"`+kid+`","typ":"`+CertificateType+`"}`, body, edSign(f.key)), CodeHeader},
		{"missing typ", forge(`{"alg":"EdDSA","kid":"`+kid+`"}`, body, edSign(f.key)), CodeHeader},
		{"typ JWT", forge(`{"alg":"EdDSA","kid":"`+kid+`","typ":"JWT"}`, body, edSign(f.key)), CodeType},
		{"kid not a string", forge(`{"alg":"EdDSA","kid":1,"typ":"`+CertificateType+`"}`, body, edSign(f.key)), CodeHeader},
		{"header not an object", forge(`["EdDSA"]`, body, edSign(f.key)), CodeHeader},
		{"trailing header data", forge(hdr("EdDSA", "")+"{}", body, edSign(f.key)), CodeHeader},
		{"JWS JSON serialisation", `{"payload":"` + b64.EncodeToString(body) + `","signatures":[]}`, CodeNotCompact},
		{"empty", "", CodeNotCompact},
		{"too large", strings.Repeat("A", MaxCertificateBytes+1), CodeTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := verifyAt(f.keys, tc.cert, t0)
			if r.Valid() || r.Payload != nil {
				t.Fatalf("accepted: %s", r.Status)
			}
			if r.Code != tc.wantCode {
				t.Errorf("code %s (%s: %s), want %s", r.Code, r.Status, r.Detail, tc.wantCode)
			}
		})
	}
}

// TestSignedButNotCanonical covers a payload that carries a genuine
// signature but is not the canonical form: a second spelling of a
// certificate must not exist even for the key holder.
func TestSignedButNotCanonical(t *testing.T) {
	f := newFixture(t)
	body, _ := f.signed.Canonical()
	h := `{"alg":"EdDSA","kid":"` + f.key.ID() + `","typ":"` + CertificateType + `"}`
	for name, p := range map[string]string{
		"space after colon": strings.Replace(string(body), `"ver":1`, `"ver": 1`, 1),
		"escaped character": strings.Replace(string(body), `<mobil>`, `\u003cmobil>`, 1),
		"duplicate member":  strings.Replace(string(body), `{"ver":1,`, `{"ver":1,"ver":1,`, 1),
		"unknown member":    strings.Replace(string(body), `{"ver":1,`, `{"ver":1,"extra":true,`, 1),
		"upper-case name":   strings.Replace(string(body), `"jti"`, `"JTI"`, 1),
		"fractional time":   strings.Replace(string(body), `09:26:53Z","expires"`, `09:26:53.5Z","expires"`, 1),
		"zone offset":       strings.Replace(string(body), `09:26:53Z","expires"`, `10:26:53+01:00","expires"`, 1),
		"version 2":         strings.Replace(string(body), `"ver":1`, `"ver":2`, 1),
		"other kid":         strings.Replace(string(body), f.key.ID(), "other", 1),
		"bad digest":        strings.Replace(string(body), "sha256:abab", "sha256:ABAB", 1),
		"trailing data":     string(body) + " ",
	} {
		if p == string(body) {
			t.Fatalf("%s: the replacement did not apply", name)
		}
		r := verifyAt(f.keys, forge(h, []byte(p), edSign(f.key)), t0)
		if r.Status != StatusMalformed || r.Payload != nil {
			t.Errorf("%s: %s (%s), want malformed without payload", name, r.Status, r.Detail)
		}
	}
}

// TestStdlibVerifies checks a certificate with nothing but the standard
// library (encoding/json, base64, crypto/ed25519), reading the published
// JWKS as plain JSON: an implementation independent of go-jose and of this
// package's parsing agrees that the signature is good and the claims say
// what was signed.
func TestStdlibVerifies(t *testing.T) {
	f := newFixture(t)
	jwks, err := f.keys.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(jwks, &set); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(f.cert, ".")
	if len(parts) != 3 {
		t.Fatalf("%d parts", len(parts))
	}
	hb, err := b64.DecodeString(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(hb, &h); err != nil {
		t.Fatal(err)
	}
	if len(h) != 3 || h["alg"] != "EdDSA" || h["typ"] != CertificateType {
		t.Fatalf("header %v", h)
	}
	var pub ed25519.PublicKey
	for _, k := range set.Keys {
		if k["kid"] == h["kid"] && k["kty"] == "OKP" && k["crv"] == "Ed25519" && k["alg"] == "EdDSA" && k["use"] == "sig" {
			pub, err = b64.DecodeString(k["x"])
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(pub) != ed25519.PublicKeySize {
		t.Fatalf("no Ed25519 key for kid %v in %s", h["kid"], jwks)
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	if !ed25519.Verify(pub, []byte(parts[0]+"."+parts[1]), sig) {
		t.Fatal("crypto/ed25519 rejects the signature")
	}
	pb, _ := b64.DecodeString(parts[1])
	var claims map[string]any
	if err := json.Unmarshal(pb, &claims); err != nil {
		t.Fatal(err)
	}
	app := claims["app"].(map[string]any)
	rs := claims["ruleSet"].(map[string]any)
	if claims["jti"] != f.signed.ID || claims["kid"] != h["kid"] || app["name"] != f.signed.App.Name ||
		app["artifactDigest"] != f.signed.App.ArtifactDigest || rs["digest"] != f.signed.RuleSet.Digest ||
		claims["expires"] != "2026-03-14T09:26:53Z" {
		t.Errorf("claims read independently differ from what was signed: %v", claims)
	}
	// And the independent check does fail on a changed signature.
	sig[0] ^= 1
	if ed25519.Verify(pub, []byte(parts[0]+"."+parts[1]), sig) {
		t.Fatal("crypto/ed25519 accepts a changed signature")
	}
}
