package certstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sandkasse/sandkasse/validator/cert"
	"github.com/sandkasse/sandkasse/validator/policy"
	"github.com/sandkasse/sandkasse/validator/ruleset"
	"github.com/sandkasse/sandkasse/validator/suite"
)

// Change kinds.
const (
	Added   = "added"
	Removed = "removed"
	Changed = "changed"
)

// RuleSetRef names one side of a diff.
type RuleSetRef struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Digest  string `json:"digest"`
}

// FileChange is one file of the rule set that differs, by content digest.
type FileChange struct {
	Path   string `json:"path"`
	Change string `json:"change"`
	Old    string `json:"old,omitempty"`
	New    string `json:"new,omitempty"`
}

// ItemChange is a rule or a suite test that was added, removed or changed.
type ItemChange struct {
	ID     string `json:"id"`
	Change string `json:"change"`
	Detail string `json:"detail,omitempty"`
}

// Failure is one required test that no longer passes on a certificate's
// evidence.
type Failure struct {
	Test     string          `json:"test"`
	Outcome  suite.Outcome   `json:"outcome"`
	Message  string          `json:"message,omitempty"`
	Findings []suite.Finding `json:"findings,omitempty"`
}

// CertImpact is what NEW would mean for one currently valid certificate.
type CertImpact struct {
	ID      string       `json:"id"`
	App     cert.App     `json:"app"`
	Vendor  cert.Vendor  `json:"vendor"`
	Suite   cert.Suite   `json:"suite"`
	RuleSet cert.RuleSet `json:"ruleSet"`
	// Verdict: "keeps", "loses", or "undetermined" when the re-run had
	// errors of the tool's own (then the diff could not run fully).
	Verdict  string    `json:"verdict"`
	Reason   string    `json:"reason,omitempty"`
	Failures []Failure `json:"failures,omitempty"`
}

// Verdicts of a CertImpact.
const (
	Keeps        = "keeps"
	Loses        = "loses"
	Undetermined = "undetermined"
)

// NotCurrent is a stored certificate of the rule set that was left out
// because it is no longer valid anyway.
type NotCurrent struct {
	ID     string      `json:"id"`
	Status cert.Status `json:"status"`
	Detail string      `json:"detail"`
}

// Diff is the answer of `rules diff`.
type Diff struct {
	Old          RuleSetRef   `json:"old"`
	New          RuleSetRef   `json:"new"`
	Files        []FileChange `json:"files"`
	Rules        []ItemChange `json:"rules"`
	Tests        []ItemChange `json:"tests"`
	Certificates []CertImpact `json:"certificates"`
	NotCurrent   []NotCurrent `json:"notCurrent"`
	// RevocationsChecked is false when the registry has no revocation
	// list yet (nothing has been revoked).
	RevocationsChecked bool `json:"revocationsChecked"`
}

// Losing counts the certificates NEW would take away.
func (d *Diff) Losing() int { return d.count(Loses) }

// Undetermined counts the certificates whose re-run had tool errors.
func (d *Diff) Undetermined() int { return d.count(Undetermined) }

func (d *Diff) count(v string) int {
	n := 0
	for _, c := range d.Certificates {
		if c.Verdict == v {
			n++
		}
	}
	return n
}

// DiffOptions are what a re-evaluation needs beyond the two rule sets.
type DiffOptions struct {
	// Validator builds the FHIR validator for NEW's tests with validate:
	// true; nil, or an error from it, makes those tests errors (and the
	// certificates that depend on them undetermined).
	Validator func(*ruleset.RuleSet) (suite.Validator, error)
	// Verifier options (a clock for tests).
	VerifyOptions []cert.Option
}

// Diff re-evaluates the stored evidence of every certificate that is valid
// now (genuine, not expired, not revoked) and names old's rule-set id, under
// new's suites, and lists what changed between the two rule sets.
func (s *Store) Diff(ctx context.Context, old, new *ruleset.RuleSet, opts DiffOptions) (*Diff, error) {
	d, newSuites, err := compare(old, new)
	if err != nil {
		return nil, err
	}
	if err := s.reevaluate(ctx, d, old, new, newSuites, opts); err != nil {
		return nil, err
	}
	return d, nil
}

// Compare lists what changed between two rule sets, without looking at any
// certificate.
func Compare(old, new *ruleset.RuleSet) (*Diff, error) {
	d, _, err := compare(old, new)
	return d, err
}

func compare(old, new *ruleset.RuleSet) (*Diff, []*suite.Suite, error) {
	d := &Diff{
		Old:   RuleSetRef{old.Manifest.ID, old.Manifest.Version, old.Digest},
		New:   RuleSetRef{new.Manifest.ID, new.Manifest.Version, new.Digest},
		Files: []FileChange{}, Rules: []ItemChange{}, Tests: []ItemChange{},
		Certificates: []CertImpact{}, NotCurrent: []NotCurrent{},
	}
	var err error
	if d.Files, err = fileChanges(old.FS(), new.FS()); err != nil {
		return nil, nil, err
	}
	d.Rules = ruleChanges(old, new, d.Files)
	oldSuites, err := loadSuites(old)
	if err != nil {
		return nil, nil, err
	}
	newSuites, err := loadSuites(new)
	if err != nil {
		return nil, nil, err
	}
	d.Tests = testChanges(oldSuites, newSuites)
	return d, newSuites, nil
}

