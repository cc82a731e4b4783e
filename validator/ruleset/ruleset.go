// Package ruleset loads rule sets: versioned directories of a manifest, Rego
// policies with their tests, and suites. Loading is strict and reports every
// problem at once, each with file and line, because a rule set is written by
// hand and published as evidence: a field that is silently ignored is a rule
// that silently does not apply.
//
// # Layout
//
//	<id>/
//	  ruleset.yaml           the manifest (see Manifest)
//	  README.md              optional
//	  policies/<name>.rego   policies; each has <name>_test.rego beside it
//	  suites/                suite files the manifest lists (format: validator/suite)
//	  packages/              optional FHIR packages carried inside the rule set
//
// # Packages
//
// A manifest names the FHIR packages its profiles come from in one of two
// ways: "name@version", the npm name and version in the package's own
// package.json, looked up in a search path of directories (each holding
// package folders or name-version.tgz files; hl7.fhir.r4.core@4.0.1 is built
// in), or "./path", a folder or .tgz inside the rule set, which then travels
// with it and is covered by its digest.
//
// # Digest
//
// Digest is "sha256:" and the hex SHA-256 over every regular file of the rule
// set in lexical path order, each as its slash-separated path, a NUL, its
// length in decimal, a NUL and its bytes. It does not depend on the file
// system, modification times or archive format, so the same release has the
// same digest from a directory, the embedded copy or a tarball.
package ruleset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sandkasse/sandkasse/validator/policy"
)

// ManifestFile is the manifest's name at the root of a rule set.
const ManifestFile = "ruleset.yaml"

// RuleSet is a loaded, checked rule set.
type RuleSet struct {
	Manifest  Manifest
	Effective time.Time // the manifest's effective date, midnight UTC
	// Modules are the policies and their tests, named by path inside the
	// rule set (policies/x.rego).
	Modules []policy.Module
	Rules   []policy.Rule
	Digest  string
	// Name is how errors refer to the rule set's root (a directory path or
	// the embedded id).
	Name string
	fsys fs.FS
}

// FS is the rule set's files, rooted at its directory.
func (rs *RuleSet) FS() fs.FS { return rs.fsys }

// Problem is one thing wrong with a rule set.
type Problem struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	s := p.File
	if p.Line > 0 {
		s += ":" + strconv.Itoa(p.Line)
		if p.Column > 0 {
			s += ":" + strconv.Itoa(p.Column)
		}
	}
	return s + ": " + p.Message
}

// Problems is every problem found; it is the error Load returns.
type Problems []Problem

func (ps Problems) Error() string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.String()
	}
	return strings.Join(parts, "\n")
}

func (ps Problems) sorted() Problems {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].File != ps[j].File {
			return ps[i].File < ps[j].File
		}
		if ps[i].Line != ps[j].Line {
			return ps[i].Line < ps[j].Line
		}
		return ps[i].Column < ps[j].Column
	})
	return ps
}

// collector gathers problems with paths shown relative to the rule set's
// name, so a message points at a file the author can open.
type collector struct {
	name string
	ps   Problems
}

func (c *collector) add(file string, line int, format string, args ...any) {
	c.ps = append(c.ps, Problem{File: path.Join(c.name, file), Line: line, Message: fmt.Sprintf(format, args...)})
}

// Load reads and checks the rule set rooted at fsys; name is how messages
// refer to that root (e.g. "rules/dho-vkp"). Problems with the manifest,
// layout, policies and their metadata all come back together as Problems.
// Load does not run the Rego tests or resolve packages: see Test and
// Resolve.
func Load(ctx context.Context, fsys fs.FS, name string) (*RuleSet, error) {
	c := &collector{name: name}
	rs := &RuleSet{Name: name, fsys: fsys}

	data, err := fs.ReadFile(fsys, ManifestFile)
	if err != nil {
		c.add(ManifestFile, 0, "cannot read the manifest: %v", errors.Unwrap(err))
	} else {
		m, eff := parseManifest(c, data)
		rs.Manifest, rs.Effective = m, eff
		if want := path.Base(name); m.ID != "" && want != "." && want != "/" && !strings.Contains(name, "@") && m.ID != want {
			c.add(ManifestFile, rs.Manifest.line("id"), "id %q differs from the rule set's directory name %q", m.ID, want)
		}
	}
	checkLayout(c, fsys, &rs.Manifest)
	rs.Modules = readModules(c, fsys)

	if len(rs.Modules) > 0 {
		// Compile to check syntax, capabilities and metadata; the engine
		// itself is built again by Engine with the caller's options.
		e, err := policy.Compile(ctx, rs.Modules)
		var perrs policy.Errors
		switch {
		case errors.As(err, &perrs):
			for _, pe := range perrs {
				c.ps = append(c.ps, Problem{File: path.Join(name, pe.File), Line: pe.Line, Column: pe.Column, Message: pe.Message})
			}
		case err != nil:
			c.add("policies", 0, "%v", err)
		default:
			rs.Rules = e.Rules()
			checkRules(c, rs)
		}
	}

	if len(c.ps) > 0 {
		return nil, c.ps.sorted()
	}
	d, err := Digest(fsys)
	if err != nil {
		return nil, Problems{{File: name, Message: "digest: " + err.Error()}}
	}
	rs.Digest = d
	return rs, nil
}

