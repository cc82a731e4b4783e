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
	"github.com/sandkasse/sandkasse/validator/suitereport"
)

const verifyServerSynopsis = "--suite ID --server URL --tenant T [--token TOKEN] [--wait 30s] [--after SEQ]\n" +
	"       [--format text|json|junit|sarif|html] [--app NAME --version V --artifact-digest D]\n" +
	"       [--issue [--out FILE] [--jwks FILE|URL]]\n\n" +
	"Runs suite ID (dho-journal, smart-app) on the sandbox at URL over what the app sent to\n" +
	"tenant T's mock endpoints: POST /t/T/runs, then watches the run (progress on stderr) and\n" +
	"prints its report. The token is the tenant's developer token (--token, or the environment\n" +
	"variable SANDKASSE_TOKEN). The run waits up to --wait for the app's traffic; a run that\n" +
	"saw none ends with a timeout (no evidence). The run examines all the tenant's recorded\n" +
	"traffic; --after SEQ only traffic after sequence number SEQ (GET /t/T/traffic lists\n" +
	"them), for a second attempt on the same tenant.\n" +
	"With --issue (and --app, --version, --artifact-digest) the platform issues a certificate\n" +
	"when the run passes: signed with the sandbox's key for the tenant's organisation and kept\n" +
	"in its registry. It is fetched (GET /t/T/runs/RUN/certificate), verified against the\n" +
	"sandbox's /.well-known/jwks.json (or --jwks) and written to --out, or printed after a\n" +
	"text report; one that does not verify is not written (exit 2). There is no --key: on a\n" +
	"sandbox the platform signs, not the vendor.\n" +
	"Exit status: 0 every required test passed, 1 a required test failed or had nothing to\n" +
	"examine (including the timeout), 2 the run could not be made or ended in error, or the\n" +
	"certificate could not be had or did not verify."

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
	v := newVerifyFlags(fs, true)
	wait := fs.Duration("wait", runs.DefaultWait, "how long the run waits for the app's traffic")
	after := fs.Int64("after", 0, "examine only traffic after this sequence number")
	jwksRef := fs.String("jwks", "", "with --issue: key set to verify the certificate with (default: the sandbox's /.well-known/jwks.json)")
	fail := verifyFail(io.err)
	if code, done := parseVerifyFlags(fs, args, fail); done {
		return code
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
	if _, err := suitereport.Get(*v.format); err != nil {
		return fail("%v", err)
	}
	if *v.key != "" || *v.vendorOrg != "" || *v.vendorName != "" {
		return fail("--key, --vendor-org and --vendor-name are for offline runs: on a sandbox the platform signs the certificate, for the tenant's organisation (use --issue alone)")
	}
	if *v.issue {
		switch {
		case *v.app == "" || *v.version == "" || *v.artifact == "":
			return fail("--issue needs --app, --version and --artifact-digest: a certificate names the app version and its artifact")
		case *v.out == "" && *v.format != "text":
			return fail("--issue with --format %s needs --out (the certificate would be mixed into the report)", *v.format)
		}
	} else if *v.out != "" || *jwksRef != "" {
		return fail("--out and --jwks only go with --issue")
	}
	base, err := url.Parse(strings.TrimRight(*server, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return fail("--server %q is not an http(s) URL", *server)
	}
	c := &runClient{base: base.String() + "/t/" + *tenantID + "/runs", token: *token, http: &http.Client{Timeout: 30 * time.Second}}
	body, _ := json.Marshal(runs.Request{Suite: *suiteID, App: *v.app, Version: *v.version, ArtifactDigest: *v.artifact,
		After: *after, Wait: wait.String(), Issue: *v.issue})
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
			return fail("stopped (%v): %s", ctx.Err(), c.cancelRun(run.ID)) // verify_cancel.go
		case <-time.After(pollEvery):
		}
		if err := c.do(ctx, "GET", "/"+run.ID, "", nil, http.StatusOK, &run); err != nil {
			prog.done()
			if ctx.Err() != nil {
				return fail("stopped (%v): %s", ctx.Err(), c.cancelRun(run.ID))
			}
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
	if err := c.do(ctx, "GET", "/"+run.ID+"?format="+url.QueryEscape(*v.format), "", nil, http.StatusOK, &report); err != nil {
		return fail("fetching the report: %v", err)
	}
	io.out.Write(report)
	if *v.issue {
		if run.Status != "passed" {
			fmt.Fprintf(io.err, "sandkasse verify: no certificate issued: the run %s, and a certificate needs every required test to pass\n", run.Status)
			if run.Status == "failed" {
				return exitFindings
			}
			return exitUsage
		}
		if run.CertificateID == "" {
			return fail("no certificate issued: %s", run.Message)
		}
		jwks := *jwksRef
		if jwks == "" {
			jwks = base.String() + "/.well-known/jwks.json"
		}
		if err := fetchIssued(ctx, c, run, jwks, cert.App{Name: *v.app, Version: *v.version, ArtifactDigest: *v.artifact}, *v.out, io); err != nil {
			return fail("certificate of run %s: %v", run.ID, err)
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

// fetchIssued fetches the certificate the platform issued for a passed run
// and writes it only once it verifies against the key set (the sandbox's
// published one unless the caller named another) and says what was asked
// for: this run's certificate, the app version and artifact, and the digest
// of the report the server stored.
func fetchIssued(ctx context.Context, c *runClient, run runState, jwksRef string, app cert.App, out string, io stdio) error {
	var raw []byte
	if err := c.do(ctx, "GET", "/"+run.ID+"/certificate", "", nil, http.StatusOK, &raw); err != nil {
		return err
	}
	token := strings.TrimSpace(string(raw))
	f := fetcher{ctx: ctx, timeout: 30 * time.Second, stdin: strings.NewReader("")}
	data, err := f.read(jwksRef, cert.MaxKeySetBytes, true)
	if err != nil {
		return fmt.Errorf("the key set: %v", err)
	}
	keys, err := cert.ParseKeySet(data)
	if err != nil {
		return fmt.Errorf("the key set %s: %v", jwksRef, err)
	}
	res := cert.NewVerifier(keys).Verify(token)
	if !res.Valid() {
		return fmt.Errorf("the certificate the sandbox returned does not verify against %s (%s: %s); it was not written", jwksRef, res.Status, res.Detail)
	}
	p := res.Payload
	var report []byte
	if err := c.do(ctx, "GET", "/"+run.ID+"?format=json", "", nil, http.StatusOK, &report); err != nil {
		return fmt.Errorf("the run's JSON report: %v", err)
	}
	sum := sha256.Sum256(report)
	switch {
	case p.ID != run.CertificateID:
		return fmt.Errorf("the sandbox returned certificate %s, not the run's %s; it was not written", p.ID, run.CertificateID)
	case p.App != app:
		return fmt.Errorf("the certificate names %s %s (%s), not what was asked; it was not written", p.App.Name, p.App.Version, p.App.ArtifactDigest)
	case p.ReportDigest != "sha256:"+hex.EncodeToString(sum[:]):
		return fmt.Errorf("the certificate's report digest is not the run's report's; it was not written")
	}
	return emitCertificate(io, out, p.ID, " (verified against "+jwksRef+")", token)
}

type runState struct {
	ID            string          `json:"id"`
	CertificateID string          `json:"certificateId"`
	Status        string          `json:"status"`
	Progress      string          `json:"progress"`
	Message       string          `json:"message"`
	Report        json.RawMessage `json:"report"`
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
