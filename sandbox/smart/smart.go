// Package smart is SMART on FHIR (App Launch 2.x, Backend Services) for the
// mock EPR of a sandbox tenant: the .well-known/smart-configuration, client
// registration, the authorisation code flow with PKCE (S256 only) and a
// patient picker, EHR launch contexts, and client credentials with a
// private_key_jwt client assertion (sandbox/clientauth).
//
// Registered clients, authorisation codes, access tokens, launch contexts
// and used client assertion ids live in the store (store.OAuth), scoped by
// tenant: an instance holds none of them, so a code issued by one instance
// is redeemed at another, a restart forgets nothing, and a tenant reset
// forgets them all. Codes, tokens and launch ids are stored by their
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
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/sandkasse/sandkasse/sandbox/auth"
	"github.com/sandkasse/sandkasse/sandbox/clientauth"
	"github.com/sandkasse/sandkasse/sandbox/store"
)

// Lifetimes and prefixes.
const (
	CodeLife    = 60 * time.Second
	TokenLife   = time.Hour
	LaunchLife  = 10 * time.Minute
	TokenPrefix = "sksmart_"
	// A refresh token is issued with the access token of an authorisation
	// code when offline_access (OfflineLife) or online_access (OnlineLife)
	// was granted; each use replaces it with a new one.
	OfflineLife   = 30 * 24 * time.Hour
	OnlineLife    = 12 * time.Hour
	RefreshPrefix = "sksmartrt_"
)

// contextScopes may be requested by any client; they grant no resource
// access by themselves.
var contextScopes = []string{"launch", "launch/patient", "openid", "fhirUser", "offline_access", "online_access"}

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

// PatientQuery asks for one page of a tenant's patients: the picker's, or
// the one patient a request names (to check that it is the tenant's).
type PatientQuery struct {
	ID     string // only this patient ("" any)
	Name   string // names that start with this, as FHIR's name search ("" any)
	Offset int
	Count  int
}

// PatientPage is one page of patients in a stable order.
type PatientPage struct {
	Patients []Patient
	Total    int // patients matching the query
	Next     int // offset of the next page; 0 when this is the last
}

// PickerPage is how many patients the picker shows at once; a name search
// and next/previous links reach the rest, so no tenant's patient is out of
// reach however many it has.
const PickerPage = 50

// Picker query parameters: they page and filter the picker and are not
// part of the authorisation request.
const (
	pickerName   = "picker_name"
	pickerOffset = "picker_offset"
)

// maxPickerName bounds the picker's search box.
const maxPickerName = 64

// Options configure a Server.
type Options struct {
	// Store keeps the clients and grants (required).
	Store store.OAuth
	// Patients pages through a tenant's patients (the picker, and checking
	// a picked or launched patient).
	Patients func(ctx context.Context, tenant string, q PatientQuery) (PatientPage, error)
	Now      func() time.Time
	MaxBody  int64
}

// Kinds of what the store keeps for SMART.
const (
	kindClient  = "smart"
	kindCode    = "smart-code"
	kindToken   = "smart-token"
	kindLaunch  = "smart-launch"
	kindJTI     = "smart-jti"
	kindRefresh = "smart-refresh"
)

// code is what an authorisation code stands for (store.Grant.Data).
type code struct {
	Client    string   `json:"client"`
	Redirect  string   `json:"redirect_uri"`
	Challenge string   `json:"code_challenge"`
	Patient   string   `json:"patient,omitempty"`
	Scopes    []string `json:"scopes"`
}

// grant is what an access token stands for.
type grant struct {
	Client  string   `json:"client"`
	Patient string   `json:"patient,omitempty"`
	Scopes  []string `json:"scopes"`
}

// launch is an EHR launch context.
type launch struct {
	Patient string `json:"patient"`
}

// Server is the SMART authorisation server of every tenant. It keeps no
// state of its own beyond when it last pruned expired grants.
type Server struct {
	st       store.OAuth
	patients func(ctx context.Context, tenant string, q PatientQuery) (PatientPage, error)
	now      func() time.Time
	maxBody  int64
	pruned   atomic.Int64 // unix seconds of the last PruneGrants
}

