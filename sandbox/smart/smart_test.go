package smart_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/sandkasse/sandkasse/sandbox/auth"
	"github.com/sandkasse/sandkasse/sandbox/clientauth"
	"github.com/sandkasse/sandkasse/sandbox/smart"
	"github.com/sandkasse/sandkasse/sandbox/store"
	"github.com/sandkasse/sandkasse/sandbox/store/sqlite"
)

const (
	tenantA  = "tenant-a"
	tenantB  = "tenant-b"
	redirect = "https://app.example/cb"
	fhirBase = "http://sandbox.example/t/tenant-a/fhir"
	tokenURL = "http://sandbox.example/t/tenant-a/smart/token"
)

// clock is a time every instance of a test shares and the test moves.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func patients(ctx context.Context, tenant string, q smart.PatientQuery) (smart.PatientPage, error) {
	return pageOf([]smart.Patient{{ID: "p1", Name: "Kari Nordmann"}, {ID: "p2", Name: "Ola Nordmann"}}, q), nil
}

// pageOf answers q over all as the EPR would: id, name prefix, offset.
func pageOf(all []smart.Patient, q smart.PatientQuery) smart.PatientPage {
	var match []smart.Patient
	for _, p := range all {
		if (q.ID == "" || p.ID == q.ID) && strings.HasPrefix(strings.ToLower(p.Name), strings.ToLower(q.Name)) {
			match = append(match, p)
		}
	}
	pg := smart.PatientPage{Total: len(match)}
	if q.Offset < len(match) {
		pg.Patients = match[q.Offset:min(q.Offset+q.Count, len(match))]
	}
	if q.Offset+q.Count < len(match) {
		pg.Next = q.Offset + q.Count
	}
	return pg
}

// instance is one API instance: a Server of its own on the shared store,
// holding nothing the other instances could need.
func instance(st store.Store, c *clock) *smart.Server {
	return smart.New(smart.Options{Store: st, Patients: patients, Now: c.now})
}

func openStore(t *testing.T, dir string) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func pkce() (verifier, challenge string) {
	verifier = strings.Repeat("v", 43)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// authorize asks s for a code for patient p1 and returns it.
func authorize(t *testing.T, s *smart.Server, extra url.Values) string {
	t.Helper()
	_, ch := pkce()
	q := url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {redirect},
		"scope": {"launch/patient patient/Observation.read"}, "state": {"st"}, "aud": {fhirBase},
		"code_challenge": {ch}, "code_challenge_method": {"S256"}, "patient": {"p1"}}
	for k, v := range extra {
		q[k] = v
	}
	rec := httptest.NewRecorder()
	s.Authorize(rec, httptest.NewRequest("GET", "/authorize?"+q.Encode(), nil), tenantA, fhirBase)
	loc, err := url.Parse(rec.Header().Get("Location"))
	if rec.Code != http.StatusFound || err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("authorize: %d %s %s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	return loc.Query().Get("code")
}

// token posts a form to s's token endpoint of tenant.
func token(t *testing.T, s *smart.Server, tenant string, form url.Values) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest("POST", "/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	s.Token(rec, req, tenant, tokenURL)
	var m map[string]any
	json.Unmarshal(rec.Body.Bytes(), &m)
	return rec.Code, m
}

func redeem(t *testing.T, s *smart.Server, tenant, code string) (int, map[string]any) {
	v, _ := pkce()
	return token(t, s, tenant, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {redirect}, "client_id": {"app"}, "code_verifier": {v}})
}

var publicApp = smart.Client{ID: "app", RedirectURIs: []string{redirect}, Scopes: []string{"patient/Observation.read"}}

// withPublicApp is one instance on a fresh store, at a fixed time, with
// publicApp registered in tenant A; more instances can share st.
func withPublicApp(t *testing.T) (st store.Store, c *clock, s *smart.Server) {
	t.Helper()
	st = openStore(t, t.TempDir())
	t.Cleanup(func() { st.Close() })
	c = &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	s = instance(st, c)
	if err := s.Put(context.Background(), tenantA, publicApp); err != nil {
		t.Fatal(err)
	}
	return st, c, s
}

