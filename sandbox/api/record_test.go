package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/epr"
	"github.com/sandkasse/sandkasse/sandbox/store"
	"github.com/sandkasse/sandkasse/sandbox/traffic"
)

func storedTraffic(t *testing.T, f *sandboxFixture, tenant string) []store.Exchange {
	t.Helper()
	if err := f.rec.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var all []store.Exchange
	var after int64
	for {
		xs, err := f.st.Traffic(context.Background(), tenant, after, 500)
		if err != nil {
			t.Fatal(err)
		}
		if len(xs) == 0 {
			return all
		}
		all = append(all, xs...)
		after = xs[len(xs)-1].Seq
	}
}

// A FHIR request to a tenant id that does not exist is answered as before
// and not stored: made-up ids cannot grow the traffic table. The same
// request to a tenant that exists is stored, refused or not.
func TestFHIRTrafficOnlyForTenantsThatExist(t *testing.T) {
	f := newSandbox(t, 1)
	a := f.tenant(t, "A")
	for _, id := range []string{"madeup", "madeup2"} {
		if r := f.do(t, "", "GET", "/t/"+id+"/fhir/Patient?access_token=x", ""); r.status != http.StatusUnauthorized {
			t.Fatalf("unknown tenant: %d", r.status)
		}
		if r := f.do(t, "", "POST", "/t/"+id+"/fhir/Patient", newPatient); r.status != http.StatusUnauthorized {
			t.Fatalf("unknown tenant: %d", r.status)
		}
		if xs := storedTraffic(t, f, id); len(xs) != 0 {
			t.Fatalf("%d exchanges stored for a tenant that does not exist", len(xs))
		}
	}
	if r := f.do(t, "", "GET", "/t/"+a.Tenant.ID+"/fhir/Patient?access_token=x", ""); r.status != http.StatusUnauthorized {
		t.Fatalf("no token: %d", r.status)
	}
	if xs := storedTraffic(t, f, a.Tenant.ID); len(xs) != 1 || xs[0].Query != "access_token=%5Bredacted%5D" {
		t.Fatalf("the refused request of an existing tenant: %d stored, %+v", len(xs), xs)
	}
}

// Unauthenticated FHIR requests go through the recorder's per-tenant
// bounds; authenticated ones do not.
func TestFHIRAnonymousTrafficBounded(t *testing.T) {
	f := newSandbox(t, 1)
	// A stopped clock: the bound is per clock minute, and the requests must
	// not straddle two.
	stopped := time.Date(2026, 11, 22, 10, 0, 30, 0, time.UTC)
	f.rec.Close() // the fixture's, replaced
	f.rec = traffic.NewWith(f.st, traffic.Options{Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return stopped }})
	v := testValidator(t)
	f.h = New(Config{Validator: v, MaxBodyBytes: 1 << 20, Logger: slog.New(slog.DiscardHandler), Sandbox: &Sandbox{
		EPR: epr.New(epr.Options{Store: f.st, Validator: v}), Tenants: f.tenants, Auth: f.tenants, Traffic: f.rec}})
	a := f.tenant(t, "A")
	base := "/t/" + a.Tenant.ID + "/fhir"
	for range traffic.AnonymousWhole + 5 {
		f.do(t, "", "GET", base+"/Patient", "")
	}
	f.do(t, a.Token, "GET", base+"/Patient?_count=1", "")
	xs := storedTraffic(t, f, a.Tenant.ID)
	if len(xs) != traffic.AnonymousWhole+6 {
		t.Fatalf("%d stored, want %d", len(xs), traffic.AnonymousWhole+6)
	}
	for i, x := range xs[:len(xs)-1] {
		if whole := i < traffic.AnonymousWhole; whole == x.Truncated || whole != (len(x.ResponseBody) > 0) {
			t.Fatalf("anonymous exchange %d: truncated %v, %d body bytes", i, x.Truncated, len(x.ResponseBody))
		}
	}
	if last := xs[len(xs)-1]; last.Truncated || len(last.ResponseBody) == 0 {
		t.Fatal("an authenticated exchange was held to the anonymous bound")
	}
}

// POST _search takes its parameters as a form, where RFC 6750 lets a
// client put its access token: it is redacted there as in the URL.
func TestFHIRSearchFormRedacted(t *testing.T) {
	f := newSandbox(t, 1)
	a := f.tenant(t, "A")
	req := httptest.NewRequest("POST", "/t/"+a.Tenant.ID+"/fhir/Patient/_search", strings.NewReader("access_token="+a.Token+"&gender=female&code=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+a.Token)
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	xs := storedTraffic(t, f, a.Tenant.ID)
	if len(xs) != 1 {
		t.Fatalf("%d stored (status %d)", len(xs), rec.Code)
	}
	if body := string(xs[0].RequestBody); strings.Contains(body, a.Token) || body != "access_token=%5Bredacted%5D&gender=female&code=x" {
		t.Fatalf("form recorded as %q", body)
	}
}
