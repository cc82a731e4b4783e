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

// splitTail splits "…/Type/id[/_history/v]" off the end of s; head is
// what precedes "/Type" (hasHead is false when nothing, not even an empty
// segment, does). It reads s from the end and allocates nothing: a Bundle
// resolves every reference through it.
func splitTail(s string) (head string, hasHead bool, typ, id, version string, ok bool) {
	// slash[k] is the offset of the (k+1)th slash from the end.
	var slash [4]int
	n := 0
	for i := len(s) - 1; i >= 0 && n < len(slash); i-- {
		if s[i] == '/' {
			slash[n] = i
			n++
		}
	}
	// seg(k) is the (k+1)th segment from the end, for k < n+1.
	seg := func(k int) string {
		end := len(s)
		if k > 0 {
			end = slash[k-1]
		}
		if k < n {
			return s[slash[k]+1 : end]
		}
		return s[:end]
	}
	// segments in s: n+1 when fewer than len(slash) slashes were found,
	// more otherwise.
	last := 0 // index of the id segment from the end
	if n >= 3 && seg(1) == "_history" {
		version = seg(0)
		if !validID(version) {
			return "", false, "", "", "", false
		}
		last = 2
	}
	if n < last+1 {
		return "", false, "", "", "", false
	}
	typ, id = seg(last+1), seg(last)
	if n > last+1 {
		head, hasHead = s[:slash[last+1]], true
	}
	return head, hasHead, typ, id, version, validID(id)
}

// parseRelative reads Type/id[/_history/version] (the type in letters).
func parseRelative(s string) (restRef, bool) {
	_, hasHead, typ, id, version, ok := splitTail(s)
	if !ok || hasHead || !letters(typ, false, 1) {
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
	h, hasHead, typ, id, version, ok := splitTail(rest)
	if !ok || !hasHead || !letters(typ, true, 2) {
		return restRef{}, false
	}
	if h == "" {
		return restRef{}, false // [^\s]+ needs at least one character
	}
	// h is a prefix of rest, so the base is a prefix of s.
	return restRef{Base: s[:len(s)-len(rest)+len(h)], Type: typ, ID: id, Version: version}, true
}