// A code issued by one instance is redeemed at another, once; the token
// it buys is good at a third.
func TestCodeRedeemedAtAnotherInstanceOnce(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	a, b, third := instance(st, c), instance(st, c), instance(st, c)
	ctx := context.Background()
	if err := a.Put(ctx, tenantA, publicApp); err != nil {
		t.Fatal(err)
	}
	code := authorize(t, b, nil) // registered at a, authorised at b
	status, tok := redeem(t, a, tenantA, code)
	if status != http.StatusOK || tok["patient"] != "p1" {
		t.Fatalf("redeem at another instance: %d %v", status, tok)
	}
	for _, s := range []*smart.Server{a, b} {
		if status, m := redeem(t, s, tenantA, code); status != http.StatusBadRequest || m["error"] != "invalid_grant" {
			t.Fatalf("second redemption: %d %v", status, m)
		}
	}
	p, err := third.Authenticate(ctx, tok["access_token"].(string))
	if err != nil || p.Tenant != tenantA || p.Patient != "p1" || p.Subject != "app" || len(p.Scopes) != 2 {
		t.Fatalf("token at a third instance: %+v %v", p, err)
	}
	// The token expires on every instance at once.
	c.advance(smart.TokenLife)
	if _, err := third.Authenticate(ctx, tok["access_token"].(string)); !errors.Is(err, auth.ErrExpired) {
		t.Fatalf("token after its life: %v", err)
	}
}

// Racing redemptions of one code on several instances: exactly one gets a
// token.
func TestCodeRaceOneWinner(t *testing.T) {
	st, c, a := withPublicApp(t)
	code := authorize(t, a, nil)
	var mu sync.Mutex
	var ok, refused int
	var wg sync.WaitGroup
	for range 6 {
		s := instance(st, c)
		wg.Go(func() {
			status, _ := redeem(t, s, tenantA, code)
			mu.Lock()
			defer mu.Unlock()
			switch status {
			case http.StatusOK:
				ok++
			case http.StatusBadRequest:
				refused++
			}
		})
	}
	wg.Wait()
	if ok != 1 || refused != 5 {
		t.Fatalf("6 racing redemptions: %d tokens, %d refusals", ok, refused)
	}
}

func TestCodeExpires(t *testing.T) {
	_, c, s := withPublicApp(t)
	late := authorize(t, s, nil)
	justInTime := authorize(t, s, nil)
	c.advance(smart.CodeLife - time.Millisecond)
	if status, m := redeem(t, s, tenantA, justInTime); status != http.StatusOK {
		t.Fatalf("a code just inside its life: %d %v", status, m)
	}
	c.advance(time.Millisecond)
	if status, m := redeem(t, s, tenantA, late); status != http.StatusBadRequest || m["error"] != "invalid_grant" {
		t.Fatalf("an expired code: %d %v", status, m)
	}
}

// A restart (a new process on the same database) forgets nothing: the
// client, a code and a token all survive.
func TestRestartForgetsNothing(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	st := openStore(t, dir)
	s := instance(st, c)
	ctx := context.Background()
	if err := s.Put(ctx, tenantA, publicApp); err != nil {
		t.Fatal(err)
	}
	code := authorize(t, s, nil)
	_, tok := redeem(t, s, tenantA, authorize(t, s, nil))
	st.Close()

	st = openStore(t, dir)
	defer st.Close()
	s = instance(st, c)
	if got, ok, err := s.Get(ctx, tenantA, "app"); err != nil || !ok || got.RedirectURIs[0] != redirect {
		t.Fatalf("client after restart: %+v %v %v", got, ok, err)
	}
	if _, err := s.Authenticate(ctx, tok["access_token"].(string)); err != nil {
		t.Fatalf("token after restart: %v", err)
	}
	if status, m := redeem(t, s, tenantA, code); status != http.StatusOK {
		t.Fatalf("code after restart: %d %v", status, m)
	}
}

