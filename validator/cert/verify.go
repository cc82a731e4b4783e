package cert

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Status is the verdict on a certificate.
type Status string

const (
	StatusValid        Status = "valid"
	StatusExpired      Status = "expired"
	StatusNotYetValid  Status = "not-yet-valid"
	StatusRevoked      Status = "revoked"
	StatusBadSignature Status = "bad-signature"
	StatusUnknownKey   Status = "unknown-key"
	StatusMalformed    Status = "malformed"
)

// Codes refine a status for programs and tests; they are stable.
const (
	CodeValid          = "valid"
	CodeTooLarge       = "too-large"
	CodeNotCompact     = "not-compact"       // not three dot-separated segments
	CodeEncoding       = "encoding"          // not canonical base64url
	CodeHeader         = "header"            // header is not a JSON object of strings
	CodeHeaderMember   = "header-member"     // jwk, x5c, jku, crit, b64, …: refused
	CodeAlgorithm      = "algorithm"         // anything but EdDSA (none, HS256, RS256, …)
	CodeType           = "type"              // typ is not the expected media type
	CodeUnknownKey     = "unknown-key"       // kid not in the key set
	CodeSignature      = "signature"         // signature does not verify
	CodePayload        = "payload"           // signed, but not a valid payload
	CodeKeyMismatch    = "key-mismatch"      // payload kid differs from the header kid
	CodeRevoked        = "revoked"           // listed in the revocation list
	CodeExpired        = "expired"           // now is at or after expires
	CodeNotYetValid    = "not-yet-valid"     // now is before issued
	CodeRevocationList = "revocation-issuer" // list from another issuer than the certificate
)

// MaxCertificateBytes bounds what the verifier reads; a real certificate is
// under 2 KiB.
const MaxCertificateBytes = 16 << 10

// MaxRevocationListBytes bounds a compact revocation list.
const MaxRevocationListBytes = 8 << 20

// Result is a typed verdict a CLI or a report can print.
type Result struct {
	Status Status
	Code   string
	Detail string // one English sentence; never contains key material

	// KeyID is the kid the header names; unverified unless Payload is set.
	KeyID string
	// Payload is set only when the signature verified with a key in the
	// set, i.e. for valid, expired, not-yet-valid and revoked.
	Payload *Payload
	// Revocation is set when Status is revoked.
	Revocation *Revocation
	// RevocationsChecked says whether a revocation list was consulted, and
	// RevocationsIssued when that list was signed.
	RevocationsChecked bool
	RevocationsIssued  time.Time
	// RevocationsNextUpdate is the list's next update (zero: the list has
	// no freshness bound).
	RevocationsNextUpdate time.Time
	// CheckedAt is the verifier's "now".
	CheckedAt time.Time
}

// Valid reports whether the certificate is genuine, current and not revoked.
func (r Result) Valid() bool { return r.Status == StatusValid }

// Err is nil for a valid certificate and a *VerifyError otherwise.
func (r Result) Err() error {
	if r.Valid() {
		return nil
	}
	return &VerifyError{Status: r.Status, Code: r.Code, Detail: r.Detail}
}

// VerifyError is a failed verification as an error.
type VerifyError struct {
	Status Status
	Code   string
	Detail string
}

func (e *VerifyError) Error() string { return "cert: " + string(e.Status) + ": " + e.Detail }

// Verifier checks certificates offline against a key set.
type Verifier struct {
	keys *KeySet
	opts options
}

// NewVerifier makes a verifier. The key set is used as given: retire a key
// from it and certificates signed with that key stop verifying.
func NewVerifier(keys *KeySet, opts ...Option) *Verifier {
	return &Verifier{keys: keys, opts: newOptions(opts)}
}

