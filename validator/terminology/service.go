// Package terminology checks codes against ValueSets and CodeSystems
// offline, using only what a spec.Registry holds: the embedded R4 core and
// loaded packages. Codes from systems that are not shipped (SNOMED CT,
// LOINC, UCUM, ISO and IETF code lists, …) are reported as not checked
// rather than guessed at, except that malformed identifiers of the
// well-known ones (a SNOMED CT id with a wrong check digit, a LOINC code
// with a wrong check digit, an unparsable UCUM unit or language tag) are
// reported as invalid.
package terminology

import (
	"fmt"
	"strings"
	"sync"

	"github.com/sandkasse/sandkasse/validator/spec"
)

// Service answers membership questions. It is safe for concurrent use;
// expansions and CodeSystem indexes are computed once per URL and cached
// for the Service's lifetime, so the registry must not change underneath.
type Service struct {
	reg     *spec.Registry
	vsCache sync.Map // ValueSet url → *vsEntry
	csCache sync.Map // CodeSystem url → *csIndex (nil entries for unknown)
}

// New returns a Service over reg.
func New(reg *spec.Registry) *Service { return &Service{reg: reg} }

// Result is the outcome of one check.
type Result struct {
	// Valid is true when the code is in the ValueSet (or CodeSystem), and
	// also when it could not be checked (Checked false): only a Valid
	// false with Checked true is a definite finding.
	Valid bool
	// Checked is false when membership could not be decided offline.
	Checked bool
	// Message explains an invalid or unchecked result, or warns about a
	// valid one (wrong case, inactive). It names codes, systems and value
	// sets, never the display text that was supplied.
	Message string
	// DisplayOK is false only when a display was supplied and differs from
	// every display known for the code. Designations are not shipped, so a
	// display in another language also reads as different: treat this as
	// a warning.
	DisplayOK bool
	// Display is the known display of the code, if any.
	Display string
	// System is the system the code was found in (useful for bare codes).
	System string
	// Abstract is set for codes marked notSelectable/abstract.
	Abstract bool
	// Inactive is set for retired or inactive codes, Deprecated for
	// deprecated ones; both may still be members.
	Inactive, Deprecated bool
}

// Coding is the part of a FHIR Coding that membership depends on.
type Coding struct {
	System, Version, Code, Display string
}

func (s *Service) codeSystem(url string) *csIndex {
	url = stripVersion(url)
	if v, ok := s.csCache.Load(url); ok {
		return v.(*csIndex)
	}
	cs := s.reg.CodeSystem(url)
	if cs == nil {
		// Unknown systems (SNOMED CT, LOINC, anything an instance names)
		// are not cached: a server would otherwise keep an entry for every
		// system url it is ever sent.
		return nil
	}
	v, _ := s.csCache.LoadOrStore(strings.Clone(url), newCSIndex(cs))
	return v.(*csIndex)
}

// ValidateCode checks system|code (and display, if not empty) against the
// ValueSet vsURL (a |version suffix is ignored). An empty system means a
// bare code, as in ValidateBareCode.
func (s *Service) ValidateCode(vsURL, system, code, display string) Result {
	if system == "" {
		return s.ValidateBareCode(vsURL, code)
	}
	set, err := s.expand(vsURL, nil)
	if err != nil {
		return Result{Valid: true, DisplayOK: true, Message: "not checked: " + err.Error()}
	}
	vs := stripVersion(vsURL)
	if m, exact := set.find(system, code, s); m != nil {
		r := s.memberResult(m, exact, display)
		if m.uncertain {
			r.Checked = false
			r.Message = joinMsg(fmt.Sprintf("code %q from %s is listed in ValueSet %s, but a part of it could not be evaluated offline", code, system, vs), r.Message)
		}
		return r
	}
	if why, open := set.open[system]; open {
		return s.external(system, code, why)
	}
	if set.unknown != "" {
		return s.external(system, code, set.unknown)
	}
	r := Result{Valid: false, Checked: true, DisplayOK: true}
	if x := s.codeSystem(system); x != nil && x.complete() && x.cs.Content != "" {
		if c, _ := x.lookup(code); c == nil {
			r.Message = fmt.Sprintf("code %q is not defined in CodeSystem %s (and so not in ValueSet %s)", code, system, vs)
			return r
		}
	}
	r.Message = fmt.Sprintf("code %q from %s is not in ValueSet %s", code, system, vs)
	if !set.hasSystem(system) {
		r.Message += fmt.Sprintf(" (which has no codes from %s)", system)
	}
	return r
}

