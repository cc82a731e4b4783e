// Package questionnaire checks a QuestionnaireResponse against the
// Questionnaire it names, as the HL7 reference validator does during base
// validation: every answered linkId must exist, answers must have the item's
// type and respect its options, value sets, limits and repetition, required
// items must be answered (errors when the response is completed, warnings
// while it is in progress) and disabled items must not carry answers.
//
// Answers are patient data: no message quotes an answer value. Messages name
// linkIds, item types and limits, which come from the Questionnaire.
package questionnaire

import (
	"fmt"
	"strings"

	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/issue"
	"github.com/sandkasse/sandkasse/validator/spec"
)

// Resolver finds Questionnaires by canonical URL ("url" or "url|version").
// It returns the typed tree of the Questionnaire resource, or nil.
type Resolver interface {
	Questionnaire(canonical string) *element.Element
}

// CanonicalTyper may also be implemented by a Resolver: it names the type of
// whatever resource answers to a canonical ("ValueSet"), or "" when none
// does. It lets Check report a questionnaire canonical that points at a
// resource of the wrong type, instead of only "not found".
type CanonicalTyper interface {
	CanonicalType(canonical string) string
}

// Terminology validates a coded answer against a ValueSet. checked is false
// when the service cannot decide (unknown value set, external code system);
// ok is then ignored. An empty system asks whether the code is in the value
// set under any system, which is how a plain string answer is checked against
// an answerValueSet. msg explains a failure and must not quote the code's
// display as given by the user.
type Terminology interface {
	ValidateCoding(valueSetURL, system, code, display string) (ok, checked bool, msg string)
}

// Options configure CheckWith.
type Options struct {
	Resolver    Resolver
	Terminology Terminology
	// Registry gives ValueSets, CodeSystems and resource types. When
	// Terminology is nil or cannot decide, answer value sets are checked
	// locally against it (enumerated concepts, complete code systems and
	// stored expansions; anything else is left undecided).
	Registry *spec.Registry
	// Pos gives an element's line and column; may be nil.
	Pos func(*element.Element) (line, col int)
}

// Check validates the QuestionnaireResponse qr (the root element of its typed
// tree) against its Questionnaire. It returns no issues when qr is not a
// QuestionnaireResponse.
func Check(qr *element.Element, res Resolver, term Terminology, pos func(*element.Element) (line, col int)) issue.List {
	return CheckWith(qr, Options{Resolver: res, Terminology: term, Pos: pos})
}

// CheckWith is Check with a registry for local terminology and resource
// types.
func CheckWith(qr *element.Element, opts Options) issue.List {
	if qr == nil || qr.Type != "QuestionnaireResponse" {
		return nil
	}
	c := &checker{opts: opts, qr: qr}
	c.run()
	return c.issues
}

type checker struct {
	opts       Options
	qr         *element.Element
	form       *form
	inProgress bool
	issues     issue.List
	// byLink indexes the response's items for enableWhen (see answersFor).
	byLink map[string][]*element.Element
}

func (c *checker) report(at *element.Element, expr string, sev issue.Severity, code, typ, msg string) {
	is := issue.Issue{Severity: sev, Code: code, Type: typ, Expression: expr, Message: msg}
	if at != nil && c.opts.Pos != nil && at.Node != nil {
		is.Line, is.Column = c.opts.Pos(at)
	}
	c.issues = append(c.issues, is)
}

// at reports on an element at its own path.
func (c *checker) at(e *element.Element, sev issue.Severity, code, typ, msg string) {
	c.report(e, e.Path(), sev, code, typ, msg)
}

func (c *checker) run() {
	qe := c.qr.First("questionnaire")
	canonical := value(qe)
	if canonical == "" {
		// The reference validator only hints here: a response without a
		// questionnaire is legal, it just cannot be checked.
		c.at(c.qr, issue.Information, "qr-no-questionnaire", "required",
			"the response does not name its questionnaire, so its items cannot be checked against one")
		return
	}
	q, container := c.resolve(canonical)
	if q == nil {
		if t := c.canonicalType(canonical); t != "" && t != "Questionnaire" {
			c.at(qe, issue.Error, "qr-questionnaire-wrong-type", "invalid",
				fmt.Sprintf("the canonical '%s' refers to a %s, not a Questionnaire", canonical, t))
		}
		sev := issue.Warning
		// Example canonicals are expected not to resolve; the reference
		// validator only hints about them.
		if strings.HasPrefix(canonical, "http://example.org") || strings.HasPrefix(canonical, "https://example.org") {
			sev = issue.Information
		}
		c.report(qe, c.qr.Path(), sev, "qr-questionnaire-not-found", "required",
			fmt.Sprintf("the questionnaire '%s' could not be resolved, so the response was not checked against it", canonical))
		return
	}
	c.form = newForm(q, container)
	c.inProgress = value(c.qr.First("status")) == "in-progress"
	c.checkPeriod(q)
	c.items(c.form.items, c.qr, nil, true)
}