// Verify checks a compact certificate. Checks run from the outside in
// (shape, header, key, signature, payload, revocation, validity window), and
// the first that fails decides the status, so a forged certificate is never
// reported as merely expired.
func (v *Verifier) Verify(compact string) Result {
	now := v.opts.now()
	res := Result{CheckedAt: now.UTC()}
	body, kid, verr := v.verifyJWS(compact, CertificateType, MaxCertificateBytes)
	res.KeyID = kid
	if verr != nil {
		res.Status, res.Code, res.Detail = verr.Status, verr.Code, verr.Detail
		return res
	}
	p, err := parsePayload(body)
	if err == nil {
		// Shape only for the org number: the issuer may have allowed a test
		// number, and the signature already vouches for its decision.
		err = p.validate(validateRules{skipOrgCheck: true})
	}
	if err != nil {
		res.Status, res.Code = StatusMalformed, CodePayload
		res.Detail = "the signature is genuine but the payload is not a valid certificate: " + err.Error()
		return res
	}
	if p.KeyID != kid {
		res.Status, res.Code = StatusMalformed, CodeKeyMismatch
		res.Detail = "the payload names a different key id than the header"
		return res
	}
	res.Payload = p
	if l := v.opts.revocations; l != nil {
		res.RevocationsChecked, res.RevocationsIssued, res.RevocationsNextUpdate = true, l.Issued, l.NextUpdate
		if l.Issuer != p.Issuer {
			// A list from another issuer says nothing about this certificate;
			// treating it as "not revoked" would be a silent pass.
			res.Status, res.Code = StatusMalformed, CodeRevocationList
			res.Detail = "the revocation list is from another issuer than the certificate"
			return res
		}
		if r, ok := l.Lookup(p.ID); ok {
			res.Status, res.Code, res.Revocation = StatusRevoked, CodeRevoked, &r
			res.Detail = fmt.Sprintf("revoked at %s: %s", formatTime(r.RevokedAt), r.Reason)
			if !now.Before(p.Expires.Add(v.opts.leeway)) {
				// Revocation decides the status; the reader still learns
				// that the certificate had run out as well.
				res.Detail += "; it has also expired, at " + formatTime(p.Expires)
			}
			return res
		}
	}
	switch {
	case now.Before(p.Issued.Add(-v.opts.leeway)):
		res.Status, res.Code = StatusNotYetValid, CodeNotYetValid
		res.Detail = "not valid before " + formatTime(p.Issued)
	case !now.Before(p.Expires.Add(v.opts.leeway)):
		res.Status, res.Code = StatusExpired, CodeExpired
		res.Detail = "expired at " + formatTime(p.Expires)
	default:
		res.Status, res.Code = StatusValid, CodeValid
		res.Detail = "valid until " + formatTime(p.Expires)
	}
	return res
}

// verifyJWS checks everything about a compact JWS except its payload, and
// returns the verified payload bytes and the header's kid.
func (v *Verifier) verifyJWS(compact, typ string, limit int) ([]byte, string, *VerifyError) {
	fail := func(s Status, code, format string, args ...any) *VerifyError {
		return &VerifyError{Status: s, Code: code, Detail: fmt.Sprintf(format, args...)}
	}
	if len(compact) > limit {
		return nil, "", fail(StatusMalformed, CodeTooLarge, "larger than %d bytes", limit)
	}
	seg := strings.Split(compact, ".")
	if len(seg) != 3 {
		return nil, "", fail(StatusMalformed, CodeNotCompact, "not a compact JWS (want three dot-separated parts, found %d)", len(seg))
	}
	var dec [3][]byte
	for i, name := range [3]string{"header", "payload", "signature"} {
		b, ok := decodeSegment(seg[i])
		if !ok {
			return nil, "", fail(StatusMalformed, CodeEncoding, "the %s is not canonical unpadded base64url", name)
		}
		dec[i] = b
	}
	h, herr := parseHeader(dec[0])
	if herr != nil {
		return nil, "", herr
	}
	if h.Alg != string(jose.EdDSA) {
		return nil, h.Kid, fail(StatusMalformed, CodeAlgorithm, "algorithm %q is not accepted; certificates are signed with EdDSA (Ed25519)", clip(h.Alg))
	}
	if h.Typ != typ {
		return nil, h.Kid, fail(StatusMalformed, CodeType, "typ %q is not %q", clip(h.Typ), typ)
	}
	key, ok := v.keys.Lookup(h.Kid)
	if !ok {
		return nil, h.Kid, fail(StatusUnknownKey, CodeUnknownKey, "key id %q is not in the key set (forged, from another issuer, or signed with a retired key)", clip(h.Kid))
	}
	// The checks above leave go-jose nothing to choose: one algorithm, one
	// key, no header that could name another.
	obj, err := jose.ParseSignedCompact(compact, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		return nil, h.Kid, fail(StatusMalformed, CodeEncoding, "not a JWS: %v", err)
	}
	body, err := obj.Verify(key.Key)
	if err != nil {
		return nil, h.Kid, fail(StatusBadSignature, CodeSignature, "the signature does not verify with key %q: the content was changed or was not signed by that key", h.Kid)
	}
	if !bytes.Equal(body, dec[1]) {
		return nil, h.Kid, fail(StatusMalformed, CodeEncoding, "the verified payload differs from the decoded payload")
	}
	return body, h.Kid, nil
}

