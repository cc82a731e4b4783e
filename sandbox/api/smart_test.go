package api

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/sandkasse/sandkasse/sandbox/clientauth"
)

const smartRedirect = "https://app.example/cb"

type smartEnv struct {
	f      *sandboxFixture
	tenant string
	dev    string
	fhir   string // FHIR base as the sandbox sees it
}

func newSmartEnv(t *testing.T) *smartEnv {
	t.Helper()
	f := newSandbox(t, 3)
	c := f.tenant(t, "smart")
	return &smartEnv{f: f, tenant: c.Tenant.ID, dev: c.Token, fhir: "http://example.com/t/" + c.Tenant.ID + "/fhir"}
}

// form posts a form and decodes the JSON answer.
func (e *smartEnv) form(t *testing.T, path string, v url.Values) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest("POST", path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	e.f.h.ServeHTTP(rec, req)
	var m map[string]any
	json.Unmarshal(rec.Body.Bytes(), &m)
	return rec.Code, m
}

func (e *smartEnv) register(t *testing.T, body string) {
	t.Helper()
	r := e.f.do(t, e.dev, "POST", "/t/"+e.tenant+"/smart/clients", body, "Content-Type", "application/json")
	if r.status != http.StatusCreated {
		t.Fatalf("register: %d %s", r.status, r.body)
	}
}

func (e *smartEnv) get(t *testing.T, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	e.f.h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec
}

func pkce() (verifier, challenge string) {
	verifier = strings.Repeat("v", 20) + "-verifier-0123456789abcdefghij"
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

func (e *smartEnv) authorizeURL(mod func(url.Values)) string {
	_, ch := pkce()
	q := url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {smartRedirect},
		"scope": {"launch/patient patient/Observation.read"}, "state": {"st-1"}, "aud": {e.fhir},
		"code_challenge": {ch}, "code_challenge_method": {"S256"}}
	if mod != nil {
		mod(q)
	}
	return "/t/" + e.tenant + "/smart/authorize?" + q.Encode()
}

// authorize follows an authorisation request to its redirect and returns
// the redirect's query.
func (e *smartEnv) authorize(t *testing.T, mod func(url.Values)) url.Values {
	t.Helper()
	rec := e.get(t, e.authorizeURL(mod))
	if rec.Code != http.StatusFound {
		t.Fatalf("authorize: %d %s", rec.Code, rec.Body)
	}
	loc, err := url.Parse(rec.Header().Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), smartRedirect+"?") {
		t.Fatalf("redirect to %q", rec.Header().Get("Location"))
	}
	return loc.Query()
}

func (e *smartEnv) patientID(t *testing.T) string {
	t.Helper()
	r := e.f.do(t, e.dev, "GET", "/t/"+e.tenant+"/fhir/Patient?_count=1", "")
	es := r.entries()
	if len(es) == 0 {
		t.Fatal("no patients")
	}
	return es[0]["resource"].(map[string]any)["id"].(string)
}

func (e *smartEnv) exchange(t *testing.T, code string, mod func(url.Values)) (int, map[string]any) {
	v, _ := pkce()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {smartRedirect},
		"client_id": {"app"}, "code_verifier": {v}}
	if mod != nil {
		mod(form)
	}
	return e.form(t, "/t/"+e.tenant+"/smart/token", form)
}

const publicApp = `{"client_id":"app","redirect_uris":["` + smartRedirect + `"],"scopes":["patient/Observation.read","patient/*.rs"]}`

