package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/tenant"
)

// readOnly is an HTTP client for the good SMART app that never lets a FHIR
// write reach the sandbox: it answers creates and updates itself, as if
// they had succeeded, so the app runs to its end having read and not
// written.
type readOnly struct{ next HTTPDoer }

func (r readOnly) Do(req *http.Request) (*http.Response, error) {
	if (req.Method == "POST" || req.Method == "PUT") && strings.Contains(req.URL.Path, "/fhir/") {
		status := http.StatusCreated
		if req.Method == "PUT" {
			status = http.StatusOK
		}
		return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/fhir+json"}},
			Body: io.NopCloser(bytes.NewReader([]byte(`{"resourceType":"Observation","id":"not-written"}`))), Request: req}, nil
	}
	return r.next.Do(req)
}

// TestAppThatNeverWrites: the write tests have nothing to examine in an app
// that only reads, so they skip, never pass, and the run does not pass
// (a required test that skips keeps the suite from passing). The token
// request, a POST, is not a write.
func TestAppThatNeverWrites(t *testing.T) {
	sb := newSandbox(t)
	ten, err := sb.tenants.Create(context.Background(), tenant.Spec{Name: "Reads only", Org: testOrg, VendorOrg: testVendorOrg})
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := Config{Server: sb.url, Tenant: ten.Tenant.ID, DevToken: ten.Token, Log: &log, HTTP: readOnly{noRedirect}}
	if err := RunSMART(ctx, c); err != nil {
		t.Fatalf("the app failed: %v\n%s", err, log.String())
	}
	run, rep := sb.verify(t, ten, "smart-app")
	got := outcomes(rep)
	for _, id := range []string{"write-endpoint", "written-resources-valid"} {
		if got[id] != "skip" {
			t.Errorf("%s: %s for an app that never writes, want skip\n%s", id, got[id], findings(rep, id))
		}
	}
	for _, id := range []string{"authorize-request", "code-exchange", "tokens-in-headers", "within-scopes"} {
		if got[id] != "pass" {
			t.Errorf("%s: %s, want pass as for the good app\n%s", id, got[id], findings(rep, id))
		}
	}
	if run.Status == "passed" {
		t.Errorf("the run of an app that never writes passed (%s)", run.Message)
	}
}
