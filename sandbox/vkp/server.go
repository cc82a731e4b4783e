package vkp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/auth"
	"github.com/sandkasse/sandkasse/sandbox/epr"
	"github.com/sandkasse/sandkasse/sandbox/store"
	"github.com/sandkasse/sandkasse/sandbox/traffic"
	"github.com/sandkasse/sandkasse/validator"
	"github.com/sandkasse/sandkasse/validator/issue"
)

// Stable codes of the refusals of the mock VKP (OperationOutcome
// details.coding.code).
const (
	CodeServiceCode     = "service-code-invalid"
	CodeUnauthenticated = "unauthenticated"
	CodeOrgNotAllowed   = "organisation-not-allowed"
	CodeScope           = "scope-insufficient"
	CodeBadRequest      = "bad-request"
	CodeMediaType       = "unsupported-media-type"
	CodeBodyTooLarge    = "body-too-large"
	CodeInvalid         = "invalid-resource"
	CodeTenantNotFound  = "tenant-not-found"
	CodeInternal        = "internal-error"
)

// ServiceCodes are the values of the ServiceCodes header.
var ServiceCodes = []string{"rt", "ta", "gps", "md", "dt", "dho"}

// Tenants looks tenants up (tenant.Service does).
type Tenants interface {
	Get(ctx context.Context, id string) (store.Tenant, error)
}

// Options configure a Server.
type Options struct {
	EPR     *epr.Server
	Tenants Tenants
	// Validator validates journaled document Bundles; it should be loaded
	// with the VKP profiles (the sandbox's validator as configured).
	Validator *validator.Validator
	// Store keeps the authorisation register and the issued tokens
	// (required).
	Store store.OAuth
	// Traffic records every exchange (nil: nothing is recorded).
	Traffic *traffic.Recorder
	// MaxBody bounds a request body (0: 16 MiB).
	MaxBody int64
	Now     func() time.Time
}

// Server is the mock VKP of every tenant.
type Server struct {
	epr      *epr.Server
	tenants  Tenants
	v        *validator.Validator
	register *Register
	traffic  *traffic.Recorder
	maxBody  int64
	now      func() time.Time
	grants   *grants
}

// New returns the mock VKP.
func New(o Options) *Server {
	if o.Store == nil {
		panic("vkp: Options.Store is required")
	}
	s := &Server{epr: o.EPR, tenants: o.Tenants, v: o.Validator, register: NewRegister(o.Store), traffic: o.Traffic,
		maxBody: o.MaxBody, now: o.Now, grants: &grants{st: o.Store}}
	if s.maxBody <= 0 {
		s.maxBody = 16 << 20
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Register is the server's authorisation register.
func (s *Server) Register() *Register { return s.register }

func send(w http.ResponseWriter, resp epr.Response) {
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if len(resp.Body) == 0 {
		w.WriteHeader(resp.Status)
		return
	}
	w.Header().Set("Content-Type", "application/fhir+json; charset=utf-8")
	w.WriteHeader(resp.Status)
	w.Write(resp.Body)
}

func fail(w http.ResponseWriter, status int, typ, code, msg string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sandkasse-vkp"`)
	}
	send(w, epr.Fail(status, typ, code, msg))
}

// access is an authorised VKP API request.
type access struct {
	grant  Grant
	tenant store.Tenant
}

// tenant looks the tenant up before anything is recorded: traffic is kept
// for tenants that exist only, so that requests to made-up tenant ids
// cannot fill the store. It answers the refusal itself.
func (s *Server) tenant(w http.ResponseWriter, r *http.Request, id string) (store.Tenant, bool) {
	t, err := s.tenants.Get(r.Context(), id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			fail(w, http.StatusNotFound, "not-found", CodeTenantNotFound, "no such tenant")
		} else {
			fail(w, http.StatusInternalServerError, "exception", CodeInternal, "internal error")
		}
		return store.Tenant{}, false
	}
	return t, true
}

