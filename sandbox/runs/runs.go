// Package runs verifies an app against a live sandbox tenant: a run is a
// job in the store (store.Runs) that any sandbox instance may claim. The
// worker waits (at most the run's Wait) for the app's traffic on the mock
// endpoints the suite's rule set is about, turns the recorded exchanges
// into a suite.Recording (evidence named by traffic sequence number, the
// scopes and launch patient taken from the recorded token responses) and
// stores the suite's JSON report with the verdict.
//
// Restarts: a run is claimed atomically (one instance gets it), and its
// owner beats a heartbeat while it works. A run whose heartbeat stops (the
// process died) is ended as error by whichever instance sweeps next; with
// Exclusive (one process on an embedded store) every run left running is
// ended at start-up.
//
// Certificates: a run created with Issue (and an app, version and artifact
// digest) gets, when every required test passes, a certificate the
// platform signs (Options.Signer) for the tenant's organisation, stored
// with the JSON report and the recording in the registry (Options.Registry,
// validator/certstore), and its id recorded on the run by the same write
// that records the pass. Only the run's owner issues, and only an instance
// that can sign claims such a run. The certificate id is derived from the
// run id, so the registry itself refuses a second certificate for a run.
package runs

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/store"
	"github.com/sandkasse/sandkasse/validator/cert"
	"github.com/sandkasse/sandkasse/validator/certstore"
	"github.com/sandkasse/sandkasse/validator/suite"
	"github.com/sandkasse/sandkasse/validator/suitereport"
)

// Limits.
const (
	// MaxWait bounds how long a run may wait for the app.
	MaxWait = 30 * time.Minute
	// DefaultWait is the wait when a request names none.
	DefaultWait = 30 * time.Second
	// MaxExchanges is the most exchanges one run examines (a tenant keeps
	// at most traffic.KeepPerTenant anyway).
	MaxExchanges = 10000
	// MaxEvidenceBytes bounds the request and response bodies one run
	// holds in memory.
	MaxEvidenceBytes = 256 << 20
	// MaxField bounds the app, version and digest strings.
	MaxField = 200
)

// ErrInvalid is a run request that is refused; the message says why.
var ErrInvalid = errors.New("invalid run request")

// ErrCannotIssue refuses a request for a certificate on an instance without
// a signing key and a registry: at creation, not after the run.
var ErrCannotIssue = errors.New("this sandbox does not issue certificates: it was started without --registry and --signing-key")

// ErrNoRegistry: the instance has no certificate registry to read from.
var ErrNoRegistry = errors.New("this sandbox has no certificate registry (serve --registry)")

// Flusher makes recorded traffic visible in the store (traffic.Recorder).
type Flusher interface {
	Flush(ctx context.Context) error
}

// Options configure a Service.
type Options struct {
	Store   store.Store
	Catalog Catalog
	// Validator checks resources for validate: true tests (nil: those
	// tests are errors; they are optional in the shipped suites).
	Validator suite.Validator
	// Traffic, when set, is flushed before the traffic is read.
	Traffic Flusher
	// Registry is the certificate registry; with Signer (whose key must be
	// in the registry's key set and in the served JWKS) the service issues
	// certificates for runs that ask. Registry alone serves the ones issued.
	Registry *certstore.Store
	Signer   *cert.Signer
	// Owner names this instance in claimed runs (default: random).
	Owner string
	// Exclusive says this process is the only one on the store: every run
	// left running at start-up belongs to a dead process.
	Exclusive bool
	// Poll is how often an idle worker looks for queued runs (500 ms).
	Poll time.Duration
	// Workers is how many runs this instance works on at once (8).
	Workers int
	// MaxExchanges and MaxEvidenceBytes bound what one run examines
	// (defaults: the constants of the same names).
	MaxExchanges     int
	MaxEvidenceBytes int64
	// Heartbeat is how often a running run shows it is alive (2 s); a run
	// silent for StaleAfter (10 × Heartbeat) is ended as error.
	Heartbeat, StaleAfter time.Duration
	// Settle is how long the traffic must be quiet, once the app has sent
	// something, before the run examines it (2 s; never past the wait).
	Settle time.Duration
	Logger *slog.Logger
	Now    func() time.Time
}

