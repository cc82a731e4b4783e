// Package narrative checks what the XHTML of a resource's narrative says
// about the resource itself: an internal hyperlink (<a href="#x">) must
// lead somewhere, to an element id or an anchor (an id or name attribute)
// of the narratives in the same document, as the reference validator
// requires. Links to other documents are not followed (no network).
package narrative

import (
	"fmt"
	"strings"

	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/issue"
)

// Pos gives an element's line and column.
type Pos func(*element.Element) (line, col int)

// CheckLinks checks the internal hyperlinks of the narrative of resource r
// (r.text.div) against the element ids and XHTML anchors of the whole
// document r is in (root): a Bundle's entries may link to each other.
func CheckLinks(r, root *element.Element, pos Pos) issue.List {
	text := r.First("text")
	if text == nil {
		return nil
	}
	div := text.First("div")
	if div == nil || strings.IndexByte(div.Value, '#') < 0 {
		return nil // no internal link can be in it: the common case costs one byte search
	}
	var links []link
	scanXHTML(div.Value, func(l link) { links = append(links, l) }, nil)
	if len(links) == 0 {
		return nil
	}
	targets := map[string]bool{}
	collectTargets(root, targets)
	var out issue.List
	for i, l := range links {
		if targets[l.target] {
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

// collectTargets adds the ids of every element below e (resources and
// elements alike) and the id and name attributes of every narrative.
func collectTargets(e *element.Element, targets map[string]bool) {
	if e == nil {
		return
	}
	if e.Name == "id" && e.HasValue {
		targets[e.Value] = true
	}
	if e.Type == "xhtml" {
		scanXHTML(e.Value, nil, func(v string) { targets[v] = true })
	}
	for _, c := range e.Children {
		collectTargets(c, targets)
	}
}
