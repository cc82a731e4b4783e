package suite

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/sandkasse/sandkasse/rules"
	"github.com/sandkasse/sandkasse/validator"
	"github.com/sandkasse/sandkasse/validator/benchcpu"
	"github.com/sandkasse/sandkasse/validator/issue"
	"github.com/sandkasse/sandkasse/validator/policy"
)

// Recorded sessions of the two shipped suites' shapes, built deterministically
// so that benchmarks and the findings corpus need no files: a DHO platform
// (HelseID token calls, POST _search calls, journal document Bundles) and a
// SMART app (authorize, token, FHIR reads and searches, writes). About one
// request in seven carries a defect a rule reports, so the runner does the
// work of building findings as well as passing inputs.

const (
	fnrSystem = "urn:oid:2.16.578.1.12.4.1.4.1"
	// Synthetic fødselsnummer (valid control digits) and one that is not.
	goodFNR = "14835031048"
	badFNR  = "14835031049"
)

func jwt(claims map[string]any) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]any{"alg": "RS256", "typ": "JWT", "kid": "k1"}) + "." + enc(claims) + ".c2lnbmF0dXJl"
}

func exchangeFile(m map[string]any) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// dhoJournal is one document Bundle closing an alert of kind k (0 blood
// pressure, 1 heart rate, 2 weight, 3 questionnaire score).
func dhoJournal(i int, k int, defect int) map[string]any {
	id := goodFNR
	if defect == 1 {
		id = badFNR
	}
	subject := func() map[string]any {
		s := map[string]any{"identifier": map[string]any{"system": fnrSystem, "value": id}, "display": "Kari Nordmann"}
		if defect == 2 {
			delete(s, "display")
		}
		return s
	}
	qty := func(v float64, unit, code string) map[string]any {
		return map[string]any{"value": v, "unit": unit, "system": "http://unitsofmeasure.org", "code": code}
	}
	loinc := func(c string) map[string]any {
		return map[string]any{"coding": []any{map[string]any{"system": "http://loinc.org", "code": c}}}
	}
	when := fmt.Sprintf("2026-11-%02dT%02d:%02d:00+01:00", 1+i%28, 6+i%14, i%60)
	obs := map[string]any{"resourceType": "Observation", "status": "final", "subject": subject(), "effectiveDateTime": when,
		"category": []any{map[string]any{"coding": []any{map[string]any{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}}}}}
	switch k {
	case 0:
		obs["code"] = loinc("85354-9")
		unit := "mm[Hg]"
		if defect == 3 {
			unit = "mmHg" // not the UCUM code
		}
		obs["component"] = []any{
			map[string]any{"code": loinc("8480-6"), "valueQuantity": qty(float64(120+i%40), "mmHg", unit)},
			map[string]any{"code": loinc("8462-4"), "valueQuantity": qty(float64(70+i%25), "mmHg", unit)},
		}
	case 1:
		obs["code"] = loinc("8867-4")
		obs["valueQuantity"] = qty(float64(55+i%50), "/min", "/min")
	case 2:
		obs["code"] = loinc("29463-7")
		code := "kg"
		if defect == 3 {
			code = "Cel" // a unit that does not fit a weight
		}
		obs["valueQuantity"] = qty(70+float64(i%30)/10, "kg", code)
	default:
		obs["code"] = map[string]any{"coding": []any{map[string]any{"system": "http://snomed.info/sct", "code": "445536008"}}}
		obs["valueQuantity"] = map[string]any{"value": i % 20}
	}
	if defect == 4 {
		delete(obs, "effectiveDateTime")
	}
	uuid := func(part int) string { return fmt.Sprintf("urn:uuid:%08x-0000-4000-8000-%012x", i, part) }
	entries := []any{
		map[string]any{"fullUrl": uuid(1), "resource": map[string]any{"resourceType": "Composition", "status": "final",
			"type": loinc("34109-9"), "subject": subject(), "date": when, "title": "Oppfølgingsnotat", "author": []any{map[string]any{"display": "Sykepleier"}}}},
		map[string]any{"fullUrl": uuid(2), "resource": map[string]any{"resourceType": "DetectedIssue", "status": "final", "patient": subject()}},
		map[string]any{"fullUrl": uuid(3), "resource": obs},
	}
	if k == 3 {
		entries = append(entries, map[string]any{"fullUrl": uuid(4), "resource": map[string]any{
			"resourceType": "QuestionnaireResponse", "status": "completed", "subject": subject(), "authored": when,
			"item": []any{map[string]any{"linkId": "1", "answer": []any{map[string]any{"valueInteger": i % 4}}}}}})
	}
	if defect == 5 {
		entries = append(entries, map[string]any{"fullUrl": uuid(5), "resource": map[string]any{
			"resourceType": "Patient", "identifier": []any{map[string]any{"system": fnrSystem, "value": id}}}})
	}
	typ := "document"
	if defect == 6 {
		typ = "collection"
	}
	return map[string]any{"resourceType": "Bundle", "type": typ, "timestamp": when, "entry": entries,
		"identifier": map[string]any{"system": "urn:ietf:rfc:3986", "value": uuid(0)}}
}

