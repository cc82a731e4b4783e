// Package invariant evaluates the FHIRPath constraints of the definitions
// on the elements they apply to. Expressions are compiled once per process
// and shared by every validation.
package invariant

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/fhirpath"
	"github.com/sandkasse/sandkasse/validator/issue"
	"github.com/sandkasse/sandkasse/validator/spec"
	"github.com/sandkasse/sandkasse/validator/structure"
)

// Locate gives the line and column of an element.
type Locate func(*element.Element) (line, col int)

// native lists the constraints checked in Go by the structure pass, with
// the same meaning: ele-1 sits on every element and would dominate the run
// time, and the narrative rules are htmlChecks(), which FHIRPath leaves to
// the host.
// que-12's R4 expression counts "> 2" where its text says "more than one";
// the questionnaire pass checks the text's rule, as the reference validator
// does.
var native = map[string]bool{"ele-1": true, "txt-1": true, "txt-2": true, "que-12": true}

// errata replace R4 invariants whose published FHIRPath is wrong with the
// wording the standard adopted later; only an exact match of the R4 text is
// replaced, so a profile's own constraint is never rewritten.
var errata = map[string]struct{ r4, use string }{
	// R4 applies as(canonical) to a collection, which FHIRPath defines as
	// an error; R5 fixed the expression with ofType().
	"dom-3": {
		r4:  "contained.where((('#'+id in (%resource.descendants().reference | %resource.descendants().as(canonical) | %resource.descendants().as(uri) | %resource.descendants().as(url))) or descendants().where(reference = '#').exists() or descendants().where(as(canonical) = '#').exists() or descendants().where(as(canonical) = '#').exists()).not()).trace('unmatched', id).empty()",
		use: "contained.where((('#'+id in (%resource.descendants().reference | %resource.descendants().ofType(canonical) | %resource.descendants().ofType(uri) | %resource.descendants().ofType(url))) or descendants().where(reference = '#').exists() or descendants().where(ofType(canonical) = '#').exists() or descendants().where(ofType(canonical) = '#').exists()).not()).trace('unmatched', id).empty()",
	},
	// R4 asks whether a FHIR boolean "is Boolean" (the System type), which
	// the official FHIRPath suite says it is not (Patient.active.is(Boolean)
	// is false); R5 asks "is boolean", which is what the rule means.
	"que-7": {
		r4:  "operator = 'exists' implies (answer is Boolean)",
		use: "operator = 'exists' implies (answer is boolean)",
	},
}

type compiled struct {
	expr *fhirpath.Expr
	err  error
}

var cache sync.Map // expression text -> *compiled

func compile(src string) *compiled {
	if v, ok := cache.Load(src); ok {
		return v.(*compiled)
	}
	src = strings.Clone(src) // the compiled expression keeps parts of its source
	e, err := fhirpath.Compile(src)
	v, _ := cache.LoadOrStore(src, &compiled{e, err})
	return v.(*compiled)
}

// Options tune one evaluation run.
type Options struct {
	Model fhirpath.Model
	// MaxSteps bounds each expression's evaluation (0: the engine default).
	MaxSteps int
	// Deadline, when set, ends every evaluation still running then.
	Deadline time.Time
	// MemberOf answers memberOf() (nil: unknown, so empty).
	MemberOf func(coding fhirpath.Item, valueSetURL string) (member, known bool)
}

// Check evaluates the constraints that apply at each site.
func Check(sites []structure.Site, opts Options, at Locate) issue.List {
	var out issue.List
	env := &fhirpath.Env{Model: opts.Model, MaxSteps: opts.MaxSteps, MemberOf: opts.MemberOf, Deadline: opts.Deadline}
	var one [1]fhirpath.Item
	var m memo
	var near stepsNear
	// Past the deadline every evaluation reports that it could not run;
	// guards would hide some of those reports, so they are then not used.
	useGuards := true
	for i, s := range sites {
		if i%256 == 0 && !opts.Deadline.IsZero() && !time.Now().Before(opts.Deadline) {
			useGuards = false
		}
		for _, st := range near.get(s.Def, s.TypeRoot) {
			// The dom-* rules speak for a container about its
			// contained resources (contained.contained.empty(), narrative
			// as best practice); a contained resource is judged by its
			// container's evaluation, not its own.
			if st.dom && s.Elem.IsResource && s.Elem.Name == "contained" {
				continue
			}
			if useGuards && st.plan.guard != nil && !s.Elem.IsPrimitive() && st.plan.guard.absent(s.Elem) {
				continue
			}
			out = append(out, evaluate(env, s.Elem, st.c, st.plan, one[:], at, &m)...)
		}
	}
	return out
}

// step is one constraint to check at a site, with its plan.
type step struct {
	c    *spec.Constraint
	plan *plan
	dom  bool // a dom-* rule
}

type stepsKey struct{ def, root *spec.ElementDefinition }

// stepsNear is a small direct-mapped cache in front of steps for one
// Check: a document's sites repeat a few dozen definitions, and a look-up
// here is a few loads where the shared map hashes an interface.
type stepsNear [64]struct {
	key  stepsKey
	list []step
}