// Service creates, runs and reports runs.
type Service struct {
	o    Options
	wake chan struct{}
}

// New returns a Service; Start runs its worker.
func New(o Options) *Service {
	if o.Owner == "" {
		var b [6]byte
		rand.Read(b[:])
		o.Owner = "instance-" + hex.EncodeToString(b[:])
	}
	if o.Poll <= 0 {
		o.Poll = 500 * time.Millisecond
	}
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.MaxExchanges <= 0 {
		o.MaxExchanges = MaxExchanges
	}
	if o.MaxEvidenceBytes <= 0 {
		o.MaxEvidenceBytes = MaxEvidenceBytes
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 2 * time.Second
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = 10 * o.Heartbeat
	}
	if o.Settle <= 0 {
		o.Settle = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{o: o, wake: make(chan struct{}, 1)}
}

// Catalog is the suites the service runs.
func (s *Service) Catalog() Catalog { return s.o.Catalog }

// Request asks for a run.
type Request struct {
	Suite          string `json:"suite"`
	App            string `json:"app,omitempty"`
	Version        string `json:"version,omitempty"`
	ArtifactDigest string `json:"artifactDigest,omitempty"`
	// After is the traffic sequence number to examine exchanges after
	// (0: all the tenant's recorded traffic).
	After int64 `json:"after,omitempty"`
	// Wait is how long to wait for the app's traffic, as a Go duration
	// ("30s"); empty: DefaultWait; "0s": examine what is there now.
	Wait string `json:"wait,omitempty"`
	// Issue asks the platform for a certificate when the run passes: the
	// app, version and artifact digest are then required, and the vendor
	// is the tenant's organisation.
	Issue bool `json:"issue,omitempty"`
}

// CanIssue reports whether this instance signs certificates.
func (s *Service) CanIssue() bool { return s.o.Signer != nil && s.o.Registry != nil }

// Create queues a run for a tenant. fhirBase is the tenant's FHIR base URL
// as the app sees it.
func (s *Service) Create(ctx context.Context, tenant, fhirBase string, req Request) (store.Run, error) {
	bad := func(format string, a ...any) (store.Run, error) {
		return store.Run{}, fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
	}
	if _, ok := s.o.Catalog[req.Suite]; !ok {
		return bad("suite %q is not one this sandbox runs (%s)", req.Suite, strings.Join(s.o.Catalog.IDs(), ", "))
	}
	for name, v := range map[string]string{"app": req.App, "version": req.Version, "artifactDigest": req.ArtifactDigest} {
		if len(v) > MaxField {
			return bad("%s is longer than %d characters", name, MaxField)
		}
		if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return bad("%s holds control characters", name)
		}
	}
	if req.After < 0 {
		return bad("after must be a traffic sequence number (0 or more)")
	}
	var vendorOrg string
	if req.Issue {
		if !s.CanIssue() {
			return store.Run{}, ErrCannotIssue
		}
		t, err := s.o.Store.Tenant(ctx, tenant)
		if errors.Is(err, store.ErrNotFound) {
			return bad("tenant %s does not exist", tenant)
		}
		if err != nil {
			return store.Run{}, err
		}
		if t.VendorOrg == "" {
			return bad("a certificate cannot be issued for this tenant: it has no vendor organisation number (vendor_org), which the certificate must name; platform staff set it when the tenant is made")
		}
		if msg := issueProblems(req, t.VendorOrg); msg != "" {
			return bad("a certificate cannot be issued for this request: %s", msg)
		}
		vendorOrg = t.VendorOrg
	}
	wait := DefaultWait
	if req.Wait != "" {
		d, err := time.ParseDuration(req.Wait)
		if err != nil || d < 0 || d > MaxWait {
			return bad("wait must be a duration from 0s to %s, like \"30s\"", MaxWait)
		}
		wait = d
	}
	var b [12]byte
	rand.Read(b[:])
	r := store.Run{ID: "run-" + hex.EncodeToString(b[:]), Tenant: tenant, Suite: req.Suite, App: req.App,
		Version: req.Version, ArtifactDigest: req.ArtifactDigest, After: req.After, Wait: wait, FHIRBase: fhirBase,
		Issue: req.Issue, VendorOrg: vendorOrg, Status: store.RunQueued, Progress: "queued", Created: s.o.Now().UTC().Truncate(time.Millisecond)}
	if err := s.o.Store.CreateRun(ctx, r); err != nil {
		return store.Run{}, err
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return r, nil
}

// Get returns a tenant's run.
func (s *Service) Get(ctx context.Context, tenant, id string) (store.Run, error) {
	return s.o.Store.Run(ctx, tenant, id)
}

// Render writes a finished run's report in a suitereport format.
func (s *Service) Render(w io.Writer, r store.Run, format string) error {
	rend, err := suitereport.Get(format)
	if err != nil {
		return err
	}
	if len(r.Report) == 0 {
		return fmt.Errorf("run %s has no report (status %s)", r.ID, r.Status)
	}
	if format == "json" {
		_, err := w.Write(r.Report)
		return err
	}
	var rep suitereport.Report
	if err := jsonUnmarshal(r.Report, &rep); err != nil {
		return fmt.Errorf("run %s: stored report: %w", r.ID, err)
	}
	if cs, ok := s.o.Catalog[r.Suite]; ok {
		rep.Rules = cs.Meta.Rules
	}
	return rend.Render(w, &rep)
}

// Start runs the worker until ctx ends; it returns at once. Wait for the
// returned function to know it has stopped.
func (s *Service) Start(ctx context.Context) (wait func()) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.loop(ctx)
	}()
	return wg.Wait
}

