package api

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/sandkasse/sandkasse/validator"
	"github.com/sandkasse/sandkasse/validator/report"
)

const patient = `{"resourceType":"Patient","id":"p1","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">Kari Nordmann</div>"},"name":[{"family":"Nordmann","given":["Kari"]}]}`

// unknownElement has one error the engine reports at a known place: the
// property "foo" at column 27 of line 1.
const unknownElement = `{"resourceType":"Patient","foo":1,"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}}`

func newServer(t testing.TB, max int64) (http.Handler, *bytes.Buffer) {
	t.Helper()
	v, err := validator.New(validator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	return New(Config{Validator: v, MaxBodyBytes: max, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}), &logs
}

type response struct {
	status int
	header http.Header
	oo     report.OperationOutcome
	body   string
}

func do(t *testing.T, h http.Handler, method, path, contentType string, body io.Reader) response {
	t.Helper()
	req := httptest.NewRequest(method, path, body)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	r := response{status: rec.Code, header: rec.Header(), body: rec.Body.String()}
	if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/fhir+json") {
		if err := json.Unmarshal(rec.Body.Bytes(), &r.oo); err != nil {
			t.Fatalf("body is not an OperationOutcome: %v\n%s", err, r.body)
		}
	}
	return r
}

// codes lists the stable codes of an outcome's issues.
func codes(oo report.OperationOutcome) []string {
	var cs []string
	for _, i := range oo.Issue {
		for _, c := range i.Details.Coding {
			cs = append(cs, c.Code)
		}
	}
	return cs
}

func has(cs []string, c string) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}

func parameters(res string, extra ...string) string {
	ps := append([]string{`{"name":"mode","valueCode":"create"}`}, extra...)
	ps = append(ps, `{"name":"resource","resource":`+res+`}`)
	return "{\n  \"resourceType\": \"Parameters\",\n  \"parameter\": [\n    " + strings.Join(ps, ",\n    ") + "\n  ]\n}"
}

func TestRoutes(t *testing.T) {
	h, _ := newServer(t, 1<<20)
	for _, tc := range []struct {
		name, method, path, ctype, body string
		status                          int
		code                            string // a stable code the outcome must carry ("" for none checked)
		valid                           bool
	}{
		{"bare resource", "POST", "/fhir/$validate", "application/fhir+json", patient, 200, report.CodeNoIssues, true},
		{"plain json, charset", "POST", "/fhir/$validate", "application/json; charset=utf-8", patient, 200, "", true},
		{"percent-encoded $", "POST", "/fhir/%24validate", "application/fhir+json", patient, 200, "", true},
		{"typed route", "POST", "/fhir/Patient/$validate", "application/fhir+json", patient, 200, "", true},
		{"Parameters input", "POST", "/fhir/$validate", "application/fhir+json", parameters(patient), 200, "", true},
		{"Parameters input, typed", "POST", "/fhir/Patient/$validate", "application/fhir+json", parameters(patient), 200, "", true},
		{"invalid resource is still 200", "POST", "/fhir/$validate", "application/fhir+json", unknownElement, 200, "structure-unknown-element", false},
		{"type mismatch", "POST", "/fhir/Observation/$validate", "application/fhir+json", patient, 400, CodeTypeMismatch, false},
		{"type mismatch in Parameters", "POST", "/fhir/Observation/$validate", "application/fhir+json", parameters(patient), 400, CodeTypeMismatch, false},
		{"unknown profile parameter", "POST", "/fhir/$validate", "application/fhir+json", parameters(patient, `{"name":"profile","valueUri":"http://x/y"}`), 400, CodeProfileNotFound, false},
		{"malformed JSON", "POST", "/fhir/$validate", "application/fhir+json", `{"resourceType":"Patient",}`, 400, "json-syntax", false},
		{"empty body", "POST", "/fhir/$validate", "application/fhir+json", ``, 400, "json-syntax", false},
		{"wrong media type", "POST", "/fhir/$validate", "application/x-www-form-urlencoded", patient, 415, CodeMediaType, false},
		{"no media type", "POST", "/fhir/$validate", "", patient, 415, CodeMediaType, false},
		{"GET on $validate", "GET", "/fhir/$validate", "", "", 405, CodeMethodNotAllowed, false},
		{"PUT on typed $validate", "PUT", "/fhir/Patient/$validate", "application/fhir+json", patient, 405, CodeMethodNotAllowed, false},
		{"unknown route", "GET", "/fhir/Patient/1", "", "", 404, CodeRouteNotFound, false},
		{"trailing slash is not redirected", "POST", "/fhir/$validate/", "application/fhir+json", patient, 404, CodeRouteNotFound, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, h, tc.method, tc.path, tc.ctype, strings.NewReader(tc.body))
			if r.status != tc.status {
				t.Fatalf("status %d, want %d\n%s", r.status, tc.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/fhir+json") {
				t.Fatalf("Content-Type %q: every answer must be an OperationOutcome", ct)
			}
			if r.oo.ResourceType != "OperationOutcome" || len(r.oo.Issue) == 0 {
				t.Fatalf("not an OperationOutcome with issues: %s", r.body)
			}
			if tc.code != "" && !has(codes(r.oo), tc.code) {
				t.Errorf("codes %v lack %q", codes(r.oo), tc.code)
			}
			valid := true
			for _, i := range r.oo.Issue {
				if i.Severity == "error" || i.Severity == "fatal" {
					valid = false
				}
			}
			if valid != tc.valid {
				t.Errorf("valid=%v, want %v: %s", valid, tc.valid, r.body)
			}
			if tc.status == 405 && r.header.Get("Allow") != "POST" {
				t.Errorf("Allow header %q", r.header.Get("Allow"))
			}
		})
	}
}