// resolve finds the questionnaire: "#id" among the response's contained
// resources, anything else through the Resolver. container is the response
// when the questionnaire is contained, because its "#id" value sets then live
// in the response too.
func (c *checker) resolve(canonical string) (q, container *element.Element) {
	if strings.HasPrefix(canonical, "#") {
		if r := contained(c.qr, canonical[1:], "Questionnaire"); r != nil {
			return r, c.qr
		}
		return nil, nil
	}
	if c.opts.Resolver == nil {
		return nil, nil
	}
	q = c.opts.Resolver.Questionnaire(canonical)
	if q != nil && q.Type != "Questionnaire" {
		q = nil
	}
	return q, nil
}

func (c *checker) canonicalType(canonical string) string {
	if t, ok := c.opts.Resolver.(CanonicalTyper); ok && c.opts.Resolver != nil {
		return t.CanonicalType(canonical)
	}
	return ""
}

// checkPeriod compares authored with the questionnaire's effectivePeriod;
// the reference validator warns, because a form used out of its period may
// still be the right one.
func (c *checker) checkPeriod(q *element.Element) {
	authored := c.qr.First("authored")
	p := q.First("effectivePeriod")
	if authored == nil || p == nil || !authored.HasValue {
		return
	}
	if s := value(p.First("start")); s != "" {
		if cmp, ok := compareTemporal(authored.Value, s); ok && cmp < 0 {
			c.at(authored, issue.Warning, "qr-authored-before-period", "business-rule",
				fmt.Sprintf("the response was authored before the start of the questionnaire's effective period (%s)", s))
		}
	}
	if s := value(p.First("end")); s != "" {
		if cmp, ok := compareTemporal(authored.Value, s); ok && cmp > 0 {
			c.at(authored, issue.Warning, "qr-authored-after-period", "business-rule",
				fmt.Sprintf("the response was authored after the end of the questionnaire's effective period (%s)", s))
		}
	}
}

// items checks the response items under container (the response, an item of
// a group, or an answer) against the questionnaire items defined at that
// level. parentEnabled is false under a disabled item, so nothing below it is
// required.
func (c *checker) items(defs []*qItem, container *element.Element, parent *qItem, parentEnabled bool) {
	groups := map[*qItem][]*element.Element{}
	last := -1
	for _, it := range container.Child("item") {
		link := value(it.First("linkId"))
		if link == "" {
			c.report(it, container.Path(), issue.Error, "qr-item-no-linkid", "required",
				"the response item has no linkId, so it cannot be matched to the questionnaire")
			continue
		}
		idx := indexOf(defs, link)
		if idx < 0 {
			if d := c.form.byLink[link]; d != nil {
				c.report(it, container.Path(), issue.Error, "qr-item-misplaced", "structure",
					fmt.Sprintf("the item with linkId '%s' is in the wrong place: the questionnaire defines it elsewhere", link))
				c.item(d, it, c.enabled(d, it) != disabled && parentEnabled)
			} else {
				c.report(it, container.Path(), issue.Error, "qr-linkid-unknown", "not-found",
					fmt.Sprintf("LinkId '%s' not found in questionnaire", link))
			}
			continue
		}
		if idx < last {
			c.report(it, container.Path(), issue.Error, "qr-item-order", "structure",
				fmt.Sprintf("the item with linkId '%s' is out of order: items must follow the questionnaire's order", link))
		}
		last = idx
		groups[defs[idx]] = append(groups[defs[idx]], it)
	}
	for _, d := range defs {
		present := groups[d]
		state := unknown
		if parentEnabled {
			state = c.enabled(d, container)
		} else {
			state = disabled
		}
		if len(present) == 0 {
			c.missing(d, container, state)
			continue
		}
		if state == disabled {
			for _, it := range present {
				if len(it.Child("answer")) > 0 || len(it.Child("item")) > 0 {
					c.at(it, issue.Error, "qr-item-not-enabled", "invalid",
						fmt.Sprintf("the item '%s' has answers although it is not enabled (its enableWhen conditions are not met)", d.linkID))
				}
			}
		}
		if len(present) > 1 && !d.repeats {
			c.report(present[1], container.Path(), issue.Error, "qr-item-repeats", "invalid",
				fmt.Sprintf("only one response item with linkId '%s' is allowed, because the questionnaire item does not repeat", d.linkID))
		}
		if d.typ == "group" {
			c.occurs(d, present[0], container.Path(), len(present), "times")
		}
		for _, it := range present {
			c.item(d, it, state != disabled)
		}
	}
}

