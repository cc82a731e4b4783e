package fhirjson

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/sandkasse/sandkasse/validator/internal/chunks"
)

// Limits bound what one document may cost. Zero fields take the defaults.
type Limits struct {
	MaxBytes int // whole document; default 64 MiB
	MaxDepth int // nesting of objects and arrays; default 256
	// MaxValues caps the number of JSON values (each costs a node), so
	// that memory stays proportional to a bound, not to what a sender
	// packs into MaxBytes; default 4,000,000.
	MaxValues int
	// AllowComments tolerates // and /* */ comments (JSON5 style), as some
	// vendors' tooling writes them; FHIR JSON itself has none.
	AllowComments bool
}

// DefaultLimits are used for zero fields of Limits.
var DefaultLimits = Limits{MaxBytes: 64 << 20, MaxDepth: 256, MaxValues: 4_000_000}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxValues <= 0 {
		l.MaxValues = DefaultLimits.MaxValues
	}
	return l
}

// SyntaxError is a document that is not JSON, or breaks a limit. Message
// never quotes the input.
type SyntaxError struct {
	Code    string // json-syntax, json-utf8, json-depth, json-size
	Line    int
	Column  int
	Message string
	// Path is the FHIRPath location of the innermost element the parser
	// was in (Patient.name[0].given[0]): the value a member or an item
	// was being read for, or the object or array whose punctuation was
	// wrong. Member names are as written in JSON. It is empty when the
	// root's resourceType was not read before the error.
	Path string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Message)
}

// Arena is memory a caller reuses across documents (see ParseIn). The
// zero Arena is ready to use; it is used by one goroutine at a time.
type Arena struct {
	nodes  chunks.Pool[Node]
	fields chunks.Pool[Field]
	items  chunks.Pool[*Node]
	// The parser's stacks of the members and items of the objects and
	// arrays being parsed, kept from one document to the next.
	fieldStack []Field
	itemStack  []*Node
	// How far the stacks grew in the last document: only that much of
	// them points into it.
	fieldHigh, itemHigh int
	// inUse holds the copies of the documents parsed since the last
	// Release; spare is a copy's memory kept for the next document, so a
	// validation allocates no copy of its input.
	inUse [][]byte
	spare []byte
}

// maxKeptStack bounds the stacks an arena keeps between documents.
const maxKeptStack = 1 << 14

// maxKeptCopy bounds the copy buffer an arena keeps between documents: a
// rare huge document's buffer goes to the collector.
const maxKeptCopy = 16 << 20

// Release makes the memory of every document parsed in the arena
// reusable: none of their nodes may be used afterwards.
func (a *Arena) Release() {
	a.nodes.Release()
	a.fields.Release()
	a.items.Release()
	// The stacks are empty but still point into the document.
	a.fieldStack = keepStack(a.fieldStack, a.fieldHigh)
	a.itemStack = keepStack(a.itemStack, a.itemHigh)
	a.fieldHigh, a.itemHigh = 0, 0
	// The copies are cleared, not only dropped: no document's text stays
	// in pooled memory, and a string that wrongly outlived its document
	// reads as zeros instead of as the next document's data.
	for i, b := range a.inUse {
		clear(b)
		if cap(b) <= maxKeptCopy && cap(b) > cap(a.spare) {
			a.spare = b[:0]
		}
		a.inUse[i] = nil
	}
	a.inUse = a.inUse[:0]
}

// copyOf copies data into memory of the arena's, which stays the
// document's until Release.
func (a *Arena) copyOf(data []byte) []byte {
	b := a.spare
	a.spare = nil // a nested ParseIn gets a copy of its own
	if cap(b) < len(data) {
		b = make([]byte, 0, len(data))
	}
	b = append(b[:0], data...)
	a.inUse = append(a.inUse, b)
	return b
}

// Owns reports whether s shares memory with the document's copy of its
// input, which the arena reuses after Release: such a string must be
// cloned to outlive the document.
func (d *Doc) Owns(s string) bool {
	if len(s) == 0 || len(d.own) == 0 {
		return false
	}
	p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(d.own)))
	return p >= lo && p < lo+uintptr(len(d.own))
}

