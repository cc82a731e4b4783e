// Package measure checks a MeasureReport against the Measure it reports on,
// as the reference validator does (MeasureValidator): its groups,
// populations and stratifiers are the Measure's, matched by code, and the
// group's measureScore is what the Measure's scoring calls for. A Measure
// is found contained ("#id") or among the loaded resources (--load); when
// it is not found nothing is checked (no network).
package measure

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/fhirjson"
	"github.com/sandkasse/sandkasse/validator/issue"
	"github.com/sandkasse/sandkasse/validator/spec"
	"github.com/sandkasse/sandkasse/validator/structure"
)

// Pos gives an element's line and column.
type Pos func(*element.Element) (line, col int)

// loaded returns the typed tree of the loaded Measure url names, or nil.
// It is built per report, not kept: a MeasureReport whose Measure was
// loaded is rare, and a cache would have to live as long as the registry.
func loaded(reg *spec.Registry, url string) *element.Element {
	if reg == nil {
		return nil
	}
	rt, data, ok := reg.Resource(url)
	if !ok || rt != "Measure" {
		return nil
	}
	doc, err := fhirjson.Parse(data, fhirjson.Limits{})
	if err != nil {
		return nil
	}
	return structure.Build(doc, reg, structure.Limits{}).Root
}

type checker struct {
	pos Pos
	out issue.List
}

func (c *checker) add(e *element.Element, sev issue.Severity, code, msg string) {
	is := issue.Issue{Severity: sev, Code: code, Type: "business-rule", Expression: e.Path(), Message: msg}
	if c.pos != nil {
		is.Line, is.Column = c.pos(e)
	}
	c.out = append(c.out, is)
}

// CheckReport checks a MeasureReport against its Measure.
func CheckReport(mr *element.Element, reg *spec.Registry, pos Pos) issue.List {
	if mr == nil || mr.Type != "MeasureReport" {
		return nil
	}
	ref := value(mr, "measure")
	if ref == "" {
		return nil
	}
	var m *element.Element
	if id, ok := strings.CutPrefix(ref, "#"); ok {
		for _, ct := range mr.Child("contained") {
			if ct.Type == "Measure" && value(ct, "id") == id {
				m = ct
			}
		}
	} else {
		m = loaded(reg, ref)
	}
	if m == nil {
		return nil
	}
	c := &checker{pos: pos}
	rt := value(mr, "type")
	scoring := ""
	if cs := codings(m.First("scoring")); len(cs) > 0 {
		scoring = cs[0].code
	}
	mgroups, rgroups := m.Child("group"), mr.Child("group")
	if len(rgroups) == 1 && len(mgroups) == 1 {
		// A single group may be anonymous; if both have a code, they agree.
		rg, mg := rgroups[0], mgroups[0]
		if rc, mc := rg.First("code"), mg.First("code"); rc != nil && mc != nil {
			switch {
			case !usable(rc):
				c.add(rg, issue.Error, "measurereport-group-code", "the group's code has no coding with both system and code, so it cannot be matched to the Measure's group")
			case !sameCoding(rc, mc):
				c.add(rg, issue.Error, "measurereport-group-code", "the group's code does not match the code of the Measure's group "+describe(mc))
			}
		}
		c.group(mg, rg, rt, scoring)
		return c.out
	}
	used := map[*element.Element]bool{}
	for _, rg := range rgroups {
		rc := rg.First("code")
		if rc == nil {
			c.add(rg, issue.Error, "measurereport-group-code", "the Measure has several groups, so each group of the report needs the code of the one it reports")
			continue
		}
		mg := match(mgroups, rc, false)
		switch {
		case mg == nil:
			c.add(rg, issue.Error, "measurereport-group-unknown", "the group's code matches no group of the Measure")
		case used[mg]:
			c.add(rg, issue.Error, "measurereport-group-duplicate", "another group of the report already reports the Measure's group "+describe(mg.First("code")))
		default:
			used[mg] = true
			c.group(mg, rg, rt, scoring)
		}
	}
	if rt != "data-collection" {
		for _, mg := range mgroups {
			if !used[mg] {
				c.add(mr, issue.Error, "measurereport-group-missing", "the report has no group for the Measure's group "+describe(mg.First("code")))
			}
		}
	}
	return c.out
}