func (s *Service) sweep(ctx context.Context, startup bool) {
	before := s.o.Now().Add(-s.o.StaleAfter)
	msg := "error: the sandbox instance running this run stopped (no heartbeat for " + s.o.StaleAfter.String() + "); start it again"
	if startup && s.o.Exclusive {
		before = s.o.Now().Add(time.Hour)
		msg = "error: the sandbox was restarted while this run was running; start it again"
	}
	if n, err := s.o.Store.FailStaleRuns(ctx, before, msg, s.o.Now()); err != nil {
		s.o.Logger.Error("runs: sweeping stale runs failed", slog.String("error", err.Error()))
	} else if n > 0 {
		s.o.Logger.Warn("runs: ended stale runs as error", slog.Int("runs", n))
	}
}

func (s *Service) loop(ctx context.Context) {
	s.sweep(ctx, true)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		every(ctx, s.o.StaleAfter/2, func() bool {
			s.sweep(ctx, false)
			return true
		})
	}()
	// A run spends most of its life waiting for the app: several run at
	// once, so one long wait does not hold up every other tenant's run.
	slots := make(chan struct{}, s.o.Workers)
	for ctx.Err() == nil {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		r, err := s.o.Store.ClaimRun(ctx, s.o.Owner, s.o.Now(), s.CanIssue())
		if err == nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				s.execute(ctx, r)
			}()
			continue
		}
		<-slots
		if !errors.Is(err, store.ErrNotFound) && ctx.Err() == nil {
			s.o.Logger.Error("runs: claiming a run failed", slog.String("error", err.Error()))
		}
		t := time.NewTimer(s.o.Poll)
		select {
		case <-ctx.Done():
		case <-s.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// every calls f at each tick of period d until ctx ends or f returns false.
func every(ctx context.Context, d time.Duration, f func() (goOn bool)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !f() {
				return
			}
		}
	}
}

