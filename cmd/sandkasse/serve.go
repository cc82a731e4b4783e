package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/api"
	"github.com/sandkasse/sandkasse/sandbox/epr"
	"github.com/sandkasse/sandkasse/sandbox/runs"
	"github.com/sandkasse/sandkasse/sandbox/tenant"
	"github.com/sandkasse/sandkasse/sandbox/traffic"
	"github.com/sandkasse/sandkasse/validator"
	"github.com/sandkasse/sandkasse/validator/issue"
	"github.com/sandkasse/sandkasse/validator/suite"
)

// Bounds of --traffic-keep: below the smallest, a run could lose the
// session it examines while the app still plays it; above the largest, a
// tenant's table outgrows what a listing or a run reads.
const (
	minTrafficKeep = 100
	maxTrafficKeep = 1_000_000
)

func runServe(ctx context.Context, args []string, io stdio) int {
	fs := newFlags("serve", "[--addr :8080] [--data DIR | --database DSN] [--admin-token-file FILE] [--registry DIR [--signing-key FILE]] [--load PATH]... [--profile URL]...", io.err)
	addr := fs.String("addr", ":8080", "address to listen on")
	sf := addStoreFlags(fs)
	adminFile := fs.String("admin-token-file", "", "file holding the bearer token of the admin API (/admin); without it the admin API is off")
	publicURL := fs.String("public-url", "", "external base URL for links and Location headers (default: from each request's Host)")
	maxBody := fs.Int64("max-body-bytes", api.DefaultMaxBodyBytes, "largest request body accepted, in bytes; a larger one is refused with 413")
	trafficKeep := fs.Int("traffic-keep", traffic.KeepPerTenant, "recorded exchanges kept per tenant (100 to 1000000); older ones are pruned")
	// The engine's limits and modes, as for validate; they apply to every
	// validation the server makes ($validate, the mock EPR's writes, runs).
	ef := addEngineFlags(fs)
	tf := addTrustFlags(fs)
	var loads, profiles multi
	fs.Var(&loads, "load", "load conformance resources (JSON file, directory or npm package .tgz); repeatable")
	fs.Var(&profiles, "profile", "also validate every resource against this profile's canonical URL; repeatable")
	rest, code, done := parseFlags(fs, args)
	if done {
		return code
	}
	if len(rest) > 0 {
		fmt.Fprintf(io.err, "sandkasse serve: unexpected argument %q\n", rest[0])
		return exitUsage
	}
	if *maxBody <= 0 || *maxBody > 1<<31-1 {
		fmt.Fprintln(io.err, "sandkasse serve: --max-body-bytes must be positive and below 2 GiB")
		return exitUsage
	}
	if *trafficKeep < minTrafficKeep || *trafficKeep > maxTrafficKeep {
		fmt.Fprintf(io.err, "sandkasse serve: --traffic-keep must be between %d and %d\n", minTrafficKeep, maxTrafficKeep)
		return exitUsage
	}
	if err := ef.check(); err != nil {
		fmt.Fprintln(io.err, "sandkasse serve:", err)
		return exitUsage
	}
	log := slog.New(slog.NewJSONHandler(io.err, nil))
	vopts := validator.Options{Load: loads, Profiles: profiles}
	ef.apply(&vopts)
	v, err := validator.New(vopts)
	if err != nil {
		fmt.Fprintln(io.err, "sandkasse serve:", err)
		return exitUsage
	}
	trust, err := tf.open()
	if err != nil {
		fmt.Fprintln(io.err, "sandkasse serve:", err)
		return exitUsage
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(io.err, "sandkasse serve:", err)
		return exitUsage
	}
	var adminToken string
	if *adminFile != "" {
		b, err := os.ReadFile(*adminFile)
		if err != nil || len(strings.TrimSpace(string(b))) < 16 {
			fmt.Fprintln(io.err, "sandkasse serve: --admin-token-file must name a readable file holding a token of at least 16 characters")
			ln.Close()
			return exitUsage
		}
		adminToken = strings.TrimSpace(string(b))
	}
	st, err := sf.open(ctx)
	if err != nil {
		fmt.Fprintln(io.err, "sandkasse serve:", err)
		ln.Close()
		return exitUsage
	}
	defer st.Close()
	tenants := tenant.New(tenant.Options{Store: st})
	// Every tenant's traffic is bounded: its newest --traffic-keep
	// exchanges, and unauthenticated ones per minute (sandbox/traffic).
	rec := traffic.NewWith(st, traffic.Options{Logger: log, KeepPerTenant: *trafficKeep})
	defer rec.Close()
	// Verification runs: jobs in the store; with the embedded store this
	// process is the only one, so a run it left running died with it.
	catalog, err := runs.Shipped(ctx)
	if err != nil {
		fmt.Fprintln(io.err, "sandkasse serve: the shipped suites:", err)
		ln.Close()
		return exitUsage
	}
	runSvc := runs.New(issuing(trust, runs.Options{Store: st, Catalog: catalog, Traffic: rec, Exclusive: *sf.database == "", Logger: log,
		Validator: suite.ValidatorFunc(func(ctx context.Context, b []byte) issue.List { return v.Validate(ctx, b).Issues })}))
	workerCtx, stopWorker := context.WithCancel(context.Background())
	defer stopWorker()
	workerDone := runSvc.Start(workerCtx)
	defer workerDone()
	defer stopWorker()
	sb := &api.Sandbox{
		Runs:       runSvc,
		EPR:        epr.New(epr.Options{Store: st, Validator: v}),
		Tenants:    tenants,
		Auth:       tenants,
		Traffic:    rec,
		AdminToken: adminToken,
		PublicURL:  *publicURL,
		Trust:      trust,
	}
	const readTimeout = 60 * time.Second
	srv := &http.Server{
		Handler:           api.New(api.Config{Validator: v, MaxBodyBytes: *maxBody, Logger: log, Sandbox: sb}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       readTimeout,
		// The write deadline runs from the end of the headers, so it must
		// cover reading the body, the validation and the answer; else a
		// validation near --timeout would lose its answer.
		WriteTimeout: readTimeout + *ef.timeout + 10*time.Second,
		IdleTimeout:  120 * time.Second,
		// net/http's own complaints (TLS handshakes, bad requests) go to
		// the structured log too, not to a bare stderr line.
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// The real address matters when --addr asks for port 0.
	log.Info("listening", slog.String("addr", ln.Addr().String()))
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		log.Error("server stopped", slog.String("error", err.Error()))
		return exitUsage
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		log.Error("shutdown did not finish cleanly", slog.String("error", err.Error()))
		return exitUsage
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("server stopped", slog.String("error", err.Error()))
		return exitUsage
	}
	return exitOK
}
