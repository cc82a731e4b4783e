// Package binding checks coded elements against their terminology bindings
// (required: error, extensible: warning) and every Coding whose system is a
// CodeSystem we hold against that system. Codes of systems that are not
// shipped (SNOMED CT, LOINC, …) are reported as not checked, never as
// errors.
package binding

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/issue"
	"github.com/sandkasse/sandkasse/validator/spec"
	"github.com/sandkasse/sandkasse/validator/terminology"
)

// Locate gives the line and column of an element.
type Locate func(*element.Element) (line, col int)

type checker struct {
	term  *terminology.Service
	at    Locate
	hints *Hints
	out   issue.List
}

// Hints remembers the fix hint of each value set for one terminology
// service, so that a code failing the same binding again costs no
// expansion. The zero value is ready; it is safe for concurrent use.
type Hints struct {
	m sync.Map // value set url -> string
	n atomic.Int32
}

// maxHints bounds the hints kept: value set urls come from definitions,
// but a registry may hold many.
const maxHints = 4096

func (h *Hints) get(vs string, compute func(string) string) string {
	if h == nil {
		return compute(vs)
	}
	if v, ok := h.m.Load(vs); ok {
		return v.(string)
	}
	fix := compute(vs)
	if h.n.Load() < maxHints {
		if _, loaded := h.m.LoadOrStore(strings.Clone(vs), fix); !loaded {
			h.n.Add(1)
		}
	}
	return fix
}

func (c *checker) add(e *element.Element, sev issue.Severity, code, typ, msg, fix, rule string) {
	l, col := c.at(e)
	c.out = append(c.out, issue.Issue{Severity: sev, Code: code, Type: typ, Expression: e.Path(),
		Line: l, Column: col, Message: msg, Fix: fix, RuleID: rule})
}

// Check checks one element with the definition it was validated against.
func Check(e *element.Element, def *spec.ElementDefinition, term *terminology.Service, at Locate) issue.List {
	return CheckHints(e, def, term, at, nil)
}

// CheckHints is Check with the fix hints remembered in h (which must be
// used with one terminology service only).
func CheckHints(e *element.Element, def *spec.ElementDefinition, term *terminology.Service, at Locate, h *Hints) issue.List {
	c := &checker{term: term, at: at, hints: h}
	if e.Type == "Coding" {
		c.coding(e)
	}
	if def != nil && def.Binding != nil && def.Binding.ValueSet != "" &&
		(def.Binding.Strength == "required" || def.Binding.Strength == "extensible") {
		c.bound(e, def.Binding)
	}
	return c.out
}

func value(e *element.Element, name string) string {
	if x := e.First(name); x != nil && x.HasValue {
		return x.Value
	}
	return ""
}

func codingOf(e *element.Element) terminology.Coding {
	return terminology.Coding{System: value(e, "system"), Version: value(e, "version"), Code: value(e, "code"), Display: value(e, "display")}
}

// coding checks a Coding against its own CodeSystem when we hold it.
func (c *checker) coding(e *element.Element) {
	cd := codingOf(e)
	if cd.System == "" || cd.Code == "" || !c.term.KnowsSystem(cd.System) {
		return
	}
	r := c.term.CodeInSystem(cd.System, cd.Code, cd.Display)
	if r.Checked && !r.Valid {
		c.add(e, issue.Error, "code-unknown", "code-invalid", r.Message, "use a code defined by "+cd.System, cd.System)
		return
	}
	if !r.DisplayOK {
		c.add(e, issue.Warning, "code-display", "invalid",
			fmt.Sprintf("the display for %s#%s does not match the CodeSystem's display ('%s')", cd.System, cd.Code, r.Display),
			"use the CodeSystem's display, or leave display out", cd.System)
	}
}

func (c *checker) bound(e *element.Element, b *spec.Binding) {
	sev := issue.Error
	if b.Strength == "extensible" {
		sev = issue.Warning
	}
	var r terminology.Result
	switch e.Type {
	case "code", "string", "uri":
		if !e.HasValue {
			return
		}
		r = c.term.ValidateBareCode(b.ValueSet, e.Value)
	case "Coding":
		cd := codingOf(e)
		if cd.Code == "" {
			return
		}
		r = c.term.ValidateCoding(b.ValueSet, cd)
	case "CodeableConcept":
		var cs []terminology.Coding
		for _, x := range e.Child("coding") {
			if cd := codingOf(x); cd.Code != "" {
				cs = append(cs, cd)
			}
		}
		if len(cs) == 0 {
			if b.Strength == "required" {
				c.add(e, issue.Error, "binding-no-code", "code-invalid",
					fmt.Sprintf("no code provided, and a code is required from the value set %s", b.ValueSet),
					"add a coding from the value set", b.ValueSet)
			}
			return
		}
		r = c.term.ValidateCodeableConcept(b.ValueSet, cs)
	case "Quantity":
		if sys, code := value(e, "system"), value(e, "code"); code != "" {
			r = c.term.ValidateCode(b.ValueSet, sys, code, "")
		} else {
			return
		}
	default:
		return
	}
	switch {
	case !r.Checked && r.Message != "":
		c.add(e, issue.Information, "binding-not-checked", "informational", r.Message, "", b.ValueSet)
	case r.Checked && !r.Valid:
		fix := c.hints.get(b.ValueSet, c.fix)
		c.add(e, sev, "binding-"+b.Strength, "code-invalid", r.Message, fix, b.ValueSet)
	}
}

// fix names the allowed codes when there are few enough to read, in
// sorted order (an expansion has none of its own).
func (c *checker) fix(vs string) string {
	x, err := c.term.Expand(vs)
	if err != nil || x == nil || len(x.Open) > 0 || x.Unknown != "" || len(x.Codes) == 0 || len(x.Codes) > 12 {
		return "use a code from " + vs
	}
	codes := make([]string, len(x.Codes))
	for i, cd := range x.Codes {
		codes[i] = cd.Code
	}
	slices.Sort(codes)
	return "use one of " + strings.Join(codes, " | ")
}