// execute runs one claimed run to its end. The heartbeat goroutine stops
// the work when the run is no longer this instance's (reaped as stale).
func (s *Service) execute(parent context.Context, r store.Run) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	var cancelled atomic.Bool // the vendor cancelled the run
	var mu sync.Mutex
	progress := "started"
	setProgress := func(p string) {
		mu.Lock()
		progress = p
		mu.Unlock()
	}
	beat := func() error {
		mu.Lock()
		p := progress
		mu.Unlock()
		// A progress write is bounded: a stuck database must not stall
		// the heartbeat forever.
		bctx, bcancel := context.WithTimeout(context.Background(), s.o.Heartbeat*3)
		defer bcancel()
		return s.o.Store.RunProgress(bctx, r.ID, s.o.Owner, p, s.o.Now())
	}
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		every(ctx, s.o.Heartbeat, func() bool {
			switch err := beat(); {
			case errors.Is(err, store.ErrConflict):
				s.o.Logger.Warn("runs: run taken away (stale); stopping it", slog.String("run", r.ID))
			case errors.Is(err, store.ErrCancelled):
				cancelled.Store(true)
			default:
				return true
			}
			cancel()
			return false
		})
	}()
	final, rec := s.work(ctx, r, setProgress)
	if errors.Is(beat(), store.ErrCancelled) {
		cancelled.Store(true) // asked since the last beat: never issue for it
	}
	if r.Issue && !cancelled.Load() {
		// Still under the heartbeat: the owner issues while it owns the run.
		final = s.issue(ctx, r, final, rec)
	}
	cancel()
	<-hbDone
	if cancelled.Load() {
		final = cancelledEnd()
	}
	final.ID, final.Owner = r.ID, s.o.Owner
	fctx, fcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer fcancel()
	err := s.o.Store.FinishRun(fctx, final, s.o.Now())
	if errors.Is(err, store.ErrCancelled) {
		// Cancelled after the last look: the verdict is not recorded, and
		// a certificate already stored is withdrawn.
		cf := cancelledEnd()
		cf.ID, cf.Owner = r.ID, s.o.Owner
		if err = s.o.Store.FinishRun(fctx, cf, s.o.Now()); err == nil && final.CertificateID != "" {
			s.withdraw(fctx, r, final.CertificateID)
		}
	}
	if err != nil {
		s.o.Logger.Error("runs: recording a run's end failed", slog.String("run", r.ID), slog.String("error", err.Error()))
		if final.CertificateID != "" {
			s.withdraw(fctx, r, final.CertificateID)
		}
	}
}

