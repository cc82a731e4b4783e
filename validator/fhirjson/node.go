// Package fhirjson parses JSON into a tree that remembers where every value
// stood, so that each finding can name a line and column. encoding/json cannot
// do that, stops at the first problem and folds duplicate keys silently; FHIR
// validation needs all three.
package fhirjson

import (
	"sort"
	"unicode/utf8"
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
	lines      []int32 // offset of the first byte of each line after the first
	// The last answer of Position: findings come mostly in document order,
	// and NDJSON puts a whole resource on one line, so counting on from the
	// last offset keeps a pass linear instead of quadratic.
	lastOff, lastLine, lastCol int
}

// Position converts a byte offset to a 1-based line and column; the column
// counts characters, not bytes, as editors do. A Doc is used by one
// goroutine at a time, so Position may keep a cursor.
func (d *Doc) Position(off int32) (line, col int) {
	o := int(off)
	if o > len(d.data) {
		o = len(d.data)
	}
	if d.lastLine > 0 && o >= d.lastOff {
		i := sort.Search(len(d.lines), func(i int) bool { return d.lines[i] > int32(o) })
		if i+1 == d.lastLine {
			d.lastCol += utf8.RuneCount(d.data[d.lastOff:o])
			d.lastOff = o
			return d.lastLine, d.lastCol
		}
	}
	line, col = position(d.data, d.lines, int32(o))
	d.lastOff, d.lastLine, d.lastCol = o, line, col
	return line, col
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
	return i + 1, utf8.RuneCount(data[start:off]) + 1
}