// decodeSegment accepts only the one base64url spelling of some bytes:
// Go's decoder skips CR and LF and, unless strict, ignores stray trailing
// bits, either of which would let two strings carry one signature.
func decodeSegment(s string) ([]byte, bool) {
	if s == "" {
		return nil, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return nil, false
		}
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return b, err == nil
}

type jwsHeader struct{ Alg, Kid, Typ string }

// parseHeader reads the protected header token by token, so duplicate
// members (which encoding/json would silently resolve) and any member
// beyond alg, kid and typ are refused.
func parseHeader(b []byte) (jwsHeader, *VerifyError) {
	bad := func(code, format string, args ...any) (jwsHeader, *VerifyError) {
		return jwsHeader{}, &VerifyError{Status: StatusMalformed, Code: code, Detail: fmt.Sprintf(format, args...)}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return bad(CodeHeader, "the header is not a JSON object")
	}
	var h jwsHeader
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return bad(CodeHeader, "the header is not valid JSON")
		}
		name, _ := t.(string)
		if seen[name] {
			return bad(CodeHeader, "the header repeats %q", clip(name))
		}
		seen[name] = true
		var dst *string
		switch name {
		case "alg":
			dst = &h.Alg
		case "kid":
			dst = &h.Kid
		case "typ":
			dst = &h.Typ
		default:
			return bad(CodeHeaderMember, "header member %q is not accepted (only alg, kid and typ; keys come from the key set, never from the certificate)", clip(name))
		}
		t, err = dec.Token()
		s, ok := t.(string)
		if err != nil || !ok {
			return bad(CodeHeader, "header member %q must be a string", name)
		}
		*dst = s
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return bad(CodeHeader, "the header is not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return bad(CodeHeader, "trailing data after the header")
	}
	for _, m := range []struct{ name, v string }{{"alg", h.Alg}, {"kid", h.Kid}, {"typ", h.Typ}} {
		if m.v == "" {
			return bad(CodeHeader, "the header has no %s", m.name)
		}
	}
	return h, nil
}

// clip keeps attacker-chosen header text short in messages.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// MarshalJSON writes the verdict for machine-readable reports: status, code,
// detail, the certificate's canonical payload when its signature verified,
// and the revocation and check times.
func (r Result) MarshalJSON() ([]byte, error) {
	type revocation struct {
		ID        string `json:"jti"`
		RevokedAt string `json:"revokedAt"`
		Reason    string `json:"reason"`
	}
	out := struct {
		Status             Status          `json:"status"`
		Code               string          `json:"code"`
		Detail             string          `json:"detail"`
		KeyID              string          `json:"kid,omitempty"`
		Certificate        json.RawMessage `json:"certificate,omitempty"`
		Revocation         *revocation     `json:"revocation,omitempty"`
		RevocationsChecked bool            `json:"revocationsChecked"`
		RevocationsIssued  string          `json:"revocationsIssued,omitempty"`
		// RevocationsNextUpdate: absent for a list without a freshness bound.
		RevocationsNextUpdate string `json:"revocationsNextUpdate,omitempty"`
		CheckedAt             string `json:"checkedAt"`
	}{
		Status: r.Status, Code: r.Code, Detail: r.Detail, KeyID: r.KeyID,
		RevocationsChecked: r.RevocationsChecked, CheckedAt: formatTime(r.CheckedAt),
	}
	if r.Payload != nil {
		c, err := r.Payload.Canonical()
		if err != nil {
			return nil, err
		}
		out.Certificate = c
	}
	if r.Revocation != nil {
		out.Revocation = &revocation{r.Revocation.ID, formatTime(r.Revocation.RevokedAt), r.Revocation.Reason}
	}
	if r.RevocationsChecked {
		out.RevocationsIssued = formatTime(r.RevocationsIssued)
		if !r.RevocationsNextUpdate.IsZero() {
			out.RevocationsNextUpdate = formatTime(r.RevocationsNextUpdate)
		}
	}
	return canonicalJSON(out)
}
