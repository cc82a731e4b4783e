package structure

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// quickXHTML applies the narrative rules to the common case without
// encoding/xml, which allocates per token and was a tenth of all validation
// time. Anything outside the plain subset it understands (named HTML
// entities, CDATA, comments, namespace prefixes, odd bytes) makes it give up
// (ok false), and checkXHTML then uses encoding/xml, so results never
// depend on which path ran; a test holds the two to the same answers.
func quickXHTML(s string) (out []xhtmlProblem, ok bool) {
	if !utf8.ValidString(s) {
		return nil, false
	}
	var stack [32]string
	depth := 0
	rootSeen, rootClosed, content := false, false, false
	i := 0
	n := len(s)
	for i < n {
		c := s[i]
		switch {
		case c == '<':
			if i+1 >= n {
				return nil, false
			}
			if s[i+1] == '/' {
				j := i + 2
				start := j
				for j < n && isNameByte(s[j]) {
					j++
				}
				name := s[start:j]
				for j < n && isSpace(s[j]) {
					j++
				}
				if j >= n || s[j] != '>' || depth == 0 || stack[depth-1] != name {
					return nil, false
				}
				depth--
				if depth == 0 {
					rootClosed = true
				}
				i = j + 1
				continue
			}
			if rootClosed || depth >= len(stack) {
				return nil, false
			}
			j := i + 1
			start := j
			for j < n && isNameByte(s[j]) {
				j++
			}
			name := s[start:j]
			if name == "" || !isLetter(name[0]) || strings.IndexByte(name, ':') >= 0 {
				return nil, false
			}
			if depth == 0 {
				rootSeen = true
				if name != "div" {
					return nil, false
				}
			} else if !allowedElement(name) {
				out = append(out, xhtmlProblem{errSev, "txt-1", "the narrative may contain only basic HTML formatting elements; <" + truncate(name, 32) + "> is not allowed"})
			}
			if name == "img" {
				content = true
			}
			var seen [16]string
			nattr := 0
			hasNS := false
			for {
				k := j
				for j < n && isSpace(s[j]) {
					j++
				}
				if j >= n {
					return nil, false
				}
				if s[j] == '>' || (s[j] == '/' && j+1 < n && s[j+1] == '>') {
					break
				}
				if j == k { // attributes must be separated by space
					return nil, false
				}
				as := j
				for j < n && isNameByte(s[j]) {
					j++
				}
				an := s[as:j]
				if an == "" || !isLetter(an[0]) || nattr >= len(seen) {
					return nil, false
				}
				for _, x := range seen[:nattr] {
					if x == an {
						return nil, false
					}
				}
				seen[nattr] = an
				nattr++
				for j < n && isSpace(s[j]) {
					j++
				}
				if j >= n || s[j] != '=' {
					return nil, false
				}
				j++
				for j < n && isSpace(s[j]) {
					j++
				}
				if j >= n || (s[j] != '"' && s[j] != '\'') {
					return nil, false
				}
				q := s[j]
				j++
				vs := j
				for j < n && s[j] != q {
					if s[j] == '<' || (s[j] < 0x20 && s[j] != '\t' && s[j] != '\n' && s[j] != '\r') {
						return nil, false
					}
					if s[j] == '&' {
						e, _, ok := entity(s, j)
						if !ok {
							return nil, false
						}
						j = e
						continue
					}
					j++
				}
				if j >= n {
					return nil, false
				}
				val := s[vs:j]
				j++
				local := strings.ToLower(an)
				if strings.IndexByte(an, ':') >= 0 {
					if an != "xml:lang" && an != "xml:space" {
						return nil, false
					}
					local = an[4:]
				}
				if an == "xmlns" {
					if val != xhtmlNS {
						return nil, false
					}
					hasNS = true
					continue
				}
				if strings.HasPrefix(local, "on") || !allowedAttribute(local) {
					out = append(out, xhtmlProblem{errSev, "txt-1", "the narrative may not use the attribute '" + truncate(an, 32) + "'"})
				}
				if (local == "href" || local == "src") && strings.HasPrefix(strings.ToLower(strings.TrimSpace(val)), "javascript:") {
					out = append(out, xhtmlProblem{errSev, "txt-1", "the narrative may not contain script links"})
				}
			}
			if depth == 0 && !hasNS {
				return nil, false
			}
			if s[j] == '/' {
				i = j + 2
				if depth == 0 {
					rootClosed = true
				}
				continue
			}
			stack[depth] = name
			depth++
			i = j + 1
		case c == '&':
			e, r, ok := entity(s, i)
			if !ok || depth == 0 {
				return nil, false
			}
			// encoding/xml decodes the reference: &#x20; is whitespace.
			if !unicode.IsSpace(r) {
				content = true
			}
			i = e
		case c < 0x20 && c != '\t' && c != '\n' && c != '\r':
			return nil, false
		case c == '>' || (c == ']' && strings.HasPrefix(s[i:], "]]>")):
			return nil, false
		default:
			if c >= utf8.RuneSelf {
				// Whitespace is what strings.TrimSpace trims, which takes
				// in Unicode spaces such as U+00A0.
				if depth == 0 {
					return nil, false
				}
				r, size := utf8.DecodeRuneInString(s[i:])
				if !unicode.IsSpace(r) {
					content = true
				}
				i += size
				continue
			}
			if !isSpace(c) {
				if depth == 0 {
					return nil, false
				}
				content = true
			}
			i++
			if content && depth > 0 {
				// Inside the root, after some content: skip the plain text
				// up to the next byte any case above handles.
				for i < n && plainText[s[i]] {
					i++
				}
			}
		}
	}
	if !rootSeen || !rootClosed || depth != 0 {
		return nil, false
	}
	if !content {
		out = append(out, xhtmlProblem{errSev, "txt-2", "the narrative must have some non-whitespace content"})
	}
	return out, true
}