// ValidateCoding is ValidateCode for a Coding.
func (s *Service) ValidateCoding(vsURL string, c Coding) Result {
	return s.ValidateCode(vsURL, c.System, c.Code, c.Display)
}

// ValidateBareCode checks a `code` element, which carries no system, as
// required bindings on code-typed elements (Patient.gender) need: the code
// is valid if some system of the ValueSet defines it.
func (s *Service) ValidateBareCode(vsURL, code string) Result {
	set, err := s.expand(vsURL, nil)
	if err != nil {
		return Result{Valid: true, DisplayOK: true, Message: "not checked: " + err.Error()}
	}
	var best *member
	bestExact := false
	for _, m := range set.byFold[strings.ToLower(code)] {
		exact := m.code == code
		if !exact && !s.foldable(m.system) {
			continue
		}
		if best == nil || (exact && !bestExact) || (best.uncertain && !m.uncertain) {
			best, bestExact = m, exact
		}
	}
	vs := stripVersion(vsURL)
	if best != nil {
		r := s.memberResult(best, bestExact, "")
		if best.uncertain {
			r.Checked = false
			r.Message = joinMsg(fmt.Sprintf("code %q is listed in ValueSet %s, but a part of it could not be evaluated offline", code, vs), r.Message)
		}
		return r
	}
	if set.unknown != "" {
		return Result{Valid: true, DisplayOK: true, Message: "not checked: " + set.unknown}
	}
	for sys, why := range set.open {
		return Result{Valid: true, DisplayOK: true, Message: fmt.Sprintf("code %q not checked: ValueSet %s includes %s, which cannot be evaluated offline (%s)", code, vs, sys, why)}
	}
	return Result{Valid: false, Checked: true, DisplayOK: true, Message: fmt.Sprintf("code %q is not in ValueSet %s", code, vs)}
}

// ValidateCodeableConcept checks the codings of a CodeableConcept: valid
// if any coding is in the ValueSet. Whether a CodeableConcept with no
// matching coding is an error (required) or a warning (extensible) is the
// caller's rule.
func (s *Service) ValidateCodeableConcept(vsURL string, codings []Coding) Result {
	if len(codings) == 0 {
		return Result{Valid: false, Checked: true, DisplayOK: true, Message: fmt.Sprintf("no coding to check against ValueSet %s", stripVersion(vsURL))}
	}
	var unchecked, first *Result
	for _, c := range codings {
		r := s.ValidateCoding(vsURL, c)
		switch {
		case r.Valid && r.Checked:
			return r
		case !r.Checked && unchecked == nil:
			unchecked = &r
		case first == nil:
			first = &r
		}
	}
	if unchecked != nil {
		return *unchecked
	}
	if len(codings) == 1 {
		return *first
	}
	return Result{Valid: false, Checked: true, DisplayOK: true,
		Message: fmt.Sprintf("none of the %d codings is in ValueSet %s (first: %s)", len(codings), stripVersion(vsURL), first.Message)}
}

