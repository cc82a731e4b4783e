package questionnaire

import (
	"encoding/base64"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/issue"
)

// answerTypes maps an R4 item type to the answer value types it takes; the
// first is the one named in messages. choice and open-choice take what an
// answerOption can hold.
var answerTypes = map[string][]string{
	"boolean":     {"boolean"},
	"decimal":     {"decimal"},
	"integer":     {"integer"},
	"date":        {"date"},
	"dateTime":    {"dateTime"},
	"time":        {"time"},
	"string":      {"string"},
	"text":        {"string"},
	"url":         {"uri"},
	"attachment":  {"Attachment"},
	"reference":   {"Reference"},
	"quantity":    {"Quantity"},
	"choice":      {"Coding", "date", "time", "integer", "string"},
	"open-choice": {"Coding", "date", "time", "integer", "string"},
}

// answer checks one answer of a question.
func (c *checker) answer(d *qItem, a *element.Element) {
	v := a.First("value")
	if v == nil {
		return
	}
	allowed, known := answerTypes[d.typ]
	if !known {
		// "question" is abstract and unknown codes are the Questionnaire's
		// problem: nothing to check the answer against.
		return
	}
	if !contains(allowed, v.Type) {
		if len(allowed) == 1 {
			c.at(v, issue.Error, "qr-answer-type", "structure",
				fmt.Sprintf("Answer value must be of the type %s not %s (item '%s')", allowed[0], v.Type, d.linkID))
		} else {
			c.at(v, issue.Error, "qr-answer-type", "structure",
				fmt.Sprintf("Answer value must be one of the types %s not %s (item '%s')", strings.Join(allowed, ", "), v.Type, d.linkID))
		}
		return
	}
	open := d.typ == "open-choice"
	choice := d.typ == "choice" || open
	switch v.Type {
	case "Coding":
		c.codingAnswer(d, a, v, open)
	case "string":
		if choice {
			c.stringChoice(d, a, v, open)
		} else {
			c.primitiveOption(d, v, "string")
			c.stringValueSet(d, v)
		}
		c.length(d, v)
		if d.typ == "string" && strings.ContainsAny(v.Value, "\r\n") {
			// Multi-line input belongs in a 'text' item; the reference
			// validator warns rather than rejects.
			c.at(v, issue.Warning, "qr-string-newline", "business-rule",
				fmt.Sprintf("The answer to item '%s' should not contain new line characters (use an item of type 'text' for multi-line answers)", d.linkID))
		}
	case "integer", "date", "time":
		if choice || len(d.options) > 0 {
			c.primitiveOption(d, v, v.Type)
		}
		c.limits(d, v)
	case "decimal", "dateTime":
		c.limits(d, v)
	case "uri":
		c.length(d, v)
	case "Quantity":
		c.quantity(d, v)
	case "Attachment":
		c.attachment(d, a, v)
	case "Reference":
		c.reference(d, v)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// codingAnswer checks a Coding against answerOption or answerValueSet.
func (c *checker) codingAnswer(d *qItem, a, v *element.Element, open bool) {
	switch {
	case len(d.options) > 0:
		var codings int
		for _, o := range d.options {
			ov := optionValue(o)
			if ov == nil || ov.Type != "Coding" {
				continue
			}
			codings++
			if sameCoding(ov, v) {
				return
			}
		}
		if codings == 0 && open {
			return
		}
		if codings == 0 {
			c.at(a, issue.Error, "qr-answer-option", "structure",
				fmt.Sprintf("the item '%s' has no coded answer options, so a Coding answer is not allowed", d.linkID))
			return
		}
		c.at(a, issue.Error, "qr-answer-option", "code-invalid",
			fmt.Sprintf("the coded answer is not one of the permitted answer options of item '%s'", d.linkID))
	case d.valueSet != "":
		system, code, display := value(v.First("system")), value(v.First("code")), value(v.First("display"))
		if system == "" && code == "" {
			if display != "" && open {
				return
			}
		}
		if system == "" {
			c.at(a, issue.Warning, "qr-coding-no-system", "code-invalid",
				fmt.Sprintf("Coding has no system, so the answer to item '%s' cannot be validated against its value set; a code with no system has no defined meaning", d.linkID))
			return
		}
		c.inValueSet(d, a, system, code, display,
			fmt.Sprintf("The coded answer to item '%s' is not in the options value set '%s'", d.linkID, d.valueSet))
	default:
		c.at(a, issue.Information, "qr-no-options", "structure",
			fmt.Sprintf("Cannot validate the coded answer to item '%s' because the questionnaire gives no answer options or value set", d.linkID))
	}
}

func sameCoding(a, b *element.Element) bool {
	return value(a.First("system")) == value(b.First("system")) && value(a.First("code")) == value(b.First("code"))
}

// inValueSet reports at e when system#code is decidedly not in the item's
// answer value set. An undecidable membership is not reported: the reference
// validator would ask a terminology server we may not have.
func (c *checker) inValueSet(d *qItem, e *element.Element, system, code, display, failure string) {
	res := c.validateCode(d.valueSet, system, code, display)
	switch {
	case res.notFound:
		c.at(e, issue.Warning, "qr-valueset-not-found", "code-invalid",
			fmt.Sprintf("The value set '%s' of item '%s' could not be found, so the answer was not checked against it", d.valueSet, d.linkID))
	case res.checked && !res.ok:
		msg := failure
		if res.msg != "" {
			msg += ": " + res.msg
		}
		c.at(e, issue.Error, "qr-answer-valueset", "code-invalid", msg)
	}
}

// stringChoice checks a string answer to a choice or open-choice item.
func (c *checker) stringChoice(d *qItem, a, v *element.Element, open bool) {
	if len(d.options) == 0 {
		c.at(a, issue.Information, "qr-no-options", "structure",
			fmt.Sprintf("Cannot validate the string answer to item '%s' because no option list is provided", d.linkID))
		return
	}
	if open {
		// Free text is what open-choice allows, but free text that spells a
		// coded option was probably meant to be that Coding.
		for _, o := range d.options {
			ov := optionValue(o)
			if ov != nil && ov.Type == "Coding" && v.Value != "" &&
				(v.Value == value(ov.First("display")) || v.Value == value(ov.First("code"))) {
				c.at(a, issue.Warning, "qr-string-matches-coding", "business-rule",
					fmt.Sprintf("The string answer to item '%s' matches an entry in its list of coded options, so it should probably be that Coding", d.linkID))
				return
			}
		}
		return
	}
	c.primitiveOption(d, v, "string")
}

// primitiveOption checks a string, integer, date or time answer against the
// item's answerOption list of the same type.
func (c *checker) primitiveOption(d *qItem, v *element.Element, typ string) {
	if len(d.options) == 0 {
		if d.typ == "choice" || d.typ == "open-choice" {
			c.at(v.Parent, issue.Information, "qr-no-options", "structure",
				fmt.Sprintf("Cannot validate the %s answer to item '%s' because no option list is provided", typ, d.linkID))
		}
		return
	}
	n := 0
	for _, o := range d.options {
		ov := optionValue(o)
		if ov == nil || ov.Type != typ {
			continue
		}
		n++
		if samePrimitive(typ, ov.Value, v.Value) {
			return
		}
	}
	if n == 0 {
		if d.typ == "open-choice" {
			return
		}
		c.at(v, issue.Error, "qr-answer-option", "structure",
			fmt.Sprintf("The option list of item '%s' has no values of type %s", d.linkID, typ))
		return
	}
	c.at(v, issue.Error, "qr-answer-option", "structure",
		fmt.Sprintf("The %s answer to item '%s' is not in the set of permitted values", typ, d.linkID))
}

func samePrimitive(typ, a, b string) bool {
	if typ == "integer" {
		x, e1 := strconv.ParseInt(a, 10, 64)
		y, e2 := strconv.ParseInt(b, 10, 64)
		return e1 == nil && e2 == nil && x == y
	}
	return a == b
}

// stringValueSet checks a string answer of a non-choice item against its
// answerValueSet: the string must be one of the set's codes.
func (c *checker) stringValueSet(d *qItem, v *element.Element) {
	if d.valueSet == "" || v.Value == "" {
		return
	}
	c.inValueSet(d, v, "", v.Value, "",
		fmt.Sprintf("The answer to item '%s' is not in the list of allowed values (value set '%s')", d.linkID, d.valueSet))
}

// exclusive applies questionnaire-optionExclusive: an exclusive option
// ("none of the above") cannot be chosen together with any other answer.
func (c *checker) exclusive(d *qItem, answers []*element.Element) {
	if len(answers) < 2 {
		return
	}
	for _, a := range answers {
		v := a.First("value")
		if v == nil {
			continue
		}
		for _, o := range d.options {
			ov := optionValue(o)
			if ov == nil || ov.Type != v.Type || !isTrue(extValues(o, extOptionExclusive)) {
				continue
			}
			same := false
			if v.Type == "Coding" {
				same = sameCoding(ov, v)
			} else {
				same = samePrimitive(v.Type, ov.Value, v.Value)
			}
			if same {
				c.at(a, issue.Error, "qr-option-exclusive", "business-rule",
					fmt.Sprintf("The selected answer is an exclusive option of item '%s' and cannot be combined with other answers", d.linkID))
			}
		}
	}
}

func isTrue(vs []*element.Element) bool {
	for _, v := range vs {
		if v.Value == "true" {
			return true
		}
	}
	return false
}

// length applies minLength (extension) and maxLength, counted in characters.
func (c *checker) length(d *qItem, v *element.Element) {
	n := utf8.RuneCountInString(v.Value)
	if d.minLength > 0 && n < d.minLength {
		c.at(v, issue.Error, "qr-min-length", "business-rule",
			fmt.Sprintf("The answer to item '%s' is shorter than the required minimum length of %d", d.linkID, d.minLength))
	}
	if d.maxLength > 0 && n > d.maxLength {
		c.at(v, issue.Error, "qr-max-length", "business-rule",
			fmt.Sprintf("The answer to item '%s' is longer than the allowed maximum length of %d", d.linkID, d.maxLength))
	}
}

// limits applies the minValue / maxValue extensions to numbers and dates.
func (c *checker) limits(d *qItem, v *element.Element) {
	for _, l := range extValues(d.e, extMinValue) {
		if cmp, ok := compareLimit(v, l); ok && cmp < 0 {
			c.at(v, issue.Error, "qr-min-value", "business-rule",
				fmt.Sprintf("The answer to item '%s' is less than the allowed minimum of %s", d.linkID, l.Value))
		}
	}
	for _, l := range extValues(d.e, extMaxValue) {
		if cmp, ok := compareLimit(v, l); ok && cmp > 0 {
			c.at(v, issue.Error, "qr-max-value", "business-rule",
				fmt.Sprintf("The answer to item '%s' is greater than the allowed maximum of %s", d.linkID, l.Value))
		}
	}
}

func compareLimit(v, l *element.Element) (int, bool) {
	numeric := func(t string) bool { return t == "integer" || t == "decimal" }
	temporal := func(t string) bool { return t == "date" || t == "dateTime" || t == "instant" || t == "time" }
	switch {
	case numeric(v.Type) && numeric(l.Type):
		return compareDecimal(v.Value, l.Value)
	case temporal(v.Type) && temporal(l.Type):
		return compareTemporal(v.Value, l.Value)
	}
	return 0, false
}

// quantity applies the SDC min/maxQuantity extensions (and minValue /
// maxValue holding a Quantity) and questionnaire-unitOption.
func (c *checker) quantity(d *qItem, v *element.Element) {
	check := func(l *element.Element, isMin bool) {
		if l.Type != "Quantity" {
			return
		}
		bound, rel := "maximum", "greater than"
		if isMin {
			bound, rel = "minimum", "less than"
		}
		cmp, why := compareQuantity(v, l)
		switch why {
		case "":
			if (isMin && cmp < 0) || (!isMin && cmp > 0) {
				c.at(v, issue.Error, "qr-quantity-"+bound[:3], "business-rule",
					fmt.Sprintf("The quantity answer to item '%s' is %s the allowed %s of %s", d.linkID, rel, bound, describeQuantity(l)))
			}
		case "undecided":
		default:
			c.at(v, issue.Error, "qr-quantity-incomparable", "business-rule",
				fmt.Sprintf("The quantity answer to item '%s' cannot be compared to the allowed %s of %s %s", d.linkID, bound, describeQuantity(l), why))
		}
	}
	for _, l := range append(extValues(d.e, extMinQuantity), extValues(d.e, extMinValue)...) {
		check(l, true)
	}
	for _, l := range append(extValues(d.e, extMaxQuantity), extValues(d.e, extMaxValue)...) {
		check(l, false)
	}
	units := extValues(d.e, extUnitOption)
	if len(units) == 0 {
		return
	}
	sys, code := value(v.First("system")), value(v.First("code"))
	var names []string
	for _, u := range units {
		us, uc := value(u.First("system")), value(u.First("code"))
		if uc != "" && uc == code && (us == "" || us == sys) {
			return
		}
		names = append(names, uc)
	}
	c.at(v, issue.Error, "qr-quantity-unit", "code-invalid",
		fmt.Sprintf("The unit of the quantity answer to item '%s' is not one of the permitted units (allowed = %s)", d.linkID, strings.Join(names, ", ")))
}

// describeQuantity renders a limit from the Questionnaire.
func describeQuantity(q *element.Element) string {
	s := value(q.First("value"))
	if u := value(q.First("unit")); u != "" {
		s += " " + u
	} else if c := value(q.First("code")); c != "" {
		s += " " + c
	}
	return s
}

// compareQuantity compares an answer with a limit. why is "" when cmp is
// meaningful, "undecided" when units we do not know may still convert, and
// otherwise the reason the two cannot be compared.
func compareQuantity(v, l *element.Element) (cmp int, why string) {
	vv, lv := value(v.First("value")), value(l.First("value"))
	vs, vc := value(v.First("system")), value(v.First("code"))
	ls, lc := value(l.First("system")), value(l.First("code"))
	if vv == "" || lv == "" {
		return 0, "undecided"
	}
	if vc == "" || lc == "" || vs == "" || ls == "" {
		return 0, "because no formal units are specified"
	}
	if vs == ls && vc == lc {
		n, ok := compareDecimal(vv, lv)
		if !ok {
			return 0, "undecided"
		}
		return n, ""
	}
	if vs != ucumSystem || ls != ucumSystem {
		return 0, "because the units are from different systems"
	}
	x, ok1 := new(big.Rat).SetString(vv)
	y, ok2 := new(big.Rat).SetString(lv)
	if !ok1 || !ok2 {
		return 0, "undecided"
	}
	xb, xd, ok1 := ucumCanonical(x, vc)
	yb, yd, ok2 := ucumCanonical(y, lc)
	if !ok1 || !ok2 {
		return 0, "undecided"
	}
	if xd != yd {
		return 0, "because the units are not comparable"
	}
	return xb.Cmp(yb), ""
}

// attachment applies mimeType and maxSize, and checks that a stated size
// matches the data.
func (c *checker) attachment(d *qItem, a, v *element.Element) {
	size := int64(-1)
	data := v.First("data")
	if data != nil && data.HasValue {
		if b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(data.Value), "")); err == nil {
			size = int64(len(b))
		}
	}
	if s := value(v.First("size")); s != "" {
		// A stated size that contradicts the data is the datatype
		// pass's finding, for every Attachment; here it only stands in for
		// absent data.
		stated, err := strconv.ParseInt(s, 10, 64)
		if err == nil && size < 0 {
			size = stated
		}
	}
	for _, m := range extValues(d.e, extMaxSize) {
		limit, ok := new(big.Rat).SetString(m.Value)
		if ok && size >= 0 && big.NewRat(size, 1).Cmp(limit) > 0 {
			c.at(a, issue.Error, "qr-attachment-size", "business-rule",
				fmt.Sprintf("The attachment answering item '%s' is too large (allowed = %s bytes)", d.linkID, m.Value))
		}
	}
	types := extValues(d.e, extMimeType)
	ct := value(v.First("contentType"))
	if len(types) == 0 || ct == "" {
		return
	}
	var names []string
	for _, t := range types {
		if mimeMatches(t.Value, ct) {
			return
		}
		names = append(names, t.Value)
	}
	c.at(a, issue.Error, "qr-attachment-type", "business-rule",
		fmt.Sprintf("The mime type of the attachment answering item '%s' is not allowed (allowed = %s)", d.linkID, strings.Join(names, ", ")))
}

