package structure

import (
	"encoding/xml"
	"io"
	"regexp"
	"strings"

	"github.com/sandkasse/sandkasse/validator/issue"
)

const xhtmlNS = "http://www.w3.org/1999/xhtml"

// The narrative rules of R4 (txt-1, txt-2): only basic XHTML formatting, no
// active content, and some text. They are checked here in Go because their
// FHIRPath form is just htmlChecks().
var allowedXHTML = map[string]bool{
	"a": true, "abbr": true, "acronym": true, "b": true, "big": true, "blockquote": true, "br": true,
	"caption": true, "cite": true, "code": true, "col": true, "colgroup": true, "dd": true, "dfn": true,
	"div": true, "dl": true, "dt": true, "em": true, "h1": true, "h2": true, "h3": true, "h4": true,
	"h5": true, "h6": true, "hr": true, "i": true, "img": true, "li": true, "ol": true, "p": true,
	"pre": true, "q": true, "samp": true, "small": true, "span": true, "strong": true, "sub": true,
	"sup": true, "table": true, "tbody": true, "td": true, "tfoot": true, "th": true, "thead": true,
	"tr": true, "tt": true, "ul": true, "var": true,
}

var allowedAttr = map[string]bool{
	"abbr": true, "accesskey": true, "align": true, "alt": true, "axis": true, "bgcolor": true,
	"border": true, "cellhalign": true, "cellpadding": true, "cellspacing": true, "cellvalign": true,
	"char": true, "charoff": true, "charset": true, "cite": true, "class": true, "colspan": true,
	"compact": true, "coords": true, "dir": true, "frame": true, "headers": true, "height": true,
	"href": true, "hreflang": true, "hspace": true, "id": true, "lang": true, "longdesc": true,
	"name": true, "nowrap": true, "rel": true, "rev": true, "rowspan": true, "rules": true,
	"scope": true, "shape": true, "span": true, "src": true, "start": true, "style": true,
	"summary": true, "tabindex": true, "title": true, "type": true, "valign": true, "value": true,
	"vspace": true, "width": true, "xmlns": true, "space": true,
}

type xhtmlProblem struct {
	sev  issue.Severity
	code string
	msg  string
}

// checkXHTML applies the Narrative.div rules. Messages name tags and
// attributes, never text content.
func checkXHTML(s string) []xhtmlProblem {
	if out, ok := quickXHTML(s); ok {
		return out
	}
	return slowXHTML(s)
}

const errSev = issue.Error

// slowXHTML is the encoding/xml path, for narratives quickXHTML declines.
func slowXHTML(s string) []xhtmlProblem {
	var out []xhtmlProblem
	add := func(code, msg string) { out = append(out, xhtmlProblem{issue.Error, code, msg}) }
	d := xml.NewDecoder(strings.NewReader(s))
	d.Strict = true
	d.Entity = xml.HTMLEntity
	depth := 0
	rootSeen, content := false, false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			add("xhtml-malformed", "the narrative is not well-formed XHTML")
			return out
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				if rootSeen {
					add("xhtml-root", "the narrative must have exactly one root div element")
				}
				rootSeen = true
				if t.Name.Local != "div" || t.Name.Space != xhtmlNS {
					add("xhtml-root", "the narrative root must be a div in the XHTML namespace ("+xhtmlNS+")")
				}
			} else if t.Name.Space != xhtmlNS || !allowedXHTML[t.Name.Local] {
				add("txt-1", "the narrative may contain only basic HTML formatting elements; <"+truncate(t.Name.Local, 32)+"> is not allowed")
			}
			if t.Name.Local == "img" {
				content = true
			}
			for _, a := range t.Attr {
				local := strings.ToLower(a.Name.Local)
				if strings.HasPrefix(local, "on") || !(allowedAttr[local] || a.Name.Space == "xmlns" || a.Name.Space == "http://www.w3.org/XML/1998/namespace") {
					add("txt-1", "the narrative may not use the attribute '"+truncate(a.Name.Local, 32)+"'")
				}
				if (local == "href" || local == "src") && strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Value)), "javascript:") {
					add("txt-1", "the narrative may not contain script links")
				}
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 {
				if strings.TrimSpace(string(t)) != "" {
					add("xhtml-root", "text outside the root div")
				}
			} else if strings.TrimSpace(string(t)) != "" {
				content = true
			}
		case xml.ProcInst, xml.Directive:
			if depth > 0 {
				add("txt-1", "the narrative may not contain processing instructions or directives")
			}
		}
	}
	if !rootSeen {
		add("xhtml-root", "the narrative must be a div element")
	} else if !content {
		add("txt-2", "the narrative must have some non-whitespace content")
	}
	return out
}

// htmlTag finds something a browser would read as a tag: '<' then a letter,
// '/', '!' or '?'. A lone '<' as in "a < b" is text.
var htmlTag = regexp.MustCompile(`<[A-Za-z/!?]`)

func looksLikeHTML(s string) bool { return htmlTag.MatchString(s) }
