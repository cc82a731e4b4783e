package vkp

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/sandkasse/sandkasse/sandbox/clientauth"
	"github.com/sandkasse/sandkasse/sandbox/store"
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

// grantData is what the store keeps of a Grant (tenant and expiry are the
// store's own columns).
type grantData struct {
	Client string   `json:"client"`
	VKPID  string   `json:"vkp_id"`
	Orgs   []string `json:"orgs"`
	Scopes []string `json:"scopes"`
}

// grants keeps issued tokens (by SHA-256: the store never holds a usable
// token) and used client assertion ids in the store.
type grants struct {
	st     store.OAuth
	pruned atomic.Int64 // unix seconds of this instance's last PruneGrants
}

func hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// pruneEvery is how often an instance deletes expired grants.
const pruneEvery = time.Minute

func (g *grants) put(ctx context.Context, gr store.Grant, now time.Time) error {
	if last := g.pruned.Load(); now.Unix()-last >= int64(pruneEvery.Seconds()) && g.pruned.CompareAndSwap(last, now.Unix()) {
		if err := g.st.PruneGrants(ctx, now); err != nil {
			return err
		}
	}
	return g.st.PutGrant(ctx, gr)
}

// useJTI records a jti; false if it was used before, on any instance.
func (g *grants) useJTI(ctx context.Context, tenant, key string, until, now time.Time) (bool, error) {
	err := g.put(ctx, store.Grant{Key: hash(key), Tenant: tenant, Kind: kindJTI, Data: []byte("{}"), Expires: until}, now)
	if errors.Is(err, store.ErrExists) {
		return false, nil
	}
	return err == nil, err
}

func (g *grants) issue(ctx context.Context, gr Grant, now time.Time) (string, error) {
	var b [32]byte
	rand.Read(b[:])
	tok := TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	data, err := json.Marshal(grantData{Client: gr.Client, VKPID: gr.VKPID, Orgs: gr.Orgs, Scopes: gr.Scopes})
	if err != nil {
		return "", err
	}
	return tok, g.put(ctx, store.Grant{Key: hash(tok), Tenant: gr.Tenant, Kind: kindToken, Data: data, Expires: gr.Expires}, now)
}

// lookup returns the grant of a token; expired reports a known token past
// its life.
func (g *grants) lookup(ctx context.Context, tok string, now time.Time) (gr Grant, ok, expired bool, err error) {
	sg, err := g.st.Grant(ctx, hash(tok))
	if errors.Is(err, store.ErrNotFound) || err == nil && sg.Kind != kindToken {
		return Grant{}, false, false, nil
	}
	if err != nil {
		return Grant{}, false, false, err
	}
	if !now.Before(sg.Expires) {
		return Grant{}, false, true, nil
	}
	var d grantData
	if err := json.Unmarshal(sg.Data, &d); err != nil {
		return Grant{}, false, false, fmt.Errorf("vkp: stored token: %w", err)
	}
	return Grant{Tenant: sg.Tenant, Client: d.Client, VKPID: d.VKPID, Orgs: d.Orgs, Scopes: d.Scopes, Expires: sg.Expires}, true, false, nil
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
	// Looked up before anything is recorded (see Server.tenant); answered
	// the OAuth way, as every refusal of this endpoint is.
	t, err := s.tenants.Get(r.Context(), tenant)
	if errors.Is(err, store.ErrNotFound) {
		oauthError(w, http.StatusNotFound, "invalid_request", "no such tenant")
		return
	}
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", "the tenant could not be read")
		return
	}
	rec := s.recording(w, r, tenant, "/t/:tenant/vkp/helseid/connect/token")
	rec.oauth = true
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
	c, fail, err := s.verifyAssertion(r.Context(), tenant, assertion, form.Get("client_id"), endpoint, now)
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", "the authorisation register could not be read")
		return
	}
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
		orgs = []string{t.Org}
	}
	tok, err := s.grants.issue(r.Context(), Grant{Tenant: tenant, Client: c.ID, VKPID: c.VKPID, Orgs: slices.Clone(orgs),
		Scopes: slices.Clone(granted), Expires: now.Add(TokenLife)}, now)
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", "the token could not be stored")
		return
	}
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
// the tenant's register; fail is why it is refused, err a store failure.
func (s *Server) verifyAssertion(ctx context.Context, tenant, assertion, clientID, endpoint string, now time.Time) (Client, string, error) {
	var client Client
	var serr error
	id, fail := clientauth.Verify(assertion, clientauth.Check{
		ClientID: clientID, Endpoint: endpoint, Now: now,
		Key: func(id string) (jose.JSONWebKey, bool) {
			c, ok, err := s.register.Get(ctx, tenant, id)
			if err != nil {
				serr = err
			}
			client = c
			return c.Key, ok
		},
		UseJTI: func(id, jti string, until time.Time) bool {
			ok, err := s.grants.useJTI(ctx, tenant, tenant+"\x00"+id+"\x00"+jti, until, now)
			if err != nil {
				serr = err
			}
			return ok
		},
	})
	if serr != nil {
		return Client{}, "", serr
	}
	if fail != "" {
		return Client{}, fail, nil
	}
	if client.ID != id {
		return Client{}, "no such client is registered in this tenant", nil
	}
	return client, "", nil
}