func (s *Store) reevaluate(ctx context.Context, d *Diff, old, new *ruleset.RuleSet, newSuites []*suite.Suite, opts DiffOptions) error {
	keys, err := s.Keys()
	if errors.Is(err, ErrNoKeys) {
		// A registry of rule sets only: no certificate to re-evaluate,
		// unless some are stored (then their keys are missing).
		if ents, _ := os.ReadDir(filepath.Join(s.Dir, CertificatesDir)); len(ents) == 0 {
			return nil
		}
	}
	if err != nil {
		return err
	}
	v := cert.NewVerifier(keys, opts.VerifyOptions...)
	list, _, err := s.Revocations(v)
	if err != nil {
		return err
	}
	if list != nil {
		d.RevocationsChecked = true
		v = cert.NewVerifier(keys, append(append([]cert.Option{}, opts.VerifyOptions...), cert.WithRevocations(list))...)
	}
	entries, err := s.List(v)
	if err != nil {
		// A damaged entry could be a certificate that would be lost: the
		// answer would be incomplete, so there is none.
		return err
	}
	var current []Entry
	for _, e := range entries {
		p := e.Result.Payload
		if p == nil || p.RuleSet.ID != old.Manifest.ID {
			continue
		}
		if !e.Result.Valid() {
			d.NotCurrent = append(d.NotCurrent, NotCurrent{e.ID, e.Result.Status, e.Result.Detail})
			continue
		}
		current = append(current, e)
	}
	if len(current) == 0 {
		return nil
	}

	eng, err := policy.Compile(ctx, new.Modules)
	if err != nil {
		return fmt.Errorf("%s: compiling the policies: %w", new.Name, err)
	}
	runner := &suite.Runner{Engine: eng}
	needValidator := false
	for _, st := range newSuites {
		for _, g := range st.Groups {
			for _, t := range g.Tests {
				needValidator = needValidator || t.Validate
			}
		}
	}
	var validatorErr error
	if needValidator && opts.Validator != nil {
		runner.Validator, validatorErr = opts.Validator(new)
	}
	for _, e := range current {
		p := e.Result.Payload
		ci := CertImpact{ID: e.ID, App: p.App, Vendor: p.Vendor, Suite: p.Suite, RuleSet: p.RuleSet}
		st := findSuite(newSuites, p.Suite.ID)
		if st == nil {
			ci.Verdict = Loses
			ci.Reason = fmt.Sprintf("%s %s has no suite %s", new.Manifest.ID, new.Manifest.Version, p.Suite.ID)
			d.Certificates = append(d.Certificates, ci)
			continue
		}
		rec, err := s.Evidence(&e)
		if err != nil {
			return err
		}
		res := runner.Run(ctx, st, rec)
		for _, t := range res.Tests() {
			if t.Optional || (t.Outcome != suite.Fail && t.Outcome != suite.Skip && t.Outcome != suite.Error) {
				continue
			}
			ci.Failures = append(ci.Failures, Failure{Test: t.ID, Outcome: t.Outcome, Message: t.Message, Findings: t.Findings})
		}
		switch res.Outcome {
		case suite.Pass:
			ci.Verdict = Keeps
		case suite.Error:
			ci.Verdict = Undetermined
			ci.Reason = "the suite could not run every test on the evidence"
			if validatorErr != nil {
				ci.Reason += ": no FHIR validator: " + validatorErr.Error()
			}
		default:
			ci.Verdict = Loses
			ci.Reason = fmt.Sprintf("suite %s %s: %s", st.ID, st.Version, res.Outcome)
		}
		d.Certificates = append(d.Certificates, ci)
	}
	return nil
}

func findSuite(ss []*suite.Suite, id string) *suite.Suite {
	for _, s := range ss {
		if s.ID == id {
			return s
		}
	}
	return nil
}