// missing reports a questionnaire item with no response item.
func (c *checker) missing(d *qItem, container *element.Element, state enableState) {
	if state != enabled {
		return
	}
	if d.required {
		c.report(container, container.Path(), c.requiredSeverity(), "qr-required-missing", "required",
			fmt.Sprintf("No response answer found for required item '%s'", d.linkID))
		return
	}
	if d.typ == "group" {
		if d.minOccurs > 0 {
			c.occurs(d, container, container.Path(), 0, "times")
		}
		return
	}
	if d.minOccurs > 0 {
		c.occurs(d, container, container.Path(), 0, "answers")
	}
}

// requiredSeverity: an in-progress response may still be incomplete.
func (c *checker) requiredSeverity() issue.Severity {
	if c.inProgress {
		return issue.Warning
	}
	return issue.Error
}

// occurs applies the minOccurs / maxOccurs extensions: for a group they
// count repetitions of the group, for a question its answers.
func (c *checker) occurs(d *qItem, at *element.Element, expr string, n int, what string) {
	if d.minOccurs > 0 && n < d.minOccurs {
		c.report(at, expr, c.requiredSeverity(), "qr-min-occurs", "required",
			fmt.Sprintf("The minimum number of %s for item '%s' is %d but this has %d", what, d.linkID, d.minOccurs, n))
	}
	if d.maxOccurs > 0 && n > d.maxOccurs {
		c.report(at, expr, issue.Error, "qr-max-occurs", "invalid",
			fmt.Sprintf("The maximum number of %s for item '%s' is %d but this has %d", what, d.linkID, d.maxOccurs, n))
	}
}

// item checks one response item against its definition.
func (c *checker) item(d *qItem, it *element.Element, isEnabled bool) {
	if text := value(it.First("text")); text != "" && text != d.text {
		c.at(it, issue.Error, "qr-item-text", "invalid",
			fmt.Sprintf("the item text differs from the questionnaire's text for linkId '%s'; if text is given it must match", d.linkID))
	}
	answers := it.Child("answer")
	children := it.Child("item")
	if isEnabled && d.typ != "group" && d.typ != "display" {
		if d.required && len(answers) == 0 {
			c.at(it, c.requiredSeverity(), "qr-required-missing", "required",
				fmt.Sprintf("No response answer found for required item '%s'", d.linkID))
		} else {
			c.occurs(d, it, it.Path(), len(answers), "answers")
		}
	}
	if len(answers) > 1 && !d.repeats && d.typ != "group" && d.typ != "display" {
		c.at(it, issue.Error, "qr-answer-repeats", "invalid",
			fmt.Sprintf("Only one response answer item with this linkId allowed: item '%s' does not repeat", d.linkID))
	}
	switch d.typ {
	case "":
		c.at(it, issue.Error, "qr-item-no-type", "required",
			fmt.Sprintf("the questionnaire item '%s' has no type, so its answers cannot be checked", d.linkID))
	case "group":
		if len(answers) > 0 {
			c.at(it, issue.Error, "qr-group-answer", "structure",
				fmt.Sprintf("Items of type 'group' cannot have answers (item '%s'); nest its items under item, not answer", d.linkID))
		}
		c.items(d.items, it, d, isEnabled)
		return
	case "display":
		if len(answers) > 0 {
			c.at(it, issue.Error, "qr-display-answer", "structure",
				fmt.Sprintf("Items of type 'display' cannot have answers (item '%s')", d.linkID))
		}
		if len(children) > 0 {
			c.at(it, issue.Error, "qr-display-items", "structure",
				fmt.Sprintf("Items of type 'display' cannot have child items (item '%s')", d.linkID))
		}
		return
	}
	c.exclusive(d, answers)
	for _, a := range answers {
		c.answer(d, a)
		c.items(d.items, a, d, isEnabled)
	}
	if len(children) > 0 {
		c.at(it, issue.Error, "qr-question-items", "structure",
			fmt.Sprintf("the question '%s' has child items directly under the item; items nested in a question belong under answer.item", d.linkID))
	}
}

func indexOf(defs []*qItem, link string) int {
	for i, d := range defs {
		if d.linkID == link {
			return i
		}
	}
	return -1
}

// value is the primitive value of e, or "".
func value(e *element.Element) string {
	if e == nil || !e.HasValue {
		return ""
	}
	return e.Value
}

// contained finds a contained resource of type rt by id.
func contained(res *element.Element, id, rt string) *element.Element {
	for _, r := range res.Child("contained") {
		if r.Type == rt && value(r.First("id")) == id {
			return r
		}
	}
	return nil
}
