// Package smart is SMART on FHIR (App Launch 2.x, Backend Services) for the
// mock EPR of a sandbox tenant: the .well-known/smart-configuration, client
// registration, the authorisation code flow with PKCE (S256 only) and a
// patient picker, EHR launch contexts, and client credentials with a
// private_key_jwt client assertion (sandbox/clientauth).
//
// Like the mock VKP's register, clients, codes and tokens are kept in memory,
// per process: a restart forgets them. Codes and tokens are stored by their
// SHA-256 only and are never logged.
//
// It is framework free: sandbox/api maps its routes to the Server's methods.
package smart

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/sandkasse/sandkasse/sandbox/auth"
	"github.com/sandkasse/sandkasse/sandbox/clientauth"
)

// Lifetimes and prefixes.
const (
	CodeLife    = 60 * time.Second
	TokenLife   = time.Hour
	LaunchLife  = 10 * time.Minute
	TokenPrefix = "sksmart_"
)

// contextScopes may be requested by any client; they grant no resource
// access by themselves.
var contextScopes = []string{"launch", "launch/patient", "openid", "fhirUser"}

// Client is one registered SMART app or backend service of a tenant.
type Client struct {
	ID           string   `json:"client_id"`
	RedirectURIs []string `json:"redirect_uris,omitempty"`
	// Scopes are the resource scopes the client may be granted (SMART v1 or
	// v2: patient/Observation.read, user/*.rs, system/*.read).
	Scopes []string `json:"scopes"`
	// Key, when set, is the public key of a confidential (asymmetric) or
	// backend client; its client assertions are verified with it.
	Key *jose.JSONWebKey `json:"jwk,omitempty"`
}

// Patient is an entry of the patient picker.
type Patient struct{ ID, Name string }

// Options configure a Server.
type Options struct {
	// Patients lists a tenant's patients (the picker, and checking a picked
	// patient).
	Patients func(ctx context.Context, tenant string) ([]Patient, error)
	Now      func() time.Time
	MaxBody  int64
}

type code struct {
	tenant, client, redirect, challenge, patient string
	scopes                                       []string
	expires                                      time.Time
}

type grant struct {
	tenant, client, patient string
	scopes                  []string
	expires                 time.Time
}

type launch struct {
	tenant, patient string
	expires         time.Time
}

// Server is the SMART authorisation server of every tenant.
type Server struct {
	patients func(ctx context.Context, tenant string) ([]Patient, error)
	now      func() time.Time
	maxBody  int64

	mu       sync.Mutex
	clients  map[string]map[string]Client // tenant → id → client
	codes    map[string]code              // sha256(code) →
	tokens   map[string]grant             // sha256(token) →
	launches map[string]launch            // sha256(launch) →
	jtis     map[string]time.Time
}

// New returns a Server.
func New(o Options) *Server {
	s := &Server{patients: o.Patients, now: o.Now, maxBody: o.MaxBody, clients: map[string]map[string]Client{},
		codes: map[string]code{}, tokens: map[string]grant{}, launches: map[string]launch{}, jtis: map[string]time.Time{}}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxBody <= 0 {
		s.maxBody = 1 << 20
	}
	if s.patients == nil {
		s.patients = func(context.Context, string) ([]Patient, error) { return nil, nil }
	}
	return s
}

func hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func random(prefix string) string {
	var b [32]byte
	rand.Read(b[:])
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// prune forgets what has expired; the caller holds mu.
func (s *Server) prune(now time.Time) {
	for k, v := range s.codes {
		if !now.Before(v.expires) {
			delete(s.codes, k)
		}
	}
	for k, v := range s.tokens {
		if !now.Before(v.expires) {
			delete(s.tokens, k)
		}
	}
	for k, v := range s.launches {
		if !now.Before(v.expires) {
			delete(s.launches, k)
		}
	}
	for k, v := range s.jtis {
		if now.After(v) {
			delete(s.jtis, k)
		}
	}
}

// ErrInvalidClient is a refused registration.
var ErrInvalidClient = errors.New("smart: invalid client registration")

func validScope(sc string) bool {
	ctx, rest, ok := strings.Cut(sc, "/")
	if !ok || (ctx != "patient" && ctx != "user" && ctx != "system") {
		return false
	}
	typ, perm, ok := strings.Cut(rest, ".")
	if !ok || typ == "" {
		return false
	}
	switch perm {
	case "read", "write", "*":
		return true
	}
	return perm != "" && strings.Trim(perm, "cruds") == ""
}

// Put registers (or replaces) a client of a tenant.
func (s *Server) Put(tenant string, c Client) error {
	if c.ID == "" || len(c.ID) > 200 {
		return fmt.Errorf("%w: client_id of 1 to 200 characters is required", ErrInvalidClient)
	}
	for _, u := range c.RedirectURIs {
		pu, err := url.Parse(u)
		if err != nil || !pu.IsAbs() || pu.Host == "" || pu.Fragment != "" {
			return fmt.Errorf("%w: redirect_uris are absolute URLs without a fragment", ErrInvalidClient)
		}
	}
	if len(c.Scopes) == 0 {
		return fmt.Errorf("%w: at least one scope is required", ErrInvalidClient)
	}
	for _, sc := range c.Scopes {
		if !validScope(sc) {
			return fmt.Errorf("%w: scopes are {patient|user|system}/{Type|*}.{read|write|*|cruds}", ErrInvalidClient)
		}
	}
	if c.Key != nil {
		if c.Key.Key == nil || !c.Key.Valid() {
			return fmt.Errorf("%w: the jwk is not a valid key", ErrInvalidClient)
		}
		if !c.Key.IsPublic() {
			return fmt.Errorf("%w: register the public key only, never the private key", ErrInvalidClient)
		}
	}
	if len(c.RedirectURIs) == 0 && c.Key == nil {
		return fmt.Errorf("%w: a client needs redirect_uris (an app) or a jwk (a backend service)", ErrInvalidClient)
	}
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	c.Scopes = slices.Clone(c.Scopes)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.clients[tenant] == nil {
		s.clients[tenant] = map[string]Client{}
	}
	s.clients[tenant][c.ID] = c
	return nil
}

// Get returns a tenant's client.
func (s *Server) Get(tenant, id string) (Client, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[tenant][id]
	return c, ok
}

// Reset forgets a tenant's clients and tokens.
func (s *Server) Reset(tenant string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.clients, tenant)
	for k, v := range s.tokens {
		if v.tenant == tenant {
			delete(s.tokens, k)
		}
	}
}

// Authenticate checks a SMART access token (auth.Authenticator).
func (s *Server) Authenticate(_ context.Context, tok string) (auth.Principal, error) {
	if tok == "" {
		return auth.Principal{}, auth.ErrNoToken
	}
	if !strings.HasPrefix(tok, TokenPrefix) || len(tok) > 200 {
		return auth.Principal{}, auth.ErrBadToken
	}
	now := s.now()
	s.mu.Lock()
	g, ok := s.tokens[hash(tok)]
	s.mu.Unlock()
	if !ok {
		return auth.Principal{}, auth.ErrBadToken
	}
	if !now.Before(g.expires) {
		return auth.Principal{}, auth.ErrExpired
	}
	return auth.Principal{Tenant: g.tenant, Subject: g.client, Kind: "smart", Scopes: slices.Clone(g.scopes), Patient: g.patient}, nil
}

var _ auth.Authenticator = (*Server)(nil)

// Chain authenticates SMART tokens with SMART and every other token with
// Next (the tenants' developer tokens).
type Chain struct {
	SMART *Server
	Next  auth.Authenticator
}

// Authenticate implements auth.Authenticator.
func (c Chain) Authenticate(ctx context.Context, tok string) (auth.Principal, error) {
	if strings.HasPrefix(tok, TokenPrefix) || c.Next == nil {
		return c.SMART.Authenticate(ctx, tok)
	}
	return c.Next.Authenticate(ctx, tok)
}

