package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/sandkasse/sandkasse/validator"
	"github.com/sandkasse/sandkasse/validator/fhirjson"
	"github.com/sandkasse/sandkasse/validator/report"
	"github.com/sandkasse/sandkasse/validator/ruleset"
	"github.com/sandkasse/sandkasse/validator/source"
	"github.com/sandkasse/sandkasse/validator/structure"
)

// engineFlags are the engine's options a vendor sets from the command
// line; validate and serve share them so that both take the same names.
type engineFlags struct {
	maxDepth, maxValues, maxElements, maxBundleEntries *int
	timeout                                            *time.Duration
	securityChecks, noHTMLInMarkdown, allowComments    *bool
	mustSupport                                        *bool
}

// maxDepthCeiling bounds --max-depth: the parser and the tree builder
// recurse once per level, and FHIR resources nest a few dozen levels.
const maxDepthCeiling = 10_000

func addEngineFlags(fs *flag.FlagSet) *engineFlags {
	d := fhirjson.DefaultLimits
	return &engineFlags{
		maxDepth:         fs.Int("max-depth", d.MaxDepth, fmt.Sprintf("deepest nesting of JSON objects and arrays in one document (at most %d); deeper is a fatal json-depth finding", maxDepthCeiling)),
		maxValues:        fs.Int("max-values", d.MaxValues, "most JSON values in one document; more is a fatal json-values finding"),
		maxElements:      fs.Int("max-elements", structure.DefaultMaxElements, "most FHIR elements validated in one document; past it a fatal limit-elements finding and the rest is not validated"),
		maxBundleEntries: fs.Int("max-bundle-entries", structure.DefaultMaxBundleEntries, "most entries in one Bundle; a larger Bundle is a fatal limit-bundle-entries finding and is not validated"),
		timeout:          fs.Duration("timeout", validator.DefaultTimeout, "longest time one document may take (e.g. 30s, 2m); past it a fatal validation-timeout finding marks the findings incomplete"),
		securityChecks:   fs.Bool("security-checks", false, "security-checks mode: string and markdown values that look like HTML tags are errors (security-html), as apps may render them unescaped"),
		noHTMLInMarkdown: fs.Bool("no-html-in-markdown", false, "markdown values that embed HTML tags are errors (security-html); implied by --security-checks"),
		allowComments:    fs.Bool("allow-comments", false, "tolerate // and /* */ comments in the JSON, as some tools write them (FHIR JSON has none; off, they are json-syntax findings)"),
		mustSupport:      fs.Bool("must-support", false, "report a profile's must-support elements that are missing, as information"),
	}
}

// check names the flag whose value cannot be used.
func (f *engineFlags) check() error {
	if *f.maxDepth < 1 || *f.maxDepth > maxDepthCeiling {
		return fmt.Errorf("--max-depth must be between 1 and %d (got %d)", maxDepthCeiling, *f.maxDepth)
	}
	if *f.timeout <= 0 {
		return fmt.Errorf("--timeout must be positive (got %s)", *f.timeout)
	}
	return errors.Join(positive("max-values", int64(*f.maxValues), 0), positive("max-elements", int64(*f.maxElements), 0),
		positive("max-bundle-entries", int64(*f.maxBundleEntries), 0))
}

func (f *engineFlags) apply(o *validator.Options) {
	o.Limits.MaxDepth, o.Limits.MaxValues, o.Limits.AllowComments = *f.maxDepth, *f.maxValues, *f.allowComments
	o.MaxElements, o.MaxBundleEntries = *f.maxElements, *f.maxBundleEntries
	o.Timeout = *f.timeout
	o.SecurityChecks, o.NoHTMLInMarkdown = *f.securityChecks, *f.noHTMLInMarkdown
	o.MustSupport = *f.mustSupport
}

