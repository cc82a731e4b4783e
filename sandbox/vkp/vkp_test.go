package vkp_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/sandkasse/sandkasse/sandbox/api"
	"github.com/sandkasse/sandkasse/sandbox/epr"
	"github.com/sandkasse/sandkasse/sandbox/store/sqlite"
	"github.com/sandkasse/sandkasse/sandbox/tenant"
	"github.com/sandkasse/sandkasse/sandbox/traffic"
	"github.com/sandkasse/sandkasse/sandbox/vkp"
	"github.com/sandkasse/sandkasse/validator"
)

const (
	org      = "312345676"
	otherOrg = "974760673"
	host     = "http://example.com"
)

var (
	sharedV     *validator.Validator
	sharedVOnce sync.Once
)

// vkpValidator is the validator loaded with the VKP profiles.
func vkpValidator(t testing.TB) *validator.Validator {
	sharedVOnce.Do(func() {
		v, err := validator.New(validator.Options{Load: []string{"../../../shared/profiles/no-basis-2.2.0", "../../../shared/profiles/vkp-r4-0.9.0"}})
		if err != nil {
			t.Fatal(err)
		}
		sharedV = v
	})
	if sharedV == nil {
		t.Fatal("no validator")
	}
	return sharedV
}

type fixture struct {
	rec     *traffic.Recorder
	h       http.Handler
	vkp     *vkp.Server
	tenants *tenant.Service
	clock   *clock
}

type clock struct {
	mu sync.Mutex
	d  time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.d)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.d += d
	c.mu.Unlock()
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	v := vkpValidator(t)
	f := &fixture{clock: &clock{}}
	f.tenants = tenant.New(tenant.Options{Store: st, Patients: 3, Days: 2})
	rec := traffic.New(st)
	f.rec = rec
	t.Cleanup(func() { rec.Close(); st.Close() })
	e := epr.New(epr.Options{Store: st, Validator: v})
	f.vkp = vkp.New(vkp.Options{EPR: e, Tenants: f.tenants, Validator: v, Traffic: rec, Now: f.clock.now, Store: st})
	f.h = api.New(api.Config{Validator: v, Logger: slog.New(slog.DiscardHandler), Sandbox: &api.Sandbox{
		EPR: e, Tenants: f.tenants, Auth: f.tenants, Traffic: rec, VKP: f.vkp}})
	return f
}

