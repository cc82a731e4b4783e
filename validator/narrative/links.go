// Package narrative checks what the XHTML of a resource's narrative says
// about the resource itself: an internal hyperlink (<a href="#x">) must
// lead somewhere, to an element id or an anchor (an id or name attribute)
// of the narratives in the same document, as the reference validator
// requires. Links to other documents are not followed (no network).
package narrative

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/issue"
)

// Pos gives an element's line and column.
type Pos func(*element.Element) (line, col int)

// Links checks the internal hyperlinks of the narratives of one document.
// The zero value with Root set is ready; the ids and anchors of the
// document are collected once, when the first internal link is met, so a
// Bundle of many resources costs one walk, and a document without internal
// links none.
type Links struct {
	Root *element.Element // the document: a Bundle's entries may link to each other
	// targets holds the element ids of the document and the anchors of
	// the narratives scanned so far; unscanned are the narratives not yet
	// scanned. A narrative is scanned only when it contains a target
	// looked for, so a Bundle of hundreds of narratives costs a substring
	// search in each, not a parse of each.
	targets   map[string]bool
	unscanned []*element.Element
}

// Check checks the internal hyperlinks of the narrative of resource r
// (r.text.div) against the element ids and XHTML anchors of the document.
func (nl *Links) Check(r *element.Element, pos Pos) issue.List {
	text := r.First("text")
	if text == nil {
		return nil
	}
	div := text.First("div")
	if div == nil || !mayLinkInside(div.Value) {
		return nil
	}
	var links []link
	var own []string // the narrative's own anchors, where most links lead
	scanXHTML(div.Value, func(l link) { links = append(links, l) }, func(a string) { own = append(own, a) })
	if len(links) == 0 {
		return nil
	}
	var out issue.List
	for i, l := range links {
		// Nearest first: the narrative itself, then its resource (the
		// ids of contained resources), then the whole document, whose
		// targets are collected once.
		if slices.Contains(own, l.target) || inside(r, l.target) {
			continue
		}
		if nl.targets == nil {
			nl.targets = map[string]bool{}
			nl.collect(nl.Root)
		}
		if nl.resolves(l.target) {
			continue
		}
		is := issue.Issue{Severity: issue.Error, Code: "narrative-link-unresolved", Type: "invalid",
			Expression: div.Path(),
			// The anchor and the link's text are narrative content,
			// which may be patient data: the finding names the link by
			// its place in the XHTML.
			Message: fmt.Sprintf("internal hyperlink %d of the narrative (at %s) points to an anchor that no element id, and no id or name attribute in the document's narratives, defines", i+1, l.path),
			Fix:     `make href="#x" name an id of the resource (or of an element in it), or an <a name="x"> or id="x" in the narrative`}
		if pos != nil {
			is.Line, is.Column = pos(div)
		}
		out = append(out, is)
	}
	return out
}

// mayLinkInside reports whether a narrative may hold an internal link: an
// href whose value starts with '#'. It is the whole cost of the check for
// almost every narrative, so it looks for the rare '#' (a vectorised byte
// search) and only then for the href before it.
func mayLinkInside(s string) bool {
	for off := 0; ; {
		i := strings.IndexByte(s[off:], '#')
		if i < 0 {
			return false
		}
		i += off
		off = i + 1
		j := i - 1
		if j < 0 || (s[j] != '"' && s[j] != '\'') {
			continue
		}
		j--
		eq := false
		for j >= 0 && (isSpace(s[j]) || (s[j] == '=' && !eq)) {
			eq = eq || s[j] == '='
			j--
		}
		if eq && j >= 3 && s[j-3:j+1] == "href" {
			return true
		}
	}
}

// inside reports whether an element at or below e has the id target, or a
// narrative below e has it as an anchor.
func inside(e *element.Element, target string) bool {
	if e.Name == "id" && e.HasValue && e.Value == target {
		return true
	}
	if e.Type == "xhtml" && strings.Contains(e.Value, target) {
		found := false
		scanXHTML(e.Value, nil, func(a string) { found = found || a == target })
		if found {
			return true
		}
	}
	for _, c := range e.Children {
		if inside(c, target) {
			return true
		}
	}
	return false
}

// collect adds the ids of every element at or below e (resources and
// elements alike) to targets, and its narratives to unscanned.
func (nl *Links) collect(e *element.Element) {
	if e == nil {
		return
	}
	if e.Name == "id" && e.HasValue {
		nl.targets[e.Value] = true
	}
	if e.Type == "xhtml" {
		nl.unscanned = append(nl.unscanned, e)
	}
	for _, c := range e.Children {
		nl.collect(c)
	}
}

// resolves reports whether target is an element id or an anchor (an id or
// name attribute) of a narrative of the document.
func (nl *Links) resolves(target string) bool {
	if nl.targets[target] {
		return true
	}
	keep := nl.unscanned[:0]
	for _, d := range nl.unscanned {
		if !strings.Contains(d.Value, target) {
			keep = append(keep, d)
			continue
		}
		scanXHTML(d.Value, nil, func(v string) { nl.targets[v] = true })
	}
	clear(nl.unscanned[len(keep):])
	nl.unscanned = keep
	return nl.targets[target]
}