// dhoSession records n requests of a DHO platform: per alert, a HelseID
// token call, a patient search, a care-plan search and the journal Bundle.
func dhoSession(n int) fstest.MapFS {
	fsys := fstest.MapFS{}
	org := "974760673"
	token := jwt(map[string]any{"iss": "https://helseid.test", "client_id": "dho-platform",
		"scope": []any{"nhn:vkp/api/user/patient.read", "nhn:vkp/api/user/careplan.read", "nhn:vkp/api/user/bundle.write"}})
	headers := func(defect bool) map[string]any {
		h := map[string]any{"Authorization": []any{"Bearer " + token}, "ServiceCodes": []any{"dho"},
			"Content-Type": []any{"application/x-www-form-urlencoded"}}
		if defect {
			h["ServiceCodes"] = []any{"xx"}
		}
		return h
	}
	for i := 0; i < n; i++ {
		alert := i / 4
		defect := alert % 7 // 0: none; 1..6: one defect in this alert's requests
		var x map[string]any
		switch i % 4 {
		case 0:
			x = map[string]any{"method": "POST", "url": "https://helseid.test/connect/token", "status": 200,
				"headers": map[string]any{"Content-Type": []any{"application/x-www-form-urlencoded"}},
				"body":    map[string]any{"grant_type": []any{"client_credentials"}, "client_assertion_type": []any{"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": []any{"[redacted]"}}}
		case 1:
			x = map[string]any{"method": "POST", "url": fmt.Sprintf("https://vkp.test/epj/r4/%s/Patient/_search", org), "status": 200,
				"headers": headers(defect == 2), "body": map[string]any{"identifier": []any{fnrSystem + "|" + goodFNR}}}
			if defect == 3 {
				x["method"] = "GET"
				x["url"] = fmt.Sprintf("https://vkp.test/epj/r4/%s/Patient?identifier=%s", org, goodFNR)
				delete(x, "body")
			}
		case 2:
			res := "CarePlan"
			if defect == 4 {
				res = "Observation" // beyond the DHO purpose
			}
			x = map[string]any{"method": "POST", "url": fmt.Sprintf("https://vkp.test/epj/r4/%s/%s/_search", org, res), "status": 200,
				"headers": headers(false), "body": map[string]any{"patient.identifier": []any{fnrSystem + "|" + goodFNR}}}
		default:
			h := headers(false)
			h["Content-Type"] = []any{"application/fhir+json"}
			x = map[string]any{"method": "POST", "url": fmt.Sprintf("https://vkp.test/epj/r4/%s/Bundle", org), "status": 201,
				"headers": h, "body": dhoJournal(alert, alert%4, defect)}
		}
		fsys[fmt.Sprintf("x%04d.json", i)] = &fstest.MapFile{Data: exchangeFile(x)}
	}
	return fsys
}

// smartSession records n requests of a SMART app: per visit an authorize
// and a token call, then FHIR reads, searches and an occasional write.
func smartSession(n int) fstest.MapFS {
	fsys := fstest.MapFS{}
	base := "https://epr.test/fhir"
	bearer := map[string]any{"Authorization": []any{"Bearer " + jwt(map[string]any{"sub": "app", "scope": "launch patient/*.rs"})}}
	for i := 0; i < n; i++ {
		visit := i / 10
		defect := visit % 7
		var x map[string]any
		switch i % 10 {
		case 0:
			q := "response_type=code&client_id=app&state=s%d&aud=https%%3A%%2F%%2Fepr.test%%2Ffhir&scope=launch+openid+patient%%2FPatient.read+patient%%2FObservation.rs&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&launch=l%d"
			if defect == 1 {
				q = strings.Replace(q, "S256", "plain", 1)
			}
			if defect == 2 {
				q = strings.Replace(q, "patient%%2FObservation.rs", "patient%%2F*.read", 1)
			}
			x = map[string]any{"method": "GET", "url": fmt.Sprintf("https://epr.test/auth/authorize?"+q, visit, visit), "status": 302}
		case 1:
			x = map[string]any{"method": "POST", "url": "https://epr.test/auth/token", "status": 200,
				"headers": map[string]any{"Content-Type": []any{"application/x-www-form-urlencoded"}},
				"body": map[string]any{"grant_type": []any{"authorization_code"}, "code": []any{"c"}, "redirect_uri": []any{"https://app.test/cb"},
					"code_verifier": []any{"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXkdBjftJeZ4CVP"}}}
			if defect == 3 {
				delete(x["body"].(map[string]any), "code_verifier")
			}
		case 2:
			x = map[string]any{"method": "GET", "url": base + "/Patient/p1", "headers": bearer, "status": 200}
		case 3, 4, 5:
			u := base + "/Observation?patient=p1&category=vital-signs&_count=50"
			if defect == 4 && i%10 == 4 {
				u += "&access_token=t0k3n"
			}
			if defect == 5 && i%10 == 5 {
				u = base + "/Observation?patient=p2"
			}
			x = map[string]any{"method": "GET", "url": u, "headers": bearer, "status": 200}
		case 6, 7:
			x = map[string]any{"method": "GET", "url": base + fmt.Sprintf("/Observation/o%d", i), "headers": bearer, "status": 200}
			if defect == 6 && i%10 == 7 {
				x["url"] = base + "/Condition/c1" // outside the granted scopes
			}
		case 8:
			x = map[string]any{"method": "GET", "url": base + "/metadata", "status": 200}
		default:
			h := map[string]any{"Authorization": bearer["Authorization"], "Content-Type": []any{"application/fhir+json"}}
			obs := dhoJournal(visit, 1, 0)["entry"].([]any)[2].(map[string]any)["resource"].(map[string]any)
			x = map[string]any{"method": "POST", "url": base + "/Observation", "headers": h, "status": 201, "body": obs}
		}
		fsys[fmt.Sprintf("x%04d.json", i)] = &fstest.MapFile{Data: exchangeFile(x)}
	}
	fsys[ContextFile] = &fstest.MapFile{Data: []byte(`{"scopes": ["launch", "openid", "patient/Patient.read", "patient/Observation.rs", "patient/Observation.c"], "patient": "p1", "fhirBase": "https://epr.test/fhir"}`)}
	return fsys
}

type sessionCase struct {
	name, ruleset, suite string
	fsys                 fstest.MapFS
}

func sessions(n int) []sessionCase {
	return []sessionCase{
		{"dho", "dho-vkp", "suites/dho-journal.yaml", dhoSession(n)},
		{"smart", "epr-smart-app", "suites/smart-app.yaml", smartSession(n)},
	}
}

// sessionRunner compiles the case's rule set and suite; the validator is the
// R4 core one (the VKP packages are not in the repository).
func sessionRunner(tb testing.TB, c sessionCase) (*Runner, *Suite) {
	tb.Helper()
	ctx := context.Background()
	rs, err := rules.Load(ctx, c.ruleset)
	if err != nil {
		tb.Fatal(err)
	}
	eng, err := policy.Compile(ctx, rs.Modules)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := Load(rs.FS(), c.suite)
	if err != nil {
		tb.Fatal(err)
	}
	v, err := validator.New(validator.Options{Identifiers: rs.Manifest.IdentifierPolicy()})
	if err != nil {
		tb.Fatal(err)
	}
	return &Runner{Engine: eng, Validator: ValidatorFunc(func(ctx context.Context, b []byte) issue.List {
		return v.Validate(ctx, b).Issues
	})}, s
}

// BenchmarkSession1000 is a suite over a recorded session of 1,000 requests:
// reading the recording and running every test (policies and the validator).
// Target (issue 5): under 2 s.
func BenchmarkSession1000(b *testing.B) {
	for _, c := range sessions(1000) {
		b.Run(c.name, func(b *testing.B) {
			r, s := sessionRunner(b, c)
			ctx := context.Background()
			b.ReportAllocs()
			cpu0 := benchcpu.Process()
			for b.Loop() {
				rec, err := LoadDir(c.fsys)
				if err != nil {
					b.Fatal(err)
				}
				res := r.Run(ctx, s, rec)
				if res.Outcome != Fail {
					b.Fatalf("outcome %v, want fail (the session has defects)", res.Outcome)
				}
			}
			if d := benchcpu.Process() - cpu0; cpu0 > 0 && d > 0 {
				b.ReportMetric(d.Seconds()*1e3/float64(b.N), "cpu-ms/op")
			}
		})
	}
}

var updateFindings = flag.Bool("update-findings", false, "rewrite testdata/findings.golden.json")

// TestFindingsCorpusUnchanged pins every finding of both suites over
// recorded sessions that hold each defect of the generator, and over the
// offline test directory. It exists so that changes to the runner or the
// policy engine made for speed cannot change a verdict: the golden file was
// written before them (go test ./validator/suite -run FindingsCorpus
// -update-findings rewrites it, and the diff is then a change of results to
// explain).
func TestFindingsCorpusUnchanged(t *testing.T) {
	ctx := context.Background()
	var got []byte
	cases := []sessionCase{
		{"dho", "dho-vkp", "suites/dho-journal.yaml", dhoSession(280)},
		{"smart", "epr-smart-app", "suites/smart-app.yaml", smartSession(140)},
	}
	offline := fstest.MapFS{}
	for _, f := range []string{"01-authorize.json", "02-read.json", "03-leak.json", "context.json"} {
		b, err := os.ReadFile("testdata/offline/" + f)
		if err != nil {
			t.Fatal(err)
		}
		offline[f] = &fstest.MapFile{Data: b}
	}
	cases = append(cases, sessionCase{"offline", "epr-smart-app", "suites/smart-app.yaml", offline})
	for _, c := range cases {
		r, s := sessionRunner(t, c)
		rec, err := LoadDir(c.fsys)
		if err != nil {
			t.Fatal(err)
		}
		res := r.Run(ctx, s, rec)
		stableFixes(res)
		b, err := json.MarshalIndent(res, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("== %s\n", c.name)...)
		got = append(got, b...)
		got = append(got, '\n')
	}
	got = append(got, policyCorpus(t)...)
	const golden = "testdata/findings.golden.json"
	if *updateFindings {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) && i < len(wl); i++ {
			if gl[i] != wl[i] {
				t.Fatalf("findings differ from %s at line %d:\n got %s\nwant %s", golden, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("findings differ from %s: %d lines, want %d", golden, len(gl), len(wl))
	}
}

// policyCorpus evaluates every input of testdata/policy-inputs.json under
// both shipped rule sets, every rule on every input, outside any suite: the
// suites only show a test the rules it names, on the input types it names,
// so a rewrite of a policy for speed could change a finding no suite shows.
// The inputs (a DHO Observation, journal Bundle and search, a SMART FHIR
// read, then 400 made by a seeded generator of edge cases: missing and
// mistyped codes, codings, units, components, effective times, subjects,
// identifiers, displays, entries, headers, tokens, scopes and query
// parameters) make every rule fire and not fire. An evaluation error is
// pinned as "error" only: its text names policy file lines.
func policyCorpus(t *testing.T) []byte {
	t.Helper()
	ctx := context.Background()
	raw, err := os.ReadFile("testdata/policy-inputs.json")
	if err != nil {
		t.Fatal(err)
	}
	var inputs []policy.Input
	if err := json.Unmarshal(raw, &inputs); err != nil {
		t.Fatalf("testdata/policy-inputs.json: %v", err)
	}
	type finding struct {
		Rule, Location, Message string
	}
	var out []byte
	for _, id := range []string{"dho-vkp", "epr-smart-app"} {
		rs, err := rules.Load(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		eng, err := policy.Compile(ctx, rs.Modules)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("== policy %s\n", id)...)
		fired := map[string]bool{}
		for i := range inputs {
			list, err := eng.Eval(ctx, &inputs[i])
			if err != nil {
				out = append(out, fmt.Sprintf("%d error\n", i)...)
				continue
			}
			for _, f := range list {
				fired[f.RuleID] = true
				b, err := json.Marshal(finding{f.RuleID, f.Expression, f.Message})
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, fmt.Sprintf("%d %s\n", i, b)...)
			}
		}
		for _, r := range eng.Rules() {
			if !fired[r.ID] {
				t.Errorf("%s: no corpus input makes %s fire", id, r.ID)
			}
		}
	}
	return out
}

// stableFixes sorts the codes of the validator's "use one of a | b" hints:
// validator/terminology expands some value sets in map order, so the list
// comes out in a different order from run to run (not the runner's doing;
// reported to its owner).
func stableFixes(res *Result) {
	const p = "use one of "
	for gi := range res.Groups {
		for ti := range res.Groups[gi].Tests {
			fs := res.Groups[gi].Tests[ti].Findings
			for i := range fs {
				if strings.HasPrefix(fs[i].Fix, p) {
					codes := strings.Split(strings.TrimPrefix(fs[i].Fix, p), " | ")
					sort.Strings(codes)
					fs[i].Fix = p + strings.Join(codes, " | ")
				}
			}
		}
	}
}

// TestRunnerJobsDoNotChangeResult: evaluating inputs in parallel leaves the
// report as the sequential run makes it, order included.
func TestRunnerJobsDoNotChangeResult(t *testing.T) {
	ctx := context.Background()
	for _, c := range sessions(140) {
		r, s := sessionRunner(t, c)
		var out []string
		for _, jobs := range []int{1, 8} {
			r.Jobs = jobs
			rec, err := LoadDir(c.fsys)
			if err != nil {
				t.Fatal(err)
			}
			res := r.Run(ctx, s, rec)
			stableFixes(res)
			b, err := json.Marshal(res)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, string(b))
		}
		if out[0] != out[1] {
			t.Errorf("%s: the report with 8 jobs differs from the sequential one", c.name)
		}
	}
}

// TestRunnerCancelled: a cancelled run reports every test that had inputs as
// an error of the tool, with or without parallel evaluation.
func TestRunnerCancelled(t *testing.T) {
	c := sessions(40)[0]
	r, s := sessionRunner(t, c)
	rec, err := LoadDir(c.fsys)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := r.Run(ctx, s, rec)
	if res.Outcome != Error {
		t.Errorf("outcome %v, want error", res.Outcome)
	}
	for _, tr := range res.Tests() {
		if tr.Inputs > 0 && (tr.Outcome != Error || !strings.Contains(tr.Message, "stopped")) {
			t.Errorf("%s: %v %q", tr.ID, tr.Outcome, tr.Message)
		}
	}
}
