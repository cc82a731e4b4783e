package tenant

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/store"
)

// listStore has the tenants it is told about and counts look-ups.
type listStore struct {
	store.Store
	mu      sync.Mutex
	tenants map[string]bool
	lookups int
}

func (l *listStore) Tenant(_ context.Context, id string) (store.Tenant, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lookups++
	if l.tenants[id] || strings.HasPrefix(id, "many-") {
		return store.Tenant{ID: id}, nil
	}
	return store.Tenant{}, store.ErrNotFound
}

func (l *listStore) set(id string, exists bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tenants[id] = exists
}

func TestKnown(t *testing.T) {
	ctx := context.Background()
	st := &listStore{tenants: map[string]bool{}}
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	s := New(Options{Store: st, Now: func() time.Time { return now }})

	if ok, err := s.Known(ctx, "madeup"); ok || err != nil {
		t.Fatalf("a made-up tenant: %v, %v", ok, err)
	}
	// A miss is not remembered: a tenant created since (here, or by
	// another instance) is known at once.
	st.set("madeup", true)
	if ok, _ := s.Known(ctx, "madeup"); !ok {
		t.Fatal("a tenant created after a miss is not known")
	}
	// A hit is remembered for KnownFor: no look-up per request.
	before := st.lookups
	for range 100 {
		s.Known(ctx, "madeup")
	}
	if st.lookups != before {
		t.Fatalf("%d look-ups for a known tenant within KnownFor", st.lookups-before)
	}
	// A tenant gone from the store is forgotten once KnownFor has passed,
	// not kept forever.
	st.set("madeup", false)
	now = now.Add(KnownFor)
	if ok, _ := s.Known(ctx, "madeup"); ok {
		t.Fatal("a tenant gone from the store is still known after KnownFor")
	}
	// A clock set back does not stretch a positive either.
	st.set("back", true)
	s.Known(ctx, "back")
	st.set("back", false)
	now = now.Add(-time.Hour)
	if ok, _ := s.Known(ctx, "back"); ok {
		t.Fatal("a positive survived the clock going back")
	}
	// Ids no tenant can have are not looked up.
	before = st.lookups
	if ok, _ := s.Known(ctx, strings.Repeat("x", 1000)); ok || st.lookups != before {
		t.Fatal("an id of 1000 characters was looked up")
	}
}

func TestKnownBounded(t *testing.T) {
	ctx := context.Background()
	st := &listStore{tenants: map[string]bool{}}
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	s := New(Options{Store: st, Now: func() time.Time { return now }})
	for i := range 3 * MaxKnown {
		if ok, _ := s.Known(ctx, fmt.Sprintf("many-%d", i)); !ok {
			t.Fatal("an existing tenant is not known")
		}
		if i%1000 == 0 {
			now = now.Add(time.Second)
		}
	}
	if n := len(s.known); n > MaxKnown {
		t.Fatalf("the cache holds %d ids, more than MaxKnown %d", n, MaxKnown)
	}
}