// Clients, codes and tokens of one tenant mean nothing in another.
func TestTenantsApart(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	s := instance(st, c)
	ctx := context.Background()
	if err := s.Put(ctx, tenantA, publicApp); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Get(ctx, tenantB, "app"); ok || err != nil {
		t.Fatalf("tenant b sees a's client: %v %v", ok, err)
	}
	if err := s.Put(ctx, tenantB, publicApp); err != nil {
		t.Fatal(err)
	}
	code := authorize(t, s, nil)
	if status, _ := redeem(t, s, tenantB, code); status != http.StatusBadRequest {
		t.Fatalf("a's code at b: %d", status)
	}
	status, tok := redeem(t, s, tenantA, code)
	if status != http.StatusOK {
		t.Fatalf("a's code at a after b's attempt: %d", status)
	}
	if p, err := s.Authenticate(ctx, tok["access_token"].(string)); err != nil || p.Tenant != tenantA {
		t.Fatalf("token principal: %+v %v", p, err)
	}
}

// A backend client's assertion is single use on every instance: the jti is
// in the store.
func TestAssertionReplayAcrossInstances(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	c := &clock{t: time.Now().Truncate(time.Second)}
	a, b := instance(st, c), instance(st, c)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	err := a.Put(context.Background(), tenantA, smart.Client{ID: "backend", Scopes: []string{"system/Observation.read"},
		Key: &jose.JSONWebKey{Key: key.Public(), Algorithm: string(jose.ES256)}})
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, nil)
	assertion, _ := jwt.Signed(signer).Claims(jwt.Claims{Issuer: "backend", Subject: "backend", Audience: jwt.Audience{tokenURL},
		Expiry: jwt.NewNumericDate(c.now().Add(time.Minute)), ID: "jti-1"}).Serialize()
	form := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {clientauth.AssertionType},
		"client_assertion": {assertion}, "scope": {"system/Observation.read"}}
	if status, m := token(t, a, tenantA, form); status != http.StatusOK {
		t.Fatalf("first use: %d %v", status, m)
	}
	if status, m := token(t, b, tenantA, form); status != http.StatusUnauthorized || !strings.Contains(m["error_description"].(string), "jti") {
		t.Fatalf("replay at another instance: %d %v", status, m)
	}
}

// An EHR launch context made at one instance is honoured at another.
func TestLaunchAcrossInstances(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	a, b := instance(st, c), instance(st, c)
	if err := a.Put(context.Background(), tenantA, publicApp); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	a.Launch(rec, httptest.NewRequest("POST", "/launch?patient=p2", nil), tenantA)
	var l struct{ Launch string }
	if rec.Code != http.StatusCreated || json.Unmarshal(rec.Body.Bytes(), &l) != nil || l.Launch == "" {
		t.Fatalf("launch: %d %s", rec.Code, rec.Body)
	}
	code := authorize(t, b, url.Values{"launch": {l.Launch}, "patient": nil, "scope": {"launch patient/Observation.read"}})
	if status, tok := redeem(t, a, tenantA, code); status != http.StatusOK || tok["patient"] != "p2" {
		t.Fatalf("token of the launch: %d %v", status, tok)
	}
	// Past its life the launch is refused.
	c.advance(smart.LaunchLife)
	_, ch := pkce()
	q := url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {redirect}, "launch": {l.Launch},
		"scope": {"launch patient/Observation.read"}, "state": {"st"}, "aud": {fhirBase}, "code_challenge": {ch}, "code_challenge_method": {"S256"}}
	rec = httptest.NewRecorder()
	b.Authorize(rec, httptest.NewRequest("GET", "/authorize?"+q.Encode(), nil), tenantA, fhirBase)
	if loc := rec.Header().Get("Location"); !strings.Contains(loc, "error=invalid_request") || strings.Contains(loc, "code=") {
		t.Fatalf("an expired launch: %d %s", rec.Code, loc)
	}
}

