package questionnaire

import (
	"encoding/json"
	"strings"

	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/fhirjson"
	"github.com/sandkasse/sandkasse/validator/spec"
)

type codeResult struct {
	ok, checked, notFound bool
	msg                   string
}

// validateCode asks whether system#code (system "" = any system) is in the
// value set ref: a "#id" contained in the questionnaire's container is
// checked locally; a canonical goes to the Terminology service first and,
// when it cannot decide, to the local registry.
func (c *checker) validateCode(ref, system, code, display string) codeResult {
	if strings.HasPrefix(ref, "#") {
		vsElem := contained(c.form.container, ref[1:], "ValueSet")
		if vsElem == nil {
			return codeResult{notFound: true}
		}
		vs := valueSetOf(vsElem)
		if vs == nil {
			return codeResult{}
		}
		return c.local(vs, system, code, display)
	}
	if c.opts.Terminology != nil {
		ok, checked, msg := c.opts.Terminology.ValidateCoding(ref, system, code, display)
		if checked {
			return codeResult{ok: ok, checked: true, msg: msg}
		}
	}
	if c.opts.Registry == nil {
		return codeResult{}
	}
	vs := c.opts.Registry.ValueSet(ref)
	if vs == nil {
		if c.opts.Terminology == nil {
			return codeResult{notFound: true}
		}
		return codeResult{}
	}
	return c.local(vs, system, code, display)
}

func (c *checker) local(vs *spec.ValueSet, system, code, display string) codeResult {
	lt := localTerm{reg: c.opts.Registry}
	in, decided, concept := lt.member(vs, system, code, 0)
	if !decided {
		return codeResult{}
	}
	if !in {
		return codeResult{checked: true}
	}
	if display != "" && concept != nil && concept.display != "" && !sameDisplay(display, concept.display) {
		return codeResult{checked: true, msg: "the display does not match the code system's display '" + concept.display + "' for code '" + code + "'"}
	}
	return codeResult{ok: true, checked: true}
}

func sameDisplay(a, b string) bool {
	return strings.EqualFold(strings.Join(strings.Fields(a), " "), strings.Join(strings.Fields(b), " "))
}

// localTerm is the fallback membership test for when no terminology service
// decides: enumerated concepts, whole code systems held complete in the
// registry, stored complete expansions and imported value sets. Filters and
// external code systems are undecided.
type localTerm struct {
	reg *spec.Registry
}

type foundConcept struct {
	display string // the code system's display, else the value set's
}

const maxImportDepth = 8

func (lt localTerm) member(vs *spec.ValueSet, system, code string, depth int) (in, decided bool, fc *foundConcept) {
	if depth > maxImportDepth {
		return false, false, nil
	}
	if x := vs.Expansion; x != nil && x.Offset == 0 && vs.Compose == nil {
		n := countContains(x.Contains)
		if x.Total == nil || *x.Total == n {
			if e := findContains(x.Contains, system, code); e != nil {
				return true, true, &foundConcept{display: e.Display}
			}
			return false, true, nil
		}
	}
	if vs.Compose == nil {
		return false, false, nil
	}
	decided = true
	for _, inc := range vs.Compose.Include {
		ok, dec, f := lt.conceptSet(inc, system, code, depth)
		if ok {
			if lt.excluded(vs.Compose.Exclude, system, code, depth) {
				continue
			}
			return true, true, f
		}
		if !dec {
			decided = false
		}
	}
	return false, decided, nil
}

// conceptSet tests one include: its system part and its imported value sets
// must all contain the code.
func (lt localTerm) conceptSet(cs spec.ConceptSet, system, code string, depth int) (in, decided bool, fc *foundConcept) {
	in, decided = true, true
	if cs.System != "" {
		if system != "" && system != cs.System {
			return false, true, nil
		}
		var cdef *spec.CodeSystem
		if lt.reg != nil {
			cdef = lt.reg.CodeSystem(cs.System)
		}
		switch {
		case len(cs.Filter) > 0:
			return false, false, nil
		case len(cs.Concept) > 0:
			found := false
			for _, cr := range cs.Concept {
				if cr.Code == code {
					found = true
					fc = &foundConcept{display: cr.Display}
					break
				}
			}
			if !found {
				return false, true, nil
			}
			if cdef != nil {
				if c := findConcept(cdef.Concept, code, cdef.IsCaseSensitive()); c != nil && c.Display != "" {
					fc = &foundConcept{display: c.Display}
				}
			}
		default:
			if cdef == nil || (cdef.Content != "" && cdef.Content != "complete") {
				return false, false, nil
			}
			c := findConcept(cdef.Concept, code, cdef.IsCaseSensitive())
			if c == nil {
				return false, true, nil
			}
			fc = &foundConcept{display: c.Display}
		}
	}
	for _, ref := range cs.ValueSet {
		var sub *spec.ValueSet
		if lt.reg != nil {
			sub = lt.reg.ValueSet(ref)
		}
		if sub == nil {
			return false, false, nil
		}
		ok, dec, f := lt.member(sub, system, code, depth+1)
		if !dec {
			return false, false, nil
		}
		if !ok {
			return false, true, nil
		}
		if fc == nil {
			fc = f
		}
	}
	return in, decided, fc
}

// excluded reports a code removed by an exclude; an exclude we cannot read
// is taken as not excluding, since only decided exclusions may fail a code.
func (lt localTerm) excluded(ex []spec.ConceptSet, system, code string, depth int) bool {
	for _, cs := range ex {
		if ok, dec, _ := lt.conceptSet(cs, system, code, depth); ok && dec {
			return true
		}
	}
	return false
}

func findConcept(cs []spec.Concept, code string, caseSensitive bool) *spec.Concept {
	for i := range cs {
		if cs[i].Code == code || (!caseSensitive && strings.EqualFold(cs[i].Code, code)) {
			return &cs[i]
		}
		if c := findConcept(cs[i].Concept, code, caseSensitive); c != nil {
			return c
		}
	}
	return nil
}

func findContains(cs []spec.ExpansionContains, system, code string) *spec.ExpansionContains {
	for i := range cs {
		if cs[i].Code == code && (system == "" || cs[i].System == system) {
			return &cs[i]
		}
		if e := findContains(cs[i].Contains, system, code); e != nil {
			return e
		}
	}
	return nil
}

func countContains(cs []spec.ExpansionContains) int {
	n := 0
	for i := range cs {
		if cs[i].Code != "" {
			n++
		}
		n += countContains(cs[i].Contains)
	}
	return n
}

// valueSetOf decodes a contained ValueSet from its JSON node.
func valueSetOf(e *element.Element) *spec.ValueSet {
	if e.Node == nil {
		return nil
	}
	b, err := json.Marshal(plain(e.Node))
	if err != nil {
		return nil
	}
	var vs spec.ValueSet
	if json.Unmarshal(b, &vs) != nil {
		return nil
	}
	return &vs
}

// plain turns a fhirjson node into values encoding/json can write.
func plain(n *fhirjson.Node) any {
	switch n.Kind {
	case fhirjson.Object:
		m := make(map[string]any, len(n.Fields))
		for _, f := range n.Fields {
			m[f.Name] = plain(f.Value)
		}
		return m
	case fhirjson.Array:
		l := make([]any, len(n.Items))
		for i, it := range n.Items {
			l[i] = plain(it)
		}
		return l
	case fhirjson.String:
		return n.Str
	case fhirjson.Number:
		return json.Number(n.Str)
	case fhirjson.Bool:
		return n.Str == "true"
	}
	return nil
}
