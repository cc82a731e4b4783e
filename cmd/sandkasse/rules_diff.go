package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sandkasse/sandkasse/validator"
	"github.com/sandkasse/sandkasse/validator/cert"
	"github.com/sandkasse/sandkasse/validator/certstore"
	"github.com/sandkasse/sandkasse/validator/issue"
	"github.com/sandkasse/sandkasse/validator/publish"
	"github.com/sandkasse/sandkasse/validator/ruleset"
	"github.com/sandkasse/sandkasse/validator/suite"
)

const rulesDiffSynopsis = "OLD NEW [--registry DIR] [--format text|json] [--packages DIR]...\n\n" +
	"OLD and NEW are rule-set directories or published versions (id@version, from --registry).\n" +
	"Lists the files (by digest), rules and suite tests that NEW adds, removes or changes, and\n" +
	"re-runs NEW's suites over the stored evidence of every certificate in the registry that\n" +
	"is valid now (not expired, not revoked) and names OLD's rule-set id: which would lose its\n" +
	"certificate, and why (test, rule, location, evidence). Without --registry only the\n" +
	"changes are listed.\n" +
	"Exit status: 0 no certificate would be lost, 1 some would, 2 could not run (bad input, a\n" +
	"damaged registry entry, or a re-run the tool could not finish)."

// runRulesDiff is `sandkasse rules diff OLD NEW`.
func runRulesDiff(ctx context.Context, args []string, sio stdio) int {
	fs := newFlags("rules diff", rulesDiffSynopsis, sio.err)
	registry := fs.String("registry", "", "registry of published rule sets and certificates")
	format := fs.String("format", "text", "output format: text or json")
	var packages multi
	fs.Var(&packages, "packages", "directory of FHIR packages for NEW's validate tests (repeatable; default as for rules test)")
	rest, code, done := parseFlags(fs, args)
	if done {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(sio.err, "sandkasse rules diff: "+format+"\n", a...)
		return exitUsage
	}
	if len(rest) != 2 {
		fs.Usage()
		return fail("expected OLD and NEW")
	}
	if *format != "text" && *format != "json" {
		return fail("unknown format %q (text or json)", *format)
	}
	old, err := openRuleSet(ctx, rest[0], *registry)
	if err != nil {
		return fail("OLD: %v", err)
	}
	nw, err := openRuleSet(ctx, rest[1], *registry)
	if err != nil {
		return fail("NEW: %v", err)
	}
	if old.Manifest.ID != nw.Manifest.ID {
		fmt.Fprintf(sio.err, "sandkasse rules diff: note: OLD is %s and NEW is %s; certificates of %s are re-run under %s\n",
			old.Manifest.ID, nw.Manifest.ID, old.Manifest.ID, nw.Manifest.ID)
	}
	var d *certstore.Diff
	if *registry == "" {
		d, err = certstore.Compare(old, nw)
	} else {
		opts := certstore.DiffOptions{Validator: func(rs *ruleset.RuleSet) (suite.Validator, error) {
			return ruleSetValidator(rs, packages)
		}}
		d, err = (&certstore.Store{Dir: *registry}).Diff(ctx, old, nw, opts)
	}
	if err != nil {
		return fail("%v", err)
	}
	if *format == "json" {
		enc := json.NewEncoder(sio.out)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(d); err != nil {
			return fail("%v", err)
		}
	} else {
		printDiff(sio.out, d, *registry != "")
	}
	switch {
	case d.Undetermined() > 0:
		return exitUsage
	case d.Losing() > 0:
		return exitFindings
	}
	return exitOK
}

// openRuleSet loads a rule-set directory, or id@version from the registry.
func openRuleSet(ctx context.Context, ref, registry string) (*ruleset.RuleSet, error) {
	dir := filepath.Clean(ref)
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		return ruleset.Load(ctx, os.DirFS(dir), dir)
	}
	id, version, ok := strings.Cut(ref, "@")
	if !ok {
		return nil, fmt.Errorf("%s: not a directory, nor id@version", ref)
	}
	if registry == "" {
		return nil, fmt.Errorf("%s: a published version needs --registry", ref)
	}
	// The registry's key set, when it has one, checks the publish record.
	var keys *cert.KeySet
	if ks, err := (&certstore.Store{Dir: registry}).Keys(); err == nil {
		keys = ks
	} else if !errors.Is(err, certstore.ErrNoKeys) {
		return nil, err
	}
	e, err := (&publish.Registry{Dir: registry}).Lookup(id, version, keys)
	if err != nil {
		return nil, err
	}
	// Named id@version: the files sit in .../files, not in a directory
	// named by the id, and messages should name the published version.
	return ruleset.Load(ctx, os.DirFS(publish.Files(e)), ref)
}