// BenchmarkAuthenticate: the cost of checking a SMART access token now that
// it is looked up in the store (SQLite here) on every request.
func BenchmarkAuthenticate(b *testing.B) {
	st, err := sqlite.Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	s := instance(st, c)
	ctx := context.Background()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err := s.Put(ctx, tenantA, smart.Client{ID: "backend", Scopes: []string{"system/*.read"},
		Key: &jose.JSONWebKey{Key: key.Public(), Algorithm: string(jose.ES256)}}); err != nil {
		b.Fatal(err)
	}
	// Enough other tokens that the look-up is an index probe, not a scan.
	var tok string
	for i := range 200 {
		signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, nil)
		as, _ := jwt.Signed(signer).Claims(jwt.Claims{Issuer: "backend", Subject: "backend", Audience: jwt.Audience{tokenURL},
			Expiry: jwt.NewNumericDate(c.now().Add(time.Minute)), ID: fmt.Sprintf("jti-%d", i)}).Serialize()
		req := httptest.NewRequest("POST", "/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"},
			"client_assertion_type": {clientauth.AssertionType}, "client_assertion": {as}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		s.Token(rec, req, tenantA, tokenURL)
		var m map[string]any
		if json.Unmarshal(rec.Body.Bytes(), &m) != nil || m["access_token"] == nil {
			b.Fatalf("token %d: %d %s", i, rec.Code, rec.Body)
		}
		tok = m["access_token"].(string)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Authenticate(ctx, tok); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// failingPrune is a store whose PruneGrants always fails.
type failingPrune struct{ store.Store }

func (failingPrune) PruneGrants(context.Context, time.Time) error {
	return errors.New("prune failed")
}

// Pruning expired grants is housekeeping: when it fails, the code and the
// token are still issued.
func TestPruneFailureDoesNotFailRequests(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	s := smart.New(smart.Options{Store: failingPrune{st}, Patients: patients, Now: c.now})
	if err := s.Put(context.Background(), tenantA, publicApp); err != nil {
		t.Fatal(err)
	}
	code := authorize(t, s, nil) // an instance's first grant stored prunes
	other := smart.New(smart.Options{Store: failingPrune{st}, Patients: patients, Now: c.now})
	if status, tok := redeem(t, other, tenantA, code); status != http.StatusOK || tok["access_token"] == nil {
		t.Fatalf("token while pruning fails: %d %v", status, tok)
	}
}

// The picker pages through every patient of a tenant, whatever their
// number, and a search box narrows it; a patient on a later page can be
// picked.
func TestPickerPages(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	var all []smart.Patient
	for i := range 2*smart.PickerPage + 3 {
		all = append(all, smart.Patient{ID: fmt.Sprintf("p%03d", i), Name: fmt.Sprintf("Name%03d Nordmann", i)})
	}
	s := smart.New(smart.Options{Store: st, Now: c.now, Patients: func(_ context.Context, _ string, q smart.PatientQuery) (smart.PatientPage, error) {
		return pageOf(all, q), nil
	}})
	if err := s.Put(context.Background(), tenantA, publicApp); err != nil {
		t.Fatal(err)
	}
	_, ch := pkce()
	q := url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {redirect},
		"scope": {"launch/patient patient/Observation.read"}, "state": {"st"}, "aud": {fhirBase},
		"code_challenge": {ch}, "code_challenge_method": {"S256"}}
	get := func(u string) string {
		t.Helper()
		rec := httptest.NewRecorder()
		s.Authorize(rec, httptest.NewRequest("GET", u, nil), tenantA, fhirBase)
		if rec.Code != http.StatusOK {
			t.Fatalf("picker %s: %d %s", u, rec.Code, rec.Body)
		}
		return rec.Body.String()
	}
	next := func(page string) string {
		i := strings.Index(page, `<a rel="next" href="`)
		if i < 0 {
			return ""
		}
		rest := page[i+len(`<a rel="next" href="`):]
		return html.UnescapeString(rest[:strings.Index(rest, `"`)])
	}
	seen := map[string]int{}
	pages := 0
	for u := "/authorize?" + q.Encode(); u != "" && pages < 10; pages++ {
		page := get(u)
		for _, p := range all {
			if strings.Contains(page, "("+p.ID+")") {
				seen[p.ID]++
			}
		}
		u = next(page)
	}
	if pages != 3 || len(seen) != len(all) {
		t.Fatalf("%d pages showed %d of %d patients", pages, len(seen), len(all))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("patient %s shown %d times", id, n)
		}
	}
	// The search box: one match.
	qq := url.Values{}
	for k, v := range q {
		qq[k] = v
	}
	qq.Set("picker_name", "name102")
	if page := get("/authorize?" + qq.Encode()); !strings.Contains(page, "(p102)") || strings.Contains(page, "(p101)") || next(page) != "" {
		t.Fatalf("name search: %s", page)
	}
	// The last patient can be picked; an unknown one cannot.
	qq.Del("picker_name")
	qq.Set("patient", all[len(all)-1].ID)
	rec := httptest.NewRecorder()
	s.Authorize(rec, httptest.NewRequest("GET", "/authorize?"+qq.Encode(), nil), tenantA, fhirBase)
	if loc, _ := url.Parse(rec.Header().Get("Location")); rec.Code != http.StatusFound || loc.Query().Get("code") == "" {
		t.Fatalf("picking the last patient: %d %s", rec.Code, rec.Header().Get("Location"))
	}
	qq.Set("patient", "nobody")
	rec = httptest.NewRecorder()
	s.Authorize(rec, httptest.NewRequest("GET", "/authorize?"+qq.Encode(), nil), tenantA, fhirBase)
	if loc, _ := url.Parse(rec.Header().Get("Location")); loc == nil || loc.Query().Get("error") != "invalid_request" {
		t.Fatalf("an unknown patient: %d %s %s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
}

// refreshWith posts a refresh_token grant.
func refreshWith(t *testing.T, s *smart.Server, rt, client, scope string) (int, map[string]any) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {client}}
	if scope != "" {
		form.Set("scope", scope)
	}
	return token(t, s, tenantA, form)
}

