package epr

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/store"
	"github.com/sandkasse/sandkasse/sandbox/store/sqlite"
	"github.com/sandkasse/sandkasse/validator"
)

var (
	sharedV     *validator.Validator
	sharedVOnce sync.Once
)

const (
	tenantID = "t1"
	base     = "http://example.com/t/t1/fhir"
)

type fixture struct {
	s  *Server
	st store.Store
}

func newFixture(t *testing.T, lim Limits) *fixture {
	t.Helper()
	sharedVOnce.Do(func() {
		v, err := validator.New(validator.Options{})
		if err != nil {
			t.Fatal(err)
		}
		sharedV = v
	})
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.CreateTenant(context.Background(), store.Tenant{ID: tenantID, Name: "t", Org: "312345674", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return &fixture{s: New(Options{Store: st, Validator: sharedV, Limits: lim}), st: st}
}

// result is a Response with its body decoded.
type result struct {
	Response
	json map[string]any
}

func decode(t *testing.T, r Response) result {
	t.Helper()
	out := result{Response: r}
	if len(r.Body) > 0 {
		if err := json.Unmarshal(r.Body, &out.json); err != nil {
			t.Fatalf("body is not JSON: %v\n%s", err, r.Body)
		}
	}
	return out
}

func (r result) codes() []string {
	var out []string
	issues, _ := r.json["issue"].([]any)
	for _, i := range issues {
		d, _ := i.(map[string]any)["details"].(map[string]any)
		cs, _ := d["coding"].([]any)
		for _, c := range cs {
			out = append(out, c.(map[string]any)["code"].(string))
		}
	}
	return out
}

func (r result) total() int {
	n, _ := r.json["total"].(float64)
	return int(n)
}

// entries returns "mode Type/id" of a searchset's entries.
func (r result) entries() []string {
	var out []string
	es, _ := r.json["entry"].([]any)
	for _, e := range es {
		m := e.(map[string]any)
		res := m["resource"].(map[string]any)
		mode := ""
		if s, ok := m["search"].(map[string]any); ok {
			mode, _ = s["mode"].(string)
		}
		out = append(out, mode+" "+res["resourceType"].(string)+"/"+str2(res["id"]))
	}
	return out
}

func str2(v any) string { s, _ := v.(string); return s }

// dev is a request with every access, unconfined (a developer token).
func dev(body string, query ...string) *Request {
	q := url.Values{}
	for i := 0; i+1 < len(query); i += 2 {
		q.Add(query[i], query[i+1])
	}
	return &Request{Tenant: tenantID, Base: base, Query: q, Header: http.Header{}, Body: []byte(body)}
}

// launched is a request as a SMART app with patient/*.cruds and launch
// patient pid: every access allowed, all of it confined.
func launched(pid, body string, query ...string) *Request {
	r := dev(body, query...)
	r.Allow = func(string, Access) bool { return true }
	r.Compartment = func(string, Access) bool { return true }
	r.Patient = pid
	return r
}

func patient(family string) string {
	return `{"resourceType":"Patient","name":[{"family":"` + family + `"}],"gender":"female","birthDate":"1970-01-01"}`
}

func observation(subject, performer, ident string) string {
	var extra string
	if performer != "" {
		extra += `,"performer":[{"reference":"` + performer + `"}]`
	}
	if ident != "" {
		extra += `,"identifier":[{"system":"urn:test","value":"` + ident + `"}]`
	}
	return `{"resourceType":"Observation","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],` +
		`"code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},` +
		`"subject":{"reference":"` + subject + `"},"effectiveDateTime":"2025-02-01T10:00:00Z",` +
		`"valueQuantity":{"value":70,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}` + extra + `}`
}

// create writes a resource as a developer and returns its id.
func (f *fixture) create(t *testing.T, typ, body string) string {
	t.Helper()
	r := decode(t, f.s.Create(context.Background(), dev(body), typ))
	if r.Status != http.StatusCreated {
		t.Fatalf("create %s: %d %s", typ, r.Status, r.Body)
	}
	return r.json["id"].(string)
}

// world is two patients and their observations: obsB's subject is B but
// its performer is A, which puts it in both compartments.
type world struct {
	a, b, prac           string
	obsA, obsB, obsAB    string
	obsAIdent, obsBIdent string
}

func (f *fixture) world(t *testing.T) world {
	w := world{a: f.create(t, "Patient", patient("Alpha")), b: f.create(t, "Patient", patient("Beta"))}
	w.prac = f.create(t, "Practitioner", `{"resourceType":"Practitioner","name":[{"family":"Lege"}]}`)
	w.obsA = f.create(t, "Observation", observation("Patient/"+w.a, "Practitioner/"+w.prac, "ida"))
	w.obsB = f.create(t, "Observation", observation("Patient/"+w.b, "", "idb"))
	w.obsAB = f.create(t, "Observation", observation("Patient/"+w.b, "Patient/"+w.a, ""))
	return w
}

func wantStatus(t *testing.T, what string, r result, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: status %d, want %d: %s", what, r.Status, status, r.Body)
	}
	if code != "" && !slices.Contains(r.codes(), code) {
		t.Fatalf("%s: codes %v, want %s", what, r.codes(), code)
	}
}

// TestCompartmentReadDeleted: a deleted resource outside the compartment
// answers 403 like a live one; only one inside answers 410, so the status
// does not reveal that another patient's resource existed.
func TestCompartmentReadDeleted(t *testing.T) {
	f := newFixture(t, Limits{})
	w := f.world(t)
	ctx := context.Background()
	for _, id := range []string{w.obsA, w.obsB} {
		wantStatus(t, "delete", decode(t, f.s.Delete(ctx, dev(""), "Observation", id)), 200, "")
	}
	as := launched(w.a, "")
	wantStatus(t, "read of another patient's deleted observation", decode(t, f.s.Read(ctx, as, "Observation", w.obsB)), 403, CodeOutsideCompartment)
	wantStatus(t, "vread of its deleted version", decode(t, f.s.VRead(ctx, as, "Observation", w.obsB, "2")), 403, CodeOutsideCompartment)
	wantStatus(t, "read of an own deleted observation", decode(t, f.s.Read(ctx, as, "Observation", w.obsA)), 410, CodeGone)
	get := func(id string) string {
		return `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Observation/` + id + `"}}]}`
	}
	for id, want := range map[string]string{w.obsB: "403", w.obsA: "410"} {
		r := decode(t, f.s.Bundle(ctx, launched(w.a, get(id))))
		status := r.json["entry"].([]any)[0].(map[string]any)["response"].(map[string]any)["status"].(string)
		if !strings.HasPrefix(status, want) {
			t.Errorf("batch GET of a deleted observation: %s, want %s", status, want)
		}
	}
	wantStatus(t, "unconfined read", decode(t, f.s.Read(ctx, dev(""), "Observation", w.obsB)), 410, CodeGone)
}

// TestForeignReferences: only references that resolve here count. An
// absolute reference to another server's Patient/X names that server's
// patient, not the local X: it puts nothing in X's compartment, matches no
// search for Patient/X and includes nothing; one under the tenant's own
// base is local.
func TestForeignReferences(t *testing.T) {
	f := newFixture(t, Limits{})
	w := f.world(t)
	ctx := context.Background()
	foreign := f.create(t, "Observation", observation("http://other.example/fhir/Patient/"+w.a, "", "foreign"))
	local := f.create(t, "Observation", observation(base+"/Patient/"+w.a, "", "local"))
	as := launched(w.a, "")
	wantStatus(t, "read of an observation of another server's patient", decode(t, f.s.Read(ctx, as, "Observation", foreign)), 403, CodeOutsideCompartment)
	wantStatus(t, "read of an observation with an absolute local reference", decode(t, f.s.Read(ctx, as, "Observation", local)), 200, "")
	ids := func(r result) []string {
		var out []string
		es, _ := r.json["entry"].([]any)
		for _, e := range es {
			res := e.(map[string]any)["resource"].(map[string]any)
			out = append(out, res["resourceType"].(string)+"/"+res["id"].(string))
		}
		slices.Sort(out)
		return out
	}
	want := []string{"Observation/" + w.obsA, "Observation/" + w.obsAB, "Observation/" + local}
	slices.Sort(want)
	if got := ids(decode(t, f.s.Search(ctx, launched(w.a, ""), "Observation"))); !slices.Equal(got, want) {
		t.Errorf("confined search: %v, want %v", got, want)
	}
	if got := ids(decode(t, f.s.Search(ctx, dev("", "subject", "Patient/"+w.a, "identifier", "foreign,local"), "Observation"))); !slices.Equal(got, []string{"Observation/" + local}) {
		t.Errorf("subject=Patient/X: %v, want only the local reference", got)
	}
	if got := ids(decode(t, f.s.Search(ctx, dev("", "subject", "http://other.example/fhir/Patient/"+w.a), "Observation"))); !slices.Equal(got, []string{"Observation/" + foreign}) {
		t.Errorf("subject=<foreign URL>: %v, want the foreign reference", got)
	}
	got := ids(decode(t, f.s.Search(ctx, dev("", "identifier", "foreign", "_include", "Observation:subject"), "Observation")))
	if !slices.Equal(got, []string{"Observation/" + foreign}) {
		t.Errorf("_include of another server's patient: %v, want no include", got)
	}
}

func TestCompartmentRead(t *testing.T) {
	f := newFixture(t, Limits{})
	w := f.world(t)
	ctx := context.Background()
	read := func(req *Request, typ, id string) result { return decode(t, f.s.Read(ctx, req, typ, id)) }

	wantStatus(t, "own observation", read(launched(w.a, ""), "Observation", w.obsA), 200, "")
	wantStatus(t, "observation performed by the patient", read(launched(w.a, ""), "Observation", w.obsAB), 200, "")
	wantStatus(t, "own Patient", read(launched(w.a, ""), "Patient", w.a), 200, "")
	wantStatus(t, "another patient's observation", read(launched(w.a, ""), "Observation", w.obsB), 403, CodeOutsideCompartment)
	wantStatus(t, "another Patient", read(launched(w.a, ""), "Patient", w.b), 403, CodeOutsideCompartment)
	wantStatus(t, "vread of another patient's observation", decode(t, f.s.VRead(ctx, launched(w.a, ""), "Observation", w.obsB, "1")), 403, CodeOutsideCompartment)
	// a type in no patient's compartment is shared data
	wantStatus(t, "Practitioner", read(launched(w.a, ""), "Practitioner", w.prac), 200, "")
	// patient/ scopes without a launch patient reach nothing
	wantStatus(t, "no launch patient", read(launched("", ""), "Observation", w.obsA), 403, CodeOutsideCompartment)
	// user/ and system/ grants are not confined
	unconfined := launched(w.a, "")
	unconfined.Compartment = func(string, Access) bool { return false }
	wantStatus(t, "unconfined", read(unconfined, "Observation", w.obsB), 200, "")
}

func TestCompartmentSearch(t *testing.T) {
	f := newFixture(t, Limits{})
	w := f.world(t)
	ctx := context.Background()
	search := func(req *Request, typ string) result {
		r := decode(t, f.s.Search(ctx, req, typ))
		if r.Status != 200 {
			t.Fatalf("search %s %v: %d %s", typ, req.Query, r.Status, r.Body)
		}
		return r
	}
	r := search(launched(w.a, ""), "Observation")
	if got := r.entries(); r.total() != 2 || !slices.Equal(got, []string{"match Observation/" + w.obsA, "match Observation/" + w.obsAB}) &&
		!slices.Equal(got, []string{"match Observation/" + w.obsAB, "match Observation/" + w.obsA}) {
		t.Fatalf("confined search: total %d, entries %v", r.total(), got)
	}
	if r := search(launched(w.a, "", "patient", w.b), "Observation"); r.total() != 1 || r.entries()[0] != "match Observation/"+w.obsAB {
		t.Errorf("search for the other patient: total %d %v", r.total(), r.entries())
	}
	if r := search(launched(w.a, "", "_summary", "count"), "Observation"); r.total() != 2 {
		t.Errorf("_summary=count: %d", r.total())
	}
	if r := search(launched(w.a, ""), "Patient"); r.total() != 1 || r.entries()[0] != "match Patient/"+w.a {
		t.Errorf("Patient search: total %d %v", r.total(), r.entries())
	}
	if r := search(dev(""), "Observation"); r.total() != 3 {
		t.Errorf("unconfined search: total %d", r.total())
	}
	// Paging stays inside the compartment.
	var seen []string
	r = search(launched(w.a, "", "_count", "1", "_sort", "_id"), "Observation")
	for page := 0; page < 3; page++ {
		if r.total() != 2 {
			t.Fatalf("page %d: total %d", page, r.total())
		}
		seen = append(seen, r.entries()...)
		next := ""
		for _, l := range r.json["link"].([]any) {
			if l.(map[string]any)["relation"] == "next" {
				next = l.(map[string]any)["url"].(string)
			}
		}
		if next == "" {
			break
		}
		u, _ := url.Parse(next)
		req := launched(w.a, "")
		req.Query = u.Query()
		r = search(req, "Observation")
	}
	if len(seen) != 2 || slices.Contains(seen, "match Observation/"+w.obsB) {
		t.Errorf("pages: %v", seen)
	}
	// Included resources: the subject of obsAB is Patient B, outside the
	// compartment; the Practitioner is shared; Patient A is in it.
	r = search(launched(w.a, "", "_include", "Observation:subject", "_include", "Observation:performer"), "Observation")
	inc := slices.DeleteFunc(r.entries(), func(e string) bool { return !strings.HasPrefix(e, "include ") })
	slices.Sort(inc)
	if want := []string{"include Patient/" + w.a, "include Practitioner/" + w.prac}; !slices.Equal(inc, want) {
		t.Errorf("included %v, want %v", inc, want)
	}
	// unconfined, Patient B is included too
	r = search(dev("", "_include", "Observation:subject"), "Observation")
	if n := len(slices.DeleteFunc(r.entries(), func(e string) bool { return !strings.HasPrefix(e, "include ") })); n != 2 {
		t.Errorf("unconfined includes: %d, want 2 (%v)", n, r.entries())
	}
}

func TestCompartmentWrites(t *testing.T) {
	f := newFixture(t, Limits{})
	w := f.world(t)
	ctx := context.Background()
	as := func(body string, hdr ...string) *Request {
		r := launched(w.a, body)
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		return r
	}
	wantStatus(t, "create for the other patient", decode(t, f.s.Create(ctx, as(observation("Patient/"+w.b, "", "")), "Observation")), 403, CodeOutsideCompartment)
	wantStatus(t, "create for the launch patient", decode(t, f.s.Create(ctx, as(observation("Patient/"+w.a, "", "")), "Observation")), 201, "")
	wantStatus(t, "create a new Patient", decode(t, f.s.Create(ctx, as(patient("Gamma")), "Patient")), 403, CodeOutsideCompartment)
	wantStatus(t, "create a Practitioner", decode(t, f.s.Create(ctx, as(`{"resourceType":"Practitioner"}`), "Practitioner")), 403, CodeOutsideCompartment)

	withID := func(body, id string) string { return `{"id":"` + id + `",` + body[1:] }
	// moving another patient's observation into the compartment
	wantStatus(t, "update of another patient's observation", decode(t, f.s.Update(ctx, as(withID(observation("Patient/"+w.a, "", ""), w.obsB)), "Observation", w.obsB)), 403, CodeOutsideCompartment)
	// moving an own observation out of the compartment
	wantStatus(t, "update out of the compartment", decode(t, f.s.Update(ctx, as(withID(observation("Patient/"+w.b, "", ""), w.obsA)), "Observation", w.obsA)), 403, CodeOutsideCompartment)
	wantStatus(t, "update of an own observation", decode(t, f.s.Update(ctx, as(withID(observation("Patient/"+w.a, "", "ida"), w.obsA)), "Observation", w.obsA)), 200, "")
	wantStatus(t, "delete of another patient's observation", decode(t, f.s.Delete(ctx, as(""), "Observation", w.obsB)), 403, CodeOutsideCompartment)
	if r := decode(t, f.s.Read(ctx, dev(""), "Observation", w.obsB)); r.Status != 200 || r.json["meta"].(map[string]any)["versionId"] != "1" {
		t.Fatalf("the other patient's observation changed: %d %s", r.Status, r.Body)
	}
	// A conditional create does not match (nor hand back) another
	// patient's resource: it creates the launch patient's own.
	r := decode(t, f.s.Create(ctx, as(observation("Patient/"+w.a, "", "idb"), "If-None-Exist", "identifier=urn:test|idb"), "Observation"))
	wantStatus(t, "conditional create", r, 201, "")
	if r.json["id"] == w.obsB {
		t.Fatal("the conditional create matched another patient's observation")
	}
	wantStatus(t, "delete of an own observation", decode(t, f.s.Delete(ctx, as(""), "Observation", w.obsA)), 200, "")
}

func TestCompartmentTransaction(t *testing.T) {
	f := newFixture(t, Limits{})
	w := f.world(t)
	ctx := context.Background()
	tx := func(entries ...string) string {
		return `{"resourceType":"Bundle","type":"transaction","entry":[` + strings.Join(entries, ",") + `]}`
	}
	count := func() int { return decode(t, f.s.Search(ctx, dev("", "_summary", "count"), "Observation")).total() }
	before := count()
	own := `{"resource":` + observation("Patient/"+w.a, "", "") + `,"request":{"method":"POST","url":"Observation"}}`
	other := `{"resource":` + observation("Patient/"+w.b, "", "") + `,"request":{"method":"POST","url":"Observation"}}`
	wantStatus(t, "transaction writing for another patient", decode(t, f.s.Bundle(ctx, launched(w.a, tx(own, other)))), 403, CodeOutsideCompartment)
	wantStatus(t, "transaction reading another patient's", decode(t, f.s.Bundle(ctx, launched(w.a, tx(own,
		`{"request":{"method":"GET","url":"Observation/`+w.obsB+`"}}`)))), 403, CodeOutsideCompartment)
	wantStatus(t, "transaction deleting another patient's", decode(t, f.s.Bundle(ctx, launched(w.a, tx(own,
		`{"request":{"method":"DELETE","url":"Observation/`+w.obsB+`"}}`)))), 403, CodeOutsideCompartment)
	if n := count(); n != before {
		t.Fatalf("refused transactions wrote: %d observations, had %d", n, before)
	}
	r := decode(t, f.s.Bundle(ctx, launched(w.a, tx(own, `{"request":{"method":"GET","url":"Observation"}}`))))
	wantStatus(t, "transaction", r, 200, "")
	es := r.json["entry"].([]any)
	set := es[1].(map[string]any)["resource"].(map[string]any)
	if set["total"].(float64) != 3 { // obsA, obsAB and the one just created
		t.Fatalf("search entry of the transaction: %v", set["total"])
	}
	// batch: the entry outside the compartment fails alone
	batch := strings.Replace(tx(own, other), `"transaction"`, `"batch"`, 1)
	r = decode(t, f.s.Bundle(ctx, launched(w.a, batch)))
	st := func(i int) string {
		return r.json["entry"].([]any)[i].(map[string]any)["response"].(map[string]any)["status"].(string)
	}
	if r.Status != 200 || !strings.HasPrefix(st(0), "201") || !strings.HasPrefix(st(1), "403") {
		t.Fatalf("batch: %d %s", r.Status, r.Body)
	}
}

func TestTransactionConditionalCreateReferences(t *testing.T) {
	f := newFixture(t, Limits{})
	ctx := context.Background()
	existing := f.create(t, "Patient", `{"resourceType":"Patient","identifier":[{"system":"urn:test","value":"p-1"}],"gender":"male"}`)
	bundle := `{"resourceType":"Bundle","type":"transaction","entry":[
		{"fullUrl":"urn:uuid:0a8e8b1c-1d2e-4f3a-8b4c-5d6e7f8a9b01","resource":{"resourceType":"Patient","identifier":[{"system":"urn:test","value":"p-1"}],"gender":"male"},
		 "request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=urn:test|p-1"}},
		{"fullUrl":"urn:uuid:0a8e8b1c-1d2e-4f3a-8b4c-5d6e7f8a9b02","resource":` + observation("urn:uuid:0a8e8b1c-1d2e-4f3a-8b4c-5d6e7f8a9b01", "", "o-1") + `,
		 "request":{"method":"POST","url":"Observation"}}]}`
	r := decode(t, f.s.Bundle(ctx, dev(bundle)))
	wantStatus(t, "transaction", r, 200, "")
	es := r.json["entry"].([]any)
	resp0 := es[0].(map[string]any)["response"].(map[string]any)
	if resp0["status"] != "200 OK" || !strings.Contains(resp0["location"].(string), "/Patient/"+existing+"/") {
		t.Fatalf("conditional create entry: %v", resp0)
	}
	if n := decode(t, f.s.Search(ctx, dev("", "_summary", "count"), "Patient")).total(); n != 1 {
		t.Fatalf("%d patients, want the one that existed", n)
	}
	obs := decode(t, f.s.Search(ctx, dev("", "identifier", "urn:test|o-1"), "Observation"))
	if obs.total() != 1 {
		t.Fatalf("observation not written: %s", obs.Body)
	}
	subj := obs.json["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)["subject"].(map[string]any)["reference"]
	if subj != "Patient/"+existing {
		t.Fatalf("the observation's subject is %v, want Patient/%s", subj, existing)
	}
	// and it is found through the patient
	if n := decode(t, f.s.Search(ctx, dev("", "patient", existing, "_summary", "count"), "Observation")).total(); n != 1 {
		t.Fatalf("search by the existing patient: %d", n)
	}

	// When nothing matches, the reference names the new resource.
	r = decode(t, f.s.Bundle(ctx, dev(strings.ReplaceAll(strings.ReplaceAll(bundle, "p-1", "p-2"), "o-1", "o-2"))))
	wantStatus(t, "transaction creating", r, 200, "")
	loc := r.json["entry"].([]any)[0].(map[string]any)["response"].(map[string]any)["location"].(string)
	newID := strings.Split(strings.TrimPrefix(loc, base+"/Patient/"), "/")[0]
	obs = decode(t, f.s.Search(ctx, dev("", "identifier", "urn:test|o-2"), "Observation"))
	if subj := obs.json["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)["subject"].(map[string]any)["reference"]; newID == existing || subj != "Patient/"+newID {
		t.Fatalf("subject %v, new patient %s", subj, newID)
	}
}

func TestTransactionReferenceResolution(t *testing.T) {
	f := newFixture(t, Limits{})
	ctx := context.Background()
	subjectOf := func(ident string) string {
		obs := decode(t, f.s.Search(ctx, dev("", "identifier", "urn:test|"+ident), "Observation"))
		if obs.total() != 1 {
			t.Fatalf("observation %s: %s", ident, obs.Body)
		}
		return obs.json["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)["subject"].(map[string]any)["reference"].(string)
	}
	patientID := func(r result) string {
		loc := r.json["entry"].([]any)[0].(map[string]any)["response"].(map[string]any)["location"].(string)
		return strings.Split(strings.TrimPrefix(loc, base+"/Patient/"), "/")[0]
	}
	// A relative reference resolves against the referring entry's fullUrl
	// base to another entry's RESTful fullUrl; the POST gets a new id.
	r := decode(t, f.s.Bundle(ctx, dev(`{"resourceType":"Bundle","type":"transaction","entry":[
		{"fullUrl":"http://other.example/fhir/Patient/tmp1","resource":`+patient("Rel")+`,"request":{"method":"POST","url":"Patient"}},
		{"fullUrl":"http://other.example/fhir/Observation/o1","resource":`+observation("Patient/tmp1", "", "rel")+`,"request":{"method":"POST","url":"Observation"}}]}`)))
	wantStatus(t, "relative reference", r, 200, "")
	if got, want := subjectOf("rel"), "Patient/"+patientID(r); got != want || want == "Patient/tmp1" {
		t.Errorf("relative reference: subject %s, want %s", got, want)
	}
	// An absolute reference to an entry's fullUrl.
	r = decode(t, f.s.Bundle(ctx, dev(`{"resourceType":"Bundle","type":"transaction","entry":[
		{"fullUrl":"http://other.example/fhir/Patient/tmp2","resource":`+patient("Abs")+`,"request":{"method":"POST","url":"Patient"}},
		{"resource":`+observation("http://other.example/fhir/Patient/tmp2", "", "abs")+`,"request":{"method":"POST","url":"Observation"}}]}`)))
	wantStatus(t, "absolute reference", r, 200, "")
	if got, want := subjectOf("abs"), "Patient/"+patientID(r); got != want {
		t.Errorf("absolute reference: subject %s, want %s", got, want)
	}
	count := func() int { return decode(t, f.s.Search(ctx, dev("", "_summary", "count"), "Patient")).total() }
	before := count()
	// A urn:uuid no entry has is refused; so are two entries with one fullUrl.
	wantStatus(t, "dangling urn:uuid", decode(t, f.s.Bundle(ctx, dev(`{"resourceType":"Bundle","type":"transaction","entry":[
		{"resource":`+patient("X")+`,"request":{"method":"POST","url":"Patient"}},
		{"resource":`+observation("urn:uuid:0a8e8b1c-1d2e-4f3a-8b4c-5d6e7f8a9b09", "", "dangling")+`,"request":{"method":"POST","url":"Observation"}}]}`))), 400, CodeBadBundle)
	wantStatus(t, "duplicate fullUrl", decode(t, f.s.Bundle(ctx, dev(`{"resourceType":"Bundle","type":"transaction","entry":[
		{"fullUrl":"urn:uuid:0a8e8b1c-1d2e-4f3a-8b4c-5d6e7f8a9b01","resource":`+patient("X")+`,"request":{"method":"POST","url":"Patient"}},
		{"fullUrl":"urn:uuid:0a8e8b1c-1d2e-4f3a-8b4c-5d6e7f8a9b01","resource":`+patient("Y")+`,"request":{"method":"POST","url":"Patient"}}]}`))), 400, CodeBadBundle)
	if n := count(); n != before {
		t.Fatalf("refused transactions wrote patients: %d, had %d", n, before)
	}
}

func TestIncludeCapped(t *testing.T) {
	f := newFixture(t, Limits{MaxIncluded: 2})
	ctx := context.Background()
	p := f.create(t, "Patient", patient("Cap"))
	for i := range 3 {
		prac := f.create(t, "Practitioner", `{"resourceType":"Practitioner","name":[{"family":"L`+strconv.Itoa(i)+`"}]}`)
		f.create(t, "Observation", observation("Patient/"+p, "Practitioner/"+prac, ""))
	}
	included := func(r result) (n int, outcome []string) {
		for _, e := range r.json["entry"].([]any) {
			m := e.(map[string]any)
			switch m["search"].(map[string]any)["mode"] {
			case "include":
				n++
			case "outcome":
				outcome = result{json: m["resource"].(map[string]any)}.codes()
			}
		}
		return
	}
	r := decode(t, f.s.Search(ctx, dev("", "_include", "Observation:performer"), "Observation"))
	if n, oc := included(r); n != 2 || !slices.Equal(oc, []string{CodeIncludeCapped}) {
		t.Fatalf("capped at 2: %d included, outcome %v", n, oc)
	}
	// _count=2 stays under the cap: no warning.
	r = decode(t, f.s.Search(ctx, dev("", "_include", "Observation:performer", "_count", "2"), "Observation"))
	if n, oc := included(r); n != 2 || oc != nil {
		t.Fatalf("under the cap: %d included, outcome %v", n, oc)
	}
	// The byte cap: one Practitioner body fits, two do not.
	pr := decode(t, f.s.Search(ctx, dev("", "_count", "1"), "Practitioner"))
	body, _ := json.Marshal(pr.json["entry"].([]any)[0].(map[string]any)["resource"])
	fb := New(Options{Store: f.st, Validator: sharedV, Limits: Limits{MaxIncludedBytes: len(body) + 10}})
	r = decode(t, fb.Search(ctx, dev("", "_include", "Observation:performer"), "Observation"))
	if n, oc := included(r); n != 1 || !slices.Equal(oc, []string{CodeIncludeCapped}) {
		t.Fatalf("byte cap of %d: %d included, outcome %v", len(body)+10, n, oc)
	}
	// The default cap is in the CapabilityStatement.
	if !strings.Contains(string(New(Options{Store: f.st, Validator: sharedV}).meta), "at most "+strconv.Itoa(MaxIncluded)+" resources") {
		t.Error("the CapabilityStatement does not state the include cap")
	}
}

func TestRequestBounds(t *testing.T) {
	f := newFixture(t, Limits{MaxBundleResponseBytes: 4 << 10})
	ctx := context.Background()
	p := f.create(t, "Patient", patient("Bound"))
	for range 5 {
		f.create(t, "Observation", observation("Patient/"+p, "", ""))
	}
	ids := make([]string, MaxSearchValues+1)
	for i := range ids {
		ids[i] = "id" + strconv.Itoa(i)
	}
	wantStatus(t, "too many values", decode(t, f.s.Search(ctx, dev("", "_id", strings.Join(ids, ",")), "Observation")), 400, CodeTooCostly)
	wantStatus(t, "as many values as allowed", decode(t, f.s.Search(ctx, dev("", "_id", strings.Join(ids[:MaxSearchValues], ",")), "Observation")), 200, "")
	wantStatus(t, "too many sort keys", decode(t, f.s.Search(ctx, dev("", "_sort", strings.Repeat("_id,", MaxSortKeys)+"_id"), "Observation")), 400, CodeTooCostly)
	// GET entries reading more than the Bundle's budget (each search page
	// is well over 1 KiB; four of them exceed 4 KiB).
	get := `{"request":{"method":"GET","url":"Observation"}}`
	tx := `{"resourceType":"Bundle","type":"transaction","entry":[` + strings.Repeat(get+",", 3) + get + `]}`
	wantStatus(t, "transaction over the response budget", decode(t, f.s.Bundle(ctx, dev(tx))), 400, CodeTooCostly)
	one := `{"resourceType":"Bundle","type":"transaction","entry":[` + get + `]}`
	wantStatus(t, "one search", decode(t, f.s.Bundle(ctx, dev(one))), 200, "")
}

// TestPageBytes: a page ends once its matches exceed MaxPageBytes, and
// following the next links visits every match once, in order.
func TestPageBytes(t *testing.T) {
	f := newFixture(t, Limits{})
	ctx := context.Background()
	p := f.create(t, "Patient", patient("Bytes"))
	var want []string
	for range 7 {
		want = append(want, "match Observation/"+f.create(t, "Observation", observation("Patient/"+p, "", "")))
	}
	slices.Sort(want)
	one := decode(t, f.s.Read(ctx, dev(""), "Observation", strings.TrimPrefix(want[0], "match Observation/")))
	// Two bodies exceed the bound: pages of two of _count 5.
	fb := New(Options{Store: f.st, Validator: sharedV, Limits: Limits{MaxPageBytes: len(one.Body) + 10}})
	var seen []string
	var sizes []int
	req := dev("", "_count", "5", "_sort", "_id")
	for range 10 {
		r := decode(t, fb.Search(ctx, req, "Observation"))
		if r.total() != 7 {
			t.Fatalf("total %d", r.total())
		}
		seen = append(seen, r.entries()...)
		sizes = append(sizes, len(r.entries()))
		next := ""
		for _, l := range r.json["link"].([]any) {
			if l.(map[string]any)["relation"] == "next" {
				next = l.(map[string]any)["url"].(string)
			}
		}
		if next == "" {
			break
		}
		u, _ := url.Parse(next)
		req = dev("")
		req.Query = u.Query()
	}
	if !slices.Equal(seen, want) || !slices.Equal(sizes, []int{2, 2, 2, 1}) {
		t.Fatalf("pages of sizes %v saw %v, want every match once: %v", sizes, seen, want)
	}
	if !strings.Contains(string(New(Options{Store: f.st, Validator: sharedV}).meta), "exceed "+strconv.Itoa(MaxPageBytes)+" bytes") {
		t.Error("the CapabilityStatement does not state the page byte bound")
	}
}

// TestBundleGetsCapped: a Bundle of many small searches stays far under
// the response budget, so the count of GET entries is bounded on its own.
func TestBundleGetsCapped(t *testing.T) {
	f := newFixture(t, Limits{MaxBundleGets: 3})
	ctx := context.Background()
	get := `{"request":{"method":"GET","url":"Observation?_summary=count"}}`
	bundle := func(kind string, n int) string {
		return `{"resourceType":"Bundle","type":"` + kind + `","entry":[` + strings.Repeat(get+",", n-1) + get + `]}`
	}
	for _, kind := range []string{"transaction", "batch"} {
		r := decode(t, f.s.Bundle(ctx, dev(bundle(kind, 4))))
		wantStatus(t, kind+" of 4 GETs over a cap of 3", r, http.StatusRequestEntityTooLarge, CodeTooCostly)
		if !strings.Contains(string(r.Body), "at most 3 (MaxBundleGets)") {
			t.Errorf("%s: the refusal does not name the limit: %s", kind, r.Body)
		}
		wantStatus(t, kind+" of 3 GETs", decode(t, f.s.Bundle(ctx, dev(bundle(kind, 3)))), 200, "")
	}
	if !strings.Contains(string(New(Options{Store: f.st, Validator: sharedV}).meta), "at most "+strconv.Itoa(MaxBundleGets)+" GET entries") {
		t.Error("the CapabilityStatement does not state the GET entry cap")
	}
}

// TestIncludeReadsCapped: references that include nothing (dangling here)
// still cost a store read each, so they count against MaxIncludeReads.
func TestIncludeReadsCapped(t *testing.T) {
	f := newFixture(t, Limits{MaxIncludeReads: 3})
	var matches []store.Resource
	for i := range 10 {
		id := "o" + strconv.Itoa(i)
		matches = append(matches, store.Resource{Type: "Observation", ID: id,
			Body: []byte(observation("Patient/p", "Practitioner/missing"+strconv.Itoa(i), ""))})
	}
	reads := 0
	read := func(ctx context.Context, typ, id string) (store.Resource, error) {
		reads++
		return store.Resource{}, store.ErrNotFound
	}
	out, warn, err := f.s.included(context.Background(), dev(""), "Observation", []string{"performer"}, matches, read)
	if err != nil {
		t.Fatal(err)
	}
	if reads != 3 || len(out) != 0 || len(warn) != 1 || warn[0].Code != CodeIncludeCapped {
		t.Fatalf("10 dangling references with MaxIncludeReads 3: %d reads, %d included, warnings %v", reads, len(out), warn)
	}
}

// TestConditionalCreateNeedsSearch: a conditional create answers with the
// resource it matched, so a token that may create but not search the type
// (SMART v2 .c) must not get one: confined or not, it would read another
// patient's resource through it.
func TestConditionalCreateNeedsSearch(t *testing.T) {
	f := newFixture(t, Limits{})
	w := f.world(t)
	ctx := context.Background()
	createOnly := func(confined bool, body string) *Request {
		r := launched(w.a, body)
		r.Allow = func(typ string, a Access) bool { return a == Create }
		r.Compartment = func(string, Access) bool { return confined }
		r.Header.Set("If-None-Exist", "identifier=urn:test|idb")
		return r
	}
	for _, confined := range []bool{false, true} {
		r := decode(t, f.s.Create(ctx, createOnly(confined, observation("Patient/"+w.a, "", "idb")), "Observation"))
		wantStatus(t, "conditional create without search", r, 403, CodeForbidden)
		entry := `{"resource":` + observation("Patient/"+w.a, "", "idb") +
			`,"request":{"method":"POST","url":"Observation","ifNoneExist":"identifier=urn:test|idb"}}`
		for _, kind := range []string{"transaction", "batch"} {
			req := createOnly(confined, `{"resourceType":"Bundle","type":"`+kind+`","entry":[`+entry+`]}`)
			req.Header.Del("If-None-Exist")
			r := decode(t, f.s.Bundle(ctx, req))
			if strings.Contains(string(r.Body), w.obsB) {
				t.Fatalf("%s with a create-only token (confined %v) handed back another patient's observation: %s", kind, confined, r.Body)
			}
			if kind == "transaction" {
				wantStatus(t, "conditional create without search in a transaction", r, 403, CodeForbidden)
			}
		}
	}
	// The search grant makes it a conditional create again (here
	// confined: it matches nothing of B's and creates A's own).
	r := createOnly(true, observation("Patient/"+w.a, "", "idb"))
	r.Allow = nil
	wantStatus(t, "conditional create with search", decode(t, f.s.Create(ctx, r, "Observation")), 201, "")
}
