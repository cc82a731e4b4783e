package questionnaire

import (
	"fmt"

	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/issue"
)

// CheckQuestionnaire applies the reference validator's checks on a
// Questionnaire's own enableWhen conditions: each must name a question that
// exists, is not the item itself and is not nested inside it; one that comes
// after the item is only warned about, since forms may still evaluate it.
// Several conditions need an enableBehavior (que-12).
func CheckQuestionnaire(q *element.Element, pos func(*element.Element) (line, col int)) issue.List {
	if q == nil || q.Type != "Questionnaire" {
		return nil
	}
	c := &checker{opts: Options{Pos: pos}}
	f := newForm(q, nil)
	order := map[*qItem]int{}
	var number func([]*qItem)
	number = func(items []*qItem) {
		for _, d := range items {
			order[d] = len(order)
			number(d.items)
		}
	}
	number(f.items)
	var walk func([]*qItem)
	walk = func(items []*qItem) {
		for _, d := range items {
			// que-12 as its human text states it; the R4 expression reads
			// "count() > 2", an erratum the reference validator corrects, so
			// the invariant pass alone would miss two conditions without
			// enableBehavior.
			if len(d.enableWhen) > 1 && d.enableBehavior == "" {
				c.at(d.e, issue.Error, "que-12", "invariant",
					fmt.Sprintf("Constraint failed: que-12: item '%s' has more than one enableWhen, so enableBehavior must be specified", d.linkID))
			}
			for _, ew := range d.enableWhen {
				c.enableWhenTarget(f, d, ew, order)
			}
			walk(d.items)
		}
	}
	walk(f.items)
	return c.issues
}

func (c *checker) enableWhenTarget(f *form, d *qItem, ew *element.Element, order map[*qItem]int) {
	question := value(ew.First("question"))
	if question == "" {
		c.at(d.e, issue.Error, "q-enablewhen-no-question", "business-rule",
			fmt.Sprintf("the enableWhen of item '%s' does not name the question it depends on", d.linkID))
		return
	}
	if question == d.linkID {
		c.at(d.e, issue.Error, "q-enablewhen-self", "business-rule",
			fmt.Sprintf("the enableWhen of item '%s' refers to the item itself", d.linkID))
		return
	}
	if inside(d.items, question) {
		c.at(d.e, issue.Error, "q-enablewhen-inner", "business-rule",
			fmt.Sprintf("the enableWhen of item '%s' refers to '%s', which is nested inside the item", d.linkID, question))
		return
	}
	target := f.byLink[question]
	if target == nil {
		c.at(d.e, issue.Error, "q-enablewhen-no-target", "business-rule",
			fmt.Sprintf("the enableWhen of item '%s' refers to '%s', which is not an item of the questionnaire", d.linkID, question))
		return
	}
	for p := d.parent; p != nil; p = p.parent {
		if p == target {
			return
		}
	}
	if order[target] > order[d] {
		c.at(d.e, issue.Warning, "q-enablewhen-after", "business-rule",
			fmt.Sprintf("the enableWhen of item '%s' refers to '%s', which comes after it", d.linkID, question))
	}
}

func inside(items []*qItem, link string) bool {
	for _, d := range items {
		if d.linkID == link || inside(d.items, link) {
			return true
		}
	}
	return false
}
