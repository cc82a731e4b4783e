package traffic

import (
	"net/url"
	"slices"
	"strings"
)

// Redacted replaces a secret in a record.
const Redacted = "[redacted]"

// OAuthParams are the OAuth 2.0 parameters (RFC 6749, 7636, 7523, SMART
// App Launch) whose values are credentials: in form bodies and queries of
// token and authorisation endpoints. They are redacted on those endpoints
// only: elsewhere a parameter such as code is a FHIR search parameter, not a
// secret.
var OAuthParams = []string{
	"client_assertion", "client_secret", "assertion", "password",
	"code", "code_verifier", "access_token", "refresh_token", "id_token",
}

func oauthParam(k string) bool { return slices.Contains(OAuthParams, k) }

// RedactForm returns a form-encoded body (or a URL query) with the values
// of OAuthParams replaced, keeping every other pair, their order and their
// encoding as sent. A pair whose name cannot be decoded is redacted whole.
func RedactForm(b []byte) []byte {
	if len(b) == 0 {
		return b
	}
	pairs := strings.Split(string(b), "&")
	for i, p := range pairs {
		k, _, _ := strings.Cut(p, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			pairs[i] = Redacted
			continue
		}
		if oauthParam(name) {
			pairs[i] = k + "=" + url.QueryEscape(Redacted)
		}
	}
	return []byte(strings.Join(pairs, "&"))
}
