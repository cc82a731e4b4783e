package api

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/sandkasse/sandkasse/sandbox/clientauth"
	"github.com/sandkasse/sandkasse/sandbox/epr"
	"github.com/sandkasse/sandkasse/sandbox/store"
	"github.com/sandkasse/sandkasse/sandbox/tenant"
)

const newPatient = `{"resourceType":"Patient","identifier":[{"system":"urn:oid:2.16.578.1.12.4.1.4.1","value":"13819910019"}],"name":[{"family":"Ærlig-Åsen","given":["Kari"]}],"gender":"female","birthDate":"1999-01-13"}`

func TestEPRReadWriteVersions(t *testing.T) {
	f := newSandbox(t, 1)
	a := f.tenant(t, "A")
	base := "/t/" + a.Tenant.ID + "/fhir"
	r := f.do(t, a.Token, "POST", base+"/Patient", newPatient)
	if r.status != 201 || r.str("meta", "versionId") != "1" || r.header.Get("ETag") != `W/"1"` {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	id := r.str("id")
	if loc := r.header.Get("Location"); !strings.HasSuffix(loc, base+"/Patient/"+id+"/_history/1") {
		t.Fatalf("Location %q", loc)
	}
	if r := f.do(t, a.Token, "GET", base+"/Patient/"+id, ""); r.status != 200 || r.str("name") != "" && r.str("id") != id {
		t.Fatalf("read: %d", r.status)
	}
	upd := strings.Replace(newPatient, `{"resourceType":"Patient",`, `{"resourceType":"Patient","id":"`+id+`",`, 1)
	upd = strings.Replace(upd, `"female"`, `"other"`, 1)
	if r := f.do(t, a.Token, "PUT", base+"/Patient/"+id, upd, "If-Match", `W/"1"`); r.status != 200 || r.str("meta", "versionId") != "2" {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	if r := f.do(t, a.Token, "PUT", base+"/Patient/"+id, upd, "If-Match", `W/"1"`); r.status != 412 {
		t.Fatalf("stale If-Match: %d %s", r.status, r.body)
	}
	if r := f.do(t, a.Token, "GET", base+"/Patient/"+id+"/_history/1", ""); r.status != 200 || r.str("gender") != "female" {
		t.Fatalf("vread 1: %d %s", r.status, r.body)
	}
	if r := f.do(t, a.Token, "GET", base+"/Patient/"+id+"/_history/9", ""); r.status != 404 {
		t.Fatalf("vread 9: %d", r.status)
	}
	// Update as create under a client id.
	mine := strings.Replace(newPatient, `{"resourceType":"Patient",`, `{"resourceType":"Patient","id":"mine-1",`, 1)
	if r := f.do(t, a.Token, "PUT", base+"/Patient/mine-1", mine); r.status != 201 {
		t.Fatalf("update as create: %d %s", r.status, r.body)
	}
	if r := f.do(t, a.Token, "DELETE", base+"/Patient/"+id, ""); r.status != 200 {
		t.Fatalf("delete: %d", r.status)
	}
	if r := f.do(t, a.Token, "GET", base+"/Patient/"+id, ""); r.status != 410 {
		t.Fatalf("read deleted: %d", r.status)
	}
	// Conditional create: the second finds the first.
	cond := strings.Replace(newPatient, "13819910019", "03855010037", 1)
	h := []string{"If-None-Exist", "identifier=urn:oid:2.16.578.1.12.4.1.4.1|03855010037"}
	r1 := f.do(t, a.Token, "POST", base+"/Patient", cond, h...)
	r2 := f.do(t, a.Token, "POST", base+"/Patient", cond, h...)
	if r1.status != 201 || r2.status != 200 || r1.str("id") != r2.str("id") {
		t.Fatalf("conditional create: %d %d", r1.status, r2.status)
	}
	// Prefer: return=minimal
	if r := f.do(t, a.Token, "POST", base+"/Patient", newPatient, "Prefer", "return=minimal"); r.status != 201 || len(r.body) != 0 || r.header.Get("Location") == "" {
		t.Fatalf("return=minimal: %d %q", r.status, r.body)
	}
}

func TestEPRSearch(t *testing.T) {
	f := newSandbox(t, 3)
	a := f.tenant(t, "A")
	base := "/t/" + a.Tenant.ID + "/fhir"
	tok := a.Token
	mk := func(id, family, birth, fnr string) {
		body := `{"resourceType":"Patient","id":"` + id + `","identifier":[{"system":"urn:oid:2.16.578.1.12.4.1.4.1","value":"` + fnr + `"}],"name":[{"family":"` + family + `","given":["Test"]}],"birthDate":"` + birth + `"}`
		if r := f.do(t, tok, "PUT", base+"/Patient/"+id, body); r.status != 201 {
			t.Fatalf("put %s: %d %s", id, r.status, r.body)
		}
	}
	mk("s1", "Østby", "1950-05-03", "13819910019")
	mk("s2", "Ostrem", "1949-12-31", "03855010037")
	mk("s3", "Søvik", "1980-01-01", "31924910170")
	ids := func(q string) []string {
		t.Helper()
		r := f.do(t, tok, "GET", base+"/Patient?"+q, "")
		if r.status != 200 {
			t.Fatalf("%s: %d %s", q, r.status, r.body)
		}
		var out []string
		for _, e := range r.entries() {
			id := e["resource"].(map[string]any)["id"].(string)
			if strings.HasPrefix(id, "s") && len(id) == 2 {
				out = append(out, id)
			}
		}
		return out
	}
	cases := []struct{ q, want string }{
		{"_id=s1,s3", "s1 s3"},
		{"family=ost", "s2"},
		{"family=øst", "s1"},
		{"family:exact=søvik", "s3"},
		{"family:contains=vi", "s3"},
		{"name=test&_sort=family", "s2 s3 s1"},
		{"identifier=urn:oid:2.16.578.1.12.4.1.4.1|03855010037", "s2"},
		{"identifier=03855010037", "s2"},
		{"identifier=urn:oid:9|03855010037", ""},
		{"birthdate=1950", "s1"},
		{"birthdate=ge1950-01-01&_id=s1,s2,s3", "s1 s3"},
		{"birthdate=lt1950&_id=s1,s2,s3", "s2"},
		{"birthdate=ne1950&_id=s1,s2,s3", "s2 s3"},
		{"birthdate=gt1950-05-03&birthdate=le1980&_id=s1,s2,s3", "s3"},
		{"_id=s1,s2,s3&_sort=-birthdate", "s3 s1 s2"},
	}
	for _, c := range cases {
		if got := strings.Join(ids(c.q), " "); got != c.want {
			t.Errorf("%s: got %q, want %q", c.q, got, c.want)
		}
	}
	// Seeded data: subject/patient, code, date, status, _include, paging.
	r := f.do(t, tok, "GET", base+"/Patient?_count=1", "")
	pid := r.entries()[0]["resource"].(map[string]any)["id"].(string)
	obs := f.do(t, tok, "GET", base+"/Observation?patient="+pid+"&status=final&_include=Observation:subject&_count=3&_sort=-date", "")
	if obs.status != 200 {
		t.Fatalf("observations: %d %s", obs.status, obs.body)
	}
	var modes []string
	for _, e := range obs.entries() {
		modes = append(modes, e["search"].(map[string]any)["mode"].(string))
	}
	if len(modes) > 0 && modes[len(modes)-1] != "include" {
		t.Errorf("no included subject: %v", modes)
	}
	// Paging: following next links visits every match once.
	seen := map[string]bool{}
	next := base + "/Observation?_count=7&_sort=date"
	total := -1
	for next != "" {
		r := f.do(t, tok, "GET", strings.TrimPrefix(next, "http://example.com"), "")
		if r.status != 200 {
			t.Fatalf("page: %d", r.status)
		}
		total = int(r.json["total"].(float64))
		for _, e := range r.entries() {
			id := e["resource"].(map[string]any)["id"].(string)
			if seen[id] {
				t.Fatalf("%s on two pages", id)
			}
			seen[id] = true
		}
		next = ""
		for _, l := range r.json["link"].([]any) {
			if l.(map[string]any)["relation"] == "next" {
				next = l.(map[string]any)["url"].(string)
			}
		}
	}
	if len(seen) != total || total == 0 {
		t.Fatalf("paging saw %d of %d", len(seen), total)
	}
	// code and date on the seeded observations.
	if r := f.do(t, tok, "GET", base+"/Observation?code=http://loinc.org|8867-4&date=ge2025-01-01&_summary=count", ""); r.status != 200 || r.json["total"].(float64) <= 0 {
		t.Errorf("code+date: %d %s", r.status, r.body)
	}
	// POST _search with a form body.
	req := httptest.NewRequest("POST", base+"/Patient/_search", strings.NewReader("_id=s2"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"id":"s2"`) {
		t.Errorf("POST _search: %d", rec.Code)
	}
}

func TestBadInput(t *testing.T) {
	f := newSandbox(t, 1)
	a := f.tenant(t, "A")
	b := f.tenant(t, "B")
	base := "/t/" + a.Tenant.ID + "/fhir"
	expired, err := f.tenants.IssueToken(context.Background(), a.Tenant.ID, -time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	huge := `{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">` + strings.Repeat("x", 1<<20) + `</div>"}}`
	cases := []struct {
		name, token, method, path, body string
		hdr                             []string
		status                          int
		code                            string
	}{
		{"invalid JSON", a.Token, "POST", base + "/Patient", `{"resourceType":"Patient",`, nil, 400, "invalid-json"},
		{"not an object", a.Token, "POST", base + "/Patient", `[1]`, nil, 400, "invalid-json"},
		{"type mismatch", a.Token, "POST", base + "/Patient", `{"resourceType":"Observation"}`, nil, 400, "resource-type-mismatch"},
		{"unknown type in URL", a.Token, "GET", base + "/Patientt", "", nil, 404, "unknown-resource-type"},
		{"unknown type in body", a.Token, "POST", base, `{"resourceType":"Nope"}`, nil, 400, "unknown-resource-type"},
		{"invalid resource", a.Token, "POST", base + "/Patient", `{"resourceType":"Patient","gender":"maybe","foo":1}`, nil, 422, ""},
		{"unknown search param", a.Token, "GET", base + "/Patient?shoe-size=42", "", nil, 400, "unknown-search-parameter"},
		{"unknown sort param", a.Token, "GET", base + "/Patient?_sort=shoe", "", nil, 400, "unknown-search-parameter"},
		{"bad date", a.Token, "GET", base + "/Patient?birthdate=yesterday", "", nil, 400, "invalid-search-parameter"},
		{"bad count", a.Token, "GET", base + "/Patient?_count=-1", "", nil, 400, "invalid-search-parameter"},
		{"offset past the bound", a.Token, "GET", base + "/Patient?_offset=9223372036854775807&_count=500", "", nil, 400, "invalid-search-parameter"},
		{"If-None-Exist without criteria", a.Token, "POST", base + "/Patient", newPatient, []string{"If-None-Exist", "_summary=count"}, 400, "invalid-search-parameter"},
		{"xml", a.Token, "GET", base + "/Patient?_format=xml", "", nil, 406, "unsupported-format"},
		{"oversized", a.Token, "POST", base + "/Patient", huge, nil, 413, CodeBodyTooLarge},
		{"no token", "", "GET", base + "/Patient", "", nil, 401, CodeUnauthenticated},
		{"forged token", "skdev_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "GET", base + "/Patient", "", nil, 401, CodeUnauthenticated},
		{"not a token", "hello", "GET", base + "/Patient", "", nil, 401, CodeUnauthenticated},
		{"expired token", expired, "GET", base + "/Patient", "", nil, 401, CodeUnauthenticated},
		{"wrong tenant", b.Token, "GET", base + "/Patient", "", nil, 403, CodeWrongTenant},
		{"missing", a.Token, "GET", base + "/Patient/nope", "", nil, 404, "resource-not-found"},
		{"id mismatch", a.Token, "PUT", base + "/Patient/x1", `{"resourceType":"Patient","id":"x2"}`, nil, 400, "resource-id-mismatch"},
		{"If-Match on absent", a.Token, "DELETE", base + "/Patient/absent", "", []string{"If-Match", `W/"1"`}, 412, "precondition-failed"},
		{"bad If-Match", a.Token, "PUT", base + "/Patient/x1", `{"resourceType":"Patient","id":"x1"}`, []string{"If-Match", "yesterday"}, 400, "precondition-failed"},
		{"not a bundle", a.Token, "POST", base, `{"resourceType":"Patient"}`, nil, 400, "invalid-bundle"},
		{"media type", a.Token, "POST", base + "/Patient", newPatient, []string{"Content-Type", "text/plain"}, 415, CodeMediaType},
		{"admin without token", "", "GET", "/admin/tenants", "", nil, 401, CodeUnauthenticated},
		{"admin with tenant token", a.Token, "GET", "/admin/tenants", "", nil, 403, CodeStaffOnly},
		{"admin reset with tenant token", a.Token, "POST", "/admin/tenants/" + a.Tenant.ID + "/reset", "", nil, 403, CodeStaffOnly},
		{"admin with forged token", "skdev_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "GET", "/admin/tenants", "", nil, 401, CodeUnauthenticated},
		{"admin with expired tenant token", expired, "GET", "/admin/tenants", "", nil, 401, CodeUnauthenticated},
		{"admin with a wrong admin token", "admin-secreT", "GET", "/admin/tenants", "", nil, 401, CodeUnauthenticated},
		{"admin create with an invalid org", "admin-secret", "POST", "/admin/tenants", `{"name":"x","org":"312345674"}`, []string{"Content-Type", "application/json"}, 400, CodeBadRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.do(t, c.token, c.method, c.path, c.body, c.hdr...)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body[:min(len(r.body), 400)])
			}
			if r.json["resourceType"] != "OperationOutcome" {
				t.Fatalf("not an OperationOutcome: %s", r.body[:min(len(r.body), 300)])
			}
			if c.code != "" && !slices.Contains(r.issueCodes(), c.code) {
				t.Fatalf("codes %v, want %s", r.issueCodes(), c.code)
			}
			if c.status == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}
	// Lenient handling drops what it does not know.
	if r := f.do(t, a.Token, "GET", base+"/Patient?shoe-size=42", "", "Prefer", "handling=lenient"); r.status != 200 || strings.Contains(string(r.body), "shoe-size") {
		t.Fatalf("lenient: %d", r.status)
	}
	// Nothing of the refused writes exists.
	if r := f.do(t, a.Token, "GET", base+"/Patient?gender=other&_summary=count", ""); r.json["total"].(float64) != 0 {
		t.Fatalf("a refused write was stored")
	}
}

func TestTransactionAtomic(t *testing.T) {
	f := newSandbox(t, 1)
	a := f.tenant(t, "A")
	base := "/t/" + a.Tenant.ID + "/fhir"
	count := func(typ string) float64 {
		r := f.do(t, a.Token, "GET", base+"/"+typ+"?_summary=count", "")
		return r.json["total"].(float64)
	}
	obs := `{"resourceType":"Observation","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"urn:uuid:6e4c4c1b-1a8c-4f58-9e22-2a8b6f7e1c01"},"effectiveDateTime":"2025-02-01T10:00:00Z","valueQuantity":{"value":70,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}`
	good := `{"resourceType":"Bundle","type":"transaction","entry":[
		{"fullUrl":"urn:uuid:6e4c4c1b-1a8c-4f58-9e22-2a8b6f7e1c01","resource":` + newPatient + `,"request":{"method":"POST","url":"Patient"}},
		{"resource":` + obs + `,"request":{"method":"POST","url":"Observation"}}]}`
	p0, o0 := count("Patient"), count("Observation")
	r := f.do(t, a.Token, "POST", base, good)
	if r.status != 200 || r.json["type"] != "transaction-response" {
		t.Fatalf("transaction: %d %s", r.status, r.body)
	}
	es := r.entries()
	loc := es[0]["response"].(map[string]any)["location"].(string)
	pid := strings.Split(strings.TrimPrefix(loc, "http://example.com"+base+"/Patient/"), "/")[0]
	if count("Patient") != p0+1 || count("Observation") != o0+1 {
		t.Fatal("transaction did not write both")
	}
	// The urn:uuid reference now names the new patient.
	if r := f.do(t, a.Token, "GET", base+"/Observation?subject=Patient/"+pid+"&_summary=count", ""); r.json["total"].(float64) != 1 {
		t.Fatalf("reference not resolved: %s", r.body)
	}
	for name, bad := range map[string]string{
		"invalid resource": `{"resourceType":"Observation","status":"bogus","code":{"text":"x"}}`,
		"wrong type":       `{"resourceType":"Patient"}`,
	} {
		t.Run(name, func(t *testing.T) {
			tx := `{"resourceType":"Bundle","type":"transaction","entry":[
				{"fullUrl":"urn:uuid:6e4c4c1b-1a8c-4f58-9e22-2a8b6f7e1c01","resource":` + newPatient + `,"request":{"method":"POST","url":"Patient"}},
				{"resource":` + bad + `,"request":{"method":"POST","url":"Observation"}}]}`
			p1, o1 := count("Patient"), count("Observation")
			r := f.do(t, a.Token, "POST", base, tx)
			if r.status < 400 || r.json["resourceType"] != "OperationOutcome" {
				t.Fatalf("bad transaction: %d %s", r.status, r.body)
			}
			if !strings.Contains(string(r.body), "Bundle.entry[1]") {
				t.Errorf("the outcome does not point at entry 1: %s", r.body)
			}
			if count("Patient") != p1 || count("Observation") != o1 {
				t.Fatal("a failed transaction left writes behind")
			}
		})
	}
	// A conflict found during execution (If-Match) also rolls everything back.
	tx := `{"resourceType":"Bundle","type":"transaction","entry":[
		{"resource":` + newPatient + `,"request":{"method":"POST","url":"Patient"}},
		{"request":{"method":"DELETE","url":"Patient/` + pid + `","ifMatch":"W/\"7\""}}]}`
	p1 := count("Patient")
	if r := f.do(t, a.Token, "POST", base, tx); r.status != 412 {
		t.Fatalf("conflict in transaction: %d %s", r.status, r.body)
	}
	if count("Patient") != p1 {
		t.Fatal("a transaction that failed at execution left writes behind")
	}
	// Batch: entries succeed or fail alone.
	batch := `{"resourceType":"Bundle","type":"batch","entry":[
		{"resource":` + newPatient + `,"request":{"method":"POST","url":"Patient"}},
		{"resource":{"resourceType":"Patient","gender":"maybe"},"request":{"method":"POST","url":"Patient"}},
		{"request":{"method":"GET","url":"Patient/` + pid + `"}}]}`
	r = f.do(t, a.Token, "POST", base, batch)
	if r.status != 200 || r.json["type"] != "batch-response" {
		t.Fatalf("batch: %d %s", r.status, r.body)
	}
	var st []string
	for _, e := range r.entries() {
		st = append(st, e["response"].(map[string]any)["status"].(string))
	}
	if len(st) != 3 || !strings.HasPrefix(st[0], "201") || !strings.HasPrefix(st[1], "422") || !strings.HasPrefix(st[2], "200") {
		t.Fatalf("batch statuses %v", st)
	}
}

func TestTrafficRecordedWithoutSecrets(t *testing.T) {
	f := newSandbox(t, 1)
	a := f.tenant(t, "A")
	base := "/t/" + a.Tenant.ID + "/fhir"
	f.do(t, a.Token, "POST", base+"/Patient", newPatient, "Cookie", "session=abc")
	f.do(t, a.Token, "GET", base+"/Patient?family=%C3%A6rlig", "")
	r := f.do(t, a.Token, "GET", "/t/"+a.Tenant.ID+"/traffic", "")
	if r.status != 200 {
		t.Fatalf("traffic: %d", r.status)
	}
	if strings.Contains(string(r.body), a.Token) || strings.Contains(string(r.body), "session=abc") {
		t.Fatal("traffic holds a secret")
	}
	es := r.json["entry"].([]any)
	if len(es) != 2 {
		t.Fatalf("%d exchanges recorded", len(es))
	}
	x := es[0].(map[string]any)
	if x["method"] != "POST" || x["status"].(float64) != 201 || x["route"] != "/t/:tenant/fhir/:type" ||
		!strings.Contains(x["request"].(map[string]any)["body"].(string), "Kari") ||
		!strings.Contains(x["response"].(map[string]any)["body"].(string), `"versionId":"1"`) {
		t.Fatalf("exchange: %v", x)
	}
	auth := x["request"].(map[string]any)["headers"].(map[string]any)["Authorization"].([]any)[0]
	if auth != "Bearer [redacted]" {
		t.Fatalf("Authorization recorded as %v", auth)
	}
	// Logs carry method, route, status, duration and tenant, never data.
	logs := f.logs.String()
	for _, leak := range []string{"Kari", "13819910019", "rlig", a.Token} {
		if strings.Contains(logs, leak) {
			t.Errorf("the log holds %q", leak)
		}
	}
	if !strings.Contains(logs, `"tenant":"`+a.Tenant.ID+`"`) || !strings.Contains(logs, `"route":"/t/:tenant/fhir/:type"`) {
		t.Errorf("log lines lack route or tenant:\n%s", logs)
	}
}

func TestCapabilityStatementIsValid(t *testing.T) {
	f := newSandbox(t, 0)
	a := f.tenant(t, "A")
	r := f.do(t, "", "GET", "/t/"+a.Tenant.ID+"/fhir/metadata", "")
	if r.status != 200 {
		t.Fatalf("metadata: %d", r.status)
	}
	res := testValidator(t).Validate(context.Background(), r.body)
	for _, i := range res.Issues {
		t.Logf("%s", i)
	}
	if !res.Valid() {
		t.Fatal("the CapabilityStatement does not validate")
	}
	if r := f.do(t, "", "GET", "/t/nosuch/fhir/metadata", ""); r.status != 404 {
		t.Fatalf("metadata of no tenant: %d", r.status)
	}
}

// TestFHIRKitClient drives the mock EPR with fhir-kit-client (npm), a FHIR
// client nobody here wrote, over a real socket on 127.0.0.1.
func TestFHIRKitClient(t *testing.T) {
	dir, _ := filepath.Abs("testdata/fhirkit")
	_, nodeErr := exec.LookPath("node")
	_, pkgErr := os.Stat(filepath.Join(dir, "node_modules", "fhir-kit-client"))
	if nodeErr != nil || pkgErr != nil {
		if os.Getenv("SANDKASSE_REQUIRE_FHIRKIT") != "" {
			t.Fatal("SANDKASSE_REQUIRE_FHIRKIT is set but node or fhir-kit-client is missing (npm install --prefix sandbox/api/testdata/fhirkit)")
		}
		t.Skip("node or fhir-kit-client missing: npm install --prefix sandbox/api/testdata/fhirkit")
	}
	f := newSandbox(t, 5)
	a := f.tenant(t, "A")
	srv := httptest.NewServer(f.h)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(dir, "check.js"), srv.URL+"/t/"+a.Tenant.ID+"/fhir", a.Token)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("fhir-kit-client: %v\n%s", err, out)
	}
	var res struct{ Total, Pages int }
	if err := json.Unmarshal(out, &res); err != nil || res.Total < 5 || res.Pages < 3 {
		t.Fatalf("fhir-kit-client reported %s", out)
	}
	t.Logf("fhir-kit-client: %s", strings.TrimSpace(string(out)))
	var _ store.Store = f.st
}

// sandboxOAuth is a tenant with a SMART app, a SMART backend client and a
// VKP client registered, and a token of each.
type sandboxOAuth struct {
	smartKey, vkpKey *ecdsa.PrivateKey
	smartToken       string
	vkpToken         string
}

func setUpOAuth(t *testing.T, f *sandboxFixture, c tenant.Created) sandboxOAuth {
	t.Helper()
	id := c.Tenant.ID
	var o sandboxOAuth
	o.smartKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	o.vkpKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	register(t, f, c.Token, "/t/"+id+"/smart/clients", `{"client_id":"app-a","redirect_uris":["`+smartRedirect+`"],"scopes":["user/*.rs"]}`)
	jwk, _ := json.Marshal(jose.JSONWebKey{Key: &o.smartKey.PublicKey, Algorithm: "ES256"})
	register(t, f, c.Token, "/t/"+id+"/smart/clients", `{"client_id":"backend-a","scopes":["system/*.cruds"],"jwk":`+string(jwk)+`}`)
	register(t, f, c.Token, "/t/"+id+"/vkp/clients", vkpClient("vkp-a", o.vkpKey))
	o.smartToken = smartToken(t, f, id, o.smartKey)
	o.vkpToken = vkpToken(t, f, id, o.vkpKey)
	return o
}

// TestResetRestoresSeededState: tenant reset (the admin API; the CLI calls
// the same tenant.Service.Reset) brings the seeded resources back and
// clears the SMART and VKP registers and everything issued from them; the
// developer token stays.
func TestResetRestoresSeededState(t *testing.T) {
	f := newSandbox(t, 2)
	a := f.tenant(t, "A")
	id := a.Tenant.ID
	base := "/t/" + id + "/fhir"
	o := setUpOAuth(t, f, a)
	seeded := f.do(t, a.Token, "GET", base+"/Patient?_count=1", "").entries()[0]["resource"].(map[string]any)["id"].(string)
	seededBody := f.do(t, a.Token, "GET", base+"/Patient/"+seeded, "").body
	if r := f.do(t, o.smartToken, "DELETE", base+"/Patient/"+seeded, ""); r.status != 200 {
		t.Fatalf("delete with the SMART token: %d %s", r.status, r.body)
	}
	created := f.do(t, a.Token, "POST", base+"/Patient", newPatient).str("id")
	vkpSearch := func(tok string) int {
		rec := send(t, f, attempt{method: "POST", path: "/t/" + id + "/vkp/epj/r4/312345676/Patient/_search",
			contentType: "application/x-www-form-urlencoded", body: "_count=1", header: []string{"ServiceCodes", "dho", "Authorization", "Bearer " + tok}})
		return rec.Code
	}
	if st := vkpSearch(o.vkpToken); st != 200 {
		t.Fatalf("VKP search before reset: %d", st)
	}
	code := smartCode(t, f, id, "app-a")

	if r := f.do(t, "admin-secret", "POST", "/admin/tenants/"+id+"/reset", ""); r.status != http.StatusNoContent {
		t.Fatalf("reset: %d %s", r.status, r.body)
	}
	// The same resource, written anew (meta says when).
	withoutMeta := func(b []byte) string {
		var m map[string]any
		json.Unmarshal(b, &m)
		delete(m, "meta")
		out, _ := json.Marshal(m)
		return string(out)
	}
	if r := f.do(t, a.Token, "GET", base+"/Patient/"+seeded, ""); r.status != 200 || withoutMeta(r.body) != withoutMeta(seededBody) || len(seededBody) < 50 {
		t.Errorf("the seeded patient after reset: %d\n%s\n%s", r.status, r.body, seededBody)
	}
	if r := f.do(t, a.Token, "GET", base+"/Patient/"+created, ""); r.status != 404 {
		t.Errorf("a patient created before reset: %d", r.status)
	}
	// Registers and grants are gone.
	if r := f.do(t, o.smartToken, "GET", base+"/Patient", ""); r.status != http.StatusUnauthorized {
		t.Errorf("a SMART token issued before reset: %d", r.status)
	}
	if st := vkpSearch(o.vkpToken); st != http.StatusUnauthorized {
		t.Errorf("a VKP token issued before reset: %d", st)
	}
	v, _ := pkce()
	if st, m := postForm(t, f, "/t/"+id+"/smart/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {smartRedirect}, "client_id": {"app-a"}, "code_verifier": {v}}); st != http.StatusBadRequest {
		t.Errorf("a code issued before reset: %d %v", st, m)
	}
	rec := send(t, f, attempt{method: "GET", path: "/t/" + id + "/smart/authorize?client_id=app-a&response_type=code"})
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "no such client_id") {
		t.Errorf("the SMART app after reset: %d %s", rec.Code, rec.Body)
	}
	st, m := postForm(t, f, "/t/"+id+"/vkp/helseid/connect/token", url.Values{"grant_type": {"client_credentials"},
		"client_assertion_type": {clientauth.AssertionType},
		"client_assertion":      {backendAssertion(t, o.vkpKey, "vkp-a", "http://example.com/t/"+id+"/vkp/helseid/connect/token")}})
	if st != http.StatusUnauthorized || !strings.Contains(fmt.Sprint(m["error_description"]), "no such client") {
		t.Errorf("the VKP client after reset: %d %v", st, m)
	}
	// The developer token stays, and registering again works.
	register(t, f, a.Token, "/t/"+id+"/vkp/clients", vkpClient("vkp-a", o.vkpKey))
}

// TestInstancesAreStateless: two API instances on one store, sharing
// nothing else. What one registers and issues, the other honours; a code is
// spent on both once used on either.
func TestInstancesAreStateless(t *testing.T) {
	f := newSandbox(t, 1)
	a := f.tenant(t, "A")
	id := a.Tenant.ID
	tenants := tenant.New(tenant.Options{Store: f.st})
	other := &sandboxFixture{st: f.st, tenants: tenants, logs: &syncBuffer{}}
	other.h = New(Config{Validator: testValidator(t), MaxBodyBytes: 1 << 20, Sandbox: &Sandbox{
		EPR: epr.New(epr.Options{Store: f.st, Validator: testValidator(t)}), Tenants: tenants, Auth: tenants, Traffic: f.rec}})

	o := setUpOAuth(t, f, a) // registered and issued at the first
	if r := other.do(t, o.smartToken, "GET", "/t/"+id+"/fhir/Patient", ""); r.status != 200 {
		t.Fatalf("the first instance's SMART token at the second: %d", r.status)
	}
	rec := send(t, other, attempt{method: "POST", path: "/t/" + id + "/vkp/epj/r4/312345676/Patient/_search",
		contentType: "application/x-www-form-urlencoded", body: "_count=1", header: []string{"ServiceCodes", "dho", "Authorization", "Bearer " + o.vkpToken}})
	if rec.Code != 200 {
		t.Fatalf("the first instance's VKP token at the second: %d", rec.Code)
	}
	code := smartCode(t, other, id, "app-a") // the client registered at the first
	v, _ := pkce()
	exchange := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {smartRedirect},
		"client_id": {"app-a"}, "code_verifier": {v}}
	if st, m := postForm(t, f, "/t/"+id+"/smart/token", exchange); st != 200 {
		t.Fatalf("the second instance's code at the first: %d %v", st, m)
	}
	if st, _ := postForm(t, other, "/t/"+id+"/smart/token", exchange); st != http.StatusBadRequest {
		t.Fatalf("the code again at the second: %d", st)
	}
	// A backend client assertion used at one is refused at the other.
	as := backendAssertion(t, o.smartKey, "backend-a", "http://example.com/t/"+id+"/smart/token")
	cc := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {clientauth.AssertionType}, "client_assertion": {as}}
	if st, _ := postForm(t, other, "/t/"+id+"/smart/token", cc); st != 200 {
		t.Fatalf("assertion at the second: %d", st)
	}
	if st, _ := postForm(t, f, "/t/"+id+"/smart/token", cc); st != http.StatusUnauthorized {
		t.Fatalf("the same assertion at the first: %d", st)
	}
}