// authorize checks the ServiceCodes header, the HelseID bearer token, the
// organisation number and the scope; it answers the refusal itself.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, t store.Tenant, orgnr, scope string) (access, bool) {
	tenant := t.ID
	tok, ok := auth.Bearer(r.Header)
	if !ok {
		fail(w, http.StatusUnauthorized, "login", CodeUnauthenticated, "send Authorization: Bearer <access token from the tenant's mock HelseID>")
		return access{}, false
	}
	g, ok, expired, err := s.grants.lookup(r.Context(), tok, s.now())
	if err != nil {
		fail(w, http.StatusInternalServerError, "exception", CodeInternal, "internal error")
		return access{}, false
	}
	switch {
	case expired:
		fail(w, http.StatusUnauthorized, "login", CodeUnauthenticated, "the access token has expired")
		return access{}, false
	case !ok || g.Tenant != tenant:
		fail(w, http.StatusUnauthorized, "login", CodeUnauthenticated, "the access token was not issued by this tenant's mock HelseID")
		return access{}, false
	}
	if orgnr != t.Org {
		listed, err := s.register.Listed(r.Context(), tenant, orgnr)
		if err != nil {
			fail(w, http.StatusInternalServerError, "exception", CodeInternal, "internal error")
			return access{}, false
		}
		if !listed {
			fail(w, http.StatusForbidden, "forbidden", CodeOrgNotAllowed, "the organisation number is not a municipality of this tenant")
			return access{}, false
		}
	}
	if !slices.Contains(g.Orgs, orgnr) {
		fail(w, http.StatusForbidden, "forbidden", CodeOrgNotAllowed, "the authorisation register does not allow this client to call this organisation number")
		return access{}, false
	}
	sc := r.Header.Get("ServiceCodes")
	if sc == "" {
		fail(w, http.StatusBadRequest, "required", CodeServiceCode, "send the ServiceCodes header: rt, ta, gps, md, dt or dho")
		return access{}, false
	}
	for _, c := range strings.Split(sc, ",") {
		if !slices.Contains(ServiceCodes, strings.TrimSpace(c)) {
			fail(w, http.StatusBadRequest, "value", CodeServiceCode, "the ServiceCodes header names an unknown service; use rt, ta, gps, md, dt or dho")
			return access{}, false
		}
	}
	if !g.Has(scope) {
		fail(w, http.StatusForbidden, "forbidden", CodeScope, "the access token lacks the scope "+scope)
		return access{}, false
	}
	return access{grant: g, tenant: t}, true
}

// Search is POST {base}/epj/r4/{orgnr}/{resource}/_search: form-encoded
// search parameters (and any in the URL), answered by the tenant's mock
// EPR; and GET {base}/epj/r4/{orgnr}/{resource}?params, which is what the
// self, next, previous and last links of the answer point to, so that a
// client pages by following them with the same headers. To page with POST
// only, send _count and _offset in the form. base is the absolute URL of
// the tenant's mock VKP (http://host/t/{tenant}/vkp).
func (s *Server) Search(w http.ResponseWriter, r *http.Request, tenant, orgnr, resource, base string) {
	t, ok := s.tenant(w, r, tenant)
	if !ok {
		return
	}
	route := "/t/:tenant/vkp/epj/r4/:orgnr/:resource/_search"
	if r.Method == http.MethodGet {
		route = "/t/:tenant/vkp/epj/r4/:orgnr/:resource"
	}
	rec := s.recording(w, r, tenant, route)
	defer rec.done()
	w = rec
	if !s.epr.KnownType(resource) {
		fail(w, http.StatusNotFound, "not-supported", epr.CodeUnknownType, "this is not a FHIR R4 resource type")
		return
	}
	a, ok := s.authorize(w, r, t, orgnr, Scope(resource, "read"))
	if !ok {
		return
	}
	rec.authed = true
	params := r.URL.Query()
	if r.Method != http.MethodGet {
		form, ok := rec.form(s.maxBody)
		if !ok {
			fail(w, http.StatusBadRequest, "invalid", CodeBadRequest, "send the search parameters form-encoded (application/x-www-form-urlencoded)")
			return
		}
		for k, vs := range form {
			params[k] = append(params[k], vs...)
		}
	}
	req := &epr.Request{Tenant: tenant, Base: base + "/epj/r4/" + orgnr, Query: params, Header: r.Header,
		Allow: func(typ string, acc epr.Access) bool {
			return (acc == epr.Search || acc == epr.Read) && a.grant.Has(Scope(typ, "read"))
		}}
	resp := s.epr.Search(r.Context(), req, resource)
	if resp.Status >= 400 && resp.Status < 500 && resp.Status != http.StatusNotFound {
		// VKP answers every refused search with 400 and an OperationOutcome.
		resp.Status = http.StatusBadRequest
	}
	send(w, resp)
}

