package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sandkasse/sandkasse/validator/cert"
	"github.com/sandkasse/sandkasse/validator/publish"
)

// runRulesPublish is `sandkasse rules publish DIR`: runs everything `rules
// test` runs, and only when all of it passes copies the rule set into the
// registry with a signed record. Exit 0 published, 1 refused (failing
// tests or checks, a version already published), 2 could not run (bad
// flags, no --staff, unreadable key).
func runRulesPublish(ctx context.Context, args []string, io stdio) int {
	fs := newFlags("rules publish", "DIR --registry REGDIR --signer NAME --key KEYFILE --staff [--packages DIR]...\n\n"+
		"Publishes a rule set that passes `rules test` into REGDIR/<id>/<version>/, with a record\n"+
		"(id, version, digest, effective date, signer, publish time) signed with KEYFILE.\n"+
		"Publishing is for platform staff; --staff asserts that role. This command trusts the\n"+
		"assertion: real role checks belong to the server, which must not expose publishing\n"+
		"without them.", io.err)
	registry := fs.String("registry", "", "registry directory (required)")
	signer := fs.String("signer", "", "who publishes, recorded in the signed record (required)")
	keyFile := fs.String("key", "", "private key file from `sandkasse cert keygen` (required)")
	staff := fs.Bool("staff", false, "act in the platform-staff role (required to publish)")
	var packages multi
	fs.Var(&packages, "packages", "directory of FHIR packages (repeatable; default as for rules test)")
	rest, code, done := parseFlags(fs, args)
	if done {
		return code
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(io.err, "sandkasse rules publish: "+format+"\n", a...)
		return code
	}
	if len(rest) != 1 {
		fs.Usage()
		return fail(exitUsage, "expected one rule-set directory")
	}
	if !*staff {
		return fail(exitUsage, "refused: publishing is for the platform-staff role; pass --staff to act in it (the real role check belongs to the server)")
	}
	if *registry == "" || *signer == "" || *keyFile == "" {
		fs.Usage()
		return fail(exitUsage, "--registry, --signer and --key are required")
	}
	key, err := publish.LoadKey(*keyFile)
	if err != nil {
		return fail(exitUsage, "--key: %v", err)
	}
	dir := filepath.Clean(rest[0])
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fail(exitUsage, "%s is not a directory", dir)
	}
	rep, rs, err := testRuleSet(ctx, dir, packages)
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	if len(rep.Problems) > 0 || rep.failed() > 0 || rs == nil {
		rep.write(io, "text")
		return fail(exitFindings, "refused: the rule set's tests or checks fail (see above)")
	}
	reg := &publish.Registry{Dir: *registry}
	rec, err := reg.Publish(rs, os.DirFS(dir), *signer, key)
	if errors.Is(err, publish.ErrDuplicate) {
		return fail(exitFindings, "refused: %v", err)
	}
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	fmt.Fprintf(io.out, "published %s %s (%s), effective %s, signed by %s with key %s at %s\n",
		rec.ID, rec.Version, rec.Digest, rec.Effective, rec.Signer, rec.KeyID, rec.Published.Format(time.RFC3339))
	return exitOK
}

// runRulesList is `sandkasse rules list --registry REGDIR [--jwks FILE]`.
func runRulesList(args []string, io stdio) int {
	fs := newFlags("rules list", "--registry REGDIR [--jwks FILE]\n\nLists every published rule-set version; with --jwks the records' signatures are verified.", io.err)
	registry := fs.String("registry", "", "registry directory (required)")
	jwks := fs.String("jwks", "", "public keys to verify the records' signatures with")
	rest, code, done := parseFlags(fs, args)
	if done {
		return code
	}
	if len(rest) != 0 || *registry == "" {
		fs.Usage()
		return exitUsage
	}
	var keys *cert.KeySet
	if *jwks != "" {
		var err error
		if keys, err = cert.LoadKeySet(*jwks); err != nil {
			fmt.Fprintf(io.err, "sandkasse rules list: --jwks: %v\n", err)
			return exitUsage
		}
	}
	entries, err := (&publish.Registry{Dir: *registry}).List(keys)
	if err != nil {
		fmt.Fprintf(io.err, "sandkasse rules list: %v\n", err)
		return exitUsage
	}
	bad := false
	for _, e := range entries {
		status := "ok"
		switch {
		case e.Problem != "":
			status, bad = "BAD ("+e.Problem+")", true
		case keys == nil:
			status = "ok (signature not checked)"
		}
		fmt.Fprintf(io.out, "%s %s\t%s\teffective %s\tsigned by %s (key %s)\tpublished %s\t%s\n",
			e.ID, e.Version, e.Digest, e.Effective, e.Signer, e.KeyID, e.Published.Format(time.RFC3339), status)
	}
	if bad {
		return exitFindings
	}
	return exitOK
}