func (c *stepsNear) get(def, root *spec.ElementDefinition) []step {
	h := (uintptr(unsafe.Pointer(def))>>4 ^ uintptr(unsafe.Pointer(root))>>7) % uintptr(len(c))
	e := &c[h]
	if e.key.def == def && e.key.root == root && (def != nil || root != nil) {
		return e.list
	}
	e.key, e.list = stepsKey{def, root}, stepsFor(def, root)
	return e.list
}

// steps caches, per pair of definitions a site can have, the constraints
// to evaluate there: one look-up per site instead of several per
// constraint. Definitions never change once loaded.
var steps sync.Map // stepsKey -> []step

func stepsFor(def, root *spec.ElementDefinition) []step {
	key := stepsKey{def, root}
	if v, ok := steps.Load(key); ok {
		return v.([]step)
	}
	var list []step
	seen := 0
	for _, d := range [2]*spec.ElementDefinition{def, root} {
		if d == nil {
			continue
		}
		for i := range d.Constraint {
			c := &d.Constraint[i]
			if native[c.Key] || c.Expression == "" {
				continue
			}
			// The type root repeats constraints the element already
			// carries (ele-1, ext-1); evaluate each key once.
			if seen > 0 && d == root && def.HasConstraint(c.Key) {
				continue
			}
			list = append(list, step{c: c, plan: planFor(c), dom: strings.HasPrefix(c.Key, "dom-")})
		}
		seen++
	}
	v, _ := steps.LoadOrStore(key, list)
	return v.([]step)
}

// plan is how one constraint is checked, decided once per constraint:
// in Go (native), or by its FHIRPath (with errata replaced), compiled.
type plan struct {
	native func(*element.Element, *memo) bool
	// deciding, when set, is tried first; where it cannot decide, cp runs.
	deciding func(*element.Element) (pass, ok bool)
	cp       *compiled
	// guard, when set, names children whose absence alone makes the
	// compiled expression pass (see guardOf).
	guard *guard
}

// plans caches a plan per constraint; constraints live in definitions,
// so their addresses are stable and cheap to hash (the expression text,
// the other possible key, can be hundreds of bytes).
var plans sync.Map // *spec.Constraint -> *plan

func planFor(c *spec.Constraint) *plan {
	if v, ok := plans.Load(c); ok {
		return v.(*plan)
	}
	pl := &plan{}
	if f := nativeRules[c.Key]; f != nil && (c.Expression == nativeText[c.Key] || c.Expression == errata[c.Key].r4 || c.Expression == errata[c.Key].use) {
		pl.native = f
	} else {
		src := c.Expression
		if fixed, ok := errata[c.Key]; ok && fixed.r4 == src {
			src = fixed.use
		}
		pl.cp = compile(src)
		if pl.cp.err == nil {
			pl.guard = guardOf(src)
		}
		if f := nativeDeciding[c.Key]; f != nil && c.Expression == nativeText[c.Key] {
			pl.deciding = f
		}
	}
	v, _ := plans.LoadOrStore(c, pl)
	return v.(*plan)
}

func evaluate(env *fhirpath.Env, e *element.Element, c *spec.Constraint, pl *plan, buf []fhirpath.Item, at Locate, m *memo) issue.List {
	if pl.native != nil {
		if pl.native(e, m) {
			return nil
		}
		return failed(e, c, at)
	}
	if pl.deciding != nil {
		if pass, ok := pl.deciding(e); ok {
			if pass {
				return nil
			}
			return failed(e, c, at)
		}
	}
	cp := pl.cp
	if cp.err != nil {
		l, col := at(e)
		return issue.List{{Severity: issue.Warning, Code: "invariant-unsupported", Type: "processing", Expression: e.Path(),
			Line: l, Column: col, RuleID: c.Key,
			Message: fmt.Sprintf("the constraint %s could not be compiled, so it was not checked: %v", c.Key, cp.err)}}
	}
	env.Context = e
	env.Resource, env.RootResource = nil, nil
	buf[0] = e
	r, err := cp.expr.EvalTri(env, buf)
	if err != nil {
		l, col := at(e)
		code := "invariant-error"
		if errors.Is(err, fhirpath.ErrLimit) {
			code = "invariant-limit"
		}
		return issue.List{{Severity: issue.Warning, Code: code, Type: "processing", Expression: e.Path(),
			Line: l, Column: col, RuleID: c.Key,
			Message: fmt.Sprintf("the constraint %s could not be evaluated, so it was not checked: %v", c.Key, err)}}
	}
	if r != fhirpath.False {
		return nil
	}
	return failed(e, c, at)
}

func failed(e *element.Element, c *spec.Constraint, at Locate) issue.List {
	l, col := at(e)
	sev := issue.Error
	if c.Severity == "warning" {
		sev = issue.Warning
	}
	return issue.List{{Severity: sev, Code: c.Key, Type: "invariant", Expression: e.Path(), Line: l, Column: col,
		RuleID: c.Key, Message: fmt.Sprintf("Constraint failed: %s: '%s'", c.Key, c.Human)}}
}