// positive checks a numeric flag: above zero and, when ceiling > 0, at
// most ceiling. The error names the flag.
func positive(name string, v, ceiling int64) error {
	if v <= 0 {
		return fmt.Errorf("--%s must be positive (got %d)", name, v)
	}
	if ceiling > 0 && v > ceiling {
		return fmt.Errorf("--%s must be at most %d (got %d)", name, ceiling, v)
	}
	return nil
}

const validateSynopsis = "[--format text|json|outcome] [--load PATH]... [--profile URL]... [--security-checks] [--allow-comments] PATH...\n\n" +
	"PATH is a JSON file, a directory (every *.json and *.ndjson below it), an NDJSON file\n" +
	"(*.ndjson, one resource a line) or - for one document on stdin."

// applyRuleSet makes a validation follow a rule set: its packages in the
// registry, its identifier policy.
func applyRuleSet(ctx context.Context, opts *validator.Options, dir string, packages []string) error {
	rs, err := ruleset.Load(ctx, os.DirFS(dir), dir)
	if err != nil {
		return fmt.Errorf("rule set %s: %w", dir, err)
	}
	reg, err := rs.Resolve(packages)
	if err != nil {
		return fmt.Errorf("rule set %s: %w", dir, err)
	}
	opts.Registry = reg
	opts.Identifiers = rs.Manifest.IdentifierPolicy()
	return nil
}

func runValidate(ctx context.Context, args []string, io stdio) int {
	fs := newFlags("validate", validateSynopsis, io.err)
	format := fs.String("format", "text", "output format: text, json (one object a line) or outcome (one OperationOutcome a line)")
	var loads, profiles multi
	fs.Var(&loads, "load", "load conformance resources (JSON file, directory or npm package .tgz); repeatable")
	fs.Var(&profiles, "profile", "also validate every resource against this profile's canonical URL; repeatable")
	maxBytes := fs.Int64("max-bytes", source.DefaultMaxBytes, "largest file or stdin document read, in bytes")
	maxLine := fs.Int("max-line-bytes", source.DefaultMaxLineBytes, "longest NDJSON line read, in bytes")
	jobs := fs.Int("jobs", runtime.GOMAXPROCS(0), "documents validated in parallel")
	ef := addEngineFlags(fs)
	rulesDir := fs.String("rules", "", "validate under a rule set (directory): its packages are loaded and its identifier policy applies")
	var packages multi
	fs.Var(&packages, "packages", "with --rules: directory of FHIR packages for its name@version entries (repeatable; default as for rules test)")
	paths, code, done := parseFlags(fs, args)
	if done {
		return code
	}
	if len(paths) == 0 {
		fmt.Fprintln(io.err, "sandkasse validate: no PATH given (use - for stdin)")
		fs.Usage()
		return exitUsage
	}
	// The parser keeps offsets in int32, so 2 GiB is a hard ceiling.
	if err := errors.Join(positive("max-bytes", *maxBytes, 1<<31-1), positive("max-line-bytes", int64(*maxLine), 1<<31-1),
		positive("jobs", int64(*jobs), 0), ef.check()); err != nil {
		fmt.Fprintln(io.err, "sandkasse validate:", err)
		return exitUsage
	}
	rend, err := report.New(*format)
	if err != nil {
		fmt.Fprintln(io.err, "sandkasse validate:", err)
		return exitUsage
	}
	if err := source.Check(paths); err != nil {
		fmt.Fprintln(io.err, "sandkasse validate:", err)
		return exitUsage
	}
	docMax := max(int(*maxBytes), *maxLine)
	opts := validator.Options{
		Limits:   fhirjson.Limits{MaxBytes: docMax},
		Load:     loads,
		Profiles: profiles,
	}
	ef.apply(&opts)
	if *rulesDir != "" {
		if len(packages) == 0 {
			packages = defaultPackagePath()
		}
		if err := applyRuleSet(ctx, &opts, *rulesDir, packages); err != nil {
			fmt.Fprintln(io.err, "sandkasse validate:", err)
			return exitUsage
		}
	}
	v, err := validator.New(opts)
	if err != nil {
		fmt.Fprintln(io.err, "sandkasse validate:", err)
		return exitUsage
	}

	p := pipeline{v: v, workers: *jobs}
	var sum report.Summary
	var werr error
	walkErr := p.run(ctx, paths, io, source.Limits{MaxBytes: *maxBytes, MaxLineBytes: *maxLine}, func(r report.Result) bool {
		sum.Add(r)
		werr = rend.Result(io.out, r)
		return werr == nil
	})
	if werr != nil {
		fmt.Fprintln(io.err, "sandkasse validate: writing output:", werr)
		return exitUsage
	}
	if walkErr != nil {
		// Interrupted: what was printed is right but incomplete, so the
		// run does not count as a verdict either way.
		fmt.Fprintln(io.err, "sandkasse validate: interrupted before all inputs were validated:", walkErr)
		return exitUsage
	}
	if err := rend.Summary(io.out, sum); err != nil {
		fmt.Fprintln(io.err, "sandkasse validate: writing output:", err)
		return exitUsage
	}
	if sum.Resources == 0 {
		// Not an error (an empty export is valid), but a CI job pointed at
		// the wrong directory should not pass in silence.
		fmt.Fprintln(io.err, "sandkasse validate: warning: no *.json or *.ndjson input found")
	}
	if sum.Invalid > 0 {
		return exitFindings
	}
	return exitOK
}

