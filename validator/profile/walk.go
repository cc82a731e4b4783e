package profile

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/sandkasse/sandkasse/validator/binding"
	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/fhirpath"
	"github.com/sandkasse/sandkasse/validator/issue"
	"github.com/sandkasse/sandkasse/validator/spec"
)

type walker struct {
	v     *Validator
	at    Locate
	out   issue.List
	depth int
	// conform caches "does element conform to profile" answers of nested
	// validations (type and target profiles, profile discriminators).
	conform map[conformKey]bool
	// mustSupport remembers reported must-support gaps (per resource and
	// element id) so each is reported once.
	mustSupport map[string]bool
	// reported remembers profile defects already reported.
	reported map[string]bool
	// quiet > 0 while validating only to learn whether something conforms.
	quiet int
	env   fhirpath.Env
}

type conformKey struct {
	e   *element.Element
	url string
}

func (v *Validator) newWalker(at Locate) *walker {
	if at == nil {
		at = func(*element.Element) (int, int) { return 0, 0 }
	}
	w := &walker{v: v, at: at, conform: map[conformKey]bool{}}
	w.env.Model = v.reg
	return w
}

func (w *walker) add(e *element.Element, sev issue.Severity, code, typ, msg, fix, rule string) {
	l, c := w.at(e)
	w.out = append(w.out, issue.Issue{Severity: sev, Code: code, Type: typ, Expression: e.Path(),
		Line: l, Column: c, Message: msg, Fix: fix, RuleID: rule})
}

// validate checks element e against the profile element n (and, below it,
// e's children against n's children).
func (w *walker) validate(e *element.Element, n *spec.ElementNode, c *ctx) {
	d := n.Def
	if !w.checkType(e, n, c) {
		return // the wrong type: its value and children mean nothing here
	}
	w.checkValues(e, d, c)
	w.checkBinding(e, d, c)
	w.checkConstraints(e, n, c)
	if len(n.Children) == 0 {
		return
	}
	// Children in the instance, by the profile element they match.
	var whichBuf [32]int
	which := whichBuf[:0]
	if len(e.Children) > len(whichBuf) {
		which = make([]int, 0, len(e.Children))
	}
	for _, ch := range e.Children {
		which = append(which, childIndex(n, ch))
	}
	for i, cn := range n.Children {
		var items []*element.Element
		for j, ch := range e.Children {
			if which[j] == i {
				items = append(items, ch)
			}
		}
		if len(cn.Slices) > 0 || (cn.Def.Slicing != nil && len(items) > 0) {
			w.slicing(e, cn, items, c)
			continue
		}
		w.cardinality(e, cn, len(items), c)
		if len(items) == 0 {
			w.mustSupportGap(e, cn, c)
		}
		for _, it := range items {
			w.validate(it, cn, c)
		}
	}
}

