package runs_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/runs"
	"github.com/sandkasse/sandkasse/sandbox/store"
	"github.com/sandkasse/sandkasse/sandbox/store/postgres"
	"github.com/sandkasse/sandkasse/sandbox/store/sqlite"
	"github.com/sandkasse/sandkasse/validator/suitereport"
)

var (
	catOnce sync.Once
	cat     runs.Catalog
	catErr  error
)

func catalog(t testing.TB) runs.Catalog {
	catOnce.Do(func() { cat, catErr = runs.Shipped(context.Background()) })
	if catErr != nil {
		t.Fatal(catErr)
	}
	return cat
}

func openStore(t testing.TB) store.Store {
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func service(t testing.TB, st store.Store, o runs.Options) *runs.Service {
	o.Store, o.Catalog = st, catalog(t)
	if o.Poll == 0 {
		o.Poll = 10 * time.Millisecond
	}
	if o.Settle == 0 {
		o.Settle = 50 * time.Millisecond
	}
	if o.Heartbeat == 0 {
		o.Heartbeat = 20 * time.Millisecond
	}
	return runs.New(o)
}

func start(t testing.TB, s *runs.Service) {
	ctx, cancel := context.WithCancel(context.Background())
	wait := s.Start(ctx)
	t.Cleanup(func() { cancel(); wait() })
}

// await polls a run until it is done; the bound only guards against a hang.
func await(t testing.TB, st store.Store, tenant, id string) store.Run {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		r, err := st.Run(context.Background(), tenant, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status.Done() {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s still %s (%s) after a minute", id, r.Status, r.Progress)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCreateRefusesBadRequests(t *testing.T) {
	s := service(t, openStore(t), runs.Options{})
	for _, tc := range []struct {
		req  runs.Request
		want string
	}{
		{runs.Request{Suite: "nope"}, `suite "nope" is not one this sandbox runs (dho-journal, smart-app)`},
		{runs.Request{Suite: "smart-app", Wait: "soon"}, "wait must be a duration"},
		{runs.Request{Suite: "smart-app", Wait: "-1s"}, "wait must be a duration"},
		{runs.Request{Suite: "smart-app", Wait: "31m"}, "wait must be a duration"},
		{runs.Request{Suite: "smart-app", After: -1}, "after must be"},
		{runs.Request{Suite: "smart-app", App: strings.Repeat("a", 201)}, "app is longer than 200"},
		{runs.Request{Suite: "smart-app", Version: "1\n2"}, "version holds control characters"},
	} {
		_, err := s.Create(context.Background(), "t1", "http://x/t/t1/fhir", tc.req)
		if !errors.Is(err, runs.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want ErrInvalid with %q", tc.req, err, tc.want)
		}
	}
}

// An app that never calls: the run ends with a timeout outcome after its
// wait, with a report in which every test is skip, never hangs.
func TestNoEvidenceTimesOut(t *testing.T) {
	st := openStore(t)
	s := service(t, st, runs.Options{})
	start(t, s)
	// Traffic of another surface does not count as evidence for the suite.
	rec(t, st, "t1", store.Exchange{Method: "GET", Path: "/t/t1/fhir/Patient/1", Status: 200})
	r, err := s.Create(context.Background(), "t1", "", runs.Request{Suite: "dho-journal", Wait: "200ms"})
	if err != nil {
		t.Fatal(err)
	}
	got := await(t, st, "t1", r.ID)
	if got.Status != store.RunFailed || got.Outcome != "skip" || !strings.HasPrefix(got.Message, "timeout: no evidence") ||
		!strings.Contains(got.Message, "dho-vkp") || !strings.Contains(got.Message, "200ms") {
		t.Fatalf("run %s %s: %s", got.Status, got.Outcome, got.Message)
	}
	if got.Finished.Sub(got.Started) < 200*time.Millisecond {
		t.Errorf("the run ended before its wait: %s", got.Finished.Sub(got.Started))
	}
	var sb strings.Builder
	if err := s.Render(&sb, got, "text"); err != nil || !strings.Contains(sb.String(), "INCOMPLETE") {
		t.Errorf("report: %v\n%s", err, sb.String())
	}
}

func rec(t testing.TB, st store.Store, tenant string, xs ...store.Exchange) {
	t.Helper()
	for i := range xs {
		xs[i].Tenant = tenant
		if xs[i].At.IsZero() {
			xs[i].At = time.Now()
		}
		if xs[i].RequestHeader == nil {
			xs[i].RequestHeader = http.Header{}
		}
		if xs[i].ResponseHeader == nil {
			xs[i].ResponseHeader = http.Header{}
		}
	}
	if err := st.RecordTraffic(context.Background(), xs); err != nil {
		t.Fatal(err)
	}
}

// observationBody is a valid Observation of the launch patient, as an app
// writes one.
const observationBody = `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},` +
	`"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2026-11-20T10:00:00Z",` +
	`"valueQuantity":{"value":72,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}`

// smartSession is a short SMART app session as the sandbox records it:
// authorisation with PKCE, code exchange, a read and a write.
func smartSession(tenant, fhirBase string, verifier string) []store.Exchange {
	p := "/t/" + tenant
	q := url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {"http://app/cb"}, "state": {"s1"},
		"aud": {fhirBase}, "scope": {"launch/patient patient/Observation.crs"}, "code_challenge_method": {"S256"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "patient": {"p1"}}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {"[redacted]"}, "redirect_uri": {"http://app/cb"},
		"client_id": {"app"}, "code_verifier": {verifier}}
	bearer := http.Header{"Authorization": {"Bearer [redacted]"}}
	return []store.Exchange{
		{Method: "GET", Path: p + "/smart/authorize", Query: q.Encode(), Status: 302},
		{Method: "POST", Path: p + "/smart/token", Status: 200,
			RequestHeader: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, RequestBody: []byte(form.Encode()),
			ResponseHeader: http.Header{"Content-Type": {"application/json"}},
			ResponseBody:   []byte(`{"access_token":"[redacted]","scope":"launch/patient patient/Observation.crs","patient":"p1"}`)},
		{Method: "GET", Path: p + "/fhir/Observation", Query: "patient=p1", Status: 200, RequestHeader: bearer},
		{Method: "POST", Path: p + "/fhir/Observation", Status: 201,
			RequestHeader: http.Header{"Authorization": {"Bearer [redacted]"}, "Content-Type": {"application/fhir+json"}},
			RequestBody:   []byte(observationBody)},
		{Method: "POST", Path: p + "/smart/clients", Status: 201}, // the vendor's set-up: not examined
	}
}

// Evidence comes from the tenant's traffic, named by sequence number; the
// scopes and patient come from the recorded token response.
func TestRunOverTraffic(t *testing.T) {
	st := openStore(t)
	s := service(t, st, runs.Options{})
	start(t, s)
	base := "http://sandbox.test/t/t1/fhir"
	rec(t, st, "t2", smartSession("t2", "http://sandbox.test/t/t2/fhir", "short")...) // another tenant's bad session
	rec(t, st, "t1", smartSession("t1", base, strings.Repeat("v", 43))...)
	r, err := s.Create(context.Background(), "t1", base, runs.Request{Suite: "smart-app", App: "a", Version: "1", Wait: "0s"})
	if err != nil {
		t.Fatal(err)
	}
	got := await(t, st, "t1", r.ID)
	var rep suitereport.Report
	if err := jsonDecode(got.Report, &rep); err != nil {
		t.Fatal(err)
	}
	outcomes := map[string]string{}
	inputs := map[string]int{}
	for _, g := range rep.Groups {
		for _, tr := range g.Tests {
			outcomes[tr.ID], inputs[tr.ID] = tr.Outcome.String(), tr.Inputs
		}
	}
	// One write, within the granted scopes. This service has no FHIR
	// validator, so the optional validation of written resources is an
	// error of the tool, which does not fail the run.
	want := map[string]string{"authorize-request": "pass", "scope-request": "pass", "code-exchange": "pass",
		"tokens-in-headers": "pass", "within-scopes": "pass", "write-endpoint": "pass", "written-resources-valid": "error"}
	for id, o := range want {
		if outcomes[id] != o {
			t.Errorf("%s: %s, want %s", id, outcomes[id], o)
		}
	}
	if inputs["tokens-in-headers"] != 4 {
		t.Errorf("tokens-in-headers examined %d exchanges, want 4 (the set-up call and the other tenant are not evidence)", inputs["tokens-in-headers"])
	}
	if got.Status != store.RunPassed || rep.App == nil || rep.App.Name != "a" {
		t.Errorf("run %s (%s), app %+v", got.Status, got.Message, rep.App)
	}

	// The same session with a short verifier fails code-exchange, with the
	// token request as evidence.
	rec(t, st, "t3", smartSession("t3", base, "short")...)
	r, _ = s.Create(context.Background(), "t3", base, runs.Request{Suite: "smart-app", Wait: "0s"})
	got = await(t, st, "t3", r.ID)
	var sb strings.Builder
	s.Render(&sb, got, "text")
	if !strings.Contains(sb.String(), "SMART-TOKEN-01") || !regexpMatch(`traffic#\d+ \(POST /t/t3/smart/token\)`, sb.String()) {
		t.Errorf("short verifier: no SMART-TOKEN-01 finding on the token request:\n%s", sb.String())
	}
}

// A run examines at most MaxExchanges exchanges and MaxEvidenceBytes of
// bodies, and says so.
func TestEvidenceLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    runs.Options
		want string
	}{
		{"exchanges", runs.Options{MaxExchanges: 2}, "only the first 2 exchanges"},
		{"bytes", runs.Options{MaxEvidenceBytes: 200}, "only the first 1 exchanges"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t)
			s := service(t, st, tc.o)
			start(t, s)
			rec(t, st, "t1", smartSession("t1", "http://x/t/t1/fhir", strings.Repeat("v", 43))...)
			r, err := s.Create(context.Background(), "t1", "http://x/t/t1/fhir", runs.Request{Suite: "smart-app", Wait: "0s"})
			if err != nil {
				t.Fatal(err)
			}
			got := await(t, st, "t1", r.ID)
			if !strings.Contains(got.Message, tc.want) {
				t.Fatalf("message %q, want %q", got.Message, tc.want)
			}
			var rep suitereport.Report
			jsonDecode(got.Report, &rep)
			for _, g := range rep.Groups {
				for _, tr := range g.Tests {
					if tr.ID == "tokens-in-headers" && tr.Inputs > 2 {
						t.Errorf("tokens-in-headers examined %d exchanges past the limit", tr.Inputs)
					}
				}
			}
		})
	}
}

