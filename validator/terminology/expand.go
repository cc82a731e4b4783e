package terminology

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/sandkasse/sandkasse/validator/spec"
)

// member is one code of an expansion.
type member struct {
	system, code, display string
	abstract, inactive    bool
	deprecated            bool
	// uncertain marks a code kept although an intersection or exclusion
	// with a part that could not be enumerated might remove it.
	uncertain bool
}

type key struct{ system, code string }

// codeSet is a ValueSet expansion as far as it can be computed offline:
// the enumerated members, plus what could not be enumerated. A code that
// is not a member is certainly outside the set only if its system is not
// open and the set is not unknown.
type codeSet struct {
	members map[key]*member
	// open maps a system to why its codes could not be enumerated (not
	// shipped, a filter on an external system, a fragment CodeSystem).
	open map[string]string
	// unknown is set when codes of any system may be members (an imported
	// ValueSet that could not be expanded).
	unknown string

	// byCode and byFold (lower-cased) index members by code alone, for bare
	// codes and case-insensitive systems; built by seal once the set is final.
	byCode, byFold map[string][]*member
}

func (s *codeSet) seal() {
	s.byCode = make(map[string][]*member, len(s.members))
	s.byFold = make(map[string][]*member, len(s.members))
	for _, m := range s.members {
		s.byCode[m.code] = append(s.byCode[m.code], m)
		l := strings.ToLower(m.code)
		s.byFold[l] = append(s.byFold[l], m)
	}
}

func newCodeSet() *codeSet {
	return &codeSet{members: map[key]*member{}, open: map[string]string{}}
}

func (s *codeSet) add(m *member) {
	k := key{m.system, m.code}
	if old, ok := s.members[k]; ok && !old.uncertain {
		return
	}
	s.members[k] = m
}

func (s *codeSet) union(o *codeSet) {
	for _, m := range o.members {
		s.add(m)
	}
	for sys, why := range o.open {
		if _, ok := s.open[sys]; !ok {
			s.open[sys] = why
		}
	}
	if s.unknown == "" {
		s.unknown = o.unknown
	}
}

// intersect keeps the members of s that are also in o. A member whose
// system o could not enumerate may or may not be in o, so it stays but
// becomes uncertain.
func (s *codeSet) intersect(o *codeSet) *codeSet {
	r := newCodeSet()
	maybe := func(m *member, other *codeSet) bool {
		_, open := other.open[m.system]
		return open || other.unknown != ""
	}
	for k, m := range s.members {
		if om, ok := o.members[k]; ok {
			c := *m
			c.uncertain = m.uncertain || om.uncertain
			r.members[k] = &c
		} else if maybe(m, o) {
			c := *m
			c.uncertain = true
			r.members[k] = &c
		}
	}
	for k, m := range o.members {
		if _, ok := r.members[k]; !ok && maybe(m, s) {
			c := *m
			c.uncertain = true
			r.members[k] = &c
		}
	}
	for sys, why := range s.open {
		if _, ok := o.open[sys]; ok || o.unknown != "" {
			r.open[sys] = why
		}
	}
	if s.unknown != "" && o.unknown != "" {
		r.unknown = s.unknown
	} else if s.unknown != "" {
		maps(o.open, r.open)
	} else if o.unknown != "" {
		maps(s.open, r.open)
	}
	return r
}

func maps(from, to map[string]string) {
	for k, v := range from {
		to[k] = v
	}
}

// subtract removes o's members from s. Where o could not be enumerated,
// s's members of that system might be excluded, so they become uncertain.
func (s *codeSet) subtract(o *codeSet) {
	for k := range o.members {
		delete(s.members, k)
	}
	for k, m := range s.members {
		if _, open := o.open[m.system]; open || o.unknown != "" {
			c := *m
			c.uncertain = true
			s.members[k] = &c
		}
	}
}