func TestHealth(t *testing.T) {
	h, _ := newServer(t, 0)
	r := do(t, h, "GET", "/healthz", "", nil)
	if r.status != 200 || !strings.Contains(r.body, `"ok"`) {
		t.Fatalf("%d %s", r.status, r.body)
	}
}

func TestBodyTooLarge(t *testing.T) {
	h, _ := newServer(t, 64)
	// Declared length over the limit: refused before reading.
	r := do(t, h, "POST", "/fhir/$validate", "application/fhir+json", strings.NewReader(patient))
	if r.status != 413 || !has(codes(r.oo), CodeBodyTooLarge) {
		t.Fatalf("declared: %d %s", r.status, r.body)
	}
	// Unknown length (chunked): refused while reading.
	r = do(t, h, "POST", "/fhir/$validate", "application/fhir+json", io.MultiReader(strings.NewReader(patient)))
	if r.status != 413 || !has(codes(r.oo), CodeBodyTooLarge) {
		t.Fatalf("chunked: %d %s", r.status, r.body)
	}
	// At the limit: accepted.
	small := `{"resourceType":"Basic"}`
	h, _ = newServer(t, int64(len(small)))
	if r := do(t, h, "POST", "/fhir/$validate", "application/fhir+json", strings.NewReader(small)); r.status != 200 {
		t.Fatalf("at the limit: %d %s", r.status, r.body)
	}
}

// Positions in a Parameters input point into the request body as sent,
// not into the nested resource.
func TestParametersPositionsAreInTheRequest(t *testing.T) {
	h, _ := newServer(t, 0)
	body := parameters(unknownElement)
	r := do(t, h, "POST", "/fhir/$validate", "application/fhir+json", strings.NewReader(body))
	var line, col int
	for _, i := range r.oo.Issue {
		if i.Details.Coding[0].Code == "structure-unknown-element" {
			line, col = *i.Extension[0].ValueInteger, *i.Extension[1].ValueInteger
		}
	}
	lines := strings.Split(body, "\n")
	at := ""
	if line >= 1 && line <= len(lines) && col >= 1 && col <= len([]rune(lines[line-1])) {
		at = string([]rune(lines[line-1])[col-1:])
	}
	if !strings.HasPrefix(at, `"foo"`) {
		t.Fatalf("position %d:%d does not point at \"foo\" in\n%s\n%s", line, col, body, r.body)
	}
}

// The access log is for operations: it must carry the route template, never
// the URL or anything from the body, since both can hold patient data.
func TestAccessLogCarriesNoPatientData(t *testing.T) {
	h, logs := newServer(t, 0)
	do(t, h, "POST", "/fhir/Patient/$validate?identifier=13116900216", "application/fhir+json", strings.NewReader(patient))
	do(t, h, "GET", "/fhir/Patient?name=Nordmann", "", nil)
	out := logs.String()
	for _, secret := range []string{"Nordmann", "Kari", "13116900216", "identifier"} {
		if strings.Contains(out, secret) {
			t.Errorf("log holds %q:\n%s", secret, out)
		}
	}
	var entry map[string]any
	first, _, _ := strings.Cut(out, "\n")
	if err := json.Unmarshal([]byte(first), &entry); err != nil {
		t.Fatal(err)
	}
	if entry["route"] != "/fhir/:type/$validate" || entry["method"] != "POST" || entry["status"] != float64(200) || entry["duration_ms"] == nil {
		t.Errorf("log entry %v", entry)
	}
	if !strings.Contains(out, `"route":"(unmatched)"`) {
		t.Errorf("unmatched route not logged as such:\n%s", out)
	}
}

// A panic must become a 500 OperationOutcome, and its value must stay out
// of the log. A nil validator panics on first use.
func TestPanicIsA500Outcome(t *testing.T) {
	var logs bytes.Buffer
	h := New(Config{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	r := do(t, h, "POST", "/fhir/$validate", "application/fhir+json", strings.NewReader(patient))
	if r.status != 500 || !has(codes(r.oo), CodeInternal) {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if strings.Contains(logs.String(), "Nordmann") || strings.Contains(logs.String(), "nil pointer") {
		t.Errorf("log echoes the panic:\n%s", logs.String())
	}
}

// FuzzValidate posts arbitrary bodies to both routes: whatever arrives, the
// answer is a well-formed OperationOutcome with a status the API documents,
// and nothing panics.
func FuzzValidate(f *testing.F) {
	f.Add(patient, "")
	f.Add(parameters(unknownElement), "Patient")
	f.Add(`{"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Basic"}}]}`, "Basic")
	f.Add(`{"resourceType":"Parameters","parameter":{"name":"resource"}}`, "")
	f.Add(`[1,2,{"a":"\u00e5"}]`, "x")
	f.Add(parameters(patient, `{"name":"profile","valueUri":"http://hl7.org/fhir/StructureDefinition/Patient|4.0.1"}`), "Patient")
	f.Add(`{"resourceType":"Parameters","parameter":[{"name":"mode","valueCode":"profile"},{"name":"profile","valueCanonical":""}]}`, "")
	h, _ := newServer(f, 4096)
	f.Fuzz(func(t *testing.T, body, typ string) {
		path := "/fhir/$validate"
		if typ != "" {
			path = "/fhir/" + url.PathEscape(typ) + "/$validate"
		}
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/fhir+json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case 200, 400, 404, 413:
		default:
			t.Fatalf("status %d for %q", rec.Code, body)
		}
		var oo report.OperationOutcome
		if err := json.Unmarshal(rec.Body.Bytes(), &oo); err != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) == 0 {
			t.Fatalf("not an OperationOutcome (%v): %s", err, rec.Body.String())
		}
	})
}
