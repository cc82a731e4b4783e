// Package validator is the conformance engine as a library: hand it FHIR R4
// JSON, get back every finding with its location. It has no server and no
// database; sandbox/ and cmd/ wrap it.
//
// A validation runs in passes over one typed tree: fhirjson parses with
// positions, structure walks the definitions and builds the tree, then the
// invariant, terminology and reference passes work on the sites structure
// handed back.
package validator

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sandkasse/sandkasse/validator/binding"
	"github.com/sandkasse/sandkasse/validator/datatype"
	"github.com/sandkasse/sandkasse/validator/derivation"
	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/extension"
	"github.com/sandkasse/sandkasse/validator/fhirjson"
	"github.com/sandkasse/sandkasse/validator/identifier"
	"github.com/sandkasse/sandkasse/validator/invariant"
	"github.com/sandkasse/sandkasse/validator/issue"
	"github.com/sandkasse/sandkasse/validator/measure"
	"github.com/sandkasse/sandkasse/validator/narrative"
	"github.com/sandkasse/sandkasse/validator/profile"
	"github.com/sandkasse/sandkasse/validator/questionnaire"
	"github.com/sandkasse/sandkasse/validator/reference"
	"github.com/sandkasse/sandkasse/validator/searchparam"
	"github.com/sandkasse/sandkasse/validator/spec"
	"github.com/sandkasse/sandkasse/validator/spec/r4"
	"github.com/sandkasse/sandkasse/validator/structure"
	"github.com/sandkasse/sandkasse/validator/terminology"
)

// Result is the outcome for one resource document.
type Result struct {
	ResourceType string
	Issues       issue.List
}

// Valid reports whether the resource has no error or fatal finding.
func (r Result) Valid() bool { return !r.Issues.HasErrors() }

// Options configure a Validator.
type Options struct {
	Limits fhirjson.Limits
	// MaxElements bounds the typed tree of one document and
	// MaxBundleEntries the entries of a Bundle (0: the structure package's
	// defaults).
	MaxElements, MaxBundleEntries int
	// Registry holds the conformance resources; nil means the embedded R4
	// core alone.
	Registry *spec.Registry
	// SecurityChecks refuses strings that look like HTML; NoHTMLInMarkdown
	// refuses markdown with HTML tags.
	SecurityChecks, NoHTMLInMarkdown bool
	// Identifiers is the policy for Norwegian identifier checks (the zero
	// value checks them and reports errors).
	Identifiers identifier.Policy
	// Timeout bounds the validation of one document (0: DefaultTimeout;
	// negative: only the caller's context).
	Timeout time.Duration
	// Load lists files, directories and package .tgz files of conformance
	// resources to add to the registry.
	Load []string
	// Profiles are canonical URLs the root resource is also validated
	// against (besides the profiles each resource declares in meta.profile).
	Profiles []string
	// MustSupport reports missing must-support elements of profiles as
	// information (off by default).
	MustSupport bool
}

// Validator validates resources. It is safe for concurrent use.
type Validator struct {
	opts  Options
	reg   *spec.Registry
	term  *terminology.Service
	forms *canonicals
	prof  *profile.Validator
	hints binding.Hints
}

