package vkp

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/sandkasse/sandkasse/sandbox/clientauth"
)

// Token endpoint constants.
const (
	AssertionType = clientauth.AssertionType
	// MaxAssertionLife bounds how far ahead a client assertion may expire.
	MaxAssertionLife = clientauth.MaxAssertionLife
	// TokenLife is the lifetime of an issued access token.
	TokenLife = 10 * time.Minute
	// TokenPrefix starts every mock HelseID access token.
	TokenPrefix = "skvkp_"
)

// SigningAlgs are the client assertion algorithms accepted.
var SigningAlgs = clientauth.SigningAlgs

// Grant is what an access token stands for.
type Grant struct {
	Tenant  string
	Client  string
	VKPID   string
	Orgs    []string
	Scopes  []string
	Expires time.Time
}

// Has reports whether the grant holds scope.
func (g Grant) Has(scope string) bool { return slices.Contains(g.Scopes, scope) }

// grants holds issued tokens (by SHA-256: the map never holds a usable
// token) and used client assertion ids, both in memory.
type grants struct {
	mu     sync.Mutex
	tokens map[string]Grant     // sha256(token) → grant
	jtis   map[string]time.Time // tenant \x00 client \x00 jti → when it may be forgotten
}

func hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func (g *grants) prune(now time.Time) {
	for k, v := range g.tokens {
		if !now.Before(v.Expires) {
			delete(g.tokens, k)
		}
	}
	for k, v := range g.jtis {
		if now.After(v) {
			delete(g.jtis, k)
		}
	}
}

// useJTI records a jti; false if it was used before.
func (g *grants) useJTI(key string, until, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.jtis) > 1024 {
		g.prune(now)
	}
	if _, seen := g.jtis[key]; seen {
		return false
	}
	g.jtis[key] = until
	return true
}

func (g *grants) issue(gr Grant, now time.Time) string {
	var b [32]byte
	rand.Read(b[:])
	tok := TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.tokens) > 1024 {
		g.prune(now)
	}
	g.tokens[hash(tok)] = gr
	return tok
}

// lookup returns the grant of a token; expired reports a known token past
// its life.
func (g *grants) lookup(tok string, now time.Time) (gr Grant, ok, expired bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	gr, ok = g.tokens[hash(tok)]
	if ok && !now.Before(gr.Expires) {
		return Grant{}, false, true
	}
	return gr, ok, false
}

// oauthError answers an RFC 6749 error.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sandkasse-helseid"`)
	}
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// Token is the mock HelseID token endpoint of a tenant: client credentials
// with a private_key_jwt client assertion. endpoint is the absolute URL of
// this endpoint, the audience the assertion must name.
func (s *Server) Token(w http.ResponseWriter, r *http.Request, tenant, endpoint string) {
	rec := s.recording(w, r, tenant, "/t/:tenant/vkp/helseid/connect/token")
	defer rec.done()
	w = rec
	form, ok := rec.form(s.maxBody)
	if !ok {
		oauthError(w, http.StatusBadRequest, "invalid_request", "send a form-encoded body (application/x-www-form-urlencoded) of at most the size limit")
		return
	}
	if form.Get("grant_type") != "client_credentials" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be client_credentials")
		return
	}
	if form.Get("client_assertion_type") != AssertionType {
		oauthError(w, http.StatusBadRequest, "invalid_request", "client_assertion_type must be "+AssertionType+" (private_key_jwt)")
		return
	}
	assertion := form.Get("client_assertion")
	if assertion == "" || len(form["client_assertion"]) != 1 {
		oauthError(w, http.StatusBadRequest, "invalid_request", "send one client_assertion")
		return
	}
	now := s.now()
	c, fail := s.verifyAssertion(tenant, assertion, form.Get("client_id"), endpoint, now)
	if fail != "" {
		oauthError(w, http.StatusUnauthorized, "invalid_client", fail)
		return
	}
	granted := c.Scopes
	if req := strings.Fields(form.Get("scope")); len(req) > 0 {
		granted = nil
		for _, sc := range req {
			if !slices.Contains(c.Scopes, sc) {
				oauthError(w, http.StatusBadRequest, "invalid_scope", "the client is not registered for a requested scope")
				return
			}
			if !slices.Contains(granted, sc) {
				granted = append(granted, sc)
			}
		}
	}
	orgs := c.Orgs
	if len(orgs) == 0 {
		t, err := s.tenants.Get(r.Context(), tenant)
		if err != nil {
			oauthError(w, http.StatusInternalServerError, "server_error", "the tenant could not be read")
			return
		}
		orgs = []string{t.Org}
	}
	tok := s.grants.issue(Grant{Tenant: tenant, Client: c.ID, VKPID: c.VKPID, Orgs: slices.Clone(orgs),
		Scopes: slices.Clone(granted), Expires: now.Add(TokenLife)}, now)
	rec.secret(tok)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(map[string]any{
		"access_token": tok,
		"token_type":   "Bearer",
		"expires_in":   int(TokenLife.Seconds()),
		"scope":        strings.Join(granted, " "),
		"vkp-id":       c.VKPID,
	})
}

// verifyAssertion checks a client assertion (sandbox/clientauth) against
// the tenant's register; fail is why it is refused.
func (s *Server) verifyAssertion(tenant, assertion, clientID, endpoint string, now time.Time) (Client, string) {
	id, fail := clientauth.Verify(assertion, clientauth.Check{
		ClientID: clientID, Endpoint: endpoint, Now: now,
		Key: func(id string) (jose.JSONWebKey, bool) {
			c, ok := s.register.Get(tenant, id)
			return c.Key, ok
		},
		UseJTI: func(id, jti string, until time.Time) bool {
			return s.grants.useJTI(tenant+"\x00"+id+"\x00"+jti, until, now)
		},
	})
	if fail != "" {
		return Client{}, fail
	}
	c, _ := s.register.Get(tenant, id)
	return c, ""
}
