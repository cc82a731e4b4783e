package api

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sandkasse/sandkasse/sandbox/auth"
	"github.com/sandkasse/sandkasse/sandbox/epr"
	"github.com/sandkasse/sandkasse/sandbox/runs"
	"github.com/sandkasse/sandkasse/sandbox/smart"
	"github.com/sandkasse/sandkasse/sandbox/store"
	"github.com/sandkasse/sandkasse/sandbox/tenant"
	"github.com/sandkasse/sandkasse/sandbox/traffic"
	"github.com/sandkasse/sandkasse/sandbox/vkp"
)

// Sandbox wires the tenant routes: the mock EPR under /t/{tenant}/fhir,
// the tenant's recorded traffic under /t/{tenant}/traffic, and the admin
// API under /admin.
type Sandbox struct {
	EPR     *epr.Server
	Tenants *tenant.Service
	// Auth checks bearer tokens on the tenant routes (the tenant service's
	// developer tokens now; SMART and HelseID tokens later).
	Auth    auth.Authenticator
	Traffic *traffic.Recorder
	// AdminToken guards /admin; empty disables the admin API.
	AdminToken string
	// PublicURL, when set, is the sandbox's external base URL (links and
	// Location headers); otherwise they are built from the request's Host.
	PublicURL string
	// VKP is the mock VKP under /t/{tenant}/vkp (nil: one over EPR,
	// Tenants, Traffic and the handler's validator).
	VKP *vkp.Server
	// SMART is SMART on FHIR under /t/{tenant}/smart (nil: a new one); its
	// tokens are accepted on the FHIR routes next to Auth's.
	SMART *smart.Server
	// Runs runs verification suites against the tenants (runs.go); nil
	// answers the run routes with 501.
	Runs *runs.Service
	// Trust, when set, serves /.well-known/jwks.json and revocations.jws
	// and the staff routes that publish and revoke (trust.go).
	Trust *Trust
}

// Codes of the sandbox edge.
const (
	CodeUnauthenticated = "unauthenticated"
	CodeWrongTenant     = "wrong-tenant"
	CodeAdminDisabled   = "admin-disabled"
	CodeBadRequest      = "bad-request"
	CodeTenantNotFound  = "tenant-not-found"
)

type sandboxRoutes struct {
	*server
	sb *Sandbox
}

const principalKey = "sandkasse.principal"

func (s *server) mountSandbox(r *gin.Engine, sb *Sandbox) {
	h := &sandboxRoutes{server: s, sb: sb}
	t := r.Group("/t/:tenant")
	t.GET("/fhir/metadata", h.metadata)
	// Recorded before authentication: a refused request (a token in the URL,
	// none at all) is what a suite most needs to see. Only for tenants that
	// exist, and unauthenticated ones within bounds (record.go).
	f := t.Group("/fhir", h.record, h.authenticate)
	f.POST("", h.bundle)
	f.GET("/:type", h.search)
	f.POST("/:type/_search", h.searchPost)
	f.POST("/:type", h.create)
	f.GET("/:type/:id", h.read)
	f.PUT("/:type/:id", h.update)
	f.DELETE("/:type/:id", h.delete)
	f.GET("/:type/:id/_history/:vid", h.vread)
	t.GET("/traffic", h.authenticate, h.traffic)

	if sb.VKP == nil {
		sb.VKP = vkp.New(vkp.Options{EPR: sb.EPR, Tenants: sb.Tenants, Validator: s.v, Traffic: sb.Traffic, MaxBody: s.max, Store: sb.Tenants.Store()})
	}
	t.POST("/vkp/helseid/connect/token", h.vkpToken)
	t.POST("/vkp/epj/r4/:orgnr/:resource/_search", h.vkpSearch)
	t.GET("/vkp/epj/r4/:orgnr/:resource", h.vkpSearch) // the paging links
	t.POST("/vkp/epj/r4/:orgnr/:resource", h.vkpJournal)
	t.POST("/vkp/clients", h.authenticate, h.vkpRegister)

	if sb.SMART == nil {
		sb.SMART = smart.New(smart.Options{Patients: h.smartPatients, MaxBody: s.max, Store: sb.Tenants.Store()})
	}
	if _, chained := sb.Auth.(smart.Chain); !chained {
		sb.Auth = smart.Chain{SMART: sb.SMART, Next: sb.Auth}
	}
	t.GET("/fhir/.well-known/smart-configuration", h.smartConfig)
	t.GET("/smart/authorize", h.knownTenant, h.recordOAuth, h.smartAuthorize)
	t.POST("/smart/token", h.knownTenant, h.recordOAuth, h.smartToken)
	t.POST("/smart/clients", h.authenticate, h.developerOnly, h.recordOAuth, h.smartRegister)
	t.POST("/smart/launch", h.authenticate, h.developerOnly, h.recordOAuth, h.smartLaunch)

	h.mountRuns(t)

	if sb.Trust != nil {
		h.mountTrust(r, sb.Trust)
	}
	a := r.Group("/admin", h.admin)
	a.GET("/tenants", h.listTenants)
	a.POST("/tenants", h.createTenant)
	a.POST("/tenants/:tenant/reset", h.resetTenant)
}

