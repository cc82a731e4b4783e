// Package auth is the seam between the HTTP edge and whatever issues
// credentials: the edge hands a bearer token to an Authenticator and gets
// back a Principal (which tenant, which scopes). The developer tokens of
// sandbox/tenant and the SMART access tokens of sandbox/smart implement it
// (smart.Chain tries both); the mock HelseID of sandbox/vkp checks its own
// tokens, which reach only the VKP routes.
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
	Kind    string   // "developer" or "smart"
	Scopes  []string // SMART scopes, e.g. system/*.*, user/Patient.read, patient/*.rs
	// Patient is the launch patient of a SMART token ("" otherwise). What
	// only patient/ scopes grant is confined to this patient's compartment
	// (see Reach).
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

// Reach is how far a principal's scopes carry one action on one type.
type Reach uint8

const (
	// None: no scope grants the action.
	None Reach = iota
	// Compartment: only patient/ scopes grant it, so it is confined to the
	// Patient compartment of Principal.Patient.
	Compartment
	// All: a user/ or system/ scope grants it, with no compartment limit
	// (the sandbox has no user-level access rules beyond scopes).
	All
)

// Allows reports whether the principal's scopes grant action a on resource
// type typ at all; Reach says whether only within the launch patient's
// compartment.
func (p Principal) Allows(typ string, a Action) bool { return p.Reach(typ, a) != None }

// Reach reports how far the principal's scopes grant action a on resource
// type typ. Scopes are SMART v1 (…/Type.read, …/Type.write, …/Type.*) or v2
// (…/Type.cruds subsets), with context patient/, user/ or system/; Type may
// be *. The widest grant wins: patient/Observation.rs together with
// user/Observation.rs reaches All.
func (p Principal) Reach(typ string, a Action) Reach {
	r := None
	for _, s := range p.Scopes {
		ctx, rest, ok := strings.Cut(s, "/")
		if !ok || (ctx != "patient" && ctx != "user" && ctx != "system") {
			continue
		}
		t, perm, ok := strings.Cut(rest, ".")
		if !ok || (t != "*" && t != typ) || !grants(perm, a) {
			continue
		}
		if ctx != "patient" {
			return All
		}
		r = Compartment
	}
	return r
}

// grants reports whether a scope's permission part grants action a.
func grants(perm string, a Action) bool {
	switch perm {
	case "*":
		return true
	case "read":
		return a == Read || a == Search
	case "write":
		return a == Create || a == Update || a == Delete
	}
	return strings.IndexByte(perm, byte(a)) >= 0 && strings.Trim(perm, "cruds") == ""
}