// ruleSetValidator is the FHIR validator for a rule set's validate tests,
// built as `verify` builds it.
func ruleSetValidator(rs *ruleset.RuleSet, packages []string) (suite.Validator, error) {
	if len(packages) == 0 {
		packages = defaultPackagePath()
	}
	reg, err := rs.Resolve(packages)
	if err != nil {
		return nil, err
	}
	v, err := validator.New(validator.Options{Registry: reg, Identifiers: rs.Manifest.IdentifierPolicy()})
	if err != nil {
		return nil, err
	}
	return suite.ValidatorFunc(func(ctx context.Context, b []byte) issue.List {
		return v.Validate(ctx, b).Issues
	}), nil
}

func printDiff(w io.Writer, d *certstore.Diff, withRegistry bool) {
	fmt.Fprintf(w, "%s %s (%s) -> %s %s (%s)\n", d.Old.ID, d.Old.Version, d.Old.Digest, d.New.ID, d.New.Version, d.New.Digest)
	section := func(title string, n int) {
		if n == 0 {
			fmt.Fprintf(w, "\n%s: none changed\n", title)
		} else {
			fmt.Fprintf(w, "\n%s:\n", title)
		}
	}
	section("Files", len(d.Files))
	for _, f := range d.Files {
		switch f.Change {
		case certstore.Added:
			fmt.Fprintf(w, "  + %s  %s\n", f.Path, f.New)
		case certstore.Removed:
			fmt.Fprintf(w, "  - %s  %s\n", f.Path, f.Old)
		default:
			fmt.Fprintf(w, "  ~ %s  %s -> %s\n", f.Path, f.Old, f.New)
		}
	}
	items := func(title string, xs []certstore.ItemChange) {
		section(title, len(xs))
		for _, x := range xs {
			mark := map[string]string{certstore.Added: "+", certstore.Removed: "-", certstore.Changed: "~"}[x.Change]
			if x.Detail != "" {
				fmt.Fprintf(w, "  %s %s (%s)\n", mark, x.ID, x.Detail)
			} else {
				fmt.Fprintf(w, "  %s %s\n", mark, x.ID)
			}
		}
	}
	items("Rules", d.Rules)
	items("Tests", d.Tests)
	if !withRegistry {
		fmt.Fprintln(w, "\nCertificates: not re-evaluated (no --registry)")
		return
	}
	fmt.Fprintf(w, "\nCertificates of %s valid now: %d\n", d.Old.ID, len(d.Certificates))
	for _, c := range d.Certificates {
		fmt.Fprintf(w, "  %s  %s %s (org. no. %s), suite %s %s: %s\n", strings.ToUpper(c.Verdict), c.App.Name, c.App.Version,
			c.Vendor.OrgNumber, c.Suite.ID, c.Suite.Version, c.ID)
		if c.Reason != "" {
			fmt.Fprintf(w, "      %s\n", c.Reason)
		}
		for _, f := range c.Failures {
			fmt.Fprintf(w, "      test %s: %s", f.Test, f.Outcome)
			if f.Message != "" {
				fmt.Fprintf(w, " (%s)", f.Message)
			}
			fmt.Fprintln(w)
			for _, x := range f.Findings {
				loc := x.Location
				if loc == "" {
					loc = "-"
				}
				fmt.Fprintf(w, "        %s at %s in %s: %s\n", x.RuleID, loc, x.Evidence, x.Message)
			}
		}
	}
	if !d.RevocationsChecked {
		fmt.Fprintln(w, "  (the registry has no revocation list yet: nothing is revoked)")
	}
	for _, n := range d.NotCurrent {
		fmt.Fprintf(w, "  not re-evaluated: %s is %s (%s)\n", n.ID, n.Status, n.Detail)
	}
	fmt.Fprintf(w, "\n%d would lose their certificate, %d keep it", d.Losing(), len(d.Certificates)-d.Losing()-d.Undetermined())
	if u := d.Undetermined(); u > 0 {
		fmt.Fprintf(w, ", %d could not be decided", u)
	}
	fmt.Fprintln(w)
}