// entity checks a character or predefined entity reference at s[i] ('&')
// and returns the index after it and the character it stands for.
func entity(s string, i int) (int, rune, bool) {
	j := strings.IndexByte(s[i:], ';')
	if j < 0 || j > 12 {
		return 0, 0, false
	}
	ref := s[i+1 : i+j]
	switch ref {
	case "lt":
		return i + j + 1, '<', true
	case "gt":
		return i + j + 1, '>', true
	case "amp":
		return i + j + 1, '&', true
	case "quot":
		return i + j + 1, '"', true
	case "apos":
		return i + j + 1, '\'', true
	}
	if len(ref) > 1 && ref[0] == '#' {
		digits := ref[1:]
		hex := false
		if digits[0] == 'x' {
			digits, hex = digits[1:], true
		}
		if digits == "" {
			return 0, 0, false
		}
		for k := 0; k < len(digits); k++ {
			d := digits[k]
			if !(d >= '0' && d <= '9') && !(hex && ((d >= 'a' && d <= 'f') || (d >= 'A' && d <= 'F'))) {
				return 0, 0, false
			}
		}
		if len(digits) > 5 || (!hex && digits[0] == '0') {
			return 0, 0, false
		}
		base := 10
		if hex {
			base = 16
		}
		v, err := strconv.ParseUint(digits, base, 32)
		r := rune(v)
		// The characters XML allows (encoding/xml refuses the others).
		if err != nil || !(r == 0x9 || r == 0xA || r == 0xD || (r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)) {
			return 0, 0, false
		}
		return i + j + 1, r, true
	}
	return 0, 0, false
}

// plainText marks the bytes the default case passes over without a
// decision: all but '<', '&', '>', ']' and the control characters other
// than tab, newline and carriage return.
var plainText = func() (t [256]bool) {
	for c := range t {
		t[c] = c >= 0x20 || c == '\t' || c == '\n' || c == '\r'
	}
	t['<'], t['&'], t['>'], t[']'] = false, false, false, false
	return t
}()

// allowedElement is allowedXHTML[name] as a switch, which the compiler
// turns into a search cheaper than hashing the name.
func allowedElement(name string) bool {
	switch name {
	case "a", "abbr", "acronym", "b", "big", "blockquote", "br",
		"caption", "cite", "code", "col", "colgroup", "dd", "dfn",
		"div", "dl", "dt", "em", "h1", "h2", "h3", "h4",
		"h5", "h6", "hr", "i", "img", "li", "ol", "p",
		"pre", "q", "samp", "small", "span", "strong", "sub",
		"sup", "table", "tbody", "td", "tfoot", "th", "thead",
		"tr", "tt", "ul", "var":
		return true
	}
	return false
}

// allowedAttribute is allowedAttr[name] as a switch.
func allowedAttribute(name string) bool {
	switch name {
	case "abbr", "accesskey", "align", "alt", "axis", "bgcolor",
		"border", "cellhalign", "cellpadding", "cellspacing", "cellvalign",
		"char", "charoff", "charset", "cite", "class", "colspan",
		"compact", "coords", "dir", "frame", "headers", "height",
		"href", "hreflang", "hspace", "id", "lang", "longdesc",
		"name", "nowrap", "rel", "rev", "rowspan", "rules",
		"scope", "shape", "span", "src", "start", "style",
		"summary", "tabindex", "title", "type", "valign", "value",
		"vspace", "width", "xmlns", "space":
		return true
	}
	return false
}

func isSpace(c byte) bool  { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
func isLetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
func isNameByte(c byte) bool {
	return isLetter(c) || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == ':'
}