// childIndex finds the profile child an instance child belongs to.
func childIndex(n *spec.ElementNode, ch *element.Element) int {
	for i, cn := range n.Children {
		name := cn.Name
		if name == ch.Name {
			return i
		}
		if strings.HasSuffix(name, "[x]") {
			if name[:len(name)-3] == ch.Name {
				return i
			}
		} else if ch.Choice && strings.HasPrefix(name, ch.Name) && name == ch.Name+upperFirst(ch.Type) {
			return i // a snapshot that names the choice by its type
		}
	}
	return -1
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func minOf(d *spec.ElementDefinition) int {
	if d.Min == nil {
		return 0
	}
	return *d.Min
}

// maxOf returns the max, -1 for unbounded.
func maxOf(s string) int {
	if s == "" || s == "*" {
		return -1
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

// cardinality reports counts outside what the profile allows, where the
// profile is stricter than the base definition (base validation reports the
// rest).
func (w *walker) cardinality(parent *element.Element, n *spec.ElementNode, count int, c *ctx) {
	d := n.Def
	min, max := minOf(d), maxOf(d.Max)
	baseMin, baseMax := 0, -1
	if d.Base != nil && n.SliceOf == nil {
		baseMin, baseMax = d.Base.Min, maxOf(d.Base.Max)
	}
	name := elementName(d)
	if count < min && min > baseMin {
		w.add(parent, issue.Error, "profile-cardinality-min", "structure",
			fmt.Sprintf("%s: minimum required = %d, but only found %d%s", name, min, count, c.from()),
			"add the element '"+lastSegment(d.Path)+"' the profile requires", c.url)
	}
	if max >= 0 && count > max && (baseMax < 0 || max < baseMax) {
		w.add(parent, issue.Error, "profile-cardinality-max", "structure",
			fmt.Sprintf("%s: max allowed = %d, but found %d%s", name, max, count, c.from()),
			"remove the extra occurrences", c.url)
	}
}

// elementName is the element id when it names a slice, else the path.
func elementName(d *spec.ElementDefinition) string {
	if d.ID != "" && strings.Contains(d.ID, ":") {
		return d.ID
	}
	return d.Path
}

func lastSegment(p string) string {
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[i+1:]
	}
	return p
}

func (w *walker) mustSupportGap(parent *element.Element, n *spec.ElementNode, c *ctx) {
	if !w.v.opts.MustSupport || !n.Def.MustSupport {
		return
	}
	if w.mustSupport == nil {
		w.mustSupport = map[string]bool{}
	}
	key := parent.Resource().Path() + "|" + c.url + "|" + n.Def.ID
	if w.mustSupport[key] {
		return
	}
	w.mustSupport[key] = true
	w.add(parent, issue.Information, "profile-must-support", "informational",
		fmt.Sprintf("the must-support element %s is not present%s", elementName(n.Def), c.from()),
		"check that the sending system populates it when the data is known", c.url)
}

func (w *walker) typeMatches(instance, code string) bool {
	if instance == code {
		return true
	}
	if code == "Reference" || instance == "Reference" || isPrimitiveCode(code) != isPrimitiveCode(instance) && code != "Element" {
		return false
	}
	return code == "Element" || code == "*" || (code == "Resource" || code == "DomainResource") && w.v.reg.IsResource(instance) ||
		w.v.reg.IsSubtype(instance, code)
}

func isPrimitiveCode(c string) bool { return c != "" && c[0] >= 'a' && c[0] <= 'z' }

// checkType checks the instance type against the profile's types, then the
// type profiles (profile) and, for references, the target profiles.
func (w *walker) checkType(e *element.Element, n *spec.ElementNode, c *ctx) bool {
	d := n.Def
	if len(d.Type) == 0 || n.Parent == nil {
		return true
	}
	matched, withProfiles, withTargets := false, false, false
	for i := range d.Type {
		t := &d.Type[i]
		if w.typeMatches(e.Type, t.FHIRType()) {
			matched = true
			withProfiles = withProfiles || len(t.Profile) > 0
			withTargets = withTargets || len(t.TargetProfile) > 0 || len(t.Aggregation) > 0
		}
	}
	if !matched {
		if e.Choice || e.IsResource {
			var codes []string
			for _, t := range d.Type {
				codes = append(codes, t.FHIRType())
			}
			w.add(e, issue.Error, "profile-type", "structure",
				fmt.Sprintf("the profile allows the type %s here, but found type %s%s", strings.Join(codes, " or "), e.Type, c.from()),
				"use one of the allowed types", c.url)
			return false
		}
		return true
	}
	if !withProfiles && !(withTargets && e.Type == "Reference") {
		return true
	}
	var profiles, targets, aggregation []string
	for _, t := range d.Type {
		if w.typeMatches(e.Type, t.FHIRType()) {
			profiles = append(profiles, t.Profile...)
			targets = append(targets, t.TargetProfile...)
			aggregation = append(aggregation, t.Aggregation...)
		}
	}
	if len(profiles) > 0 {
		w.checkTypeProfiles(e, profiles, c)
	}
	if e.Type == "Reference" && len(aggregation) > 0 {
		if !w.checkAggregation(e, aggregation, c) {
			return true
		}
	}
	if e.Type == "Reference" && len(targets) > 0 {
		w.checkTargets(e, targets, c)
	}
	return true
}

// checkAggregation checks the aggregation modes of a reference: with only
// contained and/or bundled allowed, the reference must resolve within the
// resource or Bundle. It reports whether the reference may be followed.
func (w *walker) checkAggregation(e *element.Element, modes []string, c *ctx) bool {
	allowed := map[string]bool{}
	for _, m := range modes {
		allowed[m] = true
	}
	if allowed["referenced"] {
		return true
	}
	ref := e.First("reference")
	if ref == nil || !ref.HasValue {
		return true // a logical (identifier) reference: nothing to resolve
	}
	target := w.resolve(e)
	contained := strings.HasPrefix(ref.Value, "#")
	switch {
	case target == nil:
		where := "within the bundle or resource"
		if !allowed["bundled"] {
			where = "among the contained resources"
		}
		w.add(e, issue.Error, "profile-aggregation", "structure",
			fmt.Sprintf("the profile requires the reference to be resolved %s (aggregation %s), but it is not found there%s",
				where, strings.Join(modes, ", "), c.from()),
			"include the referenced resource in the Bundle (or contain it), or correct the reference", c.url)
		return false
	case contained && !allowed["contained"], !contained && !allowed["bundled"]:
		w.add(e, issue.Error, "profile-aggregation", "structure",
			fmt.Sprintf("the profile allows only %s references here%s", strings.Join(modes, ", "), c.from()),
			"change how the resource is included", c.url)
	}
	return true
}

// checkTypeProfiles validates e against the profiles its type must
// conform to (one of them).
func (w *walker) checkTypeProfiles(e *element.Element, profiles []string, c *ctx) {
	var todo []string
	for _, p := range profiles {
		if isCoreTypeURL(p, e.Type) {
			return // conforming to the core type is enough
		}
		if e.Type == "Extension" {
			// An extension conforms to the profile its url names; a slice
			// on url put it here, so validate it against that profile.
			if u := e.First("url"); u != nil && u.HasValue && stripVersion(p) != u.Value {
				continue
			}
		}
		todo = append(todo, p)
	}
	if len(todo) == 0 {
		return
	}
	if len(todo) == 1 {
		w.nested(e, todo[0], c)
		return
	}
	for _, p := range todo {
		if w.conforms(e, p) {
			return
		}
	}
	w.add(e, issue.Error, "profile-type-profile", "structure",
		fmt.Sprintf("the element does not conform to any of the profiles %s%s", strings.Join(todo, ", "), c.from()),
		"make the element conform to one of the profiles", c.url)
}

// nested validates e against another profile and reports its findings.
func (w *walker) nested(e *element.Element, url string, c *ctx) {
	if w.depth >= w.v.opts.MaxDepth {
		return
	}
	w.depth++
	defer func() { w.depth-- }()
	cp := w.v.compile(stripVersion(url))
	if cp.err != nil {
		if e.Type == "Extension" && w.v.reg.StructureDefinition(stripVersion(url)) == nil {
			return // the extension pass reports an unknown extension
		}
		w.add(e, issue.Error, "profile-not-found", "processing",
			fmt.Sprintf("the profile %s that this element must conform to could not be used: %v%s", url, cp.err, c.from()),
			"load the package that defines the profile", url)
		return
	}
	w.validate(e, cp.x.Root, &ctx{url: url, sd: cp.sd})
}

// conforms validates e against the profile quietly and reports whether it
// had no errors.
func (w *walker) conforms(e *element.Element, url string) bool {
	k := conformKey{e, url}
	if r, ok := w.conform[k]; ok {
		return r
	}
	if w.depth >= w.v.opts.MaxDepth {
		return false
	}
	cp := w.v.compile(stripVersion(url))
	if cp.err != nil {
		w.conform[k] = false
		return false
	}
	w.conform[k] = true // assume conformance while checking (cycles)
	saved := w.out
	w.out = nil
	w.depth++
	w.quiet++
	defer func() { w.quiet-- }()
	if e.IsResource && cp.sd.Type != e.Type && !w.v.reg.IsSubtype(e.Type, cp.sd.Type) {
		w.out = issue.List{{Severity: issue.Error}}
	} else {
		w.validate(e, cp.x.Root, &ctx{url: url, sd: cp.sd})
	}
	w.depth--
	ok := !w.out.HasErrors()
	w.out = saved
	w.conform[k] = ok
	return ok
}

var resolveExpr = fhirpath.MustCompile("resolve()")

// resolve finds the resource a Reference element points at within the
// document (contained resources, Bundle entries), or nil.
func (w *walker) resolve(ref *element.Element) *element.Element {
	r, err := resolveExpr.Evaluate(&w.env, fhirpath.Collection{ref})
	if err != nil || len(r) != 1 {
		return nil
	}
	if x, ok := r[0].(*element.Element); ok && x.IsResource {
		return x
	}
	return nil
}

// checkTargets checks that a reference that resolves within the document
// points at a resource conforming to one of the target profiles. Core
// resource types as targets are the reference pass's business.
func (w *walker) checkTargets(e *element.Element, targets []string, c *ctx) {
	var profiles []string
	for _, t := range targets {
		u := stripVersion(t)
		if strings.HasPrefix(u, spec.CoreBase) {
			if ti, ok := w.v.reg.TypeInfo(u); ok && ti.Derivation != "constraint" {
				continue
			}
		}
		profiles = append(profiles, t)
	}
	if len(profiles) == 0 {
		return
	}
	target := w.resolve(e)
	if target == nil {
		return
	}
	var unknown []string
	for _, p := range profiles {
		if w.v.reg.StructureDefinition(stripVersion(p)) == nil {
			unknown = append(unknown, p)
			continue
		}
		if w.conforms(target, p) {
			return
		}
	}
	if len(unknown) == len(profiles) {
		w.add(e, issue.Error, "profile-target-unknown", "processing",
			fmt.Sprintf("unable to resolve the target profile %s%s", strings.Join(unknown, ", "), c.from()),
			"load the package that defines the target profile", c.url)
		return
	}
	w.add(e, issue.Error, "profile-target", "structure",
		fmt.Sprintf("the referenced %s does not conform to the target profile %s%s", target.Type, strings.Join(profiles, " or "), c.from()),
		"point the reference at a resource that conforms to the profile", c.url)
}

// baseDef returns the core definition an element derives from (by its
// base path), or nil.
func (v *Validator) baseDef(d *spec.ElementDefinition) *spec.ElementDefinition {
	if x, ok := v.bases.Load(d); ok {
		return x.(*spec.ElementDefinition)
	}
	var out *spec.ElementDefinition
	if d.Base != nil && d.Base.Path != "" {
		typ, _, _ := strings.Cut(d.Base.Path, ".")
		if sd := v.reg.Type(typ); sd != nil {
			if x, err := v.reg.Elements(sd); err == nil {
				if n := x.ByPath(d.Base.Path); n != nil {
					out = n.Def
				}
			}
		}
	}
	v.bases.Store(d, out)
	return out
}

// checkBinding checks a binding the profile sets or changes; bindings of
// the base definition are checked by the binding pass.
func (w *walker) checkBinding(e *element.Element, d *spec.ElementDefinition, c *ctx) {
	b := d.Binding
	if b == nil || b.ValueSet == "" || (b.Strength != "required" && b.Strength != "extensible") {
		return
	}
	if base := w.v.baseDef(d); base != nil && base.Binding != nil &&
		stripVersion(base.Binding.ValueSet) == stripVersion(b.ValueSet) && base.Binding.Strength == b.Strength {
		return
	}
	switch e.Type {
	case "code", "Coding", "CodeableConcept", "Quantity", "string", "uri":
	default:
		return
	}
	for _, is := range binding.Check(e, &spec.ElementDefinition{Binding: b}, w.v.term, binding.Locate(w.at)) {
		if e.Type == "Coding" && is.Code != "" && strings.HasPrefix(is.Code, "code-") && is.RuleID != "" && is.RuleID != b.ValueSet {
			// binding.Check also checks the Coding against its own code
			// system, which the base pass has done already.
			if !strings.Contains(is.Message, b.ValueSet) {
				continue
			}
		}
		is.Message += c.from()
		if is.RuleID == "" {
			is.RuleID = c.url
		}
		w.out = append(w.out, is)
	}
}

type compiledExpr struct {
	expr *fhirpath.Expr
	err  error
}

var exprCache sync.Map // source -> *compiledExpr

func compileExpr(src string) *compiledExpr {
	if x, ok := exprCache.Load(src); ok {
		return x.(*compiledExpr)
	}
	src = strings.Clone(src) // the compiled expression keeps parts of its source
	e, err := fhirpath.Compile(src)
	x, _ := exprCache.LoadOrStore(src, &compiledExpr{e, err})
	return x.(*compiledExpr)
}

// checkConstraints evaluates the constraints the profile adds (keys the
// base definition does not have).
func (w *walker) checkConstraints(e *element.Element, n *spec.ElementNode, c *ctx) {
	d := n.Def
	if len(d.Constraint) == 0 {
		return
	}
	base := w.v.baseDef(d)
	for i := range d.Constraint {
		k := &d.Constraint[i]
		if k.Expression == "" || k.Key == "ele-1" || base.HasConstraint(k.Key) {
			continue
		}
		if base == nil && strings.HasPrefix(k.Source, spec.CoreBase) && !isCoreProfileSource(w.v.reg, k.Source) {
			continue // inherited from a core type, which the base passes evaluate
		}
		cx := compileExpr(k.Expression)
		if cx.err != nil {
			w.add(e, issue.Warning, "profile-constraint-unsupported", "processing",
				fmt.Sprintf("the constraint %s could not be compiled, so it was not checked: %v%s", k.Key, cx.err, c.from()), "", k.Key)
			continue
		}
		w.env.Context = e
		if e.IsResource && e.Parent != nil && n.Parent != nil {
			// A constraint on Patient.contained sees the container as
			// %resource: the element belongs to the container's definition.
			w.env.Resource = e.Parent.Resource()
			w.env.RootResource = w.env.Resource
			if r := w.env.Resource; r.Parent != nil && r.Name == "contained" {
				w.env.RootResource = r.Parent.Resource()
			}
		}
		r, err := cx.expr.EvalTri(&w.env, fhirpath.Collection{e})
		w.env.Context, w.env.Resource, w.env.RootResource = nil, nil, nil
		if err != nil {
			code := "profile-constraint-error"
			if errors.Is(err, fhirpath.ErrLimit) {
				code = "profile-constraint-limit"
			}
			w.add(e, issue.Warning, code, "processing",
				fmt.Sprintf("the constraint %s could not be evaluated, so it was not checked: %v%s", k.Key, err, c.from()), "", k.Key)
			continue
		}
		if r != fhirpath.False {
			continue
		}
		sev := issue.Error
		if k.Severity == "warning" {
			sev = issue.Warning
		}
		w.add(e, sev, k.Key, "invariant", fmt.Sprintf("Constraint failed: %s: '%s'%s", k.Key, k.Human, c.from()),
			"", k.Key)
	}
}

// isCoreProfileSource reports whether a constraint's source is a core
// constraint profile (vital signs and the like), whose constraints the base
// passes do not evaluate.
func isCoreProfileSource(reg *spec.Registry, src string) bool {
	ti, ok := reg.TypeInfo(stripVersion(src))
	return ok && ti.Derivation == "constraint"
}