func TestSMARTCodeFlowWithPKCEThenFHIRRead(t *testing.T) {
	e := newSmartEnv(t)
	e.register(t, publicApp)
	pid := e.patientID(t)

	// Without patient= the picker lists the tenant's patients, with links
	// that complete the authorisation.
	rec := e.get(t, e.authorizeURL(nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Header().Get("Content-Type"), "text/html") ||
		!strings.Contains(rec.Body.String(), "patient="+pid) {
		t.Fatalf("picker: %d %s", rec.Code, rec.Body)
	}

	q := e.authorize(t, func(q url.Values) { q.Set("patient", pid) })
	if q.Get("state") != "st-1" || q.Get("code") == "" {
		t.Fatalf("redirect query %v", q)
	}
	st, tok := e.exchange(t, q.Get("code"), nil)
	if st != http.StatusOK || tok["patient"] != pid || tok["token_type"] != "Bearer" || tok["expires_in"] != float64(3600) {
		t.Fatalf("token: %d %v", st, tok)
	}
	at := tok["access_token"].(string)
	r := e.f.do(t, at, "GET", "/t/"+e.tenant+"/fhir/Observation?_count=2", "")
	if r.status != http.StatusOK || r.str("resourceType") != "Bundle" {
		t.Fatalf("FHIR read with the SMART token: %d %s", r.status, r.body)
	}
	// The code is single use.
	if st, m := e.exchange(t, q.Get("code"), nil); st != http.StatusBadRequest || m["error"] != "invalid_grant" {
		t.Fatalf("reused code: %d %v", st, m)
	}
	// Neither code nor token is logged.
	if logs := e.f.logs.String(); strings.Contains(logs, at) || strings.Contains(logs, q.Get("code")) {
		t.Fatal("a token or code is in the log")
	}
}

func TestSMARTEHRLaunch(t *testing.T) {
	e := newSmartEnv(t)
	e.register(t, publicApp)
	pid := e.patientID(t)
	r := e.f.do(t, e.dev, "POST", "/t/"+e.tenant+"/smart/launch?patient="+url.QueryEscape(pid), "")
	if r.status != http.StatusCreated || r.str("launch") == "" {
		t.Fatalf("launch: %d %s", r.status, r.body)
	}
	q := e.authorize(t, func(q url.Values) {
		q.Set("launch", r.str("launch"))
		q.Set("scope", "launch patient/Observation.read")
	})
	if st, tok := e.exchange(t, q.Get("code"), nil); st != http.StatusOK || tok["patient"] != pid {
		t.Fatalf("token: %d %v", st, tok)
	}
	// An unknown launch is refused.
	q = e.authorize(t, func(q url.Values) { q.Set("launch", "nope") })
	if q.Get("error") != "invalid_request" || q.Get("code") != "" {
		t.Fatalf("unknown launch: %v", q)
	}
}

func TestSMARTRefusals(t *testing.T) {
	e := newSmartEnv(t)
	e.register(t, publicApp)
	pid := e.patientID(t)
	withPatient := func(more func(url.Values)) func(url.Values) {
		return func(q url.Values) {
			q.Set("patient", pid)
			if more != nil {
				more(q)
			}
		}
	}

	t.Run("wrong verifier", func(t *testing.T) {
		q := e.authorize(t, withPatient(nil))
		st, m := e.exchange(t, q.Get("code"), func(f url.Values) { f.Set("code_verifier", strings.Repeat("x", 50)) })
		if st != http.StatusBadRequest || m["error"] != "invalid_grant" || m["access_token"] != nil {
			t.Fatalf("%d %v", st, m)
		}
		// and the code is spent by the failed attempt
		if st, _ := e.exchange(t, q.Get("code"), nil); st != http.StatusBadRequest {
			t.Fatalf("code usable after a failed exchange: %d", st)
		}
	})
	t.Run("wrong redirect_uri at the token endpoint", func(t *testing.T) {
		q := e.authorize(t, withPatient(nil))
		st, m := e.exchange(t, q.Get("code"), func(f url.Values) { f.Set("redirect_uri", smartRedirect+"/other") })
		if st != http.StatusBadRequest || m["error"] != "invalid_grant" {
			t.Fatalf("%d %v", st, m)
		}
	})
	t.Run("unregistered redirect_uri at authorize", func(t *testing.T) {
		rec := e.get(t, e.authorizeURL(withPatient(func(q url.Values) { q.Set("redirect_uri", "https://evil.example/cb") })))
		if rec.Code != http.StatusBadRequest || rec.Header().Get("Location") != "" {
			t.Fatalf("%d %q", rec.Code, rec.Header().Get("Location"))
		}
	})
	for name, mod := range map[string]func(url.Values){
		"plain PKCE":         func(q url.Values) { q.Set("code_challenge_method", "plain") },
		"no PKCE":            func(q url.Values) { q.Del("code_challenge_method"); q.Del("code_challenge") },
		"missing state":      func(q url.Values) { q.Del("state") },
		"wrong aud":          func(q url.Values) { q.Set("aud", "http://example.com/t/other/fhir") },
		"unregistered scope": func(q url.Values) { q.Set("scope", "patient/Patient.write") },
		"system scope":       func(q url.Values) { q.Set("scope", "system/*.read") },
	} {
		t.Run(name, func(t *testing.T) {
			q := e.authorize(t, withPatient(mod))
			if q.Get("code") != "" || q.Get("error") == "" {
				t.Fatalf("not refused: %v", q)
			}
		})
	}
	t.Run("unknown client", func(t *testing.T) {
		rec := e.get(t, e.authorizeURL(func(q url.Values) { q.Set("client_id", "nobody") }))
		if rec.Code != http.StatusBadRequest {
			t.Fatalf("%d", rec.Code)
		}
	})
	t.Run("code taken to another tenant", func(t *testing.T) {
		// (expiry is tested in sandbox/smart, with a clock it can move)
		other := e.f.tenant(t, "other")
		if r := e.f.do(t, other.Token, "POST", "/t/"+other.Tenant.ID+"/smart/clients", publicApp, "Content-Type", "application/json"); r.status != http.StatusCreated {
			t.Fatalf("register in the other tenant: %d", r.status)
		}
		q := e.authorize(t, withPatient(nil))
		st, _ := e.form(t, "/t/"+other.Tenant.ID+"/smart/token", url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")},
			"redirect_uri": {smartRedirect}, "client_id": {"app"}, "code_verifier": {func() string { v, _ := pkce(); return v }()}})
		if st != http.StatusBadRequest {
			t.Fatalf("code accepted by another tenant: %d", st)
		}
		// The attempt did not spend the code in its own tenant.
		if st, m := e.exchange(t, q.Get("code"), nil); st != http.StatusOK {
			t.Fatalf("the code after a wrong tenant's attempt: %d %v", st, m)
		}
	})
}

