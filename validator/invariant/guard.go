package invariant

import (
	"strings"

	"github.com/sandkasse/sandkasse/validator/element"
)

// Most constraints are about a child that is usually absent: dom-2..5 on
// every resource ask about contained resources, qty-3 about a Quantity's
// code, obs-6 about dataAbsentReason. guardOf reads such an expression
// and finds the children ("guards") whose absence alone decides that it
// passes, so that the FHIRPath need not run. The reading is deliberately
// narrow: the operators and, or, xor, implies (with the engine's
// short-circuits), parentheses, not(), and terms of the form
// path.empty(), path.exists(), path.hasValue(), path.all(…), a bare path
// and path compared with a literal, where path is a chain of lower-case
// names. Anything else makes the reading give up, and the FHIRPath runs.
// A test holds every constraint of the R4 core that has guards to the
// FHIRPath's answers on elements that lack them.

// outcome is the set of results an expression can have (and no error)
// when none of its guards is present; zero means unknown.
type outcome uint8

const (
	oTrue outcome = 1 << iota
	oFalse
	oEmpty
)

// guard is what guardOf found: the expression passes (is not false and
// does not fail) whenever none of names is a child of the focus.
type guard struct {
	names []string
}

// guardOf returns the guard of a constraint expression, or nil.
func guardOf(src string) *guard {
	out, names := analyze(strings.TrimSpace(src))
	if out == 0 || out&oFalse != 0 || len(names) == 0 {
		return nil
	}
	return &guard{names: names}
}

// absent reports whether none of g's names is a child of e, as FHIRPath
// navigation sees it (which also finds valueQuantity as the choice
// element value).
func (g *guard) absent(e *element.Element) bool {
	for _, c := range e.Children {
		for _, n := range g.names {
			if c.Name == n || (c.Choice && strings.HasPrefix(n, c.Name)) {
				return false
			}
		}
	}
	return true
}

// analyze returns the outcome of src and the guards it depends on.
func analyze(src string) (outcome, []string) {
	src = strings.TrimSpace(src)
	if src == "" {
		return 0, nil
	}
	// The four lowest operators, lowest first; each is left-associative,
	// so the last one at the top level is the root.
	if l, r, ok := splitLast(src, "implies"); ok {
		lo, lg := analyze(l)
		if lo == oFalse {
			return oTrue, lg // false implies anything: the right is not evaluated
		}
		ro, rg := analyze(r)
		if lo == 0 || ro == 0 {
			return 0, nil
		}
		return combine(lo, ro, impliesOf), append(lg, rg...)
	}
	if l, r, op, ok := splitLastOr(src); ok {
		lo, lg := analyze(l)
		if op == "or" && lo == oTrue {
			return oTrue, lg
		}
		ro, rg := analyze(r)
		if lo == 0 || ro == 0 {
			return 0, nil
		}
		f := orOf
		if op == "xor" {
			f = xorOf
		}
		return combine(lo, ro, f), append(lg, rg...)
	}
	if l, r, ok := splitLast(src, "and"); ok {
		lo, lg := analyze(l)
		if lo == oFalse {
			return oFalse, lg
		}
		ro, rg := analyze(r)
		if lo == 0 || ro == 0 {
			return 0, nil
		}
		return combine(lo, ro, andOf), append(lg, rg...)
	}
	return term(src)
}

// term reads an expression without and/or/xor/implies at its top level.
func term(src string) (outcome, []string) {
	if src[0] == '(' && closing(src, 0) == len(src)-1 {
		return analyze(src[1 : len(src)-1])
	}
	if rest, ok := strings.CutSuffix(src, ".not()"); ok {
		o, g := term(strings.TrimSpace(rest))
		return not(o), g
	}
	for _, op := range []string{"!=", "<=", ">=", "=", "<", ">"} {
		if i := topLevel(src, op); i > 0 {
			if !literal(strings.TrimSpace(src[i+len(op):])) {
				return 0, nil
			}
			if first := pathHead(strings.TrimSpace(src[:i])); first != "" {
				return oEmpty, []string{first} // an empty operand makes the comparison empty
			}
			return 0, nil
		}
	}
	if first := pathHead(src); first != "" {
		return oEmpty, []string{first}
	}
	for _, f := range []struct {
		suffix string
		out    outcome
	}{{".empty()", oTrue}, {".exists()", oFalse}, {".hasValue()", oFalse}} {
		if p, ok := strings.CutSuffix(src, f.suffix); ok {
			if first := pathHead(p); first != "" {
				return f.out, []string{first}
			}
			return 0, nil
		}
	}
	// path.all(criteria) is true on an empty collection, and the criteria
	// are not evaluated.
	if strings.HasSuffix(src, ")") {
		if i := strings.LastIndex(src, ".all("); i > 0 && closing(src, i+4) == len(src)-1 {
			if first := pathHead(src[:i]); first != "" {
				return oTrue, []string{first}
			}
		}
	}
	return 0, nil
}

// pathHead returns the first name of a path of names (a.b.`c`) that
// starts with a lower-case letter, or "".
func pathHead(p string) string {
	first := ""
	for i, seg := range strings.Split(p, ".") {
		if len(seg) > 2 && seg[0] == '`' && seg[len(seg)-1] == '`' {
			seg = seg[1 : len(seg)-1]
		}
		if !isName(seg) {
			return ""
		}
		if i == 0 {
			if seg[0] < 'a' || seg[0] > 'z' || keyword(seg) {
				return ""
			}
			first = seg
		}
	}
	return first
}

