package traffic

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/store"
	"github.com/sandkasse/sandkasse/sandbox/store/sqlite"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.CreateTenant(context.Background(), store.Tenant{ID: "t1", Name: "t", Org: "974760673", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return st
}

func stored(t *testing.T, st store.Store, tenant string) []store.Exchange {
	t.Helper()
	var all []store.Exchange
	var after int64
	for {
		xs, err := st.Traffic(context.Background(), tenant, after, 500)
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

// Unauthenticated exchanges: per tenant and minute, the first ones whole,
// then without bodies, then none; the next minute starts again, and an
// authenticated exchange is never held to it.
func TestAnonymousBoundedPerMinute(t *testing.T) {
	st := openStore(t)
	clk := &clock{t: time.Date(2026, 11, 22, 10, 0, 5, 0, time.UTC)}
	r := NewWith(st, Options{Logger: slog.New(slog.DiscardHandler), AnonymousWhole: 3, AnonymousPerMinute: 5, Now: clk.now})
	defer r.Close()
	for range 9 {
		r.RecordAnonymous(exchange("/anon", 0))
	}
	r.Record(exchange("/authed", 0))
	clk.add(time.Minute)
	r.RecordAnonymous(exchange("/next-minute", 0))
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	xs := stored(t, st, "t1")
	var whole, bare int
	for _, x := range xs {
		switch {
		case x.Path == "/anon" && !x.Truncated && len(x.RequestBody) > 0:
			whole++
		case x.Path == "/anon" && x.Truncated && len(x.RequestBody) == 0 && len(x.ResponseBody) == 0:
			bare++
		case x.Path == "/anon":
			t.Errorf("unexpected anonymous record: truncated %v, body %d bytes", x.Truncated, len(x.RequestBody))
		}
	}
	if whole != 3 || bare != 2 || len(xs) != 7 {
		t.Fatalf("stored %d (whole %d, without bodies %d), want 7 (3, 2, and the authenticated one and the next minute's)", len(xs), whole, bare)
	}
	if xs[5].Path != "/authed" || len(xs[5].RequestBody) == 0 || xs[6].Path != "/next-minute" || xs[6].Truncated {
		t.Fatalf("the authenticated exchange or the next minute's was held back: %s %s", xs[5].Path, xs[6].Path)
	}
	if r.Dropped() != 4 || r.BodiesDropped() != 2 {
		t.Fatalf("dropped %d, bodies dropped %d; want 4, 2", r.Dropped(), r.BodiesDropped())
	}
}

// The bound is per tenant: one tenant's flood leaves another's allowance.
func TestAnonymousBoundPerTenant(t *testing.T) {
	st := openStore(t)
	if err := st.CreateTenant(context.Background(), store.Tenant{ID: "t2", Name: "t", Org: "974760673", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	r := NewWith(st, Options{Logger: slog.New(slog.DiscardHandler), AnonymousWhole: 1, AnonymousPerMinute: 1})
	defer r.Close()
	for range 5 {
		r.RecordAnonymous(exchange("/flood", 0))
	}
	other := exchange("/other", 0)
	other.Tenant = "t2"
	r.RecordAnonymous(other)
	r.Flush(context.Background())
	if n1, n2 := len(stored(t, st, "t1")), len(stored(t, st, "t2")); n1 != 1 || n2 != 1 {
		t.Fatalf("stored %d for the flooding tenant and %d for the other; want 1 and 1", n1, n2)
	}
}

// Retention: a tenant keeps its newest KeepPerTenant exchanges, pruned as
// they are written.
func TestRetentionPerTenant(t *testing.T) {
	st := openStore(t)
	r := NewWith(st, Options{Logger: slog.New(slog.DiscardHandler), KeepPerTenant: 20})
	defer r.Close()
	for i := range 75 {
		x := exchange("/x", 0)
		x.Status = i
		r.Record(x)
		if i%10 == 0 {
			r.Flush(context.Background()) // several batches, as on a live server
		}
	}
	r.Flush(context.Background())
	xs := stored(t, st, "t1")
	if len(xs) > 20+20/10 {
		t.Fatalf("a tenant with a retention of 20 holds %d exchanges", len(xs))
	}
	if last := xs[len(xs)-1].Status; last != 74 {
		t.Fatalf("the newest exchange kept is #%d, want #74", last)
	}
}

// The minute counters are bounded: past maxAnonTenants in one minute, a
// tenant without a counter is kept without bodies; the next minute the old
// counters go.
func TestAnonymousCountersBounded(t *testing.T) {
	st := &gateStore{gate: make(chan struct{})}
	close(st.gate)
	clk := &clock{t: time.Date(2026, 11, 22, 10, 0, 5, 0, time.UTC)}
	r := NewWith(st, Options{Logger: slog.New(slog.DiscardHandler), AnonymousWhole: 2, AnonymousPerMinute: 4, Now: clk.now})
	defer r.Close()
	for i := range maxAnonTenants {
		if n := r.countAnonymous(fmt.Sprint("t", i)); n != 1 {
			t.Fatalf("tenant %d: count %d", i, n)
		}
	}
	if n := r.countAnonymous("one-more"); n != 3 || len(r.anon) != maxAnonTenants {
		t.Fatalf("past the bound: count %d (want 3: without bodies), %d counters", n, len(r.anon))
	}
	clk.add(time.Minute)
	if n := r.countAnonymous("one-more"); n != 1 || len(r.anon) != 1 {
		t.Fatalf("next minute: count %d, %d counters; want 1, 1", n, len(r.anon))
	}
}
