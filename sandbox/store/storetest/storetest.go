// Package storetest is the conformance suite every store.Store back end
// must pass: the same tests run against SQLite and PostgreSQL.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/store"
)

// Open returns a new, empty store for one test; the suite closes it.
type Open func(t *testing.T) store.Store

// Run runs the suite.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Tenants", testTenants},
		{"Tokens", testTokens},
		{"ReadWrite", testReadWrite},
		{"Isolation", testIsolation},
		{"Atomic", testAtomic},
		{"Search", testSearch},
		{"SortPageInclude", testSortPageInclude},
		{"PageBytes", testPageBytes},
		{"Traffic", testTraffic},
		{"ConcurrentWriters", testConcurrent},
		{"SearchThenCreate", testSearchThenCreate},
		{"Clear", testClear},
		{"Clients", testClients},
		{"Grants", testGrants},
		{"ClearForgetsOAuth", testClearOAuth},
		{"Runs", testRuns},
		{"RunCertificates", testRunCertificates},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			defer s.Close()
			tt.fn(t, s)
		})
	}
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func testTenants(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := store.Tenant{ID: "a1", Name: "Vendor A", Org: "312345674", VendorOrg: "974760673", Seed: 1<<63 + 5, Created: t0}
	b := store.Tenant{ID: "b2", Name: "Vendor B", Org: "398765432", Seed: 2, Created: t0.Add(time.Second)}
	for _, tn := range []store.Tenant{a, b} {
		if err := s.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateTenant(ctx, store.Tenant{ID: "a1", Name: "again", Created: t0}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("duplicate tenant: got %v, want ErrExists", err)
	}
	got, err := s.Tenant(ctx, "a1")
	if err != nil || got != a {
		t.Fatalf("Tenant(a1) = %+v, %v; want %+v", got, err, a)
	}
	if _, err := s.Tenant(ctx, "zz"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing tenant: %v", err)
	}
	all, err := s.Tenants(ctx)
	if err != nil || len(all) != 2 || all[0] != a || all[1] != b {
		t.Fatalf("Tenants = %+v, %v", all, err)
	}
}

func testTokens(t *testing.T, s store.Store) {
	ctx := context.Background()
	tok := store.Token{Hash: "ab12", Tenant: "a1", Kind: "developer", Scopes: []string{"system/*.*", "openid"}, Created: t0, Expires: t0.Add(time.Hour)}
	if err := s.PutToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	got, err := s.Token(ctx, "ab12")
	if err != nil || got.Tenant != "a1" || !slices.Equal(got.Scopes, tok.Scopes) || !got.Expires.Equal(tok.Expires) || !got.Created.Equal(t0) {
		t.Fatalf("Token = %+v, %v", got, err)
	}
	if _, err := s.Token(ctx, "AB12"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("token lookup must be exact: %v", err)
	}
	never := store.Token{Hash: "cd34", Tenant: "b2", Kind: "developer", Created: t0}
	if err := s.PutToken(ctx, never); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Token(ctx, "cd34"); err != nil || !got.Expires.IsZero() || len(got.Scopes) != 0 {
		t.Fatalf("Token(never) = %+v, %v", got, err)
	}
}

func res(typ, id string, v int64, body string) store.Resource {
	return store.Resource{Type: typ, ID: id, Version: v, Updated: t0.Add(time.Duration(v) * time.Minute), Body: []byte(body)}
}

func put(t *testing.T, s store.Store, tenant string, r store.Resource, idx []store.Index, prev int64) error {
	t.Helper()
	return s.Update(context.Background(), tenant, func(tx store.Tx) error {
		return tx.Put(context.Background(), r, idx, prev)
	})
}

func testReadWrite(t *testing.T, s store.Store) {
	ctx := context.Background()
	if err := put(t, s, "a", res("Patient", "p1", 1, `{"v":1}`), nil, 0); err != nil {
		t.Fatal(err)
	}
	r, err := s.Read(ctx, "a", "Patient", "p1")
	if err != nil || r.Version != 1 || string(r.Body) != `{"v":1}` || r.Deleted || !r.Updated.Equal(t0.Add(time.Minute)) {
		t.Fatalf("Read = %+v, %v", r, err)
	}
	if err := put(t, s, "a", res("Patient", "p1", 1, `{"again":1}`), nil, 0); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("create of an existing id: %v, want ErrConflict", err)
	}
	if err := put(t, s, "a", res("Patient", "p1", 2, `{"v":2}`), nil, 1); err != nil {
		t.Fatal(err)
	}
	if err := put(t, s, "a", res("Patient", "p1", 2, `{"stale":1}`), nil, 1); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("update of a replaced version: %v, want ErrConflict", err)
	}
	for v, want := range map[int64]string{1: `{"v":1}`, 2: `{"v":2}`} {
		r, err := s.ReadVersion(ctx, "a", "Patient", "p1", v)
		if err != nil || string(r.Body) != want || r.Version != v {
			t.Fatalf("ReadVersion(%d) = %+v, %v", v, r, err)
		}
	}
	if _, err := s.ReadVersion(ctx, "a", "Patient", "p1", 3); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ReadVersion(3): %v", err)
	}
	if _, err := s.Read(ctx, "a", "Patient", "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Read(nope): %v", err)
	}
	if _, err := s.Read(ctx, "a", "Observation", "p1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ids are per type: %v", err)
	}
	// Delete: a version without body; search no longer finds it; the old
	// versions stay readable; a create after delete continues the versions.
	del := store.Resource{Type: "Patient", ID: "p1", Version: 3, Updated: t0.Add(3 * time.Minute), Deleted: true}
	if err := put(t, s, "a", del, nil, 2); err != nil {
		t.Fatal(err)
	}
	r, err = s.Read(ctx, "a", "Patient", "p1")
	if err != nil || !r.Deleted || r.Version != 3 || len(r.Body) != 0 {
		t.Fatalf("Read(deleted) = %+v, %v", r, err)
	}
	p, err := s.Search(ctx, "a", store.Query{Type: "Patient", Count: 10, Total: true})
	if err != nil || p.Total != 0 || len(p.Resources) != 0 {
		t.Fatalf("search finds a deleted resource: %+v, %v", p, err)
	}
	if r, err := s.ReadVersion(ctx, "a", "Patient", "p1", 2); err != nil || string(r.Body) != `{"v":2}` {
		t.Fatalf("ReadVersion(2) after delete = %+v, %v", r, err)
	}
	if err := put(t, s, "a", res("Patient", "p1", 4, `{"v":4}`), nil, 3); err != nil {
		t.Fatal(err)
	}
	// A body with every byte value survives.
	bin := make([]byte, 256)
	for i := range bin {
		bin[i] = byte(i)
	}
	if err := put(t, s, "a", store.Resource{Type: "Binary", ID: "b", Version: 1, Updated: t0, Body: bin}, nil, 0); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Read(ctx, "a", "Binary", "b"); err != nil || !slices.Equal(r.Body, bin) {
		t.Fatalf("binary body changed: %v", err)
	}
}