// CodeInSystem checks that code exists in CodeSystem system (and that
// display, if given, matches). It is decided only for complete CodeSystems
// the registry holds; others are syntax-checked where a syntax is known.
func (s *Service) CodeInSystem(system, code, display string) Result {
	x := s.codeSystem(system)
	if x == nil || x.cs.Content == "not-present" || x.cs.Content == "example" {
		return s.external(system, code, notShippedReason(system, x))
	}
	c, exact := x.lookup(code)
	if c == nil {
		if !x.complete() {
			return Result{Valid: true, DisplayOK: true, Message: fmt.Sprintf("code %q not checked: CodeSystem %s is a %s", code, system, x.cs.Content)}
		}
		return Result{Valid: false, Checked: true, DisplayOK: true, Message: fmt.Sprintf("code %q is not defined in CodeSystem %s", code, system)}
	}
	return s.memberResult(&member{system: system, code: c.code, display: c.display, abstract: c.abstract, inactive: c.inactive, deprecated: c.deprecated}, exact, display)
}

// KnowsSystem reports whether the registry holds a complete CodeSystem
// for system, i.e. whether CodeInSystem can give a definite answer.
func (s *Service) KnowsSystem(system string) bool {
	x := s.codeSystem(system)
	return x != nil && x.complete()
}

func (s *Service) memberResult(m *member, exact bool, display string) Result {
	r := Result{Valid: true, Checked: true, DisplayOK: true, Display: m.display, System: m.system,
		Abstract: m.abstract, Inactive: m.inactive, Deprecated: m.deprecated}
	if display != "" && m.display != "" && !sameDisplay(display, m.display) {
		// A ValueSet may carry its own display; the CodeSystem's is also fine.
		if x := s.codeSystem(m.system); x == nil || !sameDisplayIn(x, m.code, display) {
			r.DisplayOK = false
			r.Message = fmt.Sprintf("display for %s#%s does not match the expected display %q", m.system, m.code, m.display)
		}
	}
	if !exact {
		r.Message = joinMsg(r.Message, fmt.Sprintf("code differs in case from %q in case-insensitive CodeSystem %s", m.code, m.system))
	}
	if m.inactive {
		r.Message = joinMsg(r.Message, fmt.Sprintf("code %q of %s is inactive", m.code, m.system))
	}
	return r
}

func sameDisplayIn(x *csIndex, code, display string) bool {
	c, _ := x.lookup(code)
	return c != nil && sameDisplay(c.display, display)
}

// sameDisplay compares displays ignoring case and runs of white space, as
// the HL7 validator does by default.
func sameDisplay(a, b string) bool {
	if strings.EqualFold(a, b) {
		return true
	}
	return strings.EqualFold(strings.Join(strings.Fields(a), " "), strings.Join(strings.Fields(b), " "))
}

func joinMsg(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

// foldable reports whether codes of system match case-insensitively.
func (s *Service) foldable(system string) bool {
	x := s.codeSystem(system)
	return x != nil && !x.caseSensitive
}

func (set *codeSet) find(system, code string, s *Service) (*member, bool) {
	if m := set.members[key{system, code}]; m != nil {
		return m, true
	}
	if s.foldable(system) {
		for _, m := range set.byFold[strings.ToLower(code)] {
			if m.system == system {
				return m, false
			}
		}
	}
	return nil, false
}

func (set *codeSet) hasSystem(system string) bool {
	if _, ok := set.open[system]; ok {
		return true
	}
	for k := range set.members {
		if k.system == system {
			return true
		}
	}
	return false
}

// Expansion is a ValueSet's offline expansion, for callers that list or
// count codes.
type Expansion struct {
	Codes []Coding
	// Open lists systems whose codes could not be enumerated, with why.
	Open map[string]string
	// Unknown, if set, says why codes of any system might be members.
	Unknown string
}

// Expand returns the offline expansion of a ValueSet, or why it has none.
func (s *Service) Expand(vsURL string) (*Expansion, error) {
	set, err := s.expand(vsURL, nil)
	if err != nil {
		return nil, err
	}
	e := &Expansion{Open: map[string]string{}, Unknown: set.unknown}
	for _, m := range set.members {
		e.Codes = append(e.Codes, Coding{System: m.system, Code: m.code, Display: m.display})
	}
	maps(set.open, e.Open)
	return e, nil
}