// Configuration answers GET {fhirBase}/.well-known/smart-configuration;
// smartBase is the absolute URL of the tenant's /smart endpoints.
func (s *Server) Configuration(w http.ResponseWriter, fhirBase, smartBase string) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                fhirBase,
		"authorization_endpoint":                smartBase + "/authorize",
		"token_endpoint":                        smartBase + "/token",
		"token_endpoint_auth_methods_supported": []string{"private_key_jwt"},
		"token_endpoint_auth_signing_alg_values_supported": []string{"RS256", "ES256", "EdDSA"},
		"grant_types_supported":                            []string{"authorization_code", "client_credentials"},
		"response_types_supported":                         []string{"code"},
		"code_challenge_methods_supported":                 []string{"S256"},
		"scopes_supported": []string{"launch", "launch/patient", "openid", "fhirUser",
			"patient/*.read", "patient/*.rs", "user/*.read", "user/*.cruds", "system/*.read", "system/*.rs", "system/*.cruds"},
		"capabilities": []string{"launch-ehr", "launch-standalone", "client-public", "client-confidential-asymmetric",
			"context-ehr-patient", "context-standalone-patient", "permission-v1", "permission-v2", "permission-patient",
			"permission-user"},
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// oauthError answers an RFC 6749 token endpoint error.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// badAuthorize answers an authorisation request that cannot be sent back
// to the client (unknown client or redirect_uri).
func badAuthorize(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusBadRequest)
	io.WriteString(w, "SMART authorisation refused: "+msg+"\n")
}

func redirectError(w http.ResponseWriter, r *http.Request, redirect, state, code, desc string) {
	q := url.Values{"error": {code}, "error_description": {desc}}
	if state != "" {
		q.Set("state", state)
	}
	http.Redirect(w, r, withQuery(redirect, q), http.StatusFound)
}

func withQuery(u string, q url.Values) string {
	if strings.Contains(u, "?") {
		return u + "&" + q.Encode()
	}
	return u + "?" + q.Encode()
}