func (h *sandboxRoutes) base(c *gin.Context) string {
	if h.sb.PublicURL != "" {
		return strings.TrimRight(h.sb.PublicURL, "/") + "/t/" + c.Param("tenant") + "/fhir"
	}
	scheme := "http"
	if c.Request.TLS != nil {
		scheme = "https"
	}
	if p := c.GetHeader("X-Forwarded-Proto"); p == "https" || p == "http" {
		scheme = p
	}
	return scheme + "://" + c.Request.Host + "/t/" + c.Param("tenant") + "/fhir"
}

// vkpBase is the absolute URL of the tenant's mock VKP.
func (h *sandboxRoutes) vkpBase(c *gin.Context) string {
	return strings.TrimSuffix(h.base(c), "/fhir") + "/vkp"
}

func (h *sandboxRoutes) vkpToken(c *gin.Context) {
	h.sb.VKP.Token(c.Writer, c.Request, c.Param("tenant"), h.vkpBase(c)+"/helseid/connect/token")
}

func (h *sandboxRoutes) vkpSearch(c *gin.Context) {
	h.sb.VKP.Search(c.Writer, c.Request, c.Param("tenant"), c.Param("orgnr"), c.Param("resource"), h.vkpBase(c))
}

func (h *sandboxRoutes) vkpJournal(c *gin.Context) {
	if c.Param("resource") != "Bundle" {
		h.refuse(c, http.StatusNotFound, "not-found", CodeRouteNotFound, "the mock VKP takes POST .../{orgnr}/Bundle (journaling) and POST .../{orgnr}/{resource}/_search")
		return
	}
	h.sb.VKP.Journal(c.Writer, c.Request, c.Param("tenant"), c.Param("orgnr"), h.vkpBase(c))
}

func (h *sandboxRoutes) vkpRegister(c *gin.Context) {
	h.sb.VKP.RegisterClient(c.Writer, c.Request, c.Param("tenant"))
}

// smartBase is the absolute URL of the tenant's SMART endpoints.
func (h *sandboxRoutes) smartBase(c *gin.Context) string {
	return strings.TrimSuffix(h.base(c), "/fhir") + "/smart"
}

func (h *sandboxRoutes) smartConfig(c *gin.Context) {
	h.sb.SMART.Configuration(c.Writer, h.base(c), h.smartBase(c))
}

func (h *sandboxRoutes) smartAuthorize(c *gin.Context) {
	h.sb.SMART.Authorize(c.Writer, c.Request, c.Param("tenant"), h.base(c))
}

func (h *sandboxRoutes) smartToken(c *gin.Context) {
	h.sb.SMART.Token(c.Writer, c.Request, c.Param("tenant"), h.smartBase(c)+"/token")
}

func (h *sandboxRoutes) smartRegister(c *gin.Context) {
	h.sb.SMART.RegisterClient(c.Writer, c.Request, c.Param("tenant"))
}

func (h *sandboxRoutes) smartLaunch(c *gin.Context) {
	h.sb.SMART.Launch(c.Writer, c.Request, c.Param("tenant"))
}

