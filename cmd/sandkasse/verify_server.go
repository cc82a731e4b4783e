package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/runs"
	"github.com/sandkasse/sandkasse/validator/cert"
	"github.com/sandkasse/sandkasse/validator/suite"
	"github.com/sandkasse/sandkasse/validator/suitereport"
)

const verifyServerSynopsis = "--suite ID --server URL --tenant T [--token TOKEN] [--wait 30s] [--after SEQ]\n" +
	"       [--format text|json|junit|sarif|html] [--app NAME --version V --artifact-digest D]\n" +
	"       [--issue --key FILE --vendor-org ORGNR [--out FILE]]\n\n" +
	"Runs suite ID (dho-journal, smart-app) on the sandbox at URL over what the app sent to\n" +
	"tenant T's mock endpoints: POST /t/T/runs, then watches the run (progress on stderr) and\n" +
	"prints its report. The token is the tenant's developer token (--token, or the environment\n" +
	"variable SANDKASSE_TOKEN). The run waits up to --wait for the app's traffic; a run that\n" +
	"saw none ends with a timeout (no evidence). The run examines all the tenant's recorded\n" +
	"traffic; --after SEQ only traffic after sequence number SEQ (GET /t/T/traffic lists\n" +
	"them), for a second attempt on the same tenant.\n" +
	"Exit status: 0 every required test passed, 1 a required test failed or had nothing to\n" +
	"examine (including the timeout), 2 the run could not be made or ended in error."

// serverMode tells whether verify was asked to run on a server.
func serverMode(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		name := strings.TrimLeft(a, "-")
		if strings.HasPrefix(a, "-") && (name == "server" || strings.HasPrefix(name, "server=")) {
			return true
		}
	}
	return false
}

// pollEvery is how often the CLI looks at a run.
var pollEvery = 500 * time.Millisecond

