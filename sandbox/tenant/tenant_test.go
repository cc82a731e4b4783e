package tenant_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/auth"
	"github.com/sandkasse/sandkasse/sandbox/store"
	"github.com/sandkasse/sandkasse/sandbox/store/sqlite"
	"github.com/sandkasse/sandkasse/sandbox/tenant"
)

func newService(t *testing.T, now func() time.Time) (*tenant.Service, store.Store) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return tenant.New(tenant.Options{Store: st, Patients: 2, Days: 1, Seed: 7, Now: now, TokenTTL: time.Hour}), st
}

func TestCreateRefusesBadInput(t *testing.T) {
	s, _ := newService(t, nil)
	for _, c := range []struct{ name, org string }{{"", "312345676"}, {"  ", "312345676"}, {"A", "31234567"}, {"A", "31234567x"}, {"A", "312345674"}, {"A", "314159265"}} {
		if _, err := s.Create(context.Background(), tenant.Spec{Name: c.name, Org: c.org}); !errors.Is(err, tenant.ErrInvalid) {
			t.Errorf("Create(%q, %q): %v, want ErrInvalid", c.name, c.org, err)
		}
	}
	if ts, _ := s.List(context.Background()); len(ts) != 0 {
		t.Fatalf("a refused tenant was stored: %v", ts)
	}
	// The message says what is wrong with the number, not only that it is.
	if _, err := s.Create(context.Background(), tenant.Spec{Name: "A", Org: "312345674"}); err == nil || !strings.Contains(err.Error(), "mod-11") || !strings.Contains(err.Error(), "312345674") {
		t.Errorf("invalid control digit: %v, want a message naming the mod-11 check and the number", err)
	}
}

// The vendor's number is optional, checked like the municipality's when
// given, and kept apart from it.
func TestCreateVendorOrg(t *testing.T) {
	s, st := newService(t, nil)
	ctx := context.Background()
	_, err := s.Create(ctx, tenant.Spec{Name: "A", Org: "312345676", VendorOrg: "312345674"})
	if !errors.Is(err, tenant.ErrInvalid) || !strings.Contains(err.Error(), "vendor") || !strings.Contains(err.Error(), "mod-11") {
		t.Fatalf("an invalid vendor number: %v, want ErrInvalid naming the vendor and the check", err)
	}
	c, err := s.Create(ctx, tenant.Spec{Name: "A", Org: "312345676", VendorOrg: "974760673"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.Tenant(ctx, c.Tenant.ID)
	if err != nil || got.Org != "312345676" || got.VendorOrg != "974760673" {
		t.Fatalf("stored tenant %+v, %v", got, err)
	}
	plain, err := s.Create(ctx, tenant.Spec{Name: "B", Org: "312345676"})
	if err != nil || plain.Tenant.VendorOrg != "" {
		t.Fatalf("without a vendor number: %+v, %v", plain.Tenant, err)
	}
}

// Reset restores the seed and forgets the tenant's OAuth state, and only
// that tenant's; the developer token stays.
func TestResetRestoresSeedAndForgetsOAuth(t *testing.T) {
	s, st := newService(t, nil)
	ctx := context.Background()
	a, err := s.Create(ctx, tenant.Spec{Name: "A", Org: "312345676"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Create(ctx, tenant.Spec{Name: "B", Org: "312345676"})
	if err != nil {
		t.Fatal(err)
	}
	all := store.Query{Type: "Patient", Count: 100, Total: true}
	seeded, err := st.Search(ctx, a.Tenant.ID, all)
	if err != nil || seeded.Total != 2 {
		t.Fatalf("seeded patients: %d, %v", seeded.Total, err)
	}
	err = st.Update(ctx, a.Tenant.ID, func(tx store.Tx) error {
		return tx.Put(ctx, store.Resource{Type: "Patient", ID: "extra", Version: 1, Body: []byte(`{}`)}, nil, 0)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{a.Tenant.ID, b.Tenant.ID} {
		if err := st.PutClient(ctx, store.Client{Tenant: id, Kind: "smart", ID: "app", Body: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
		if err := st.PutGrant(ctx, store.Grant{Key: "tok-" + id, Tenant: id, Kind: "smart-token", Expires: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Reset(ctx, a.Tenant.ID); err != nil {
		t.Fatal(err)
	}
	after, _ := st.Search(ctx, a.Tenant.ID, all)
	if after.Total != 2 {
		t.Fatalf("patients after reset: %d, want the 2 seeded", after.Total)
	}
	for i := range after.Resources {
		if after.Resources[i].ID != seeded.Resources[i].ID {
			t.Fatalf("reset seeded other patients: %s, was %s", after.Resources[i].ID, seeded.Resources[i].ID)
		}
	}
	if _, err := st.Client(ctx, a.Tenant.ID, "smart", "app"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("A's client after reset: %v", err)
	}
	if _, err := st.Grant(ctx, "tok-"+a.Tenant.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("A's token after reset: %v", err)
	}
	if _, err := st.Client(ctx, b.Tenant.ID, "smart", "app"); err != nil {
		t.Errorf("B's client after A's reset: %v", err)
	}
	if _, err := st.Grant(ctx, "tok-"+b.Tenant.ID); err != nil {
		t.Errorf("B's token after A's reset: %v", err)
	}
	if p, err := s.Authenticate(ctx, a.Token); err != nil || p.Tenant != a.Tenant.ID {
		t.Errorf("A's developer token after reset: %+v %v", p, err)
	}
	if err := s.Reset(ctx, "nosuch"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("reset of no tenant: %v", err)
	}
}

func TestDeveloperTokens(t *testing.T) {
	clock := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s, _ := newService(t, func() time.Time { return clock })
	ctx := context.Background()
	a, err := s.Create(ctx, tenant.Spec{Name: "A", Org: "312345676"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Authenticate(ctx, a.Token)
	if err != nil || p.Tenant != a.Tenant.ID || p.Kind != "developer" {
		t.Fatalf("Authenticate: %+v %v", p, err)
	}
	for tok, want := range map[string]error{"": auth.ErrNoToken, "skdev_unknown": auth.ErrBadToken, "other_prefix": auth.ErrBadToken} {
		if _, err := s.Authenticate(ctx, tok); !errors.Is(err, want) {
			t.Errorf("Authenticate(%q): %v, want %v", tok, err, want)
		}
	}
	clock = clock.Add(time.Hour)
	if _, err := s.Authenticate(ctx, a.Token); !errors.Is(err, auth.ErrExpired) {
		t.Errorf("a token past its life: %v", err)
	}
}
