package api

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/epr"
	"github.com/sandkasse/sandkasse/sandbox/store"
)

// TestSMARTPickerReachesEveryPatient: a tenant with more patients than
// one search page (the picker listed the first 500 and refused any other)
// shows all of them over the picker's pages, each once, and a patient far
// down the list can be picked.
func TestSMARTPickerReachesEveryPatient(t *testing.T) {
	e := newSmartEnv(t)
	e.register(t, publicApp)
	ctx := context.Background()
	const extra = 520
	err := e.f.st.Update(ctx, e.tenant, func(tx store.Tx) error {
		for i := range extra {
			id := fmt.Sprintf("zz-picker-%04d", i) // after the seeded ids
			body := `{"resourceType":"Patient","id":"` + id + `","name":[{"family":"Plukk","given":["P` + fmt.Sprint(i) + `"]}]}`
			if err := epr.Import(ctx, tx, "Patient", id, []byte(body), time.Now()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	total := e.f.do(t, e.dev, "GET", "/t/"+e.tenant+"/fhir/Patient?_summary=count", "").json["total"].(float64)
	patientRE := regexp.MustCompile(`\(([A-Za-z0-9.-]+)\)</li>`)
	nextRE := regexp.MustCompile(`<a rel="next" href="([^"]+)"`)
	seen := map[string]int{}
	u := e.authorizeURL(nil)
	for pages := 0; u != "" && pages < 100; pages++ {
		rec := e.get(t, u)
		if rec.Code != http.StatusOK {
			t.Fatalf("picker page %d: %d %s", pages, rec.Code, rec.Body)
		}
		for _, m := range patientRE.FindAllStringSubmatch(rec.Body.String(), -1) {
			seen[m[1]]++
		}
		u = ""
		if m := nextRE.FindStringSubmatch(rec.Body.String()); m != nil {
			u = html.UnescapeString(m[1])
		}
	}
	if len(seen) != int(total) {
		t.Fatalf("the picker showed %d of %d patients", len(seen), int(total))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("patient %s shown %d times", id, n)
		}
	}
	last := fmt.Sprintf("zz-picker-%04d", extra-1)
	if q := e.authorize(t, func(q url.Values) { q.Set("patient", last) }); q.Get("code") == "" {
		t.Fatalf("picking the last patient: %v", q)
	}
	// The search box finds one patient among them.
	rec := e.get(t, e.authorizeURL(func(q url.Values) { q.Set("picker_name", "P519") }))
	if got := patientRE.FindAllStringSubmatch(rec.Body.String(), -1); len(got) != 1 || got[0][1] != last {
		t.Fatalf("name search: %v", got)
	}
}
