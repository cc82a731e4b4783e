package api

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/go-jose/go-jose/v4"

	"github.com/sandkasse/sandkasse/sandbox/clientauth"
)

// notTenantScoped are the routes that take no tenant and touch no store:
// nothing of a tenant can be reached through them.
var notTenantScoped = map[string]string{
	"GET /healthz":                     "liveness only",
	"HEAD /healthz":                    "liveness only",
	"POST /fhir/$validate":             "the validator, no store",
	"POST /fhir/:type/$validate":       "the validator, no store",
	"GET /.well-known/jwks.json":       "the sandbox's public certificate keys",
	"GET /.well-known/revocations.jws": "the signed revocation list, public by design",
	"GET /certificates":                "the public register of certificates",
	"GET /certificates/:id":            "one certificate of the public register",
	"GET /certificates/:id/report":     "the report a certificate certifies, public with it",
}

// attempt is one request made with tenant A's credentials against tenant
// B's route.
type attempt struct {
	name, method, path, contentType, body string
	header                                []string
}

// isoKit holds what the attempts are built from.
type isoKit struct {
	t          *testing.T
	a, b       string // tenant ids
	bPatient   string
	bPatientJS string // B's patient as read before the attempts
	creds      map[string]string
	// one-off credentials of A for token endpoints
	aCode              string // an authorisation code A's app got from A
	aSMARTKey, aVKPKey *ecdsa.PrivateKey
}

func (k *isoKit) bearer(method, path, contentType, body string, header ...string) []attempt {
	var out []attempt
	for _, name := range []string{"developer", "smart", "vkp"} {
		h := append([]string{"Authorization", "Bearer " + k.creds[name]}, header...)
		out = append(out, attempt{name: name + " token", method: method, path: path, contentType: contentType, body: body, header: h})
	}
	return out
}

