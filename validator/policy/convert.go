package policy

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/util"
)

// Converting an input to OPA's values used to cost about as much as
// evaluating the rules: the resource went through encoding/json into Go maps
// and then into ast values, and an exchange went through a JSON round trip
// (json.Marshal, then the same decoding). The functions here build the same
// values directly. Whatever they are not sure to convert exactly as the slow
// path does (escapes and non-ASCII text in strings, duplicate keys, invalid
// UTF-8, trailing data, syntax errors, unusual Go types) goes to the slow path,
// so the values, and the errors, are the same; FuzzJSONValue and
// TestExchangeValueMatchesRoundTrip hold them to it.

// maxDepth is encoding/json's nesting limit; deeper input goes to the slow
// path, which reports it.
const maxDepth = 10000

// jsonValue decodes one JSON value keeping numbers exact (json.Number),
// which is how the evaluator compares them.
func jsonValue(b []byte) (ast.Value, error) {
	// One copy of the text; strings and numbers are substrings of it.
	p := fastJSON{b: b, s: string(b), kvs: make([][2]*ast.Term, 0, 16)}
	p.space()
	if v, ok := p.value(0); ok {
		p.space()
		if p.i == len(p.b) {
			return v, nil
		}
	}
	return slowJSONValue(b)
}

func slowJSONValue(b []byte) (ast.Value, error) {
	var x any
	if err := util.NewJSONDecoder(bytes.NewReader(b)).Decode(&x); err != nil {
		return nil, err
	}
	return ast.InterfaceToValue(x)
}

// fastJSON allocates in blocks: terms come from a slab, the members of the
// object being read are collected on a stack that ast.NewObject copies, and
// array elements on a stack copied into a slab of pointers. A resource of a
// few hundred values used to cost an allocation per term and several per
// object and array for their growing slices: about a sixth of everything an
// evaluation allocated, and the garbage collector's work with it.
type fastJSON struct {
	b []byte
	s string // b as a string, when the values may share it
	i int

	terms []ast.Term     // slab: free terms
	ptrs  []*ast.Term    // slab: free array element slots
	kvs   [][2]*ast.Term // stack: members of the objects being read
	items []*ast.Term    // stack: elements of the arrays being read
	slab  int            // size of the next term slab
	pslab int            // size of the next pointer slab
}

// maxSlab bounds one slab, so a large input costs several allocations
// instead of one that might be mostly unused after a fallback.
const maxSlab = 1024

// grow returns the size of the next slab and doubles it, up to maxSlab.
func grow(size *int, first int) int {
	if *size == 0 {
		*size = min(max(first, 16), maxSlab)
	}
	n := *size
	*size = min(2*n, maxSlab)
	return n
}

func (p *fastJSON) term(v ast.Value) *ast.Term {
	if len(p.terms) == 0 {
		// About one value per 8 bytes of a FHIR resource: the first slab
		// covers a small resource whole.
		p.terms = make([]ast.Term, grow(&p.slab, len(p.b)/8))
	}
	t := &p.terms[0]
	p.terms = p.terms[1:]
	t.Value = v
	return t
}

// array returns its elements in a slice of their own with no spare
// capacity: an *ast.Array keeps the slice, and appending to it must copy.
func (p *fastJSON) elems(items []*ast.Term) []*ast.Term {
	n := len(items)
	if n > len(p.ptrs) {
		if n > maxSlab/4 {
			return append([]*ast.Term(nil), items...)
		}
		// Array elements are a small part of a resource's values (a
		// coding list, entries, components).
		p.ptrs = make([]*ast.Term, max(grow(&p.pslab, len(p.b)/64), n))
	}
	out := p.ptrs[:n:n]
	p.ptrs = p.ptrs[n:]
	copy(out, items)
	return out
}

func (p *fastJSON) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// value parses one value; false means "let the slow path decide".
func (p *fastJSON) value(depth int) (ast.Value, bool) {
	if p.i >= len(p.b) || depth > maxDepth {
		return nil, false
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object(depth + 1)
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		s, ok := p.str()
		return ast.String(s), ok
	case c == 't':
		return ast.Boolean(true), p.lit("true")
	case c == 'f':
		return ast.Boolean(false), p.lit("false")
	case c == 'n':
		return ast.Null{}, p.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		n, ok := p.number()
		return checkedNumber(n, ok)
	}
	return nil, false
}

func (p *fastJSON) lit(s string) bool {
	if len(p.b)-p.i < len(s) || string(p.b[p.i:p.i+len(s)]) != s {
		return false
	}
	p.i += len(s)
	return true
}

