package api

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/validator"
	"github.com/sandkasse/sandkasse/validator/fhirjson"
	"github.com/sandkasse/sandkasse/validator/spec/r4"
)

const (
	needsName = "http://example.org/StructureDefinition/needs-name"
	obsOnly   = "http://example.org/StructureDefinition/obs"
	broken    = "http://example.org/StructureDefinition/broken"
)

func constraint(url, version, typ string, elems ...string) string {
	return `{"resourceType":"StructureDefinition","url":"` + url + `","version":"` + version + `","name":"T","type":"` + typ +
		`","kind":"resource","derivation":"constraint","baseDefinition":"http://hl7.org/fhir/StructureDefinition/` + typ +
		`","differential":{"element":[` + strings.Join(elems, ",") + `]}}`
}

// profileServer knows three profiles: one requiring Patient.name, one on
// Observation, and one whose differential names an element Patient lacks.
func profileServer(t *testing.T) *validator.Validator { return profileServerB(t) }

func profileServerB(t testing.TB) *validator.Validator {
	t.Helper()
	reg := r4.NewRegistry()
	for _, d := range []string{
		constraint(needsName, "1.0", "Patient", `{"id":"Patient.name","path":"Patient.name","min":1}`),
		constraint(obsOnly, "", "Observation", `{"id":"Observation.subject","path":"Observation.subject","min":1}`),
		constraint(broken, "", "Patient", `{"id":"Patient.nosuch","path":"Patient.nosuch","min":1}`),
	} {
		if _, err := reg.LoadJSON("def", []byte(d)); err != nil {
			t.Fatal(err)
		}
	}
	v, err := validator.New(validator.Options{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

const nameless = `{"resourceType":"Patient","id":"p1","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"},"active":true}`

func TestValidateProfileAndModeParameters(t *testing.T) {
	h := New(Config{Validator: profileServer(t)})
	uri := func(u string) string { return `{"name":"profile","valueUri":"` + u + `"}` }
	mode := func(m string) string { return `{"name":"mode","valueCode":"` + m + `"}` }
	// wrap is a Parameters input without the default mode=create of parameters().
	wrap := func(res string, extra ...string) string {
		return `{"resourceType":"Parameters","parameter":[` + strings.Join(append(extra, `{"name":"resource","resource":`+res+`}`), ",") + `]}`
	}
	q := "?profile=" + url.QueryEscape(needsName)
	for _, tc := range []struct {
		name, path, body string
		status           int
		code             string // a code the outcome must carry
		valid            bool
		mentions         string // text a message must contain
	}{
		{"no profile: the nameless patient is valid", "/fhir/$validate", nameless, 200, "", true, ""},
		{"valueUri", "/fhir/$validate", wrap(nameless, uri(needsName)), 200, "profile-cardinality-min", false, ""},
		{"valueCanonical", "/fhir/$validate", wrap(nameless, `{"name":"profile","valueCanonical":"`+needsName+`"}`), 200, "profile-cardinality-min", false, ""},
		{"URL parameter, bare resource", "/fhir/$validate" + q, nameless, 200, "profile-cardinality-min", false, ""},
		{"URL parameter, typed route", "/fhir/Patient/$validate" + q, nameless, 200, "profile-cardinality-min", false, ""},
		{"conforming resource", "/fhir/$validate" + q, patient, 200, "", true, ""},
		{"same profile in URL and body", "/fhir/$validate" + q, wrap(nameless, uri(needsName)), 200, "profile-cardinality-min", false, ""},
		{"matching version", "/fhir/$validate", wrap(nameless, uri(needsName+"|1.0")), 200, "profile-cardinality-min", false, ""},
		{"core profile", "/fhir/$validate", wrap(patient, uri("http://hl7.org/fhir/StructureDefinition/Patient")), 200, "", true, ""},
		{"profile of another type", "/fhir/$validate", wrap(nameless, uri(obsOnly)), 200, "profile-type-mismatch", false, ""},
		{"mode create", "/fhir/$validate", wrap(nameless, mode("create")), 200, "", true, ""},
		{"mode profile with a profile", "/fhir/$validate", wrap(nameless, mode("profile"), uri(needsName)), 200, "profile-cardinality-min", false, ""},
		{"mode in the URL", "/fhir/$validate?mode=create", nameless, 200, "", true, ""},

		{"unknown profile", "/fhir/$validate", wrap(patient, uri("http://example.org/nowhere")), 400, CodeProfileNotFound, false, "http://example.org/nowhere"},
		{"unknown profile in the URL", "/fhir/$validate?profile=http%3A%2F%2Fexample.org%2Fnowhere", patient, 400, CodeProfileNotFound, false, "http://example.org/nowhere"},
		{"unknown version", "/fhir/$validate", wrap(patient, uri(needsName+"|2.0")), 400, CodeProfileNotFound, false, "has 1.0"},
		{"datatype profile", "/fhir/$validate", wrap(patient, uri("http://hl7.org/fhir/StructureDefinition/HumanName")), 400, CodeParameterInvalid, false, "not a resource"},
		{"unusable profile", "/fhir/$validate", wrap(patient, uri(broken)), 400, CodeProfileInvalid, false, broken},
		{"two profiles", "/fhir/$validate", wrap(patient, uri(needsName), uri(obsOnly)), 400, CodeParameterInvalid, false, "one profile"},
		{"empty profile", "/fhir/$validate?profile=", patient, 400, CodeParameterInvalid, false, "empty"},
		{"profile as valueString", "/fhir/$validate", wrap(patient, `{"name":"profile","valueString":"`+needsName+`"}`), 400, CodeParameterInvalid, false, "valueUri"},
		{"profile without a resource part", "/fhir/$validate", `{"resourceType":"Parameters","parameter":[` + uri(needsName) + `]}`, 400, CodeParameterInvalid, false, "resource"},
		{"mode profile without a profile", "/fhir/$validate", wrap(patient, mode("profile")), 400, CodeParameterInvalid, false, "mode profile"},
		{"mode update", "/fhir/$validate", wrap(patient, mode("update")), 400, CodeNotSupported, false, "instance level"},
		{"mode delete without a resource", "/fhir/$validate", `{"resourceType":"Parameters","parameter":[` + mode("delete") + `]}`, 400, CodeNotSupported, false, "instance level"},
		{"mode delete in the URL", "/fhir/Patient/$validate?mode=delete", patient, 400, CodeNotSupported, false, "instance level"},
		{"unknown mode", "/fhir/$validate", wrap(patient, mode("dryrun")), 400, CodeParameterInvalid, false, "create | update | delete | profile"},
		{"modes that disagree", "/fhir/$validate?mode=profile", wrap(patient, mode("create"), uri(needsName)), 400, CodeParameterInvalid, false, "mode"},
		{"mode as valueString", "/fhir/$validate", wrap(patient, `{"name":"mode","valueString":"create"}`), 400, CodeParameterInvalid, false, "valueCode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, h, "POST", tc.path, "application/fhir+json", strings.NewReader(tc.body))
			if r.status != tc.status {
				t.Fatalf("status %d, want %d\n%s", r.status, tc.status, r.body)
			}
			if r.oo.ResourceType != "OperationOutcome" || len(r.oo.Issue) == 0 {
				t.Fatalf("not an OperationOutcome: %s", r.body)
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
			if tc.mentions != "" && !strings.Contains(r.body, tc.mentions) {
				t.Errorf("no message mentions %q: %s", tc.mentions, r.body)
			}
		})
	}
	// A profile asked for once must not stick to the server.
	if r := do(t, h, "POST", "/fhir/$validate", "application/fhir+json", strings.NewReader(nameless)); r.status != 200 || has(codes(r.oo), "profile-cardinality-min") {
		t.Fatalf("a later request without a profile is checked against it: %d %s", r.status, r.body)
	}
}

// A profile's findings are shifted into the request body like the others.
func TestProfileFindingPositionInParameters(t *testing.T) {
	h := New(Config{Validator: profileServer(t)})
	body := "{\"resourceType\":\"Parameters\",\"parameter\":[\n{\"name\":\"profile\",\"valueUri\":\"" + needsName + "\"},\n{\"name\":\"resource\",\"resource\":" + nameless + "}]}"
	r := do(t, h, "POST", "/fhir/$validate", "application/fhir+json", strings.NewReader(body))
	for _, i := range r.oo.Issue {
		if i.Details.Coding[0].Code == "profile-cardinality-min" {
			if line := *i.Extension[0].ValueInteger; line != 3 {
				t.Fatalf("profile finding on line %d, want 3 (the resource's line in the body): %s", line, r.body)
			}
			return
		}
	}
	t.Fatalf("no profile finding: %s", r.body)
}

func TestProfileCacheIsBoundedAndShared(t *testing.T) {
	c := newProfileCache(profileServer(t), 2)
	a, b := c.get("http://a"), c.get("http://b")
	if c.get("http://a") != a {
		t.Fatal("a cached profile's validator was made again")
	}
	c.get("http://c") // evicts b, the least recently used
	if n := c.len(); n != 2 {
		t.Fatalf("cache holds %d, bound 2", n)
	}
	if c.get("http://a") != a {
		t.Fatal("the recently used entry was evicted")
	}
	if c.get("http://b") == b {
		t.Fatal("the least recently used entry was kept past the bound")
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				if c.get(fmt.Sprintf("http://p%d", (g+i)%5)) == nil {
					t.Error("nil validator")
				}
			}
		}()
	}
	wg.Wait()
	if n := c.len(); n > 2 {
		t.Fatalf("cache holds %d after concurrent use, bound 2", n)
	}
}

// The engine's limits hold at the edge, and a validation a limit stopped
// is a 400 (its verdict is unknown), never a 200 that looks complete.
func TestEdgeLimits(t *testing.T) {
	nest := func(levels int) string {
		// Each extension level is an object in an array: two JSON levels.
		return `{"resourceType":"Basic","code":{"text":"x"},"extension":[` +
			strings.Repeat(`{"url":"http://x","extension":[`, levels) + `{"url":"http://x","valueString":"v"}` +
			strings.Repeat(`]}`, levels) + `]}`
	}
	bundle := func(n int) string {
		var es []string
		for i := range n {
			es = append(es, fmt.Sprintf(`{"fullUrl":"urn:uuid:00000000-0000-4000-8000-%012d","resource":{"resourceType":"Basic","code":{"text":"x"}}}`, i))
		}
		return `{"resourceType":"Bundle","type":"collection","entry":[` + strings.Join(es, ",") + `]}`
	}
	for _, tc := range []struct {
		name   string
		opts   validator.Options
		body   string
		status int
		code   string
	}{
		{"depth within the default", validator.Options{}, nest(100), 200, ""},
		{"depth over the default (256)", validator.Options{}, nest(200), 400, "json-depth"},
		{"depth over the default, within the server's limit", validator.Options{Limits: fhirjson.Limits{MaxDepth: 1000}}, nest(200), 200, ""},
		{"depth over the server's limit", validator.Options{Limits: fhirjson.Limits{MaxDepth: 20}}, nest(20), 400, "json-depth"},
		{"depth over the limit inside Parameters", validator.Options{Limits: fhirjson.Limits{MaxDepth: 20}}, parameters(nest(8)), 400, "json-depth"},
		{"JSON values over the limit", validator.Options{Limits: fhirjson.Limits{MaxValues: 10}}, bundle(3), 400, "json-values"},
		{"entries at the limit", validator.Options{MaxBundleEntries: 3}, bundle(3), 200, ""},
		{"entries over the limit", validator.Options{MaxBundleEntries: 3}, bundle(4), 400, "limit-bundle-entries"},
		{"elements over the limit", validator.Options{MaxElements: 10}, bundle(5), 400, "limit-elements"},
		{"timeout", validator.Options{Timeout: time.Nanosecond}, patient, 400, "validation-timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := validator.New(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			r := do(t, New(Config{Validator: v}), "POST", "/fhir/$validate", "application/fhir+json", strings.NewReader(tc.body))
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.code != "" && !has(codes(r.oo), tc.code) {
				t.Fatalf("codes %v lack %q", codes(r.oo), tc.code)
			}
		})
	}
}