// knownTenant refuses a tenant that does not exist before anything is
// recorded: unauthenticated endpoints must not let made-up tenant ids fill
// the traffic table.
func (h *sandboxRoutes) knownTenant(c *gin.Context) {
	ok, err := h.sb.Tenants.Known(c.Request.Context(), c.Param("tenant"))
	if err != nil {
		h.refuse(c, http.StatusInternalServerError, "exception", CodeInternal, "internal error")
		return
	}
	if !ok {
		h.refuse(c, http.StatusNotFound, "not-found", CodeTenantNotFound, "no such tenant")
		return
	}
	c.Next()
}

// developerOnly admits developer tokens only (registering clients and
// launching apps is the vendor's, not an app's).
func (h *sandboxRoutes) developerOnly(c *gin.Context) {
	if v, ok := c.Get(principalKey); !ok || v.(auth.Principal).Kind != "developer" {
		h.refuse(c, http.StatusForbidden, "forbidden", CodeWrongTenant, "use the tenant's developer token")
		return
	}
	c.Next()
}

// smartPatients answers the SMART server's patient queries (the picker's
// pages and name search, and checking a picked patient) with a search of
// the tenant's mock EPR, one bounded page at a time.
func (h *sandboxRoutes) smartPatients(ctx context.Context, tenant string, q smart.PatientQuery) (smart.PatientPage, error) {
	vals := url.Values{"_count": {strconv.Itoa(q.Count)}, "_offset": {strconv.Itoa(q.Offset)}, "_sort": {"_id"}}
	if q.ID != "" {
		vals.Set("_id", q.ID)
	}
	if q.Name != "" {
		vals.Set("name", q.Name)
	}
	resp := h.sb.EPR.Search(ctx, &epr.Request{Tenant: tenant, Base: "urn:sandkasse", Query: vals}, "Patient")
	if resp.Status != http.StatusOK {
		return smart.PatientPage{}, fmt.Errorf("patient search: status %d", resp.Status)
	}
	var b struct {
		Total int `json:"total"`
		Link  []struct {
			Relation string `json:"relation"`
			URL      string `json:"url"`
		} `json:"link"`
		Entry []struct {
			Resource struct {
				ID   string `json:"id"`
				Name []struct {
					Family string   `json:"family"`
					Given  []string `json:"given"`
				} `json:"name"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(resp.Body, &b); err != nil {
		return smart.PatientPage{}, err
	}
	out := smart.PatientPage{Total: b.Total}
	for _, l := range b.Link {
		// The EPR's next link says where the next page starts (a page cut
		// at its byte bound holds fewer than _count).
		if u, err := url.Parse(l.URL); l.Relation == "next" && err == nil {
			out.Next, _ = strconv.Atoi(u.Query().Get("_offset"))
		}
	}
	for _, e := range b.Entry {
		name := e.Resource.ID
		if len(e.Resource.Name) > 0 {
			n := e.Resource.Name[0]
			name = strings.TrimSpace(strings.Join(append(slices.Clone(n.Given), n.Family), " "))
		}
		out.Patients = append(out.Patients, smart.Patient{ID: e.Resource.ID, Name: name})
	}
	return out, nil
}

func (h *sandboxRoutes) send(c *gin.Context, resp epr.Response) {
	for k, vs := range resp.Header {
		for _, v := range vs {
			c.Writer.Header().Add(k, v)
		}
	}
	if len(resp.Body) == 0 {
		c.Status(resp.Status)
		c.Writer.WriteHeaderNow()
		return
	}
	c.Data(resp.Status, "application/fhir+json; charset=utf-8", resp.Body)
}

func (h *sandboxRoutes) refuse(c *gin.Context, status int, typ, code, msg string) {
	h.send(c, epr.Fail(status, typ, code, msg))
	c.Abort()
}

// authenticate admits a request whose bearer token belongs to the tenant
// in the URL: no or a bad token is 401, another tenant's token 403.
func (h *sandboxRoutes) authenticate(c *gin.Context) {
	tok, ok := auth.Bearer(c.Request.Header)
	var p auth.Principal
	err := auth.ErrNoToken
	if ok {
		p, err = h.sb.Auth.Authenticate(c.Request.Context(), tok)
	}
	if err != nil {
		if !errors.Is(err, auth.ErrNoToken) && !errors.Is(err, auth.ErrBadToken) && !errors.Is(err, auth.ErrExpired) {
			h.log.Error("authentication failed", slog.String("error", "store error"))
			h.refuse(c, http.StatusInternalServerError, "exception", CodeInternal, "internal error while checking the token")
			return
		}
		msg := map[error]string{
			auth.ErrNoToken:  "send Authorization: Bearer <token> (a developer token from sandkasse tenant create)",
			auth.ErrBadToken: "the bearer token is not valid here",
			auth.ErrExpired:  "the bearer token has expired",
		}
		var m string
		for e, s := range msg {
			if errors.Is(err, e) {
				m = s
			}
		}
		c.Header("WWW-Authenticate", `Bearer realm="sandkasse"`)
		h.refuse(c, http.StatusUnauthorized, "login", CodeUnauthenticated, m)
		return
	}
	if p.Tenant != c.Param("tenant") {
		h.refuse(c, http.StatusForbidden, "forbidden", CodeWrongTenant, "the token belongs to another tenant")
		return
	}
	c.Set(principalKey, p)
	c.Next()
}

func (h *sandboxRoutes) request(c *gin.Context, body []byte) *epr.Request {
	req := &epr.Request{Tenant: c.Param("tenant"), Base: h.base(c), Query: c.Request.URL.Query(), Header: c.Request.Header, Body: body}
	if v, ok := c.Get(principalKey); ok {
		p := v.(auth.Principal)
		action := [...]auth.Action{epr.Read: auth.Read, epr.Search: auth.Search, epr.Create: auth.Create,
			epr.Update: auth.Update, epr.Delete: auth.Delete}
		req.Allow = func(typ string, a epr.Access) bool { return p.Allows(typ, action[a]) }
		// What only patient/ scopes grant stays in the launch patient's compartment.
		req.Compartment = func(typ string, a epr.Access) bool { return p.Reach(typ, action[a]) == auth.Compartment }
		req.Patient = p.Patient
	}
	return req
}

// body reads a request body of one of the media types (413 past the limit).
func (h *sandboxRoutes) body(c *gin.Context, types map[string]bool) ([]byte, bool) {
	mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || !types[mt] {
		h.refuse(c, http.StatusUnsupportedMediaType, "not-supported", CodeMediaType, "send application/fhir+json")
		return nil, false
	}
	if c.Request.ContentLength > h.max {
		h.tooLarge(c)
		c.Abort()
		return nil, false
	}
	b, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, h.max))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.tooLarge(c)
			c.Abort()
			return nil, false
		}
		h.refuse(c, http.StatusBadRequest, "exception", CodeBodyUnreadable, "the request body could not be read")
		return nil, false
	}
	c.Set(bodyKey, b)
	return b, true
}

const bodyKey = "sandkasse.body"

func (h *sandboxRoutes) metadata(c *gin.Context) {
	if _, err := h.sb.Tenants.Get(c.Request.Context(), c.Param("tenant")); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			h.refuse(c, http.StatusNotFound, "not-found", CodeTenantNotFound, "no such tenant")
			return
		}
		h.refuse(c, http.StatusInternalServerError, "exception", CodeInternal, "internal error")
		return
	}
	h.send(c, h.sb.EPR.Metadata(c.Request.Context(), h.request(c, nil)))
}

func (h *sandboxRoutes) search(c *gin.Context) {
	h.send(c, h.sb.EPR.Search(c.Request.Context(), h.request(c, nil), c.Param("type")))
}

func (h *sandboxRoutes) searchPost(c *gin.Context) {
	b, ok := h.body(c, map[string]bool{"application/x-www-form-urlencoded": true})
	if !ok {
		return
	}
	form, err := url.ParseQuery(string(b))
	if err != nil {
		h.refuse(c, http.StatusBadRequest, "invalid", CodeBadRequest, "the form body cannot be read")
		return
	}
	req := h.request(c, nil)
	for k, vs := range form {
		req.Query[k] = append(req.Query[k], vs...)
	}
	h.send(c, h.sb.EPR.Search(c.Request.Context(), req, c.Param("type")))
}

func (h *sandboxRoutes) create(c *gin.Context) {
	if b, ok := h.body(c, mediaTypes); ok {
		h.send(c, h.sb.EPR.Create(c.Request.Context(), h.request(c, b), c.Param("type")))
	}
}

func (h *sandboxRoutes) bundle(c *gin.Context) {
	if b, ok := h.body(c, mediaTypes); ok {
		h.send(c, h.sb.EPR.Bundle(c.Request.Context(), h.request(c, b)))
	}
}

func (h *sandboxRoutes) read(c *gin.Context) {
	h.send(c, h.sb.EPR.Read(c.Request.Context(), h.request(c, nil), c.Param("type"), c.Param("id")))
}

func (h *sandboxRoutes) vread(c *gin.Context) {
	h.send(c, h.sb.EPR.VRead(c.Request.Context(), h.request(c, nil), c.Param("type"), c.Param("id"), c.Param("vid")))
}

func (h *sandboxRoutes) update(c *gin.Context) {
	if b, ok := h.body(c, mediaTypes); ok {
		h.send(c, h.sb.EPR.Update(c.Request.Context(), h.request(c, b), c.Param("type"), c.Param("id")))
	}
}

func (h *sandboxRoutes) delete(c *gin.Context) {
	h.send(c, h.sb.EPR.Delete(c.Request.Context(), h.request(c, nil), c.Param("type"), c.Param("id")))
}

// exchangeJSON is one recorded exchange on the wire.
type exchangeJSON struct {
	Seq        int64       `json:"seq"`
	At         time.Time   `json:"at"`
	DurationMS float64     `json:"duration_ms"`
	Method     string      `json:"method"`
	Path       string      `json:"path"`
	Query      string      `json:"query,omitempty"`
	Route      string      `json:"route"`
	Status     int         `json:"status"`
	Request    messageJSON `json:"request"`
	Response   messageJSON `json:"response"`
	Truncated  bool        `json:"truncated,omitempty"`
}

type messageJSON struct {
	Headers http.Header `json:"headers"`
	Body    string      `json:"body,omitempty"`
}

// maxTrafficPage bounds one traffic listing.
const maxTrafficPage = 50

// traffic lists the tenant's recorded exchanges: ?after=SEQ&_count=N.
func (h *sandboxRoutes) traffic(c *gin.Context) {
	ctx := c.Request.Context()
	if h.sb.Traffic != nil {
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		h.sb.Traffic.Flush(fctx)
		cancel()
	}
	var after int64
	limit := 100
	if v := c.Query("after"); v != "" {
		if _, err := fmt.Sscan(v, &after); err != nil {
			h.refuse(c, http.StatusBadRequest, "invalid", CodeBadRequest, "after must be an integer")
			return
		}
	}
	if v := c.Query("_count"); v != "" {
		if _, err := fmt.Sscan(v, &limit); err != nil || limit <= 0 {
			h.refuse(c, http.StatusBadRequest, "invalid", CodeBadRequest, "_count must be a positive integer")
			return
		}
		// Each exchange may hold 512 KiB of bodies: a page is kept small
		// enough that a listing cannot take the server's memory.
		limit = min(limit, maxTrafficPage)
	}
	xs, err := h.sb.Tenants.Traffic(ctx, c.Param("tenant"), after, limit)
	if err != nil {
		h.refuse(c, http.StatusInternalServerError, "exception", CodeInternal, "internal error")
		return
	}
	out := struct {
		Entry []exchangeJSON `json:"entry"`
		Next  int64          `json:"next"`
	}{Entry: []exchangeJSON{}, Next: after}
	for _, x := range xs {
		out.Entry = append(out.Entry, exchangeJSON{Seq: x.Seq, At: x.At, DurationMS: float64(x.Duration.Microseconds()) / 1000,
			Method: x.Method, Path: x.Path, Query: x.Query, Route: x.Route, Status: x.Status,
			Request:  messageJSON{Headers: x.RequestHeader, Body: string(x.RequestBody)},
			Response: messageJSON{Headers: x.ResponseHeader, Body: string(x.ResponseBody)}, Truncated: x.Truncated})
		out.Next = x.Seq
	}
	c.JSON(http.StatusOK, out)
}

// admin guards /admin with the admin token.
func (h *sandboxRoutes) admin(c *gin.Context) {
	if h.sb.AdminToken == "" {
		h.refuse(c, http.StatusForbidden, "forbidden", CodeAdminDisabled, "the admin API is disabled; start serve with --admin-token-file")
		return
	}
	tok, ok := auth.Bearer(c.Request.Header)
	if ok && subtle.ConstantTimeCompare([]byte(tok), []byte(h.sb.AdminToken)) == 1 {
		c.Next()
		return
	}
	// A credential the sandbox knows (a tenant's developer or SMART token)
	// is authenticated but not allowed: 403. None, an unknown, a forged or
	// an expired one is 401.
	if ok && h.sb.Auth != nil {
		_, err := h.sb.Auth.Authenticate(c.Request.Context(), tok)
		switch {
		case err == nil:
			h.refuse(c, http.StatusForbidden, "forbidden", CodeStaffOnly, "the admin API takes the admin token, not a tenant's token")
			return
		case !errors.Is(err, auth.ErrNoToken) && !errors.Is(err, auth.ErrBadToken) && !errors.Is(err, auth.ErrExpired):
			h.log.Error("authentication failed", slog.String("error", "store error"))
			h.refuse(c, http.StatusInternalServerError, "exception", CodeInternal, "internal error while checking the token")
			return
		}
	}
	c.Header("WWW-Authenticate", `Bearer realm="sandkasse-admin"`)
	h.refuse(c, http.StatusUnauthorized, "login", CodeUnauthenticated, "send the admin token as a bearer token")
}

// TenantJSON is a tenant on the wire (the CLI prints the same).
type TenantJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Org       string    `json:"org"`
	VendorOrg string    `json:"vendor_org,omitempty"`
	FHIRBase  string    `json:"fhir_base"`
	Created   time.Time `json:"created"`
	Token     string    `json:"token,omitempty"`
}

// TenantOf renders a tenant.
func TenantOf(t store.Tenant, token string) TenantJSON {
	return TenantJSON{ID: t.ID, Name: t.Name, Org: t.Org, VendorOrg: t.VendorOrg, FHIRBase: "/t/" + t.ID + "/fhir", Created: t.Created, Token: token}
}

func (h *sandboxRoutes) listTenants(c *gin.Context) {
	ts, err := h.sb.Tenants.List(c.Request.Context())
	if err != nil {
		h.refuse(c, http.StatusInternalServerError, "exception", CodeInternal, "internal error")
		return
	}
	out := []TenantJSON{}
	for _, t := range ts {
		out = append(out, TenantOf(t, ""))
	}
	c.JSON(http.StatusOK, out)
}

func (h *sandboxRoutes) createTenant(c *gin.Context) {
	b, ok := h.body(c, map[string]bool{"application/json": true})
	if !ok {
		return
	}
	var in struct {
		Name      string `json:"name"`
		Org       string `json:"org"`
		VendorOrg string `json:"vendor_org"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		h.refuse(c, http.StatusBadRequest, "invalid", CodeBadRequest, `send {"name": ..., "org": ..., "vendor_org": ...} (vendor_org optional)`)
		return
	}
	cr, err := h.sb.Tenants.Create(c.Request.Context(), tenant.Spec{Name: in.Name, Org: in.Org, VendorOrg: in.VendorOrg})
	if errors.Is(err, tenant.ErrInvalid) {
		h.refuse(c, http.StatusBadRequest, "invalid", CodeBadRequest, err.Error())
		return
	}
	if err != nil {
		h.log.Error("creating a tenant failed", slog.String("error", err.Error()))
		h.refuse(c, http.StatusInternalServerError, "exception", CodeInternal, "internal error")
		return
	}
	c.JSON(http.StatusCreated, TenantOf(cr.Tenant, cr.Token))
}

func (h *sandboxRoutes) resetTenant(c *gin.Context) {
	err := h.sb.Tenants.Reset(c.Request.Context(), c.Param("tenant"))
	if errors.Is(err, store.ErrNotFound) {
		h.refuse(c, http.StatusNotFound, "not-found", CodeTenantNotFound, "no such tenant")
		return
	}
	if err != nil {
		h.refuse(c, http.StatusInternalServerError, "exception", CodeInternal, "internal error")
		return
	}
	c.Status(http.StatusNoContent)
}