func TestSMARTScopesEnforced(t *testing.T) {
	e := newSmartEnv(t)
	e.register(t, publicApp)
	pid := e.patientID(t)
	q := e.authorize(t, func(q url.Values) { q.Set("patient", pid) })
	_, tok := e.exchange(t, q.Get("code"), nil)
	at, _ := tok["access_token"].(string)
	if at == "" || tok["scope"] != "launch/patient patient/Observation.read" {
		t.Fatalf("token %v", tok)
	}
	if r := e.f.do(t, at, "GET", "/t/"+e.tenant+"/fhir/Patient/"+pid, ""); r.status != http.StatusForbidden {
		t.Fatalf("read Patient with patient/Observation.read: %d", r.status)
	}
	obs := `{"resourceType":"Observation","status":"final","code":{"text":"x"}}`
	if r := e.f.do(t, at, "POST", "/t/"+e.tenant+"/fhir/Observation", obs); r.status != http.StatusForbidden {
		t.Fatalf("create Observation with patient/Observation.read: %d %s", r.status, r.body)
	}
	if r := e.f.do(t, at, "GET", "/t/"+e.tenant+"/fhir/Observation", ""); r.status != http.StatusOK {
		t.Fatalf("search Observation: %d", r.status)
	}
	// registering clients takes the developer token, not an app's
	if r := e.f.do(t, at, "POST", "/t/"+e.tenant+"/smart/clients", publicApp, "Content-Type", "application/json"); r.status != http.StatusForbidden {
		t.Fatalf("register with a SMART token: %d", r.status)
	}
	// a tenant's SMART token is no good in another tenant
	other := e.f.tenant(t, "other")
	if r := e.f.do(t, at, "GET", "/t/"+other.Tenant.ID+"/fhir/Observation", ""); r.status != http.StatusForbidden {
		t.Fatalf("other tenant: %d", r.status)
	}
}