// expand computes the codeSet of a ValueSet. stack holds the URLs being
// expanded further up, to stop import cycles.
func (s *Service) expand(url string, stack []string) (*codeSet, error) {
	url = stripVersion(url)
	if v, ok := s.vsCache.Load(url); ok {
		e := v.(*vsEntry)
		return e.set, e.err
	}
	if slices.Contains(stack, url) {
		return nil, fmt.Errorf("ValueSet %s imports itself (via %s)", url, strings.Join(stack, " → "))
	}
	vs := s.reg.ValueSet(url)
	var set *codeSet
	var err error
	if vs == nil {
		// Not cached: the url may come from an instance, and a
		// long-running server must not grow a cache entry per url it
		// is sent.
		return nil, fmt.Errorf("ValueSet %s is not known", url)
	}
	set, err = s.expandVS(vs, append(stack, url))
	if set != nil {
		set.seal()
	}
	// Expansions are computed without holding a lock, so two goroutines may
	// both compute one; the first stored wins. Holding a per-URL lock
	// instead could deadlock on ValueSets that import each other.
	v, _ := s.vsCache.LoadOrStore(strings.Clone(url), &vsEntry{set: set, err: err})
	e := v.(*vsEntry)
	return e.set, e.err
}

type vsEntry struct {
	set *codeSet
	err error
}

func (s *Service) expandVS(vs *spec.ValueSet, stack []string) (*codeSet, error) {
	stored := storedExpansion(vs)
	if vs.Compose == nil {
		if stored == nil {
			return nil, fmt.Errorf("ValueSet %s has neither compose nor a complete expansion", vs.URL)
		}
		return stored, nil
	}
	set := newCodeSet()
	var firstErr error
	for i := range vs.Compose.Include {
		part, err := s.conceptSet(&vs.Compose.Include[i], stack)
		if err != nil {
			firstErr = err
			break
		}
		set.union(part)
	}
	if firstErr == nil {
		for i := range vs.Compose.Exclude {
			part, err := s.conceptSet(&vs.Compose.Exclude[i], stack)
			if err != nil {
				firstErr = err
				break
			}
			set.subtract(part)
		}
	}
	// A stored expansion (as IGs ship for SNOMED CT value sets) answers
	// what the local compose cannot.
	if stored != nil && (firstErr != nil || len(set.open) > 0 || set.unknown != "") {
		return stored, nil
	}
	if firstErr != nil {
		return nil, fmt.Errorf("ValueSet %s: %w", vs.URL, firstErr)
	}
	return set, nil
}

// storedExpansion returns the stored expansion if it is complete (not a
// page of a larger one), else nil.
func storedExpansion(vs *spec.ValueSet) *codeSet {
	ex := vs.Expansion
	if ex == nil || ex.Offset > 0 {
		return nil
	}
	set := newCodeSet()
	var walk func([]spec.ExpansionContains)
	walk = func(cs []spec.ExpansionContains) {
		for _, c := range cs {
			if c.Code != "" {
				set.add(&member{system: c.System, code: c.Code, display: c.Display, abstract: c.Abstract, inactive: c.Inactive})
			}
			walk(c.Contains)
		}
	}
	walk(ex.Contains)
	if ex.Total != nil && *ex.Total > len(set.members) {
		return nil
	}
	return set
}

// conceptSet evaluates one include or exclude.
func (s *Service) conceptSet(inc *spec.ConceptSet, stack []string) (*codeSet, error) {
	var result *codeSet
	if inc.System != "" {
		part, err := s.systemPart(inc)
		if err != nil {
			return nil, err
		}
		result = part
	}
	for _, u := range inc.ValueSet {
		sub, err := s.expand(u, stack)
		if err != nil {
			// The import is not available offline: codes of any system might
			// be in it. Record why instead of failing the whole ValueSet.
			sub = newCodeSet()
			sub.unknown = err.Error()
		}
		if result == nil {
			result = newCodeSet()
			result.union(sub)
		} else {
			result = result.intersect(sub)
		}
	}
	if result == nil {
		return newCodeSet(), nil
	}
	return result, nil
}

func (s *Service) systemPart(inc *spec.ConceptSet) (*codeSet, error) {
	set := newCodeSet()
	sys := inc.System
	x := s.codeSystem(sys)
	if len(inc.Concept) > 0 {
		// An explicit list is decidable even for systems not shipped.
		for _, c := range inc.Concept {
			m := &member{system: sys, code: c.Code, display: c.Display}
			if x != nil {
				if con, _ := x.lookup(c.Code); con != nil {
					m.code = con.code
					if m.display == "" {
						m.display = con.display
					}
					m.abstract, m.inactive, m.deprecated = con.abstract, con.inactive, con.deprecated
				}
			}
			set.add(m)
		}
		if len(inc.Filter) > 0 {
			return nil, fmt.Errorf("include of %s has both concepts and filters", sys)
		}
		return set, nil
	}
	if x == nil || x.cs.Content == "not-present" || x.cs.Content == "example" {
		set.open[sys] = notShippedReason(sys, x)
		return set, nil
	}
	if x.cs.Content == "supplement" {
		return nil, fmt.Errorf("include of %s names a CodeSystem supplement", sys)
	}
	concepts := x.all
	for _, f := range inc.Filter {
		sel, err := applyFilter(x, f)
		if err != nil {
			// An unsupported filter leaves the system undecided rather than
			// making every code of it invalid.
			set.open[sys] = err.Error()
			return set, nil
		}
		concepts = intersectConcepts(concepts, sel)
	}
	for _, c := range concepts {
		set.add(&member{system: sys, code: c.code, display: c.display, abstract: c.abstract, inactive: c.inactive, deprecated: c.deprecated})
	}
	if !x.complete() {
		set.open[sys] = fmt.Sprintf("CodeSystem %s is a %s, not a complete list", sys, x.cs.Content)
	}
	return set, nil
}