// New returns a Server.
func New(o Options) *Server {
	if o.Store == nil {
		panic("smart: Options.Store is required")
	}
	s := &Server{st: o.Store, patients: o.Patients, now: o.Now, maxBody: o.MaxBody}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxBody <= 0 {
		s.maxBody = 1 << 20
	}
	if s.patients == nil {
		s.patients = func(context.Context, string, PatientQuery) (PatientPage, error) { return PatientPage{}, nil }
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

// pruneEvery is how often an instance deletes expired grants from the
// store (each instance does; the deletes are idempotent).
const pruneEvery = time.Minute

// put stores a grant under the hash of its secret, pruning expired grants
// now and then so that the table does not grow with every token issued.
func (s *Server) put(ctx context.Context, tenant, kind, secret string, data any, expires, now time.Time) error {
	if last := s.pruned.Load(); now.Unix()-last >= int64(pruneEvery.Seconds()) && s.pruned.CompareAndSwap(last, now.Unix()) {
		// Pruning is housekeeping: a failure must not fail the request
		// that happened to trigger it; the next instance or minute retries.
		if err := s.st.PruneGrants(ctx, now); err != nil {
			slog.Warn("smart: pruning expired grants failed", "tenant", tenant, "cause", cause(err))
		}
	}
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	return s.st.PutGrant(ctx, store.Grant{Key: hash(secret), Tenant: tenant, Kind: kind, Data: b, Expires: expires})
}

// cause names the class of a store error for a log line; the error's text
// is not logged, as it may quote SQL or stored values.
func cause(err error) string {
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "store"
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
func (s *Server) Put(ctx context.Context, tenant string, c Client) error {
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
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("%w: the jwk cannot be stored", ErrInvalidClient)
	}
	err = s.st.PutClient(ctx, store.Client{Tenant: tenant, Kind: kindClient, ID: c.ID, Body: b})
	if errors.Is(err, store.ErrLimit) {
		return fmt.Errorf("%w: the tenant has %d SMART clients already; reset the tenant or replace one", ErrInvalidClient, store.MaxClients)
	}
	return err
}

// Get returns a tenant's client (ok false when it is not registered).
func (s *Server) Get(ctx context.Context, tenant, id string) (c Client, ok bool, err error) {
	sc, err := s.st.Client(ctx, tenant, kindClient, id)
	if errors.Is(err, store.ErrNotFound) {
		return Client{}, false, nil
	}
	if err != nil {
		return Client{}, false, err
	}
	if err := json.Unmarshal(sc.Body, &c); err != nil {
		return Client{}, false, fmt.Errorf("smart: stored client of tenant %s: %w", tenant, err)
	}
	return c, true, nil
}

// Authenticate checks a SMART access token (auth.Authenticator).
func (s *Server) Authenticate(ctx context.Context, tok string) (auth.Principal, error) {
	if tok == "" {
		return auth.Principal{}, auth.ErrNoToken
	}
	if !strings.HasPrefix(tok, TokenPrefix) || len(tok) > 200 {
		return auth.Principal{}, auth.ErrBadToken
	}
	now := s.now()
	sg, err := s.st.Grant(ctx, hash(tok))
	if errors.Is(err, store.ErrNotFound) || err == nil && sg.Kind != kindToken {
		return auth.Principal{}, auth.ErrBadToken
	}
	if err != nil {
		return auth.Principal{}, err
	}
	if !now.Before(sg.Expires) {
		return auth.Principal{}, auth.ErrExpired
	}
	var g grant
	if err := json.Unmarshal(sg.Data, &g); err != nil {
		return auth.Principal{}, fmt.Errorf("smart: stored token: %w", err)
	}
	return auth.Principal{Tenant: sg.Tenant, Subject: g.Client, Kind: "smart", Scopes: g.Scopes, Patient: g.Patient}, nil
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
		"grant_types_supported":                            []string{"authorization_code", "client_credentials", "refresh_token"},
		"response_types_supported":                         []string{"code"},
		"code_challenge_methods_supported":                 []string{"S256"},
		"scopes_supported": []string{"launch", "launch/patient", "openid", "fhirUser", "offline_access", "online_access",
			"patient/*.read", "patient/*.rs", "user/*.read", "user/*.cruds", "system/*.read", "system/*.rs", "system/*.cruds"},
		"capabilities": []string{"launch-ehr", "launch-standalone", "client-public", "client-confidential-asymmetric",
			"context-ehr-patient", "context-standalone-patient", "permission-v1", "permission-v2", "permission-patient",
			"permission-user", "permission-offline", "permission-online"},
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
<body><h1>Choose a patient</h1><p>{{.Client}} asks for: {{.Scope}}</p>
<form method="get" action="{{.Action}}">{{range .Hidden}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">{{end}}
<label>Name starts with <input name="picker_name" value="{{.Name}}" maxlength="64"></label> <button>Search</button></form>
<p>{{if .Total}}Patients {{.First}} to {{.Last}} of {{.Total}}{{if .Name}} whose name starts with {{.Name}}{{end}}.{{end}}</p><ul>
{{range .Patients}}<li><a href="{{.Link}}">{{.Name}}</a> ({{.ID}})</li>
{{else}}<li>No patient{{if .Name}} whose name starts with {{.Name}}{{else}} in this tenant{{end}}.</li>{{end}}</ul>
<p>{{if .Previous}}<a rel="prev" href="{{.Previous}}">Previous</a> {{end}}{{if .Next}}<a rel="next" href="{{.Next}}">Next</a>{{end}}</p>
<p>All patients are synthetic.</p></body></html>
`))

// tenantHas reports whether id is a patient of the tenant.
func (s *Server) tenantHas(ctx context.Context, tenant, id string) (bool, error) {
	pg, err := s.patients(ctx, tenant, PatientQuery{ID: id, Count: 1})
	if err != nil {
		return false, err
	}
	return len(pg.Patients) == 1 && pg.Patients[0].ID == id, nil
}

// showPicker answers an authorisation request that needs a patient and
// names none with one page of the tenant's patients, each a link that
// repeats the request with patient= set.
func (s *Server) showPicker(w http.ResponseWriter, r *http.Request, tenant, client string, scopes []string) error {
	q := r.URL.Query()
	name := q.Get(pickerName)
	if len(name) > maxPickerName {
		name = name[:maxPickerName]
	}
	offset, _ := strconv.Atoi(q.Get(pickerOffset))
	offset = max(offset, 0)
	pg, err := s.patients(r.Context(), tenant, PatientQuery{Name: name, Offset: offset, Count: PickerPage})
	if err != nil {
		return err
	}
	auth := url.Values{} // the authorisation request without the picker's state
	for k, v := range q {
		if k != pickerName && k != pickerOffset && k != "patient" {
			auth[k] = v
		}
	}
	link := func(set map[string]string) string {
		qq := url.Values{}
		for k, v := range auth {
			qq[k] = v
		}
		for k, v := range set {
			qq.Set(k, v)
		}
		return r.URL.Path + "?" + qq.Encode()
	}
	type entry struct{ ID, Name, Link string }
	type field struct{ Name, Value string }
	var es []entry
	for _, p := range pg.Patients {
		es = append(es, entry{p.ID, p.Name, link(map[string]string{"patient": p.ID})})
	}
	var hidden []field
	for k, vs := range auth {
		for _, v := range vs {
			hidden = append(hidden, field{k, v})
		}
	}
	slices.SortFunc(hidden, func(a, b field) int { return strings.Compare(a.Name, b.Name) })
	data := map[string]any{"Client": client, "Scope": strings.Join(scopes, " "), "Patients": es, "Action": r.URL.Path,
		"Hidden": hidden, "Name": name, "Total": pg.Total, "First": offset + 1, "Last": offset + len(pg.Patients)}
	if pg.Next > offset {
		data["Next"] = link(map[string]string{pickerName: name, pickerOffset: strconv.Itoa(pg.Next)})
	}
	if offset > 0 {
		data["Previous"] = link(map[string]string{pickerName: name, pickerOffset: strconv.Itoa(max(offset-PickerPage, 0))})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	return picker.Execute(w, data)
}

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
	c, ok, err := s.Get(r.Context(), tenant, q.Get("client_id"))
	if err != nil {
		serverError(w)
		return
	}
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
		sg, err := s.st.Grant(r.Context(), hash(l))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			fail("server_error", "the launch context could not be read")
			return
		}
		var lc launch
		if err != nil || sg.Tenant != tenant || sg.Kind != kindLaunch || !now.Before(sg.Expires) || json.Unmarshal(sg.Data, &lc) != nil {
			fail("invalid_request", "launch is not a current launch context of this tenant")
			return
		}
		patient = lc.Patient
	}
	if needPatient && patient == "" {
		if err := s.showPicker(w, r, tenant, c.ID, scopes); err != nil {
			fail("server_error", "the tenant's patients could not be read")
		}
		return
	}
	if patient != "" {
		ok, err := s.tenantHas(r.Context(), tenant, patient)
		if err != nil {
			fail("server_error", "the tenant's patients could not be read")
			return
		}
		if !ok {
			fail("invalid_request", "no such patient in this tenant")
			return
		}
	}
	cd := random("")
	if err := s.put(r.Context(), tenant, kindCode, cd, code{Client: c.ID, Redirect: redirect, Challenge: q.Get("code_challenge"),
		Patient: patient, Scopes: scopes}, now.Add(CodeLife), now); err != nil {
		fail("server_error", "the code could not be stored")
		return
	}
	http.Redirect(w, r, withQuery(redirect, url.Values{"code": {cd}, "state": {state}}), http.StatusFound)
}

// Launch creates an EHR launch context for a patient of the tenant (what
// the EHR does before it opens an app with ?launch=...). The caller has
// authenticated with a developer token.
func (s *Server) Launch(w http.ResponseWriter, r *http.Request, tenant string) {
	patient := r.URL.Query().Get("patient")
	ok, err := patient != "", error(nil)
	if ok {
		ok, err = s.tenantHas(r.Context(), tenant, patient)
	}
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", "the tenant's patients could not be read")
		return
	}
	if !ok {
		oauthError(w, http.StatusBadRequest, "invalid_request", "?patient= must name a patient of this tenant")
		return
	}
	l := random("")
	now := s.now()
	if err := s.put(r.Context(), tenant, kindLaunch, l, launch{Patient: patient}, now.Add(LaunchLife), now); err != nil {
		serverError(w)
		return
	}
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
	if err := s.Put(r.Context(), tenant, c); err != nil {
		if !errors.Is(err, ErrInvalidClient) {
			serverError(w)
			return
		}
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
		s.codeGrant(r.Context(), w, tenant, endpoint, form)
	case "client_credentials":
		s.clientCredentials(r.Context(), w, tenant, endpoint, form)
	case "refresh_token":
		s.refresh(r.Context(), w, tenant, endpoint, form)
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be authorization_code, client_credentials or refresh_token")
	}
}

// errStore is a store failure met while checking a client assertion.
var errStore = errors.New("smart: store")

// assertion verifies a private_key_jwt client assertion; client is the
// client it authenticates, fail why it is refused, err a store failure.
func (s *Server) assertion(ctx context.Context, tenant, endpoint string, form url.Values, now time.Time) (Client, string, error) {
	if form.Get("client_assertion_type") != clientauth.AssertionType || form.Get("client_assertion") == "" {
		return Client{}, "authenticate with private_key_jwt: client_assertion_type " + clientauth.AssertionType + " and a client_assertion", nil
	}
	var client Client
	var serr error
	id, fail := clientauth.Verify(form.Get("client_assertion"), clientauth.Check{
		ClientID: form.Get("client_id"), Endpoint: endpoint, Now: now,
		Key: func(id string) (jose.JSONWebKey, bool) {
			c, ok, err := s.Get(ctx, tenant, id)
			if err != nil {
				serr = err
			}
			if !ok || c.Key == nil {
				return jose.JSONWebKey{}, false
			}
			client = c
			return *c.Key, true
		},
		UseJTI: func(id, jti string, until time.Time) bool {
			// Stored like a grant, so that a replay is caught whichever
			// instance it reaches; it may be forgotten once the assertion
			// has expired, as it is refused then anyway.
			err := s.put(ctx, tenant, kindJTI, tenant+"\x00"+id+"\x00"+jti, struct{}{}, until, now)
			if err != nil && !errors.Is(err, store.ErrExists) {
				serr = err
			}
			return err == nil
		},
	})
	if serr != nil {
		return Client{}, "", fmt.Errorf("%w: %w", errStore, serr)
	}
	if fail != "" {
		return Client{}, fail, nil
	}
	if client.ID != id {
		return Client{}, "no such client is registered in this tenant", nil
	}
	return client, "", nil
}

func (s *Server) codeGrant(ctx context.Context, w http.ResponseWriter, tenant, endpoint string, form url.Values) {
	now := s.now()
	// Taken from the store whatever follows: single use, on every instance.
	sg, err := s.st.TakeGrant(ctx, tenant, kindCode, hash(form.Get("code")))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		serverError(w)
		return
	}
	var cd code
	if err != nil || !now.Before(sg.Expires) || json.Unmarshal(sg.Data, &cd) != nil {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "the code is unknown, used or expired")
		return
	}
	if form.Get("client_id") != cd.Client {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "the code was issued to another client")
		return
	}
	if form.Get("redirect_uri") != cd.Redirect {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri is not the one of the authorisation request")
		return
	}
	sum := sha256.Sum256([]byte(form.Get("code_verifier")))
	if v := form.Get("code_verifier"); len(v) < 43 || len(v) > 128 ||
		subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(cd.Challenge)) != 1 {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "the code_verifier does not match the code_challenge")
		return
	}
	c, ok := s.client(ctx, w, tenant, endpoint, cd.Client, form, now)
	if !ok {
		return
	}
	s.issue(ctx, w, tenant, grant{Client: c.ID, Patient: cd.Patient, Scopes: cd.Scopes}, now)
}

// client authenticates the client a code or refresh token was issued to:
// still registered, and with its client assertion when it has a key (a
// public client has only its client_id, already compared).
func (s *Server) client(ctx context.Context, w http.ResponseWriter, tenant, endpoint, id string, form url.Values, now time.Time) (Client, bool) {
	c, ok, err := s.Get(ctx, tenant, id)
	if err != nil {
		serverError(w)
		return Client{}, false
	}
	if !ok {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "the client is no longer registered")
		return Client{}, false
	}
	if c.Key != nil {
		_, fail, err := s.assertion(ctx, tenant, endpoint, form, now)
		if err != nil {
			serverError(w)
			return Client{}, false
		}
		if fail != "" {
			oauthError(w, http.StatusUnauthorized, "invalid_client", fail)
			return Client{}, false
		}
	}
	return c, true
}

// refresh exchanges a refresh token (RFC 6749 section 6) for an access
// token and a new refresh token; the old one is spent on every instance
// (taken from the store), so a stolen copy used after the app is refused.
// A narrower scope may be asked for; the new refresh token keeps the
// original grant.
func (s *Server) refresh(ctx context.Context, w http.ResponseWriter, tenant, endpoint string, form url.Values) {
	now := s.now()
	sg, err := s.st.TakeGrant(ctx, tenant, kindRefresh, hash(form.Get("refresh_token")))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		serverError(w)
		return
	}
	var g grant
	if err != nil || !now.Before(sg.Expires) || json.Unmarshal(sg.Data, &g) != nil {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "the refresh token is unknown, used or expired")
		return
	}
	if form.Get("client_id") != g.Client {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "the refresh token was issued to another client")
		return
	}
	c, ok := s.client(ctx, w, tenant, endpoint, g.Client, form, now)
	if !ok {
		return
	}
	access := g
	if req := strings.Fields(form.Get("scope")); len(req) > 0 {
		for _, sc := range req {
			if !slices.Contains(g.Scopes, sc) {
				oauthError(w, http.StatusBadRequest, "invalid_scope", "a requested scope was not granted with the refresh token")
				return
			}
		}
		access.Scopes = req
	}
	access.Client = c.ID
	s.issueWith(ctx, w, tenant, access, g, now)
}

func (s *Server) clientCredentials(ctx context.Context, w http.ResponseWriter, tenant, endpoint string, form url.Values) {
	now := s.now()
	c, fail, err := s.assertion(ctx, tenant, endpoint, form, now)
	if err != nil {
		serverError(w)
		return
	}
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
	s.issue(ctx, w, tenant, grant{Client: c.ID, Scopes: granted}, now)
}

func (s *Server) issue(ctx context.Context, w http.ResponseWriter, tenant string, g grant, now time.Time) {
	s.issueWith(ctx, w, tenant, g, g, now)
}

// issueWith issues an access token for g and, when refresh (the grant the
// app holds) includes offline_access or online_access, a refresh token
// for it.
func (s *Server) issueWith(ctx context.Context, w http.ResponseWriter, tenant string, g, refresh grant, now time.Time) {
	tok := random(TokenPrefix)
	if err := s.put(ctx, tenant, kindToken, tok, g, now.Add(TokenLife), now); err != nil {
		serverError(w)
		return
	}
	resp := map[string]any{
		"access_token": tok,
		"token_type":   "Bearer",
		"expires_in":   int(TokenLife.Seconds()),
		"scope":        strings.Join(g.Scopes, " "),
	}
	if g.Patient != "" {
		resp["patient"] = g.Patient
	}
	life := time.Duration(0)
	switch {
	case slices.Contains(refresh.Scopes, "offline_access"):
		life = OfflineLife
	case slices.Contains(refresh.Scopes, "online_access"):
		life = OnlineLife
	}
	if life > 0 {
		rt := random(RefreshPrefix)
		if err := s.put(ctx, tenant, kindRefresh, rt, refresh, now.Add(life), now); err != nil {
			serverError(w)
			return
		}
		resp["refresh_token"] = rt
	}
	writeJSON(w, http.StatusOK, resp)
}

// serverError answers a store failure; the cause is not the client's to
// see.
func serverError(w http.ResponseWriter) {
	oauthError(w, http.StatusInternalServerError, "server_error", "the authorisation server could not reach its store")
}