// isolationRows: one row per route that names a tenant (or takes an admin
// token), building A's attempts on B; public rows are answered to anyone
// and must hold nothing of B's data.
func isolationRows() map[string]func(k *isoKit) (attempts []attempt, public bool) {
	fhir := func(k *isoKit) string { return "/t/" + k.b + "/fhir" }
	vkpPath := func(k *isoKit) string { return "/t/" + k.b + "/vkp/epj/r4/312345676" }
	vkpHdr := []string{"ServiceCodes", "dho"}
	bearer := func(method string, path func(k *isoKit) string, contentType, body string, header ...string) func(k *isoKit) ([]attempt, bool) {
		return func(k *isoKit) ([]attempt, bool) {
			b := strings.ReplaceAll(body, "{bPatient}", k.bPatient)
			if body == "{bPatientJS}" {
				b = k.bPatientJS
			}
			return k.bearer(method, strings.ReplaceAll(path(k), "{bPatient}", k.bPatient), contentType, b, header...), false
		}
	}
	public := func(path func(k *isoKit) string) func(k *isoKit) ([]attempt, bool) {
		return func(k *isoKit) ([]attempt, bool) {
			return []attempt{{name: "anyone", method: "GET", path: path(k)}}, true
		}
	}
	const fj = "application/fhir+json"
	const form = "application/x-www-form-urlencoded"
	return map[string]func(k *isoKit) ([]attempt, bool){
		"GET /t/:tenant/fhir/metadata": public(func(k *isoKit) string { return fhir(k) + "/metadata" }),
		"GET /t/:tenant/fhir/.well-known/smart-configuration": public(func(k *isoKit) string {
			return fhir(k) + "/.well-known/smart-configuration"
		}),
		"POST /t/:tenant/fhir": bearer("POST", fhir, fj,
			`{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Patient/{bPatient}"}}]}`),
		"GET /t/:tenant/fhir/:type":          bearer("GET", func(k *isoKit) string { return fhir(k) + "/Patient?_id={bPatient}" }, "", ""),
		"POST /t/:tenant/fhir/:type/_search": bearer("POST", func(k *isoKit) string { return fhir(k) + "/Patient/_search" }, form, "_id={bPatient}"),
		"POST /t/:tenant/fhir/:type":         bearer("POST", func(k *isoKit) string { return fhir(k) + "/Patient" }, fj, newPatient),
		"GET /t/:tenant/fhir/:type/:id":      bearer("GET", func(k *isoKit) string { return fhir(k) + "/Patient/{bPatient}" }, "", ""),
		"PUT /t/:tenant/fhir/:type/:id":      bearer("PUT", func(k *isoKit) string { return fhir(k) + "/Patient/{bPatient}" }, fj, "{bPatientJS}"),
		"DELETE /t/:tenant/fhir/:type/:id":   bearer("DELETE", func(k *isoKit) string { return fhir(k) + "/Patient/{bPatient}" }, "", ""),
		"GET /t/:tenant/fhir/:type/:id/_history/:vid": bearer("GET", func(k *isoKit) string {
			return fhir(k) + "/Patient/{bPatient}/_history/1"
		}, "", ""),
		"GET /t/:tenant/traffic": bearer("GET", func(k *isoKit) string { return "/t/" + k.b + "/traffic" }, "", ""),

		"POST /t/:tenant/vkp/helseid/connect/token": func(k *isoKit) ([]attempt, bool) {
			var out []attempt
			for _, aud := range []string{k.b, k.a} {
				as := backendAssertion(k.t, k.aVKPKey, "vkp-a", "http://example.com/t/"+aud+"/vkp/helseid/connect/token")
				out = append(out, attempt{name: "A's client assertion for " + aud, method: "POST", path: "/t/" + k.b + "/vkp/helseid/connect/token",
					contentType: form, body: url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {clientauth.AssertionType},
						"client_assertion": {as}}.Encode()})
			}
			return out, false
		},
		"POST /t/:tenant/vkp/epj/r4/:orgnr/:resource/_search": bearer("POST", func(k *isoKit) string {
			return vkpPath(k) + "/Patient/_search"
		}, form, "_id={bPatient}", vkpHdr...),
		"GET /t/:tenant/vkp/epj/r4/:orgnr/:resource": bearer("GET", func(k *isoKit) string {
			return vkpPath(k) + "/Patient?_id={bPatient}"
		}, "", "", vkpHdr...),
		"POST /t/:tenant/vkp/epj/r4/:orgnr/:resource": bearer("POST", func(k *isoKit) string { return vkpPath(k) + "/Bundle" },
			fj, `{"resourceType":"Bundle","type":"document","entry":[]}`, vkpHdr...),
		"POST /t/:tenant/vkp/clients": bearer("POST", func(k *isoKit) string { return "/t/" + k.b + "/vkp/clients" }, "application/json", ""),

		"GET /t/:tenant/smart/authorize": func(k *isoKit) ([]attempt, bool) {
			_, ch := pkce()
			q := url.Values{"response_type": {"code"}, "client_id": {"app-a"}, "redirect_uri": {smartRedirect},
				"scope": {"launch/patient patient/*.rs"}, "state": {"s"}, "aud": {"http://example.com/t/" + k.b + "/fhir"},
				"code_challenge": {ch}, "code_challenge_method": {"S256"}, "patient": {k.bPatient}}
			return []attempt{{name: "A's client", method: "GET", path: "/t/" + k.b + "/smart/authorize?" + q.Encode()}}, false
		},
		"POST /t/:tenant/smart/token": func(k *isoKit) ([]attempt, bool) {
			v, _ := pkce()
			code := url.Values{"grant_type": {"authorization_code"}, "code": {k.aCode}, "redirect_uri": {smartRedirect},
				"client_id": {"app-a"}, "code_verifier": {v}}
			backend := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {clientauth.AssertionType},
				"client_assertion": {backendAssertion(k.t, k.aSMARTKey, "backend-a", "http://example.com/t/"+k.b+"/smart/token")}}
			p := "/t/" + k.b + "/smart/token"
			return []attempt{{name: "A's code", method: "POST", path: p, contentType: form, body: code.Encode()},
				{name: "A's backend assertion", method: "POST", path: p, contentType: form, body: backend.Encode()}}, false
		},
		"POST /t/:tenant/smart/clients": bearer("POST", func(k *isoKit) string { return "/t/" + k.b + "/smart/clients" }, "application/json",
			`{"client_id":"app-b","redirect_uris":["https://attacker.example/cb"],"scopes":["patient/*.rs"]}`),
		"POST /t/:tenant/smart/launch": bearer("POST", func(k *isoKit) string { return "/t/" + k.b + "/smart/launch?patient={bPatient}" }, "", ""),

		"POST /t/:tenant/runs":                bearer("POST", func(k *isoKit) string { return "/t/" + k.b + "/runs" }, "application/json", `{"suite":"dho-journal"}`),
		"GET /t/:tenant/runs/:id":             bearer("GET", func(k *isoKit) string { return "/t/" + k.b + "/runs/any" }, "", ""),
		"GET /t/:tenant/runs/:id/certificate": bearer("GET", func(k *isoKit) string { return "/t/" + k.b + "/runs/any/certificate" }, "", ""),
		"GET /t/:tenant/runs":                 bearer("GET", func(k *isoKit) string { return "/t/" + k.b + "/runs?_count=100" }, "", ""),
		"POST /t/:tenant/runs/:id/cancel":     bearer("POST", func(k *isoKit) string { return "/t/" + k.b + "/runs/any/cancel" }, "", ""),
		"GET /admin/tenants":                  bearer("GET", func(k *isoKit) string { return "/admin/tenants" }, "", ""),
		"POST /admin/tenants":                 bearer("POST", func(k *isoKit) string { return "/admin/tenants" }, "application/json", `{"name":"x","org":"312345676"}`),
		"POST /admin/tenants/:tenant/reset":   bearer("POST", func(k *isoKit) string { return "/admin/tenants/" + k.b + "/reset" }, "", ""),
		"POST /admin/rulesets":                bearer("POST", func(k *isoKit) string { return "/admin/rulesets" }, "application/json", `{}`),
		"POST /admin/certificates/:id/revoke": bearer("POST", func(k *isoKit) string { return "/admin/certificates/any/revoke" }, "", ""),
	}
}

