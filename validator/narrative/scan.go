package narrative

import "strings"

// link is an <a href="#target"> of a narrative and where it stands
// (div/table/tr/td/a).
type link struct {
	target, path string
}

// scanXHTML reads the tags of a narrative (already checked to be
// well-formed XHTML by the structure pass; on anything else it stops or
// skips, never fails) and calls onLink for each <a> whose href starts with
// "#" and names something, and onAnchor for each id or name attribute.
// Either may be nil. Attribute values are compared as written: the
// entities of XHTML are not decoded on either side.
func scanXHTML(s string, onLink func(link), onAnchor func(string)) {
	var stack []string
	for i := 0; i < len(s); {
		j := strings.IndexByte(s[i:], '<')
		if j < 0 {
			return
		}
		i += j + 1
		if i >= len(s) {
			return
		}
		switch s[i] {
		case '!':
			end := ">"
			if strings.HasPrefix(s[i:], "!--") {
				end = "-->"
			} else if strings.HasPrefix(s[i:], "![CDATA[") {
				end = "]]>"
			}
			k := strings.Index(s[i:], end)
			if k < 0 {
				return
			}
			i += k + len(end)
			continue
		case '?':
			k := strings.Index(s[i:], "?>")
			if k < 0 {
				return
			}
			i += k + 2
			continue
		case '/':
			k := strings.IndexByte(s[i:], '>')
			if k < 0 {
				return
			}
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			i += k + 1
			continue
		}
		// A start tag: its name, then attributes up to > or />.
		k := i
		for k < len(s) && !isSpace(s[k]) && s[k] != '>' && s[k] != '/' {
			k++
		}
		name := s[i:k]
		if c := strings.IndexByte(name, ':'); c >= 0 {
			name = name[c+1:] // xhtml:a
		}
		stack = append(stack, name)
		href := ""
		closed := false
		for k < len(s) {
			for k < len(s) && isSpace(s[k]) {
				k++
			}
			if k >= len(s) {
				return
			}
			if s[k] == '>' {
				k++
				break
			}
			if s[k] == '/' {
				closed = true
				k++
				continue
			}
			a := k
			for k < len(s) && !isSpace(s[k]) && s[k] != '=' && s[k] != '>' && s[k] != '/' {
				k++
			}
			attr := s[a:k]
			for k < len(s) && isSpace(s[k]) {
				k++
			}
			if k >= len(s) || s[k] != '=' {
				continue // an attribute without a value is not XHTML; skip it
			}
			k++
			for k < len(s) && isSpace(s[k]) {
				k++
			}
			if k >= len(s) || (s[k] != '"' && s[k] != '\'') {
				return
			}
			q := s[k]
			e := strings.IndexByte(s[k+1:], q)
			if e < 0 {
				return
			}
			val := s[k+1 : k+1+e]
			k += e + 2
			switch attr {
			case "href":
				href = val
			case "id", "name":
				if onAnchor != nil && val != "" {
					onAnchor(val)
				}
			}
		}
		if onLink != nil && name == "a" && len(href) > 1 && href[0] == '#' {
			onLink(link{target: href[1:], path: strings.Join(stack, "/")})
		}
		if closed {
			stack = stack[:len(stack)-1]
		}
		i = k
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