func (p *fastJSON) object(depth int) (ast.Value, bool) {
	p.i++ // {
	p.space()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return ast.NewObject(), true
	}
	start := len(p.kvs)
	defer func() { p.kvs = p.kvs[:start] }()
	for {
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return nil, false
		}
		k, ok := p.str()
		if !ok {
			return nil, false
		}
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return nil, false
		}
		p.i++
		p.space()
		v, ok := p.value(depth)
		if !ok {
			return nil, false
		}
		key := keyTerms[k]
		if key == nil {
			key = p.term(ast.String(k))
		}
		p.kvs = append(p.kvs, [2]*ast.Term{key, p.term(v)})
		p.space()
		if p.i >= len(p.b) {
			return nil, false
		}
		switch p.b[p.i] {
		case ',':
			p.i++
			continue
		case '}':
			p.i++
			// ast.NewObject keeps duplicate keys; encoding/json keeps the
			// last one: leave duplicates to the slow path.
			members := p.kvs[start:]
			if hasDuplicateKey(members) {
				return nil, false
			}
			return ast.NewObject(members...), true // copies members
		}
		return nil, false
	}
}

func hasDuplicateKey(terms [][2]*ast.Term) bool {
	if len(terms) <= 16 {
		for i := 1; i < len(terms); i++ {
			for j := 0; j < i; j++ {
				if terms[i][0].Value.(ast.String) == terms[j][0].Value.(ast.String) {
					return true
				}
			}
		}
		return false
	}
	seen := make(map[ast.String]bool, len(terms))
	for _, t := range terms {
		k := t[0].Value.(ast.String)
		if seen[k] {
			return true
		}
		seen[k] = true
	}
	return false
}

func (p *fastJSON) array(depth int) (ast.Value, bool) {
	p.i++ // [
	p.space()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return ast.NewArray(), true
	}
	start := len(p.items)
	defer func() { p.items = p.items[:start] }()
	for {
		p.space()
		v, ok := p.value(depth)
		if !ok {
			return nil, false
		}
		p.items = append(p.items, p.term(v))
		p.space()
		if p.i >= len(p.b) {
			return nil, false
		}
		switch p.b[p.i] {
		case ',':
			p.i++
			continue
		case ']':
			p.i++
			return ast.NewArray(p.elems(p.items[start:])...), true
		}
		return nil, false
	}
}

// str reads a string. Plain text (no escapes, valid UTF-8) is taken as it
// is, which is what encoding/json does with it; a string with escapes or
// invalid UTF-8 is decoded by encoding/json itself, whose unescaping and
// repair rules are subtle.
func (p *fastJSON) str() (string, bool) {
	start := p.i + 1
	escaped, wide := false, false
	for j := start; j < len(p.b); j++ {
		switch c := p.b[j]; {
		case c == '"':
			p.i = j + 1
			raw := p.b[start:j]
			if escaped || (wide && !utf8.Valid(raw)) {
				var s string
				if err := json.Unmarshal(p.b[start-1:j+1], &s); err != nil {
					return "", false
				}
				return s, true
			}
			if p.s != "" {
				return p.s[start:j], true
			}
			return string(raw), true
		case c == '\\':
			escaped = true
			j++ // the escaped character cannot end the string
		case c < 0x20:
			return "", false // not JSON: the slow path reports it
		case c >= utf8.RuneSelf:
			wide = true
		}
	}
	return "", false
}

// number reads a JSON number literal (RFC 8259 grammar) as written.
func (p *fastJSON) number() (string, bool) {
	start, b, i := p.i, p.b, p.i
	digits := func() bool {
		n := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i > n
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case !digits():
		return "", false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return "", false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return "", false
		}
	}
	p.i = i
	if p.s != "" {
		return p.s[start:i], true
	}
	return string(b[start:i]), true
}

// checkedNumber refuses, as the slow path does, a number whose exponent is
// too large for the evaluator (printing such a big.Float takes time
// non-linear in the exponent: "1E70000" in a resource would stall a run);
// the slow path then reports it.
func checkedNumber(n string, ok bool) (ast.Value, bool) {
	if !ok {
		return nil, false
	}
	v, err := ast.NumberChecked(n)
	return v, err == nil
}

// exchangeValue builds what ast.InterfaceToValue(x) builds through its JSON
// round trip: the fields under their json names, omitempty honoured.
func exchangeValue(x *Exchange) (ast.Value, error) {
	if v, ok := fastExchange(x); ok {
		return v, nil
	}
	return ast.InterfaceToValue(x)
}

