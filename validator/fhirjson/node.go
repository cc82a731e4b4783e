// Package fhirjson parses JSON into a tree that remembers where every value
// stood, so that each finding can name a line and column. encoding/json cannot
// do that, stops at the first problem and folds duplicate keys silently; FHIR
// validation needs all three.
package fhirjson

import (
	"encoding/binary"
	"math/bits"
	"sort"
)

// Kind is the JSON kind of a node.
type Kind uint8

const (
	Null Kind = iota
	Bool
	Number
	String
	Object
	Array
)

func (k Kind) String() string {
	return [...]string{"null", "boolean", "number", "string", "object", "array"}[k]
}

// Node is one JSON value. Str holds a string's decoded text, a number's
// literal text exactly as written (FHIR decimals keep their precision), or
// "true"/"false".
type Node struct {
	Kind   Kind
	Off    int32 // byte offset of the value's first byte
	Str    string
	Fields []Field // Object members in document order
	Items  []*Node // Array items
	// Index maps member names to their first position in Fields; a user
	// of the tree may fill it for large objects.
	Index map[string]int
}

// Field is one object member.
type Field struct {
	Name    string
	NameOff int32
	Value   *Node
}

// Get returns the value of the first member called name, or nil.
func (n *Node) Get(name string) *Node {
	if n == nil {
		return nil
	}
	for i := range n.Fields {
		if n.Fields[i].Name == name {
			return n.Fields[i].Value
		}
	}
	return nil
}

// Doc is a parsed document: the root and what is needed to turn offsets
// into line:column.
type Doc struct {
	Root *Node
	// Duplicates lists the offsets of member names that repeat an earlier
	// name in the same object. JSON allows them; FHIR does not.
	Duplicates []Field
	data       []byte
	own        []byte  // the parser's copy of data, which the tree's strings share (see Owns)
	lines      []int32 // offset of the first byte of each line after the first
	indexed    bool    // lines is filled (on the first Position call)
	// The last answer of Position: findings come mostly in document order,
	// and NDJSON puts a whole resource on one line, so counting on from the
	// last offset keeps a pass linear instead of quadratic.
	lastOff, lastLine, lastCol int
	cpLine                     int   // line (1-based) the checkpoints are for
	cps                        []int // rune counts at checkpointSpan strides of that line
}

// Position converts a byte offset to a 1-based line and column; the column
// counts characters, not bytes, as editors do. A Doc is used by one
// goroutine at a time, so Position may keep a cursor and checkpoints.
func (d *Doc) Position(off int32) (line, col int) {
	if !d.indexed {
		d.lines, d.indexed = indexLines(d.data), true
	}
	o := int(off)
	if o > len(d.data) {
		o = len(d.data)
	}
	i := sort.Search(len(d.lines), func(i int) bool { return d.lines[i] > int32(o) })
	start := 0
	if i > 0 {
		start = int(d.lines[i-1])
	}
	if d.lastLine == i+1 && o >= d.lastOff && o-d.lastOff < checkpointSpan {
		d.lastCol += runeCount(d.data[d.lastOff:o])
		d.lastOff = o
		return d.lastLine, d.lastCol
	}
	col = d.column(i, start, o)
	d.lastOff, d.lastLine, d.lastCol = o, i+1, col
	return i + 1, col
}

// runeCount counts the bytes that start a character. For valid UTF-8 that
// is utf8.RuneCount, and unlike it the counts of two halves of a split
// character add up, which the checkpoints rely on.
func runeCount(b []byte) int {
	n := 0
	const highs = 0x8080808080808080
	for len(b) >= 32 {
		// JSON is mostly ASCII: 32 bytes with no top bit set are 32
		// characters, no need to look for continuation bytes.
		x0, x1 := binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:])
		x2, x3 := binary.LittleEndian.Uint64(b[16:]), binary.LittleEndian.Uint64(b[24:])
		if (x0|x1|x2|x3)&highs == 0 {
			n += 32
		} else {
			n += 32 - bits.OnesCount64(x0&^(x0<<1)&highs) - bits.OnesCount64(x1&^(x1<<1)&highs) -
				bits.OnesCount64(x2&^(x2<<1)&highs) - bits.OnesCount64(x3&^(x3<<1)&highs)
		}
		b = b[32:]
	}
	// Eight bytes at a time: a continuation byte is 10xxxxxx, so its
	// top bit is set and the next one is not.
	for len(b) >= 8 {
		x := binary.LittleEndian.Uint64(b)
		n += 8 - bits.OnesCount64(x&^(x<<1)&highs)
		b = b[8:]
	}
	for _, c := range b {
		if c&0xC0 != 0x80 {
			n++
		}
	}
	return n
}

// checkpointSpan is the stride of the rune-count checkpoints kept for long
// lines: NDJSON and minified Bundles put megabytes on one line, and passes
// report in no particular order, so counting from the line start each time
// would make reporting quadratic.
const checkpointSpan = 1024

func (d *Doc) column(line, start, o int) int {
	if o-start < checkpointSpan {
		return runeCount(d.data[start:o]) + 1
	}
	if d.cpLine != line+1 {
		d.cpLine = line + 1
		d.cps = d.cps[:0]
	}
	// Checkpoints are counted only as far as a finding needs: the findings
	// of a big one-line Bundle often sit in its first part.
	k := (o - start) / checkpointSpan
	for len(d.cps) < k {
		p := start + len(d.cps)*checkpointSpan
		runes := 0
		if len(d.cps) > 0 {
			runes = d.cps[len(d.cps)-1]
		}
		d.cps = append(d.cps, runes+runeCount(d.data[p:p+checkpointSpan])) // runes before p+span
	}
	base, from := 0, start
	if k > 0 {
		base, from = d.cps[k-1], start+k*checkpointSpan
	}
	return base + runeCount(d.data[from:o]) + 1
}

func position(data []byte, lines []int32, off int32) (int, int) {
	i := sort.Search(len(lines), func(i int) bool { return lines[i] > off })
	start := int32(0)
	if i > 0 {
		start = lines[i-1]
	}
	if int(off) > len(data) {
		off = int32(len(data))
	}
	return i + 1, runeCount(data[start:off]) + 1
}

// ValueEnd returns the offset just past the JSON value that starts at off
// in a document Parse accepted (so only strings and nesting need care):
// with Node.Off it gives a value's bytes without re-serialising them.
func ValueEnd(data []byte, off int) int {
	switch data[off] {
	case '"':
		for i := off + 1; i < len(data); i++ {
			switch data[i] {
			case '\\':
				i++
			case '"':
				return i + 1
			}
		}
		return len(data)
	case '{', '[':
		depth := 0
		for i := off; i < len(data); i++ {
			switch data[i] {
			case '"':
				for i++; i < len(data) && data[i] != '"'; i++ {
					if data[i] == '\\' {
						i++
					}
				}
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return len(data)
	default: // number, true, false, null
		i := off
		for i < len(data) {
			switch data[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return i
	}
}
