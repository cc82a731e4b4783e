package questionnaire

import (
	"math/big"

	"github.com/sandkasse/sandkasse/validator/element"
)

type enableState uint8

const (
	enabled enableState = iota
	disabled
	// unknown: the item's enablement needs what we do not evaluate
	// (enableWhenExpression); it is neither required nor forbidden.
	unknown
)

// enabled evaluates d's enableWhen conditions against the answers in the
// response. scope is where the item's response would stand: the question an
// enableWhen names is looked up there first, then in ever wider scopes, so
// that in a repeating group each repetition reads its own answers.
func (c *checker) enabled(d *qItem, scope *element.Element) enableState {
	if d.enableExpr {
		return unknown
	}
	if len(d.enableWhen) == 0 {
		return enabled
	}
	all := d.enableBehavior == "all"
	for _, ew := range d.enableWhen {
		ok, known := c.condition(ew, scope)
		if !known {
			return unknown
		}
		if all && !ok {
			return disabled
		}
		if !all && ok {
			return enabled
		}
	}
	if all {
		return enabled
	}
	return disabled
}

// condition evaluates one enableWhen; known is false for an operator or
// answer type we do not understand.
func (c *checker) condition(ew, scope *element.Element) (ok, known bool) {
	question := value(ew.First("question"))
	op := value(ew.First("operator"))
	want := ew.First("answer")
	if question == "" || want == nil {
		return false, false
	}
	answers := c.answersFor(question, scope)
	if op == "exists" {
		return (len(answers) > 0) == (want.Value == "true"), true
	}
	for _, a := range answers {
		v := a.First("value")
		if v == nil {
			continue
		}
		cmp, comparable := compareAnswer(v, want)
		if !comparable {
			continue
		}
		switch op {
		case "=":
			if cmp == 0 {
				return true, true
			}
		case "!=":
			if cmp == 0 {
				return false, true
			}
		case ">":
			if cmp > 0 {
				return true, true
			}
		case "<":
			if cmp < 0 {
				return true, true
			}
		case ">=":
			if cmp >= 0 {
				return true, true
			}
		case "<=":
			if cmp <= 0 {
				return true, true
			}
		default:
			return false, false
		}
	}
	// "!=" holds when some answer exists and none equals the value; with no
	// answer at all there is nothing to compare, as in the reference
	// validator.
	if op == "!=" {
		return len(answers) > 0, true
	}
	return false, true
}

// answersFor collects the answers given to linkID, searching scope and then
// its ancestors. The response's items are indexed by linkId once, so a large
// response with an enableWhen on every item is not walked once per item.
func (c *checker) answersFor(linkID string, scope *element.Element) []*element.Element {
	if c.byLink == nil {
		c.byLink = map[string][]*element.Element{}
		c.index(c.qr)
	}
	items := c.byLink[linkID]
	for s := scope; s != nil; s = s.Parent {
		var out []*element.Element
		found := false
		for _, it := range items {
			if within(it, s) {
				found = true
				out = append(out, it.Child("answer")...)
			}
		}
		if found {
			return out
		}
		if s.IsResource {
			break
		}
	}
	return nil
}

// index records every response item by linkId, through nested items and
// answers (not contained resources).
func (c *checker) index(e *element.Element) {
	for _, it := range e.Child("item") {
		if l := value(it.First("linkId")); l != "" {
			c.byLink[l] = append(c.byLink[l], it)
		}
		c.index(it)
		for _, a := range it.Child("answer") {
			c.index(a)
		}
	}
}

func within(e, ancestor *element.Element) bool {
	for x := e.Parent; x != nil; x = x.Parent {
		if x == ancestor {
			return true
		}
	}
	return false
}

// compareAnswer compares a response value with an enableWhen answer[x]:
// -1, 0, 1, comparable false when the types do not meet.
func compareAnswer(v, want *element.Element) (int, bool) {
	switch want.Type {
	case "boolean", "string":
		if v.Type != want.Type {
			return 0, false
		}
		if v.Value == want.Value {
			return 0, true
		}
		if want.Type == "string" {
			if v.Value < want.Value {
				return -1, true
			}
			return 1, true
		}
		return 1, true
	case "integer", "decimal":
		if v.Type != "integer" && v.Type != "decimal" {
			return 0, false
		}
		return compareDecimal(v.Value, want.Value)
	case "date", "dateTime", "time":
		if v.Type != "date" && v.Type != "dateTime" && v.Type != "time" {
			return 0, false
		}
		return compareTemporal(v.Value, want.Value)
	case "Coding":
		if v.Type != "Coding" {
			return 0, false
		}
		ws, wc := value(want.First("system")), value(want.First("code"))
		vs, vc := value(v.First("system")), value(v.First("code"))
		if wc == vc && (ws == "" || ws == vs) {
			return 0, true
		}
		return 1, true
	case "Quantity":
		if v.Type != "Quantity" {
			return 0, false
		}
		if value(v.First("code")) != value(want.First("code")) || value(v.First("system")) != value(want.First("system")) {
			return 0, false
		}
		return compareDecimal(value(v.First("value")), value(want.First("value")))
	case "Reference":
		if v.Type != "Reference" {
			return 0, false
		}
		if value(v.First("reference")) == value(want.First("reference")) {
			return 0, true
		}
		return 1, true
	}
	return 0, false
}

func compareDecimal(a, b string) (int, bool) {
	x, ok1 := new(big.Rat).SetString(a)
	y, ok2 := new(big.Rat).SetString(b)
	if !ok1 || !ok2 {
		return 0, false
	}
	return x.Cmp(y), true
}
