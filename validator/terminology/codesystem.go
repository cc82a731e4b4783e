package terminology

import (
	"strconv"
	"strings"

	"github.com/sandkasse/sandkasse/validator/spec"
)

// concept is a CodeSystem concept with its hierarchy resolved. R4 code
// systems express is-a in three ways, all merged here: nesting, a "parent"
// (or "subsumedBy") property on the child, and a "child" property on the
// parent (v3 code systems use it for their poly-hierarchy).
type concept struct {
	code, display string
	parents       []*concept
	children      []*concept
	abstract      bool // notSelectable / abstract property
	inactive      bool // status retired or inactive=true
	deprecated    bool // status deprecated or a deprecationDate
	props         []spec.ConceptProperty
}

// csIndex is a CodeSystem prepared for lookups.
type csIndex struct {
	cs            *spec.CodeSystem
	caseSensitive bool
	all           []*concept
	byCode        map[string]*concept
	byFold        map[string]*concept // lower-cased codes, case-insensitive systems only
}

func newCSIndex(cs *spec.CodeSystem) *csIndex {
	x := &csIndex{cs: cs, caseSensitive: cs.IsCaseSensitive(), byCode: map[string]*concept{}}
	var walk func(list []spec.Concept, parent *concept)
	walk = func(list []spec.Concept, parent *concept) {
		for i := range list {
			sc := &list[i]
			c := x.byCode[sc.Code]
			if c == nil {
				c = &concept{code: sc.Code, display: sc.Display}
				x.byCode[sc.Code] = c
				x.all = append(x.all, c)
			}
			c.props = append(c.props, sc.Property...)
			if parent != nil {
				link(parent, c)
			}
			walk(sc.Concept, c)
		}
	}
	walk(cs.Concept, nil)
	for _, c := range x.all {
		for _, p := range c.props {
			switch p.Code {
			case "parent", "subsumedBy":
				if pc := x.byCode[p.ValueCode]; pc != nil {
					link(pc, c)
				}
			case "child":
				if cc := x.byCode[p.ValueCode]; cc != nil {
					link(c, cc)
				}
			case "notSelectable", "abstract":
				if p.ValueBoolean != nil && *p.ValueBoolean {
					c.abstract = true
				}
			case "inactive":
				if p.ValueBoolean != nil && *p.ValueBoolean {
					c.inactive = true
				}
			case "status":
				switch p.ValueCode {
				case "retired", "inactive":
					c.inactive = true
				case "deprecated":
					c.deprecated = true
				}
			case "deprecated", "deprecationDate":
				c.deprecated = true
			}
		}
	}
	if !x.caseSensitive {
		x.byFold = make(map[string]*concept, len(x.all))
		for _, c := range x.all {
			x.byFold[strings.ToLower(c.code)] = c
		}
	}
	return x
}

func link(parent, child *concept) {
	for _, c := range parent.children {
		if c == child {
			return
		}
	}
	parent.children = append(parent.children, child)
	child.parents = append(child.parents, parent)
}

// lookup finds a code; exact reports whether it matched without case folding.
func (x *csIndex) lookup(code string) (c *concept, exact bool) {
	if c := x.byCode[code]; c != nil {
		return c, true
	}
	if x.byFold != nil {
		if c := x.byFold[strings.ToLower(code)]; c != nil {
			return c, false
		}
	}
	return nil, false
}

// complete reports whether the CodeSystem lists all its codes, so that a
// code it lacks is certainly not in the system.
func (x *csIndex) complete() bool { return x.cs.Content == "complete" || x.cs.Content == "" }

// descendants returns the concepts below c (not c itself), each once.
func descendants(c *concept) []*concept {
	seen := map[*concept]bool{c: true}
	var out []*concept
	queue := []*concept{c}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, ch := range n.children {
			if !seen[ch] {
				seen[ch] = true
				out = append(out, ch)
				queue = append(queue, ch)
			}
		}
	}
	return out
}

func ancestors(c *concept) []*concept {
	seen := map[*concept]bool{c: true}
	var out []*concept
	queue := []*concept{c}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, p := range n.parents {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
				queue = append(queue, p)
			}
		}
	}
	return out
}

// propValues returns the values of property code on c as strings.
func (c *concept) propValues(code string) []string {
	var out []string
	for _, p := range c.props {
		if p.Code != code {
			continue
		}
		switch {
		case p.ValueCode != "":
			out = append(out, p.ValueCode)
		case p.ValueString != "":
			out = append(out, p.ValueString)
		case p.ValueBoolean != nil:
			if *p.ValueBoolean {
				out = append(out, "true")
			} else {
				out = append(out, "false")
			}
		case p.ValueDateTime != "":
			out = append(out, p.ValueDateTime)
		case p.ValueInteger != nil:
			out = append(out, strconv.Itoa(*p.ValueInteger))
		}
	}
	return out
}