func keepStack[T any](s []T, high int) []T {
	if cap(s) > maxKeptStack {
		return nil
	}
	clear(s[:high])
	return s[:0]
}

func (a *Arena) init() {
	if a.nodes.Keep == 0 {
		// Enough for a large resource; a Bundle of thousands of entries
		// leaves the excess to the collector.
		a.nodes.Size, a.nodes.Keep = 256, 256
		a.fields.Size, a.fields.Keep = 512, 128
		a.items.Size, a.items.Keep = 512, 64
	}
}

// Parse parses one JSON document. It never panics on any input; a document
// deeper or bigger than the limits is refused with a SyntaxError.
func Parse(data []byte, lim Limits) (*Doc, error) {
	return ParseIn(data, lim, new(Arena))
}

// ParseIn is Parse with the tree's memory taken from a, which the caller
// releases once it is done with the document.
func ParseIn(data []byte, lim Limits, a *Arena) (*Doc, error) {
	a.init()
	lim = lim.withDefaults()
	if len(data) > lim.MaxBytes {
		return nil, &SyntaxError{Code: "json-size", Line: 1, Column: 1,
			Message: fmt.Sprintf("document is %d bytes, more than the limit of %d", len(data), lim.MaxBytes)}
	}
	// One copy of the input, owned by the tree: every string and number is
	// a string over a stretch of it, so the tree costs no allocation per
	// value and never aliases the caller's buffer (which a scanner may
	// reuse). A string with escapes is decoded in place, over its own
	// stretch of the copy, which is never shorter than the decoded text.
	// The copy is the arena's: like the nodes, it is valid until Release.
	own := a.copyOf(data)
	p := &parser{data: data, own: own, lim: lim, arena: a,
		fields: a.fieldStack[:0], items: a.itemStack[:0]}
	a.fieldStack, a.itemStack = nil, nil // a nested ParseIn gets its own
	p.skipBOM()
	p.ws()
	root := p.value(0)
	a.fieldStack, a.itemStack = p.fields, p.items
	a.fieldHigh, a.itemHigh = max(a.fieldHigh, p.fieldHigh), max(a.itemHigh, p.itemHigh)
	if p.err == nil {
		p.ws()
		if p.pos < len(p.data) {
			p.fail("json-syntax", p.pos, "unexpected content after the end of the JSON value")
		}
	}
	if p.err != nil {
		p.err.Line, p.err.Column = position(p.data, indexLines(p.data), int32(p.errOff))
		if p.rootType == "" {
			p.rootType = sniffResourceType(p.data)
		}
		p.err.Path = p.errPath()
		return nil, p.err
	}
	// Line starts are indexed on the first Position call: a document
	// without findings needs none.
	return &Doc{Root: root, Duplicates: p.dups, data: data, own: own}, nil
}

type parser struct {
	arena *Arena
	// own is the tree's copy of data. A byte of it is written at most
	// once, by the decoding of the string it belongs to, before any
	// string over that byte is made; after that it never changes, which
	// is what makes the strings made over it sound.
	own                 []byte
	fieldHigh, itemHigh int     // the stacks' greatest lengths
	fields              []Field // scratch stack of members of the objects being parsed
	items               []*Node // scratch stack of items of the arrays being parsed
	values              int
	data                []byte
	pos                 int
	lim                 Limits
	err                 *SyntaxError
	errOff              int
	// errSegs are the steps from the element the error is in out to the
	// root (".given", "[0]", ".name"), collected as the parse unwinds, and
	// rootType the root's resourceType if it was read: the error path
	// costs nothing until there is an error.
	errSegs  []string
	rootType string
	dups     []Field
}

// unwindMember records, while an error unwinds the parse, that it
// happened in the value of member name.
func (p *parser) unwindMember(name string) {
	// "_birthDate" holds the extensions of birthDate: the same element.
	if len(name) > 1 && name[0] == '_' {
		name = name[1:]
	}
	p.errSegs = append(p.errSegs, "."+name)
}