func runVerifyServer(ctx context.Context, args []string, io stdio) int {
	fs := newFlags("verify", verifyServerSynopsis, io.err)
	suiteID := fs.String("suite", "", "suite id to run (required)")
	server := fs.String("server", "", "sandbox base URL (required)")
	tenantID := fs.String("tenant", "", "tenant id (required)")
	token := fs.String("token", "", "the tenant's developer token (default: $SANDKASSE_TOKEN)")
	format := fs.String("format", "text", "report format: text, json, junit, sarif or html")
	appName := fs.String("app", "", "name of the app under test")
	appVersion := fs.String("version", "", "version of the app under test")
	artifact := fs.String("artifact-digest", "", "digest of the app artifact, sha256:…")
	wait := fs.Duration("wait", runs.DefaultWait, "how long the run waits for the app's traffic")
	after := fs.Int64("after", 0, "examine only traffic after this sequence number")
	issueCert := fs.Bool("issue", false, "issue a certificate when every required test passes")
	keyFile := fs.String("key", "", "with --issue: signing key file from `sandkasse cert keygen`")
	vendorOrg := fs.String("vendor-org", "", "with --issue: the vendor's organisation number")
	vendorName := fs.String("vendor-name", "", "with --issue: the vendor's name (optional)")
	certOut := fs.String("out", "", "with --issue: file to write the certificate to")
	rest, code, done := parseFlags(fs, args)
	if done {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(io.err, "sandkasse verify: "+format+"\n", a...)
		return exitUsage
	}
	if len(rest) > 0 {
		return fail("unexpected argument %q", rest[0])
	}
	if *token == "" {
		*token = os.Getenv("SANDKASSE_TOKEN")
	}
	switch {
	case *suiteID == "" || *server == "" || *tenantID == "":
		fs.Usage()
		return fail("--suite, --server and --tenant are required")
	case *token == "":
		return fail("no token: pass --token or set SANDKASSE_TOKEN to the tenant's developer token")
	case *wait < 0 || *wait > runs.MaxWait:
		return fail("--wait must be between 0s and %s", runs.MaxWait)
	case strings.ContainsAny(*tenantID, "/?#%"):
		return fail("--tenant %q is not a tenant id", *tenantID)
	}
	if _, err := suitereport.Get(*format); err != nil {
		return fail("%v", err)
	}
	var signer *cert.Signer
	if *issueCert {
		switch {
		case *keyFile == "" || *vendorOrg == "" || *artifact == "":
			return fail("--issue needs --key, --vendor-org and --artifact-digest")
		case *appName == "" || *appVersion == "":
			return fail("--issue needs --app and --version: a certificate names the app version")
		case *certOut == "" && *format != "text":
			return fail("--issue with --format %s needs --out (the certificate would be mixed into the report)", *format)
		}
		key, err := cert.LoadSigningKey(*keyFile)
		if err != nil {
			return fail("--key: %v", err)
		}
		if signer, err = cert.NewSigner(key); err != nil {
			return fail("--key: %v", err)
		}
	} else if *keyFile != "" || *vendorOrg != "" || *certOut != "" {
		return fail("--key, --vendor-org and --out only go with --issue")
	}
	base, err := url.Parse(strings.TrimRight(*server, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return fail("--server %q is not an http(s) URL", *server)
	}
	c := &runClient{base: base.String() + "/t/" + *tenantID + "/runs", token: *token, http: &http.Client{Timeout: 30 * time.Second}}
	body, _ := json.Marshal(runs.Request{Suite: *suiteID, App: *appName, Version: *appVersion, ArtifactDigest: *artifact,
		After: *after, Wait: wait.String()})
	var run runState
	if err := c.do(ctx, "POST", "", "application/json", body, http.StatusAccepted, &run); err != nil {
		return fail("starting the run: %v", err)
	}
	prog := newProgress(io.err)
	prog.show(fmt.Sprintf("run %s of %s: %s", run.ID, *suiteID, run.Status))
	// The server bounds the wait; the client allows it plus time to
	// examine, and never waits forever on a server that stopped working.
	deadline := time.Now().Add(*wait + 10*time.Minute)
	for run.Status != "passed" && run.Status != "failed" && run.Status != "error" {
		if time.Now().After(deadline) {
			prog.done()
			return fail("run %s did not finish by %s (status %s); see GET %s/%s", run.ID, deadline.Format(time.RFC3339), run.Status, c.base, run.ID)
		}
		select {
		case <-ctx.Done():
			prog.done()
			return fail("stopped watching run %s (it goes on in the sandbox): %v", run.ID, ctx.Err())
		case <-time.After(pollEvery):
		}
		if err := c.do(ctx, "GET", "/"+run.ID, "", nil, http.StatusOK, &run); err != nil {
			prog.done()
			return fail("watching run %s: %v", run.ID, err)
		}
		msg := run.Progress
		if msg == "" {
			msg = run.Status
		}
		prog.show(fmt.Sprintf("run %s: %s", run.ID, msg))
	}
	prog.done()
	fmt.Fprintf(io.err, "sandkasse verify: run %s %s: %s\n", run.ID, run.Status, run.Message)
	if len(run.Report) == 0 {
		return exitUsage
	}
	var report []byte
	if err := c.do(ctx, "GET", "/"+run.ID+"?format="+url.QueryEscape(*format), "", nil, http.StatusOK, &report); err != nil {
		return fail("fetching the report: %v", err)
	}
	io.out.Write(report)
	if signer != nil {
		if run.Status != "passed" {
			fmt.Fprintf(io.err, "sandkasse verify: no certificate issued: the run %s, and a certificate needs every required test to pass\n", run.Status)
			return exitFindings
		}
		// The digest is over the stored report as GET ?format=json serves
		// it (the copy inside the run's JSON is re-encoded).
		var stored []byte
		if err := c.do(ctx, "GET", "/"+run.ID+"?format=json", "", nil, http.StatusOK, &stored); err != nil {
			return fail("no certificate issued: fetching the JSON report: %v", err)
		}
		if err := issueFromRun(signer, stored, cert.App{Name: *appName, Version: *appVersion, ArtifactDigest: *artifact},
			cert.Vendor{OrgNumber: *vendorOrg, Name: *vendorName}, *certOut, io); err != nil {
			return fail("no certificate issued: %v", err)
		}
	}
	switch run.Status {
	case "passed":
		return exitOK
	case "failed":
		return exitFindings
	default:
		return exitUsage
	}
}

// issueFromRun signs a certificate over a passed run's JSON report: the
// report digest is the sha256 of the report bytes the server stored, the
// ones GET ?format=json returns.
func issueFromRun(signer *cert.Signer, report []byte, app cert.App, vendor cert.Vendor, out string, io stdio) error {
	var rep suitereport.Report
	if err := json.Unmarshal(report, &rep); err != nil {
		return fmt.Errorf("the run's report: %v", err)
	}
	if rep.Outcome != suite.Pass {
		return fmt.Errorf("the report's outcome is %s", rep.Outcome)
	}
	if rep.App == nil || rep.App.Name != app.Name || rep.App.Version != app.Version {
		return fmt.Errorf("the report is not about %s %s", app.Name, app.Version)
	}
	sum := sha256.Sum256(report)
	token, signed, err := signer.Sign(cert.Payload{App: app, Vendor: vendor,
		Suite:        cert.Suite{ID: rep.Suite.ID, Version: rep.Suite.Version},
		RuleSet:      cert.RuleSet{ID: rep.RuleSet.ID, Version: rep.RuleSet.Version, Digest: rep.RuleSet.Digest},
		ReportDigest: "sha256:" + hex.EncodeToString(sum[:])})
	if err != nil {
		return err
	}
	if out != "" {
		if err := os.WriteFile(out, []byte(token+"\n"), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(io.err, "sandkasse verify: certificate %s written to %s\n", signed.ID, out)
		return nil
	}
	fmt.Fprintf(io.out, "\nCertificate %s:\n%s\n", signed.ID, token)
	return nil
}

type runState struct {
	ID       string          `json:"id"`
	Status   string          `json:"status"`
	Progress string          `json:"progress"`
	Message  string          `json:"message"`
	Report   json.RawMessage `json:"report"`
}

type runClient struct {
	base, token string
	http        *http.Client
}

// do sends a request; out is a JSON value to decode into, or *[]byte for
// the body as is.
func (c *runClient) do(ctx context.Context, method, path, contentType string, body []byte, want int, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d: %s", method, req.URL.Path, resp.StatusCode, outcomeText(b))
	}
	if raw, ok := out.(*[]byte); ok {
		*raw = b
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not JSON: %v", method, req.URL.Path, err)
	}
	return nil
}

// outcomeText is the diagnostics of an OperationOutcome, or the start of a
// body that is not one.
func outcomeText(b []byte) string {
	var oo struct {
		Issue []struct {
			Diagnostics string `json:"diagnostics"`
			Details     struct {
				Text string `json:"text"`
			} `json:"details"`
		} `json:"issue"`
	}
	if json.Unmarshal(b, &oo) == nil && len(oo.Issue) > 0 {
		var ms []string
		for _, i := range oo.Issue {
			m := i.Diagnostics
			if m == "" {
				m = i.Details.Text
			}
			ms = append(ms, m)
		}
		return strings.Join(ms, "; ")
	}
	if len(b) > 200 {
		b = b[:200]
	}
	return strings.TrimSpace(string(b))
}

// progress shows one changing line: rewritten in place on a terminal, a
// new line per change otherwise (CI logs).
type progress struct {
	w    io.Writer
	tty  bool
	last string
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) show(s string) {
	if s == p.last {
		return
	}
	p.last = s
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", s)
		return
	}
	fmt.Fprintln(p.w, s)
}

func (p *progress) done() {
	if p.tty && p.last != "" {
		fmt.Fprintln(p.w)
	}
}