// group checks one group of the report against the Measure's group.
func (c *checker) group(mg, rg *element.Element, rt, scoring string) {
	// Populations: each one the Measure's, once; all of the Measure's
	// present except measure-observation.
	used := map[*element.Element]bool{}
	for _, rp := range rg.Child("population") {
		rc := rp.First("code")
		if rc == nil {
			c.add(rp, issue.Error, "measurereport-population-code", "the population has no code, so it cannot be matched to a population of the Measure")
			continue
		}
		mp := match(mg.Child("population"), rc, false)
		switch {
		case mp == nil:
			c.add(rp, issue.Error, "measurereport-population-unknown", "the population's code matches no population of the Measure's group")
		case used[mp]:
			c.add(rp, issue.Error, "measurereport-population-duplicate", "another population of the group already reports the Measure's population "+describe(mp.First("code")))
		default:
			used[mp] = true
			c.population(rp, rt)
		}
	}
	for _, mp := range mg.Child("population") {
		if !used[mp] && !hasCoding(mp.First("code"), "http://terminology.hl7.org/CodeSystem/measure-population", "measure-observation") {
			c.add(rg, issue.Error, "measurereport-population-missing", "the group has no population for the Measure's population "+describe(mp.First("code")))
		}
	}
	c.score(rg, rt, scoring)
	// Stratifiers, matched by code (or by text when neither has a coding).
	usedS := map[*element.Element]bool{}
	for _, rs := range rg.Child("stratifier") {
		rc := rs.First("code")
		if rc == nil {
			c.add(rs, issue.Error, "measurereport-stratifier-code", "the stratifier has no code, so it cannot be matched to a stratifier of the Measure's group")
			continue
		}
		ms := match(mg.Child("stratifier"), rc, true)
		switch {
		case ms == nil:
			c.add(rs, issue.Error, "measurereport-stratifier-unknown", "the stratifier's code matches no stratifier of the Measure's group")
		case usedS[ms]:
			c.add(rs, issue.Error, "measurereport-stratifier-duplicate", "another stratifier of the group already reports the Measure's stratifier "+describe(ms.First("code")))
		default:
			usedS[ms] = true
		}
	}
	for _, ms := range mg.Child("stratifier") {
		if !usedS[ms] {
			what := describe(ms.First("code"))
			if id := value(ms, "id"); id != "" {
				what += " (id " + id + ")"
			}
			c.add(rg, issue.Error, "measurereport-stratifier-missing", "the group has no stratifier for the Measure's stratifier "+what)
		}
	}
}

// population checks the subject results of a population: listed only in a
// subject-list report, and then as many as the count says.
func (c *checker) population(rp *element.Element, rt string) {
	results := rp.Child("subjectResults")
	if rt == "subject-list" {
		if n, err := strconv.Atoi(value(rp, "count")); err == nil && n != len(results) {
			c.add(rp, issue.Error, "measurereport-population-count",
				fmt.Sprintf("the population's count is %d but it lists %d subject results", n, len(results)))
		}
		return
	}
	if len(results) > 0 {
		c.add(rp, issue.Error, "measurereport-population-subjects", "subjectResults are given only in a report of type subject-list")
	}
	if rp.First("count") == nil {
		c.add(rp, issue.Warning, "measurereport-population-count", "the population has no count")
	}
}

// score checks the group's measureScore against the report type and the
// Measure's scoring.
func (c *checker) score(rg *element.Element, rt, scoring string) {
	ms := rg.First("measureScore")
	switch {
	case rt == "data-collection":
		if ms != nil {
			c.add(ms, issue.Error, "measurereport-score", "a data-collection report has no measureScore")
		}
	case scoring == "cohort":
		if ms != nil {
			c.add(ms, issue.Error, "measurereport-score", "No measureScore when the scoring of the message is 'cohort'")
		}
	case scoring == "proportion" || scoring == "ratio" || scoring == "continuous-variable":
		if ms == nil {
			c.add(rg, issue.Error, "measurereport-score", "a measureScore is required when the Measure's scoring is "+scoring)
			return
		}
		v := ms.First("value")
		if v == nil {
			c.add(ms, issue.Error, "measurereport-score", "the measureScore needs a value when the Measure's scoring is "+scoring)
			return
		}
		if scoring != "proportion" {
			return
		}
		for _, u := range []string{"unit", "system", "code"} {
			if x := ms.First(u); x != nil {
				c.add(x, issue.Error, "measurereport-score", "a proportion is a unitless number: the measureScore has no "+u)
			}
		}
		if f, err := strconv.ParseFloat(v.Value, 64); err == nil && (f < 0 || f > 1) {
			c.add(v, issue.Error, "measurereport-score", "a proportion's measureScore is between 0 and 1")
		}
	}
}

type coding struct{ system, code string }

func value(e *element.Element, name string) string {
	if x := e.First(name); x != nil {
		return x.Value
	}
	return ""
}

func codings(cc *element.Element) []coding {
	if cc == nil {
		return nil
	}
	var out []coding
	for _, c := range cc.Child("coding") {
		out = append(out, coding{value(c, "system"), value(c, "code")})
	}
	return out
}

func hasCoding(cc *element.Element, system, code string) bool {
	for _, c := range codings(cc) {
		if c.system == system && c.code == code {
			return true
		}
	}
	return false
}

func usable(cc *element.Element) bool {
	for _, c := range codings(cc) {
		if c.system != "" && c.code != "" {
			return true
		}
	}
	return false
}

// sameCoding reports whether two CodeableConcepts share a coding.
func sameCoding(a, b *element.Element) bool {
	for _, c := range codings(b) {
		if hasCoding(a, c.system, c.code) {
			return true
		}
	}
	return false
}

// match returns the first of defs whose code shares a coding with code,
// or, if byText, whose code has the same text where neither has a coding.
func match(defs []*element.Element, code *element.Element, byText bool) *element.Element {
	for _, d := range defs {
		dc := d.First("code")
		if dc == nil {
			continue
		}
		if sameCoding(code, dc) {
			return d
		}
		if byText && len(codings(code)) == 0 && len(codings(dc)) == 0 {
			if t := value(code, "text"); t != "" && t == value(dc, "text") {
				return d
			}
		}
	}
	return nil
}

// describe names a definition's code by its first coding (codes of a
// Measure are definitional, not patient data).
func describe(cc *element.Element) string {
	cs := codings(cc)
	if len(cs) == 0 {
		return "''"
	}
	return "'" + cs[0].system + "#" + cs[0].code + "'"
}