// unwindItem is unwindMember for the item at index i of an array.
func (p *parser) unwindItem(i int) {
	p.errSegs = append(p.errSegs, "["+strconv.Itoa(i)+"]")
}

// errPath joins the steps unwind collected under the root's type.
func (p *parser) errPath() string {
	if p.rootType == "" {
		return ""
	}
	var b strings.Builder
	b.WriteString(p.rootType)
	for i := len(p.errSegs) - 1; i >= 0; i-- {
		b.WriteString(p.errSegs[i])
	}
	return b.String()
}

// sniffResourceType reads the resourceType of a document that failed to
// parse before its root's resourceType member was read: leniently, past
// comments and an unquoted member name (the likely errors), so that the
// error's path can start with the type. It returns "" unless the root is
// an object with a member resourceType whose value is a string of letters.
func sniffResourceType(d []byte) string {
	depth := 0
	key := false // the last token at depth 1 was the name resourceType
	for i := 0; i < len(d); i++ {
		switch c := d[i]; {
		case c == '/' && i+1 < len(d) && d[i+1] == '/':
			for i < len(d) && d[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(d) && d[i+1] == '*':
			end := bytes.Index(d[i+2:], []byte("*/"))
			if end < 0 {
				return ""
			}
			i += end + 3
		case c == '{' || c == '[':
			if depth == 0 && c == '[' {
				return ""
			}
			depth++
			key = false
		case c == '}' || c == ']':
			depth--
			if depth <= 0 {
				return ""
			}
		case c == '"':
			j := i + 1
			for j < len(d) && d[j] != '"' {
				if d[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(d) {
				return ""
			}
			s := string(d[i+1 : j])
			i = j
			if depth != 1 {
				continue
			}
			if key {
				if s != "" && strings.IndexFunc(s, func(r rune) bool { return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') }) < 0 {
					return s
				}
				return ""
			}
			key = s == "resourceType" && nextIsColon(d[j+1:])
		case depth == 1 && c == 'r' && bytes.HasPrefix(d[i:], []byte("resourceType")) && nextIsColon(d[i+len("resourceType"):]):
			key = true // an unquoted name
			i += len("resourceType") - 1
		case c == ':' || c == ' ' || c == '\t' || c == '\r' || c == '\n':
		default:
			if depth == 1 {
				key = false
			}
		}
	}
	return ""
}

// nextIsColon reports whether d starts with a ':' after white space.
func nextIsColon(d []byte) bool {
	for _, c := range d {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case ':':
			return true
		}
		return false
	}
	return false
}

// rootFailed notes the resourceType of the root object whose members so
// far are fs, when the parse fails inside it.
func (p *parser) rootFailed(depth int, fs []Field) {
	if depth != 1 {
		return
	}
	for _, f := range fs {
		if f.Name == "resourceType" && f.Value != nil && f.Value.Kind == String {
			p.rootType = f.Value.Str
		}
	}
}

// text returns own[i:j] as a string sharing its memory (see own).
func (p *parser) text(i, j int) string {
	if i >= j {
		return ""
	}
	return unsafe.String(&p.own[i], j-i)
}

func (p *parser) node(k Kind, off int, str string) *Node {
	p.values++
	if p.values > p.lim.MaxValues {
		p.fail("json-values", off, fmt.Sprintf("the document has more than %d JSON values, the limit", p.lim.MaxValues))
	}
	n := p.arena.nodes.One()
	n.Kind, n.Off, n.Str = k, int32(off), str
	return n
}

// indexLines returns the offset of the first byte of each line after the
// first.
func indexLines(data []byte) []int32 {
	n := bytes.Count(data, []byte{'\n'})
	if n == 0 {
		return nil
	}
	lines := make([]int32, 0, n)
	for i := 0; ; {
		j := bytes.IndexByte(data[i:], '\n')
		if j < 0 {
			return lines
		}
		i += j + 1
		lines = append(lines, int32(i))
	}
}

func (p *parser) skipBOM() {
	if len(p.data) >= 3 && p.data[0] == 0xEF && p.data[1] == 0xBB && p.data[2] == 0xBF {
		p.pos = 3
	}
}

func (p *parser) fail(code string, off int, msg string) {
	if p.err == nil {
		p.err = &SyntaxError{Code: code, Message: msg}
		p.errOff = off
	}
}

func (p *parser) ws() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		case '/':
			if !p.lim.AllowComments || !p.comment() {
				return
			}
		default:
			return
		}
	}
}

