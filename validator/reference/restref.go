package reference

import "strings"

// restRef is a RESTful reference: [base/]Type/id[/_history/version].
type restRef struct {
	Base, Type, ID, Version string // Base is "" for a relative reference
}

func isIDChar(c byte) bool {
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'
}

func validID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isIDChar(s[i]) {
			return false
		}
	}
	return true
}

func letters(s string, upperFirst bool, min int) bool {
	if len(s) < min {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) {
			return false
		}
	}
	return !upperFirst || (s[0] >= 'A' && s[0] <= 'Z')
}

// splitTail splits "…/Type/id[/_history/v]" off the end of s.
// head is nil when nothing precedes Type (not even an empty segment).
func splitTail(s string) (head []string, typ, id, version string, ok bool) {
	segs := strings.Split(s, "/")
	n := len(segs)
	if n >= 4 && segs[n-2] == "_history" {
		version = segs[n-1]
		if !validID(version) {
			return nil, "", "", "", false
		}
		n -= 2
	}
	if n < 2 {
		return nil, "", "", "", false
	}
	typ, id = segs[n-2], segs[n-1]
	if n > 2 {
		head = segs[:n-2]
	}
	return head, typ, id, version, validID(id)
}

// parseRelative reads Type/id[/_history/version] (the type in letters).
func parseRelative(s string) (restRef, bool) {
	head, typ, id, version, ok := splitTail(s)
	if !ok || head != nil || !letters(typ, false, 1) {
		return restRef{}, false
	}
	return restRef{Type: typ, ID: id, Version: version}, true
}

// parseAbsolute reads http(s)://…/Type/id[/_history/version], the type
// starting with a capital, as a FHIR RESTful address does.
func parseAbsolute(s string) (restRef, bool) {
	rest, ok := strings.CutPrefix(s, "http://")
	if !ok {
		if rest, ok = strings.CutPrefix(s, "https://"); !ok {
			return restRef{}, false
		}
	}
	if strings.ContainsAny(s, " \t\n\r\f") {
		return restRef{}, false
	}
	head, typ, id, version, ok := splitTail(rest)
	if !ok || head == nil || !letters(typ, true, 2) {
		return restRef{}, false
	}
	h := strings.Join(head, "/")
	if h == "" {
		return restRef{}, false // [^\s]+ needs at least one character
	}
	return restRef{Base: s[:len(s)-len(rest)] + h, Type: typ, ID: id, Version: version}, true
}