// offline_access brings a refresh token with the code's access token; a
// refresh gives a new pair, spends the old refresh token on every
// instance, may narrow the scopes and never widen them.
func TestRefreshToken(t *testing.T) {
	st, c, a := withPublicApp(t)
	b := instance(st, c)
	ctx := context.Background()
	if _, tok := redeem(t, a, tenantA, authorize(t, a, nil)); tok["refresh_token"] != nil {
		t.Fatalf("a refresh token without offline_access or online_access: %v", tok)
	}
	code := authorize(t, a, url.Values{"scope": {"launch/patient patient/Observation.read offline_access"}})
	status, tok := redeem(t, a, tenantA, code)
	rt, _ := tok["refresh_token"].(string)
	if status != http.StatusOK || !strings.HasPrefix(rt, smart.RefreshPrefix) {
		t.Fatalf("code with offline_access: %d %v", status, tok)
	}
	if status, m := refreshWith(t, b, rt, "other-app", ""); status != http.StatusBadRequest || m["error"] != "invalid_grant" {
		t.Fatalf("another client's refresh: %d %v", status, m)
	}
	// That attempt spent it (single use on every instance, as a code is):
	// a new authorisation, then the real refresh at another instance.
	_, tok = redeem(t, a, tenantA, authorize(t, a, url.Values{"scope": {"launch/patient patient/Observation.read offline_access"}}))
	rt = tok["refresh_token"].(string)
	c.advance(smart.TokenLife) // the access token has expired; the refresh token has not
	status, fresh := refreshWith(t, b, rt, "app", "")
	if status != http.StatusOK || fresh["patient"] != "p1" || fresh["refresh_token"] == rt || fresh["refresh_token"] == nil ||
		fresh["scope"] != "launch/patient patient/Observation.read offline_access" {
		t.Fatalf("refresh: %d %v", status, fresh)
	}
	p, err := a.Authenticate(ctx, fresh["access_token"].(string))
	if err != nil || p.Patient != "p1" || p.Subject != "app" {
		t.Fatalf("the refreshed access token: %+v %v", p, err)
	}
	if status, m := refreshWith(t, a, rt, "app", ""); status != http.StatusBadRequest || m["error"] != "invalid_grant" {
		t.Fatalf("the spent refresh token again: %d %v", status, m)
	}
	next := fresh["refresh_token"].(string)
	if status, m := refreshWith(t, a, next, "app", "patient/Patient.read"); status != http.StatusBadRequest || m["error"] != "invalid_scope" {
		t.Fatalf("a wider scope: %d %v", status, m)
	}
	_, tok = redeem(t, a, tenantA, authorize(t, a, url.Values{"scope": {"launch/patient patient/Observation.read offline_access"}}))
	status, narrow := refreshWith(t, a, tok["refresh_token"].(string), "app", "patient/Observation.read")
	if status != http.StatusOK || narrow["scope"] != "patient/Observation.read" || narrow["refresh_token"] == nil {
		t.Fatalf("a narrower scope: %d %v", status, narrow)
	}
	// The narrowed refresh keeps the original grant for the next one.
	if status, m := refreshWith(t, a, narrow["refresh_token"].(string), "app", ""); status != http.StatusOK ||
		m["scope"] != "launch/patient patient/Observation.read offline_access" {
		t.Fatalf("after a narrowed refresh: %d %v", status, m)
	}
}