func fastExchange(x *Exchange) (ast.Value, bool) {
	ok := true
	str := func(s string) *ast.Term {
		if !utf8.ValidString(s) {
			ok = false // json.Marshal repairs it; leave that to the slow path
		}
		return ast.StringTerm(s)
	}
	multi := func(m map[string][]string) *ast.Term {
		kvs := make([][2]*ast.Term, 0, len(m))
		for k, vs := range m {
			var v *ast.Term
			if vs == nil {
				v = ast.NullTerm()
			} else {
				items := make([]*ast.Term, len(vs))
				for i, s := range vs {
					items[i] = str(s)
				}
				v = ast.ArrayTerm(items...)
			}
			kvs = append(kvs, [2]*ast.Term{str(k), v})
		}
		return ast.ObjectTerm(kvs...)
	}
	kvs := [][2]*ast.Term{
		{ast.InternedTerm("method"), str(x.Method)},
		{ast.InternedTerm("url"), str(x.URL)},
		{ast.InternedTerm("path"), str(x.Path)},
	}
	if len(x.Query) > 0 {
		kvs = append(kvs, [2]*ast.Term{ast.InternedTerm("query"), multi(x.Query)})
	}
	if len(x.Headers) > 0 {
		kvs = append(kvs, [2]*ast.Term{ast.InternedTerm("headers"), multi(x.Headers)})
	}
	if x.Body != nil {
		v, good := plainValue(x.Body, 0)
		ok = ok && good
		kvs = append(kvs, [2]*ast.Term{ast.InternedTerm("body"), ast.NewTerm(v)})
	}
	kvs = append(kvs, [2]*ast.Term{ast.InternedTerm("status"), ast.NumberTerm(json.Number(strconv.Itoa(x.Status)))})
	if len(x.ResponseHeaders) > 0 {
		kvs = append(kvs, [2]*ast.Term{ast.InternedTerm("responseHeaders"), multi(x.ResponseHeaders)})
	}
	if x.ResponseBody != nil {
		v, good := plainValue(x.ResponseBody, 0)
		ok = ok && good
		kvs = append(kvs, [2]*ast.Term{ast.InternedTerm("responseBody"), ast.NewTerm(v)})
	}
	if !ok {
		return nil, false
	}
	return ast.NewObject(kvs...), true
}

// plainValue converts what encoding/json decodes into (with UseNumber) and
// the form bodies the recorder stores; other types, invalid UTF-8 and
// invalid number literals are the slow path's.
func plainValue(x any, depth int) (ast.Value, bool) {
	if depth > maxDepth {
		return nil, false
	}
	switch v := x.(type) {
	case nil:
		return ast.Null{}, true
	case bool:
		return ast.Boolean(v), true
	case string:
		return ast.String(v), utf8.ValidString(v)
	case json.Number:
		p := fastJSON{b: []byte(v)}
		n, ok := p.number()
		return checkedNumber(n, ok && p.i == len(p.b))
	case []any:
		terms := make([]*ast.Term, len(v))
		for i, e := range v {
			ev, ok := plainValue(e, depth+1)
			if !ok {
				return nil, false
			}
			terms[i] = ast.NewTerm(ev)
		}
		return ast.NewArray(terms...), true
	case map[string]any:
		kvs := make([][2]*ast.Term, 0, len(v))
		for k, e := range v {
			ev, ok := plainValue(e, depth+1)
			if !ok || !utf8.ValidString(k) {
				return nil, false
			}
			kvs = append(kvs, [2]*ast.Term{ast.StringTerm(k), ast.NewTerm(ev)})
		}
		return ast.NewObject(kvs...), true
	case map[string][]string:
		kvs := make([][2]*ast.Term, 0, len(v))
		for k, vs := range v {
			if !utf8.ValidString(k) {
				return nil, false
			}
			if vs == nil {
				kvs = append(kvs, [2]*ast.Term{ast.StringTerm(k), ast.NullTerm()})
				continue
			}
			items := make([]*ast.Term, len(vs))
			for i, s := range vs {
				if !utf8.ValidString(s) {
					return nil, false
				}
				items[i] = ast.StringTerm(s)
			}
			kvs = append(kvs, [2]*ast.Term{ast.StringTerm(k), ast.ArrayTerm(items...)})
		}
		return ast.NewObject(kvs...), true
	}
	return nil, false
}
