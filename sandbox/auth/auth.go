// Package auth is the seam between the HTTP edge and whatever issues
// credentials: the edge hands a bearer token to an Authenticator and gets
// back a Principal (which tenant, which scopes). The developer tokens of
// sandbox/tenant implement it now; SMART on FHIR and mock HelseID tokens
// implement the same interface later.
package auth

import (
	"context"
	"errors"
	"net/http"
	"strings"
)

// Errors of Authenticate; each is a 401 at the edge.
var (
	ErrNoToken  = errors.New("auth: no bearer token")
	ErrBadToken = errors.New("auth: the token is not one this sandbox issued")
	ErrExpired  = errors.New("auth: the token has expired")
)

// Principal is who a request acts as.
type Principal struct {
	Tenant  string
	Subject string   // client or user id, for traffic and audit
	Kind    string   // "developer", later "smart", "helseid"
	Scopes  []string // SMART scopes, e.g. system/*.*, user/Patient.read, patient/*.rs
	// Patient is the launch patient of a SMART token ("" otherwise). The
	// EPR does not yet limit patient/ scopes to this patient's compartment.
	Patient string
}

// Authenticator checks a bearer token.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (Principal, error)
}

// Bearer returns the token of an Authorization: Bearer header.
func Bearer(h http.Header) (string, bool) {
	v := h.Get("Authorization")
	scheme, tok, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// Action is a SMART v2 permission letter: c(reate), r(ead), u(pdate),
// d(elete), s(earch).
type Action byte

const (
	Create Action = 'c'
	Read   Action = 'r'
	Update Action = 'u'
	Delete Action = 'd'
	Search Action = 's'
)

// Allows reports whether the principal's scopes grant action on resource
// type typ. Scopes are SMART v1 (…/Type.read, …/Type.write, …/Type.*) or v2
// (…/Type.cruds subsets), with context patient/, user/ or system/; Type may
// be *.
func (p Principal) Allows(typ string, a Action) bool {
	for _, s := range p.Scopes {
		ctx, rest, ok := strings.Cut(s, "/")
		if !ok || (ctx != "patient" && ctx != "user" && ctx != "system") {
			continue
		}
		t, perm, ok := strings.Cut(rest, ".")
		if !ok || (t != "*" && t != typ) {
			continue
		}
		switch perm {
		case "*":
			return true
		case "read":
			if a == Read || a == Search {
				return true
			}
		case "write":
			if a == Create || a == Update || a == Delete {
				return true
			}
		default:
			if strings.IndexByte(perm, byte(a)) >= 0 && strings.Trim(perm, "cruds") == "" {
				return true
			}
		}
	}
	return false
}