// TestTenantIsolation: no credential of tenant A (its developer token, a
// SMART access token, a VKP access token, its client assertions and codes)
// reads, writes, searches, lists or registers anything of tenant B on any
// route; every route of the router has a row here, so a new route fails
// this test until it has one.
func TestTenantIsolation(t *testing.T) {
	f := newSandbox(t, 1)
	a, b := f.tenant(t, "A"), f.tenant(t, "B")
	k := &isoKit{t: t, a: a.Tenant.ID, b: b.Tenant.ID, creds: map[string]string{"developer": a.Token}}
	k.aSMARTKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k.aVKPKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	// B: a patient, a SMART app and a VKP client of its own.
	r := f.do(t, b.Token, "GET", "/t/"+k.b+"/fhir/Patient?_count=1", "")
	k.bPatient = r.entries()[0]["resource"].(map[string]any)["id"].(string)
	before := f.do(t, b.Token, "GET", "/t/"+k.b+"/fhir/Patient/"+k.bPatient, "")
	k.bPatientJS = string(before.body)
	register(t, f, b.Token, "/t/"+k.b+"/smart/clients", `{"client_id":"app-b","redirect_uris":["`+smartRedirect+`"],"scopes":["patient/*.rs","user/*.rs"]}`)
	bVKPKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	register(t, f, b.Token, "/t/"+k.b+"/vkp/clients", vkpClient("vkp-b", bVKPKey))

	// A: the same kinds of clients, and a token of each kind.
	register(t, f, a.Token, "/t/"+k.a+"/smart/clients", `{"client_id":"app-a","redirect_uris":["`+smartRedirect+`"],"scopes":["patient/*.rs","user/*.rs"]}`)
	jwk, _ := json.Marshal(jose.JSONWebKey{Key: &k.aSMARTKey.PublicKey, Algorithm: "ES256"})
	register(t, f, a.Token, "/t/"+k.a+"/smart/clients", `{"client_id":"backend-a","scopes":["system/*.cruds"],"jwk":`+string(jwk)+`}`)
	register(t, f, a.Token, "/t/"+k.a+"/vkp/clients", vkpClient("vkp-a", k.aVKPKey))
	k.creds["smart"] = smartToken(t, f, k.a, k.aSMARTKey)
	k.creds["vkp"] = vkpToken(t, f, k.a, k.aVKPKey)
	k.aCode = smartCode(t, f, k.a, "app-a")

	routes := f.h.(*gin.Engine).Routes()
	rows := isolationRows()
	mounted := map[string]bool{}
	for _, rt := range routes {
		key := rt.Method + " " + rt.Path
		mounted[key] = true
		if _, ok := notTenantScoped[key]; ok {
			continue
		}
		row, ok := rows[key]
		if !ok {
			t.Errorf("route %s has no row in the tenant isolation table", key)
			continue
		}
		attempts, public := row(k)
		for _, at := range attempts {
			resp := send(t, f, at)
			body := string(resp.Body.Bytes())
			switch {
			case public && resp.Code != http.StatusOK:
				t.Errorf("%s (public): %d", key, resp.Code)
			case !public && resp.Code != http.StatusBadRequest && resp.Code != http.StatusUnauthorized && resp.Code != http.StatusForbidden:
				t.Errorf("%s with %s: %d, want a refusal (400, 401 or 403)\n%s", key, at.name, resp.Code, body)
			}
			if loc := resp.Header().Get("Location"); strings.Contains(loc, "code=") {
				t.Errorf("%s with %s: redirected with a code: %s", key, at.name, loc)
			}
			for _, leak := range []string{k.bPatient, b.Token} {
				if strings.Contains(body, leak) {
					t.Errorf("%s with %s: the answer holds B's %q", key, at.name, leak)
				}
			}
		}
	}
	for key := range rows {
		if !mounted[key] && !strings.HasPrefix(key, "POST /admin/rulesets") && !strings.HasPrefix(key, "POST /admin/certificates") {
			t.Errorf("row %s names no route of the router", key)
		}
	}

	// B is as it was: its patient, its SMART app (redirect unchanged) and
	// its VKP client (its key still gets a token).
	if after := f.do(t, b.Token, "GET", "/t/"+k.b+"/fhir/Patient/"+k.bPatient, ""); after.status != 200 || string(after.body) != k.bPatientJS {
		t.Error("B's patient changed")
	}
	if code := smartCode(t, f, k.b, "app-b"); code == "" {
		t.Error("B's app no longer authorises")
	}
	if tok := vkpTokenOf(t, f, k.b, "vkp-b", bVKPKey); tok == "" {
		t.Error("B's VKP client no longer gets a token")
	}
	// A's own search never returns B's resources; B's ids read in A are 404.
	if r := f.do(t, a.Token, "GET", "/t/"+k.a+"/fhir/Patient/"+k.bPatient, ""); r.status != 404 {
		t.Errorf("B's id in A: %d", r.status)
	}
	if r := f.do(t, a.Token, "GET", "/t/"+k.a+"/fhir/Patient?_id="+k.bPatient, ""); r.json["total"].(float64) != 0 {
		t.Error("A's search finds B's patient")
	}
	// B's traffic holds none of A's credentials, and no write of A's went
	// through.
	tr := f.do(t, b.Token, "GET", "/t/"+k.b+"/traffic?_count=50", "")
	for _, secret := range []string{a.Token, k.creds["smart"], k.creds["vkp"], k.aCode} {
		if strings.Contains(string(tr.body), secret) {
			t.Error("B's traffic holds a credential of A")
		}
	}
	// An admin list shows both tenants, without tokens.
	r = f.do(t, "admin-secret", "GET", "/admin/tenants", "")
	if r.status != 200 || strings.Contains(string(r.body), a.Token) || !strings.Contains(string(r.body), k.b) {
		t.Fatalf("admin list: %d", r.status)
	}
}