func (f *fixture) tenant(t *testing.T) tenant.Created {
	t.Helper()
	c, err := f.tenants.Create(context.Background(), tenant.Spec{Name: "Testkommune", Org: org})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// client is a registered client with its private key.
type client struct {
	id  string
	key crypto.Signer
	alg jose.SignatureAlgorithm
}

func newKey(t *testing.T, alg jose.SignatureAlgorithm) crypto.Signer {
	t.Helper()
	var k crypto.Signer
	var err error
	switch alg {
	case jose.RS256:
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.ES256:
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.EdDSA:
		_, k, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (f *fixture) register(t *testing.T, tenantID, id string, alg jose.SignatureAlgorithm, orgs []string, scopes ...string) client {
	t.Helper()
	k := newKey(t, alg)
	err := f.vkp.Register().Put(context.Background(), tenantID, vkp.Client{ID: id, Key: jose.JSONWebKey{Key: k.Public(), Algorithm: string(alg)},
		VKPID: "Leverandor_DHO_Testkommune", Orgs: orgs, Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	return client{id: id, key: k, alg: alg}
}

type assertion struct {
	iss, sub, aud, jti string
	exp                time.Duration
	key                crypto.Signer // nil: the client's
}

func (c client) assert(t *testing.T, tenantID string, a assertion) string {
	t.Helper()
	key := a.key
	if key == nil {
		key = c.key
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: c.alg, Key: key}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	if a.iss == "" {
		a.iss = c.id
	}
	if a.sub == "" {
		a.sub = c.id
	}
	if a.aud == "" {
		a.aud = host + "/t/" + tenantID + "/vkp/helseid/connect/token"
	}
	if a.jti == "" {
		a.jti = rand.Text()
	}
	if a.exp == 0 {
		a.exp = 60 * time.Second
	}
	now := time.Now()
	s, err := jwt.Signed(signer).Claims(jwt.Claims{Issuer: a.iss, Subject: a.sub, Audience: jwt.Audience{a.aud}, ID: a.jti,
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(a.exp))}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type resp struct {
	status int
	header http.Header
	body   string
	json   map[string]any
}

func (f *fixture) do(t *testing.T, method, path, contentType, body string, hdr ...string) resp {
	t.Helper()
	req := httptest.NewRequest(method, host+path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	r := resp{status: rec.Code, header: rec.Header(), body: rec.Body.String()}
	json.Unmarshal(rec.Body.Bytes(), &r.json)
	return r
}

func (f *fixture) token(t *testing.T, tenantID, assertion string, extra ...string) resp {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {vkp.AssertionType}, "client_assertion": {assertion}}
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	return f.do(t, "POST", "/t/"+tenantID+"/vkp/helseid/connect/token", "application/x-www-form-urlencoded", form.Encode())
}

// accessToken gets a token for c or fails the test.
func (f *fixture) accessToken(t *testing.T, tenantID string, c client) string {
	t.Helper()
	r := f.token(t, tenantID, c.assert(t, tenantID, assertion{}))
	if r.status != 200 {
		t.Fatalf("token: %d %s", r.status, r.body)
	}
	return r.json["access_token"].(string)
}

func (f *fixture) search(t *testing.T, tenantID, orgnr, resource, token, form string, hdr ...string) resp {
	t.Helper()
	h := []string{"ServiceCodes", "dho"}
	if token != "" {
		h = append(h, "Authorization", "Bearer "+token)
	}
	return f.do(t, "POST", "/t/"+tenantID+"/vkp/epj/r4/"+orgnr+"/"+resource+"/_search", "application/x-www-form-urlencoded", form, append(h, hdr...)...)
}

var allRead = []string{"nhn:vkp/api/user/patient.read", "nhn:vkp/api/user/episodeofcare.read", "nhn:vkp/api/user/observation.read"}

func TestTokenThenSearch(t *testing.T) {
	f := newFixture(t)
	ten := f.tenant(t).Tenant
	for _, alg := range []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA} {
		t.Run(string(alg), func(t *testing.T) {
			c := f.register(t, ten.ID, "client-"+string(alg), alg, nil, allRead...)
			r := f.token(t, ten.ID, c.assert(t, ten.ID, assertion{}), "scope", "nhn:vkp/api/user/patient.read")
			if r.status != 200 || r.json["token_type"] != "Bearer" || r.json["vkp-id"] != "Leverandor_DHO_Testkommune" ||
				r.json["scope"] != "nhn:vkp/api/user/patient.read" || r.header.Get("Cache-Control") != "no-store" {
				t.Fatalf("token: %d %s", r.status, r.body)
			}
			tok := r.json["access_token"].(string)
			s := f.search(t, ten.ID, org, "Patient", tok, "_count=2")
			if s.status != 200 || s.json["resourceType"] != "Bundle" || s.json["type"] != "searchset" {
				t.Fatalf("search: %d %s", s.status, s.body)
			}
			es, _ := s.json["entry"].([]any)
			if len(es) == 0 {
				t.Fatalf("search found nothing: %s", s.body)
			}
			full := es[0].(map[string]any)["fullUrl"].(string)
			if !strings.HasPrefix(full, host+"/t/"+ten.ID+"/vkp/epj/r4/"+org+"/Patient/") {
				t.Errorf("fullUrl %s", full)
			}
			// Only the granted scope: Observation was not requested.
			if s := f.search(t, ten.ID, org, "Observation", tok, ""); s.status != 403 {
				t.Errorf("observation without the scope: %d", s.status)
			}
		})
	}
}

func TestTokenRefusals(t *testing.T) {
	f := newFixture(t)
	ten := f.tenant(t).Tenant
	c := f.register(t, ten.ID, "dho-client", jose.ES256, nil, allRead...)
	other := newKey(t, jose.ES256)
	replayed := c.assert(t, ten.ID, assertion{})
	if r := f.token(t, ten.ID, replayed); r.status != 200 {
		t.Fatalf("first use: %d %s", r.status, r.body)
	}
	cases := []struct {
		name   string
		a      string
		extra  []string
		status int
		code   string
	}{
		{"forged (wrong key)", c.assert(t, ten.ID, assertion{key: other}), nil, 401, "invalid_client"},
		{"replayed jti", replayed, nil, 401, "invalid_client"},
		{"wrong audience", c.assert(t, ten.ID, assertion{aud: host + "/t/" + ten.ID + "/fhir"}), nil, 401, "invalid_client"},
		{"exp too far ahead", c.assert(t, ten.ID, assertion{exp: 10 * time.Minute}), nil, 401, "invalid_client"},
		{"expired", c.assert(t, ten.ID, assertion{exp: -time.Second}), nil, 401, "invalid_client"},
		{"sub is not the client", c.assert(t, ten.ID, assertion{sub: "someone"}), nil, 401, "invalid_client"},
		{"unknown client", c.assert(t, ten.ID, assertion{iss: "nobody", sub: "nobody"}), nil, 401, "invalid_client"},
		{"client_id differs from iss", c.assert(t, ten.ID, assertion{}), []string{"client_id", "other"}, 401, "invalid_client"},
		{"not a JWT", "abc.def", nil, 401, "invalid_client"},
		{"unregistered scope", c.assert(t, ten.ID, assertion{}), []string{"scope", "nhn:vkp/api/user/condition.read"}, 400, "invalid_scope"},
		{"wrong grant type", c.assert(t, ten.ID, assertion{}), []string{"grant_type", "password"}, 400, "unsupported_grant_type"},
		{"wrong assertion type", c.assert(t, ten.ID, assertion{}), []string{"client_assertion_type", "secret"}, 400, "invalid_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := f.token(t, ten.ID, tc.a, tc.extra...)
			if r.status != tc.status || r.json["error"] != tc.code || r.json["access_token"] != nil {
				t.Errorf("%d %s, want %d %s", r.status, r.body, tc.status, tc.code)
			}
		})
	}
	// A client of another tenant cannot get a token here.
	ten2, err := f.tenants.Create(context.Background(), tenant.Spec{Name: "Annen", Org: org})
	if err != nil {
		t.Fatal(err)
	}
	if r := f.token(t, ten2.Tenant.ID, c.assert(t, ten2.Tenant.ID, assertion{})); r.status != 401 {
		t.Errorf("client of another tenant: %d %s", r.status, r.body)
	}
}

func TestSearchRefusals(t *testing.T) {
	f := newFixture(t)
	ten := f.tenant(t).Tenant
	c := f.register(t, ten.ID, "dho-client", jose.EdDSA, nil, allRead...)
	tok := f.accessToken(t, ten.ID, c)
	// A second client registered for another municipality makes that org
	// number one of the tenant's, but not one dho-client may call.
	c2 := f.register(t, ten.ID, "other-client", jose.ES256, []string{otherOrg}, allRead...)
	tok2 := f.accessToken(t, ten.ID, c2)
	ten2, err := f.tenants.Create(context.Background(), tenant.Spec{Name: "Annen", Org: org})
	if err != nil {
		t.Fatal(err)
	}
	c3 := f.register(t, ten2.Tenant.ID, "dho-client", jose.ES256, nil, allRead...)
	tok3 := f.accessToken(t, ten2.Tenant.ID, c3)

	cases := []struct {
		name        string
		orgnr, typ  string
		token, form string
		hdr         []string
		status      int
		code        string
	}{
		{"no token", org, "Patient", "", "", nil, 401, vkp.CodeUnauthenticated},
		{"invalid token", org, "Patient", "skvkp_nonsense", "", nil, 401, vkp.CodeUnauthenticated},
		{"developer token", org, "Patient", "skdev_whatever", "", nil, 401, vkp.CodeUnauthenticated},
		{"token of another tenant", org, "Patient", tok3, "", nil, 401, vkp.CodeUnauthenticated},
		{"missing ServiceCodes", org, "Patient", tok, "", []string{"ServiceCodes", ""}, 400, vkp.CodeServiceCode},
		{"unknown ServiceCodes", org, "Patient", tok, "", []string{"ServiceCodes", "xyz"}, 400, vkp.CodeServiceCode},
		{"org not the tenant's", "999999999", "Patient", tok, "", nil, 403, vkp.CodeOrgNotAllowed},
		{"org of the tenant the client may not call", otherOrg, "Patient", tok, "", nil, 403, vkp.CodeOrgNotAllowed},
		{"client for the other org calling the tenant's", org, "Patient", tok2, "", nil, 403, vkp.CodeOrgNotAllowed},
		{"missing scope", org, "Condition", tok, "", nil, 403, vkp.CodeScope},
		{"unknown search parameter", org, "Patient", tok, "nonsense=1", nil, 400, epr.CodeUnknownParam},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := f.search(t, ten.ID, tc.orgnr, tc.typ, tc.token, tc.form, tc.hdr...)
			if r.status != tc.status || r.json["resourceType"] != "OperationOutcome" || !strings.Contains(r.body, `"`+tc.code+`"`) {
				t.Errorf("%d %s, want %d %s", r.status, r.body, tc.status, tc.code)
			}
			if r.status == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	// The other client reaches its own municipality (listed in the register).
	if r := f.search(t, ten.ID, otherOrg, "Patient", tok2, ""); r.status != 200 {
		t.Errorf("listed org: %d %s", r.status, r.body)
	}
	// An expired access token.
	f.clock.advance(vkp.TokenLife + time.Second)
	if r := f.search(t, ten.ID, org, "Patient", tok, ""); r.status != 401 || !strings.Contains(r.body, "expired") {
		t.Errorf("expired token: %d %s", r.status, r.body)
	}
}

func TestTrafficWithoutSecrets(t *testing.T) {
	f := newFixture(t)
	cr := f.tenant(t)
	ten := cr.Tenant
	// Register over HTTP with the developer token.
	k := newKey(t, jose.ES256)
	jwk, _ := json.Marshal(jose.JSONWebKey{Key: k.Public(), Algorithm: "ES256"})
	reg := `{"client_id":"http-client","jwk":` + string(jwk) + `,"vkp_id":"Lev_Sys_Kommune","scopes":["nhn:vkp/api/user/patient.read"]}`
	if r := f.do(t, "POST", "/t/"+ten.ID+"/vkp/clients", "application/json", reg); r.status != 401 {
		t.Errorf("registration without a token: %d", r.status)
	}
	if r := f.do(t, "POST", "/t/"+ten.ID+"/vkp/clients", "application/json", reg, "Authorization", "Bearer "+cr.Token); r.status != 201 {
		t.Fatalf("registration: %d %s", r.status, r.body)
	}
	priv, _ := json.Marshal(jose.JSONWebKey{Key: k, Algorithm: "ES256"})
	if r := f.do(t, "POST", "/t/"+ten.ID+"/vkp/clients", "application/json",
		strings.Replace(reg, string(jwk), string(priv), 1), "Authorization", "Bearer "+cr.Token); r.status != 400 {
		t.Errorf("a private key registered: %d %s", r.status, r.body)
	}
	c := client{id: "http-client", key: k, alg: jose.ES256}
	a := c.assert(t, ten.ID, assertion{})
	tr := f.token(t, ten.ID, a)
	if tr.status != 200 {
		t.Fatalf("token: %d %s", tr.status, tr.body)
	}
	tok := tr.json["access_token"].(string)
	if r := f.search(t, ten.ID, org, "Patient", tok, "_count=1"); r.status != 200 {
		t.Fatalf("search: %d %s", r.status, r.body)
	}
	r := f.do(t, "GET", "/t/"+ten.ID+"/traffic", "", "", "Authorization", "Bearer "+cr.Token)
	if r.status != 200 {
		t.Fatalf("traffic: %d %s", r.status, r.body)
	}
	for _, secret := range []string{a, tok, cr.Token} {
		if strings.Contains(r.body, secret) {
			t.Fatal("a secret is in the recorded traffic")
		}
	}
	routes := map[string]int{}
	for _, e := range r.json["entry"].([]any) {
		routes[e.(map[string]any)["route"].(string)]++
	}
	for _, want := range []string{"/t/:tenant/vkp/clients", "/t/:tenant/vkp/helseid/connect/token", "/t/:tenant/vkp/epj/r4/:orgnr/:resource/_search"} {
		if routes[want] == 0 {
			t.Errorf("no exchange recorded on %s: %v", want, routes)
		}
	}
	if !strings.Contains(r.body, "client_assertion=%5Bredacted%5D") || !strings.Contains(r.body, `Bearer [redacted]`) {
		t.Errorf("the redaction markers are missing: %s", r.body)
	}
}

func documentBundle(obsStatus string) string {
	return `{"resourceType":"Bundle","type":"document","identifier":{"system":"urn:ietf:rfc:3986","value":"urn:uuid:6f1c9a0e-2b7d-4c1e-9a55-0c3f1e2d4b10"},
"timestamp":"2026-11-20T10:00:00+01:00","entry":[
{"fullUrl":"urn:uuid:0a8e8b1c-1d2e-4f3a-8b4c-5d6e7f8a9b01","resource":{"resourceType":"Composition","status":"final",
 "type":{"coding":[{"system":"http://loinc.org","code":"11506-3"}]},"subject":{"display":"Test Testesen"},
 "date":"2026-11-20T10:00:00+01:00","author":[{"display":"Sykepleier Sandkasse"}],"title":"Oppfølging av målevarsel",
 "section":[{"title":"Notat","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Blodtrykk kontrollert, ingen tiltak.</div>"},
 "entry":[{"reference":"urn:uuid:0a8e8b1c-1d2e-4f3a-8b4c-5d6e7f8a9b02"},{"reference":"urn:uuid:0a8e8b1c-1d2e-4f3a-8b4c-5d6e7f8a9b03"}]}]}},
{"fullUrl":"urn:uuid:0a8e8b1c-1d2e-4f3a-8b4c-5d6e7f8a9b02","resource":{"resourceType":"DetectedIssue","status":"final",
 "implicated":[{"reference":"urn:uuid:0a8e8b1c-1d2e-4f3a-8b4c-5d6e7f8a9b03"}],"detail":"Blodtrykk over grenseverdi"}},
{"fullUrl":"urn:uuid:0a8e8b1c-1d2e-4f3a-8b4c-5d6e7f8a9b03","resource":{"resourceType":"Observation","status":"` + obsStatus + `",
 "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],
 "code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},"subject":{"display":"Test Testesen"},
 "effectiveDateTime":"2026-11-20T09:00:00+01:00","valueQuantity":{"value":112,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}}]}`
}

func TestJournal(t *testing.T) {
	f := newFixture(t)
	cr := f.tenant(t)
	ten := cr.Tenant
	c := f.register(t, ten.ID, "dho-client", jose.ES256, nil, "nhn:vkp/api/user/bundle.write", "nhn:vkp/api/user/patient.read")
	tok := f.accessToken(t, ten.ID, c)
	path := "/t/" + ten.ID + "/vkp/epj/r4/" + org + "/Bundle"
	hdr := []string{"ServiceCodes", "dho", "Authorization", "Bearer " + tok}

	if r := f.do(t, "POST", path, "application/fhir+json", documentBundle("not-a-status"), hdr...); r.status != 422 || r.json["resourceType"] != "OperationOutcome" {
		t.Errorf("invalid document: %d %s", r.status, r.body)
	}
	// Valid R4, but not the VKP blood pressure profile it claims (no components).
	bp := strings.Replace(documentBundle("final"), `"resourceType":"Observation",`,
		`"resourceType":"Observation","meta":{"profile":["http://ehelse.no/fhir/StructureDefinition/vkp-Observation-Bloodpressure-v090"]},`, 1)
	if r := f.do(t, "POST", path, "application/fhir+json", bp, hdr...); r.status != 422 || !strings.Contains(r.body, "component") {
		t.Errorf("against the VKP profile: %d %s", r.status, r.body)
	}
	if r := f.do(t, "POST", path, "application/fhir+json", `{"resourceType":"Bundle","type":"collection"}`, hdr...); r.status != 400 {
		t.Errorf("not a document: %d %s", r.status, r.body)
	}
	readOnly := f.accessToken(t, ten.ID, f.register(t, ten.ID, "reader", jose.ES256, nil, "nhn:vkp/api/user/patient.read"))
	if r := f.do(t, "POST", path, "application/fhir+json", documentBundle("final"), "ServiceCodes", "dho", "Authorization", "Bearer "+readOnly); r.status != 403 {
		t.Errorf("without bundle.write: %d %s", r.status, r.body)
	}
	count := func(typ string) float64 {
		r := f.do(t, "GET", "/t/"+ten.ID+"/fhir/"+typ+"?_summary=count", "", "", "Authorization", "Bearer "+cr.Token)
		n, _ := r.json["total"].(float64)
		return n
	}
	before := count("DetectedIssue")
	r := f.do(t, "POST", path, "application/fhir+json", documentBundle("final"), hdr...)
	if r.status != 201 {
		t.Fatalf("journal: %d %s", r.status, r.body)
	}
	if after := count("DetectedIssue"); after != before+1 {
		t.Errorf("DetectedIssue count %v → %v", before, after)
	}
	cs := f.do(t, "GET", "/t/"+ten.ID+"/fhir/Composition?_count=50", "", "", "Authorization", "Bearer "+cr.Token)
	if !strings.Contains(cs.body, "Oppfølging av målevarsel") || !strings.Contains(cs.body, `"reference":"DetectedIssue/`) {
		t.Errorf("the journaled Composition is not in the EPR with resolved references: %s", cs.body)
	}
}

// TestSearchPaging: the links of a _search answer are served. A client
// follows next with GET and the same headers until there is none, and sees
// every match exactly once; a client that pages with POST only sends
// _offset in the form and gets the same page; a link is no way around the
// token, the scope or the ServiceCodes header.
func TestSearchPaging(t *testing.T) {
	f := newFixture(t)
	cr := f.tenant(t)
	ten := cr.Tenant
	tok := f.accessToken(t, ten.ID, f.register(t, ten.ID, "pager", jose.ES256, nil, allRead...))
	first := f.search(t, ten.ID, org, "Patient", tok, "_count=1")
	if first.status != 200 {
		t.Fatalf("search: %d %s", first.status, first.body)
	}
	total := int(first.json["total"].(float64))
	if total < 3 {
		t.Fatalf("the seeded tenant has %d patients; the test needs three pages", total)
	}
	link := func(r resp, rel string) string {
		ls, _ := r.json["link"].([]any)
		for _, l := range ls {
			if m := l.(map[string]any); m["relation"] == rel {
				return m["url"].(string)
			}
		}
		return ""
	}
	ids := func(r resp) []string {
		var out []string
		es, _ := r.json["entry"].([]any)
		for _, e := range es {
			out = append(out, e.(map[string]any)["resource"].(map[string]any)["id"].(string))
		}
		return out
	}
	hdr := []string{"ServiceCodes", "dho", "Authorization", "Bearer " + tok}
	seen := map[string]bool{}
	for _, id := range ids(first) {
		seen[id] = true
	}
	pages := 1
	var second resp
	for next := link(first, "next"); next != ""; pages++ {
		if !strings.HasPrefix(next, host+"/t/"+ten.ID+"/vkp/epj/r4/"+org+"/Patient?") {
			t.Fatalf("next link %s is not on the tenant's VKP", next)
		}
		r := f.do(t, "GET", strings.TrimPrefix(next, host), "", "", hdr...)
		if r.status != 200 {
			t.Fatalf("GET %s: %d %s", next, r.status, r.body)
		}
		if pages == 1 {
			second = r
		}
		for _, id := range ids(r) {
			if seen[id] {
				t.Fatalf("patient %s on two pages", id)
			}
			seen[id] = true
		}
		next = link(r, "next")
		if pages > total {
			t.Fatal("the next links do not end")
		}
	}
	if len(seen) != total || pages != total {
		t.Fatalf("paging saw %d of %d patients in %d pages", len(seen), total, pages)
	}
	// Paging with POST only: _offset in the form.
	post := f.search(t, ten.ID, org, "Patient", tok, "_count=1&_offset=1")
	if post.status != 200 || len(ids(second)) != 1 || strings.Join(ids(post), " ") != strings.Join(ids(second), " ") {
		t.Fatalf("POST with _offset=1: %d %v, the next link gave %v", post.status, ids(post), ids(second))
	}
	// The GET route asks what the POST route asks.
	next := strings.TrimPrefix(link(first, "next"), host)
	if r := f.do(t, "GET", next, "", "", "ServiceCodes", "dho"); r.status != 401 {
		t.Errorf("a link without the token: %d", r.status)
	}
	if r := f.do(t, "GET", next, "", "", "Authorization", "Bearer "+tok); r.status != 400 {
		t.Errorf("a link without ServiceCodes: %d", r.status)
	}
	narrow := f.accessToken(t, ten.ID, f.register(t, ten.ID, "observations-only", jose.ES256, nil, "nhn:vkp/api/user/observation.read"))
	if r := f.do(t, "GET", next, "", "", "ServiceCodes", "dho", "Authorization", "Bearer "+narrow); r.status != 403 {
		t.Errorf("a link without the patient scope: %d", r.status)
	}
	// A search's code parameter is recorded as sent: only the token
	// endpoint's form carries credentials.
	f.search(t, ten.ID, org, "Observation", tok, "code=http%3A%2F%2Floinc.org%7C8867-4")
	tr := f.do(t, "GET", "/t/"+ten.ID+"/traffic?_count=50", "", "", "Authorization", "Bearer "+cr.Token)
	if !strings.Contains(tr.body, "loinc.org%7C8867-4") {
		t.Errorf("the search's code parameter is not in the recorded traffic")
	}
	var getRoute bool
	for _, e := range tr.json["entry"].([]any) {
		getRoute = getRoute || e.(map[string]any)["route"] == "/t/:tenant/vkp/epj/r4/:orgnr/:resource"
	}
	if !getRoute {
		t.Errorf("the paging GETs are not recorded")
	}
}

// TestUnknownTenantNotRecorded: requests to a tenant id that does not
// exist are refused before anything is recorded, so made-up ids cannot fill
// the traffic table.
func TestUnknownTenantNotRecorded(t *testing.T) {
	f := newFixture(t)
	f.tenant(t)
	r := f.token(t, "nosuch", "abc.def")
	if r.status != http.StatusNotFound || r.json["error"] != "invalid_request" {
		t.Fatalf("token at an unknown tenant: %d %s", r.status, r.body)
	}
	if r := f.search(t, "nosuch", org, "Patient", "skvkp_x", ""); r.status != http.StatusNotFound {
		t.Fatalf("search at an unknown tenant: %d %s", r.status, r.body)
	}
	if r := f.do(t, "GET", "/t/nosuch/vkp/epj/r4/"+org+"/Patient", "", "", "ServiceCodes", "dho"); r.status != http.StatusNotFound {
		t.Fatalf("paging GET at an unknown tenant: %d %s", r.status, r.body)
	}
	if r := f.do(t, "POST", "/t/nosuch/vkp/epj/r4/"+org+"/Bundle", "application/fhir+json", "{}", "ServiceCodes", "dho"); r.status != http.StatusNotFound {
		t.Fatalf("journal at an unknown tenant: %d %s", r.status, r.body)
	}
	ctx := context.Background()
	if err := f.rec.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if xs, err := f.tenants.Traffic(ctx, "nosuch", 0, 10); err != nil || len(xs) != 0 {
		t.Fatalf("traffic stored for an unknown tenant: %d exchanges, %v", len(xs), err)
	}
}

// TestCredentialsInSearchRecordedRedacted: a credential an app puts in a
// search URL or form is recorded by name with the value redacted, as on
// the mock EPR; search parameters (code among them) stay as sent.
func TestCredentialsInSearchRecordedRedacted(t *testing.T) {
	f := newFixture(t)
	cr := f.tenant(t)
	ten := cr.Tenant
	tok := f.accessToken(t, ten.ID, f.register(t, ten.ID, "app", jose.ES256, nil, allRead...))
	secret := "s3cr3t-in-the-url"
	jwt := "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln"
	f.do(t, "GET", "/t/"+ten.ID+"/vkp/epj/r4/"+org+"/Patient?_count=1&access_token="+secret+"&x="+jwt, "", "",
		"ServiceCodes", "dho", "Authorization", "Bearer "+tok)
	f.search(t, ten.ID, org, "Observation", tok, "code=8867-4&token="+secret)
	// Refused (no token), still recorded.
	f.do(t, "POST", "/t/"+ten.ID+"/vkp/epj/r4/"+org+"/Observation/_search?client_secret="+secret, "application/x-www-form-urlencoded", "", "ServiceCodes", "dho")
	tr := f.do(t, "GET", "/t/"+ten.ID+"/traffic?_count=50", "", "", "Authorization", "Bearer "+cr.Token)
	if tr.status != 200 {
		t.Fatalf("traffic: %d", tr.status)
	}
	for _, s := range []string{secret, jwt, tok} {
		if strings.Contains(tr.body, s) {
			t.Errorf("%.20s… is in the recorded traffic", s)
		}
	}
	for _, want := range []string{"access_token=%5Bredacted%5D", "token=%5Bredacted%5D", "client_secret=%5Bredacted%5D", "x=eyJredacted.redacted.", "code=8867-4"} {
		if !strings.Contains(tr.body, want) {
			t.Errorf("%s is not in the recorded traffic", want)
		}
	}
}
