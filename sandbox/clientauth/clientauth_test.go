package clientauth_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/sandkasse/sandkasse/sandbox/clientauth"
)

const endpoint = "https://sandbox.example/t/a/smart/token"

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func sign(t *testing.T, alg jose.SignatureAlgorithm, key any, cl jwt.Claims) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jwt.Signed(signer).Claims(cl).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func claims(mod func(*jwt.Claims)) jwt.Claims {
	cl := jwt.Claims{Issuer: "app", Subject: "app", Audience: jwt.Audience{endpoint}, ID: "j1",
		Expiry: jwt.NewNumericDate(now.Add(time.Minute)), IssuedAt: jwt.NewNumericDate(now)}
	if mod != nil {
		mod(&cl)
	}
	return cl
}

func TestVerify(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	used := map[string]bool{}
	check := func(clientID string) clientauth.Check {
		return clientauth.Check{ClientID: clientID, Endpoint: endpoint, Now: now,
			Key: func(id string) (jose.JSONWebKey, bool) {
				if id != "app" {
					return jose.JSONWebKey{}, false
				}
				return jose.JSONWebKey{Key: key.Public(), Algorithm: string(jose.ES256)}, true
			},
			UseJTI: func(id, jti string, until time.Time) bool {
				if until.After(now.Add(clientauth.MaxAssertionLife)) {
					t.Errorf("jti kept until %v, past the longest assertion life", until)
				}
				if used[id+" "+jti] {
					return false
				}
				used[id+" "+jti] = true
				return true
			}}
	}
	es := func(mod func(*jwt.Claims)) string { return sign(t, jose.ES256, key, claims(mod)) }
	cases := []struct {
		name, assertion, clientID, fail string
	}{
		{"not a JWT", "abc.def", "", "not a JWS"},
		{"unknown client", es(func(c *jwt.Claims) { c.Issuer, c.Subject = "nobody", "nobody" }), "", "no such client"},
		{"client_id is not iss", es(nil), "someone", "client_id is not the iss"},
		{"another key", sign(t, jose.ES256, other, claims(nil)), "", "does not verify"},
		{"another algorithm than registered", sign(t, jose.EdDSA, edKey, claims(nil)), "", "algorithm"},
		{"sub is not iss", es(func(c *jwt.Claims) { c.Subject = "x" }), "", "iss and sub"},
		{"wrong audience", es(func(c *jwt.Claims) { c.Audience = jwt.Audience{"https://elsewhere/token"} }), "", "audience"},
		{"no exp", es(func(c *jwt.Claims) { c.Expiry = nil }), "", "no exp"},
		{"expired", es(func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(now) }), "", "expired"},
		{"exp too far", es(func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(now.Add(clientauth.MaxAssertionLife + time.Second)) }), "", "120 s"},
		{"nbf ahead", es(func(c *jwt.Claims) { c.NotBefore = jwt.NewNumericDate(now.Add(time.Minute)) }), "", "nbf"},
		{"iat ahead", es(func(c *jwt.Claims) { c.IssuedAt = jwt.NewNumericDate(now.Add(time.Minute)) }), "", "iat"},
		{"no jti", es(func(c *jwt.Claims) { c.ID = "" }), "", "jti"},
		{"jti too long", es(func(c *jwt.Claims) { c.ID = strings.Repeat("j", 201) }), "", "jti"},
		{"valid", es(nil), "app", ""},
		{"replayed", es(nil), "", "used before"},
		{"valid, within the clock skew", es(func(c *jwt.Claims) {
			c.ID, c.NotBefore = "j2", jwt.NewNumericDate(now.Add(5*time.Second))
		}), "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, fail := clientauth.Verify(tc.assertion, check(tc.clientID))
			if tc.fail == "" {
				if fail != "" || id != "app" {
					t.Fatalf("refused: %q (%q)", fail, id)
				}
				return
			}
			if !strings.Contains(fail, tc.fail) || id != "" {
				t.Fatalf("got %q (%q), want a refusal naming %q", fail, id, tc.fail)
			}
			if strings.Contains(fail, tc.assertion) {
				t.Fatal("the refusal quotes the assertion")
			}
		})
	}
}