func send(t *testing.T, f *sandboxFixture, at attempt) *httptest.ResponseRecorder {
	t.Helper()
	var req *http.Request
	if at.body != "" {
		req = httptest.NewRequest(at.method, at.path, strings.NewReader(at.body))
	} else {
		req = httptest.NewRequest(at.method, at.path, nil)
	}
	if at.contentType != "" {
		req.Header.Set("Content-Type", at.contentType)
	}
	for i := 0; i+1 < len(at.header); i += 2 {
		req.Header.Set(at.header[i], at.header[i+1])
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec
}

func register(t *testing.T, f *sandboxFixture, token, path, body string) {
	t.Helper()
	if r := f.do(t, token, "POST", path, body, "Content-Type", "application/json"); r.status != http.StatusCreated {
		t.Fatalf("register at %s: %d %s", path, r.status, r.body)
	}
}

func vkpClient(id string, key *ecdsa.PrivateKey) string {
	jwk, _ := json.Marshal(jose.JSONWebKey{Key: &key.PublicKey, Algorithm: "ES256"})
	return `{"client_id":"` + id + `","jwk":` + string(jwk) + `,"vkp_id":"Leverandor_DHO_Kommune","orgs":[],` +
		`"scopes":["nhn:vkp/api/user/patient.read","nhn:vkp/api/user/bundle.write"]}`
}

func postForm(t *testing.T, f *sandboxFixture, path string, v url.Values) (int, map[string]any) {
	t.Helper()
	rec := send(t, f, attempt{method: "POST", path: path, contentType: "application/x-www-form-urlencoded", body: v.Encode()})
	var m map[string]any
	json.Unmarshal(rec.Body.Bytes(), &m)
	return rec.Code, m
}

// smartToken is a system/ token of tenant's backend client backend-a.
func smartToken(t *testing.T, f *sandboxFixture, tenant string, key *ecdsa.PrivateKey) string {
	t.Helper()
	st, m := postForm(t, f, "/t/"+tenant+"/smart/token", url.Values{"grant_type": {"client_credentials"},
		"client_assertion_type": {clientauth.AssertionType},
		"client_assertion":      {backendAssertion(t, key, "backend-a", "http://example.com/t/"+tenant+"/smart/token")}})
	if st != http.StatusOK {
		t.Fatalf("SMART token: %d %v", st, m)
	}
	return m["access_token"].(string)
}

func vkpTokenOf(t *testing.T, f *sandboxFixture, tenant, client string, key *ecdsa.PrivateKey) string {
	t.Helper()
	st, m := postForm(t, f, "/t/"+tenant+"/vkp/helseid/connect/token", url.Values{"grant_type": {"client_credentials"},
		"client_assertion_type": {clientauth.AssertionType},
		"client_assertion":      {backendAssertion(t, key, client, "http://example.com/t/"+tenant+"/vkp/helseid/connect/token")}})
	if st != http.StatusOK {
		t.Errorf("VKP token of %s: %d %v", client, st, m)
		return ""
	}
	return m["access_token"].(string)
}

func vkpToken(t *testing.T, f *sandboxFixture, tenant string, key *ecdsa.PrivateKey) string {
	t.Helper()
	tok := vkpTokenOf(t, f, tenant, "vkp-a", key)
	if tok == "" {
		t.FailNow()
	}
	return tok
}

// smartCode runs the authorisation request of tenant's app client for its
// first patient and returns the code ("" when refused).
func smartCode(t *testing.T, f *sandboxFixture, tenant, client string, extraScopes ...string) string {
	t.Helper()
	_, ch := pkce()
	q := url.Values{"response_type": {"code"}, "client_id": {client}, "redirect_uri": {smartRedirect},
		"scope": {strings.Join(append([]string{"user/*.rs"}, extraScopes...), " ")}, "state": {"s"}, "aud": {"http://example.com/t/" + tenant + "/fhir"},
		"code_challenge": {ch}, "code_challenge_method": {"S256"}}
	rec := send(t, f, attempt{method: "GET", path: "/t/" + tenant + "/smart/authorize?" + q.Encode()})
	loc, err := url.Parse(rec.Header().Get("Location"))
	if rec.Code != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), smartRedirect) {
		t.Errorf("authorize %s at %s: %d %s", client, tenant, rec.Code, rec.Header().Get("Location"))
		return ""
	}
	return loc.Query().Get("code")
}