// online_access refresh tokens end sooner; offline_access ones later.
func TestRefreshTokenLifetimes(t *testing.T) {
	_, c, s := withPublicApp(t)
	get := func(scope string) string {
		_, tok := redeem(t, s, tenantA, authorize(t, s, url.Values{"scope": {"launch/patient patient/Observation.read " + scope}}))
		return tok["refresh_token"].(string)
	}
	online, offline := get("online_access"), get("offline_access")
	c.advance(smart.OnlineLife)
	if status, m := refreshWith(t, s, online, "app", ""); status != http.StatusBadRequest || m["error"] != "invalid_grant" {
		t.Fatalf("online_access after its life: %d %v", status, m)
	}
	if status, m := refreshWith(t, s, offline, "app", ""); status != http.StatusOK {
		t.Fatalf("offline_access within its life: %d %v", status, m)
	}
}

// A confidential client's refresh needs its client assertion, as its code
// exchange does.
func TestRefreshConfidentialNeedsAssertion(t *testing.T) {
	st := openStore(t, t.TempDir())
	defer st.Close()
	c := &clock{t: time.Now().Truncate(time.Second)}
	s := instance(st, c)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	app := publicApp
	app.Key = &jose.JSONWebKey{Key: key.Public(), Algorithm: string(jose.ES256)}
	if err := s.Put(context.Background(), tenantA, app); err != nil {
		t.Fatal(err)
	}
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, nil)
	assert := func(jti string) string {
		a, _ := jwt.Signed(signer).Claims(jwt.Claims{Issuer: "app", Subject: "app", Audience: jwt.Audience{tokenURL},
			Expiry: jwt.NewNumericDate(c.now().Add(time.Minute)), ID: jti}).Serialize()
		return a
	}
	v, _ := pkce()
	status, tok := token(t, s, tenantA, url.Values{"grant_type": {"authorization_code"},
		"code":         {authorize(t, s, url.Values{"scope": {"launch/patient patient/Observation.read offline_access"}})},
		"redirect_uri": {redirect}, "client_id": {"app"}, "code_verifier": {v},
		"client_assertion_type": {clientauth.AssertionType}, "client_assertion": {assert("j1")}})
	if status != http.StatusOK || tok["refresh_token"] == nil {
		t.Fatalf("confidential code exchange: %d %v", status, tok)
	}
	if status, m := refreshWith(t, s, tok["refresh_token"].(string), "app", ""); status != http.StatusUnauthorized || m["error"] != "invalid_client" {
		t.Fatalf("refresh without an assertion: %d %v", status, m)
	}
	status, tok = token(t, s, tenantA, url.Values{"grant_type": {"authorization_code"},
		"code":         {authorize(t, s, url.Values{"scope": {"launch/patient patient/Observation.read offline_access"}})},
		"redirect_uri": {redirect}, "client_id": {"app"}, "code_verifier": {v},
		"client_assertion_type": {clientauth.AssertionType}, "client_assertion": {assert("j2")}})
	if status != http.StatusOK {
		t.Fatalf("second code exchange: %d %v", status, tok)
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}, "client_id": {"app"},
		"client_assertion_type": {clientauth.AssertionType}, "client_assertion": {assert("j3")}}
	if status, m := token(t, s, tenantA, form); status != http.StatusOK || m["refresh_token"] == nil {
		t.Fatalf("refresh with an assertion: %d %v", status, m)
	}
}