// comment skips one comment at p.pos and reports whether there was one.
func (p *parser) comment() bool {
	d := p.data
	if p.pos+1 >= len(d) {
		return false
	}
	switch d[p.pos+1] {
	case '/':
		for p.pos < len(d) && d[p.pos] != '\n' {
			p.pos++
		}
		return true
	case '*':
		end := bytes.Index(d[p.pos+2:], []byte("*/"))
		if end < 0 {
			p.fail("json-syntax", p.pos, "unterminated comment")
			p.pos = len(d)
			return true
		}
		p.pos += 2 + end + 2
		return true
	}
	return false
}

func describe(c byte) string {
	if c == '/' {
		return "'/' (comments are not allowed in JSON)"
	}
	if c >= 0x21 && c < 0x7f {
		return fmt.Sprintf("%q", c)
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

func (p *parser) value(depth int) *Node {
	if p.pos >= len(p.data) {
		p.fail("json-syntax", p.pos, "unexpected end of input, expected a value")
		return nil
	}
	start := p.pos
	switch c := p.data[p.pos]; {
	case c == '{':
		if depth >= p.lim.MaxDepth {
			p.fail("json-depth", start, fmt.Sprintf("nesting deeper than the limit of %d", p.lim.MaxDepth))
			return nil
		}
		return p.object(depth + 1)
	case c == '[':
		if depth >= p.lim.MaxDepth {
			p.fail("json-depth", start, fmt.Sprintf("nesting deeper than the limit of %d", p.lim.MaxDepth))
			return nil
		}
		return p.array(depth + 1)
	case c == '"':
		s, ok := p.str()
		if !ok {
			return nil
		}
		return p.node(String, start, s)
	case c == 't':
		return p.literal("true", Bool)
	case c == 'f':
		return p.literal("false", Bool)
	case c == 'n':
		return p.literal("null", Null)
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	default:
		p.fail("json-syntax", start, "unexpected "+describe(c)+", expected a value")
	}
	return nil
}

func (p *parser) literal(word string, k Kind) *Node {
	start := p.pos
	if len(p.data)-p.pos < len(word) || string(p.data[p.pos:p.pos+len(word)]) != word {
		p.fail("json-syntax", start, "invalid literal, expected "+word)
		return nil
	}
	p.pos += len(word)
	s := word
	if k == Null {
		s = ""
	}
	return p.node(k, start, s)
}

func (p *parser) number() *Node {
	start := p.pos
	d := p.data
	i := p.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
			n++
		}
		return n
	}
	intStart := i
	n := digits()
	if n == 0 {
		p.fail("json-syntax", i, "invalid number: expected a digit")
		return nil
	}
	if n > 1 && d[intStart] == '0' {
		p.fail("json-syntax", intStart, "invalid number: leading zeros are not allowed")
		return nil
	}
	if i < len(d) && d[i] == '.' {
		i++
		if digits() == 0 {
			p.fail("json-syntax", i, "invalid number: expected a digit after the decimal point")
			return nil
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if digits() == 0 {
			p.fail("json-syntax", i, "invalid number: expected a digit in the exponent")
			return nil
		}
	}
	p.pos = i
	return p.node(Number, start, p.text(start, i))
}

// stringStop marks the bytes that end the fast scan of a string: the
// closing quote, an escape, and the control characters JSON forbids.
var stringStop = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// plainRun returns the offset of the first byte at or after i that
// stringStop marks (len(d) if none) and whether a byte before it is not
// ASCII. It tests eight bytes at a time: narratives run to kilobytes.
func plainRun(d []byte, i int) (int, bool) {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	var high uint64
	for i+8 <= len(d) {
		x := binary.LittleEndian.Uint64(d[i:])
		q, b := x^(ones*'"'), x^(ones*'\\')
		// A byte of q or b is zero, or a byte of x is below 0x20: the
		// classic has-zero and has-less tests, exact as to whether.
		if ((q-ones)&^q|(b-ones)&^b|(x-ones*0x20)&^x)&highs != 0 {
			break
		}
		high |= x
		i += 8
	}
	for i < len(d) && !stringStop[d[i]] {
		high |= uint64(d[i])
		i++
	}
	return i, high&highs != 0
}

// str reads a string starting at the opening quote and returns its decoded text.
func (p *parser) str() (string, bool) {
	d := p.data
	start := p.pos
	// Fast path: no escapes; UTF-8 is checked only when a byte is not ASCII.
	i, high := plainRun(d, start+1)
	if i >= len(d) {
		p.fail("json-syntax", start, "unterminated string")
		return "", false
	}
	if d[i] != '"' || (high && !utf8.Valid(d[start+1:i])) {
		return p.slowStr(start)
	}
	p.pos = i + 1
	return p.text(start+1, i), true
}

func (p *parser) slowStr(start int) (string, bool) {
	d := p.data
	i := start + 1
	// Decode into the string's own stretch of the copy: every escape is
	// longer than what it stands for (\uXXXX is six bytes for at most
	// three, a surrogate pair twelve for four), so the text written never
	// overtakes the input read, which comes from data, not from the copy.
	buf := p.own[start+1 : start+1 : len(p.own)]
	for i < len(d) {
		// A run of bytes that need no decoding is copied whole; stop
		// bytes are ASCII, so a run never splits a character.
		if j, high := plainRun(d, i); j > i {
			if high && !utf8.Valid(d[i:j]) {
				for k := i; k < j; {
					r, size := utf8.DecodeRune(d[k:j])
					if r == utf8.RuneError && size <= 1 {
						p.fail("json-utf8", k, "invalid UTF-8 in string")
						return "", false
					}
					k += size
				}
			}
			buf = append(buf, d[i:j]...)
			i = j
			continue
		}
		c := d[i]
		switch {
		case c == '"':
			p.pos = i + 1
			return p.text(start+1, start+1+len(buf)), true
		case c < 0x20:
			p.fail("json-syntax", i, "control character in string must be escaped")
			return "", false
		case c == '\\':
			if i+1 >= len(d) {
				p.fail("json-syntax", i, "unterminated escape in string")
				return "", false
			}
			e := d[i+1]
			i += 2
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := p.hex4(i)
				if !ok {
					return "", false
				}
				i += 4
				if utf16.IsSurrogate(r) {
					if i+6 <= len(d) && d[i] == '\\' && d[i+1] == 'u' {
						r2, ok := p.hex4(i + 2)
						if !ok {
							return "", false
						}
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							r = dec
							i += 6
						} else {
							r = utf8.RuneError
						}
					} else {
						r = utf8.RuneError
					}
					if r == utf8.RuneError {
						p.fail("json-utf8", i-6, "unpaired UTF-16 surrogate in \\u escape")
						return "", false
					}
				}
				buf = utf8.AppendRune(buf, r)
			default:
				p.fail("json-syntax", i-2, "invalid escape sequence in string")
				return "", false
			}
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			i++
		default:
			r, size := utf8.DecodeRune(d[i:])
			if r == utf8.RuneError && size <= 1 {
				p.fail("json-utf8", i, "invalid UTF-8 in string")
				return "", false
			}
			buf = append(buf, d[i:i+size]...)
			i += size
		}
	}
	p.fail("json-syntax", start, "unterminated string")
	return "", false
}