func backendAssertion(t *testing.T, key *ecdsa.PrivateKey, iss, aud string) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var jti [8]byte
	rand.Read(jti[:])
	s, err := jwt.Signed(signer).Claims(jwt.Claims{Issuer: iss, Subject: iss, Audience: jwt.Audience{aud},
		Expiry: jwt.NewNumericDate(now.Add(time.Minute)), IssuedAt: jwt.NewNumericDate(now), ID: base64.RawURLEncoding.EncodeToString(jti[:])}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSMARTBackendClientCredentials(t *testing.T) {
	e := newSmartEnv(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	forger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwk, _ := json.Marshal(jose.JSONWebKey{Key: &key.PublicKey, Algorithm: "ES256", Use: "sig"})
	e.register(t, `{"client_id":"backend","scopes":["system/*.read"],"jwk":`+string(jwk)+`}`)
	aud := "http://example.com/t/" + e.tenant + "/smart/token"
	token := func(assertion string) (int, map[string]any) {
		return e.form(t, "/t/"+e.tenant+"/smart/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"system/*.read"},
			"client_assertion_type": {clientauth.AssertionType}, "client_assertion": {assertion}})
	}

	st, m := token(backendAssertion(t, forger, "backend", aud))
	if st != http.StatusUnauthorized || m["error"] != "invalid_client" || m["access_token"] != nil {
		t.Fatalf("forged assertion: %d %v", st, m)
	}
	if st, m := token(backendAssertion(t, key, "backend", "http://example.com/t/"+e.tenant+"/vkp/helseid/connect/token")); st != http.StatusUnauthorized {
		t.Fatalf("assertion for another audience: %d %v", st, m)
	}
	good := backendAssertion(t, key, "backend", aud)
	st, m = token(good)
	if st != http.StatusOK || m["scope"] != "system/*.read" || m["patient"] != nil {
		t.Fatalf("valid assertion: %d %v", st, m)
	}
	at := m["access_token"].(string)
	if r := e.f.do(t, at, "GET", "/t/"+e.tenant+"/fhir/Patient", ""); r.status != http.StatusOK {
		t.Fatalf("system/*.read search: %d", r.status)
	}
	if r := e.f.do(t, at, "DELETE", "/t/"+e.tenant+"/fhir/Patient/"+e.patientID(t), ""); r.status != http.StatusForbidden {
		t.Fatalf("system/*.read delete: %d", r.status)
	}
	if st, _ := token(good); st != http.StatusUnauthorized {
		t.Fatalf("replayed assertion: %d", st)
	}
}

func TestSMARTConfiguration(t *testing.T) {
	e := newSmartEnv(t)
	r := e.f.do(t, "", "GET", "/t/"+e.tenant+"/fhir/.well-known/smart-configuration", "")
	if r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if r.str("authorization_endpoint") != "http://example.com/t/"+e.tenant+"/smart/authorize" ||
		r.str("token_endpoint") != "http://example.com/t/"+e.tenant+"/smart/token" {
		t.Fatalf("endpoints: %s", r.body)
	}
	list := func(k string) []string {
		var out []string
		for _, v := range r.json[k].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	for _, c := range []string{"launch-ehr", "launch-standalone", "client-public", "client-confidential-asymmetric",
		"context-ehr-patient", "context-standalone-patient", "permission-v1", "permission-v2"} {
		if !slices.Contains(list("capabilities"), c) {
			t.Errorf("capability %s missing", c)
		}
	}
	if !slices.Equal(list("code_challenge_methods_supported"), []string{"S256"}) ||
		!slices.Equal(list("token_endpoint_auth_methods_supported"), []string{"private_key_jwt"}) ||
		!slices.Contains(list("grant_types_supported"), "client_credentials") ||
		!slices.Contains(list("grant_types_supported"), "authorization_code") ||
		!slices.Contains(list("scopes_supported"), "launch/patient") {
		t.Fatalf("configuration: %s", r.body)
	}
}
