// Package clientauth verifies private_key_jwt client assertions (RFC 7523)
// for the sandbox's token endpoints: the mock HelseID of sandbox/vkp and the
// SMART backend services of sandbox/smart.
package clientauth

import (
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Constants of client assertions.
const (
	AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	// MaxAssertionLife bounds how far ahead a client assertion may expire.
	MaxAssertionLife = 120 * time.Second
	// clockSkew is tolerated on nbf and iat only (never on exp).
	clockSkew = 10 * time.Second
)

// SigningAlgs are the client assertion algorithms accepted.
var SigningAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA}

// Check is what Verify needs from the caller.
type Check struct {
	// ClientID is the client_id form parameter ("" when not sent).
	ClientID string
	// Endpoint is the absolute URL of the token endpoint, the audience.
	Endpoint string
	Now      time.Time
	// Key returns the registered public key of a client id.
	Key func(clientID string) (jose.JSONWebKey, bool)
	// UseJTI records a jti of the client until the given time; false if it
	// was used before.
	UseJTI func(clientID, jti string, until time.Time) bool
}

// Verify checks a client assertion; it returns the client id, or fail, why
// it is refused (never quoting the assertion).
func Verify(assertion string, c Check) (client string, fail string) {
	tok, err := jwt.ParseSigned(assertion, SigningAlgs)
	if err != nil {
		return "", "the client_assertion is not a JWS compact JWT signed with RS256, ES256 or EdDSA"
	}
	var unverified jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil || unverified.Issuer == "" {
		return "", "the client_assertion has no iss"
	}
	if c.ClientID != "" && c.ClientID != unverified.Issuer {
		return "", "client_id is not the iss of the client_assertion"
	}
	id := unverified.Issuer
	key, ok := c.Key(id)
	if !ok {
		return "", "no such client is registered in this tenant"
	}
	if key.Algorithm != "" && (len(tok.Headers) != 1 || tok.Headers[0].Algorithm != key.Algorithm) {
		return "", "the client_assertion is not signed with the registered key's algorithm"
	}
	var cl jwt.Claims
	if err := tok.Claims(key.Key, &cl); err != nil {
		return "", "the client_assertion signature does not verify with the registered key"
	}
	if cl.Issuer != id || cl.Subject != id {
		return "", "iss and sub of the client_assertion must both be the client_id"
	}
	if !slices.Contains([]string(cl.Audience), c.Endpoint) {
		return "", "the audience of the client_assertion must be the token endpoint " + c.Endpoint
	}
	if cl.Expiry == nil {
		return "", "the client_assertion has no exp"
	}
	now := c.Now
	exp := cl.Expiry.Time()
	if !now.Before(exp) {
		return "", "the client_assertion has expired"
	}
	if exp.Sub(now) > MaxAssertionLife {
		return "", "the client_assertion expires more than 120 s from now"
	}
	if cl.NotBefore != nil && now.Add(clockSkew).Before(cl.NotBefore.Time()) {
		return "", "the client_assertion is not valid yet (nbf)"
	}
	if cl.IssuedAt != nil && now.Add(clockSkew).Before(cl.IssuedAt.Time()) {
		return "", "the client_assertion was issued in the future (iat)"
	}
	if cl.ID == "" || len(cl.ID) > 200 {
		return "", "the client_assertion needs a jti"
	}
	if !c.UseJTI(id, cl.ID, exp) {
		return "", "the client_assertion was used before (jti replayed)"
	}
	return id, ""
}