func (p *parser) hex4(i int) (rune, bool) {
	if i+4 > len(p.data) {
		p.fail("json-syntax", i, "truncated \\u escape in string")
		return 0, false
	}
	v, err := strconv.ParseUint(string(p.data[i:i+4]), 16, 32)
	if err != nil {
		p.fail("json-syntax", i, "invalid \\u escape in string")
		return 0, false
	}
	return rune(v), true
}

func (p *parser) object(depth int) *Node {
	n := p.node(Object, p.pos, "")
	p.pos++ // {
	p.ws()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return n
	}
	mark := len(p.fields)
	defer func() {
		if p.err != nil {
			p.rootFailed(depth, p.fields[mark:])
		}
		p.fields = p.fields[:mark]
	}()
	var seen map[string]struct{}
	for {
		p.ws()
		if p.pos >= len(p.data) {
			p.fail("json-syntax", p.pos, "unexpected end of input inside an object")
			return nil
		}
		if p.data[p.pos] != '"' {
			if p.data[p.pos] == '}' {
				p.fail("json-syntax", p.pos, "trailing comma before '}' is not allowed")
			} else {
				p.fail("json-syntax", p.pos, "unexpected "+describe(p.data[p.pos])+", expected a property name in double quotes")
			}
			return nil
		}
		nameOff := p.pos
		name, ok := p.str()
		if !ok {
			return nil
		}
		p.ws()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			p.fail("json-syntax", p.pos, "expected ':' after a property name")
			return nil
		}
		p.pos++
		p.ws()
		v := p.value(depth)
		if p.err != nil {
			p.unwindMember(name)
			return nil
		}
		f := Field{Name: name, NameOff: int32(nameOff), Value: v}
		if len(p.fields)-mark < 32 {
			for _, g := range p.fields[mark:] {
				if g.Name == name {
					p.dups = append(p.dups, f)
					break
				}
			}
		} else {
			// A large object gets a set of its names, so that thousands
			// of members are not compared pairwise.
			if seen == nil {
				seen = make(map[string]struct{}, 64)
				for _, g := range p.fields[mark:] {
					seen[g.Name] = struct{}{}
				}
			}
			if _, dup := seen[name]; dup {
				p.dups = append(p.dups, f)
			}
			seen[name] = struct{}{}
		}
		p.fields = append(p.fields, f)
		p.fieldHigh = max(p.fieldHigh, len(p.fields))
		p.ws()
		if p.pos >= len(p.data) {
			p.fail("json-syntax", p.pos, "unexpected end of input inside an object")
			return nil
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			n.Fields = p.takeFields(p.fields[mark:])
			return n
		default:
			p.fail("json-syntax", p.pos, "unexpected "+describe(p.data[p.pos])+", expected ',' or '}'")
			return nil
		}
	}
}

