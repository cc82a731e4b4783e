// Package cert issues and verifies Sandkasse conformance certificates: a
// compact JWS, signed with Ed25519 (alg EdDSA), over a canonical JSON payload
// that binds an app version (by artifact digest) to the suite, the rule-set
// version and the report it passed.
//
// The shape follows OPA's bundle signing (v1/bundle/sign.go, verify.go): the
// signer covers digests, not the artefacts themselves, and verification is a
// separate path that needs nothing but the certificate and a public key set
// (JWKS), so procurement can check a certificate offline. A signed revocation
// list, fetched by the caller, is consulted when supplied.
//
// The package is a library: no server, no database, no network. Serving the
// JWKS at /.well-known/jwks.json and fetching lists by URL belong to callers.
//
// # Trust decisions
//
// The verifier accepts exactly one shape of certificate: three strictly
// canonical base64url segments, a protected header with only "alg" (EdDSA),
// "kid" (a key in the set) and "typ" ([CertificateType]), and a payload whose
// bytes are the canonical encoding of a [Payload]. Everything else (alg none,
// HMAC, embedded "jwk"/"x5c"/"jku" keys, "crit", "b64", duplicate members,
// non-canonical encodings) is refused before any key is chosen, so no header
// field an attacker controls can pick the key or the algorithm.
//
// Private keys never appear in output: [SigningKey] prints and logs as its key
// id only.
package cert