// TestOAuthTrafficRecordedWithoutSecrets: the SMART endpoints (client
// registration, launch, authorize, token) and the VKP token endpoint are
// recorded like the FHIR ones, and no credential reaches the record.
func TestOAuthTrafficRecordedWithoutSecrets(t *testing.T) {
	f := newSandbox(t, 1)
	a := f.tenant(t, "A")
	id := a.Tenant.ID
	o := setUpOAuth(t, f, a)
	pid := f.do(t, a.Token, "GET", "/t/"+id+"/fhir/Patient?_count=1", "").entries()[0]["resource"].(map[string]any)["id"].(string)
	l := f.do(t, a.Token, "POST", "/t/"+id+"/smart/launch?patient="+url.QueryEscape(pid), "")
	if l.status != http.StatusCreated {
		t.Fatalf("launch: %d", l.status)
	}
	code := smartCode(t, f, id, "app-a", "offline_access")
	v, _ := pkce()
	st, m := postForm(t, f, "/t/"+id+"/smart/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {smartRedirect}, "client_id": {"app-a"}, "code_verifier": {v}})
	if st != 200 || m["refresh_token"] == nil {
		t.Fatalf("code exchange: %d %v", st, m)
	}
	st, rm := postForm(t, f, "/t/"+id+"/smart/token", url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {m["refresh_token"].(string)}, "client_id": {"app-a"}})
	if st != 200 || rm["refresh_token"] == nil {
		t.Fatalf("refresh: %d %v", st, rm)
	}
	vkpAssertion := backendAssertion(t, o.vkpKey, "vkp-a", "http://example.com/t/"+id+"/vkp/helseid/connect/token")
	st, vm := postForm(t, f, "/t/"+id+"/vkp/helseid/connect/token", url.Values{"grant_type": {"client_credentials"},
		"client_assertion_type": {clientauth.AssertionType}, "client_assertion": {vkpAssertion}})
	if st != 200 {
		t.Fatalf("VKP token: %d", st)
	}
	tr := f.do(t, a.Token, "GET", "/t/"+id+"/traffic?_count=50", "")
	if tr.status != 200 {
		t.Fatalf("traffic: %d", tr.status)
	}
	routes := map[string]int{}
	for _, e := range tr.json["entry"].([]any) {
		routes[e.(map[string]any)["route"].(string)]++
	}
	for _, want := range []string{"/t/:tenant/smart/clients", "/t/:tenant/smart/launch", "/t/:tenant/smart/authorize",
		"/t/:tenant/smart/token", "/t/:tenant/vkp/clients", "/t/:tenant/vkp/helseid/connect/token"} {
		if routes[want] == 0 {
			t.Errorf("no exchange of %s recorded (recorded: %v)", want, routes)
		}
	}
	secrets := map[string]string{"developer token": a.Token, "SMART token": o.smartToken, "VKP token": o.vkpToken,
		"code": code, "code_verifier": v, "SMART access token": m["access_token"].(string),
		"VKP access token": vm["access_token"].(string), "VKP client assertion": vkpAssertion,
		"refresh token": m["refresh_token"].(string), "refreshed access token": rm["access_token"].(string),
		"new refresh token": rm["refresh_token"].(string)}
	for name, s := range secrets {
		if strings.Contains(string(tr.body), s) || strings.Contains(string(tr.body), url.QueryEscape(s)) {
			t.Errorf("the recorded traffic holds the %s", name)
		}
	}
}