func testIsolation(t *testing.T, s store.Store) {
	ctx := context.Background()
	idx := []store.Index{{Param: "family", Value: "nordmann"}}
	if err := put(t, s, "a", res("Patient", "p1", 1, `{"t":"a"}`), idx, 0); err != nil {
		t.Fatal(err)
	}
	// The same type and id in another tenant is another resource.
	if err := put(t, s, "b", res("Patient", "p1", 1, `{"t":"b"}`), nil, 0); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.Read(ctx, "b", "Patient", "p1"); string(r.Body) != `{"t":"b"}` {
		t.Fatalf("tenant b reads %s", r.Body)
	}
	if _, err := s.Read(ctx, "c", "Patient", "p1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("tenant c reads a's resource: %v", err)
	}
	p, err := s.Search(ctx, "b", store.Query{Type: "Patient", Count: 10, Total: true,
		Where: []store.Clause{{Param: "family", Any: []store.Cond{{Kind: store.MatchExact, Value: "nordmann"}}}}})
	if err != nil || p.Total != 0 {
		t.Fatalf("tenant b's search finds a's index: %+v, %v", p, err)
	}
	if err := s.Update(ctx, "b", func(tx store.Tx) error { return tx.Clear(ctx) }); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Read(ctx, "a", "Patient", "p1"); err != nil || string(r.Body) != `{"t":"a"}` {
		t.Fatalf("clearing b touched a: %v", err)
	}
	if err := s.RecordTraffic(ctx, []store.Exchange{{Tenant: "a", At: t0, Method: "GET", Path: "/x", Status: 200}}); err != nil {
		t.Fatal(err)
	}
	if xs, err := s.Traffic(ctx, "b", 0, 10); err != nil || len(xs) != 0 {
		t.Fatalf("tenant b lists a's traffic: %v %v", xs, err)
	}
}