func mimeMatches(pattern, ct string) bool {
	base := func(s string) string {
		if i := strings.IndexByte(s, ';'); i >= 0 {
			s = s[:i]
		}
		return strings.ToLower(strings.TrimSpace(s))
	}
	p, t := base(pattern), base(ct)
	if strings.HasSuffix(p, "/*") {
		return strings.HasPrefix(t, p[:len(p)-1])
	}
	return p == t
}

// reference applies questionnaire-referenceResource, and rejects references
// that cannot be a literal reference at all.
func (c *checker) reference(d *qItem, v *element.Element) {
	// The syntax of the reference and whether its type exists are the
	// reference pass's findings, for every Reference.
	ref := value(v.First("reference"))
	rt := value(v.First("type"))
	if rt == "" {
		rt = c.referenceType(ref)
	}
	if rt == "" {
		return
	}
	if c.opts.Registry != nil && !c.opts.Registry.IsResource(rt) {
		return
	}
	allowed := extValues(d.e, extReferenceResource)
	if len(allowed) == 0 {
		return
	}
	var names []string
	for _, a := range allowed {
		if a.Value == rt || a.Value == "Resource" || a.Value == "DomainResource" {
			return
		}
		names = append(names, a.Value)
	}
	// The type is named only once the registry has confirmed it is a FHIR
	// resource type; otherwise it is just text from the answer.
	named := ""
	if c.opts.Registry != nil {
		named = " '" + rt + "'"
	}
	c.at(v, issue.Error, "qr-reference-type", "business-rule",
		fmt.Sprintf("The referenced resource type%s is not allowed for item '%s' (allowed = %s)", named, d.linkID, strings.Join(names, ",")))
}

// referenceType reads the resource type from a literal reference: Type/id,
// a URL ending in Type/id[/_history/v], or #id of a contained resource.
func (c *checker) referenceType(ref string) string {
	if ref == "" || strings.HasPrefix(ref, "urn:") {
		return ""
	}
	if strings.HasPrefix(ref, "#") {
		for _, r := range c.qr.Child("contained") {
			if value(r.First("id")) == ref[1:] {
				return r.Type
			}
		}
		return ""
	}
	if i := strings.IndexAny(ref, "?#"); i >= 0 {
		ref = ref[:i]
	}
	parts := strings.Split(strings.TrimSuffix(ref, "/"), "/")
	if n := len(parts); n >= 4 && parts[n-2] == "_history" {
		parts = parts[:n-2]
	}
	if len(parts) < 2 {
		return ""
	}
	return parts[len(parts)-2]
}