// The request's context reaches the engine: a client that goes away stops
// the validation with the timeout finding.
func TestCancelledRequestIsNotAVerdict(t *testing.T) {
	v, _ := validator.New(validator.Options{})
	s := &server{v: v, max: DefaultMaxBodyBytes, profiles: newProfileCache(v, 0)}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	status, res := s.check(ctx, []byte(patient), "", nil)
	if status != 400 || !res.Issues.HasErrors() {
		t.Fatalf("status %d, issues %v", status, res.Issues)
	}
}

// BenchmarkValidateProfileParameter: what the profile parameter costs a
// request, with the profile's validator cached and with the cache too
// small to hold the two profiles asked for in turn (a new derivation
// each time).
func BenchmarkValidateProfileParameter(b *testing.B) {
	v := profileServerB(b)
	body := []byte(nameless)
	for _, bc := range []struct {
		name     string
		profiles []string
		cache    int
	}{
		{"none", nil, 0},
		{"cached", []string{needsName}, 0},
		{"derived each time", []string{needsName, needsName + "|1.0"}, 1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := &server{v: v, max: DefaultMaxBodyBytes, profiles: newProfileCache(v, bc.cache)}
			ctx := context.Background()
			i := 0
			for b.Loop() {
				var q url.Values
				if len(bc.profiles) > 0 {
					q = url.Values{"profile": {bc.profiles[i%len(bc.profiles)]}}
				}
				i++
				if status, _ := s.check(ctx, body, "", q); status != 200 {
					b.Fatalf("status %d", status)
				}
			}
		})
	}
}