// takeFields copies an object's members out of the scratch stack into a
// chunk shared by many objects, so that an object costs no allocation of
// its own.
func (p *parser) takeFields(fs []Field) []Field {
	out := p.arena.fields.Take(len(fs))
	copy(out, fs)
	return out
}

// takeItems is takeFields for array items.
func (p *parser) takeItems(is []*Node) []*Node {
	out := p.arena.items.Take(len(is))
	copy(out, is)
	return out
}

func (p *parser) array(depth int) *Node {
	n := p.node(Array, p.pos, "")
	p.pos++ // [
	p.ws()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return n
	}
	mark := len(p.items)
	defer func() { p.items = p.items[:mark] }()
	for {
		p.ws()
		if p.pos < len(p.data) && p.data[p.pos] == ']' {
			p.fail("json-syntax", p.pos, "trailing comma before ']' is not allowed")
			return nil
		}
		v := p.value(depth)
		if p.err != nil {
			p.unwindItem(len(p.items) - mark)
			return nil
		}
		p.items = append(p.items, v)
		p.itemHigh = max(p.itemHigh, len(p.items))
		p.ws()
		if p.pos >= len(p.data) {
			p.fail("json-syntax", p.pos, "unexpected end of input inside an array")
			return nil
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			n.Items = p.takeItems(p.items[mark:])
			return n
		default:
			p.fail("json-syntax", p.pos, "unexpected "+describe(p.data[p.pos])+", expected ',' or ']'")
			return nil
		}
	}
}