// Traffic that arrives while a run waits is examined once it settles.
func TestRunWaitsForTraffic(t *testing.T) {
	st := openStore(t)
	s := service(t, st, runs.Options{})
	start(t, s)
	r, err := s.Create(context.Background(), "t1", "http://x/t/t1/fhir", runs.Request{Suite: "smart-app", Wait: "1m"})
	if err != nil {
		t.Fatal(err)
	}
	for {
		cur, _ := st.Run(context.Background(), "t1", r.ID)
		if strings.HasPrefix(cur.Progress, "waiting for the app") {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	rec(t, st, "t1", smartSession("t1", "http://x/t/t1/fhir", strings.Repeat("v", 43))...)
	got := await(t, st, "t1", r.ID)
	if got.Outcome != "pass" || strings.HasPrefix(got.Message, "timeout") || !strings.Contains(got.Progress, "4 exchanges") {
		t.Fatalf("run %s %s: %s (%s)", got.Status, got.Outcome, got.Message, got.Progress)
	}
}

// A run waiting for its app does not hold up another tenant's run.
func TestRunsRunSideBySide(t *testing.T) {
	st := openStore(t)
	s := service(t, st, runs.Options{Workers: 2})
	start(t, s)
	long, err := s.Create(context.Background(), "t1", "", runs.Request{Suite: "smart-app", Wait: "1m"})
	if err != nil {
		t.Fatal(err)
	}
	short, err := s.Create(context.Background(), "t2", "", runs.Request{Suite: "smart-app", Wait: "0s"})
	if err != nil {
		t.Fatal(err)
	}
	if got := await(t, st, "t2", short.ID); got.Status != store.RunFailed {
		t.Fatalf("short run: %s %s", got.Status, got.Message)
	}
	if r, _ := st.Run(context.Background(), "t1", long.ID); r.Status != store.RunRunning {
		t.Fatalf("the long run is %s, want still running", r.Status)
	}
}

// A run left running by a process that died is ended as error when the
// sandbox starts again (one process on the embedded store), and by another
// instance once its heartbeat is stale (shared store).
func TestRestartEndsOrphanedRuns(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	for _, id := range []string{"r1", "r2"} {
		if err := st.CreateRun(ctx, store.Run{ID: id, Tenant: "t1", Suite: "smart-app", Status: store.RunQueued, Created: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.ClaimRun(ctx, "dead-instance", time.Now(), false); err != nil {
			t.Fatal(err)
		}
	}
	start(t, service(t, st, runs.Options{Exclusive: true}))
	for _, id := range []string{"r1", "r2"} {
		got := await(t, st, "t1", id)
		if got.Status != store.RunError || !strings.Contains(got.Message, "restarted") {
			t.Errorf("%s: %s %q", id, got.Status, got.Message)
		}
	}

	// Shared store: a live run (fresh heartbeat) is left alone until its
	// heartbeat is StaleAfter old.
	st2 := openStore(t)
	if err := st2.CreateRun(ctx, store.Run{ID: "r3", Tenant: "t1", Suite: "smart-app", Status: store.RunQueued, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := st2.ClaimRun(ctx, "other-instance", time.Now(), false); err != nil {
		t.Fatal(err)
	}
	start(t, service(t, st2, runs.Options{StaleAfter: 300 * time.Millisecond}))
	time.Sleep(50 * time.Millisecond)
	if r, _ := st2.Run(ctx, "t1", "r3"); r.Status != store.RunRunning {
		t.Fatalf("a run with a fresh heartbeat was ended at start-up: %s %q", r.Status, r.Message)
	}
	got := await(t, st2, "t1", "r3")
	if got.Status != store.RunError || !strings.Contains(got.Message, "no heartbeat") {
		t.Errorf("stale run: %s %q", got.Status, got.Message)
	}
}

// Two instances on one store: every run is done exactly once, by one of
// them. On PostgreSQL (SANDKASSE_TEST_POSTGRES_DSN) the instances share a
// server as deployed; otherwise two connections to one SQLite file.
func TestTwoInstances(t *testing.T) {
	ctx := context.Background()
	var a, b store.Store
	if dsn := os.Getenv("SANDKASSE_TEST_POSTGRES_DSN"); dsn != "" {
		dsn = pgSchema(t, dsn)
		var err error
		if a, err = postgres.Open(ctx, dsn); err != nil {
			t.Fatal(err)
		}
		if b, err = postgres.Open(ctx, dsn); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close(); b.Close() })
	} else {
		dir := t.TempDir()
		var err error
		if a, err = sqlite.Open(ctx, dir); err != nil {
			t.Fatal(err)
		}
		if b, err = sqlite.Open(ctx, dir); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close(); b.Close() })
	}
	sa := service(t, a, runs.Options{Owner: "A"})
	sb := service(t, b, runs.Options{Owner: "B"})
	var ids []string
	for i := range 12 {
		s := sa
		if i%2 == 1 {
			s = sb
		}
		r, err := s.Create(ctx, "t1", "", runs.Request{Suite: "smart-app", Wait: "0s"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	start(t, sa)
	start(t, sb)
	owners := map[string]int{}
	for _, id := range ids {
		r := await(t, a, "t1", id)
		if r.Owner != "A" && r.Owner != "B" {
			t.Errorf("run %s owned by %q", id, r.Owner)
		}
		owners[r.Owner]++
	}
	t.Logf("runs per instance: %v", owners)
}

func pgSchema(t *testing.T, dsn string) string {
	ctx := context.Background()
	admin, err := postgres.OpenRaw(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	schema := "runs_" + strings.ReplaceAll(strings.ToLower(t.Name()), "/", "_") + "_" + time.Now().Format("150405")
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close()
	})
	if strings.Contains(dsn, "://") {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		return dsn + sep + "search_path=" + schema
	}
	return dsn + " search_path=" + schema
}

func jsonDecode(b []byte, v any) error { return json.Unmarshal(b, v) }

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }
