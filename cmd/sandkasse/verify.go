package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/sandkasse/sandkasse/validator/cert"
	"github.com/sandkasse/sandkasse/validator/policy"
	"github.com/sandkasse/sandkasse/validator/ruleset"
	"github.com/sandkasse/sandkasse/validator/suite"
	"github.com/sandkasse/sandkasse/validator/suitereport"
)

const verifySynopsis = "--suite FILE --offline DIR [--format text|json|junit|sarif|html] [--app NAME --version V]\n\n" +
	"FILE is a suite file inside a rule set (rules/<id>/suites/<name>.yaml); the rule set is the\n" +
	"directory above suites/ unless --rules says otherwise. DIR holds what the app sent, as JSON\n" +
	"files: recorded exchanges ({method, url, headers, body, status, …}), FHIR resources, and an\n" +
	"optional context.json ({scopes, patient, fhirBase, serviceCodes}).\n" +
	"With --issue (and --key, --vendor-org, --artifact-digest, --app, --version) a passing run\n" +
	"also issues a signed certificate: written to --out, or printed after a text report; a run\n" +
	"that did not pass gets none (exit 1).\n" +
	"Exit status: 0 every required test passed, 1 a required test failed or had nothing to\n" +
	"examine, 2 the suite could not run.\n" +
	"On a running sandbox: verify --suite ID --server URL --tenant T (verify --server URL -h\n" +
	"lists its flags)."

func runVerify(ctx context.Context, args []string, io stdio) int {
	if serverMode(args) {
		return runVerifyServer(ctx, args, io)
	}
	fs := newFlags("verify", verifySynopsis, io.err)
	suiteFile := fs.String("suite", "", "suite file to run (required)")
	offline := fs.String("offline", "", "directory of recorded exchanges and resources (required)")
	v := newVerifyFlags(fs, false)
	rulesDir := fs.String("rules", "", "rule-set directory (default: the directory above the suite file's suites/)")
	lang := fs.String("lang", "en", "language of fix hints: en or nb")
	var packages multi
	fs.Var(&packages, "packages", "directory of FHIR packages for the rule set's name@version entries (repeatable; default as for rules test)")
	registry := fs.String("registry", "", "with --issue: certificate registry to keep the certificate, report and evidence in (cert_registry.go)")
	fail := verifyFail(io.err)
	if code, done := parseVerifyFlags(fs, args, fail); done {
		return code
	}
	if *suiteFile == "" || *offline == "" {
		fs.Usage()
		return fail("--suite and --offline (or --server, --tenant) are required")
	}
	rend, err := suitereport.Get(*v.format)
	if err != nil {
		return fail("%v", err)
	}
	var signer *cert.Signer
	if *v.issue {
		switch {
		case *v.key == "" || *v.vendorOrg == "" || *v.artifact == "":
			return fail("--issue needs --key, --vendor-org and --artifact-digest")
		case *v.app == "" || *v.version == "":
			return fail("--issue needs --app and --version: a certificate names the app version")
		case *v.out == "" && *v.format != "text":
			return fail("--issue with --format %s needs --out (the certificate would be mixed into the report)", *v.format)
		}
		key, err := cert.LoadSigningKey(*v.key)
		if err != nil {
			return fail("--key: %v", err)
		}
		if signer, err = cert.NewSigner(key); err != nil {
			return fail("--key: %v", err)
		}
	} else if *v.key != "" || *v.vendorOrg != "" || *v.artifact != "" || *v.out != "" || *registry != "" {
		return fail("--key, --vendor-org, --artifact-digest, --out and --registry only go with --issue")
	}
	if *rulesDir == "" {
		*rulesDir = filepath.Dir(filepath.Dir(*suiteFile))
	}
	rs, err := ruleset.Load(ctx, os.DirFS(*rulesDir), *rulesDir)
	if err != nil {
		return fail("rule set %s:\n%v", *rulesDir, err)
	}
	data, err := os.ReadFile(*suiteFile)
	if err != nil {
		return fail("%v", err)
	}
	s, err := suite.Parse(*suiteFile, data)
	if err != nil {
		return fail("suite:\n%v", err)
	}
	ruleIDs, reqs := map[string]bool{}, map[string]bool{}
	meta := suitereport.Meta{
		Generated: time.Now(),
		RuleSet: suitereport.RuleSetInfo{ID: rs.Manifest.ID, Version: rs.Manifest.Version,
			Effective: rs.Manifest.Effective, Digest: rs.Digest},
		Rules: map[string]suitereport.Rule{},
	}
	if *v.app != "" || *v.version != "" {
		meta.App = &suitereport.App{Name: *v.app, Version: *v.version}
	}
	for _, r := range rs.Rules {
		ruleIDs[r.ID] = true
		fix := r.Fix.EN
		if *lang == "nb" {
			fix = r.Fix.NB
		}
		meta.Rules[r.ID] = suitereport.Rule{Title: r.Title, Requirement: r.Requirement, Fix: fix}
	}
	for _, q := range rs.Manifest.Requirements {
		reqs[q.ID] = true
		meta.Requirements = append(meta.Requirements, suitereport.Requirement{ID: q.ID, Title: q.Title, Source: q.Source})
	}
	if err := s.Check(rs.Manifest.ID, ruleIDs, reqs); err != nil {
		return fail("suite:\n%v", err)
	}
	eng, err := policy.Compile(ctx, rs.Modules, policy.WithLanguage(*lang))
	if err != nil {
		return fail("policies:\n%v", err)
	}
	rec, err := suite.LoadDir(os.DirFS(*offline))
	if err != nil {
		return fail("%s: %v", *offline, err)
	}
	runner := &suite.Runner{Engine: eng}
	if needsValidator(s) {
		v, err := ruleSetValidator(rs, packages)
		if err != nil {
			// Tests that validate then report error (the tool could not
			// run them); the others still run.
			fmt.Fprintf(io.err, "sandkasse verify: no FHIR validator for %s: %v\n", rs.Manifest.ID, err)
		} else {
			runner.Validator = v
		}
	}
	res := runner.Run(ctx, s, rec)
	report := suitereport.New(res, meta)
	if err := rend.Render(io.out, report); err != nil {
		return fail("writing the report: %v", err)
	}
	if signer != nil {
		if res.Outcome != suite.Pass {
			fmt.Fprintf(io.err, "sandkasse verify: no certificate issued: the run's outcome is %s, and a certificate needs every required test to pass\n", res.Outcome)
			return exitFindings
		}
		p := cert.Payload{
			App:     cert.App{Name: *v.app, Version: *v.version, ArtifactDigest: *v.artifact},
			Vendor:  cert.Vendor{OrgNumber: *v.vendorOrg, Name: *v.vendorName},
			Suite:   cert.Suite{ID: s.ID, Version: s.Version},
			RuleSet: cert.RuleSet{ID: rs.Manifest.ID, Version: rs.Manifest.Version, Digest: rs.Digest},
		}
		if p.ReportDigest, err = reportDigest(report); err != nil {
			return fail("report digest: %v", err)
		}
		token, signed, err := signer.Sign(p)
		if err != nil {
			return fail("no certificate issued: %v", err)
		}
		if *registry != "" {
			if err := storeIssued(*registry, token, report, rec); err != nil {
				return fail("no certificate issued: %v", err)
			}
		}
		if err := emitCertificate(io, *v.out, signed.ID, "", token); err != nil {
			return fail("no certificate issued: %v", err)
		}
	}
	switch res.Outcome {
	case suite.Pass, suite.Omit:
		return exitOK
	case suite.Error:
		return exitUsage
	default:
		return exitFindings
	}
}