var picker = template.Must(template.New("picker").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sandkasse: choose a patient</title></head>
<body><h1>Choose a patient</h1><p>{{.Client}} asks for: {{.Scope}}</p><ul>
{{range .Patients}}<li><a href="{{.Link}}">{{.Name}}</a> ({{.ID}})</li>
{{else}}<li>This tenant has no patients.</li>{{end}}</ul><p>All patients are synthetic.</p></body></html>
`))

// Authorize answers GET {smartBase}/authorize: the authorisation code
// request with PKCE (S256). fhirBase is the aud the request must name.
func (s *Server) Authorize(w http.ResponseWriter, r *http.Request, tenant, fhirBase string) {
	q := r.URL.Query()
	for _, k := range []string{"client_id", "redirect_uri", "state", "scope", "aud", "code_challenge", "code_challenge_method", "response_type", "launch", "patient"} {
		if len(q[k]) > 1 {
			badAuthorize(w, k+" is sent more than once")
			return
		}
	}
	c, ok := s.Get(tenant, q.Get("client_id"))
	if !ok {
		badAuthorize(w, "no such client_id is registered in this tenant")
		return
	}
	redirect := q.Get("redirect_uri")
	if !slices.Contains(c.RedirectURIs, redirect) {
		badAuthorize(w, "redirect_uri is not one registered for the client (exact match)")
		return
	}
	state := q.Get("state")
	fail := func(code, desc string) { redirectError(w, r, redirect, state, code, desc) }
	switch {
	case q.Get("response_type") != "code":
		fail("unsupported_response_type", "response_type must be code")
		return
	case state == "":
		fail("invalid_request", "state is required")
		return
	case strings.TrimRight(q.Get("aud"), "/") != fhirBase:
		fail("invalid_request", "aud must be the tenant's FHIR base URL "+fhirBase)
		return
	case q.Get("code_challenge_method") != "S256":
		fail("invalid_request", "code_challenge_method must be S256 (plain is not supported)")
		return
	case len(q.Get("code_challenge")) != 43:
		fail("invalid_request", "code_challenge must be the base64url SHA-256 of the code_verifier (43 characters)")
		return
	}
	scopes := strings.Fields(q.Get("scope"))
	needPatient := false
	var resource int
	for _, sc := range scopes {
		if slices.Contains(contextScopes, sc) {
			needPatient = needPatient || sc == "launch/patient"
			continue
		}
		if strings.HasPrefix(sc, "system/") || !slices.Contains(c.Scopes, sc) {
			fail("invalid_scope", "a requested scope is not registered for the client (system/ scopes are for client_credentials)")
			return
		}
		needPatient = needPatient || strings.HasPrefix(sc, "patient/")
		resource++
	}
	if resource == 0 {
		fail("invalid_scope", "request at least one resource scope")
		return
	}
	now := s.now()
	patient := q.Get("patient")
	if l := q.Get("launch"); l != "" {
		s.mu.Lock()
		lc, ok := s.launches[hash(l)]
		s.mu.Unlock()
		if !ok || lc.tenant != tenant || !now.Before(lc.expires) {
			fail("invalid_request", "launch is not a current launch context of this tenant")
			return
		}
		patient = lc.patient
	}
	if needPatient || patient != "" {
		pts, err := s.patients(r.Context(), tenant)
		if err != nil {
			fail("server_error", "the tenant's patients could not be read")
			return
		}
		if patient == "" {
			type entry struct{ ID, Name, Link string }
			var es []entry
			for _, p := range pts {
				qq := url.Values{}
				for k, v := range q {
					qq[k] = v
				}
				qq.Set("patient", p.ID)
				es = append(es, entry{p.ID, p.Name, r.URL.Path + "?" + qq.Encode()})
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			picker.Execute(w, map[string]any{"Client": c.ID, "Scope": strings.Join(scopes, " "), "Patients": es})
			return
		}
		if !slices.ContainsFunc(pts, func(p Patient) bool { return p.ID == patient }) {
			fail("invalid_request", "no such patient in this tenant")
			return
		}
	}
	cd := random("")
	s.mu.Lock()
	if len(s.codes) > 1024 {
		s.prune(now)
	}
	s.codes[hash(cd)] = code{tenant: tenant, client: c.ID, redirect: redirect, challenge: q.Get("code_challenge"),
		patient: patient, scopes: scopes, expires: now.Add(CodeLife)}
	s.mu.Unlock()
	http.Redirect(w, r, withQuery(redirect, url.Values{"code": {cd}, "state": {state}}), http.StatusFound)
}

// Launch creates an EHR launch context for a patient of the tenant (what
// the EHR does before it opens an app with ?launch=...). The caller has
// authenticated with a developer token.
func (s *Server) Launch(w http.ResponseWriter, r *http.Request, tenant string) {
	patient := r.URL.Query().Get("patient")
	pts, err := s.patients(r.Context(), tenant)
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", "the tenant's patients could not be read")
		return
	}
	if !slices.ContainsFunc(pts, func(p Patient) bool { return p.ID == patient }) {
		oauthError(w, http.StatusBadRequest, "invalid_request", "?patient= must name a patient of this tenant")
		return
	}
	l := random("")
	now := s.now()
	s.mu.Lock()
	s.launches[hash(l)] = launch{tenant: tenant, patient: patient, expires: now.Add(LaunchLife)}
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"launch": l, "patient": patient, "expires_in": int(LaunchLife.Seconds())})
}

// RegisterClient is POST {smartBase}/clients (the caller has authenticated
// with the tenant's developer token): a Client as JSON.
func (s *Server) RegisterClient(w http.ResponseWriter, r *http.Request, tenant string) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	if err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the body could not be read")
		return
	}
	var c Client
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_client_metadata", `send {"client_id", "redirect_uris", "scopes", "jwk"}`)
		return
	}
	if err := s.Put(tenant, c); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_client_metadata", err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, c)
}

// Token answers POST {smartBase}/token; endpoint is its absolute URL, the
// audience of client assertions.
func (s *Server) Token(w http.ResponseWriter, r *http.Request, tenant, endpoint string) {
	r.Body = http.MaxBytesReader(w, r.Body, s.maxBody)
	if err := r.ParseForm(); err != nil || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		oauthError(w, http.StatusBadRequest, "invalid_request", "send a form-encoded body (application/x-www-form-urlencoded)")
		return
	}
	form := r.PostForm
	for k, v := range form {
		if len(v) > 1 {
			oauthError(w, http.StatusBadRequest, "invalid_request", k+" is sent more than once")
			return
		}
	}
	switch form.Get("grant_type") {
	case "authorization_code":
		s.codeGrant(w, tenant, endpoint, form)
	case "client_credentials":
		s.clientCredentials(w, tenant, endpoint, form)
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be authorization_code or client_credentials")
	}
}

// assertion verifies a private_key_jwt client assertion; client is the
// client it authenticates.
func (s *Server) assertion(tenant, endpoint string, form url.Values, now time.Time) (Client, string) {
	if form.Get("client_assertion_type") != clientauth.AssertionType || form.Get("client_assertion") == "" {
		return Client{}, "authenticate with private_key_jwt: client_assertion_type " + clientauth.AssertionType + " and a client_assertion"
	}
	id, fail := clientauth.Verify(form.Get("client_assertion"), clientauth.Check{
		ClientID: form.Get("client_id"), Endpoint: endpoint, Now: now,
		Key: func(id string) (jose.JSONWebKey, bool) {
			c, ok := s.Get(tenant, id)
			if !ok || c.Key == nil {
				return jose.JSONWebKey{}, false
			}
			return *c.Key, true
		},
		UseJTI: func(id, jti string, until time.Time) bool {
			k := tenant + "\x00" + id + "\x00" + jti
			s.mu.Lock()
			defer s.mu.Unlock()
			if _, seen := s.jtis[k]; seen {
				return false
			}
			s.jtis[k] = until
			return true
		},
	})
	if fail != "" {
		return Client{}, fail
	}
	c, _ := s.Get(tenant, id)
	return c, ""
}

func (s *Server) codeGrant(w http.ResponseWriter, tenant, endpoint string, form url.Values) {
	now := s.now()
	h := hash(form.Get("code"))
	s.mu.Lock()
	cd, ok := s.codes[h]
	delete(s.codes, h) // single use, whatever follows
	s.mu.Unlock()
	if !ok || cd.tenant != tenant || !now.Before(cd.expires) {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "the code is unknown, used or expired")
		return
	}
	if form.Get("client_id") != cd.client {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "the code was issued to another client")
		return
	}
	if form.Get("redirect_uri") != cd.redirect {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri is not the one of the authorisation request")
		return
	}
	sum := sha256.Sum256([]byte(form.Get("code_verifier")))
	if v := form.Get("code_verifier"); len(v) < 43 || len(v) > 128 ||
		subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(cd.challenge)) != 1 {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "the code_verifier does not match the code_challenge")
		return
	}
	c, ok := s.Get(tenant, cd.client)
	if !ok {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "the client is no longer registered")
		return
	}
	if c.Key != nil {
		if _, fail := s.assertion(tenant, endpoint, form, now); fail != "" {
			oauthError(w, http.StatusUnauthorized, "invalid_client", fail)
			return
		}
	}
	s.issue(w, grant{tenant: tenant, client: c.ID, patient: cd.patient, scopes: cd.scopes, expires: now.Add(TokenLife)}, now)
}

func (s *Server) clientCredentials(w http.ResponseWriter, tenant, endpoint string, form url.Values) {
	now := s.now()
	c, fail := s.assertion(tenant, endpoint, form, now)
	if fail != "" {
		oauthError(w, http.StatusUnauthorized, "invalid_client", fail)
		return
	}
	var granted []string
	for _, sc := range c.Scopes {
		if strings.HasPrefix(sc, "system/") {
			granted = append(granted, sc)
		}
	}
	if req := strings.Fields(form.Get("scope")); len(req) > 0 {
		granted = nil
		for _, sc := range req {
			if !strings.HasPrefix(sc, "system/") || !slices.Contains(c.Scopes, sc) {
				oauthError(w, http.StatusBadRequest, "invalid_scope", "a requested scope is not a system/ scope registered for the client")
				return
			}
			if !slices.Contains(granted, sc) {
				granted = append(granted, sc)
			}
		}
	}
	if len(granted) == 0 {
		oauthError(w, http.StatusBadRequest, "invalid_scope", "the client has no system/ scope")
		return
	}
	s.issue(w, grant{tenant: tenant, client: c.ID, scopes: granted, expires: now.Add(TokenLife)}, now)
}

func (s *Server) issue(w http.ResponseWriter, g grant, now time.Time) {
	tok := random(TokenPrefix)
	s.mu.Lock()
	if len(s.tokens) > 1024 {
		s.prune(now)
	}
	s.tokens[hash(tok)] = g
	s.mu.Unlock()
	resp := map[string]any{
		"access_token": tok,
		"token_type":   "Bearer",
		"expires_in":   int(TokenLife.Seconds()),
		"scope":        strings.Join(g.scopes, " "),
	}
	if g.patient != "" {
		resp["patient"] = g.patient
	}
	writeJSON(w, http.StatusOK, resp)
}