func isName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func keyword(s string) bool {
	switch s {
	case "true", "false", "and", "or", "xor", "implies", "is", "as", "in", "contains", "div", "mod":
		return true
	}
	return false
}

// literal reports whether s is a string, number or boolean literal.
func literal(s string) bool {
	if s == "true" || s == "false" {
		return true
	}
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		for i := 1; i < len(s)-1; i++ {
			if s[i] == '\'' || s[i] == '\\' {
				return false // keep to plain strings
			}
		}
		return true
	}
	if s == "" {
		return false
	}
	dot := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
		case c == '.' && !dot && i > 0 && i < len(s)-1:
			dot = true
		default:
			return false
		}
	}
	return true
}

// scan calls f with the offset of each byte of src outside strings,
// quoted names and brackets; f returns false to stop. It returns false
// when src is not balanced.
func scan(src string, f func(i int) bool) bool {
	depth := 0
	for i := 0; i < len(src); i++ {
		switch c := src[i]; c {
		case '\'', '`', '"':
			j := i + 1
			for j < len(src) && src[j] != c {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(src) {
				return false
			}
			i = j
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			depth--
			if depth < 0 {
				return false
			}
		default:
			if depth == 0 && !f(i) {
				return true
			}
		}
	}
	return depth == 0
}

// closing returns the offset of the bracket closing the one at open, or -1.
func closing(src string, open int) int {
	depth := 0
	for i := open; i < len(src); i++ {
		switch c := src[i]; c {
		case '\'', '`', '"':
			j := i + 1
			for j < len(src) && src[j] != c {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(src) {
				return -1
			}
			i = j
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// wordAt reports whether the keyword w stands at src[i] as a word.
func wordAt(src string, i int, w string) bool {
	if !strings.HasPrefix(src[i:], w) {
		return false
	}
	before := i == 0 || !isNameByte(src[i-1])
	after := i+len(w) == len(src) || !isNameByte(src[i+len(w)])
	// A name after a dot (x.and) is a member, not an operator.
	return before && after && (i == 0 || src[i-1] != '.')
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// splitLast splits src at its last top-level keyword w.
func splitLast(src, w string) (l, r string, ok bool) {
	at := -1
	if !scan(src, func(i int) bool {
		if wordAt(src, i, w) {
			at = i
		}
		return true
	}) || at <= 0 {
		return "", "", false
	}
	return src[:at], src[at+len(w):], true
}

// splitLastOr splits src at its last top-level or / xor (one precedence).
func splitLastOr(src string) (l, r, op string, ok bool) {
	at, op := -1, ""
	if !scan(src, func(i int) bool {
		for _, w := range []string{"or", "xor"} {
			if wordAt(src, i, w) {
				at, op = i, w
			}
		}
		return true
	}) || at <= 0 {
		return "", "", "", false
	}
	return src[:at], src[at+len(op):], op, true
}

// topLevel returns the offset of the first top-level operator op (not
// part of a longer one), or -1.
func topLevel(src, op string) int {
	at := -1
	scan(src, func(i int) bool {
		if !strings.HasPrefix(src[i:], op) {
			return true
		}
		if len(op) == 1 {
			if i+1 < len(src) && src[i+1] == '=' {
				return true // part of <= >= (and != handled first)
			}
			if op == "=" && i > 0 && (src[i-1] == '!' || src[i-1] == '<' || src[i-1] == '>' || src[i-1] == '~') {
				return true
			}
		}
		at = i
		return false
	})
	return at
}

func not(o outcome) outcome {
	var r outcome
	if o&oTrue != 0 {
		r |= oFalse
	}
	if o&oFalse != 0 {
		r |= oTrue
	}
	return r | o&oEmpty
}

// combine applies a three-valued operator to every pair of possible
// results (each side is evaluated, or the short-circuit was taken above).
func combine(l, r outcome, f func(a, b outcome) outcome) outcome {
	var out outcome
	for _, a := range []outcome{oTrue, oFalse, oEmpty} {
		if l&a == 0 {
			continue
		}
		for _, b := range []outcome{oTrue, oFalse, oEmpty} {
			if r&b != 0 {
				out |= f(a, b)
			}
		}
	}
	return out
}

func andOf(a, b outcome) outcome {
	switch {
	case a == oFalse || b == oFalse:
		return oFalse
	case a == oTrue && b == oTrue:
		return oTrue
	}
	return oEmpty
}

func orOf(a, b outcome) outcome {
	switch {
	case a == oTrue || b == oTrue:
		return oTrue
	case a == oFalse && b == oFalse:
		return oFalse
	}
	return oEmpty
}

func xorOf(a, b outcome) outcome {
	if a == oEmpty || b == oEmpty {
		return oEmpty
	}
	if a != b {
		return oTrue
	}
	return oFalse
}

func impliesOf(a, b outcome) outcome {
	switch {
	case a == oFalse || b == oTrue:
		return oTrue
	case a == oTrue:
		return b
	}
	return oEmpty
}