func notShippedReason(sys string, x *csIndex) string {
	if x == nil {
		return fmt.Sprintf("CodeSystem %s is not available offline", sys)
	}
	return fmt.Sprintf("CodeSystem %s is not available offline (content %s)", sys, x.cs.Content)
}

func intersectConcepts(a, b []*concept) []*concept {
	in := make(map[*concept]bool, len(b))
	for _, c := range b {
		in[c] = true
	}
	var out []*concept
	for _, c := range a {
		if in[c] {
			out = append(out, c)
		}
	}
	return out
}

// applyFilter returns the concepts of x selected by one filter.
func applyFilter(x *csIndex, f spec.ConceptFilter) ([]*concept, error) {
	prop := f.Property
	isCode := prop == "concept" || prop == "code"
	switch f.Op {
	case "is-a", "descendent-of", "is-not-a", "generalizes":
		if !isCode && prop != "parent" {
			return nil, fmt.Errorf("filter %s %s on %s is not supported offline", prop, f.Op, x.cs.URL)
		}
		root, _ := x.lookup(f.Value)
		if root == nil {
			if f.Op == "is-not-a" {
				return x.all, nil
			}
			return nil, nil
		}
		switch f.Op {
		case "is-a":
			return append([]*concept{root}, descendants(root)...), nil
		case "descendent-of":
			return descendants(root), nil
		case "generalizes":
			return append([]*concept{root}, ancestors(root)...), nil
		default:
			ex := map[*concept]bool{root: true}
			for _, d := range descendants(root) {
				ex[d] = true
			}
			var out []*concept
			for _, c := range x.all {
				if !ex[c] {
					out = append(out, c)
				}
			}
			return out, nil
		}
	case "=", "in", "not-in", "regex", "exists":
		var match func(string) bool
		switch f.Op {
		case "=":
			match = func(v string) bool { return v == f.Value }
		case "in", "not-in":
			vals := strings.Split(f.Value, ",")
			for i := range vals {
				vals[i] = strings.TrimSpace(vals[i])
			}
			match = func(v string) bool { return slices.Contains(vals, v) }
		case "regex":
			re, err := regexp.Compile("^(?:" + f.Value + ")$")
			if err != nil {
				return nil, fmt.Errorf("filter regex %q on %s does not compile: %v", f.Value, x.cs.URL, err)
			}
			match = re.MatchString
		case "exists":
			want := f.Value == "true"
			var out []*concept
			for _, c := range x.all {
				if (len(valuesOf(c, prop)) > 0) == want {
					out = append(out, c)
				}
			}
			return out, nil
		}
		var out []*concept
		for _, c := range x.all {
			hit := slices.ContainsFunc(valuesOf(c, prop), match)
			if hit != (f.Op == "not-in") {
				out = append(out, c)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("filter op %q on %s is not supported offline", f.Op, x.cs.URL)
}

// valuesOf returns what a filter on property prop compares for c.
func valuesOf(c *concept, prop string) []string {
	switch prop {
	case "concept", "code":
		return []string{c.code}
	case "display":
		return []string{c.display}
	case "parent":
		var out []string
		for _, p := range c.parents {
			out = append(out, p.code)
		}
		return append(out, c.propValues("parent")...)
	case "child":
		var out []string
		for _, ch := range c.children {
			out = append(out, ch.code)
		}
		return out
	}
	return c.propValues(prop)
}

func stripVersion(url string) string {
	if i := strings.LastIndexByte(url, '|'); i >= 0 {
		return url[:i]
	}
	return url
}