// Journal is POST {base}/epj/r4/{orgnr}/Bundle: a document Bundle
// (Composition, DetectedIssue, Observation or QuestionnaireResponse, perhaps
// Device) validated against the profiles the validator holds and, when
// valid, written to the tenant's mock EPR in one transaction.
func (s *Server) Journal(w http.ResponseWriter, r *http.Request, tenant, orgnr, base string) {
	t, ok := s.tenant(w, r, tenant)
	if !ok {
		return
	}
	rec := s.recording(w, r, tenant, "/t/:tenant/vkp/epj/r4/:orgnr/Bundle")
	defer rec.done()
	w = rec
	if _, ok := s.authorize(w, r, t, orgnr, Scope("Bundle", "write")); !ok {
		return
	}
	rec.authed = true
	body, status := rec.read(s.maxBody, "application/fhir+json", "application/json")
	switch status {
	case http.StatusUnsupportedMediaType:
		fail(w, status, "not-supported", CodeMediaType, "send application/fhir+json")
		return
	case http.StatusRequestEntityTooLarge:
		fail(w, status, "too-long", CodeBodyTooLarge, "the body is larger than the sandbox accepts")
		return
	case http.StatusBadRequest:
		fail(w, status, "exception", CodeBadRequest, "the request body could not be read")
		return
	}
	var doc struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
		Entry        []struct {
			FullURL  string          `json:"fullUrl"`
			Resource json.RawMessage `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		fail(w, http.StatusBadRequest, "structure", CodeBadRequest, "the body is not a JSON object")
		return
	}
	if doc.ResourceType != "Bundle" || doc.Type != "document" {
		fail(w, http.StatusBadRequest, "invalid", CodeInvalid, "journaling takes a Bundle of type document")
		return
	}
	res := s.v.Validate(r.Context(), body)
	if !res.Valid() {
		var errs issue.List
		for _, i := range res.Issues {
			if i.Severity == issue.Error || i.Severity == issue.Fatal {
				errs = append(errs, i)
			}
		}
		send(w, epr.Response{Status: http.StatusUnprocessableEntity, Header: http.Header{}, Body: epr.Outcome(errs)})
		return
	}
	type request struct {
		Method string `json:"method"`
		URL    string `json:"url"`
	}
	type entry struct {
		FullURL  string          `json:"fullUrl,omitempty"`
		Resource json.RawMessage `json:"resource"`
		Request  request         `json:"request"`
	}
	tx := struct {
		ResourceType string  `json:"resourceType"`
		Type         string  `json:"type"`
		Entry        []entry `json:"entry"`
	}{ResourceType: "Bundle", Type: "transaction", Entry: []entry{}}
	for _, e := range doc.Entry {
		var head struct {
			ResourceType string `json:"resourceType"`
		}
		if json.Unmarshal(e.Resource, &head) != nil || head.ResourceType == "" {
			fail(w, http.StatusBadRequest, "invalid", CodeInvalid, "every entry of the document needs a resource")
			return
		}
		tx.Entry = append(tx.Entry, entry{FullURL: e.FullURL, Resource: e.Resource, Request: request{Method: "POST", URL: head.ResourceType}})
	}
	txBody, err := json.Marshal(tx)
	if err != nil {
		fail(w, http.StatusInternalServerError, "exception", CodeInternal, "internal error")
		return
	}
	resp := s.epr.Bundle(r.Context(), &epr.Request{Tenant: tenant, Base: base + "/epj/r4/" + orgnr, Header: http.Header{}, Body: txBody})
	if resp.Status == http.StatusOK {
		resp.Status = http.StatusCreated
	}
	send(w, resp)
}

// RegisterClient is POST {base}/clients (the caller has authenticated with
// the tenant's developer token): a Client as JSON, public key only.
func (s *Server) RegisterClient(w http.ResponseWriter, r *http.Request, tenant string) {
	rec := s.recording(w, r, tenant, "/t/:tenant/vkp/clients")
	rec.authed = true // behind the sandbox's developer-token check
	defer rec.done()
	w = rec
	body, status := rec.read(1<<20, "application/json")
	if status != 0 {
		fail(w, status, "invalid", CodeBadRequest, "send the client as application/json")
		return
	}
	var c Client
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		fail(w, http.StatusBadRequest, "invalid", CodeBadRequest, `send {"client_id", "jwk", "vkp_id", "orgs", "scopes"}`)
		return
	}
	if err := s.register.Put(r.Context(), tenant, c); err != nil {
		if !errors.Is(err, ErrInvalidClient) {
			fail(w, http.StatusInternalServerError, "exception", CodeInternal, "internal error")
			return
		}
		fail(w, http.StatusBadRequest, "invalid", CodeBadRequest, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(c)
}

// recorder keeps a copy of one exchange and records it when done.
type recorder struct {
	http.ResponseWriter
	s       *Server
	r       *http.Request
	tenant  string
	route   string
	start   time.Time
	status  int
	reqBody []byte
	buf     bytes.Buffer
	trunc   bool
	secrets []string
	readB   bool
	// oauth marks a token endpoint: its form parameters carry credentials
	// (elsewhere a form is search parameters, where code is no secret).
	oauth bool
	// authed marks a request whose credential was accepted; the others
	// are recorded within the recorder's unauthenticated bounds.
	authed bool
}

func (s *Server) recording(w http.ResponseWriter, r *http.Request, tenant, route string) *recorder {
	return &recorder{ResponseWriter: w, s: s, r: r, tenant: tenant, route: route, start: time.Now()}
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	room := traffic.MaxBody - w.buf.Len()
	if len(b) > room {
		w.buf.Write(b[:max(room, 0)])
		w.trunc = true
	} else {
		w.buf.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

// secret marks a string the recorded response must not hold.
func (w *recorder) secret(s string) { w.secrets = append(w.secrets, s) }

// read reads the body of one of the media types; status is 0 or the
// refusal (415, 413, 400).
func (w *recorder) read(limit int64, types ...string) ([]byte, int) {
	mt, _, err := mime.ParseMediaType(w.r.Header.Get("Content-Type"))
	if err != nil || !slices.Contains(types, mt) {
		return nil, http.StatusUnsupportedMediaType
	}
	if w.r.ContentLength > limit {
		return nil, http.StatusRequestEntityTooLarge
	}
	b, err := io.ReadAll(http.MaxBytesReader(w.ResponseWriter, w.r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, http.StatusRequestEntityTooLarge
		}
		return nil, http.StatusBadRequest
	}
	w.reqBody, w.readB = b, true
	return b, 0
}

// form reads a form-encoded body.
func (w *recorder) form(limit int64) (url.Values, bool) {
	b, status := w.read(limit, "application/x-www-form-urlencoded")
	if status != 0 {
		return nil, false
	}
	v, err := url.ParseQuery(string(b))
	if err != nil {
		return nil, false
	}
	return v, true
}

func (w *recorder) done() {
	if w.s.traffic == nil {
		return
	}
	// One redaction for query and form: the token endpoint's OAuth
	// parameters, or the credentials a search must not carry.
	params := traffic.Elsewhere
	if w.oauth {
		params = traffic.OAuth
	}
	reqBody := w.reqBody
	if mt, _, _ := mime.ParseMediaType(w.r.Header.Get("Content-Type")); w.readB && mt == "application/x-www-form-urlencoded" {
		reqBody = traffic.RedactForm(reqBody, params)
	}
	rb, trunc := traffic.Body(reqBody)
	resp := bytes.Clone(w.buf.Bytes())
	for _, sec := range w.secrets {
		resp = bytes.ReplaceAll(resp, []byte(sec), []byte(traffic.Redacted))
	}
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	record := w.s.traffic.RecordAnonymous
	if w.authed || (w.oauth && status == http.StatusOK) { // a token issued: the client proved itself
		record = w.s.traffic.Record
	}
	record(store.Exchange{
		Tenant:         w.tenant,
		At:             w.start.UTC(),
		Duration:       time.Since(w.start),
		Method:         w.r.Method,
		Path:           w.r.URL.Path,
		Query:          traffic.RedactParams(w.r.URL.RawQuery, params),
		Route:          w.route,
		Status:         status,
		RequestHeader:  traffic.Redact(w.r.Header),
		RequestBody:    rb,
		ResponseHeader: traffic.Redact(w.Header()),
		ResponseBody:   resp,
		Truncated:      trunc || w.trunc,
	})
}