// work waits for the app's traffic, runs the suite and returns the final
// state of the run and the recording the suite examined.
func (s *Service) work(ctx context.Context, r store.Run, progress func(string)) (store.Run, *suite.Recording) {
	out := store.Run{Status: store.RunError, Outcome: suite.Error.String()}
	cs, ok := s.o.Catalog[r.Suite]
	if !ok {
		out.Message = fmt.Sprintf("error: suite %q is not one this instance runs", r.Suite)
		return out, nil
	}
	rsID := cs.RuleSet.Manifest.ID
	start := s.o.Now()
	deadline := start.Add(r.Wait)
	ev := &evidence{after: r.After}
	lastCount, quietSince := -1, start
	for {
		if s.o.Traffic != nil {
			fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			s.o.Traffic.Flush(fctx)
			cancel()
		}
		if err := s.gather(ctx, r, rsID, ev); err != nil {
			out.Message = "error: reading the tenant's traffic failed"
			if ctx.Err() != nil {
				out.Message = "error: the run was stopped before it finished: " + ctx.Err().Error()
			}
			return out, nil
		}
		xs := ev.xs
		now := s.o.Now()
		if len(xs) != lastCount {
			lastCount, quietSince = len(xs), now
		}
		left := deadline.Sub(now)
		switch {
		case left <= 0:
		case len(xs) == 0:
			progress(fmt.Sprintf("waiting for the app: no exchanges yet, %s left", left.Round(time.Second)))
		case now.Sub(quietSince) >= s.o.Settle:
			left = 0
		default:
			progress(fmt.Sprintf("the app is sending: %d exchanges so far", len(xs)))
		}
		if left <= 0 {
			break
		}
		t := time.NewTimer(min(left, 250*time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			out.Message = "error: the run was stopped before it finished: " + ctx.Err().Error()
			return out, nil
		case <-t.C:
		}
	}
	xs := ev.xs
	if len(xs) == 0 {
		progress("timed out waiting for the app")
	} else {
		progress(fmt.Sprintf("examining %d exchanges", len(xs)))
	}
	rec, truncated := recording(xs, r.FHIRBase)
	runner := &suite.Runner{Engine: cs.Engine, Validator: s.o.Validator}
	res := runner.Run(ctx, cs.Suite, rec)
	meta := cs.Meta
	meta.Generated = s.o.Now()
	if r.App != "" || r.Version != "" {
		meta.App = &suitereport.App{Name: r.App, Version: r.Version}
	}
	rep := suitereport.New(res, meta)
	var buf bytes.Buffer
	js, _ := suitereport.Get("json")
	if err := js.Render(&buf, rep); err != nil {
		out.Message = "error: the report could not be written"
		return out, nil
	}
	out.Report, out.Outcome = buf.Bytes(), res.Outcome.String()
	out.Progress = fmt.Sprintf("done: %d exchanges examined", len(xs))
	var notes []string
	if truncated > 0 {
		notes = append(notes, fmt.Sprintf("%d exchanges had bodies longer than the sandbox records; those bodies were examined as cut", truncated))
	}
	if ev.full {
		notes = append(notes, fmt.Sprintf("only the first %d exchanges (%d bytes of bodies) were examined; the limits are %d exchanges and %d bytes",
			len(xs), ev.bytes, s.o.MaxExchanges, s.o.MaxEvidenceBytes))
	}
	switch res.Outcome {
	case suite.Pass, suite.Omit:
		out.Status, out.Message = store.RunPassed, rep.Verdict
	case suite.Error:
		out.Status, out.Message = store.RunError, rep.Verdict
	default:
		out.Status, out.Message = store.RunFailed, rep.Verdict
	}
	if len(xs) == 0 {
		out.Status = store.RunFailed
		out.Message = fmt.Sprintf("timeout: no evidence: the app sent nothing to the mock endpoints of %s within %s (after traffic #%d)",
			rsID, r.Wait, r.After)
	}
	if len(notes) > 0 {
		out.Message += " (" + strings.Join(notes, "; ") + ")"
	}
	return out, rec
}

// evidence gathers a run's exchanges incrementally: each call reads only
// what was recorded since the last one, and stops taking exchanges at
// MaxExchanges or MaxEvidenceBytes of bodies (full says so).
type evidence struct {
	xs    []store.Exchange
	after int64
	bytes int64
	full  bool
}

func (s *Service) gather(ctx context.Context, r store.Run, ruleSet string, ev *evidence) error {
	for !ev.full {
		page, err := s.o.Store.Traffic(ctx, r.Tenant, ev.after, 500)
		if err != nil {
			return err
		}
		for i := range page {
			x := &page[i]
			if !inSurface(ruleSet, r.Tenant, x) {
				continue
			}
			size := int64(len(x.RequestBody) + len(x.ResponseBody))
			if len(ev.xs) >= s.o.MaxExchanges || ev.bytes+size > s.o.MaxEvidenceBytes {
				ev.full = true
				break
			}
			ev.xs, ev.bytes = append(ev.xs, *x), ev.bytes+size
			ev.after = x.Seq
		}
		if !ev.full && len(page) > 0 {
			ev.after = page[len(page)-1].Seq
		}
		if len(page) < 500 {
			break
		}
	}
	return nil
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