func loadSuites(rs *ruleset.RuleSet) ([]*suite.Suite, error) {
	var out []*suite.Suite
	for _, name := range rs.Manifest.Suites {
		s, err := suite.Load(rs.FS(), name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rs.Name, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func fileDigests(fsys fs.FS) (map[string]string, error) {
	out := map[string]string{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		h := sha256.Sum256(b)
		out[p] = "sha256:" + hex.EncodeToString(h[:])
		return nil
	})
	return out, err
}

func fileChanges(oldFS, newFS fs.FS) ([]FileChange, error) {
	a, err := fileDigests(oldFS)
	if err != nil {
		return nil, err
	}
	b, err := fileDigests(newFS)
	if err != nil {
		return nil, err
	}
	out := []FileChange{}
	for p, da := range a {
		switch db, ok := b[p]; {
		case !ok:
			out = append(out, FileChange{Path: p, Change: Removed, Old: da})
		case da != db:
			out = append(out, FileChange{Path: p, Change: Changed, Old: da, New: db})
		}
	}
	for p, db := range b {
		if _, ok := a[p]; !ok {
			out = append(out, FileChange{Path: p, Change: Added, New: db})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// ruleChanges compares rules by id: their metadata, and whether the policy
// file that holds them changed (a body change shows there; OPA keeps no
// per-rule source to compare more finely).
func ruleChanges(old, new *ruleset.RuleSet, files []FileChange) []ItemChange {
	changedFile := map[string]bool{}
	for _, f := range files {
		if f.Change == Changed {
			changedFile[f.Path] = true
		}
	}
	a, b := map[string]policy.Rule{}, map[string]policy.Rule{}
	for _, r := range old.Rules {
		a[r.ID] = r
	}
	for _, r := range new.Rules {
		b[r.ID] = r
	}
	out := []ItemChange{}
	for id, ra := range a {
		rb, ok := b[id]
		if !ok {
			out = append(out, ItemChange{ID: id, Change: Removed, Detail: ra.File})
			continue
		}
		var what []string
		field := func(name, x, y string) {
			if x != y {
				what = append(what, name)
			}
		}
		field("title", ra.Title, rb.Title)
		field("description", ra.Description, rb.Description)
		field("severity", ra.Severity.String(), rb.Severity.String())
		field("requirement", ra.Requirement, rb.Requirement)
		field("source", ra.Source, rb.Source)
		field("fix", ra.Fix.NB+"\x00"+ra.Fix.EN, rb.Fix.NB+"\x00"+rb.Fix.EN)
		field("package", ra.Package+"."+ra.Name, rb.Package+"."+rb.Name)
		switch {
		case ra.File != rb.File:
			what = append(what, "moved from "+ra.File+" to "+rb.File)
		case changedFile[rb.File] && ruleText(old, ra) != ruleText(new, rb):
			what = append(what, "its Rego in "+rb.File+" changed")
		case changedFile[rb.File]:
			// Shared helpers may have changed under it.
			what = append(what, "other Rego in its file "+rb.File+" changed")
		}
		if len(what) > 0 {
			out = append(out, ItemChange{ID: id, Change: Changed, Detail: strings.Join(what, "; ")})
		}
	}
	for id, rb := range b {
		if _, ok := a[id]; !ok {
			out = append(out, ItemChange{ID: id, Change: Added, Detail: rb.File})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// ruleText is the Rego of a rule as written: from its head to the head of
// the next rule with metadata in the same file (so every definition of a
// partial set), comments and blank lines left out so that a neighbour's
// METADATA does not count as this rule's change. OPA keeps no source per
// rule; this is the closest stable reading.
func ruleText(rs *ruleset.RuleSet, r policy.Rule) string {
	b, err := fs.ReadFile(rs.FS(), r.File)
	if err != nil {
		return ""
	}
	next := 0
	for _, o := range rs.Rules {
		if o.File == r.File && o.Line > r.Line && (next == 0 || o.Line < next) {
			next = o.Line
		}
	}
	lines := strings.Split(string(b), "\n")
	end := len(lines)
	if next > 0 && next-1 < end {
		end = next - 1
	}
	var out []string
	for i := r.Line - 1; i >= 0 && i < end; i++ {
		if t := strings.TrimSpace(lines[i]); t != "" && !strings.HasPrefix(t, "#") {
			out = append(out, t)
		}
	}
	return strings.Join(out, "\n")
}

// testChanges compares suite tests by suite id and test id: each part of
// the definition, and the effective optionality (a group's counts).
func testChanges(old, new []*suite.Suite) []ItemChange {
	type parts map[string]string
	index := func(ss []*suite.Suite) map[string]parts {
		out := map[string]parts{}
		for _, s := range ss {
			for _, g := range s.Groups {
				for _, t := range g.Tests {
					j := func(v any) string { b, _ := json.Marshal(v); return string(b) }
					out[s.ID+"/"+t.ID] = parts{
						"title": t.Title, "optional": j(t.Optional || g.Optional), "requirements": j(t.Requirements),
						"inputs": j(t.Inputs), "rules": j(t.Rules), "validate": j(t.Validate), "group": g.ID,
					}
				}
			}
		}
		return out
	}
	a, b := index(old), index(new)
	out := []ItemChange{}
	for id, ta := range a {
		tb, ok := b[id]
		if !ok {
			out = append(out, ItemChange{ID: id, Change: Removed})
			continue
		}
		var what []string
		for _, k := range []string{"group", "title", "optional", "requirements", "inputs", "rules", "validate"} {
			if ta[k] != tb[k] {
				what = append(what, k)
			}
		}
		if len(what) > 0 {
			out = append(out, ItemChange{ID: id, Change: Changed, Detail: strings.Join(what, ", ")})
		}
	}
	for id := range b {
		if _, ok := a[id]; !ok {
			out = append(out, ItemChange{ID: id, Change: Added})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