// New returns a Validator.
func New(opts Options) (*Validator, error) {
	reg := opts.Registry
	if reg == nil {
		reg = r4.NewRegistry()
	}
	var errs []error
	for _, p := range opts.Load {
		if err := reg.Load(p); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	term := terminology.New(reg)
	return &Validator{opts: opts, reg: reg, term: term, forms: &canonicals{reg: reg},
		prof: profile.New(reg, term, profile.Options{MustSupport: opts.MustSupport})}, nil
}

// Registry returns the definitions the validator uses.
func (v *Validator) Registry() *spec.Registry { return v.reg }

type scratch struct {
	json fhirjson.Arena
	tree structure.Arena
	refs []reference.Site
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// DefaultTimeout is far above what any real resource needs (a 50 MB
// Binary takes a few seconds) and stops a pathological one from holding a
// worker for ever.
const DefaultTimeout = 60 * time.Second

// Validate checks one JSON document holding one resource.
func (v *Validator) Validate(ctx context.Context, data []byte) Result {
	// The time allowed ends at the earlier of the caller's deadline and
	// the Timeout. It is checked where the work can run long (invariants)
	// and once at the end, so no timer is needed.
	deadline, _ := ctx.Deadline()
	if t := v.opts.Timeout; t >= 0 {
		if t == 0 {
			t = DefaultTimeout
		}
		if d := time.Now().Add(t); deadline.IsZero() || d.Before(deadline) {
			deadline = d
		}
	}
	// The document's tree lives in memory reused from earlier validations;
	// nothing of it outlives this call (the Result holds only strings).
	sc := scratchPool.Get().(*scratch)
	defer func() {
		sc.json.Release()
		sc.tree.Release()
		clear(sc.refs)
		sc.refs = sc.refs[:0]
		if cap(sc.refs) > 1<<14 {
			sc.refs = nil
		}
		scratchPool.Put(sc)
	}()
	doc, err := fhirjson.ParseIn(data, v.opts.Limits, &sc.json)
	if err != nil {
		var se *fhirjson.SyntaxError
		if errors.As(err, &se) {
			return Result{Issues: issue.List{{Severity: issue.Fatal, Code: se.Code, Type: "structure",
				Expression: se.Path, Line: se.Line, Column: se.Column, Message: se.Message}}}
		}
		return Result{Issues: issue.List{{Severity: issue.Fatal, Code: "json-syntax", Type: "structure", Message: err.Error()}}}
	}
	rt := ""
	if doc.Root.Kind == fhirjson.Object {
		if n := doc.Root.Get("resourceType"); n != nil && n.Kind == fhirjson.String {
			rt = n.Str
		}
	}
	st := structure.BuildIn(doc, v.reg, structure.Limits{MaxElements: v.opts.MaxElements, MaxBundleEntries: v.opts.MaxBundleEntries,
		SecurityChecks: v.opts.SecurityChecks, NoHTMLInMarkdown: v.opts.NoHTMLInMarkdown}, &sc.tree)
	issues := st.Issues
	at := func(e *element.Element) (int, int) {
		if e == nil || e.Node == nil {
			return 0, 0
		}
		return doc.Position(e.Node.Off)
	}
	refs := sc.refs
	defer func() { sc.refs = refs }()
	var defs map[*element.Element]*spec.ElementDefinition // host definitions, built when an extension needs one
	for _, s := range st.Sites {
		switch s.Elem.Type {
		case "Extension":
			if defs == nil {
				defs = extensionHosts(st.Sites)
			}
			issues = append(issues, extension.Check(s.Elem, defs[s.Elem.Parent], v.reg, at)...)
		case "Reference":
			if s.Def != nil {
				refs = append(refs, reference.Site{Elem: s.Elem, Types: s.Def.Type})
			}
		}
		issues = append(issues, datatype.Check(s.Elem, at)...)
		if s.Elem.Type == "Identifier" {
			issues = append(issues, identifier.Check(s.Elem, v.opts.Identifiers, at)...)
		}
		if s.Elem.Type == "Coding" || (s.Def != nil && s.Def.Binding != nil) {
			issues = append(issues, binding.CheckHints(s.Elem, s.Def, v.term, at, &v.hints)...)
		}
	}
	issues = append(issues, reference.Check(refs, st.Resources, v.reg, at)...)
	issues = append(issues, invariant.Check(st.Sites, invariant.Options{Model: v.reg, Deadline: deadline}, at)...)
	if ctx.Err() != nil || (!deadline.IsZero() && !time.Now().Before(deadline)) {
		// The caller's time ran out: say so instead of returning a
		// partial answer that looks complete.
		issues = append(issues, issue.Issue{Severity: issue.Fatal, Code: "validation-timeout", Type: "too-costly",
			Message: "validation did not finish within the time allowed; the findings are incomplete"})
		sortIssues(issues)
		return detach(doc, Result{ResourceType: rt, Issues: issues})
	}
	issues = append(issues, v.prof.CheckDocument(st.Root, st.Resources, v.opts.Profiles, profile.Locate(at))...)
	links := narrative.Links{Root: st.Root}
	for _, r := range st.Resources {
		issues = append(issues, links.Check(r, at)...)
		switch r.Type {
		case "QuestionnaireResponse":
			issues = append(issues, questionnaire.CheckWith(r, questionnaire.Options{
				Resolver: v.forms, Terminology: answerTerms{v.term}, Registry: v.reg, Pos: at})...)
		case "Questionnaire":
			issues = append(issues, questionnaire.CheckQuestionnaire(r, at)...)
		case "MeasureReport":
			issues = append(issues, measure.CheckReport(r, v.reg, at)...)
		case "StructureDefinition":
			issues = append(issues, derivation.CheckFixedValues(r, v.reg, at)...)
		case "SearchParameter":
			issues = append(issues, searchparam.CheckSearchParameter(r, v.reg, at)...)
		case "CapabilityStatement":
			issues = append(issues, searchparam.CheckCapabilityStatement(r, v.reg, at)...)
		}
	}
	sortIssues(issues)
	return detach(doc, Result{ResourceType: rt, Issues: issues})
}

// detach clones the strings of r that share the document's memory, which
// the next validation reuses: a finding may name a member or quote a code
// as the parser read it.
func detach(doc *fhirjson.Doc, r Result) Result {
	own := func(s *string) {
		if doc.Owns(*s) {
			*s = strings.Clone(*s)
		}
	}
	own(&r.ResourceType)
	for i := range r.Issues {
		is := &r.Issues[i]
		own(&is.Code)
		own(&is.Expression)
		own(&is.Message)
		own(&is.Fix)
		own(&is.RuleID)
		own(&is.Type)
	}
	return r
}

// extensionHosts maps the elements that hold extensions to the definitions
// they were validated against (every such element is a site).
func extensionHosts(sites []structure.Site) map[*element.Element]*spec.ElementDefinition {
	defs := map[*element.Element]*spec.ElementDefinition{}
	for _, s := range sites {
		if s.Elem.Type == "Extension" {
			defs[s.Elem.Parent] = nil
		}
	}
	for _, s := range sites {
		if _, ok := defs[s.Elem]; ok {
			defs[s.Elem] = s.Def
		}
	}
	return defs
}

// sortIssues orders findings by position so that reports read top to bottom
// and are stable from run to run.
func sortIssues(l issue.List) {
	sort.SliceStable(l, func(i, j int) bool {
		if l[i].Line != l[j].Line {
			return l[i].Line < l[j].Line
		}
		return l[i].Column < l[j].Column
	})
}
