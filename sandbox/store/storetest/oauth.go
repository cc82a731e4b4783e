package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/store"
)

func testClients(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := store.Client{Tenant: "a", Kind: "vkp", ID: "app", Orgs: []string{"312345674", "398765432", "312345674"}, Body: []byte(`{"v":1}`)}
	if err := s.PutClient(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, err := s.Client(ctx, "a", "vkp", "app")
	if err != nil || string(got.Body) != `{"v":1}` || !slices.Equal(got.Orgs, []string{"312345674", "398765432"}) {
		t.Fatalf("Client = %+v, %v", got, err)
	}
	// Scoped by tenant and by kind: the same id elsewhere is another client.
	for _, k := range [][2]string{{"b", "vkp"}, {"a", "smart"}} {
		if _, err := s.Client(ctx, k[0], k[1], "app"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Client(%s, %s) sees a's vkp client: %v", k[0], k[1], err)
		}
	}
	if err := s.PutClient(ctx, store.Client{Tenant: "b", Kind: "vkp", ID: "app", Orgs: []string{"312345674"}, Body: []byte(`{"b":1}`)}); err != nil {
		t.Fatal(err)
	}
	if ids, err := s.ClientsForOrg(ctx, "a", "vkp", "312345674"); err != nil || !slices.Equal(ids, []string{"app"}) {
		t.Fatalf("ClientsForOrg(a) = %v, %v", ids, err)
	}
	// Replacing drops orgs the client no longer names, in a only.
	a.Orgs, a.Body = []string{"398765432"}, []byte(`{"v":2}`)
	if err := s.PutClient(ctx, a); err != nil {
		t.Fatal(err)
	}
	if ids, _ := s.ClientsForOrg(ctx, "a", "vkp", "312345674"); len(ids) != 0 {
		t.Fatalf("a's replaced client still listed for its old org: %v", ids)
	}
	if ids, _ := s.ClientsForOrg(ctx, "b", "vkp", "312345674"); !slices.Equal(ids, []string{"app"}) {
		t.Fatalf("replacing a's client changed b's: %v", ids)
	}
	if got, _ := s.Client(ctx, "a", "vkp", "app"); string(got.Body) != `{"v":2}` {
		t.Fatalf("replaced body %s", got.Body)
	}
	// The bound: MaxClients of a kind per tenant; replacing stays allowed,
	// and other kinds and tenants are not counted.
	for i := 1; i < store.MaxClients; i++ {
		if err := s.PutClient(ctx, store.Client{Tenant: "a", Kind: "vkp", ID: fmt.Sprintf("c%03d", i), Body: []byte(`{}`)}); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}
	if err := s.PutClient(ctx, store.Client{Tenant: "a", Kind: "vkp", ID: "one-more", Body: []byte(`{}`)}); !errors.Is(err, store.ErrLimit) {
		t.Fatalf("client %d: %v, want ErrLimit", store.MaxClients+1, err)
	}
	if err := s.PutClient(ctx, a); err != nil {
		t.Fatalf("replacing at the limit: %v", err)
	}
	if err := s.PutClient(ctx, store.Client{Tenant: "a", Kind: "smart", ID: "one-more", Body: []byte(`{}`)}); err != nil {
		t.Fatalf("another kind at the limit: %v", err)
	}
}

func testGrants(t *testing.T, s store.Store) {
	ctx := context.Background()
	g := store.Grant{Key: "k1", Tenant: "a", Kind: "smart-code", Data: []byte(`{"p":"x"}`), Expires: t0.Add(time.Minute)}
	if err := s.PutGrant(ctx, g); err != nil {
		t.Fatal(err)
	}
	if err := s.PutGrant(ctx, store.Grant{Key: "k1", Tenant: "b", Kind: "jti", Expires: t0}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("a taken key: %v, want ErrExists", err)
	}
	got, err := s.Grant(ctx, "k1")
	if err != nil || got.Tenant != "a" || got.Kind != "smart-code" || string(got.Data) != `{"p":"x"}` || !got.Expires.Equal(g.Expires) {
		t.Fatalf("Grant = %+v, %v", got, err)
	}
	// Taking is scoped: another tenant or kind cannot take it, and it stays.
	if _, err := s.TakeGrant(ctx, "b", "smart-code", "k1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("tenant b took a's grant: %v", err)
	}
	if _, err := s.TakeGrant(ctx, "a", "smart-token", "k1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("took a code as a token: %v", err)
	}
	// Single use, even when many take at once: rounds of racing takers,
	// released together, of which exactly one may win each round.
	if _, err := s.TakeGrant(ctx, "a", "smart-code", "k1"); err != nil {
		t.Fatalf("TakeGrant: %v", err)
	}
	const rounds, takers = 20, 8
	for round := range rounds {
		key := fmt.Sprintf("race%d", round)
		if err := s.PutGrant(ctx, store.Grant{Key: key, Tenant: "a", Kind: "smart-code", Data: []byte(`{}`), Expires: t0}); err != nil {
			t.Fatal(err)
		}
		var wins, losses int
		var mu sync.Mutex
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range takers {
			wg.Go(func() {
				<-start
				_, err := s.TakeGrant(ctx, "a", "smart-code", key)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case errors.Is(err, store.ErrNotFound):
					losses++
				default:
					t.Errorf("TakeGrant: %v", err)
				}
			})
		}
		close(start)
		wg.Wait()
		if wins != 1 || losses != takers-1 {
			t.Fatalf("round %d: %d takers won, %d lost; want 1 and %d", round, wins, losses, takers-1)
		}
	}
	if _, err := s.Grant(ctx, "k1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a taken grant is still there: %v", err)
	}
	// Expired grants are returned (the caller tells expired from unknown)
	// until pruned; pruning keeps what has not expired.
	old := store.Grant{Key: "old", Tenant: "a", Kind: "smart-token", Expires: t0.Add(-time.Second)}
	fresh := store.Grant{Key: "fresh", Tenant: "a", Kind: "smart-token", Expires: t0.Add(time.Hour)}
	for _, x := range []store.Grant{old, fresh} {
		if err := s.PutGrant(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.Grant(ctx, "old"); err != nil || !got.Expires.Equal(old.Expires) {
		t.Fatalf("expired grant before pruning: %+v, %v", got, err)
	}
	if err := s.PruneGrants(ctx, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Grant(ctx, "old"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("pruned grant: %v", err)
	}
	if _, err := s.Grant(ctx, "fresh"); err != nil {
		t.Fatalf("pruning took a grant that has not expired: %v", err)
	}
}

// testClearOAuth: Tx.Clear (a tenant reset) forgets the tenant's clients
// and grants, and nothing of another tenant's.
func testClearOAuth(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, tn := range []string{"a", "b"} {
		if err := s.PutClient(ctx, store.Client{Tenant: tn, Kind: "smart", ID: "app", Orgs: []string{"312345674"}, Body: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutGrant(ctx, store.Grant{Key: "tok-" + tn, Tenant: tn, Kind: "smart-token", Expires: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Update(ctx, "a", func(tx store.Tx) error { return tx.Clear(ctx) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client(ctx, "a", "smart", "app"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a's client survived clear: %v", err)
	}
	if ids, _ := s.ClientsForOrg(ctx, "a", "smart", "312345674"); len(ids) != 0 {
		t.Fatalf("a's client orgs survived clear: %v", ids)
	}
	if _, err := s.Grant(ctx, "tok-a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a's grant survived clear: %v", err)
	}
	if _, err := s.Client(ctx, "b", "smart", "app"); err != nil {
		t.Fatalf("clearing a took b's client: %v", err)
	}
	if _, err := s.Grant(ctx, "tok-b"); err != nil {
		t.Fatalf("clearing a took b's grant: %v", err)
	}
}