// pipeline validates documents on a bounded pool of workers and hands the
// results back in input order, as soon as each one and all before it are
// done. At most a fixed number of documents are in flight, so memory does
// not grow with the input when one document is slow.
type pipeline struct {
	v       *validator.Validator
	workers int
}

type job struct {
	doc source.Doc
	out chan report.Result // buffered (1): a worker never waits for the printer
}

// run walks paths and calls emit for each result in order; emit returning
// false stops the run. The returned error is the walk's (an interruption).
func (p pipeline) run(ctx context.Context, paths []string, io stdio, lim source.Limits, emit func(report.Result) bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan job)
	order := make(chan chan report.Result, 2*p.workers)
	var wg sync.WaitGroup
	for range p.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				j.out <- p.validate(ctx, j.doc)
			}
		}()
	}
	var walkErr error
	go func() {
		defer close(order)
		defer close(jobs)
		walkErr = source.Walk(ctx, paths, io.in, lim, func(d source.Doc) error {
			out := make(chan report.Result, 1)
			select {
			case order <- out:
			case <-ctx.Done():
				return ctx.Err()
			}
			select {
			case jobs <- job{doc: d, out: out}:
			case <-ctx.Done():
				return ctx.Err()
			}
			return nil
		})
	}()
	stopped := false
	for out := range order {
		if stopped {
			continue // drain so the walker can finish
		}
		select {
		case r := <-out:
			if !emit(r) {
				stopped = true
				cancel()
			}
		case <-ctx.Done():
			stopped = true
		}
	}
	wg.Wait()
	if stopped && walkErr == nil {
		walkErr = ctx.Err()
	}
	return walkErr
}

func (p pipeline) validate(ctx context.Context, d source.Doc) report.Result {
	r := report.Result{Source: d.Source, Index: d.Index, NDJSON: source.IsNDJSON(d.Source)}
	if d.Problem != nil {
		r.Issues = append(r.Issues, *d.Problem)
		return r
	}
	res := p.v.Validate(ctx, d.Data)
	r.ResourceType = res.ResourceType
	r.Issues = res.Issues
	if d.Line > 1 {
		// Positions count from the document's first line; point them into
		// the file instead, so that path:line:col opens the right place.
		r.Issues = append(r.Issues[:0:0], r.Issues...)
		for i := range r.Issues {
			if r.Issues[i].Line > 0 {
				r.Issues[i].Line += d.Line - 1
			}
		}
	}
	return r
}