// checkRules ties metadata to the manifest: every rule's requirement must be
// one the manifest declares (procurement reads coverage per requirement), and
// every rule must be exercised by a test file.
func checkRules(c *collector, rs *RuleSet) {
	reqs := map[string]bool{}
	for _, r := range rs.Manifest.Requirements {
		reqs[r.ID] = true
	}
	tested := testedNames(rs.Modules)
	for _, r := range rs.Rules {
		if !reqs[r.Requirement] {
			c.ps = append(c.ps, Problem{File: path.Join(c.name, r.File), Line: r.Line,
				Message: fmt.Sprintf("rule %s (%s) names requirement %q, which %s does not declare", r.ID, r.Name, r.Requirement, ManifestFile)})
		}
		if !tested[r.Package+"."+r.Name] {
			c.ps = append(c.ps, Problem{File: path.Join(c.name, r.File), Line: r.Line,
				Message: fmt.Sprintf("rule %s (%s) is not referred to by any test (write a positive and a negative test in the _test.rego beside it)", r.ID, r.Name)})
		}
	}
}

func readModules(c *collector, fsys fs.FS) []policy.Module {
	entries, err := fs.ReadDir(fsys, "policies")
	if err != nil {
		c.add("policies", 0, "no policies directory: a rule set needs at least one policy")
		return nil
	}
	var mods []policy.Module
	names := map[string]bool{}
	for _, e := range entries {
		n := e.Name()
		p := "policies/" + n
		switch {
		case e.IsDir():
			c.add(p, 0, "subdirectories of policies/ are not read; put policies directly in policies/")
			continue
		case !strings.HasSuffix(n, ".rego"):
			c.add(p, 0, "not a Rego file (policies/ holds *.rego and *_test.rego only)")
			continue
		}
		src, err := fs.ReadFile(fsys, p)
		if err != nil {
			c.add(p, 0, "cannot read: %v", err)
			continue
		}
		names[n] = true
		mods = append(mods, policy.Module{Name: p, Source: src})
	}
	policies := 0
	for n := range names {
		if strings.HasSuffix(n, "_test.rego") {
			if !names[strings.TrimSuffix(n, "_test.rego")+".rego"] {
				c.add("policies/"+n, 0, "test file without a policy %s beside it", strings.TrimSuffix(n, "_test.rego")+".rego")
			}
			continue
		}
		policies++
		if t := strings.TrimSuffix(n, ".rego") + "_test.rego"; !names[t] {
			c.add("policies/"+n, 0, "policy without tests: add policies/%s", t)
		}
	}
	if policies == 0 && len(entries) > 0 {
		c.add("policies", 0, "no policy files (*.rego that are not tests)")
	}
	sort.Slice(mods, func(i, j int) bool { return mods[i].Name < mods[j].Name })
	return mods
}

// checkLayout refuses files the loader would not read: what is in a
// published rule set is covered by its digest, so nothing may sit there
// unexplained.
func checkLayout(c *collector, fsys fs.FS, m *Manifest) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		c.add(".", 0, "cannot list: %v", err)
		return
	}
	for _, e := range entries {
		switch n := e.Name(); {
		case n == ManifestFile || n == "README.md":
		case (n == "policies" || n == "suites" || n == "packages") && e.IsDir():
		default:
			c.add(n, 0, "unexpected entry at the rule set's root (allowed: %s, README.md, policies/, suites/, packages/)", ManifestFile)
		}
	}
	listed := map[string]bool{}
	for i, s := range m.Suites {
		listed[s] = true
		if st, err := fs.Stat(fsys, s); err != nil || st.IsDir() {
			c.add(ManifestFile, m.itemLine("suites", i), "suites[%d]: %s does not exist", i, s)
		}
	}
	_ = fs.WalkDir(fsys, "suites", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == "suites/README.md" {
			return nil
		}
		if !listed[p] {
			c.add(p, 0, "suite file not listed under suites: in %s (an unlisted suite never runs)", ManifestFile)
		}
		return nil
	})
}

// testedNames collects every rule a test module refers to, as
// data.pkg.rule, so an untested finding rule can be named.
func testedNames(mods []policy.Module) map[string]bool {
	return policy.ReferencedRules(mods)
}

// Digest computes the rule set's digest (see the package documentation).
func Digest(fsys fs.FS) (string, error) {
	var files []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(files)
	h := sha256.New()
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", f, len(b))
		h.Write(b)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// Engine compiles the rule set's policies for evaluation.
func (rs *RuleSet) Engine(ctx context.Context, opts ...policy.Option) (*policy.Engine, error) {
	return policy.Compile(ctx, rs.Modules, opts...)
}

// Test runs the rule set's Rego tests.
func (rs *RuleSet) Test(ctx context.Context) ([]policy.TestResult, error) {
	res, err := policy.RunTests(ctx, rs.Modules, 0)
	for i := range res {
		res[i].File = path.Join(rs.Name, res[i].File)
	}
	return res, err
}