func testAtomic(t *testing.T, s store.Store) {
	ctx := context.Background()
	if err := put(t, s, "a", res("Patient", "keep", 1, `{"v":1}`), nil, 0); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := s.Update(ctx, "a", func(tx store.Tx) error {
		if err := tx.Put(ctx, res("Patient", "new", 1, `{}`), []store.Index{{Param: "name", Value: "x"}}, 0); err != nil {
			return err
		}
		if err := tx.Put(ctx, res("Patient", "keep", 2, `{"v":2}`), nil, 1); err != nil {
			return err
		}
		// Inside the transaction its own writes are visible.
		if r, err := tx.Read(ctx, "Patient", "new"); err != nil || r.Version != 1 {
			return fmt.Errorf("own write not visible: %v", err)
		}
		p, err := tx.Search(ctx, store.Query{Type: "Patient", Count: 5, Where: []store.Clause{{Param: "name", Any: []store.Cond{{Value: "x"}}}}})
		if err != nil || len(p.Resources) != 1 {
			return fmt.Errorf("own index not visible: %v", err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v", err)
	}
	if _, err := s.Read(ctx, "a", "Patient", "new"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a rolled-back create is visible: %v", err)
	}
	if r, _ := s.Read(ctx, "a", "Patient", "keep"); r.Version != 1 {
		t.Fatalf("a rolled-back update is visible: version %d", r.Version)
	}
	if _, err := s.ReadVersion(ctx, "a", "Patient", "keep", 2); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("rolled-back history: %v", err)
	}
	// A conflict inside a transaction loses the whole transaction, even if
	// fn ignores the error.
	err = s.Update(ctx, "a", func(tx store.Tx) error {
		tx.Put(ctx, res("Patient", "n2", 1, `{}`), nil, 0)
		tx.Put(ctx, res("Patient", "keep", 9, `{}`), nil, 7) // wrong prev
		return nil
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("ignored conflict: Update returned %v", err)
	}
	if _, err := s.Read(ctx, "a", "Patient", "n2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("write before a conflict survived: %v", err)
	}
}

// date is the index entry of a day.
func date(param string, y int, m time.Month, d int) store.Index {
	lo := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	return store.Index{Param: param, IsRange: true, Lo: lo.UnixMilli(), Hi: lo.AddDate(0, 0, 1).UnixMilli()}
}

func day(y int, m time.Month, d int) (int64, int64) {
	lo := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	return lo.UnixMilli(), lo.AddDate(0, 0, 1).UnixMilli()
}

func ids(p store.Page) []string {
	var out []string
	for _, r := range p.Resources {
		out = append(out, r.ID)
	}
	return out
}

func seedSearch(t *testing.T, s store.Store) {
	ctx := context.Background()
	const fnr = "urn:oid:2.16.578.1.12.4.1.4.1"
	type doc struct {
		id  string
		idx []store.Index
	}
	docs := []doc{
		{"p1", []store.Index{{Param: "family", Value: "nordmann"}, {Param: "name", Value: "nordmann"}, {Param: "name", Value: "ola"},
			{Param: "identifier", System: fnr, Value: "13821799046"}, date("birthdate", 1950, 5, 3), {Param: "gender", Value: "male"}}},
		{"p2", []store.Index{{Param: "family", Value: "nordli"}, {Param: "name", Value: "nordli"}, {Param: "name", Value: "kari"},
			{Param: "identifier", System: fnr, Value: "01894999910"}, date("birthdate", 1949, 12, 31), {Param: "gender", Value: "female"}}},
		{"p3", []store.Index{{Param: "family", Value: "hansen"}, {Param: "name", Value: "hansen"}, {Param: "name", Value: "per_%"},
			{Param: "identifier", Value: "local-7"}, date("birthdate", 1980, 1, 1)}},
	}
	err := s.Update(ctx, "a", func(tx store.Tx) error {
		for i, d := range docs {
			r := res("Patient", d.id, 1, `{}`)
			r.Updated = t0.Add(time.Duration(i) * time.Hour)
			if err := tx.Put(ctx, r, d.idx, 0); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testSearch(t *testing.T, s store.Store) {
	ctx := context.Background()
	seedSearch(t, s)
	const fnr = "urn:oid:2.16.578.1.12.4.1.4.1"
	d50lo, d50hi := day(1950, 5, 3)
	y1950lo := time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	y1950hi := time.Date(1951, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	c := func(param string, conds ...store.Cond) store.Clause { return store.Clause{Param: param, Any: conds} }
	rng := func(cmp string, lo, hi int64) store.Cond {
		return store.Cond{Kind: store.MatchRange, Cmp: cmp, Lo: lo, Hi: hi}
	}
	cases := []struct {
		name  string
		where []store.Clause
		want  []string
	}{
		{"all", nil, []string{"p1", "p2", "p3"}},
		{"exact", []store.Clause{c("family", store.Cond{Value: "nordmann"})}, []string{"p1"}},
		{"exact is whole", []store.Clause{c("family", store.Cond{Value: "nord"})}, nil},
		{"prefix", []store.Clause{c("name", store.Cond{Kind: store.MatchPrefix, Value: "nord"})}, []string{"p1", "p2"}},
		{"prefix empty", []store.Clause{c("family", store.Cond{Kind: store.MatchPrefix, Value: ""})}, []string{"p1", "p2", "p3"}},
		{"contains", []store.Clause{c("name", store.Cond{Kind: store.MatchContains, Value: "rdl"})}, []string{"p2"}},
		{"contains escapes wildcards", []store.Clause{c("name", store.Cond{Kind: store.MatchContains, Value: "_%"})}, []string{"p3"}},
		{"contains wildcard literal", []store.Clause{c("name", store.Cond{Kind: store.MatchContains, Value: "r_"})}, []string{"p3"}},
		{"or", []store.Clause{c("family", store.Cond{Value: "hansen"}, store.Cond{Value: "nordli"})}, []string{"p2", "p3"}},
		{"and", []store.Clause{c("name", store.Cond{Kind: store.MatchPrefix, Value: "nord"}), c("gender", store.Cond{Value: "female"})}, []string{"p2"}},
		{"not", []store.Clause{{Param: "gender", Not: true, Any: []store.Cond{{Value: "male"}}}}, []string{"p2", "p3"}},
		{"token system|value", []store.Clause{c("identifier", store.Cond{Kind: store.MatchToken, HasSystem: true, System: fnr, Value: "13821799046"})}, []string{"p1"}},
		{"token wrong system", []store.Clause{c("identifier", store.Cond{Kind: store.MatchToken, HasSystem: true, System: "urn:x", Value: "13821799046"})}, nil},
		{"token system|", []store.Clause{c("identifier", store.Cond{Kind: store.MatchToken, HasSystem: true, System: fnr})}, []string{"p1", "p2"}},
		{"token |value (no system)", []store.Clause{c("identifier", store.Cond{Kind: store.MatchToken, HasSystem: true, Value: "local-7"})}, []string{"p3"}},
		{"token |value has a system", []store.Clause{c("identifier", store.Cond{Kind: store.MatchToken, HasSystem: true, Value: "13821799046"})}, nil},
		{"token value", []store.Clause{c("identifier", store.Cond{Kind: store.MatchToken, Value: "01894999910"})}, []string{"p2"}},
		{"_id", []store.Clause{c("_id", store.Cond{Value: "p3"}, store.Cond{Value: "p1"})}, []string{"p1", "p3"}},
		{"_id not", []store.Clause{{Param: "_id", Not: true, Any: []store.Cond{{Value: "p3"}}}}, []string{"p1", "p2"}},
		{"date eq day", []store.Clause{c("birthdate", rng("eq", d50lo, d50hi))}, []string{"p1"}},
		{"date eq year", []store.Clause{c("birthdate", rng("eq", y1950lo, y1950hi))}, []string{"p1"}},
		{"date ne year", []store.Clause{c("birthdate", rng("ne", y1950lo, y1950hi))}, []string{"p2", "p3"}},
		{"date lt year", []store.Clause{c("birthdate", rng("lt", y1950lo, y1950hi))}, []string{"p2"}},
		{"date le year", []store.Clause{c("birthdate", rng("le", y1950lo, y1950hi))}, []string{"p1", "p2"}},
		{"date gt year", []store.Clause{c("birthdate", rng("gt", y1950lo, y1950hi))}, []string{"p3"}},
		{"date ge year", []store.Clause{c("birthdate", rng("ge", y1950lo, y1950hi))}, []string{"p1", "p3"}},
		{"date ge day", []store.Clause{c("birthdate", rng("ge", d50lo, d50hi))}, []string{"p1", "p3"}},
		{"date gt day", []store.Clause{c("birthdate", rng("gt", d50lo, d50hi))}, []string{"p3"}},
		{"date sa", []store.Clause{c("birthdate", rng("sa", y1950lo, y1950hi))}, []string{"p3"}},
		{"date eb", []store.Clause{c("birthdate", rng("eb", y1950lo, y1950hi))}, []string{"p2"}},
		{"date range", []store.Clause{c("birthdate", rng("ge", y1950lo, y1950hi)), c("birthdate", rng("lt", y1950hi, y1950hi+1))}, []string{"p1"}},
		{"_lastUpdated gt", []store.Clause{c("_lastUpdated", rng("gt", t0.UnixMilli(), t0.UnixMilli()+1))}, []string{"p2", "p3"}},
		{"_lastUpdated le", []store.Clause{c("_lastUpdated", rng("le", t0.UnixMilli(), t0.UnixMilli()+1))}, []string{"p1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := s.Search(ctx, "a", store.Query{Type: "Patient", Where: tc.where, Count: 50, Total: true})
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(p); !slices.Equal(got, tc.want) || p.Total != len(tc.want) {
				t.Fatalf("got %v (total %d), want %v", got, p.Total, tc.want)
			}
		})
	}
	if _, err := s.Search(ctx, "a", store.Query{Type: "Patient", Count: 1, Where: []store.Clause{c("birthdate", rng("xx", 0, 1))}}); err == nil {
		t.Fatal("an unknown comparator is an error")
	}
}

func testSortPageInclude(t *testing.T, s store.Store) {
	ctx := context.Background()
	seedSearch(t, s)
	sorted := func(keys ...store.SortKey) []string {
		t.Helper()
		p, err := s.Search(ctx, "a", store.Query{Type: "Patient", Count: 10, Sort: keys})
		if err != nil {
			t.Fatal(err)
		}
		return ids(p)
	}
	for _, tc := range []struct {
		keys []store.SortKey
		want []string
	}{
		{[]store.SortKey{{Param: "birthdate", Range: true}}, []string{"p2", "p1", "p3"}},
		{[]store.SortKey{{Param: "birthdate", Range: true, Desc: true}}, []string{"p3", "p1", "p2"}},
		{[]store.SortKey{{Param: "family"}}, []string{"p3", "p2", "p1"}},
		{[]store.SortKey{{Param: "gender"}}, []string{"p2", "p1", "p3"}},             // p3 has none: last
		{[]store.SortKey{{Param: "gender", Desc: true}}, []string{"p1", "p2", "p3"}}, // last either way
		{[]store.SortKey{{Param: "_lastUpdated", Desc: true}}, []string{"p3", "p2", "p1"}},
		{[]store.SortKey{{Param: "_id", Desc: true}}, []string{"p3", "p2", "p1"}},
	} {
		if got := sorted(tc.keys...); !slices.Equal(got, tc.want) {
			t.Errorf("sort %+v: got %v, want %v", tc.keys, got, tc.want)
		}
	}
	// Paging: pages are disjoint and cover everything in order.
	var all []string
	for off := 0; off < 5; off += 2 {
		p, err := s.Search(ctx, "a", store.Query{Type: "Patient", Count: 2, Offset: off, Total: true, Sort: []store.SortKey{{Param: "family"}}})
		if err != nil || p.Total != 3 {
			t.Fatalf("page at %d: %+v %v", off, p, err)
		}
		all = append(all, ids(p)...)
	}
	if !slices.Equal(all, []string{"p3", "p2", "p1"}) {
		t.Fatalf("pages: %v", all)
	}
	// Count 0 with Total: only the total.
	if p, err := s.Search(ctx, "a", store.Query{Type: "Patient", Total: true}); err != nil || p.Total != 3 || len(p.Resources) != 0 {
		t.Fatalf("count only: %+v %v", p, err)
	}
	// Include the subjects of observations, each once; dangling references
	// and references into other tenants include nothing.
	err := s.Update(ctx, "a", func(tx store.Tx) error {
		for i, subj := range []string{"Patient/p1", "Patient/p1", "Patient/p2", "Patient/gone"} {
			id := fmt.Sprintf("o%d", i)
			if err := tx.Put(ctx, res("Observation", id, 1, `{}`), []store.Index{{Param: "subject", Value: subj}, {Param: "patient", Value: subj}}, 0); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := put(t, s, "b", res("Observation", "ob", 1, `{}`), []store.Index{{Param: "subject", Value: "Patient/p3"}}, 0); err != nil {
		t.Fatal(err)
	}
	p, err := s.Search(ctx, "a", store.Query{Type: "Observation", Count: 10, Include: []string{"subject"}})
	if err != nil {
		t.Fatal(err)
	}
	var inc []string
	for _, r := range p.Included {
		inc = append(inc, r.Type+"/"+r.ID)
	}
	if len(p.Resources) != 4 || !slices.Equal(inc, []string{"Patient/p1", "Patient/p2"}) {
		t.Fatalf("include: %v + %v", ids(p), inc)
	}
	p, err = s.Search(ctx, "a", store.Query{Type: "Observation", Count: 10, Include: []string{"subject"},
		Where: []store.Clause{{Param: "patient", Any: []store.Cond{{Value: "Patient/p2"}}}}})
	if err != nil || len(p.Resources) != 1 || len(p.Included) != 1 || p.Included[0].ID != "p2" {
		t.Fatalf("include of one: %+v %v", p, err)
	}
	pb, err := s.Search(ctx, "b", store.Query{Type: "Observation", Count: 10, Include: []string{"subject"}})
	if err != nil || len(pb.Resources) != 1 || len(pb.Included) != 0 {
		t.Fatalf("tenant b includes a's patient: %+v %v", pb, err)
	}
}

func testTraffic(t *testing.T, s store.Store) {
	ctx := context.Background()
	var xs []store.Exchange
	for i := range 5 {
		xs = append(xs, store.Exchange{Tenant: "a", At: t0.Add(time.Duration(i) * time.Second), Duration: 1500 * time.Microsecond,
			Method: "POST", Path: "/t/a/fhir/Patient", Query: "x=1", Route: "/t/:tenant/fhir/:type", Status: 201,
			RequestHeader:  http.Header{"Content-Type": {"application/fhir+json"}},
			RequestBody:    []byte(fmt.Sprintf(`{"n":%d}`, i)),
			ResponseHeader: http.Header{"Location": {"x"}}, ResponseBody: []byte("{}"), Truncated: i == 4})
	}
	if err := s.RecordTraffic(ctx, xs); err != nil {
		t.Fatal(err)
	}
	got, err := s.Traffic(ctx, "a", 0, 3)
	if err != nil || len(got) != 3 {
		t.Fatalf("Traffic = %d, %v", len(got), err)
	}
	g := got[0]
	if g.Method != "POST" || g.Status != 201 || g.Duration != 1500*time.Microsecond || string(g.RequestBody) != `{"n":0}` ||
		g.RequestHeader.Get("Content-Type") != "application/fhir+json" || g.ResponseHeader.Get("Location") != "x" ||
		g.Route != "/t/:tenant/fhir/:type" || g.Query != "x=1" || !g.At.Equal(t0) || g.Seq <= 0 {
		t.Fatalf("exchange changed: %+v", g)
	}
	rest, err := s.Traffic(ctx, "a", got[2].Seq, 10)
	if err != nil || len(rest) != 2 || string(rest[1].RequestBody) != `{"n":4}` || !rest[1].Truncated {
		t.Fatalf("after: %+v, %v", rest, err)
	}
	if err := s.PruneTraffic(ctx, "a", 2); err != nil {
		t.Fatal(err)
	}
	left, _ := s.Traffic(ctx, "a", 0, 10)
	if len(left) != 2 || string(left[0].RequestBody) != `{"n":3}` {
		t.Fatalf("prune kept %d", len(left))
	}
}

func testConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	if err := put(t, s, "a", res("Patient", "c", 1, `{}`), nil, 0); err != nil {
		t.Fatal(err)
	}
	// Writers read the current version and write the next; a lost race is
	// ErrConflict and retried. No update may be lost.
	const writers, each = 4, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Go(func() {
			for range each {
				for {
					err := s.Update(ctx, "a", func(tx store.Tx) error {
						cur, err := tx.Read(ctx, "Patient", "c")
						if err != nil {
							return err
						}
						return tx.Put(ctx, res("Patient", "c", cur.Version+1, `{}`), []store.Index{{Param: "v", Value: "x"}}, cur.Version)
					})
					if errors.Is(err, store.ErrConflict) {
						continue
					}
					if err != nil {
						errs <- err
						return
					}
					break
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	r, err := s.Read(ctx, "a", "Patient", "c")
	if err != nil || r.Version != 1+writers*each {
		t.Fatalf("version %d after %d updates: %v", r.Version, writers*each, err)
	}
	p, _ := s.Search(ctx, "a", store.Query{Type: "Patient", Total: true, Where: []store.Clause{{Param: "v", Any: []store.Cond{{Value: "x"}}}}})
	if p.Total != 1 {
		t.Fatalf("index rows of old versions remain: total %d", p.Total)
	}
}

func testClear(t *testing.T, s store.Store) {
	ctx := context.Background()
	seedSearch(t, s)
	if err := put(t, s, "a", res("Patient", "p1", 2, `{}`), nil, 1); err != nil {
		t.Fatal(err)
	}
	err := s.Update(ctx, "a", func(tx store.Tx) error {
		if err := tx.Clear(ctx); err != nil {
			return err
		}
		return tx.Put(ctx, res("Patient", "p1", 1, `{"fresh":1}`), nil, 0)
	})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := s.Search(ctx, "a", store.Query{Type: "Patient", Count: 10, Total: true})
	if p.Total != 1 || string(p.Resources[0].Body) != `{"fresh":1}` {
		t.Fatalf("after clear: %+v", p)
	}
	if _, err := s.ReadVersion(ctx, "a", "Patient", "p1", 2); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("history survived clear: %v", err)
	}
}

// testPageBytes: Query.MaxBytes ends a page once its bodies exceed the
// bound, with at least one resource; paging on from Offset plus what a page
// held skips and repeats nothing, in the query's order.
func testPageBytes(t *testing.T, s store.Store) {
	ctx := context.Background()
	sizes := []int{10, 10, 10, 10, 10, 40, 10} // q0..q6
	var want []string
	err := s.Update(ctx, "a", func(tx store.Tx) error {
		for i, n := range sizes {
			id := fmt.Sprintf("q%d", i)
			want = append(want, id)
			body := `{"x":"` + strings.Repeat("x", n-8) + `"}`
			if err := tx.Put(ctx, res("Basic", id, 1, body), []store.Index{{Param: "code", Value: "c"}}, 0); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	walk := func(q store.Query) (pages [][]string, cuts []bool) {
		t.Helper()
		for off := 0; off < 100; {
			q.Offset = off
			p, err := s.Search(ctx, "a", q)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Resources) == 0 {
				return pages, cuts
			}
			pages, cuts = append(pages, ids(p)), append(cuts, p.Cut)
			off += len(p.Resources)
		}
		t.Fatal("paging does not end")
		return nil, nil
	}
	where := []store.Clause{{Param: "code", Any: []store.Cond{{Value: "c"}}}}
	for _, tc := range []struct {
		name      string
		q         store.Query
		pages     string
		cuts      []bool
		wantOrder []string
	}{
		// 10+10+10 exceeds 25: the third resource ends the page.
		{"bound of 25", store.Query{Type: "Basic", Count: 4, MaxBytes: 25}, "[[q0 q1 q2] [q3 q4 q5] [q6]]", []bool{true, true, false}, want},
		{"bound under one body", store.Query{Type: "Basic", Count: 2, MaxBytes: 5}, "[[q0] [q1] [q2] [q3] [q4] [q5] [q6]]", []bool{true, true, true, true, true, true, true}, want},
		{"bound not reached", store.Query{Type: "Basic", Count: 3, MaxBytes: 1 << 20}, "[[q0 q1 q2] [q3 q4 q5] [q6]]", []bool{false, false, false}, want},
		{"sorted, with a clause", store.Query{Type: "Basic", Count: 5, MaxBytes: 45, Where: where, Sort: []store.SortKey{{Param: "_id", Desc: true}}},
			"[[q6 q5] [q4 q3 q2 q1 q0]]", []bool{true, false}, nil},
	} {
		pages, cuts := walk(tc.q)
		var all []string
		for _, p := range pages {
			all = append(all, p...)
		}
		order := tc.wantOrder
		if order == nil {
			order = slices.Clone(want)
			slices.Reverse(order)
		}
		if fmt.Sprint(pages) != tc.pages || !slices.Equal(cuts, tc.cuts) || !slices.Equal(all, order) {
			t.Errorf("%s: pages %v cut %v, want %s cut %v", tc.name, pages, cuts, tc.pages, tc.cuts)
		}
	}
	// The same bound holds inside a transaction.
	err = s.Update(ctx, "a", func(tx store.Tx) error {
		p, err := tx.Search(ctx, store.Query{Type: "Basic", Count: 4, MaxBytes: 25})
		if err != nil {
			return err
		}
		if !p.Cut || !slices.Equal(ids(p), []string{"q0", "q1", "q2"}) {
			t.Errorf("in a transaction: %v cut %v", ids(p), p.Cut)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
