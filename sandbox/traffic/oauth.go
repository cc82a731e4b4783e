package traffic

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Redacted replaces a secret in a record.
const Redacted = "[redacted]"

// JWTPlaceholder replaces a JWT found in a parameter that is not itself a
// credential: it keeps the shape, so that a rule against JWTs in URLs still
// sees one, and none of the token.
const JWTPlaceholder = "eyJredacted.redacted."

// Params says which values of a form body or a URL query are credentials
// and how each is kept out of the record. Every recorder uses one of the
// two below through RedactParams; a parameter not named keeps its value.
type Params struct {
	// Secret names parameters whose values are replaced by Redacted.
	Secret []string
	// KeepShape names parameters whose values are masked with their form
	// kept: every unreserved character (RFC 3986) becomes x, anything else
	// stays, so a rule can still check length and alphabet. Only for a
	// value that is worthless once recorded: the PKCE code_verifier, whose
	// code is spent by the time the exchange is stored.
	KeepShape []string
	// JWT replaces any other value shaped like a JWT with JWTPlaceholder.
	JWT bool
}

var jwtValue = regexp.MustCompile(`^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$`)

// OAuthParams are the OAuth 2.0 parameters (RFC 6749, 7009, 7523, 7636,
// 8693, SMART App Launch) whose values are credentials, in the form bodies
// and queries of token and authorisation endpoints. There only: elsewhere
// code is a FHIR search parameter, not a secret.
var OAuthParams = []string{
	"client_assertion", "client_secret", "assertion", "password",
	"code", "code_verifier", "access_token", "refresh_token", "id_token",
	"token", "subject_token", "actor_token",
}

// QueryCredentials are the parameters that are credentials anywhere: in the
// query or form body of a FHIR or VKP request. An app that puts one in a URL
// is recorded with the name and without the value: the suites check the
// name.
var QueryCredentials = []string{
	"access_token", "id_token", "refresh_token", "token", "code_verifier", "client_secret",
	"client_assertion", "assertion", "subject_token", "actor_token", "password",
}

// The two redactions every recorder chooses between.
var (
	// OAuth is for the authorisation and token endpoints (SMART, HelseID):
	// every OAuth credential redacted, the code_verifier masked with its
	// shape kept because rule SMART-TOKEN-01 checks its form.
	OAuth = Params{Secret: without(OAuthParams, "code_verifier"), KeepShape: []string{"code_verifier"}, JWT: true}
	// Elsewhere is for every other endpoint's query and form body (the
	// mock EPR, the mock VKP's searches): credentials redacted, search
	// parameters (code among them) kept.
	Elsewhere = Params{Secret: QueryCredentials, JWT: true}
)

func without(names []string, drop string) []string {
	return slices.DeleteFunc(slices.Clone(names), func(s string) bool { return s == drop })
}

// RedactParams returns a form-encoded body or a raw URL query with the
// credentials p names out of it, keeping every other pair, their order and
// their encoding as sent. A pair whose name or credential value cannot be
// decoded is redacted whole; so is a pair that hides a credential behind a
// ';' (which some servers still take as a separator).
func RedactParams(raw string, p Params) string {
	if raw == "" {
		return raw
	}
	pairs := strings.Split(raw, "&")
	for i, pair := range pairs {
		pairs[i] = redactPair(pair, p)
	}
	return strings.Join(pairs, "&")
}

func redactPair(pair string, p Params) string {
	k, v, _ := strings.Cut(pair, "=")
	name, err := url.QueryUnescape(k)
	if err != nil {
		return Redacted
	}
	if strings.Contains(pair, ";") {
		for _, sub := range strings.Split(pair, ";")[1:] {
			sk, _, _ := strings.Cut(sub, "=")
			if sn, err := url.QueryUnescape(sk); err != nil || slices.Contains(p.Secret, sn) || slices.Contains(p.KeepShape, sn) {
				return k + "=" + url.QueryEscape(Redacted)
			}
		}
	}
	switch {
	case slices.Contains(p.Secret, name):
		return k + "=" + url.QueryEscape(Redacted)
	case slices.Contains(p.KeepShape, name):
		val, err := url.QueryUnescape(v)
		if err != nil {
			return k + "=" + url.QueryEscape(Redacted)
		}
		return k + "=" + url.QueryEscape(MaskShape(val))
	case p.JWT:
		if val, err := url.QueryUnescape(v); err == nil && jwtValue.MatchString(val) {
			return k + "=" + url.QueryEscape(JWTPlaceholder)
		}
	}
	return pair
}

// RedactForm is RedactParams over a body.
func RedactForm(b []byte, p Params) []byte {
	if len(b) == 0 {
		return b
	}
	return []byte(RedactParams(string(b), p))
}

// RedactURL redacts the query and the fragment of a URL (an implicit-grant
// redirect carries its token in the fragment).
func RedactURL(u string, p Params) string {
	rest, frag, hasFrag := strings.Cut(u, "#")
	base, query, hasQuery := strings.Cut(rest, "?")
	out := base
	if hasQuery {
		out += "?" + RedactParams(query, p)
	}
	if hasFrag {
		out += "#" + RedactParams(frag, p)
	}
	return out
}

// MaskShape replaces every unreserved character with x, keeping length and
// any character outside the PKCE alphabet.
func MaskShape(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~", r) {
			return 'x'
		}
		return r
	}, s)
}
