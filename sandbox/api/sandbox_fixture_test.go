package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/sandkasse/sandkasse/sandbox/epr"
	"github.com/sandkasse/sandkasse/sandbox/store"
	"github.com/sandkasse/sandkasse/sandbox/store/sqlite"
	"github.com/sandkasse/sandkasse/sandbox/tenant"
	"github.com/sandkasse/sandkasse/sandbox/traffic"
	"github.com/sandkasse/sandkasse/validator"
)

var (
	sharedV     *validator.Validator
	sharedVOnce sync.Once
)

func testValidator(t testing.TB) *validator.Validator {
	sharedVOnce.Do(func() {
		v, err := validator.New(validator.Options{})
		if err != nil {
			t.Fatal(err)
		}
		sharedV = v
	})
	return sharedV
}

// sandboxFixture is the whole sandbox on an embedded store in a temp dir.
type sandboxFixture struct {
	h       http.Handler
	st      store.Store
	tenants *tenant.Service
	rec     *traffic.Recorder
	logs    *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newSandbox(t testing.TB, patients int) *sandboxFixture {
	t.Helper()
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	v := testValidator(t)
	f := &sandboxFixture{st: st, logs: &syncBuffer{}}
	// A fixed seed: the tests read the seeded population (observations to
	// page through, a heart rate to search for), which a random one may
	// lack.
	f.tenants = tenant.New(tenant.Options{Store: st, Patients: patients, Days: 3, Seed: 1})
	f.rec = traffic.New(st)
	t.Cleanup(func() { f.rec.Close(); st.Close() })
	f.h = New(Config{Validator: v, MaxBodyBytes: 1 << 20, Logger: slog.New(slog.NewJSONHandler(f.logs, nil)), Sandbox: &Sandbox{
		EPR:        epr.New(epr.Options{Store: st, Validator: v}),
		Tenants:    f.tenants,
		Auth:       f.tenants,
		Traffic:    f.rec,
		AdminToken: "admin-secret",
	}})
	return f
}

func (f *sandboxFixture) tenant(t testing.TB, name string) tenant.Created {
	t.Helper()
	c, err := f.tenants.Create(context.Background(), tenant.Spec{Name: name, Org: "312345676"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type fhirResp struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

func (r fhirResp) issueCodes() []string {
	var out []string
	issues, _ := r.json["issue"].([]any)
	for _, i := range issues {
		m := i.(map[string]any)
		d, _ := m["details"].(map[string]any)
		cs, _ := d["coding"].([]any)
		for _, c := range cs {
			out = append(out, c.(map[string]any)["code"].(string))
		}
	}
	return out
}

func (r fhirResp) str(path ...string) string {
	var cur any = r.json
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = m[p]
	}
	switch v := cur.(type) {
	case string:
		return v
	case float64:
		b, _ := json.Marshal(v)
		return string(b)
	}
	return ""
}

func (r fhirResp) entries() []map[string]any {
	var out []map[string]any
	es, _ := r.json["entry"].([]any)
	for _, e := range es {
		out = append(out, e.(map[string]any))
	}
	return out
}

func (f *sandboxFixture) do(t testing.TB, token, method, path, body string, hdr ...string) fhirResp {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	r := fhirResp{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
	if len(r.body) > 0 && r.body[0] == '{' && strings.Contains(rec.Header().Get("Content-Type"), "json") {
		if err := json.Unmarshal(r.body, &r.json); err != nil {
			t.Fatalf("%s %s: body is not JSON: %v\n%s", method, path, err, r.body)
		}
	}
	return r
}