// verifyFlags are the flags verify takes offline and on a sandbox alike,
// each with the help of the mode asked for. On a sandbox the platform signs,
// so there --key, --vendor-org and --vendor-name exist only to be refused
// with the reason.
type verifyFlags struct {
	format, app, version, artifact, out *string
	issue                               *bool
	key, vendorOrg, vendorName          *string
}

func newVerifyFlags(fs *flag.FlagSet, server bool) verifyFlags {
	help := func(offline, onServer string) string {
		if server {
			return onServer
		}
		return offline
	}
	return verifyFlags{
		format: fs.String("format", "text", "report format: text, json, junit, sarif or html"),
		app:    fs.String("app", "", help("name of the app under test, for the report", "name of the app under test")),
		version: fs.String("version", "", help("version of the app under test, for the report",
			"version of the app under test")),
		artifact: fs.String("artifact-digest", "", help("with --issue: digest of the app artifact, sha256:…",
			"digest of the app artifact, sha256:…")),
		issue: fs.Bool("issue", false, help("issue a certificate when every required test passes",
			"ask the platform for a certificate when every required test passes")),
		out: fs.String("out", "", "with --issue: file to write the certificate to"),
		key: fs.String("key", "", help("with --issue: signing key file from `sandkasse cert keygen`",
			"offline only: on a sandbox the platform signs")),
		vendorOrg: fs.String("vendor-org", "", help("with --issue: the vendor's organisation number",
			"offline only: on a sandbox the vendor is the tenant's organisation")),
		vendorName: fs.String("vendor-name", "", help("with --issue: the vendor's name (optional)", "offline only")),
	}
}

// verifyFail returns verify's usage-error reporter: the message on stderr,
// exit status 2.
func verifyFail(stderr io.Writer) func(format string, a ...any) int {
	return func(format string, a ...any) int {
		fmt.Fprintf(stderr, "sandkasse verify: "+format+"\n", a...)
		return exitUsage
	}
}

// parseVerifyFlags parses verify's arguments, which are all flags; done
// says the command ends here (help, a bad flag, an argument) with code.
func parseVerifyFlags(fs *flag.FlagSet, args []string, fail func(string, ...any) int) (code int, done bool) {
	rest, code, done := parseFlags(fs, args)
	if done {
		return code, true
	}
	if len(rest) > 0 {
		return fail("unexpected argument %q", rest[0]), true
	}
	return 0, false
}

// emitCertificate writes an issued certificate to out, or prints it after
// the report when out is empty; note says how it was checked, if it was.
func emitCertificate(sio stdio, out, id, note, token string) error {
	if out == "" {
		fmt.Fprintf(sio.out, "\nCertificate %s%s:\n%s\n", id, note, token)
		return nil
	}
	if err := os.WriteFile(out, []byte(token+"\n"), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(sio.err, "sandkasse verify: certificate %s%s written to %s\n", id, note, out)
	return nil
}

// reportDigest is the sha256 of the run's JSON report, the one a vendor
// gets with --format json (the same Report value, so the same bytes).
func reportDigest(r *suitereport.Report) (string, error) {
	js, err := suitereport.Get("json")
	if err != nil {
		return "", err
	}
	h := sha256.New()
	if err := js.Render(h, r); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func needsValidator(s *suite.Suite) bool {
	for _, g := range s.Groups {
		for _, t := range g.Tests {
			if t.Validate {
				return true
			}
		}
	}
	return false
}
